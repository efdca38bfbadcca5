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
relay.start();
logger.info('engine running');

const shutdown = async () => {
  await notifier.stop();
  await engine.stop();
  await closePorts();
  process.exit(0);
};
process.once('SIGINT', () => void shutdown());
process.once('SIGTERM', () => void shutdown());
