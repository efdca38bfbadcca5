/**
 * Batch intake of signals on the real PostgreSQL: a batch is one transaction, redeliveries and
 * duplicates inside a batch change nothing, every applied signal is marked processed.
 */
import type { SignalMessage } from '@huiying/bus';
import { FakeClock } from '@huiying/clock';
import { rowsOf, signals, sql, units } from '@huiying/db';
import { DEFAULT_GROUPING_POLICY, DEFAULT_RULE_PACK, groupAll } from '@huiying/domain';
import { bothDatabases, closeTestDatabase, freshDatabase } from '@huiying/testkit';
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
    // Each new incident's audit and its clock's start hold the input that caused them (sent once, stored on both).
    const inputs = rowsOf<{ action: string; input: { type: string; incident: string; source: string }; entity_id: string }>(
      await db.db.execute(
        sql`select action, input, entity_id from audit_log where action in ('incident.created', 'clock.started') and entity_id = ${outcomes[7]!.incidentId} order by action`,
      ),
    );
    expect(inputs.map((r) => r.action)).toEqual(['clock.started', 'incident.created']);
    expect(inputs[0]!.input).toMatchObject({ type: 'signal', incident: outcomes[7]!.incidentId, source: 'hotline' });
    expect(inputs[1]!.input).toEqual(inputs[0]!.input);
    expect(wakes.length).toBe(1);
    // Each new incident announces itself once, by its clock's start: the live feed reads the
    // incident on any event naming it, so no separate incident_changed follows.
    const events = rowsOf<{ event: string; n: number; incidents: number }>(
      await db.db.execute(
        sql`select payload->>'event' as event, count(*)::int as n, count(distinct key)::int as incidents from outbox group by 1 order by 1`,
      ),
    );
    expect(events).toEqual([{ event: 'started', n: 50, incidents: 50 }]);
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

describe.each(bothDatabases)('handleSignals ($name), a batch of hundreds', ({ open }) => {
  // Distinct matters in words drawn per matter; every 5th ticket repeats the matter before it (a burst).
  const words = (seed: number, n: number) => {
    let x = (seed * 7919 + 1) % 2147483648;
    return Array.from({ length: n }, () => {
      x = (x * 1103515245 + 12345) % 2147483648;
      return String.fromCharCode(0x4e00 + ((x >>> 8) % 6000));
    }).join('');
  };
  const ticket = (i: number) => {
    // Every 5th ticket (from the 5th) repeats the matter before it.
    const matter = i > 0 && i % 5 === 0 ? i - 1 : i;
    return {
      id: `burst_${i}`,
      source: 'hotline' as const,
      sourceRef: `P-${i}`,
      title: `市民反映${words(matter, 14)}`,
      content: `来电称${words(matter + 100_000, 40)}`,
      category: '投诉',
      area: `区${matter % 7}`,
      receivedAt: new Date(T0),
    };
  };

  /** The bus message naming a stored ticket (ingest stored it; the message carries no text). */
  const messageOf = (t: ReturnType<typeof ticket>): SignalMessage => ({
    v: 1,
    type: 'signal',
    id: t.id,
    source: 'hotline',
    sourceRef: t.sourceRef,
    receivedAt: new Date(T0).toISOString(),
  });

  it('decides as grouping the whole list in order does, in one transaction', async () => {
    const own = await open();
    try {
      const d: EngineDeps = { db: own.db, clock: new FakeClock(T0), pack: () => DEFAULT_RULE_PACK };
      const n = 400;
      const tickets = Array.from({ length: n }, (_, i) => ticket(i));
      await own.db.insert(signals).values(tickets);
      const msgs = tickets.map(messageOf);
      const outcomes = await handleSignals(d, msgs);
      const c = async (q: ReturnType<typeof sql>) => rowsOf<{ n: number }>(await own.db.execute(q))[0]!.n;
      // The same decisions as grouping the whole list in order in memory (the domain's reference).
      const expected = groupAll(
        tickets.map((t) => ({
          id: t.id,
          source: t.source,
          at: T0,
          title: t.title,
          content: t.content,
          area: t.area,
          category: t.category,
        })),
        DEFAULT_GROUPING_POLICY,
      );
      const opener = new Map(outcomes.filter((o) => o.decision === 'opened').map((o) => [o.incidentId, o.signalId]));
      expect(new Map(outcomes.map((o) => [o.signalId, opener.get(o.incidentId)]))).toEqual(expected);
      const groups = new Set(expected.values()).size;
      expect(groups).toBeGreaterThan(300);
      // Every 5th ticket joins the incident of the ticket before it.
      for (const i of [5, 125, 130, 250, 375, 395])
        expect(outcomes[i]).toMatchObject({ decision: 'joined', incidentId: outcomes[i - 1]!.incidentId });
      expect(await c(sql`select count(*)::int as n from incidents`)).toBe(groups);
      expect(await c(sql`select count(distinct xmin::text)::int as n from incidents`)).toBe(1);
      expect(await c(sql`select count(*)::int as n from signals where processed_at is not null and incident_id is not null`)).toBe(n);
      expect(await c(sql`select coalesce(sum((state->>'signalCount')::int), 0)::int as n from incidents`)).toBe(n);
      expect(await c(sql`select count(*)::int as n from audit_log where action = 'incident.created'`)).toBe(groups);
      expect(await c(sql`select count(*)::int as n from audit_log where action in ('signal.opened', 'signal.joined')`)).toBe(n);
    } finally {
      await closeTestDatabase(own);
    }
  });

  it('audits the decisions in the batch’s order, whatever order the signals are stored in', async () => {
    const own = await open();
    try {
      const d: EngineDeps = { db: own.db, clock: new FakeClock(T0), pack: () => DEFAULT_RULE_PACK };
      // Signals decided before, then the batch's: the update reads the table, not only the batch.
      const earlier = Array.from({ length: 900 }, (_, i) => ({
        ...ticket(1000 + i),
        id: `earlier_${i}`,
        sourceRef: `E-${i}`,
        processedAt: new Date(T0),
      }));
      await own.db.insert(signals).values(earlier);
      const tickets = Array.from({ length: 300 }, (_, i) => ticket(i));
      await own.db.insert(signals).values(tickets);
      await own.db.execute(sql`analyze signals`);
      // Handed over last stored first: a join of the batch with the table in the table's order
      // would audit them backwards (the timeline lists a batch's audit rows by id).
      const msgs = [...tickets].reverse().map(messageOf);
      await handleSignals(d, msgs);
      const audited = rowsOf<{ entity_id: string }>(
        await own.db.execute(sql`select entity_id from audit_log where entity = 'signal' order by id`),
      ).map((r) => r.entity_id);
      expect(audited).toEqual(msgs.map((m) => m.id));
    } finally {
      await closeTestDatabase(own);
    }
  });
});
