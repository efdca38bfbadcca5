import { randomUUID } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { audit, eq, monitoringRules, rowsOf, type SQL, sql } from '@huiying/db';
import { parseRuleExpression, RuleExpressionError } from '@huiying/domain';
import {
  DEFAULT_JURISDICTION,
  mergeIncidents,
  NotFoundError,
  promoteSignal,
  RegroupRefused,
  SignalAlreadyGrouped,
  splitIncident,
} from '@huiying/engine';
import { ApiError, principal, READERS } from '@huiying/http';
import { actorOf, scopeOf } from '@huiying/identity';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { getIncident } from '../read.ts';
import * as S from '../schemas.ts';
import type { RouteDeps } from './deps.ts';

const ADMIN = { roles: ['admin'] } as const;
/** Duty officers and leaders read the rules they work under; only administrators change them. */
const RULE_READERS = { roles: ['admin', 'duty', 'leader'] } as const;
const DUTY = { roles: ['duty'] } as const;
const errors = { 400: S.ErrorBody, 401: S.ErrorBody, 403: S.ErrorBody, 404: S.ErrorBody, 409: S.ErrorBody };
const Iso = Type.String({ format: 'date-time' });
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

const SourceKind = Type.String({
  pattern: '^(hotline|manual|feed|feed:[a-z0-9_-]{1,32})$',
  description: 'hotline (12345 工单), manual, feed (any feed) or feed:<kind> (e.g. feed:news)',
});
const Names = Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 200 });

const RuleView = Type.Object({
  id: Type.String(),
  jurisdiction: Type.String(),
  name: Type.String(),
  expression: Type.String(),
  sources: Type.Array(Type.String()),
  areas: Type.Array(Type.String()),
  categories: Type.Array(Type.String()),
  enabled: Type.Boolean(),
  createdBy: Type.String(),
  createdAt: Iso,
  updatedAt: Iso,
});
const RuleBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    expression: Type.String({
      maxLength: 2000,
      description: '关键词表达式：AND / OR / NOT（或 & | !）与括号，"引号" 内为短语，相邻关键词为 AND；留空匹配全部',
    }),
    sources: Type.Optional(Type.Array(SourceKind, { maxItems: 20, description: 'empty: every source' })),
    areas: Type.Optional(Names),
    categories: Type.Optional(Names),
    enabled: Type.Optional(Type.Boolean()),
    jurisdiction: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  },
  { additionalProperties: false },
);
const RulePatch = Type.Partial(Type.Omit(RuleBody, ['jurisdiction']), { additionalProperties: false });

const SignalListItem = Type.Object({
  id: Type.String(),
  source: Type.String(),
  title: Nullable(Type.String()),
  content: Type.Union([Type.String(), Type.Null()], { description: '12345 ticket text: duty officers only' }),
  url: Nullable(Type.String()),
  area: Nullable(Type.String()),
  category: Nullable(Type.String()),
  publishedAt: Nullable(Iso),
  receivedAt: Iso,
  incidentId: Nullable(Type.String()),
  decision: Nullable(Type.String()),
  decisionReason: Nullable(Type.String()),
  ruleId: Nullable(Type.String()),
  decisionScore: Type.Union([Type.Number(), Type.Null()]),
  decisionVia: Nullable(Type.String()),
  jurisdiction: Type.String({ description: '辖区: whose monitoring rules decided it' }),
});
const SignalQuery = Type.Object(
  {
    matched: Type.Optional(Type.Boolean({ description: 'false: signals no monitoring rule matched (待人工研判)' })),
    decision: Type.Optional(
      Type.Union(
        ['opened', 'joined', 'unmatched', 'promoted', 'attached'].map((d) => Type.Literal(d)),
        { description: 'one decision' },
      ),
    ),
    source: Type.Optional(Type.Union([Type.Literal('feed'), Type.Literal('hotline'), Type.Literal('manual')])),
    q: Type.Optional(Type.String({ maxLength: 200, description: 'text in the title or content, or the signal id' })),
    ...S.PageQuery,
  },
  { additionalProperties: false },
);
const MergeBody = Type.Object(
  { from: Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { minItems: 1, maxItems: 20, description: '并入本事件的事件' }) },
  { additionalProperties: false },
);
const SplitBody = Type.Object(
  { signals: Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { minItems: 1, maxItems: 500, description: '拆出为新事件的线索' }) },
  { additionalProperties: false },
);
const PromoteBody = Type.Object({ note: Type.Optional(Type.String({ maxLength: 500 })) }, { additionalProperties: false });

type RuleRow = typeof monitoringRules.$inferSelect;
const toRule = (r: RuleRow) => ({
  id: r.id,
  jurisdiction: r.jurisdiction,
  name: r.name,
  expression: r.expression,
  sources: r.sources,
  areas: r.areas,
  categories: r.categories,
  enabled: r.enabled,
  createdBy: r.createdBy,
  createdAt: r.createdAt.toISOString(),
  updatedAt: r.updatedAt.toISOString(),
});

/** The expression must parse before it is stored: a bad one is refused with where it went wrong. */
function checkExpression(expression: string | undefined): void {
  if (expression === undefined) return;
  try {
    parseRuleExpression(expression);
  } catch (e) {
    if (e instanceof RuleExpressionError)
      throw new ApiError('HY_VALIDATION', `body/expression: ${e.reason} (第 ${e.position} 个字符 at character ${e.position})`);
    throw e;
  }
}

const iso = (d: string | Date | null) => (d === null ? null : new Date(d).toISOString());

const SIGNAL_COLUMNS = sql.raw(
  's.id, s.source, s.title, s.content, s.url, s.area, s.category, s.published_at, s.received_at, s.incident_id, ' +
    's.decision, s.decision_reason, s.rule_id, s.decision_score, s.decision_via, s.jurisdiction',
);
/** A unit user's signals: those of its own unit's incidents — never unmatched ones, which are not yet anyone's. */
const signalScope = (unitId: string | null): SQL =>
  unitId === null ? sql`true` : sql`s.incident_id in (select id from incidents where unit_id = ${unitId})`;
type SignalRow = {
  id: string;
  source: string;
  title: string | null;
  content: string | null;
  url: string | null;
  area: string | null;
  category: string | null;
  published_at: string | Date | null;
  received_at: string | Date;
  incident_id: string | null;
  decision: string | null;
  decision_reason: string | null;
  rule_id: string | null;
  decision_score: number | null;
  decision_via: string | null;
  jurisdiction: string;
};
/** One signal as the list and the single read show it; the ticket text (a citizen's words) for duty officers only. */
const toSignal = (r: SignalRow, withText: boolean) => ({
  id: r.id,
  source: r.source,
  title: r.title,
  content: withText ? r.content : null,
  url: r.url,
  area: r.area,
  category: r.category,
  publishedAt: iso(r.published_at),
  receivedAt: iso(r.received_at)!,
  incidentId: r.incident_id,
  decision: r.decision,
  decisionReason: r.decision_reason,
  ruleId: r.rule_id,
  decisionScore: r.decision_score === null ? null : Number(r.decision_score),
  decisionVia: r.decision_via,
  jurisdiction: r.jurisdiction,
});

/**
 * 监测方案 (monitoring rules: administrators write, duty officers and leaders read), the intake
 * search over stored signals, and 人工立案 (a duty officer promotes an unmatched signal).
 */
export const monitoringRoutes: FastifyPluginAsync<RouteDeps> = async (fastify, deps) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { db, realClock } = deps;
  const now = () => new Date(realClock.now());

  app.get(
    '/api/admin/monitoring-rules',
    {
      config: { access: RULE_READERS },
      schema: {
        tags: ['admin'],
        summary: '监测方案列表',
        querystring: Type.Object(
          { ...S.TextQuery('text in the name or the keyword expression, or the rule id'), ...S.LongPageQuery },
          { additionalProperties: false },
        ),
        response: { 200: S.Paged(RuleView), ...errors },
      },
    },
    async (request) => {
      const q = request.query.q?.trim();
      const where = q
        ? sql`(${monitoringRules.name} ilike ${S.likeOf(q)} or ${monitoringRules.expression} ilike ${S.likeOf(q)} or ${monitoringRules.id} = ${q})`
        : undefined;
      const { page, pageSize, offset } = S.pageOf(request.query);
      const [rows, [count]] = await Promise.all([
        db.select().from(monitoringRules).where(where).orderBy(monitoringRules.id).limit(pageSize).offset(offset),
        db
          .select({ n: sql<number>`count(*)::int` })
          .from(monitoringRules)
          .where(where),
      ]);
      return { items: rows.map(toRule), total: count?.n ?? 0, page, pageSize };
    },
  );

  app.post(
    '/api/admin/monitoring-rules',
    {
      config: { access: ADMIN },
      schema: { tags: ['admin'], summary: '新增监测方案', body: RuleBody, response: { 201: RuleView, ...errors } },
    },
    async (request, reply) => {
      const b = request.body;
      checkExpression(b.expression);
      const at = now();
      const actor = actorOf(principal(request));
      const id = `mr_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
      const row = await db.transaction(async (tx) => {
        const [created] = await tx
          .insert(monitoringRules)
          .values({
            id,
            jurisdiction: b.jurisdiction ?? DEFAULT_JURISDICTION,
            name: b.name,
            expression: b.expression,
            sources: b.sources ?? [],
            areas: b.areas ?? [],
            categories: b.categories ?? [],
            enabled: b.enabled ?? true,
            createdBy: actor,
            createdAt: at,
            updatedAt: at,
          })
          .returning();
        await audit(tx, { at, actor, action: 'monitoring_rule.created', entity: 'monitoring_rule', entityId: id, input: b });
        return created!;
      });
      return reply.code(201).send(toRule(row));
    },
  );

  app.patch(
    '/api/admin/monitoring-rules/:id',
    {
      config: { access: ADMIN },
      schema: { tags: ['admin'], summary: '修改监测方案', params: S.IdParams, body: RulePatch, response: { 200: RuleView, ...errors } },
    },
    async (request) => {
      const { id } = request.params;
      checkExpression(request.body.expression);
      const at = now();
      return db.transaction(async (tx) => {
        const [row] = await tx
          .update(monitoringRules)
          .set({ ...request.body, updatedAt: at })
          .where(eq(monitoringRules.id, id))
          .returning();
        if (!row) throw new ApiError('HY_NOT_FOUND', `monitoring rule ${id} not found`);
        await audit(tx, {
          at,
          actor: actorOf(principal(request)),
          action: 'monitoring_rule.updated',
          entity: 'monitoring_rule',
          entityId: id,
          input: request.body,
        });
        return toRule(row);
      });
    },
  );

  app.delete(
    '/api/admin/monitoring-rules/:id',
    {
      config: { access: ADMIN },
      schema: {
        tags: ['admin'],
        summary: '删除监测方案（已作出的归并决定保留）',
        params: S.IdParams,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const at = now();
      await db.transaction(async (tx) => {
        const [row] = await tx.delete(monitoringRules).where(eq(monitoringRules.id, id)).returning();
        if (!row) throw new ApiError('HY_NOT_FOUND', `monitoring rule ${id} not found`);
        await audit(tx, {
          at,
          actor: actorOf(principal(request)),
          action: 'monitoring_rule.deleted',
          entity: 'monitoring_rule',
          entityId: id,
          input: toRule(row),
        });
      });
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/signals',
    {
      config: { access: READERS },
      schema: {
        tags: ['incidents'],
        summary:
          '线索检索 (newest first). A unit user sees only signals of its own unit’s incidents — never unmatched ones, which are not yet anyone’s; ticket text for duty officers only',
        querystring: SignalQuery,
        response: { 200: S.Paged(SignalListItem), ...errors },
      },
    },
    async (request) => {
      const user = principal(request);
      const scope = scopeOf(user);
      const q = request.query;
      const page = q.page ?? 1;
      const pageSize = q.pageSize ?? 50;
      const parts: SQL[] = [signalScope(scope.unitId)];
      if (q.matched === false) parts.push(sql`s.decision = 'unmatched'`);
      if (q.matched === true) parts.push(sql`s.incident_id is not null`);
      if (q.decision) parts.push(sql`s.decision = ${q.decision}`);
      if (q.source) parts.push(sql`s.source = ${q.source}`);
      if (q.q) {
        // Units and leaders do not search inside citizens' ticket text.
        const withContent = user.role === 'duty' || user.role === 'admin';
        parts.push(
          withContent
            ? sql`(s.title ilike ${S.likeOf(q.q)} or s.content ilike ${S.likeOf(q.q)} or s.id = ${q.q})`
            : sql`(s.title ilike ${S.likeOf(q.q)} or s.id = ${q.q})`,
        );
      }
      const where = sql.join(parts, sql` and `);
      const [rows, count] = await Promise.all([
        db.execute(sql`
          select ${SIGNAL_COLUMNS} from signals s where ${where}
          order by s.received_at desc, s.id
          limit ${pageSize} offset ${(page - 1) * pageSize}`),
        db.execute(sql`select count(*)::int as n from signals s where ${where}`),
      ]);
      const items = rowsOf<SignalRow>(rows).map((r) => toSignal(r, user.role === 'duty'));
      return { items, total: rowsOf<{ n: number }>(count)[0]?.n ?? 0, page, pageSize };
    },
  );

  app.get(
    '/api/signals/:id',
    {
      config: { access: READERS },
      schema: {
        tags: ['incidents'],
        summary:
          '一条线索, as the list shows it. A unit user reads only a signal of its own unit’s incidents (another’s, or an unmatched one, is a 404 as if it did not exist); ticket text for duty officers only',
        params: S.IdParams,
        response: { 200: SignalListItem, ...errors },
      },
    },
    async (request) => {
      const user = principal(request);
      const { id } = request.params;
      const rows = rowsOf<SignalRow>(
        await db.execute(sql`select ${SIGNAL_COLUMNS} from signals s where s.id = ${id} and ${signalScope(scopeOf(user).unitId)}`),
      );
      if (!rows[0]) throw new ApiError('HY_NOT_FOUND', `signal ${id} not found`);
      return toSignal(rows[0], user.role === 'duty');
    },
  );

  app.post(
    '/api/signals/:id/promote',
    {
      config: { access: DUTY },
      schema: {
        tags: ['incidents'],
        summary: '人工立案 promote a stored signal to an incident (its clock starts at the signal’s publish time, per replay.md)',
        params: S.IdParams,
        body: PromoteBody,
        response: { 201: S.IncidentView, ...errors },
      },
    },
    async (request, reply) => {
      const id = request.params.id;
      let incidentId: string;
      try {
        ({ incidentId } = await promoteSignal(deps.engine, id, actorOf(principal(request)), request.body.note));
      } catch (e) {
        if (e instanceof NotFoundError) throw new ApiError('HY_NOT_FOUND', `signal ${id} not found`);
        if (e instanceof SignalAlreadyGrouped) throw new ApiError('HY_CONFLICT', `线索已属于事件 ${e.incidentId} (already in an incident)`);
        throw e;
      }
      const found = await getIncident(db, incidentId);
      return reply.code(201).send(found!.view);
    },
  );

  /** A merge or split the state refuses is a 409; a missing incident a 404. */
  const regroup = async <T>(run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (e) {
      if (e instanceof NotFoundError) throw new ApiError('HY_NOT_FOUND', e.message);
      if (e instanceof RegroupRefused) throw new ApiError('HY_CONFLICT', e.message);
      throw e;
    }
  };

  app.post(
    '/api/incidents/:id/merge',
    {
      config: { access: DUTY },
      schema: {
        tags: ['incidents'],
        summary:
          '合并事件: the other incidents’ signals, occurrence time and responses move here (the start is the earliest); they are closed',
        params: S.IdParams,
        body: MergeBody,
        response: { 200: S.IncidentView, ...errors },
      },
    },
    async (request) => {
      const id = request.params.id;
      await regroup(() => mergeIncidents(deps.engine, id, request.body.from, actorOf(principal(request))));
      return (await getIncident(db, id))!.view;
    },
  );

  app.post(
    '/api/incidents/:id/split',
    {
      config: { access: DUTY },
      schema: {
        tags: ['incidents'],
        summary:
          '拆分事件: the chosen signals become a new incident, its clock from the earliest of them (this incident is rebuilt from its remaining signals: its start may move later)',
        params: S.IdParams,
        body: SplitBody,
        response: { 201: S.IncidentView, ...errors },
      },
    },
    async (request, reply) => {
      const { incidentId } = await regroup(() =>
        splitIncident(deps.engine, request.params.id, request.body.signals, actorOf(principal(request))),
      );
      return reply.code(201).send((await getIncident(db, incidentId))!.view);
    },
  );
};
