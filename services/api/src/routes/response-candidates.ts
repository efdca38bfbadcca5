import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { rowsOf, sql } from '@huiying/db';
import { CandidateConflict, OfficialChannels } from '@huiying/engine';
import { ApiError, notVisible, principal, READERS } from '@huiying/http';
import { actorOf, scopeOf } from '@huiying/identity';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { visible } from '../read.ts';
import * as S from '../schemas.ts';
import type { RouteDeps } from './deps.ts';

/** Candidate responses are the duty officer's to decide (administrators may too). */
const DECIDERS = { roles: ['duty', 'admin'] } as const;
const errors = { 400: S.ErrorBody, 401: S.ErrorBody, 403: S.ErrorBody, 404: S.ErrorBody, 409: S.ErrorBody };
const Iso = Type.String({ format: 'date-time' });
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

const CandidateView = Type.Object({
  id: Type.String(),
  incidentId: Type.String(),
  incidentTitle: Type.String(),
  feedId: Type.String(),
  channel: Type.String(),
  unitId: Nullable(Type.String()),
  title: Nullable(Type.String()),
  url: Nullable(Type.String()),
  publishedAt: Iso,
  original: Type.Boolean(),
  originReason: Type.String(),
  confidence: Type.Number(),
  matchReason: Type.String(),
  status: Type.String(),
  decidedAt: Nullable(Iso),
  decidedBy: Nullable(Type.String()),
  decisionReason: Nullable(Type.String()),
  responseId: Nullable(Type.String()),
  createdAt: Iso,
});
const CandidateQuery = Type.Object(
  {
    status: Type.Optional(Type.Union([Type.Literal('proposed'), Type.Literal('accepted'), Type.Literal('rejected')])),
    incident: Type.Optional(Type.String({ maxLength: 100 })),
    ...S.TextQuery('text in the item’s or the incident’s title, or the incident id'),
    ...S.LongPageQuery,
  },
  { additionalProperties: false },
);
const DecisionBody = Type.Object({ reason: Type.Optional(Type.String({ maxLength: 500 })) }, { additionalProperties: false });

const iso = (v: string | Date | null | undefined): string | null => (v ? new Date(v).toISOString() : null);

/**
 * 候选回应: items of official channels (feeds.ts) proposed as an incident's response. A unit
 * user sees its own unit's; the duty officer accepts one (recorded as the response, through
 * the engine) or rejects it with a reason.
 */
export const responseCandidateRoutes: FastifyPluginAsync<RouteDeps> = async (fastify, deps) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = deps;
  const official = new OfficialChannels({ engine: deps.engine, calendar: () => deps.calendars.provisional });

  const candidateSelect = sql`
    select c.*, coalesce(i.title, c.incident_id) as incident_title, coalesce(f.name, c.feed_id) as channel
    from response_candidates c
    left join incidents i on i.id = c.incident_id
    left join feeds f on f.id = c.feed_id`;
  const toCandidate = (r: Record<string, unknown>) => ({
    id: String(r.id),
    incidentId: String(r.incident_id),
    incidentTitle: String(r.incident_title),
    feedId: String(r.feed_id),
    channel: String(r.channel),
    unitId: (r.unit_id as string | null) ?? null,
    title: (r.title as string | null) ?? null,
    url: (r.url as string | null) ?? null,
    publishedAt: iso(r.published_at as string)!,
    original: Boolean(r.original),
    originReason: String(r.origin_reason),
    confidence: Number(r.confidence),
    matchReason: String(r.match_reason),
    status: String(r.status),
    decidedAt: iso(r.decided_at as string | null),
    decidedBy: (r.decided_by as string | null) ?? null,
    decisionReason: (r.decision_reason as string | null) ?? null,
    responseId: (r.response_id as string | null) ?? null,
    createdAt: iso(r.created_at as string)!,
  });

  app.get(
    '/api/response-candidates',
    {
      config: { access: READERS },
      schema: {
        tags: ['incidents'],
        summary: '候选回应 official channels’ items proposed as responses (proposed first, best match first)',
        querystring: CandidateQuery,
        response: { 200: S.Paged(CandidateView), ...errors },
      },
    },
    async (request) => {
      const q = request.query;
      const scope = scopeOf(principal(request));
      const parts = [sql`true`];
      if (scope.unitId !== null) parts.push(sql`(c.unit_id = ${scope.unitId} or i.unit_id = ${scope.unitId})`);
      if (q.status) parts.push(sql`c.status = ${q.status}`);
      if (q.incident) parts.push(sql`c.incident_id = ${q.incident}`);
      const text = q.q?.trim();
      if (text) parts.push(sql`(c.title ilike ${S.likeOf(text)} or i.title ilike ${S.likeOf(text)} or c.incident_id = ${text})`);
      const where = sql.join(parts, sql` and `);
      const { page, pageSize, offset } = S.pageOf(q);
      const [rows, [count]] = await Promise.all([
        db
          .execute(
            sql`${candidateSelect} where ${where}
          order by (c.status = 'proposed') desc, c.created_at desc, c.confidence desc, c.id limit ${pageSize} offset ${offset}`,
          )
          .then((r) => rowsOf<Record<string, unknown>>(r)),
        db
          .execute(sql`select count(*)::int as n from response_candidates c left join incidents i on i.id = c.incident_id where ${where}`)
          .then((r) => rowsOf<{ n: number }>(r)),
      ]);
      return { items: rows.map(toCandidate), total: count?.n ?? 0, page, pageSize };
    },
  );

  const decide =
    (decision: 'accept' | 'reject') => async (request: FastifyRequest<{ Params: { id: string }; Body: { reason?: string } }>) => {
      const { id } = request.params;
      const [row] = rowsOf<Record<string, unknown>>(await db.execute(sql`${candidateSelect} where c.id = ${id}`));
      if (!row) throw new ApiError('HY_NOT_FOUND', `response candidate ${id} not found`);
      const user = principal(request);
      if (!visible(scopeOf(user), (row.unit_id as string | null) ?? null))
        throw await notVisible(db, request, deps.realClock, 'response_candidate', id);
      const reason =
        request.body?.reason?.trim() ||
        (decision === 'accept'
          ? `值班员确认 accepted by the duty officer: ${String(row.match_reason)}`
          : '值班员驳回 rejected by the duty officer');
      try {
        await official.decide(id, decision, actorOf(user), reason);
      } catch (error) {
        if (error instanceof CandidateConflict) throw new ApiError('HY_CONFLICT', error.message);
        throw error;
      }
      const [after] = rowsOf<Record<string, unknown>>(await db.execute(sql`${candidateSelect} where c.id = ${id}`));
      return toCandidate(after!);
    };

  for (const decision of ['accept', 'reject'] as const)
    app.post(
      `/api/response-candidates/:id/${decision}`,
      {
        config: { access: DECIDERS },
        schema: {
          tags: ['incidents'],
          summary:
            decision === 'accept'
              ? '采纳候选回应 accept: record it as the incident’s response (a repost meets no clock)'
              : '驳回候选回应 reject (with a reason)',
          params: S.IdParams,
          body: Type.Optional(DecisionBody),
          response: { 200: CandidateView, ...errors },
        },
      },
      decide(decision),
    );
};
