import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Bus } from '@huiying/bus';
import { type Clock, systemClock } from '@huiying/clock';
import type { Db, DbHandle } from '@huiying/db';
import { DomainError, interviewRulesOf } from '@huiying/domain';
import { type CalendarService, type EngineDeps, NotFoundError, type RulePackHolder, StaleWriteError } from '@huiying/engine';
import { ApiError, authPlugin, installErrorHandler, refuseUnknownQueryParameters, registerSecurity } from '@huiying/http';
import type { SessionPolicy } from '@huiying/identity';
import { type TicketTimePolicy, ticketRoutes } from '@huiying/ingest';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Logger } from 'pino';
import type { ConsoleBundle } from '@huiying/web';
import { registerConsole } from './console-routes.ts';
import { ListCache, type SentPage } from './list-cache.ts';
import { LiveFeed } from './live.ts';
import { registerMetrics } from './metrics.ts';
import { adminRoutes } from './routes/admin.ts';
import { alertRoutes } from './routes/alerts.ts';
import { evidenceRoutes } from './routes/evidence.ts';
import { feedRoutes } from './routes/feeds.ts';
import { authRoutes } from './routes/auth.ts';
import { hotlineRoutes } from './routes/hotline.ts';
import type { RouteDeps } from './routes/deps.ts';
import { incidentRoutes } from './routes/incidents.ts';
import { monitoringRoutes } from './routes/monitoring.ts';
import { obligationRoutes } from './routes/obligations.ts';
import { responseCandidateRoutes } from './routes/response-candidates.ts';
import { rosterRoutes } from './routes/roster.ts';
import { rulePackRoutes } from './routes/rule-packs.ts';
import { systemRoutes } from './routes/system.ts';
import { scheduleRollup } from './stats/rollup.ts';
import { statsRoutes } from './stats/routes.ts';

export interface AppDeps {
  db: Db;
  bus: Bus;
  clock: Clock & { scale?: number };
  /** Wall-clock time for sessions and tokens (default: the system clock). */
  realClock?: Clock;
  engine: EngineDeps;
  /** The rule pack in force (database, file or default), kept current; `engine.pack` should ask it. */
  rulePacks: RulePackHolder;
  /** The working-day calendar (file + administrators' years), for disclosure duties. */
  calendars: CalendarService;
  logger: Logger;
  /** The zh-CN console bundle (services/web `buildDashboard`); omitted in API-only tests. */
  dashboard?: () => Promise<ConsoleBundle>;
  sessionPolicy?: SessionPolicy;
  loginRateLimit?: { max: number; windowMs: number; perAddress?: number };
  /** The bound on a ticket's receivedAt (default: 7 days back, 5 minutes ahead). */
  ticketPolicy?: TicketTimePolicy;
  /** LISTEN on the database (DbHandle.listen): with it, board pages and sessions are cached until a change is notified. */
  listen?: DbHandle['listen'];
  /**
   * How long after a change made elsewhere (notified, or a live engine event) a board page that
   * misses it may still be served while it is rebuilt (default 1000 ms; 0: wait for the rebuild).
   * This process's own writes are on its next page regardless.
   */
  boardMaxStaleMs?: number;
  /** Run the statistics rollup every minute (default true; bench/board.ts turns it off, see there). */
  statsRollup?: boolean;
  /** Notifications were queued again (an administrator's retry): the dispatcher in this process looks now. */
  onNotificationsQueued?: () => void;
}

/** The API's own errors (engine, domain) in the shared catalogue. */
function mapError(error: unknown): ApiError | undefined {
  if (error instanceof NotFoundError) return new ApiError('HY_NOT_FOUND', error.message);
  if (error instanceof StaleWriteError)
    return new ApiError('HY_CONFLICT', '该记录刚被他人修改，请刷新后重试 (changed concurrently; retry)');
  if (error instanceof DomainError) {
    // Bad data the domain caught is the client's to fix (400); the rest is a state conflict (409).
    const invalid = error.code === 'INVALID_INPUT' || error.code === 'CALENDAR_DATA_INVALID' || error.code === 'RULE_PACK_INVALID';
    return new ApiError(invalid ? 'HY_VALIDATION' : 'HY_CONFLICT', error.message);
  }
  return undefined;
}

/**
 * The API as a plugin tree: security (headers, rate limit) → OpenAPI → auth (who is asking) →
 * one route module per resource. Every `/api/` route declares its access; the auth plugin
 * refuses to start a route that does not.
 */
export async function buildApp(
  deps: AppDeps,
  options: FastifyServerOptions = {},
): Promise<FastifyInstance & { live: LiveFeed; boardCache: ListCache<SentPage> }> {
  const app = Fastify({ loggerInstance: deps.logger, ...options }).withTypeProvider<TypeBoxTypeProvider>();
  const { db, clock } = deps;
  const realClock = deps.realClock ?? systemClock;
  // The board cache's LISTEN also prompts the statistics rollup (below): one connection per process.
  const boardChanged = new Set<() => void>();
  const boardCache = new ListCache<SentPage>({
    listen: deps.listen,
    logger: deps.logger,
    maxStaleMs: deps.boardMaxStaleMs ?? 1000,
    now: () => realClock.now(),
    onNotify: () => {
      for (const f of boardChanged) f();
    },
  });
  const live = new LiveFeed({
    db,
    bus: deps.bus,
    logger: deps.logger,
    onEvent: () => boardCache.changed(),
    realClock,
    ...(deps.sessionPolicy ? { sessionPolicy: deps.sessionPolicy } : {}),
  });

  installErrorHandler(app, mapError);
  refuseUnknownQueryParameters(app);
  await registerSecurity(app);
  await app.register(swagger, {
    openapi: {
      info: {
        title: '回应 Huiying API',
        version: '0.2.0',
        description:
          '政务舆情回应时效监督 — alerts, incidents, responses, hotline intake. Log in with POST /api/auth/login (cookie session; send x-csrf-token on changes) or send an API token as Authorization: Bearer.',
      },
      tags: [
        { name: 'auth' },
        { name: 'incidents' },
        { name: 'alerts' },
        { name: 'obligations' },
        { name: 'calendar' },
        { name: 'ingest' },
        { name: 'feeds' },
        { name: 'admin' },
        { name: 'roster' },
        { name: 'system' },
      ],
      components: {
        securitySchemes: {
          session: { type: 'apiKey', in: 'cookie', name: 'hy_session' },
          token: { type: 'http', scheme: 'bearer' },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
  await app.register(authPlugin, {
    db,
    clock: realClock,
    ...(deps.sessionPolicy ? { policy: deps.sessionPolicy } : {}),
    ...(deps.listen ? { listen: deps.listen } : {}),
  });
  // Open streams end with their session: every session change the database notifies rechecks them.
  const unwatchSessions = app.sessionCache.onChange(() => void live.recheck());
  app.addHook('onClose', async () => unwatchSessions());

  const routeDeps: RouteDeps = {
    db,
    bus: deps.bus,
    clock,
    realClock,
    engine: deps.engine,
    rulePacks: deps.rulePacks,
    calendars: deps.calendars,
    live,
    boardCache,
    ...(deps.onNotificationsQueued ? { onNotificationsQueued: deps.onNotificationsQueued } : {}),
  };
  // Read-your-writes: a change made through this process is on the next list it serves, before
  // the database's notification comes back (onSend: before the client can have the answer).
  app.addHook('onSend', (request, reply, payload, done) => {
    if (request.method !== 'GET' && request.method !== 'HEAD' && reply.statusCode < 400) boardCache.invalidate();
    done(null, payload);
  });
  await app.register(systemRoutes, routeDeps);
  await app.register(authRoutes, { ...routeDeps, ...(deps.loginRateLimit ? { loginRateLimit: deps.loginRateLimit } : {}) });
  await app.register(incidentRoutes, routeDeps);
  await app.register(alertRoutes, routeDeps);
  await app.register(adminRoutes, routeDeps);
  await app.register(rulePackRoutes, routeDeps);
  await app.register(rosterRoutes, routeDeps);
  await app.register(hotlineRoutes, { ...routeDeps, ...(deps.ticketPolicy ? { ticketPolicy: deps.ticketPolicy } : {}) });
  await app.register(monitoringRoutes, routeDeps);
  await app.register(feedRoutes, routeDeps);
  await app.register(responseCandidateRoutes, routeDeps);
  await app.register(evidenceRoutes, routeDeps);
  await app.register(ticketRoutes, { db, clock, realClock, ...(deps.ticketPolicy ? { policy: deps.ticketPolicy } : {}) });
  await app.register(obligationRoutes, {
    db,
    clock,
    realClock,
    pack: deps.engine.pack,
    calendars: deps.calendars,
    onWake: (at) => deps.engine.onWake?.(at),
    ladder: deps.engine.ladder,
  });

  await app.register(statsRoutes, { db, clock, interview: () => interviewRulesOf(deps.engine.pack()) });

  const registry = registerMetrics(app, { db, live });
  app.get(
    '/metrics',
    { config: { access: { roles: ['admin'], scope: 'metrics:read' } }, schema: { hide: true } },
    async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()),
  );

  if (deps.dashboard) registerConsole(app as unknown as FastifyInstance, deps.dashboard);

  app.addHook('onReady', async () => {
    await boardCache.start();
    await live.start();
  });
  app.addHook('preClose', async () => {
    live.endAll();
  });
  app.addHook('onClose', async () => {
    await live.stop();
    await boardCache.stop();
  });

  // Leaders' statistics: bring the rollup up to date every minute and soon after incidents change
  // (stats/rollup.ts). Every API process schedules it; an advisory lock lets one run at a time, and
  // a run applies each change once.
  let stopStatsRollup: (() => Promise<void>) | undefined;
  app.addHook('onReady', async () => {
    if (deps.statsRollup === false) return;
    stopStatsRollup = scheduleRollup(db, {
      ...(deps.listen
        ? {
            listen: async (_channel: string, onNotify: (payload: string) => void) => {
              const f = () => onNotify('');
              boardChanged.add(f);
              return async () => {
                boardChanged.delete(f);
              };
            },
          }
        : {}),
      onError: (err) => app.log.warn({ err }, 'statistics rollup run failed'),
    });
  });
  app.addHook('onClose', async () => {
    await stopStatsRollup?.();
  });

  return Object.assign(app, { live, boardCache }) as unknown as FastifyInstance & { live: LiveFeed; boardCache: ListCache<SentPage> };
}
