import { randomUUID } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Clock } from '@huiying/clock';
import { type Db, desc, eq, obligations, type SQL, sql, units } from '@huiying/db';
import { OBLIGATION_KINDS, type ObligationState, type RulePack } from '@huiying/domain';
import { applyObligationCommand, type CalendarService, type LadderWiring, provisionalObligationIds } from '@huiying/engine';
import type { FastifyPluginAsync } from 'fastify';
import { ApiError, instantOf, notVisible, principal, READERS } from '@huiying/http';
import { actorOf, scopeOf } from '@huiying/identity';
import type { FastifyRequest } from 'fastify';
import { visible } from '../read.ts';
import { ErrorBody, IdParams, likeOf, Paged, PageQuery } from '../schemas.ts';

const Iso = Type.String({ format: 'date-time' });
const ObligationKind = Type.Union(
  OBLIGATION_KINDS.map((k) => Type.Literal(k)),
  { description: '政策解读 3 / 服务事项变更 1 / 建议提案复文 10 / 行政处罚公开 20 / 依申请公开 20(+20) 个工作日' },
);

export const ObligationView = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  title: Type.Union([Type.String(), Type.Null()]),
  unit: Type.Union([Type.Object({ id: Type.String(), name: Type.String() }), Type.Null()]),
  state: Type.String(),
  issuedAt: Iso,
  dueDate: Type.String({ description: 'last working day (Asia/Shanghai)' }),
  dueAt: Iso,
  provisional: Type.Boolean({ description: 'counted Monday–Friday: a year of the holiday calendar is missing' }),
  extended: Type.Boolean(),
  suspended: Type.Union([Type.Object({ since: Iso, reason: Type.String() }), Type.Null()]),
  respondedAt: Type.Union([Iso, Type.Null()]),
  late: Type.Union([Type.Boolean(), Type.Null()]),
});

const CreateBody = Type.Object(
  {
    id: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    kind: ObligationKind,
    issuedAt: Iso,
    title: Type.Optional(Type.String({ maxLength: 500 })),
    unit: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);
const FulfilBody = Type.Object({ fulfilledAt: Type.Optional(Iso) }, { additionalProperties: false });
const YearBody = Type.Object(
  {
    holidays: Type.Array(Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' }), { description: '放假日期 days off' }),
    workdays: Type.Array(Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' }), {
      description: '调休上班日期 make-up working days (weekend days that are working days)',
    }),
    source: Type.Optional(Type.String({ maxLength: 500, description: '依据，如 国务院办公厅关于2027年部分节假日安排的通知' })),
  },
  { additionalProperties: false },
);

const ListQuery = Type.Object(
  {
    status: Type.Optional(Type.String({ maxLength: 20 })),
    kind: Type.Optional(Type.String({ maxLength: 50 })),
    unit: Type.Optional(Type.String({ maxLength: 100 })),
    from: Type.Optional(Type.String({ format: 'date-time', description: 'due at or after' })),
    to: Type.Optional(Type.String({ format: 'date-time', description: 'due before' })),
    q: Type.Optional(Type.String({ maxLength: 200, description: 'text in the title, or the duty id' })),
    ...PageQuery,
  },
  { additionalProperties: false },
);

export interface ObligationRoutesOptions {
  db: Db;
  clock: Clock;
  /** Wall-clock time for audit entries of refused access. */
  realClock: Clock;
  /** The pack in force, asked at each use (see EngineDeps.pack). */
  pack: () => RulePack;
  calendars: CalendarService;
  onWake?: (at: number) => void;
  /** The escalation ladder's wiring (the engine's): duties' notifications queued with the command. */
  ladder?: LadderWiring | undefined;
}

/** Working-day disclosure duties and the holiday calendar they are counted on. */
export const obligationRoutes: FastifyPluginAsync<ObligationRoutesOptions> = async (fastify, o) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const deps = {
    db: o.db,
    clock: o.clock,
    pack: o.pack,
    calendars: o.calendars,
    ladder: o.ladder,
    ...(o.onWake ? { onWake: o.onWake } : {}),
  };
  const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody };
  const DUTY = { roles: ['duty'] } as const;
  const ADMIN = { roles: ['admin'] } as const;
  const actor = (request: FastifyRequest) => actorOf(principal(request));

  /** The duty if the caller may see it; another unit's is answered as missing (and audited). */
  const view = async (request: FastifyRequest, id: string) => {
    const [row] = await o.db
      .select({ o: obligations, unitName: units.name })
      .from(obligations)
      .leftJoin(units, eq(units.id, obligations.unitId))
      .where(eq(obligations.id, id));
    if (!row) throw new ApiError('HY_NOT_FOUND', `obligation ${id} not found`);
    if (!visible(scopeOf(principal(request)), row.o.unitId)) throw await notVisible(o.db, request, o.realClock, 'obligation', id);
    return toView(row.o.state as ObligationState, row.o.title, row.o.unitId, row.unitName);
  };

  app.get(
    '/api/obligations',
    {
      config: { access: READERS },
      schema: {
        tags: ['obligations'],
        summary: '工作日时限事项（未办结在前，最近到期在前）',
        querystring: ListQuery,
        response: { 200: Paged(ObligationView), ...errors },
      },
    },
    async (request) => {
      const q = request.query;
      const scope = scopeOf(principal(request));
      const parts: SQL[] = [sql`true`];
      if (scope.unitId !== null) parts.push(eq(obligations.unitId, scope.unitId));
      if (q.unit) parts.push(eq(obligations.unitId, q.unit));
      if (q.kind) parts.push(eq(obligations.kind, q.kind));
      if (q.status) parts.push(eq(obligations.status, q.status));
      if (q.from) parts.push(sql`${obligations.dueAt} >= ${new Date(instantOf('from', q.from)).toISOString()}`);
      if (q.to) parts.push(sql`${obligations.dueAt} < ${new Date(instantOf('to', q.to)).toISOString()}`);
      if (q.q) parts.push(sql`(${obligations.title} ilike ${likeOf(q.q)} or ${obligations.id} = ${q.q})`);
      const where = sql.join(parts, sql` and `);
      const page = q.page ?? 1;
      const pageSize = q.pageSize ?? 50;
      const [rows, [count]] = await Promise.all([
        o.db
          .select({ o: obligations, unitName: units.name })
          .from(obligations)
          .leftJoin(units, eq(units.id, obligations.unitId))
          .where(where)
          .orderBy(sql`${obligations.nextWakeAt} is null`, obligations.dueAt, desc(obligations.updatedAt))
          .limit(pageSize)
          .offset((page - 1) * pageSize),
        o.db
          .select({ n: sql<number>`count(*)::int` })
          .from(obligations)
          .where(where),
      ]);
      return {
        items: rows.map((r) => toView(r.o.state as ObligationState, r.o.title, r.o.unitId, r.unitName)),
        total: count?.n ?? 0,
        page,
        pageSize,
      };
    },
  );

  app.get(
    '/api/obligations/:id',
    { config: { access: READERS }, schema: { tags: ['obligations'], params: IdParams, response: { 200: ObligationView, ...errors } } },
    async (request) => view(request, request.params.id),
  );

  app.post(
    '/api/obligations',
    {
      config: { access: DUTY },
      schema: { tags: ['obligations'], summary: '登记工作日时限事项', body: CreateBody, response: { 201: ObligationView, ...errors } },
    },
    async (request, reply) => {
      const b = request.body;
      const issuedAt = instantOf('issuedAt', b.issuedAt);
      if (issuedAt > o.clock.now()) throw new ApiError('HY_VALIDATION', 'body/issuedAt must not be in the future');
      if (b.unit) {
        const [unit] = await o.db.select({ id: units.id }).from(units).where(eq(units.id, b.unit));
        if (!unit) throw new ApiError('HY_VALIDATION', `body/unit: unknown unit ${b.unit}`);
      }
      const id = b.id ?? `obl_${randomUUID()}`;
      const [existing] = await o.db.select({ id: obligations.id }).from(obligations).where(eq(obligations.id, id));
      if (existing) throw new ApiError('HY_CONFLICT', `obligation ${id} already exists`);
      await applyObligationCommand(deps, { type: 'obligation', at: o.clock.now(), id, kind: b.kind, issuedAt }, actor(request), {
        title: b.title,
        unit: b.unit,
      });
      return reply.code(201).send(await view(request, id));
    },
  );

  app.post(
    '/api/obligations/:id/fulfil',
    {
      config: { access: { roles: ['duty', 'unit'] } },
      schema: {
        tags: ['obligations'],
        summary: '办结（已公开）',
        params: IdParams,
        body: FulfilBody,
        response: { 200: ObligationView, ...errors },
      },
    },
    async (request) => {
      const now = o.clock.now();
      const at = request.body.fulfilledAt ? instantOf('fulfilledAt', request.body.fulfilledAt) : now;
      if (at > now) throw new ApiError('HY_VALIDATION', 'body/fulfilledAt must not be in the future');
      const current = await view(request, request.params.id);
      if (at < Date.parse(current.issuedAt)) throw new ApiError('HY_VALIDATION', 'body/fulfilledAt must not be before the duty was issued');
      await applyObligationCommand(deps, { type: 'fulfil', at, id: request.params.id }, actor(request));
      return view(request, request.params.id);
    },
  );

  app.post(
    '/api/obligations/:id/extend',
    {
      config: { access: DUTY },
      schema: {
        tags: ['obligations'],
        summary: '延期（依申请公开，限一次，20个工作日）',
        params: IdParams,
        response: { 200: ObligationView, ...errors },
      },
    },
    async (request) => {
      await view(request, request.params.id);
      const { events } = await applyObligationCommand(deps, { type: 'extend', at: o.clock.now(), id: request.params.id }, actor(request));
      const rejected = events.find((e) => e.event === 'extend_rejected');
      if (rejected && 'reason' in rejected) throw new ApiError('HY_CONFLICT', `extension refused: ${rejected.reason}`);
      return view(request, request.params.id);
    },
  );

  const SuspendBody = Type.Object(
    {
      reason: Type.Union([Type.Literal('correction'), Type.Literal('third_party')], {
        description:
          'correction 补正 (the count restarts when the corrected request arrives); third_party 征求第三方意见 (that time does not count)',
      }),
    },
    { additionalProperties: false },
  );

  app.post(
    '/api/obligations/:id/suspend',
    {
      config: { access: DUTY },
      schema: {
        tags: ['obligations'],
        summary: '暂停计时（依申请公开：补正、征求第三方意见）',
        params: IdParams,
        body: SuspendBody,
        response: { 200: ObligationView, ...errors },
      },
    },
    async (request) => {
      await view(request, request.params.id);
      const { events } = await applyObligationCommand(
        deps,
        { type: 'suspend', at: o.clock.now(), id: request.params.id, reason: request.body.reason },
        actor(request),
      );
      const rejected = events.find((e) => e.event === 'suspend_rejected');
      if (rejected && 'reason' in rejected) throw new ApiError('HY_CONFLICT', `suspension refused: ${rejected.reason}`);
      return view(request, request.params.id);
    },
  );

  app.post(
    '/api/obligations/:id/resume',
    {
      config: { access: DUTY },
      schema: { tags: ['obligations'], summary: '恢复计时', params: IdParams, response: { 200: ObligationView, ...errors } },
    },
    async (request) => {
      await view(request, request.params.id);
      const { events } = await applyObligationCommand(deps, { type: 'resume', at: o.clock.now(), id: request.params.id }, actor(request));
      const rejected = events.find((e) => e.event === 'resume_rejected');
      if (rejected && 'reason' in rejected) throw new ApiError('HY_CONFLICT', `resumption refused: ${rejected.reason}`);
      return view(request, request.params.id);
    },
  );

  app.get(
    '/api/calendar',
    {
      config: { access: READERS },
      schema: {
        tags: ['calendar'],
        summary: '节假日安排（工作日日历）',
        response: {
          200: Type.Object({
            years: Type.Array(Type.Integer()),
            nextYear: Type.Integer(),
            nextYearLoaded: Type.Boolean(),
            warning: Type.Union([Type.String(), Type.Null()]),
          }),
        },
      },
    },
    async () => ({ years: [...o.calendars.years], ...o.calendars.health(o.clock.now()) }),
  );

  app.put(
    '/api/calendar/years/:year',
    {
      config: { access: ADMIN },
      schema: {
        tags: ['calendar'],
        summary: '导入某年节假日安排 (administrators)',
        params: Type.Object({ year: Type.Integer({ minimum: 2000, maximum: 2100 }) }),
        body: YearBody,
        response: { 200: Type.Object({ year: Type.Integer(), recomputed: Type.Integer() }), ...errors },
      },
    },
    async (request) => {
      const by = actor(request);
      const data = request.body;
      try {
        await o.calendars.putYear(request.params.year, data, by, new Date(o.clock.now()));
      } catch (error) {
        if (error instanceof RangeError) throw new ApiError('HY_VALIDATION', `body: ${error.message}`);
        throw error;
      }
      // Dues counted Monday–Friday while the year was missing are recomputed on the real calendar.
      let recomputed = 0;
      for (const id of await provisionalObligationIds(o.db)) {
        const { events } = await applyObligationCommand(deps, { type: 'recalculate', at: o.clock.now(), id }, by);
        if (events.length > 0) recomputed++;
      }
      return { year: request.params.year, recomputed };
    },
  );
};

function toView(s: ObligationState, title: string | null, unitId: string | null, unitName: string | null) {
  return {
    id: s.id,
    kind: s.kind,
    title,
    unit: unitId ? { id: unitId, name: unitName ?? unitId } : null,
    state: s.state,
    issuedAt: new Date(s.issuedAt).toISOString(),
    dueDate: s.dueDate,
    dueAt: new Date(s.dueAt).toISOString(),
    provisional: s.provisional,
    extended: s.extended,
    suspended: s.suspension ? { since: new Date(s.suspension.since).toISOString(), reason: s.suspension.reason } : null,
    respondedAt: s.respondedAt === null ? null : new Date(s.respondedAt).toISOString(),
    late: s.late,
  };
}
