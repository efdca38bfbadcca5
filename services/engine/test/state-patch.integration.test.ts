/**
 * The incident writer sends what changed of a state (state-patch.ts), applied in PostgreSQL by
 * jsonb_set_each (migration 0021). The stored document must be exactly the domain's state, for
 * every kind of change (inputs, timer wakes, ladder walks), and the timer's write must be small:
 * the fired clock's state and ladder progress, not the pack's ladder snapshot.
 */
import { FakeClock } from '@huiying/clock';
import { openPostgres, rowsOf, sql, units } from '@huiying/db';
import {
  advanceIncident,
  applyIncidentInput,
  DEFAULT_RULE_PACK,
  type IncidentInput,
  type IncidentState,
  MS_PER_HOUR,
  stepIncidentLadders,
} from '@huiying/domain';
import { freshDatabase } from '@huiying/testkit';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { hydrateIncidentStates } from '../src/ladder-refs.ts';
import { incidentStateChanges, type StateChanges } from '../src/state-patch.ts';
import { applyCommand, type EngineDeps, fireDue, persistAll, StaleWriteError } from '../src/store.ts';
import { signalIn } from './signal-in.ts';

const H = MS_PER_HOUR;
const T0 = Date.parse('2026-06-01T09:00:00+08:00');
let db: Awaited<ReturnType<typeof freshDatabase>>;

beforeAll(async () => {
  db = await freshDatabase();
  await db.db.insert(units).values([
    { id: 'u1', name: '一单位', email: 'u1@example.test' },
    { id: 'u2', name: '二单位', email: 'u2@example.test' },
  ]);
});

afterAll(async () => {
  await db?.drop();
});

const roundTrip = (s: IncidentState) => JSON.parse(JSON.stringify(s)) as IncidentState;

/** jsonb_set_each(before, changes) for many pairs at once, as the database computes it. */
async function applied(pairs: readonly { before: IncidentState; changes: StateChanges }[]): Promise<unknown[]> {
  const rows = rowsOf<{ n: number; doc: unknown }>(
    await db.db.execute(sql`
      select r.n, jsonb_set_each(r.before, r.changes) as doc
      from jsonb_to_recordset(${JSON.stringify(pairs.map((p, n) => ({ n, ...p })))}::jsonb) as r(n int, before jsonb, changes jsonb)
      order by r.n`),
  );
  return rows.map((r) => r.doc);
}

/** What the writer stores after an input or a timer wake: the domain's state, its ladders walked. */
function step(state: IncidentState | undefined, input: IncidentInput | { type: 'advance'; at: number }): IncidentState {
  const at = input.at;
  const next =
    input.type === 'advance'
      ? advanceIncident(state!, at).state
      : applyIncidentInput(state === undefined ? undefined : advanceIncident(state, at - 1).state, input, DEFAULT_RULE_PACK).state;
  return stepIncidentLadders(next, at).state;
}

type Step = IncidentInput | { type: 'advance'; at: number };

const LEVELS = ['I', 'II', 'III', 'IV'] as const;
const KINDS = ['release', 'press_conference', 'reply'] as const;

/** The k-th kind of change at `at`, its details drawn from x. */
function stepOf(id: string, at: number, k: number, x: number): Step {
  switch (k % 9) {
    case 0:
      return { type: 'advance', at };
    case 1:
      return { type: 'advance', at: at + (x % 60) * H };
    case 2:
      return { type: 'grade', at, incident: id, level: LEVELS[x % 4]! };
    case 3:
      return { type: 'assign', at, incident: id, unit: x % 2 === 0 ? 'u1' : 'u2' };
    case 4:
      return { type: 'response', at, incident: id, kind: KINDS[x % 3]!, original: x % 5 !== 0, publishedAt: at - (x % 60) * H };
    case 5:
      return { type: 'occurred', at, incident: id, occurredAt: at - (x % 72) * H };
    case 6:
      return { type: 'signal', at, incident: id, source: 'feed', title: '后续报道', publishedAt: at - (x % 30) * H };
    case 7:
      return { type: 'response', at, incident: id, kind: 'press_conference', original: true };
    default:
      return x % 3 === 0 ? { type: 'dismiss', at, incident: id, reason: 'duplicate' } : { type: 'advance', at: at + 48 * H };
  }
}

it('jsonb_set_each(before, changes) is the domain state after every kind of change', async () => {
  const aStep = fc.record({ gapMinutes: fc.integer({ min: 1, max: 24 * 60 }), k: fc.nat(), x: fc.nat() });
  await fc.assert(
    fc.asyncProperty(fc.array(aStep, { minLength: 1, maxLength: 14 }), async (steps) => {
      const id = 'inc_prop';
      let at = T0;
      let state = roundTrip(
        step(undefined, { type: 'signal', at, incident: id, source: 'hotline', publishedAt: at - 3 * H, title: '热线' }),
      );
      const pairs: { before: IncidentState; changes: StateChanges }[] = [];
      const expected: IncidentState[] = [];
      for (const s of steps) {
        at += s.gapMinutes * 60_000;
        const input = stepOf(id, at, s.k, s.x);
        at = Math.max(at, input.at);
        const after = step(state, input);
        const changes = incidentStateChanges(state, after);
        if (changes !== null) {
          pairs.push({ before: state, changes });
          expected.push(roundTrip(after));
        }
        // The writer's next `before` is what the database returns: plain JSON.
        state = roundTrip(after);
      }
      if (pairs.length > 0) expect(await applied(pairs)).toEqual(expected);
    }),
    { numRuns: 80 },
  );
});

it("a timer breach sends the clock's state and ladder progress, not the ladder snapshot", () => {
  const id = 'inc_small';
  const due = T0 + 48 * H;
  const before = roundTrip(step(undefined, { type: 'signal', at: due - 1000, incident: id, source: 'hotline', publishedAt: due - 48 * H }));
  const changes = incidentStateChanges(before, step(before, { type: 'advance', at: due }))!;
  expect(changes.map(([path]) => path).sort()).toEqual(['{"asOf"}', '{"clocks","0","ladder","progress"}', '{"clocks","0","state"}']);
  expect(JSON.stringify(changes).length).toBeLessThan(JSON.stringify(before).length / 5);
});

it('clocks added, a key removed: the clocks array whole, or the whole document', () => {
  const id = 'inc_shape';
  const before = roundTrip(step(undefined, { type: 'signal', at: T0, incident: id, source: 'hotline' }));
  const graded = step(before, { type: 'grade', at: T0 + H, incident: id, level: 'I' });
  const changes = incidentStateChanges(before, graded)!;
  expect(changes.some(([path, value]) => path === '{"clocks"}' && value === graded.clocks)).toBe(true);
  const { closedAt: _removed, ...withoutKey } = graded;
  expect(incidentStateChanges(roundTrip(graded), withoutKey as IncidentState)).toBeNull();
});

it('the engine stores exactly the state the domain computes: signal, commands, timer wakes', async () => {
  const clock = new FakeClock(T0);
  const deps: EngineDeps = { db: db.db, clock, pack: () => DEFAULT_RULE_PACK };
  const stored = async (id: string) => {
    const [row] = rowsOf<{ state: IncidentState; version: number }>(
      await db.db.execute(sql`select state, version from incidents where id = ${id}`),
    );
    // The document names its clocks' ladder snapshots (migration 0038); with them in place it is the domain's state.
    for (const c of row!.state.clocks) if (c.ladder) expect(c.ladder.ladder).toMatch(/^lad_[0-9a-f]{32}$/);
    await hydrateIncidentStates(db.db, [row!.state]);
    return row!;
  };
  const { incidentId: id } = await signalIn(deps, {
    v: 1,
    type: 'signal',
    id: 'sig-patch-1',
    source: 'hotline',
    sourceRef: 'sig-patch-1',
    title: '小区停水三天无人处理',
    unitHint: 'u1',
    publishedAt: new Date(T0 - 2 * H).toISOString(),
    receivedAt: new Date(T0).toISOString(),
  });
  // Each wake: the stored state before, advanced and walked by the domain, is what is stored after.
  for (const at of [T0 + 22 * H, T0 + 36.4 * H, T0 + 46 * H]) {
    const before = await stored(id);
    await clock.advanceTo(at);
    expect(await fireDue(deps, at)).toBe(1);
    const after = await stored(id);
    expect(after.version).toBe(before.version + 1);
    expect(after.state).toEqual(roundTrip(stepIncidentLadders(advanceIncident(before.state, at).state, at).state));
  }
  // A command (a full write: the level column changes), then the timer walks what it left.
  await clock.advanceTo(T0 + 47 * H);
  await applyCommand(deps, id, { type: 'grade', at: T0 + 47 * H, incident: id, level: 'II' }, 'duty:wang');
  const graded = await stored(id);
  expect(graded.state.clocks.map((c) => c.kind)).toEqual(['response', 'release', 'press_conference']);
  await clock.advanceTo(T0 + 60 * H);
  expect(await fireDue(deps, T0 + 60 * H)).toBe(1);
  const fired = await stored(id);
  expect(fired.state).toEqual(roundTrip(stepIncidentLadders(advanceIncident(graded.state, T0 + 60 * H).state, T0 + 60 * H).state));
  // The read model and the alerts follow the stored state.
  const clocks = rowsOf<{ seq: number; state: string }>(
    await db.db.execute(sql`select seq, state from clocks where incident_id = ${id} order by seq`),
  );
  expect(clocks.map((c) => `${c.seq} ${c.state}`)).toEqual(fired.state.clocks.map((c) => `${c.seq} ${c.state}`));
  const breaches = rowsOf<{ clock: string }>(
    await db.db.execute(sql`select clock from alerts where incident_id = ${id} and kind = 'breached' order by clock`),
  );
  expect(breaches.map((b) => b.clock)).toEqual(
    fired.state.clocks
      .filter((c) => c.state === 'breached')
      .map((c) => c.kind)
      .sort(),
  );
});

it('two engines firing the same dues through the patch: each breach once, a stale version refused', async () => {
  const N = 400;
  const due = T0 + 100 * H;
  const created = Array.from({ length: N }, (_, i) => {
    const id = `inc_two_${String(i).padStart(3, '0')}`;
    const at = due + i - 1000;
    const { state, events } = applyIncidentInput(
      undefined,
      { type: 'signal', at, incident: id, source: 'hotline', publishedAt: due + i - 48 * H, title: `工单 ${i}` },
      DEFAULT_RULE_PACK,
    );
    return { before: undefined, version: 0, after: state, events, input: { type: 'test' }, actor: 'test', now: at };
  });
  await db.db.transaction((tx) => persistAll(tx, created));
  const other = openPostgres(db.url, { max: 4 });
  try {
    const at = due + N;
    // The other tests' incidents may be due by then too (their ladders' next steps).
    const [others] = rowsOf<{ n: number }>(
      await db.db.execute(
        sql`select count(*)::int as n from incidents where next_wake_at <= ${new Date(at).toISOString()} and id not like 'inc_two_%'`,
      ),
    );
    const a: EngineDeps = { db: db.db, clock: new FakeClock(at), pack: () => DEFAULT_RULE_PACK };
    const b: EngineDeps = { db: other.db, clock: new FakeClock(at), pack: () => DEFAULT_RULE_PACK };
    const fired = await Promise.all([fireDue(a, at, 25), fireDue(b, at, 25), fireDue(a, at, 25), fireDue(b, at, 25)]);
    expect(fired.reduce((x, y) => x + y, 0)).toBe(N + others!.n);
  } finally {
    await other.close();
  }
  const [counts] = rowsOf<{ alerts: number; incidents: number; outbox: number; audit: number; versions: number }>(
    await db.db.execute(sql`select
      (select count(*)::int from alerts where kind = 'breached' and incident_id like 'inc_two_%') as alerts,
      (select count(distinct incident_id)::int from alerts where kind = 'breached' and incident_id like 'inc_two_%') as incidents,
      (select count(*)::int from outbox where payload->>'event' = 'breached' and key like 'inc_two_%') as outbox,
      (select count(*)::int from audit_log where action = 'clock.breached' and entity_id like 'inc_two_%') as audit,
      (select count(*)::int from incidents where id like 'inc_two_%' and version = 2 and state->'clocks'->0->>'state' = 'breached') as versions`),
  );
  expect(counts).toEqual({ alerts: N, incidents: N, outbox: N, audit: N, versions: N });

  // A write decided on a version another engine has moved past is refused, on the patch path too.
  const [row] = rowsOf<{ id: string; state: IncidentState; version: number }>(
    await db.db.execute(sql`select id, state, version from incidents where id = 'inc_two_000'`),
  );
  await hydrateIncidentStates(db.db, [row!.state]);
  await db.db.execute(sql`update incidents set version = version + 1 where id = ${row!.id}`);
  const later = due + 30 * H;
  const next = advanceIncident(row!.state, later);
  expect(incidentStateChanges(row!.state, next.state)).not.toBeNull();
  await expect(
    db.db.transaction((tx) =>
      persistAll(tx, [
        {
          before: row!.state,
          version: row!.version,
          after: next.state,
          events: next.events,
          input: { type: 'test' },
          actor: 'test',
          now: later,
        },
      ]),
    ),
  ).rejects.toThrow(StaleWriteError);
});
