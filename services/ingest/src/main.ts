/**
 * Production ingest process: the 12345 hotline endpoint (POST /api/tickets) and the feed
 * poller. Accepted signals go to PostgreSQL and the outbox in one transaction, then to Kafka.
 */
import { systemClock } from '@huiying/clock';
import { loadConfig, Type } from '@huiying/config';
import { openProductionPorts, portsConfig } from '@huiying/runtime';
import { authPlugin, installErrorHandler, registerSecurity } from '@huiying/http';
import Fastify from 'fastify';
import { FeedPoller } from './feeds.ts';
import { ticketRoutes } from './tickets.ts';

const config = loadConfig(
  Type.Object({
    ...portsConfig,
    INGEST_PORT: Type.Integer({ default: 8081 }),
    HOST: Type.String({ default: '127.0.0.1' }),
    FEED_CRON: Type.String({ default: '* * * * *' }),
  }),
);

const { logger, handle, relay, close: closePorts } = await openProductionPorts('huiying-ingest', config);
relay.start();
const app = Fastify({ loggerInstance: logger });
installErrorHandler(app);
await registerSecurity(app);
// The hotline system authenticates with an API token (scope tickets:write), checked per request.
await app.register(authPlugin, { db: handle.db, clock: systemClock });
await app.register(ticketRoutes, { db: handle.db, clock: systemClock });
app.addHook('onResponse', async () => relay.wake());
const poller = new FeedPoller({ db: handle.db, clock: systemClock, logger });
poller.start(config.FEED_CRON);
await app.listen({ port: config.INGEST_PORT, host: config.HOST });

const shutdown = async () => {
  await poller.stop();
  await app.close();
  await closePorts();
  process.exit(0);
};
process.once('SIGINT', () => void shutdown());
process.once('SIGTERM', () => void shutdown());
