/**
 * Two relays on one outbox (every process runs one), each on its own connections to the real
 * PostgreSQL, while a writer commits a stream of messages: every message reaches the bus once, in
 * id order, and never two relays publish at the same moment (the advisory lock) — also when one
 * of them stops half-way, as a process does when it is restarted.
 */
import { freshDatabase } from '@huiying/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type DbHandle, enqueue, OutboxRelay, openPostgres, rowsOf, sql } from '../src/index.ts';

let db: Awaited<ReturnType<typeof freshDatabase>>;
const handles: DbHandle[] = [];
beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(async () => {
  for (const h of handles) await h.close();
  await db?.drop();
});

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

it('two relays contending for one outbox publish each message once, in order, one at a time', async () => {
  const sent: { relay: string; key: string }[] = [];
  let publishing = 0;
  let most = 0;
  const relayOn = (name: string) => {
    const h = openPostgres(db.url, { max: 2 });
    handles.push(h);
    return new OutboxRelay(
      h.db,
      async (_topic, messages) => {
        publishing++;
        most = Math.max(most, publishing);
        // A send takes a while (a broker round trip): the other relay wants the lock meanwhile.
        await pause(2);
        for (const m of messages) sent.push({ relay: name, key: m.key });
        publishing--;
      },
      { batch: 25, pollMs: 5, onError: (e) => expect.fail(String(e)) },
    );
  };
  const a = relayOn('a');
  const b = relayOn('b');
  a.start();
  b.start();
  const total = 1_000;
  const writer = openPostgres(db.url, { max: 1 });
  handles.push(writer);
  for (let i = 0; i < total; i += 20) {
    await enqueue(
      writer.db,
      new Date(),
      Array.from({ length: 20 }, (_, j) => ({ topic: 't', key: String(i + j).padStart(5, '0'), payload: { n: i + j } })),
    );
    a.wake();
    b.wake();
    // Half-way, one relay stops (its process restarts): the other carries on alone.
    if (i === total / 2) await a.stop();
  }
  const pending = async () =>
    rowsOf<{ n: number }>(await db.db.execute(sql`select count(*)::int as n from outbox where published_at is null`))[0]!.n;
  for (let i = 0; i < 500 && (await pending()) > 0; i++) await pause(20);
  await b.stop();
  expect(await pending()).toBe(0);
  const keys = sent.map((s) => s.key);
  expect(keys).toEqual(Array.from({ length: total }, (_, i) => String(i).padStart(5, '0')));
  expect(most).toBe(1);
  // Both took part before the stop, and only one after it.
  expect(new Set(sent.slice(0, total / 2).map((s) => s.relay))).toEqual(new Set(['a', 'b']));
  expect(sent.slice(total / 2 + 20).every((s) => s.relay === 'b')).toBe(true);
});

it('stop() resolves once the relay publishes nothing more, also in the middle of a backlog', async () => {
  const h = openPostgres(db.url, { max: 2 });
  handles.push(h);
  await h.db.execute(sql`delete from outbox`);
  await enqueue(
    h.db,
    new Date(),
    Array.from({ length: 200 }, (_, i) => ({ topic: 'stop', key: String(i).padStart(5, '0'), payload: { n: i } })),
  );
  let published = 0;
  let firstSend!: () => void;
  const sending = new Promise<void>((resolve) => (firstSend = resolve));
  const relay = new OutboxRelay(
    h.db,
    async (_topic, messages) => {
      firstSend();
      // A send takes a while (a broker round trip).
      await pause(5);
      published += messages.length;
    },
    { batch: 25, pollMs: 5, onError: (e) => expect.fail(String(e)) },
  );
  relay.start();
  // Stopped while its first cycle of a backlog of eight is sending.
  await sending;
  await relay.stop();
  const atStop = published;
  expect(atStop).toBeGreaterThanOrEqual(25);
  expect(atStop).toBeLessThan(200);
  await pause(100);
  expect(published).toBe(atStop);
});
