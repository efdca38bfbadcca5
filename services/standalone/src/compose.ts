import { buildApp } from '@huiying/api';
import type { Bus, TopicName } from '@huiying/bus';
import type { Clock } from '@huiying/clock';
import { type DbHandle, OutboxRelay } from '@huiying/db';
import { DEFAULT_RULE_PACK, type RoutingRule, type RulePack } from '@huiying/domain';
import {
  CalendarService,
  type DigestOptions,
  type HandoverOptions,
  type OfficialChannelOptions,
  OfficialChannels,
  RulePackHolder,
  type RulePackSource,
  type RunningEngine,
  startEngine,
} from '@huiying/engine';
import type { SessionPolicy } from '@huiying/identity';
import { AddressPolicy, DEFAULT_FETCH_POLICY, EvidenceArchiver, type EvidenceOptions, FeedPoller } from '@huiying/ingest';
import { type Channel, type ChannelAdapter, Dispatcher } from '@huiying/notify';
import type { ConsoleBundle } from '@huiying/web';
import type { Logger } from 'pino';

export interface HuiyingDeps {
  handle: DbHandle;
  bus: Bus;
  clock: Clock & { scale?: number };
  /** Delivery channels for the ladder's notifications (email over SMTP, or a recording adapter). */
  channels: Partial<Record<Channel, ChannelAdapter>>;
  logger: Logger;
  /** The pack without an active database version (default: the domain's default). */
  pack?: RulePack;
  /** Where `pack` came from, for the administrators' view (default: 'file' when `pack` is given). */
  packSource?: Exclude<RulePackSource, 'database'>;
  /** Re-read the active rule pack this often besides LISTEN (default 60 s). */
  rulePackResyncMs?: number;
  /** The 政务公开办 duty mailbox: unassigned matters and units without a supervising office. */
  dutyEmail: string;
  publicUrl: string;
  dashboard?: () => Promise<ConsoleBundle>;
  /** Wall-clock time for sessions and tokens (default: the system clock; tests pass a fake one). */
  realClock?: Clock;
  sessionPolicy?: SessionPolicy;
  loginRateLimit?: { max: number; windowMs: number; perAddress?: number };
  /** Consumer-group suffix, so two test apps on one broker don't share groups. */
  groupSuffix?: string;
  relayPollMs?: number;
  timerResyncMs?: number;
  /** Asia/Shanghai hour of the leaders' daily digest (default 8). */
  digestHour?: number;
  /** The leaders' weekly digest (ISO weekday and hour); off when absent. */
  weeklyDigest?: DigestOptions['weekly'];
  /** Routing by urgency and hour (default: the domain's DEFAULT_ROUTING). */
  routing?: RoutingRule;
  /** 交接班 summaries at each shift change of the duty roster; off when absent. */
  handover?: HandoverOptions;
  /** Without a wake-up, the dispatcher looks for due notifications this often (clock time; default 15 s). */
  dispatchPollMs?: number;
  /** Address ranges feeds may resolve to beyond public unicast (e.g. 127.0.0.1/32 for a local demo feed). */
  feedAllowCidrs?: string[];
  /** Candidate responses from official channels: thresholds (auto-apply at 0.9 by default). */
  officialChannels?: Partial<OfficialChannelOptions>;
  /** 证据留存: the archiver's bounds (its address policy is the feeds'). */
  evidence?: Partial<Omit<EvidenceOptions, 'fetch'>>;
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
  // Sends the notification rows the engine queues; runs on its own loop, never in a bus handler.
  const dispatcher = new Dispatcher({
    db,
    clock,
    adapters: d.channels,
    logger: logger.child({ svc: 'notify' }),
    ...(d.dispatchPollMs !== undefined ? { pollMs: d.dispatchPollMs } : {}),
  });
  // The administrators' active version wins over the given pack (README "Rule packs").
  const rulePacks = new RulePackHolder({
    db,
    fallback: d.pack ? { pack: d.pack, source: d.packSource ?? 'file' } : { pack: DEFAULT_RULE_PACK, source: 'default' },
    listen: handle.listen,
    logger: logger.child({ svc: 'rule-pack' }),
    ...(d.rulePackResyncMs !== undefined ? { resyncMs: d.rulePackResyncMs } : {}),
  });
  await rulePacks.start();
  const engine: RunningEngine = await startEngine({
    db,
    handle,
    bus,
    clock,
    pack: () => rulePacks.current(),
    logger: logger.child({ svc: 'engine' }),
    groupId: `huiying-engine${suffix}`,
    // Engine transactions write the outbox; relay at once instead of waiting for the poll.
    onWake: () => relay.wake(),
    ladder: { dashboardUrl: d.publicUrl, dutyEmail: d.dutyEmail, ...(d.routing ? { routing: d.routing } : {}) },
    onNotify: () => dispatcher.wake(),
    digest: { hour: d.digestHour ?? 8, ...(d.weeklyDigest ? { weekly: d.weeklyDigest } : {}) },
    ...(d.handover ? { handover: d.handover } : {}),
    ...(d.timerResyncMs !== undefined ? { resyncMs: d.timerResyncMs } : {}),
  });
  dispatcher.start();
  const calendars = new CalendarService(db);
  await calendars.load();
  const app = await buildApp({
    db,
    calendars,
    bus,
    clock,
    engine: engine.deps,
    rulePacks,
    logger: logger.child({ svc: 'api' }),
    listen: handle.listen,
    ...(d.dashboard ? { dashboard: d.dashboard } : {}),
    ...(d.realClock ? { realClock: d.realClock } : {}),
    ...(d.sessionPolicy ? { sessionPolicy: d.sessionPolicy } : {}),
    ...(d.loginRateLimit ? { loginRateLimit: d.loginRateLimit } : {}),
    onNotificationsQueued: () => dispatcher.wake(),
  });
  app.addHook('onResponse', async () => relay.wake());
  const officialChannels = new OfficialChannels({
    engine: engine.deps,
    calendar: () => calendars.provisional,
    logger: logger.child({ svc: 'official-channels' }),
    ...(d.officialChannels ? { options: d.officialChannels } : {}),
  });
  const feedFetch = { ...DEFAULT_FETCH_POLICY, addresses: new AddressPolicy(d.feedAllowCidrs ?? []) };
  // Archives the pages behind incidents' signals and responses; started beside the poller (main.ts), swept by tests.
  const archiver = new EvidenceArchiver({
    db,
    clock,
    logger: logger.child({ svc: 'evidence' }),
    options: { ...d.evidence, fetch: feedFetch },
  });
  const poller = new FeedPoller({
    db,
    clock,
    logger: logger.child({ svc: 'ingest' }),
    options: { fetch: feedFetch },
    // A feed failing for an hour mails the administrators and the duty officer (or the duty mailbox).
    alertNotices: { dashboardUrl: d.publicUrl, dutyEmail: d.dutyEmail },
    // Official channels' new items become candidate responses; silent channels raise alerts.
    afterRound: async () => {
      await officialChannels.propose();
      await officialChannels.checkSilence();
      relay.wake();
      archiver.wake();
    },
  });
  relay.start();

  return {
    app,
    engine,
    rulePacks,
    dispatcher,
    relay,
    poller,
    archiver,
    officialChannels,
    db,
    async stop() {
      await poller.stop();
      await archiver.stop();
      await app.close();
      await engine.stop();
      await rulePacks.stop();
      await dispatcher.stop();
      await relay.stop();
    },
  };
}
