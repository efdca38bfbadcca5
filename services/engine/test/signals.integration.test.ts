/**
 * Batch intake of signals on the real PostgreSQL: a batch is one transaction, redeliveries and
 * duplicates inside a batch change nothing, every applied signal is marked processed.
 */
import type { SignalMessage } from '@huiying/bus';
import { FakeClock } from '@huiying/clock';
import { rowsOf, sql, units } from '@huiying/db';
import { DEFAULT_RULE_PACK } from '@huiying/domain';
import { freshDatabase } from '@huiying/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleSignals } from '../src/signals.ts';
import type { EngineDeps } from '../src/store.ts';

const T0 = Date.parse('2026-09-30T20:00:00+08:00');
let db: Awaited<ReturnType<typeof freshDatabase>>;
let deps: EngineDeps;
const wakes: number[] = [];

const signal = (i: number, extra: Partial<SignalMessage> = {}): SignalMessage => ({
  v: 1,
  type: 'signal',
  id: `sig_${i}`,
  source: 'hotline',
  sourceRef: `T-${i}`,
  publishedAt: new Date(T0 - i * 60_000).toISOString(),
  receivedAt: new Date(T0).toISOString(),
  ...extra,
});

const count = async (query: ReturnType<typeof sql>) => rowsOf<{ n: number }>(await db.db.execute(query))[0]!.n;

beforeAll(async () => {
  db = await freshDatabase();
  await db.db.insert(units).values({ id: 'unit-a', name: '甲单位' });
  deps = { db: db.db, clock: new FakeClock(T0), pack: () => DEFAULT_RULE_PACK, onWake: (at) => wakes.push(at) };
});
afterAll(async () => db?.drop());

describe('handleSignals (PostgreSQL)', () => {
  it('applies a batch in one transaction, in order, assigning known units', async () => {
    const batch = Array.from({ length: 50 }, (_, i) => signal(i, i % 10 === 0 ? { unitHint: i === 0 ? 'unit-a' : 'unit-unknown' } : {}));
    const outcomes = await handleSignals(deps, batch);
    expect(outcomes.map((o) => o.signalId)).toEqual(batch.map((s) => s.id));
    expect(outcomes.every((o) => o.created)).toBe(true);
    expect(await count(sql`select count(*)::int as n from incidents`)).toBe(50);
    // Every row written by the batch carries one transaction id.
    expect(await count(sql`select count(distinct xmin::text)::int as n from incidents`)).toBe(1);
    expect(await count(sql`select count(*)::int as n from signals where processed_at is not null and incident_id is not null`)).toBe(50);
    expect(await count(sql`select count(*)::int as n from incidents where unit_id = 'unit-a'`)).toBe(1);
    expect(await count(sql`select count(*)::int as n from audit_log where action = 'incident.created'`)).toBe(50);
    expect(wakes.length).toBe(1);
  });

  it('changes nothing for a redelivered batch, and applies a duplicate within a batch once', async () => {
    const again = await handleSignals(deps, [signal(3), signal(60), signal(60), signal(4)]);
    expect(again.map((o) => [o.signalId, o.created])).toEqual([
      ['sig_3', false],
      ['sig_60', true],
      ['sig_4', false],
    ]);
    expect(await count(sql`select count(*)::int as n from incidents`)).toBe(51);
    expect(await count(sql`select count(*)::int as n from audit_log where action = 'incident.created'`)).toBe(51);
  });
});
