import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { TOPICS } from '@huiying/bus';
import { alerts, and, audit, enqueue, eq, isNull } from '@huiying/db';
import { ApiError, instantOf, notVisible, principal, READERS } from '@huiying/http';
import { actorOf, scopeOf } from '@huiying/identity';
import type { FastifyPluginAsync } from 'fastify';
import { getAlert, listAlerts, visible } from '../read.ts';
import * as S from '../schemas.ts';
import type { RouteDeps } from './deps.ts';

const errors = { 400: S.ErrorBody, 401: S.ErrorBody, 403: S.ErrorBody, 404: S.ErrorBody };

export const alertRoutes: FastifyPluginAsync<RouteDeps> = async (fastify, deps) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { db, clock, live } = deps;

  app.get(
    '/api/alerts',
    {
      config: { access: READERS },
      schema: {
        tags: ['alerts'],
        summary: '告警列表（未处理在前，超时告警按超时时长）',
        querystring: S.AlertQuery,
        response: { 200: S.Paged(S.AlertView), ...errors },
      },
    },
    async (request) => {
      const q = request.query;
      return listAlerts(db, scopeOf(principal(request)), {
        ...q,
        page: q.page ?? 1,
        pageSize: q.pageSize ?? 50,
        from: q.from ? instantOf('from', q.from) : undefined,
        to: q.to ? instantOf('to', q.to) : undefined,
      });
    },
  );

  app.post(
    '/api/alerts/:id/ack',
    {
      // Acknowledging stops the alert's repeats, never its clock.
      config: { access: { roles: ['duty', 'unit'] } },
      schema: { tags: ['alerts'], summary: '确认告警 acknowledge', params: S.IdParams, response: { 200: S.AlertView, ...errors } },
    },
    async (request) => {
      const { id } = request.params;
      const user = principal(request);
      const before = await getAlert(db, id);
      if (!before) throw new ApiError('HY_NOT_FOUND', `alert ${id} not found`);
      if (!visible(scopeOf(user), before.unitId)) throw await notVisible(db, request, deps.realClock, 'alert', id);
      const now = new Date(clock.now());
      const actor = actorOf(user);
      const changed = await db.transaction(async (tx) => {
        const rows = await tx
          .update(alerts)
          .set({ acknowledgedAt: now, acknowledgedBy: user.displayName })
          .where(and(eq(alerts.id, id), isNull(alerts.acknowledgedAt)))
          .returning({ id: alerts.id });
        if (rows.length === 0) return false;
        await audit(tx, { at: now, actor, action: 'alert.acknowledged', entity: 'alert', entityId: id });
        // Through the bus, so every API process's dashboards drop the alert, not just ours.
        await enqueue(tx, now, [
          {
            topic: TOPICS.events,
            key: id,
            payload: { v: 1, type: 'event', id: `ack_${id}`, event: 'alert_acknowledged', at: now.toISOString(), alertId: id },
          },
        ]);
        return true;
      });
      const alert = (await getAlert(db, id))!;
      if (changed) live.broadcast('alert', alert, alert.unitId);
      return alert;
    },
  );

  app.get(
    '/api/stream',
    {
      config: { access: READERS },
      schema: { tags: ['alerts'], summary: '实时推送 Server-Sent Events: alert, incident, hello (only what the user may see)' },
    },
    (request, reply) => {
      const user = principal(request);
      // A stream lives as long as its cookie session (live.ts ends it when the session does);
      // machine clients have no business on it.
      if (!request.session) throw new ApiError('HY_FORBIDDEN', 'the live stream is for logged-in users');
      const sessionId = request.session.id;
      const scope = scopeOf(user);
      reply.hijack();
      const res = reply.raw;
      // Hijacked: what onRequest hooks set on the reply (security headers) is ours to send.
      for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) res.setHeader(name, value);
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
      let remove: () => void = () => undefined;
      const close = () => {
        clearInterval(heartbeat);
        remove();
        res.end();
      };
      const send = (event: string, data: unknown) => {
        // A client that stops reading is dropped rather than buffered without bound.
        if (!res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`) && res.writableLength > 1_000_000) close();
      };
      send('hello', { now: new Date(clock.now()).toISOString(), scale: clock.scale ?? 1 });
      remove = live.add({ scope, sessionId, role: user.role, send, close });
      request.raw.on('close', close);
    },
  );
};
