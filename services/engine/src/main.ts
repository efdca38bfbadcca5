/**
 * Production engine process: signals from Kafka, deadlines from PostgreSQL, escalation mail
 * over SMTP. Run several for scale: they share the `huiying-engine` consumer group and claim
 * due clocks with SKIP LOCKED.
 */
import { type TopicName } from '@huiying/bus';
import { KafkaBus } from '@huiying/bus/kafka';
import { systemClock } from '@huiying/clock';
import { loadConfig, logSerializers, Type } from '@huiying/config';
import { OutboxRelay, openPostgres } from '@huiying/db';
import { Notifier, smtpMailer } from '@huiying/notify';
import pino from 'pino';
import { startEngine } from './engine.ts';
import { loadRulePack } from './rule-pack-file.ts';

const config = loadConfig(
  Type.Object({
    DATABASE_URL: Type.String({ pattern: '^postgres(ql)?://' }),
    KAFKA_BROKERS: Type.String({ minLength: 1 }),
    /** Separates deployments (or test runs) sharing one Kafka cluster. */
    KAFKA_TOPIC_PREFIX: Type.String({ default: '' }),
    SMTP_URL: Type.String({ pattern: '^smtps?://' }),
    MAIL_FROM: Type.String({ default: 'huiying@localhost' }),
    DUTY_EMAIL: Type.String({ minLength: 3 }),
    PUBLIC_URL: Type.String({ default: 'http://127.0.0.1:8080/' }),
    LOG_LEVEL: Type.String({ default: 'info' }),
    /** A local government's rule pack (JSON); the default pack when unset. */
    RULE_PACK_FILE: Type.Optional(Type.String()),
  }),
);

const pack = loadRulePack(config.RULE_PACK_FILE);
const logger = pino({ level: config.LOG_LEVEL, name: 'huiying-engine', serializers: logSerializers });
const handle = openPostgres(config.DATABASE_URL);
await handle.migrate();
const bus = new KafkaBus({
  brokers: config.KAFKA_BROKERS.split(','),
  clientId: 'huiying-engine',
  topicPrefix: config.KAFKA_TOPIC_PREFIX,
  logger,
});
await bus.ensureTopics();
const relay = new OutboxRelay(handle.db, (topic, messages) => bus.publish(topic as TopicName, messages), {
  onError: (e) => logger.error(e, 'outbox relay'),
});
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
  await relay.stop();
  await bus.close();
  await handle.close();
  process.exit(0);
};
process.once('SIGINT', () => void shutdown());
process.once('SIGTERM', () => void shutdown());
