/**
 * Production engine process: signals from Kafka, deadlines from PostgreSQL, escalation mail
 * over SMTP. Run several for scale: they share the `huiying-engine` consumer group and claim
 * due clocks with SKIP LOCKED.
 */
import { systemClock } from '@huiying/clock';
import { loadConfig, Type } from '@huiying/config';
import { openProductionPorts, portsConfig } from '@huiying/runtime';
import { Notifier, smtpMailer } from '@huiying/notify';
import { startEngine } from './engine.ts';
import { CalendarService } from './calendar.ts';
import { DEFAULT_OFFICIAL_CHANNEL_OPTIONS, OfficialChannels } from './official-channels.ts';
import { loadRulePack } from './rule-pack-file.ts';

const config = loadConfig(
  Type.Object({
    ...portsConfig,
    SMTP_URL: Type.String({ pattern: '^smtps?://' }),
    MAIL_FROM: Type.String({ default: 'huiying@localhost' }),
    DUTY_EMAIL: Type.String({ minLength: 3 }),
    PUBLIC_URL: Type.String({ default: 'http://127.0.0.1:8080/' }),
    /** A local government's rule pack (JSON); the default pack when unset. */
    RULE_PACK_FILE: Type.Optional(Type.String()),
    /** An official channel's item matching an incident at least this well is recorded as its response without a duty officer. */
    RESPONSE_AUTO_THRESHOLD: Type.Number({ default: DEFAULT_OFFICIAL_CHANNEL_OPTIONS.autoApplyThreshold, minimum: 0, maximum: 1.01 }),
  }),
);

const pack = loadRulePack(config.RULE_PACK_FILE);
const { logger, handle, bus, relay, close: closePorts } = await openProductionPorts('huiying-engine', config);
const engine = await startEngine({ db: handle.db, handle, bus, clock: systemClock, pack, logger, onWake: () => relay.wake() });
const notifier = new Notifier({
  db: handle.db,
  bus,
  mailer: smtpMailer({ url: config.SMTP_URL, from: config.MAIL_FROM }),
  clock: systemClock,
  logger,
  dutyEmail: config.DUTY_EMAIL,
  dashboardUrl: config.PUBLIC_URL,
});
await notifier.start();
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
logger.info('engine running');

const shutdown = async () => {
  clearInterval(officialTimer);
  await notifier.stop();
  await engine.stop();
  await closePorts();
  process.exit(0);
};
process.once('SIGINT', () => void shutdown());
process.once('SIGTERM', () => void shutdown());
