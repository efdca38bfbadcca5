/**
 * Production API process: REST, SSE, OpenAPI (/docs) and the dashboard. Commands (grade,
 * respond, …) run the same domain code as the engine inside a transaction; the engine's timer
 * hears about moved deadlines through LISTEN/NOTIFY.
 */
import { type TopicName } from '@huiying/bus';
import { KafkaBus } from '@huiying/bus/kafka';
import { systemClock } from '@huiying/clock';
import { loadConfig, logSerializers, Type } from '@huiying/config';
import { OutboxRelay, openPostgres } from '@huiying/db';
import { CalendarService, loadRulePack } from '@huiying/engine';
import { buildDashboard } from '@huiying/web';
import closeWithGrace from 'close-with-grace';
import pino from 'pino';
import { buildApp } from './app.ts';

const config = loadConfig(
  Type.Object({
    DATABASE_URL: Type.String({ pattern: '^postgres(ql)?://' }),
    KAFKA_BROKERS: Type.String({ minLength: 1 }),
    /** Separates deployments (or test runs) sharing one Kafka cluster. */
    KAFKA_TOPIC_PREFIX: Type.String({ default: '' }),
    PORT: Type.Integer({ default: 8080 }),
    HOST: Type.String({ default: '127.0.0.1' }),
    LOG_LEVEL: Type.String({ default: 'info' }),
    /** A local government's rule pack (JSON); the default pack when unset. */
    RULE_PACK_FILE: Type.Optional(Type.String()),
  }),
);

const pack = loadRulePack(config.RULE_PACK_FILE);
const logger = pino({ level: config.LOG_LEVEL, name: 'huiying-api', serializers: logSerializers });
const handle = openPostgres(config.DATABASE_URL);
await handle.migrate();
const bus = new KafkaBus({
  brokers: config.KAFKA_BROKERS.split(','),
  clientId: 'huiying-api',
  topicPrefix: config.KAFKA_TOPIC_PREFIX,
  logger,
});
await bus.ensureTopics();
const relay = new OutboxRelay(handle.db, (topic, messages) => bus.publish(topic as TopicName, messages), {
  onError: (e) => logger.error(e, 'outbox relay'),
});
const calendars = new CalendarService(handle.db);
await calendars.load();
// An administrator's calendar change on another API process reaches this one.
await handle.listen(
  'huiying_calendar',
  () => void calendars.load().catch((e: unknown) => logger.error({ err: String(e) }, 'calendar reload failed')),
);
const app = await buildApp({
  db: handle.db,
  calendars,
  bus,
  clock: systemClock,
  engine: { db: handle.db, clock: systemClock, pack },
  logger,
  dashboard: buildDashboard,
});
app.addHook('onResponse', async () => relay.wake());
relay.start();
await app.listen({ port: config.PORT, host: config.HOST });

closeWithGrace({ delay: 10_000 }, async ({ err }) => {
  if (err) logger.error(err, 'shutting down after error');
  await app.close();
  await relay.stop();
  await bus.close();
  await handle.close();
});
