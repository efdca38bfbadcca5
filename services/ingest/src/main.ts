/**
 * Production ingest process: the 12345 hotline endpoint (POST /api/tickets) and the feed
 * poller. Accepted signals go to PostgreSQL and the outbox in one transaction, then to Kafka.
 */
import cluster from 'node:cluster';
import { systemClock } from '@huiying/clock';
import { loadConfig, Type } from '@huiying/config';
import { openProductionPorts, portsConfig } from '@huiying/runtime';
import { migrateAsOwner, openPostgres } from '@huiying/db';
import { authPlugin, installErrorHandler, registerSecurity } from '@huiying/http';
import Fastify from 'fastify';
import { DEFAULT_SIGNAL_TIME_POLICY } from '@huiying/domain';
import { DEFAULT_EVIDENCE_OPTIONS, EvidenceArchiver } from './evidence.ts';
import { DEFAULT_POLLER_OPTIONS, FeedPoller } from './feeds.ts';
import { AddressPolicy, DEFAULT_FETCH_POLICY } from './fetch/index.ts';
import { IngestMetrics } from './metrics.ts';
import { ticketRoutes } from './ticket-routes.ts';
import { ticketConfig, ticketPolicyOf } from './tickets.ts';

const config = loadConfig(
  Type.Object({
    ...portsConfig,
    INGEST_PORT: Type.Integer({ default: 8081 }),
    HOST: Type.String({ default: '127.0.0.1' }),
    FEED_CRON: Type.String({ default: '* * * * *' }),
    /** Ranges feeds may resolve to beyond public unicast, e.g. 政务外网 `10.20.0.0/16`; comma-separated. */
    FEED_ALLOW_CIDRS: Type.String({ default: '' }),
    FEED_MAX_BYTES: Type.Integer({ default: DEFAULT_FETCH_POLICY.maxBytes, minimum: 1024 }),
    FEED_MAX_ITEMS: Type.Integer({ default: DEFAULT_POLLER_OPTIONS.maxItemsPerPoll, minimum: 1 }),
    FEED_BACKFILL_HOURS: Type.Number({ default: DEFAULT_SIGNAL_TIME_POLICY.backfillWindowMs / 3_600_000, minimum: 0 }),
    FEED_PER_HOST: Type.Integer({ default: DEFAULT_POLLER_OPTIONS.perHost, minimum: 1 }),
    /** The console's base URL, for the link in a failing feed's mail. */
    PUBLIC_URL: Type.String({ default: 'http://127.0.0.1:8080/' }),
    /** The duty mailbox: a feed failing for an hour mails it when nobody is on shift (administrators are mailed regardless). */
    DUTY_EMAIL: Type.Optional(Type.String({ minLength: 3 })),
    /** 证据留存: pages behind incidents' signals and responses larger than this are recorded as too large, not stored. */
    EVIDENCE_MAX_BYTES: Type.Integer({ default: DEFAULT_EVIDENCE_OPTIONS.maxBytes, minimum: 1024 }),
    /**
     * Processes serving INGEST_PORT (node:cluster; the kernel spreads connections between them).
     * One Node process answers single tickets with one core at most; the first of them also runs
     * the feed poller and the evidence archiver, every one its outbox relay (they take turns).
     */
    INGEST_WORKERS: Type.Integer({ default: 1, minimum: 1, maximum: 64 }),
    /** Single-ticket statements in flight at once (the group commit's); more overlap one batch's commit with the next. */
    INGEST_GROUP_CONCURRENCY: Type.Integer({ default: 2, minimum: 1, maximum: 16 }),
    /** The outbox relay waits this long after a write wakes it, so one relay cycle carries a stream of group commits' messages. */
    INGEST_RELAY_LINGER_MS: Type.Integer({ default: 0, minimum: 0, maximum: 1000 }),
    ...ticketConfig,
  }),
);
let addresses: AddressPolicy;
try {
  addresses = AddressPolicy.fromList(config.FEED_ALLOW_CIDRS);
} catch (error) {
  console.error(`invalid configuration:\n  FEED_ALLOW_CIDRS: ${(error as Error).message}`);
  process.exit(2);
}

if (config.INGEST_WORKERS > 1 && cluster.isPrimary) {
  // Migrate once before the workers start (each would otherwise race the others to it).
  const once = openPostgres(config.DATABASE_URL, { max: 1 });
  await migrateAsOwner(once, config.MIGRATION_DATABASE_URL);
  await once.close();
  let stopping = false;
  const live = new Set<number>();
  const fork = (index: number) => {
    const worker = cluster.fork({ INGEST_WORKER_INDEX: String(index) });
    live.add(worker.id);
    worker.on('exit', (code, signal) => {
      live.delete(worker.id);
      if (stopping) {
        if (live.size === 0) process.exit(0);
        return;
      }
      console.error(`ingest worker ${index} exited (${signal ?? code}); starting another`);
      setTimeout(() => fork(index), 1000);
    });
  };
  for (let i = 0; i < config.INGEST_WORKERS; i++) fork(i);
  // Each worker stops the way a single process does (finishes its requests and group commits).
  const stop = () => {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} else {
  await serve((process.env.INGEST_WORKER_INDEX ?? '0') === '0');
}

async function serve(first: boolean): Promise<void> {
  const {
    logger,
    handle,
    relay,
    close: closePorts,
  } = await openProductionPorts('huiying-ingest', config, {
    relayLingerMs: config.INGEST_RELAY_LINGER_MS,
  });
  relay.start();
  const app = Fastify({ loggerInstance: logger });
  installErrorHandler(app);
  await registerSecurity(app);
  // The hotline system authenticates with an API token (scope tickets:write) or an HMAC signature, checked per request.
  await app.register(authPlugin, { db: handle.db, clock: systemClock });
  // GET /metrics (an admin session or a metrics:read token, as the API's), and counts of what the routes answer.
  const metrics = new IngestMetrics(handle.db);
  metrics.register(app);
  await app.register(ticketRoutes, {
    db: handle.db,
    clock: systemClock,
    policy: ticketPolicyOf(config),
    // Once per statement that may have queued messages (a group commit's), not once per response.
    onWritten: () => {
      relay.wake();
      metrics.written();
    },
    singles: { concurrency: config.INGEST_GROUP_CONCURRENCY },
  });
  const poller = new FeedPoller({
    db: handle.db,
    clock: systemClock,
    logger,
    options: {
      fetch: { ...DEFAULT_FETCH_POLICY, addresses, maxBytes: config.FEED_MAX_BYTES },
      time: { ...DEFAULT_SIGNAL_TIME_POLICY, backfillWindowMs: config.FEED_BACKFILL_HOURS * 3_600_000 },
      maxItemsPerPoll: config.FEED_MAX_ITEMS,
      perHost: config.FEED_PER_HOST,
    },
    // Queued here, sent by the engine's dispatcher (woken by pg_notify at commit).
    alertNotices: { dashboardUrl: config.PUBLIC_URL, dutyEmail: config.DUTY_EMAIL ?? null },
  });
  if (first) poller.start(config.FEED_CRON);
  // Archives the pages behind incidents' signals and responses on its own loop (same address policy as feeds).
  const archiver = new EvidenceArchiver({
    db: handle.db,
    clock: systemClock,
    logger: logger.child({ svc: 'evidence' }),
    options: { fetch: { ...DEFAULT_FETCH_POLICY, addresses }, maxBytes: config.EVIDENCE_MAX_BYTES, perHost: config.FEED_PER_HOST },
  });
  if (first) archiver.start();
  await app.listen({ port: config.INGEST_PORT, host: config.HOST });

  const shutdown = async () => {
    await poller.stop();
    await archiver.stop();
    await app.close();
    await closePorts();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());
}
