/**
 * Production ingest process: the 12345 hotline endpoint (POST /api/tickets) and the feed
 * poller. Accepted signals go to PostgreSQL and the outbox in one transaction, then to Kafka.
 */
import { type TopicName } from '@huiying/bus';
import { KafkaBus } from '@huiying/bus/kafka';
import { systemClock } from '@huiying/clock';
import { loadConfig, logSerializers, Type } from '@huiying/config';
import { OutboxRelay, openPostgres } from '@huiying/db';
import Fastify from 'fastify';
import pino from 'pino';
import { FeedPoller } from './feeds.ts';
import { ticketRoutes } from './tickets.ts';

const config = loadConfig(
  Type.Object({
    DATABASE_URL: Type.String({ pattern: '^postgres(ql)?://' }),
    KAFKA_BROKERS: Type.String({ minLength: 1 }),
    /** Separates deployments (or test runs) sharing one Kafka cluster. */
    KAFKA_TOPIC_PREFIX: Type.String({ default: '' }),
    INGEST_PORT: Type.Integer({ default: 8081 }),
    HOST: Type.String({ default: '127.0.0.1' }),
    FEED_CRON: Type.String({ default: '* * * * *' }),
    LOG_LEVEL: Type.String({ default: 'info' }),
  }),
);

const logger = pino({ level: config.LOG_LEVEL, name: 'huiying-ingest', serializers: logSerializers });
const handle = openPostgres(config.DATABASE_URL);
await handle.migrate();
const bus = new KafkaBus({
  brokers: config.KAFKA_BROKERS.split(','),
  clientId: 'huiying-ingest',
  topicPrefix: config.KAFKA_TOPIC_PREFIX,
  logger,
});
await bus.ensureTopics();
const relay = new OutboxRelay(handle.db, (topic, messages) => bus.publish(topic as TopicName, messages), {
  onError: (e) => logger.error(e, 'outbox relay'),
});
relay.start();
const app = Fastify({ loggerInstance: logger });
app.setErrorHandler((error: { validation?: unknown; message: string }, _request, reply) =>
  error.validation
    ? reply.code(400).send({ code: 'HY_VALIDATION', message: error.message })
    : reply.code(500).send({ code: 'HY_INTERNAL', message: 'internal error' }),
);
await app.register(ticketRoutes, { db: handle.db, clock: systemClock });
app.addHook('onResponse', async () => relay.wake());
const poller = new FeedPoller({ db: handle.db, clock: systemClock, logger });
poller.start(config.FEED_CRON);
await app.listen({ port: config.INGEST_PORT, host: config.HOST });

const shutdown = async () => {
  await poller.stop();
  await app.close();
  await relay.stop();
  await bus.close();
  await handle.close();
  process.exit(0);
};
process.once('SIGINT', () => void shutdown());
process.once('SIGTERM', () => void shutdown());
