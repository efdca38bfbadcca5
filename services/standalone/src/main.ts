/**
 * The embedded default: the whole product in one process, nothing to install — PGlite behind
 * the same drizzle schema, the in-process bus behind the same Bus interface as Kafka, the same
 * ingest, engine, notify and API code as production. Demo units, a demo feed served locally
 * and demo 12345 tickets are loaded, after a past quarter lived through on a fake clock (so the
 * leaders' statistics have figures); the dashboard URL is printed.
 *
 *   pnpm start                       # real time
 *   pnpm start -- --time-scale 600   # drill: one real second = ten simulated minutes
 *   SMTP_URL=smtp://127.0.0.1:1025 pnpm start -- --time-scale 3600
 *                                    # the whole escalation ladder (交办 → 预警 → 催办 → 通报) in a real mailbox
 */
import { parseArgs } from 'node:util';
import { EmbeddedBus } from '@huiying/bus';
import { type Clock, scaledClock, systemClock } from '@huiying/clock';
import { openPglite } from '@huiying/db';
import { digestFrom, notifySettingsSchema, routingFrom, rulePackFallback } from '@huiying/engine';
import { channelsFromSettings, nullAdapter } from '@huiying/notify';
import { buildDashboard } from '@huiying/web';
import { loadConfig, logSerializers, Type } from '@huiying/config';
import pino from 'pino';
import { type Account, DEMO_PASSWORD, ensureDemoAccounts, ROLE_NAMES } from '@huiying/identity';
import { createHuiying } from './compose.ts';
import { addressDemoLeader, demoDuties, demoTickets, rosterDemoDuty, seedDemo, serveDemoFeed } from './demo.ts';
import { seedDemoHistory } from './demo-history.ts';

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    'time-scale': { type: 'string', default: process.env.HUIYING_TIME_SCALE ?? '1' },
    port: { type: 'string', default: process.env.PORT ?? '8080' },
    host: { type: 'string', default: process.env.HOST ?? '127.0.0.1' },
    // The same variable the command-line tools (user:add, migrate) read for the embedded database.
    'data-dir': { type: 'string', ...(process.env.HUIYING_PGLITE_DIR ? { default: process.env.HUIYING_PGLITE_DIR } : {}) },
    'no-demo': { type: 'boolean', default: false },
    rules: { type: 'string' },
  },
});

const scale = Number(args['time-scale']);
const port = Number(args.port);
if (!(scale > 0) || !Number.isInteger(port)) {
  console.error(`start: --time-scale must be a positive number and --port an integer (got ${args['time-scale']}, ${args.port})`);
  process.exit(2);
}

// Quiet by default: a newcomer sees the banner and warnings, not every request.
const logger = pino({ level: process.env.LOG_LEVEL ?? 'warn', serializers: logSerializers });
const clock: Clock & { scale?: number } = scale === 1 ? systemClock : scaledClock(scale);

const handle = await openPglite(args['data-dir']);
await handle.migrate();
const bus = new EmbeddedBus({
  onDeadLetter: (m, e) => logger.error({ topic: m.topic, offset: m.offset, err: String(e) }, 'message dead-lettered'),
});

const notifyConfig = loadConfig(
  Type.Object({
    SMTP_URL: Type.Optional(Type.String({ pattern: '^smtps?://' })),
    MAIL_FROM: Type.String({ default: 'huiying@localhost' }),
    DIGEST_HOUR: Type.Integer({ minimum: 0, maximum: 23, default: 8 }),
    ...notifySettingsSchema,
  }),
);
// The pack without an administrator's active version in the database (which wins; README "Rule packs").
const { pack, source: packSource } = rulePackFallback(args.rules ?? process.env.RULE_PACK_FILE);
const dutyEmail = process.env.DUTY_EMAIL ?? 'zwgk@demo.huiying.local';
const smtpUrl = notifyConfig.SMTP_URL;
// Every channel whose settings are present; without SMTP_URL the ladder's mail is recorded, not
// sent (the incident page still lists it).
// Channels without settings record what they would send (the incident page lists it), so a demo
// unit given a phone or robot name raises no delivery failure.
const channels = {
  email: nullAdapter('email'),
  sms: nullAdapter('sms'),
  wecom: nullAdapter('wecom'),
  dingtalk: nullAdapter('dingtalk'),
  webhook: nullAdapter('webhook'),
  ...channelsFromSettings(notifyConfig),
};
const digest = digestFrom(notifyConfig, notifyConfig.DIGEST_HOUR);
const dashboardUrl = `http://${args.host}:${port}/`;
// Built now (only when its sources changed), so the first page load is instant and a build error shows at start.
const consoleBundle = await buildDashboard({ log: (line) => console.log(`  ${line}`) });
let demoFeed: Awaited<ReturnType<typeof serveDemoFeed>> | undefined;
let accounts: Account[] = [];
if (!args['no-demo']) {
  demoFeed = await serveDemoFeed(() => clock.now());
  await seedDemo(handle.db, demoFeed.url, clock.now());
  accounts = await ensureDemoAccounts(handle.db, new Date());
  await addressDemoLeader(handle.db);
  await rosterDemoDuty(handle.db, clock.now());
  // The last quarter, lived through once on a fake clock, so leaders have statistics to read.
  const started = Date.now();
  console.log('  demo history 演示历史: living through the last 90 days on a simulated clock (once per data directory)…');
  const history = await seedDemoHistory({ handle, now: clock.now(), logger, pack, dutyEmail });
  if (!history.skipped)
    console.log(
      `  demo history 演示历史: ${history.incidents} matters and ${history.duties} duties over the last 90 days (${((Date.now() - started) / 1000).toFixed(0)} s)`,
    );
}
const huiying = await createHuiying({
  handle,
  pack,
  packSource,
  bus,
  clock,
  channels,
  logger,
  digestHour: digest.hour,
  weeklyDigest: digest.weekly ?? null,
  routing: routingFrom(notifyConfig),
  ...(notifyConfig.HANDOVER ? { handover: {} } : {}),
  dutyEmail,
  publicUrl: dashboardUrl,
  // Woken after every commit that queued mail; the poll is a safety net (about 15 real seconds at any time scale).
  dispatchPollMs: 15_000 * scale,
  dashboard: async () => consoleBundle,
  // The demo feed is served on loopback, which feeds may not reach unless allowed.
  feedAllowCidrs: [...(process.env.FEED_ALLOW_CIDRS ?? '').split(/[\s,]+/).filter(Boolean), ...(args['no-demo'] ? [] : ['127.0.0.1/32'])],
});
const { app, poller, relay, archiver } = huiying;

await app.listen({ port, host: args.host });
if (!args['no-demo']) {
  // The demo data goes in the way a duty officer's would: logged in, through the API.
  const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'duty', password: DEMO_PASSWORD } });
  const cookie = String([login.headers['set-cookie']].flat()[0]).split(';')[0]!;
  const headers = { cookie, 'x-csrf-token': login.json<{ csrfToken: string }>().csrfToken };
  for (const ticket of demoTickets(clock.now())) {
    await app.inject({ method: 'POST', url: '/api/tickets', payload: ticket, headers });
  }
  for (const duty of demoDuties(clock.now())) {
    await app.inject({ method: 'POST', url: '/api/obligations', payload: duty, headers });
  }
  await poller.pollAll();
  relay.wake();
}
poller.start(process.env.FEED_CRON ?? '* * * * *');
archiver.start();

console.log(`
  回应 Huiying — 政务舆情回应时效看板 (embedded: PGlite + in-process bus${scale !== 1 ? `, 演练时间 ×${scale}` : ''})
  Dashboard 看板:   ${dashboardUrl}
  API docs 接口文档: ${dashboardUrl}docs
${
  accounts.length > 0
    ? `  Demo accounts 演示账号 (password 密码 ${DEMO_PASSWORD}):\n${accounts.map((a) => `    ${a.username.padEnd(20)} ${ROLE_NAMES[a.role]}${a.unitId ? ` · ${a.displayName}` : ''}`).join('\n')}\n`
    : `  No demo accounts (--no-demo): create one with  HUIYING_PGLITE_DIR=<data dir> pnpm user:add --role admin --username NAME\n`
}  ${smtpUrl ? `Mail via ${smtpUrl.replace(/\/\/[^@]*@/, '//***@')}` : 'Mail is recorded on each incident, not sent (set SMTP_URL to send)'}
`);

let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  await huiying.stop();
  await bus.close();
  demoFeed?.server.close();
  await handle.close();
  process.exit(0);
};
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
