/**
 * Production engine process: signals from Kafka, deadlines and escalation-ladder steps from
 * PostgreSQL, and the notification dispatcher (email over SMTP, and SMS, 企业微信/钉钉 robots and
 * signed webhooks where their settings are present). Run several for scale: they share the
 * `huiying-engine` consumer group (`${KAFKA_TOPIC_PREFIX}huiying-engine` on the broker), claim due
 * clocks with SKIP LOCKED and claim notifications under a fenced lease, so each step is queued
 * once and sent once.
 */
import { systemClock } from '@huiying/clock';
import { loadConfig, Type } from '@huiying/config';
import { openProductionPorts, portsConfig } from '@huiying/runtime';
import { channelsFromSettings, Dispatcher } from '@huiying/notify';
import { startEngine } from './engine.ts';
import { CalendarService } from './calendar.ts';
import { LatenessHistogram } from './lateness.ts';
import { EngineMetrics, serveEngineMetrics } from './metrics.ts';
import { DEFAULT_OFFICIAL_CHANNEL_OPTIONS, OfficialChannels } from './official-channels.ts';
import { digestFrom, notifySettingsSchema, routingFrom } from './process-settings.ts';
import { rulePackFallback } from './rule-pack-file.ts';
import { RulePackHolder } from './rule-pack-holder.ts';

const config = loadConfig(
  Type.Object({
    ...portsConfig,
    SMTP_URL: Type.String({ pattern: '^smtps?://' }),
    MAIL_FROM: Type.String({ default: 'huiying@localhost' }),
    /** Refuse to send over `smtp://` without STARTTLS (a relay across the network). */
    SMTP_REQUIRE_TLS: Type.Boolean({ default: false }),
    DUTY_EMAIL: Type.String({ minLength: 3 }),
    PUBLIC_URL: Type.String({ default: 'http://127.0.0.1:8080/' }),
    /** Asia/Shanghai hour of the leaders' daily digest. */
    DIGEST_HOUR: Type.Integer({ minimum: 0, maximum: 23, default: 8 }),
    /** A local government's rule pack (JSON); the default pack when unset. An administrator's active version in the database wins over both. */
    RULE_PACK_FILE: Type.Optional(Type.String()),
    /** An official channel's item matching an incident at least this well is recorded as its response without a duty officer. */
    RESPONSE_AUTO_THRESHOLD: Type.Number({ default: DEFAULT_OFFICIAL_CHANNEL_OPTIONS.autoApplyThreshold, minimum: 0, maximum: 1.01 }),
    /** Log the timer's committed lateness (since start) this often; 0 = never. */
    TIMER_LATENESS_LOG_SECONDS: Type.Integer({ minimum: 0, default: 60 }),
    /** GET /metrics (Prometheus text; an admin session or a metrics:read token) on this port; off when unset. */
    METRICS_PORT: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    METRICS_HOST: Type.String({ default: '127.0.0.1' }),
    /**
     * Where the deadline timer runs: `thread` (a worker thread with its own connections, so due
     * clocks fire on time while signal batches keep this loop busy) or `inline` (this loop).
     */
    ENGINE_TIMER: Type.Union([Type.Literal('thread'), Type.Literal('inline')], { default: 'thread' }),
    ...notifySettingsSchema,
  }),
);

const fallback = rulePackFallback(config.RULE_PACK_FILE);
const { logger, handle, bus, relay, close: closePorts } = await openProductionPorts('huiying-engine', config);
// The administrators' active version wins over the file (README "Rule packs"); re-read on huiying_rule_pack.
const rulePacks = new RulePackHolder({ db: handle.db, fallback, listen: handle.listen, logger });
await rulePacks.start();
const adapters = channelsFromSettings(config);
logger.info({ channels: Object.keys(adapters) }, 'notification channels');
const dispatcher = new Dispatcher({
  db: handle.db,
  clock: systemClock,
  adapters,
  logger: logger.child({ svc: 'notify' }),
});
const lateness = new LatenessHistogram();
const metrics = new EngineMetrics(handle.db);
const engine = await startEngine({
  db: handle.db,
  handle,
  bus: metrics.countingBus(bus),
  clock: systemClock,
  pack: () => rulePacks.current(),
  logger,
  // On the broker `${KAFKA_TOPIC_PREFIX}huiying-engine`: the bus prefixes groups as it prefixes
  // topics (KafkaBus.groupName), so deployments, tests and benches on one broker never share it.
  groupId: 'huiying-engine',
  ladder: { dashboardUrl: config.PUBLIC_URL, dutyEmail: config.DUTY_EMAIL, routing: routingFrom(config) },
  digest: digestFrom(config, config.DIGEST_HOUR),
  ...(config.HANDOVER ? { handover: {} } : {}),
  onWake: () => relay.wake(),
  // Outside every consumer handler: the dispatcher runs on its own loop and is only woken here.
  onNotify: () => dispatcher.wake(),
  onTimerLateness: (ms) => {
    lateness.add(ms);
    metrics.timerCommitted(ms);
  },
  ...(config.ENGINE_TIMER === 'thread'
    ? {
        timerThread: {
          databaseUrl: config.DATABASE_URL,
          logLevel: config.LOG_LEVEL,
          logName: 'huiying-engine',
          // Without its timer the engine would look healthy and fire nothing: stop, to be restarted.
          onFailed: (error: unknown) => {
            logger.fatal({ err: error }, 'the timer thread failed; stopping the engine');
            void shutdown(1).catch(() => process.exit(1));
          },
        },
      }
    : {}),
});
logger.info({ timer: config.ENGINE_TIMER }, 'deadline timer started');
// How late deadlines became visible, since start: the figure the timer is judged by (bench/README.md).
const latenessLog =
  config.TIMER_LATENESS_LOG_SECONDS > 0
    ? setInterval(() => {
        const s = lateness.summary();
        if (s.count > 0) logger.info({ timerLateness: s }, 'timer lateness');
      }, config.TIMER_LATENESS_LOG_SECONDS * 1000)
    : undefined;
latenessLog?.unref();
dispatcher.start();
// Official channels: candidate responses from their new items, and channels fallen silent (every minute).
const calendars = new CalendarService(handle.db);
await calendars.load();
const officialChannels = new OfficialChannels({
  engine: engine.deps,
  calendar: () => calendars.provisional,
  logger,
  options: { autoApplyThreshold: config.RESPONSE_AUTO_THRESHOLD },
});
const officialTimer = setInterval(() => {
  void (async () => {
    await officialChannels.propose();
    await officialChannels.checkSilence();
    relay.wake();
  })().catch((error: unknown) => logger.error({ err: error }, 'official channels pass failed'));
}, 60_000);
relay.start();
const metricsServer =
  config.METRICS_PORT === undefined
    ? undefined
    : await serveEngineMetrics({ db: handle.db, metrics, port: config.METRICS_PORT, host: config.METRICS_HOST, logger });
logger.info('engine running');

async function shutdown(code = 0): Promise<void> {
  clearInterval(officialTimer);
  if (latenessLog) clearInterval(latenessLog);
  await metricsServer?.close();
  await engine.stop();
  await rulePacks.stop();
  await dispatcher.stop();
  await closePorts();
  process.exit(code);
}
process.once('SIGINT', () => void shutdown());
process.once('SIGTERM', () => void shutdown());
