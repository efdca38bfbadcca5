/**
 * Stopping the dispatcher (and so the engine) is prompt whatever the relay does: a relay that
 * accepts the connection and never answers (a send would hold on for the greeting timeout), and
 * a relay refusing connections while a fast clock (a drill at --time-scale) makes every retry due
 * again at once. The abandoned row is due again at once for the next dispatcher, which sends it
 * once. Real PostgreSQL and real sockets.
 */
import { createServer, type Socket } from 'node:net';
import { type Clock, scaledClock } from '@huiying/clock';
import { clockKey, type Db, enqueueNotifications, rowsOf, sql } from '@huiying/db';
import { type ControllableSmtp, eventually, freshDatabase, startControllableSmtp, testLogger } from '@huiying/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { emailChannel } from '../src/channels/email.ts';
import { Dispatcher } from '../src/dispatcher.ts';

let h: Awaited<ReturnType<typeof freshDatabase>>;
let smtp: ControllableSmtp;

beforeAll(async () => {
  h = await freshDatabase();
  smtp = await startControllableSmtp();
});

afterAll(async () => {
  await smtp?.close();
  await h?.drop();
});

async function queue(db: Db, at: number, id: string): Promise<void> {
  await db.transaction((tx) =>
    enqueueNotifications(tx, new Date(at), [
      {
        clockKey: clockKey({ incidentId: id, clockSeq: 1 }),
        step: 'urge#0',
        stepKind: 'urge',
        role: 'unit',
        recipient: `${id}@example.test`,
        channel: 'email',
        groupKey: id,
        incidentId: id,
        subject: `催办 ${id}`,
        text: '请尽快回应',
      },
    ]),
  );
}

const row = async (id: string) =>
  rowsOf<{ status: string; next_attempt_at: Date | string | null; attempts: number; last_error: string | null }>(
    await h.db.execute(sql`select status, next_attempt_at, attempts, last_error from notifications where incident_id = ${id}`),
  )[0]!;

async function timedStop(d: Dispatcher): Promise<number> {
  const t = performance.now();
  await d.stop();
  return performance.now() - t;
}

it('a relay that accepts and never answers: stop abandons the send at once; the next dispatcher sends it once', async () => {
  const sockets: Socket[] = [];
  const silent = createServer((s) => sockets.push(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  try {
    const clock: Clock = scaledClock(1);
    await queue(h.db, clock.now(), 'silent');
    // The default timeouts: the greeting alone would be waited for 10 s.
    const url = `smtp://127.0.0.1:${(silent.address() as { port: number }).port}`;
    const d = new Dispatcher({
      db: h.db,
      clock,
      adapters: { email: emailChannel({ url, from: 'huiying@example.test' }) },
      logger: testLogger,
    });
    d.start();
    await eventually(async () => sockets.length > 0 && (await row('silent')).status === 'sending', 'the send in flight');
    expect(await timedStop(d)).toBeLessThan(1_000);
    const r = await row('silent');
    expect(r.status).toBe('pending');
    expect(r.last_error).toMatch(/abandoned: the dispatcher stopped/);
    expect(new Date(r.next_attempt_at!).getTime()).toBeLessThanOrEqual(Date.now());

    const next = new Dispatcher({
      db: h.db,
      clock,
      adapters: { email: emailChannel({ url: smtp.url, from: 'huiying@example.test' }) },
      logger: testLogger,
    });
    expect((await next.drain()).sent).toBe(1);
    await next.stop();
    expect(smtp.mails.filter((m) => m.subject === '催办 silent')).toHaveLength(1);
    expect((await row('silent')).status).toBe('sent');
  } finally {
    for (const s of sockets) s.destroy();
    silent.close();
  }
}, 60_000);

it('a relay refusing connections while every retry is due again at once: stop does not wait for the retries to run out', async () => {
  await smtp.down();
  try {
    // A drill clock (3600×) and a short backoff: each pass finds the row due again, so the pass
    // in progress would go on retrying until the attempts run out (here: thousands).
    const clock = scaledClock(3600);
    await queue(h.db, clock.now(), 'refused');
    const d = new Dispatcher({
      db: h.db,
      clock,
      adapters: { email: emailChannel({ url: smtp.url, from: 'huiying@example.test' }) },
      logger: testLogger,
      backoff: { baseMs: 1, capMs: 1, maxAttempts: 5_000 },
    });
    d.start();
    await eventually(async () => (await row('refused')).attempts >= 3, 'a few retries');
    expect(await timedStop(d)).toBeLessThan(1_000);
    const r = await row('refused');
    expect(r.status).toBe('pending');
    expect(r.attempts).toBeLessThan(1_000);
  } finally {
    await smtp.up();
  }
}, 60_000);
