import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { type Bus, TOPICS } from '@huiying/bus';
import type { Clock } from '@huiying/clock';
import { alerts, audit, and, type Db, enqueue, eq, isNull, responses, signals, sql, units } from '@huiying/db';
import { DomainError, type IncidentInput } from '@huiying/domain';
import { applyCommand, type CalendarService, type EngineDeps, NotFoundError, StaleWriteError } from '@huiying/engine';
import { ticketRoutes } from '@huiying/ingest';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Logger } from 'pino';
import type { ConsoleBundle } from '@huiying/web';
import { registerConsole } from './console-routes.ts';
import { ApiError, ERROR_CATALOGUE, instantOf } from './errors.ts';
import { LiveFeed } from './live.ts';
import { obligationRoutes } from './obligations.ts';
import { getAlert, getIncident, listAlerts, listIncidents } from './read.ts';
import * as S from './schemas.ts';
import { randomUUID } from 'node:crypto';

export interface AppDeps {
  db: Db;
  bus: Bus;
  clock: Clock & { scale?: number };
  engine: EngineDeps;
  /** The working-day calendar (file + administrators' years), for disclosure duties. */
  calendars: CalendarService;
  logger: Logger;
  /** The zh-CN console bundle (services/web `buildDashboard`); omitted in API-only tests. */
  dashboard?: () => Promise<ConsoleBundle>;
}

export async function buildApp(deps: AppDeps, options: FastifyServerOptions = {}): Promise<FastifyInstance & { live: LiveFeed }> {
  const app = Fastify({ loggerInstance: deps.logger, ...options }).withTypeProvider<TypeBoxTypeProvider>();
  const { db, clock } = deps;
  const live = new LiveFeed({ db, bus: deps.bus, logger: deps.logger });

  await app.register(swagger, {
    openapi: {
      info: {
        title: '回应 Huiying API',
        version: '0.1.0',
        description: '政务舆情回应时效监督 — alerts, incidents, responses, hotline intake',
      },
      tags: [{ name: 'incidents' }, { name: 'alerts' }, { name: 'ingest' }, { name: 'system' }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.setErrorHandler((error, request, reply) => {
    const e = error as { validation?: unknown; validationContext?: string; statusCode?: number; message: string };
    if (error instanceof ApiError) return reply.code(error.status).send({ code: error.code, message: error.message });
    if (error instanceof NotFoundError) return reply.code(404).send({ code: 'HY_NOT_FOUND', message: error.message });
    if (error instanceof StaleWriteError)
      return reply.code(409).send({ code: 'HY_CONFLICT', message: '该记录刚被他人修改，请刷新后重试 (changed concurrently; retry)' });
    if (error instanceof DomainError) {
      // Bad data the domain caught is the client's to fix (400); the rest is a state conflict (409).
      const invalid = error.code === 'INVALID_INPUT' || error.code === 'CALENDAR_DATA_INVALID' || error.code === 'RULE_PACK_INVALID';
      return reply.code(invalid ? 400 : 409).send({ code: invalid ? 'HY_VALIDATION' : 'HY_CONFLICT', message: error.message });
    }
    if (e.validation) return reply.code(400).send({ code: 'HY_VALIDATION', message: e.message });
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500)
      return reply.code(e.statusCode).send({ code: 'HY_VALIDATION', message: e.message });
    request.log.error(error, 'unhandled error');
    return reply.code(500).send({ code: 'HY_INTERNAL', message: '内部错误 internal error' });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ code: 'HY_NOT_FOUND', message: `no route ${request.method} ${request.url}` }),
  );

  const errors = { 400: S.ErrorBody, 404: S.ErrorBody, 409: S.ErrorBody };

  app.get(
    '/api/health',
    {
      schema: {
        tags: ['system'],
        summary: '健康检查：数据库、实时连接、节假日日历',
        response: {
          200: Type.Object({
            status: Type.Union([Type.Literal('ok'), Type.Literal('warn')]),
            database: Type.String(),
            liveClients: Type.Integer(),
            warnings: Type.Array(Type.String()),
          }),
        },
      },
    },
    async () => {
      await db.execute(sql`select 1`);
      const calendar = deps.calendars.health(clock.now());
      const warnings = calendar.warning ? [calendar.warning] : [];
      return { status: warnings.length > 0 ? ('warn' as const) : ('ok' as const), database: 'ok', liveClients: live.size, warnings };
    },
  );

  app.get(
    '/api/time',
    {
      schema: {
        tags: ['system'],
        summary: '系统时间（演练时为模拟时间）',
        response: { 200: Type.Object({ now: Type.String(), scale: Type.Number() }) },
      },
    },
    async () => ({
      now: new Date(clock.now()).toISOString(),
      scale: clock.scale ?? 1,
    }),
  );

  app.get('/api/error-codes', { schema: { tags: ['system'] } }, async () => ERROR_CATALOGUE);

  app.get('/api/units', { schema: { tags: ['system'] } }, async () => ({
    items: await db.select({ id: units.id, name: units.name }).from(units).orderBy(units.id),
  }));

  app.get(
    '/api/incidents',
    {
      schema: {
        tags: ['incidents'],
        summary: '舆情事件列表',
        querystring: Type.Object({ status: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('closed')])) }),
        response: { 200: Type.Object({ items: Type.Array(S.IncidentView) }), ...errors },
      },
    },
    async (request) => ({ items: await listIncidents(db, request.query.status) }),
  );

  app.get(
    '/api/incidents/:id',
    { schema: { tags: ['incidents'], params: S.IdParams, response: { 200: S.IncidentView, ...errors } } },
    async (request) => {
      const incident = await getIncident(db, request.params.id);
      if (!incident) throw new ApiError('HY_NOT_FOUND', `incident ${request.params.id} not found`);
      return incident;
    },
  );

  const command = async (id: string, input: IncidentInput, by: string | undefined) => {
    await applyCommand(deps.engine, id, input, by ?? 'api');
    const incident = await getIncident(db, id);
    if (!incident) throw new ApiError('HY_NOT_FOUND', `incident ${id} not found`);
    return incident;
  };

  app.post(
    '/api/incidents/:id/grade',
    {
      schema: {
        tags: ['incidents'],
        summary: '研判定级 grade',
        params: S.IdParams,
        body: S.GradeBody,
        response: { 200: S.IncidentView, ...errors },
      },
    },
    async (request) => {
      const { level, unit, by } = request.body;
      if (unit) await requireUnit(db, unit);
      return command(
        request.params.id,
        { type: 'grade', at: clock.now(), incident: request.params.id, level, ...(unit ? { unit } : {}) },
        by,
      );
    },
  );

  app.post(
    '/api/incidents/:id/assign',
    {
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
      return command(
        request.params.id,
        { type: 'assign', at: clock.now(), incident: request.params.id, unit: request.body.unit },
        request.body.by,
      );
    },
  );

  app.post(
    '/api/incidents/:id/occurred',
    {
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
      return command(request.params.id, { type: 'occurred', at: clock.now(), incident: request.params.id, occurredAt }, request.body.by);
    },
  );

  app.post(
    '/api/incidents/:id/signals',
    {
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
      const now = clock.now();
      const publishedAt = b.publishedAt ? instantOf('publishedAt', b.publishedAt) : now;
      if (publishedAt > now) throw new ApiError('HY_VALIDATION', 'body/publishedAt must not be in the future');
      const signalId = `sig_manual_${randomUUID()}`;
      await applyCommand(
        deps.engine,
        id,
        { type: 'signal', at: now, incident: id, source: 'manual', publishedAt, title: b.title },
        b.by ?? 'api',
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
          });
          await audit(tx, {
            at: new Date(now),
            actor: b.by ?? 'api',
            action: 'signal.attached',
            entity: 'signal',
            entityId: signalId,
            input: b,
          });
        },
      );
      const incident = await getIncident(db, id);
      if (!incident) throw new ApiError('HY_NOT_FOUND', `incident ${id} not found`);
      return reply.code(201).send(incident);
    },
  );

  app.post(
    '/api/incidents/:id/dismiss',
    {
      schema: {
        tags: ['incidents'],
        summary: '排除 dismiss',
        params: S.IdParams,
        body: S.DismissBody,
        response: { 200: S.IncidentView, ...errors },
      },
    },
    async (request) =>
      command(
        request.params.id,
        { type: 'dismiss', at: clock.now(), incident: request.params.id, reason: request.body.reason },
        request.body.by,
      ),
  );

  app.post(
    '/api/incidents/:id/responses',
    {
      schema: {
        tags: ['incidents'],
        summary: '登记回应 record a response',
        params: S.IdParams,
        body: S.ResponseBody,
        response: { 201: S.IncidentView, ...errors },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const now = clock.now();
      const publishedAt = b.publishedAt ? instantOf('publishedAt', b.publishedAt) : now;
      if (publishedAt > now) throw new ApiError('HY_VALIDATION', 'body/publishedAt must not be in the future');
      const id = request.params.id;
      const responseId = randomUUID();
      await applyCommand(
        deps.engine,
        id,
        {
          type: 'response',
          at: now,
          incident: id,
          kind: b.kind,
          original: b.original,
          publishedAt,
          ...(b.unit ? { unit: b.unit } : {}),
          ...(b.channel ? { channel: b.channel } : {}),
          ...(b.url ? { url: b.url } : {}),
        },
        b.by ?? 'api',
        // The evidence row commits with the clock change, or neither does.
        async (tx) => {
          await tx.insert(responses).values({
            id: responseId,
            incidentId: id,
            kind: b.kind,
            original: b.original,
            publishedAt: new Date(publishedAt),
            recordedAt: new Date(now),
            unitId: b.unit ?? null,
            channel: b.channel ?? null,
            url: b.url ?? null,
            recordedBy: b.by ?? null,
          });
          await audit(tx, {
            at: new Date(now),
            actor: b.by ?? 'api',
            action: 'response.recorded',
            entity: 'response',
            entityId: responseId,
            input: b,
          });
        },
      );
      const incident = await getIncident(db, id);
      if (!incident) throw new ApiError('HY_NOT_FOUND', `incident ${id} not found`);
      return reply.code(201).send(incident);
    },
  );

  app.get(
    '/api/alerts',
    {
      schema: {
        tags: ['alerts'],
        summary: '告警列表',
        querystring: Type.Object({ open: Type.Optional(Type.Boolean()) }),
        response: { 200: Type.Object({ items: Type.Array(S.AlertView) }) },
      },
    },
    async (request) => ({
      items: await listAlerts(db, request.query.open ?? false),
    }),
  );

  app.post(
    '/api/alerts/:id/ack',
    {
      schema: {
        tags: ['alerts'],
        summary: '确认告警 acknowledge',
        params: S.IdParams,
        body: S.AckBody,
        response: { 200: S.AlertView, ...errors },
      },
    },
    async (request) => {
      const { id } = request.params;
      const now = new Date(clock.now());
      const changed = await db.transaction(async (tx) => {
        const rows = await tx
          .update(alerts)
          .set({ acknowledgedAt: now, acknowledgedBy: request.body.by })
          .where(and(eq(alerts.id, id), isNull(alerts.acknowledgedAt)))
          .returning({ id: alerts.id });
        if (rows.length === 0) return false;
        await audit(tx, { at: now, actor: request.body.by, action: 'alert.acknowledged', entity: 'alert', entityId: id });
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
      const alert = await getAlert(db, id);
      if (!alert) throw new ApiError('HY_NOT_FOUND', `alert ${id} not found`);
      if (changed) live.broadcast('alert', alert);
      return alert;
    },
  );

  app.get(
    '/api/stream',
    { schema: { tags: ['alerts'], summary: '实时告警 Server-Sent Events: alert, incident, hello' } },
    (request, reply) => {
      reply.hijack();
      const res = reply.raw;
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
      remove = live.add({ send, close });
      request.raw.on('close', close);
    },
  );

  await app.register(ticketRoutes, { db, clock });
  await app.register(obligationRoutes, {
    db,
    clock,
    pack: deps.engine.pack,
    calendars: deps.calendars,
    onWake: (at) => deps.engine.onWake?.(at),
  });

  if (deps.dashboard) registerConsole(app as unknown as FastifyInstance, deps.dashboard);

  app.addHook('onReady', async () => {
    await live.start();
  });
  app.addHook('preClose', async () => {
    live.endAll();
  });
  app.addHook('onClose', async () => {
    await live.stop();
  });

  return Object.assign(app, { live }) as unknown as FastifyInstance & { live: LiveFeed };
}

async function requireUnit(db: Db, unit: string): Promise<void> {
  const [row] = await db.select({ id: units.id }).from(units).where(eq(units.id, unit));
  if (!row) throw new ApiError('HY_VALIDATION', `body/unit: unknown unit ${unit}`);
}
