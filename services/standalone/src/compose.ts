import { buildApp } from '@huiying/api';
import type { Bus, TopicName } from '@huiying/bus';
import type { Clock } from '@huiying/clock';
import { type DbHandle, OutboxRelay } from '@huiying/db';
import { DEFAULT_RULE_PACK, type RulePack } from '@huiying/domain';
import { CalendarService, type OfficialChannelOptions, OfficialChannels, type RunningEngine, startEngine } from '@huiying/engine';
import type { SessionPolicy } from '@huiying/identity';
import { AddressPolicy, DEFAULT_FETCH_POLICY, FeedPoller } from '@huiying/ingest';
import { type Mailer, Notifier } from '@huiying/notify';
import type { ConsoleBundle } from '@huiying/web';
import type { Logger } from 'pino';

export interface HuiyingDeps {
  handle: DbHandle;
  bus: Bus;
  clock: Clock & { scale?: number };
  mailer: Mailer;
  logger: Logger;
  pack?: RulePack;
  dutyEmail: string;
  publicUrl: string;
  dashboard?: () => Promise<ConsoleBundle>;
  /** Wall-clock time for sessions and tokens (default: the system clock; tests pass a fake one). */
  realClock?: Clock;
  sessionPolicy?: SessionPolicy;
  loginRateLimit?: { max: number; windowMs: number };
  /** Consumer-group suffix, so two test apps on one broker don't share groups. */
  groupSuffix?: string;
  relayPollMs?: number;
  timerResyncMs?: number;
  /** Address ranges feeds may resolve to beyond public unicast (e.g. 127.0.0.1/32 for a local demo feed). */
  feedAllowCidrs?: string[];
  /** Candidate responses from official channels: thresholds (auto-apply at 0.9 by default). */
  officialChannels?: Partial<OfficialChannelOptions>;
}

export type Huiying = Awaited<ReturnType<typeof createHuiying>>;

/**
 * Wires ingest, engine, notify and API around the given ports. The embedded default passes
 * PGlite + EmbeddedBus; integration tests pass PostgreSQL + Kafka; the code paths are the same.
 */
export async function createHuiying(d: HuiyingDeps) {
  const { handle, bus, clock, logger } = d;
  const db = handle.db;
  const suffix = d.groupSuffix ?? '';
  await bus.ensureTopics();
  const relay = new OutboxRelay(db, (topic, messages) => bus.publish(topic as TopicName, messages), {
    pollMs: d.relayPollMs ?? 200,
    onError: (e) => logger.error(e, 'outbox relay failed'),
  });
  const engine: RunningEngine = await startEngine({
    db,
    handle,
    bus,
    clock,
    pack: d.pack ?? DEFAULT_RULE_PACK,
    logger: logger.child({ svc: 'engine' }),
    groupId: `huiying-engine${suffix}`,
    // Engine transactions write the outbox; relay at once instead of waiting for the poll.
    onWake: () => relay.wake(),
    ...(d.timerResyncMs !== undefined ? { resyncMs: d.timerResyncMs } : {}),
  });
  const notifier = new Notifier({
    db,
    bus,
    mailer: d.mailer,
    clock,
    logger: logger.child({ svc: 'notify' }),
    dutyEmail: d.dutyEmail,
    dashboardUrl: d.publicUrl,
    groupId: `huiying-notify${suffix}`,
  });
  await notifier.start();
  const calendars = new CalendarService(db);
  await calendars.load();
  const app = await buildApp({
    db,
    calendars,
    bus,
    clock,
    engine: engine.deps,
    logger: logger.child({ svc: 'api' }),
    listen: handle.listen,
    ...(d.dashboard ? { dashboard: d.dashboard } : {}),
    ...(d.realClock ? { realClock: d.realClock } : {}),
    ...(d.sessionPolicy ? { sessionPolicy: d.sessionPolicy } : {}),
    ...(d.loginRateLimit ? { loginRateLimit: d.loginRateLimit } : {}),
  });
  app.addHook('onResponse', async () => relay.wake());
  const officialChannels = new OfficialChannels({
    engine: engine.deps,
    calendar: () => calendars.provisional,
    logger: logger.child({ svc: 'official-channels' }),
    ...(d.officialChannels ? { options: d.officialChannels } : {}),
  });
  const poller = new FeedPoller({
    db,
    clock,
    logger: logger.child({ svc: 'ingest' }),
    options: { fetch: { ...DEFAULT_FETCH_POLICY, addresses: new AddressPolicy(d.feedAllowCidrs ?? []) } },
    // Official channels' new items become candidate responses; silent channels raise alerts.
    afterRound: async () => {
      await officialChannels.propose();
      await officialChannels.checkSilence();
      relay.wake();
    },
  });
  relay.start();

  return {
    app,
    engine,
    notifier,
    relay,
    poller,
    officialChannels,
    db,
    async stop() {
      await poller.stop();
      await app.close();
      await notifier.stop();
      await engine.stop();
      await relay.stop();
    },
  };
}
