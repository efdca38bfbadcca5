/**
 * The embedded default as tests use it: PGlite, the in-process bus, memory mail and a fake (or
 * any) clock around the same createHuiying composition `pnpm start` runs.
 */
import type { AddressInfo } from 'node:net';
import { EmbeddedBus } from '@huiying/bus';
import type { Clock } from '@huiying/clock';
import { type DbHandle, units } from '@huiying/db';
import type { RulePack } from '@huiying/domain';
import { nullAdapter } from '@huiying/notify';
import { ensureDemoAccounts } from '@huiying/identity';
import { freshPglite, loginAs, type SessionClient, testLogger } from '@huiying/testkit';
import { buildDashboard } from '@huiying/web';
import { createHuiying, type Huiying, type HuiyingDeps } from '../src/compose.ts';

export interface EmbeddedHarness {
  hy: Huiying;
  handle: DbHandle;
  bus: EmbeddedBus;
  /** The email channel: records what the dispatcher sent (unless `channels` was passed). */
  mailer: ReturnType<typeof nullAdapter>;
  /** Set when `listen` was asked for: the console's URL. */
  url: string;
  /**
   * A logged-in client (cookie + CSRF) for one of the demo accounts every harness has:
   * `duty`, `leader`, `admin`, `unit-<id>` (password huiying-demo). Cached per username.
   */
  as(username: string): Promise<SessionClient>;
  /** Stops the app; closes the database unless it was passed in. */
  stop(): Promise<void>;
}

export async function startEmbedded(o: {
  clock: Clock;
  units?: { id: string; name: string; email: string }[];
  /** Serve the dashboard and listen on a loopback port (browser tests). */
  listen?: boolean;
  pack?: RulePack;
  /** Reuse a database (e.g. to restart the app on it, or real PostgreSQL); otherwise a fresh in-memory PGlite. */
  handle?: DbHandle;
  /** Passed to the composition (session and log-in tests). */
  compose?: Pick<HuiyingDeps, 'realClock' | 'sessionPolicy' | 'loginRateLimit'>;
  /** Delivery channels instead of the recording one (e.g. email to a real SMTP server). */
  channels?: HuiyingDeps['channels'];
}): Promise<EmbeddedHarness> {
  const handle = o.handle ?? (await freshPglite());
  if (o.units?.length) await handle.db.insert(units).values(o.units).onConflictDoNothing();
  const bus = new EmbeddedBus();
  const mailer = nullAdapter('email');
  const hy = await createHuiying({
    handle,
    bus,
    clock: o.clock,
    channels: o.channels ?? { email: mailer },
    logger: testLogger,
    dutyEmail: 'duty@example.test',
    publicUrl: 'http://localhost/',
    relayPollMs: 10,
    timerResyncMs: 0,
    // Woken after each commit that queues mail; a poll every 15 s of fake time would run
    // thousands of idle passes while a test moves the clock by days.
    dispatchPollMs: 24 * 3_600_000,
    ...(o.pack ? { pack: o.pack } : {}),
    ...o.compose,
    ...(o.listen ? { dashboard: buildDashboard } : {}),
  });
  await ensureDemoAccounts(handle.db, new Date());
  const clients = new Map<string, Promise<SessionClient>>();
  let url = '';
  if (o.listen) {
    await hy.app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(hy.app.server.address() as AddressInfo).port}/`;
  } else {
    await hy.app.ready();
  }
  return {
    hy,
    handle,
    bus,
    mailer,
    url,
    as(username) {
      let client = clients.get(username);
      if (!client) clients.set(username, (client = loginAs(hy.app, username)));
      return client;
    },
    async stop() {
      await hy.stop();
      await bus.close();
      if (!o.handle) await handle.close();
    },
  };
}
