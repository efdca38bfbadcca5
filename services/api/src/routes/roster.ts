import { randomUUID } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { audit, type DbOrTx, dutyShifts, eq, rowsOf, sql, type Tx, users } from '@huiying/db';
import { MS_PER_DAY, MS_PER_HOUR, shanghaiDay, shanghaiDayStart } from '@huiying/domain';
import { ApiError, instantOf, principal } from '@huiying/http';
import { actorOf } from '@huiying/identity';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import * as S from '../schemas.ts';
import type { RouteDeps } from './deps.ts';

/** 值班表: administrators keep it; duty officers and leaders read it. */
const ADMIN = { roles: ['admin'] } as const;
const READERS = { roles: ['admin', 'duty', 'leader'] } as const;
const errors = { 400: S.ErrorBody, 401: S.ErrorBody, 403: S.ErrorBody, 404: S.ErrorBody, 409: S.ErrorBody };
const Iso = Type.String({ format: 'date-time' });

/** At most this many officers on shift at any instant (two may overlap, e.g. a day and a night officer handing over). */
export const MAX_ON_SHIFT = 2;
const MAX_SHIFT_MS = 48 * MS_PER_HOUR;
const MAX_WINDOW_MS = 62 * MS_PER_DAY;

const ShiftView = Type.Object({
  id: Type.String(),
  userId: Type.String(),
  officer: Type.String({ description: '值班员姓名' }),
  startsAt: Iso,
  endsAt: Iso,
  note: Type.Union([Type.String(), Type.Null()]),
  hasEmail: Type.Boolean({ description: '有邮箱（接收紧急告警与交接班）' }),
  hasPhone: Type.Boolean({ description: '有手机号（夜间紧急短信）' }),
});
const ShiftBody = Type.Object(
  {
    userId: Type.String({ minLength: 1, maxLength: 100 }),
    startsAt: Iso,
    endsAt: Iso,
    note: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])),
  },
  { additionalProperties: false },
);
const ShiftPatch = Type.Partial(ShiftBody, { additionalProperties: false });
const RosterQuery = Type.Object({
  from: Type.Optional(Iso),
  to: Type.Optional(Iso),
});

type ShiftRow = {
  id: string;
  user_id: string;
  officer: string;
  starts_at: string | Date;
  ends_at: string | Date;
  note: string | null;
  email: string | null;
  phone: string | null;
};
const view = (r: ShiftRow) => ({
  id: r.id,
  userId: r.user_id,
  officer: r.officer,
  startsAt: new Date(r.starts_at).toISOString(),
  endsAt: new Date(r.ends_at).toISOString(),
  note: r.note,
  hasEmail: !!r.email,
  hasPhone: !!r.phone,
});

async function shiftsBetween(db: DbOrTx, from: number, to: number, extra = sql``): Promise<ShiftRow[]> {
  return rowsOf<ShiftRow>(
    await db.execute(sql`
      select s.id, s.user_id, u.display_name as officer, s.starts_at, s.ends_at, s.note, u.email, u.phone
      from duty_shifts s join users u on u.id = s.user_id
      where s.ends_at > ${new Date(from).toISOString()}::timestamptz and s.starts_at < ${new Date(to).toISOString()}::timestamptz ${extra}
      order by s.starts_at, s.id`),
  );
}

/** Refuse a shift that is not a duty officer's, too long, overlapping the same officer, or a third officer at once. */
async function checkShift(tx: Tx, s: { id: string; userId: string; startsAt: number; endsAt: number }): Promise<void> {
  if (!(s.endsAt > s.startsAt)) throw new ApiError('HY_VALIDATION', 'body/endsAt: 交班时间须晚于接班时间 (a shift ends after it starts)');
  if (s.endsAt - s.startsAt > MAX_SHIFT_MS)
    throw new ApiError('HY_VALIDATION', 'body/endsAt: 单个班次不超过48小时 (a shift is at most 48 h)');
  const [user] = await tx.select({ role: users.role, disabledAt: users.disabledAt }).from(users).where(eq(users.id, s.userId));
  if (!user) throw new ApiError('HY_VALIDATION', `body/userId: unknown user ${s.userId}`);
  if (user.role !== 'duty' || user.disabledAt)
    throw new ApiError('HY_VALIDATION', 'body/userId: 只能排启用的值班员 (only an enabled duty officer)');
  const others = await shiftsBetween(tx, s.startsAt, s.endsAt, sql`and s.id <> ${s.id}`);
  if (others.some((o) => o.user_id === s.userId))
    throw new ApiError('HY_CONFLICT', '该值班员在此时段已有班次 (the officer already has a shift then)');
  // The most shifts overlapping at once within the new one, counting it: a sweep over the others' edges.
  const edges = others
    .flatMap((o) => [
      { at: Math.max(new Date(o.starts_at).getTime(), s.startsAt), d: 1 },
      { at: Math.min(new Date(o.ends_at).getTime(), s.endsAt), d: -1 },
    ])
    .sort((a, b) => a.at - b.at || a.d - b.d);
  let n = 1;
  for (const e of edges) {
    n += e.d;
    if (n > MAX_ON_SHIFT)
      throw new ApiError('HY_CONFLICT', `同一时刻最多 ${MAX_ON_SHIFT} 名值班员在班 (at most ${MAX_ON_SHIFT} officers on shift at once)`);
  }
}

export const rosterRoutes: FastifyPluginAsync<RouteDeps> = async (fastify, deps) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { db, clock, realClock } = deps;
  // Edits are serialised, so two administrators cannot together put three officers on shift.
  const lock = (tx: Tx) => tx.execute(sql`select pg_advisory_xact_lock(hashtext('huiying.duty_roster'))`);

  app.get(
    '/api/roster',
    {
      config: { access: READERS },
      schema: {
        tags: ['roster'],
        summary: '值班表（默认本周，北京时间周一起）与当前在班值班员',
        querystring: RosterQuery,
        response: { 200: Type.Object({ from: Iso, to: Iso, items: Type.Array(ShiftView), onShift: Type.Array(ShiftView) }), ...errors },
      },
    },
    async (request) => {
      const now = clock.now();
      const today = shanghaiDay(now);
      // Monday of this Shanghai week (day 0 was a Thursday).
      const monday = shanghaiDayStart(today - ((((today + 3) % 7) + 7) % 7));
      const from = request.query.from ? instantOf('from', request.query.from) : monday;
      const to = request.query.to ? instantOf('to', request.query.to) : from + 7 * MS_PER_DAY;
      if (!(to > from) || to - from > MAX_WINDOW_MS)
        throw new ApiError('HY_VALIDATION', 'querystring/to: after from, at most 62 days later');
      const items = await shiftsBetween(db, from, to);
      const onShift = await shiftsBetween(db, now, now + 1);
      return {
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
        items: items.map(view),
        onShift: onShift.filter((r) => new Date(r.starts_at).getTime() <= now).map(view),
      };
    },
  );

  app.post(
    '/api/admin/roster',
    {
      config: { access: ADMIN },
      schema: { tags: ['roster'], summary: '排班（新增班次）', body: ShiftBody, response: { 201: ShiftView, ...errors } },
    },
    async (request, reply) => {
      const b = request.body;
      const shift = {
        id: randomUUID(),
        userId: b.userId,
        startsAt: instantOf('startsAt', b.startsAt),
        endsAt: instantOf('endsAt', b.endsAt),
      };
      const at = new Date(realClock.now());
      const row = await db.transaction(async (tx) => {
        await lock(tx);
        await checkShift(tx, shift);
        await tx.insert(dutyShifts).values({
          id: shift.id,
          userId: shift.userId,
          startsAt: new Date(shift.startsAt),
          endsAt: new Date(shift.endsAt),
          note: b.note ?? null,
          createdBy: actorOf(principal(request)),
          createdAt: at,
          updatedAt: at,
        });
        await audit(tx, {
          at,
          actor: actorOf(principal(request)),
          action: 'roster.shift_added',
          entity: 'duty_shift',
          entityId: shift.id,
          input: b,
        });
        return (await shiftsBetween(tx, shift.startsAt, shift.endsAt, sql`and s.id = ${shift.id}`))[0]!;
      });
      return reply.code(201).send(view(row));
    },
  );

  app.patch(
    '/api/admin/roster/:id',
    {
      config: { access: ADMIN },
      schema: { tags: ['roster'], summary: '修改班次', params: S.IdParams, body: ShiftPatch, response: { 200: ShiftView, ...errors } },
    },
    async (request) => {
      const { id } = request.params;
      const b = request.body;
      const at = new Date(realClock.now());
      const row = await db.transaction(async (tx) => {
        await lock(tx);
        const [current] = await tx.select().from(dutyShifts).where(eq(dutyShifts.id, id));
        if (!current) throw new ApiError('HY_NOT_FOUND', `shift ${id} not found`);
        const shift = {
          id,
          userId: b.userId ?? current.userId,
          startsAt: b.startsAt ? instantOf('startsAt', b.startsAt) : current.startsAt.getTime(),
          endsAt: b.endsAt ? instantOf('endsAt', b.endsAt) : current.endsAt.getTime(),
        };
        await checkShift(tx, shift);
        await tx
          .update(dutyShifts)
          .set({
            userId: shift.userId,
            startsAt: new Date(shift.startsAt),
            endsAt: new Date(shift.endsAt),
            ...(b.note !== undefined ? { note: b.note } : {}),
            updatedAt: at,
          })
          .where(eq(dutyShifts.id, id));
        await audit(tx, {
          at,
          actor: actorOf(principal(request)),
          action: 'roster.shift_changed',
          entity: 'duty_shift',
          entityId: id,
          input: b,
        });
        return (await shiftsBetween(tx, shift.startsAt, shift.endsAt, sql`and s.id = ${id}`))[0]!;
      });
      return view(row);
    },
  );

  app.delete(
    '/api/admin/roster/:id',
    {
      config: { access: ADMIN },
      schema: { tags: ['roster'], summary: '删除班次', params: S.IdParams, response: { 204: Type.Null(), ...errors } },
    },
    async (request, reply) => {
      const { id } = request.params;
      const at = new Date(realClock.now());
      await db.transaction(async (tx) => {
        await lock(tx);
        const [gone] = await tx.delete(dutyShifts).where(eq(dutyShifts.id, id)).returning();
        if (!gone) throw new ApiError('HY_NOT_FOUND', `shift ${id} not found`);
        await audit(tx, {
          at,
          actor: actorOf(principal(request)),
          action: 'roster.shift_removed',
          entity: 'duty_shift',
          entityId: id,
          input: { userId: gone.userId, startsAt: gone.startsAt.toISOString(), endsAt: gone.endsAt.toISOString() },
        });
      });
      return reply.code(204).send(null);
    },
  );
};
