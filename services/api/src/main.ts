/**
 * Production API process: REST, SSE, OpenAPI (/docs) and the dashboard. Commands (grade,
 * respond, …) run the same domain code as the engine inside a transaction; the engine's timer
 * hears about moved deadlines through LISTEN/NOTIFY.
 */
import { systemClock } from '@huiying/clock';
import { loadConfig, Type } from '@huiying/config';
import { trustProxyOf } from '@huiying/http';
import { openProductionPorts, portsConfig } from '@huiying/runtime';
import { CalendarService, RulePackHolder, routingFrom, routingSettingsSchema, rulePackFallback } from '@huiying/engine';
import { ticketConfig, ticketPolicyOf } from '@huiying/ingest';
import { buildDashboard } from '@huiying/web';
import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.ts';

const config = loadConfig(
  Type.Object({
    ...portsConfig,
    PORT: Type.Integer({ default: 8080 }),
    HOST: Type.String({ default: '127.0.0.1' }),
    /** A local government's rule pack (JSON); the default pack when unset. An administrator's active version in the database wins over both. */
    RULE_PACK_FILE: Type.Optional(Type.String()),
    /**
     * With the duty mailbox set (as for the engine), commands queue the escalation ladder's
     * notices in their own transaction; without it the engine's timer queues them a moment later.
     */
    DUTY_EMAIL: Type.Optional(Type.String({ minLength: 3 })),
    PUBLIC_URL: Type.String({ default: 'http://127.0.0.1:8080/' }),
    /** Behind a TLS reverse proxy: `true` or the proxies' addresses/CIDRs (packages/http trustProxyOf). */
    TRUST_PROXY: Type.Optional(Type.String()),
    ...routingSettingsSchema,
    ...ticketConfig,
  }),
);

const fallback = rulePackFallback(config.RULE_PACK_FILE);
const { logger, handle, bus, relay, close: closePorts } = await openProductionPorts('huiying-api', config);
// Commands that start clocks (grading, duties) take the pack in force; an activation on any process reaches this one.
const rulePacks = new RulePackHolder({ db: handle.db, fallback, listen: handle.listen, logger });
await rulePacks.start();
const calendars = new CalendarService(handle.db);
await calendars.load();
// An administrator's calendar change on another API process reaches this one.
await handle.listen(
  'huiying_calendar',
  () => void calendars.load().catch((e: unknown) => logger.error({ err: String(e) }, 'calendar reload failed')),
);
const app = await buildApp(
  {
    db: handle.db,
    calendars,
    bus,
    clock: systemClock,
    rulePacks,
    engine: {
      db: handle.db,
      clock: systemClock,
      pack: () => rulePacks.current(),
      ...(config.DUTY_EMAIL
        ? { ladder: { dashboardUrl: config.PUBLIC_URL, dutyEmail: config.DUTY_EMAIL, routing: routingFrom(config) } }
        : {}),
    },
    logger,
    dashboard: buildDashboard,
    ticketPolicy: ticketPolicyOf(config),
    listen: handle.listen,
  },
  { trustProxy: trustProxyOf(config.TRUST_PROXY) },
);
app.addHook('onResponse', async () => relay.wake());
relay.start();
await app.listen({ port: config.PORT, host: config.HOST });

closeWithGrace({ delay: 10_000 }, async ({ err }) => {
  if (err) logger.error(err, 'shutting down after error');
  await app.close();
  await rulePacks.stop();
  await closePorts();
});
