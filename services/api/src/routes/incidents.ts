import { randomUUID } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { audit, type Db, eq, signals, sql, units } from '@huiying/db';
import { canonicalUrl, type IncidentInput } from '@huiying/domain';
import { applyCommand, groupingChanged, recordResponse } from '@huiying/engine';
import { ApiError, instantOf, notVisible, principal, READERS } from '@huiying/http';
import { actorOf, scopeOf } from '@huiying/identity';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { acceptsGzip, etagMatches, sentPage } from '../list-cache.ts';
import { getIncident, incidentTimeline, listIncidents, visible } from '../read.ts';
import * as S from '../schemas.ts';
import type { RouteDeps } from './deps.ts';

const DUTY = { roles: ['duty'] } as const;
/** A unit records its own responses; duty officers record anyone's. */
const RESPONDERS = { roles: ['duty', 'unit'] } as const;

const errors = { 400: S.ErrorBody, 401: S.ErrorBody, 403: S.ErrorBody, 404: S.ErrorBody, 409: S.ErrorBody };

async function requireUnit(db: Db, unit: string): Promise<void> {
  const [row] = await db.select({ id: units.id }).from(units).where(eq(units.id, unit));
  if (!row) throw new ApiError('HY_VALIDATION', `body/unit: unknown unit ${unit}`);
}

export const incidentRoutes: FastifyPluginAsync<RouteDeps> = async (fastify, deps) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { db, clock } = deps;

  /** The incident if the caller may see it; otherwise the same 404 as a missing one (audited). */
  const load = async (request: FastifyRequest, id: string) => {
    const found = await getIncident(db, id);
    if (!found) throw new ApiError('HY_NOT_FOUND', `incident ${id} not found`);
    if (!visible(scopeOf(principal(request)), found.unitId)) throw await notVisible(db, request, deps.realClock, 'incident', id);
    return found.view;
  };

  const command = async (request: FastifyRequest, id: string, input: IncidentInput) => {
    await load(request, id);
    await applyCommand(deps.engine, id, input, actorOf(principal(request)));
    return load(request, id);
  };

  app.get(
    '/api/incidents',
    {
      config: { access: READERS },
      schema: {
        tags: ['incidents'],
        summary: '舆情事件列表（按紧急程度：已超时在前，其次最近到期）',
        querystring: S.IncidentQuery,
        response: { 200: S.Paged(S.IncidentView), 304: S.NotModified, ...errors },
      },
    },
    async (request, reply) => {
      const scope = scopeOf(principal(request));
      // Serialized by the route's own response schema, cached per scope (a unit user's pages are
      // their unit's alone) and query (list-cache.ts), with its bytes and entity tag; after a change
      // elsewhere the previous page is served (to whoever sees the whole jurisdiction) for at most a
      // second while one request's rebuild runs.
      const key = JSON.stringify([scope.unitId, request.url]);
      const page = await deps.boardCache.get(
        key,
        async () => {
          const q = request.query;
          const filters = {
            ...q,
            page: q.page ?? 1,
            pageSize: q.pageSize ?? 50,
            from: q.from ? instantOf('from', q.from) : undefined,
            to: q.to ? instantOf('to', q.to) : undefined,
          };
          // By the 200 schema explicitly: a rebuild may end after this request was answered (304).
          return sentPage(String(reply.serializeInput(await listIncidents(db, scope, filters), '200')));
        },
        // A unit user's page is never stale: a reassignment narrows what they may see.
        { stale: scope.unitId === null },
      );
      // Per user, so no shared cache keeps it; the console revalidates and gets 304 while nothing
      // changed. Gzipped (once per page, list-cache.ts) for clients that take it: every browser.
      const gzip = acceptsGzip(request.headers['accept-encoding']);
      const etag = gzip ? page.gzipEtag : page.etag;
      reply.header('cache-control', 'private, no-cache').header('vary', 'accept-encoding').header('etag', etag);
      if (etagMatches(request.headers['if-none-match'], etag)) return reply.code(304).send(null);
      if (gzip) reply.header('content-encoding', 'gzip');
      // Already serialized by this route's schema: a Buffer is sent as it is.
      return reply.type('application/json; charset=utf-8').send((gzip ? page.gzip : page.body) as never);
    },
  );

  app.get(
    '/api/incidents/:id',
    { config: { access: READERS }, schema: { tags: ['incidents'], params: S.IdParams, response: { 200: S.IncidentView, ...errors } } },
    async (request) => load(request, request.params.id),
  );

  app.get(
    '/api/incidents/:id/timeline',
    {
      config: { access: READERS },
      schema: {
        tags: ['incidents'],
        summary: '事件全过程：线索、定级、时限、回应、告警、督办邮件、审计',
        params: S.IdParams,
        response: { 200: S.Timeline, ...errors },
      },
    },
    async (request) => {
      const incident = await load(request, request.params.id);
      const rest = await incidentTimeline(db, request.params.id, principal(request).role === 'duty');
      return { incident, ...rest };
    },
  );

  app.post(
    '/api/incidents/:id/grade',
    {
      config: { access: DUTY },
      schema: {
        tags: ['incidents'],
        summary: '研判定级 grade',
        params: S.IdParams,
        body: S.GradeBody,
        response: { 200: S.IncidentView, ...errors },
      },
    },
    async (request) => {
      const { level, unit } = request.body;
      if (unit) await requireUnit(db, unit);
      const id = request.params.id;
      return command(request, id, { type: 'grade', at: clock.now(), incident: id, level, ...(unit ? { unit } : {}) });
    },
  );

  app.post(
    '/api/incidents/:id/assign',
    {
      config: { access: DUTY },
      schema: {
        tags: ['incidents'],
        summary: '指定责任单位 assign',
        params: S.IdParams,
        body: S.AssignBody,
        response: { 200: S.IncidentView, ...errors },
      },
    },
    async (request) => {
      await requireUnit(db, request.body.unit);
      const id = request.params.id;
      return command(request, id, { type: 'assign', at: clock.now(), incident: id, unit: request.body.unit });
    },
  );

  app.post(
    '/api/incidents/:id/occurred',
    {
      config: { access: DUTY },
      schema: {
        tags: ['incidents'],
        summary: '登记发生时间 record an earlier occurrence time',
        params: S.IdParams,
        body: S.OccurredBody,
        response: { 200: S.IncidentView, ...errors },
      },
    },
    async (request) => {
      const occurredAt = instantOf('occurredAt', request.body.occurredAt);
      if (occurredAt > clock.now()) throw new ApiError('HY_VALIDATION', 'body/occurredAt must not be in the future');
      const id = request.params.id;
      return command(request, id, { type: 'occurred', at: clock.now(), incident: id, occurredAt });
    },
  );

  app.post(
    '/api/incidents/:id/signals',
    {
      config: { access: DUTY },
      schema: {
        tags: ['incidents'],
        summary: '补充线索 attach a manually reported signal (an earlier one moves the start and the running clocks)',
        params: S.IdParams,
        body: S.SignalBody,
        response: { 201: S.IncidentView, ...errors },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const id = request.params.id;
      await load(request, id);
      const now = clock.now();
      const publishedAt = b.publishedAt ? instantOf('publishedAt', b.publishedAt) : now;
      if (publishedAt > now) throw new ApiError('HY_VALIDATION', 'body/publishedAt must not be in the future');
      const signalId = `sig_manual_${randomUUID()}`;
      const actor = actorOf(principal(request));
      await applyCommand(
        deps.engine,
        id,
        { type: 'signal', at: now, incident: id, source: 'manual', publishedAt, title: b.title },
        actor,
        async (tx) => {
          await tx.insert(signals).values({
            id: signalId,
            source: 'manual',
            sourceRef: signalId,
            title: b.title,
            url: b.url ?? null,
            publishedAt: new Date(publishedAt),
            receivedAt: new Date(now),
            incidentId: id,
            processedAt: new Date(now),
            decision: 'attached',
            decisionReason: 'manual',
            decidedAt: new Date(now),
            // Found by its link like any grouped signal: a repost of this page joins this incident.
            linkKey: canonicalUrl(b.url ?? null),
            // The incident's jurisdiction: later signals are grouped with it only within that jurisdiction.
            jurisdiction: sql`coalesce((select s.jurisdiction from signals s where s.incident_id = ${id} order by s.received_at, s.id limit 1), 'default')`,
          });
          await audit(tx, { at: new Date(now), actor, action: 'signal.attached', entity: 'signal', entityId: signalId, input: b });
        },
      );
      // The attached signal is a grouping candidate now: engines keeping candidates read them again.
      const [row] = await db.select({ jurisdiction: signals.jurisdiction }).from(signals).where(eq(signals.id, signalId));
      await groupingChanged(db, row?.jurisdiction);
      return reply.code(201).send(await load(request, id));
    },
  );

  app.post(
    '/api/incidents/:id/dismiss',
    {
      config: { access: DUTY },
      schema: {
        tags: ['incidents'],
        summary: '排除 dismiss',
        params: S.IdParams,
        body: S.DismissBody,
        response: { 200: S.IncidentView, ...errors },
      },
    },
    async (request) => {
      const id = request.params.id;
      return command(request, id, { type: 'dismiss', at: clock.now(), incident: id, reason: request.body.reason });
    },
  );

  app.post(
    '/api/incidents/:id/responses',
    {
      config: { access: RESPONDERS },
      schema: {
        tags: ['incidents'],
        summary: '登记回应 record a response (a unit user: for its own unit only)',
        params: S.IdParams,
        body: S.ResponseBody,
        response: { 201: S.IncidentView, ...errors },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const user = principal(request);
      const id = request.params.id;
      const incident = await load(request, id);
      // A unit answers for itself; the unit on record is the caller's, not what the body says.
      if (user.role === 'unit' && b.unit !== undefined && b.unit !== user.unitId)
        throw new ApiError('HY_FORBIDDEN', 'a unit records responses for its own unit only');
      const unit = user.role === 'unit' ? (user.unitId ?? undefined) : (b.unit ?? incident.unit?.id);
      if (unit && user.role !== 'unit') await requireUnit(db, unit);
      const now = clock.now();
      const publishedAt = b.publishedAt ? instantOf('publishedAt', b.publishedAt) : now;
      if (publishedAt > now) throw new ApiError('HY_VALIDATION', 'body/publishedAt must not be in the future');
      // The same path an accepted candidate response takes (engine recordResponse).
      await recordResponse(
        deps.engine,
        { incidentId: id, kind: b.kind, original: b.original, publishedAt, unit, channel: b.channel, url: b.url, input: b },
        actorOf(user),
      );
      return reply.code(201).send(await load(request, id));
    },
  );
};
