/**
 * A stored incident names its clocks' ladder snapshots (ladder-refs.ts, migration 0038) instead
 * of copying them into every clock. The domain never sees a reference: what the engine reads is
 * hydrated, so a state stored by reference fires exactly the escalations a state with the
 * snapshot inline does — and a state stored inline (before 0038) still reads and fires, keeping
 * its copy. A reference to a snapshot that is not there is a corrupt row: quarantined, the
 * others fire.
 */
import { FakeClock } from '@huiying/clock';
import { rowsOf, sql, units } from '@huiying/db';
import { applyIncidentInput, DEFAULT_RULE_PACK, type IncidentState, MS_PER_HOUR, stepIncidentLadders } from '@huiying/domain';
import { freshDatabase } from '@huiying/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { hydrateIncidentStates, storedIncidentState } from '../src/ladder-refs.ts';
import type { LadderWiring } from '../src/ladder-writer.ts';
import { incidentStateChanges } from '../src/state-patch.ts';
import { type EngineDeps, fireDue, persistAll } from '../src/store.ts';

const H = MS_PER_HOUR;
const DUE = Date.parse('2026-08-03T10:00:00+08:00');
const WIRING: LadderWiring = { dashboardUrl: 'http://console.test/', dutyEmail: 'duty@example.test' };
let db: Awaited<ReturnType<typeof freshDatabase>>;

beforeAll(async () => {
  db = await freshDatabase();
  await db.db.insert(units).values([{ id: 'u1', name: '一单位', email: 'u1@example.test' }]);
});

afterAll(async () => {
  await db?.drop();
});

const roundTrip = (s: IncidentState) => JSON.parse(JSON.stringify(s)) as IncidentState;

/** A hotline matter whose response clock runs out at DUE (assigned to u1, so the ladder mails its unit). */
function opened(id: string): IncidentState {
  const signal = applyIncidentInput(
    undefined,
    { type: 'signal', at: DUE - 2000, incident: id, source: 'hotline', publishedAt: DUE - 48 * H, title: `热线 ${id}` },
    DEFAULT_RULE_PACK,
  ).state;
  return applyIncidentInput(signal, { type: 'assign', at: DUE - 1000, incident: id, unit: 'u1' }, DEFAULT_RULE_PACK).state;
}

async function create(id: string): Promise<void> {
  const state = opened(id);
  await db.db.transaction((tx) =>
    persistAll(
      tx,
      [{ before: undefined, version: 0, after: state, events: [], input: { type: 'test' }, actor: 'test', now: DUE - 1000 }],
      WIRING,
    ),
  );
}

const rawState = async (id: string) =>
  rowsOf<{ state: IncidentState }>(await db.db.execute(sql`select state from incidents where id = ${id}`))[0]!.state;

it('stores each distinct snapshot once and a reference in every clock; hydrated, the state is the domain’s', async () => {
  await create('inc_ref_a');
  await create('inc_ref_b');
  // What the writer stores: the domain's state with its ladders walked (the notice to u1).
  const domain = roundTrip(stepIncidentLadders(opened('inc_ref_a'), DUE - 1000).state);
  const raw = await rawState('inc_ref_a');
  expect(raw.clocks[0]!.ladder!.ladder).toMatch(/^lad_[0-9a-f]{32}$/);
  expect((await rawState('inc_ref_b')).clocks[0]!.ladder!.ladder).toBe(raw.clocks[0]!.ladder!.ladder);
  const snapshots = rowsOf<{ id: string; ladder: unknown }>(await db.db.execute(sql`select id, ladder from ladder_snapshots`));
  expect(snapshots).toEqual([{ id: raw.clocks[0]!.ladder!.ladder, ladder: domain.clocks[0]!.ladder!.ladder }]);
  expect(JSON.stringify(raw).length).toBeLessThan(JSON.stringify(domain).length * 0.6);
  await hydrateIncidentStates(db.db, [raw]);
  expect(raw).toEqual(domain);
});

it('a timer breach on a stored state patches the clock and its progress, never the snapshot', () => {
  const before = roundTrip(opened('inc_patch'));
  const after = { ...before, asOf: DUE, clocks: [{ ...before.clocks[0]!, state: 'breached' as const }] };
  const snapshots = new Map();
  const changes = incidentStateChanges(storedIncidentState(before, new Map()), storedIncidentState(after, snapshots))!;
  expect(changes.map(([path]) => path).sort()).toEqual(['{"asOf"}', '{"clocks","0","state"}']);
  expect([...snapshots.values()]).toEqual([before.clocks[0]!.ladder!.ladder]);
  // An unchanged clock stays the same stored object (state-patch.ts compares by reference).
  expect(storedIncidentState(before, new Map()).clocks[0]).toBe(storedIncidentState(before, new Map()).clocks[0]);
});

it('a state stored inline (before migration 0038) and one by reference fire the same escalations', async () => {
  await create('inc_old');
  await create('inc_new');
  // What a writer before 0038 left: the same state with the snapshot copied into the clock.
  const inline = await rawState('inc_old');
  await hydrateIncidentStates(db.db, [inline]);
  await db.db.execute(sql`update incidents set state = ${JSON.stringify(inline)}::jsonb where id = 'inc_old'`);
  expect(typeof (await rawState('inc_old')).clocks[0]!.ladder!.ladder).toBe('object');
  const clock = new FakeClock(DUE);
  const deps: EngineDeps = { db: db.db, clock, pack: () => DEFAULT_RULE_PACK, ladder: WIRING };
  // The breach (and its first urge), then the leaders' report and the urge's repeat 12 h later.
  expect(await fireDue(deps, DUE)).toBe(4);
  await clock.advanceTo(DUE + 12 * H);
  expect(await fireDue(deps, DUE + 12 * H)).toBe(4);

  const sent = async (id: string) =>
    rowsOf<{ step: string; step_kind: string; recipient: string; clock_seq: number }>(
      await db.db.execute(
        sql`select step, step_kind, recipient, clock_seq from notifications where incident_id = ${id} order by step, recipient`,
      ),
    );
  // The timer's audit rows, but for what names the incident itself.
  const audited = async (id: string) =>
    rowsOf<{ action: string; result: Record<string, unknown> }>(
      await db.db.execute(sql`select action, result from audit_log where entity_id = ${id} and actor = 'timer' order by id`),
    ).map(({ action, result: { alertId: _a, id: _i, incidentId: _n, title: _t, ...rest } }) => ({ action, result: rest }));
  const oldSent = await sent('inc_old');
  expect(oldSent.map((n) => n.step_kind)).toEqual(expect.arrayContaining(['urge', 'report']));
  expect(await sent('inc_new')).toEqual(oldSent);
  expect(await audited('inc_new')).toEqual(await audited('inc_old'));

  // Each keeps its form: the old row its copy (the timer patched only the progress), the new its reference.
  const [oldRaw, newRaw] = [await rawState('inc_old'), await rawState('inc_new')];
  expect(typeof oldRaw.clocks[0]!.ladder!.ladder).toBe('object');
  expect(newRaw.clocks[0]!.ladder!.ladder).toMatch(/^lad_/);
  await hydrateIncidentStates(db.db, [newRaw]);
  expect({ ...newRaw, id: '', title: '' }).toEqual({ ...oldRaw, id: '', title: '' });

  // 通报 candidacy read in SQL (0029's fill, candidates.ts) sees the snapshot through the reference.
  const [candidacy] = rowsOf<{ old: string | null; new: string | null }>(
    await db.db.execute(sql`select
      (select report_candidacy_of(clock_ladder_of(state->'clocks'->0->'ladder'), ${new Date(DUE).toISOString()}::timestamptz)::text from incidents where id = 'inc_old') as old,
      (select report_candidacy_of(clock_ladder_of(state->'clocks'->0->'ladder'), ${new Date(DUE).toISOString()}::timestamptz)::text from incidents where id = 'inc_new') as new`),
  );
  expect(candidacy!.old).not.toBeNull();
  expect(candidacy!.new).toBe(candidacy!.old);
});

it('a reference to a missing snapshot is quarantined; the other dues fire', async () => {
  await create('inc_lost');
  await create('inc_fine');
  await db.db.execute(
    sql`update incidents set state = jsonb_set(state, '{clocks,0,ladder,ladder}', '"lad_00000000000000000000000000000000"') where id = 'inc_lost'`,
  );
  const clock = new FakeClock(DUE);
  const deps: EngineDeps = { db: db.db, clock, pack: () => DEFAULT_RULE_PACK, ladder: WIRING };
  await fireDue(deps, DUE);
  const kinds = rowsOf<{ incident_id: string; kind: string }>(
    await db.db.execute(sql`select incident_id, kind from alerts where incident_id in ('inc_lost', 'inc_fine') order by incident_id, kind`),
  );
  expect(kinds).toEqual([
    { incident_id: 'inc_fine', kind: 'breached' },
    { incident_id: 'inc_lost', kind: 'engine_error' },
  ]);
  const [quarantined] = rowsOf<{ result: { error: string } }>(
    await db.db.execute(sql`select result from audit_log where entity_id = 'inc_lost' and action = 'incident.quarantined'`),
  );
  expect(quarantined!.result.error).toMatch(/ladder snapshot.*not found/);
});
