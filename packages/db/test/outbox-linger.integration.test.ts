/**
 * The relay's linger: wake-ups that arrive while a lingering one is pending join it, so one cycle
 * publishes what several commits queued (the ingest's group commits wake it every few ms).
 */
import { bothDatabases, closeTestDatabase, type TestDatabase } from '@huiying/testkit';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { enqueue, OutboxRelay, sql } from '../src/index.ts';

describe.each(bothDatabases)('$name', ({ open }) => {
  let h: TestDatabase;
  afterAll(() => closeTestDatabase(h));
  afterEach(() => void vi.useRealTimers());

  it.each([
    { lingerMs: 200, cycles: [['a', 'b', 'c']] },
    { lingerMs: 0, cycles: [['a'], ['b'], ['c']] },
  ])('lingerMs $lingerMs: three commits, each waking the relay, are published in $cycles.length cycle(s)', async ({ lingerMs, cycles }) => {
    h ??= await open();
    const sends: string[][] = [];
    const relay = new OutboxRelay(h.db, async (_topic, messages) => void sends.push(messages.map((m) => m.key)), {
      lingerMs,
      pollMs: 3_600_000,
    });
    await relay.flush();
    sends.length = 0;
    // Only the relay's own timers are held; the database's I/O runs for real.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    // Round trips to the database (real I/O) until the relay has sent n messages. Timers due now
    // run on each turn: a wake-up that found the previous cycle still running is rescheduled at
    // +0 ms (it raced on a slow machine in CI); a lingering one stays in the future.
    const sent = async (n: number) => {
      for (let i = 0; i < 200 && sends.flat().length < n; i++) {
        vi.advanceTimersByTime(0);
        await h.db.execute(sql`select 1`);
      }
      return sends.flat().length;
    };
    for (const [i, key] of ['a', 'b', 'c'].entries()) {
      await enqueue(h.db, new Date(), [{ topic: 't', key: `${lingerMs}-${key}`, payload: {} }]);
      relay.wake();
      // A wake-up without linger runs on the next turn (and sends); a lingering one is still waiting.
      vi.advanceTimersByTime(0);
      expect(await sent(i + 1)).toBe(lingerMs === 0 ? i + 1 : 0);
    }
    vi.advanceTimersByTime(lingerMs);
    expect(await sent(3)).toBe(3);
    await relay.stop();
    expect(sends).toEqual(cycles.map((keys) => keys.map((k) => `${lingerMs}-${k}`)));
  });
});
