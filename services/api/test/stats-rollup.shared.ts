/**
 * The rollup against the reference: on a randomized (seeded) year of incidents and duties, every
 * figure from the rollup and its live remainder must equal the exact queries over the live tables
 * (`exactGroupStats`) — counts, on-time rate, overdue count, total and maximum to the
 * millisecond; the medians and p90 to the minute (they are read from per-minute histograms) —
 * before and after changes that the rollup has not seen yet, after it has, and after two runs at
 * once. Run on PostgreSQL (stats-rollup.integration.test.ts) and on PGlite (….embedded.test.ts).
 */
import { type Db, rowsOf, sql } from '@huiying/db';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { exactGroupStats, groupStats, type StatsFilter, type StatsRow, type StatsScope } from '../src/stats/queries.ts';
import { rollupStats, runRollup, scheduleRollup } from '../src/stats/rollup.ts';

const H = 3_600_000;
const at = (local: string) => new Date(`${local}+08:00`);
const NOW = at('2026-12-15T10:00:00');

/** mulberry32: a small seeded PRNG, so a failure can be replayed. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const UNITS = ['u1', 'u2', 'u3', 'u4', 'u5'];
const DUTY_KINDS = ['policy_interpretation', 'service_change', 'proposal_reply', 'penalty_disclosure', 'disclosure_request'];
const iso = (ms: number) => new Date(ms).toISOString();

interface Seeded {
  incidents: number;
  clocks: number;
}

/** A year of incidents (with ms-precise times, dues exactly on month starts, re-grades weeks later) and duties. */
async function seed(db: Db, seedValue: number): Promise<Seeded> {
  const r = prng(seedValue);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const year0 = at('2026-01-01T00:00:00').getTime();
  await db.execute(
    sql`insert into units (id, name) select id, '单位' || id from jsonb_array_elements_text(${JSON.stringify(UNITS)}::jsonb) id`,
  );
  const incidents: unknown[] = [];
  const clocks: unknown[] = [];
  const alerts: unknown[] = [];
  for (let i = 0; i < 400; i++) {
    const id = `inc-${i}`;
    const level = pick(['I', 'II', 'III', 'IV', null, 'I', 'II']);
    const unit = r() < 0.06 ? null : pick(UNITS);
    let start = year0 + Math.floor(r() * 350 * 86_400_000);
    // Some dues exactly at 00:00 on the first of a month (they belong to the month before).
    if (r() < 0.08) {
      const month = 1 + Math.floor(r() * 11);
      start = at(`2026-${String(month + 1).padStart(2, '0')}-01T00:00:00`).getTime() - 5 * H;
    }
    incidents.push({ id, title: `事件${i}`, level, unit, start: iso(start) });
    const specs: [string, number, number][] =
      level === 'I' || level === 'II'
        ? [
            ['release', 5 * H, start],
            ['press_conference', 24 * H, start],
          ]
        : [['response', 48 * H, start]];
    // A re-grade weeks later: another clock, due in another month (a "wide" incident).
    if (r() < 0.05) specs.push(['response', 48 * H, start + (40 + Math.floor(r() * 50)) * 86_400_000]);
    // A superseded clock (not counted).
    if (r() < 0.2) specs.unshift(['response', 48 * H, start]);
    specs.forEach(([kind, span, from], k) => {
      const seq = k + 1;
      const due = from + span;
      const x = r();
      let state = 'met';
      let responded: number | null = null;
      let late: boolean | null = null;
      if (k === 0 && specs.length > 1 && x < 0.2) state = 'cancelled';
      else if (x < 0.55) {
        responded = from + Math.floor(span * (0.05 + 0.9 * r()));
        late = false;
      } else if (x < 0.72) {
        responded = due + 1 + Math.floor(r() * 40 * H);
        late = true;
      } else if (x < 0.85) state = due < NOW.getTime() ? 'breached' : 'running';
      else if (x < 0.95)
        state = 'running'; // past due: the timer has not written the breach yet
      else state = 'waived';
      if (state === 'running' && responded === null && r() < 0.3) state = 'running';
      clocks.push({
        id,
        seq,
        kind,
        state,
        start: iso(from),
        due: iso(due),
        responded: responded === null ? null : iso(responded),
        late,
        unit,
      });
      if (late === true || state === 'breached') {
        const u = r() < 0.25 ? (r() < 0.3 ? null : pick(UNITS)) : unit; // reassigned after the breach (or nobody then)
        alerts.push({ id: `alr-${id}-${seq}`, incident: id, clock: kind, due: iso(due), unit: u, retracted: null });
      } else if (late === false && r() < 0.06) {
        // A breach retracted: the response turned out to predate the due.
        alerts.push({ id: `alr-${id}-${seq}`, incident: id, clock: kind, due: iso(due), unit, retracted: iso(due + H) });
      }
    });
  }
  await db.execute(sql`insert into incidents (id, title, level, unit_id, status, start_at, state, created_at, updated_at)
    select id, title, level, unit, 'open', start::timestamptz, '{}'::jsonb, now(), now()
    from jsonb_to_recordset(${JSON.stringify(incidents)}::jsonb) as r(id text, title text, level text, unit text, start text)`);
  await db.execute(sql`insert into clocks (incident_id, seq, kind, state, start_at, due_at, responded_at, late, unit_id, updated_at)
    select id, seq, kind, state, start::timestamptz, due::timestamptz, responded::timestamptz, late, unit, now()
    from jsonb_to_recordset(${JSON.stringify(clocks)}::jsonb) as r(id text, seq int, kind text, state text, start text, due text,
      responded text, late boolean, unit text)`);
  await db.execute(sql`insert into alerts (id, incident_id, kind, clock, due_at, unit_id, at, retracted_at)
    select id, incident, 'breached', clock, due::timestamptz, unit, due::timestamptz, retracted::timestamptz
    from jsonb_to_recordset(${JSON.stringify(alerts)}::jsonb) as r(id text, incident text, clock text, due text, unit text, retracted text)`);
  for (let d = 0; d < 120; d++) {
    const kind = pick(DUTY_KINDS);
    const startMs = year0 + Math.floor(r() * 340 * 86_400_000);
    const due =
      r() < 0.1 ? at(`2026-${String(2 + Math.floor(r() * 10)).padStart(2, '0')}-01T00:00:00`).getTime() : startMs + 14 * 86_400_000;
    const x = r();
    const status = x < 0.5 ? 'met' : x < 0.7 ? 'met' : x < 0.85 ? (due < NOW.getTime() ? 'breached' : 'running') : 'running';
    const late = status === 'met' ? x >= 0.5 : null;
    const responded = status === 'met' ? (late ? due + 1 + Math.floor(r() * 100 * H) : due - 1 - Math.floor(r() * 100 * H)) : null;
    const suspended = status === 'running' && r() < 0.3;
    const state = {
      v: 1,
      id: `duty-${d}`,
      kind,
      startAt: startMs,
      dueAt: due,
      state: status,
      respondedAt: responded,
      late,
      suspension: suspended ? { since: startMs + 86_400_000, reason: 'third_party', remainingWorkingDays: 2 } : null,
    };
    await db.execute(sql`insert into obligations (id, kind, title, unit_id, state, status, due_at, created_at, updated_at)
      values (${`duty-${d}`}, ${kind}, ${`事项${d}`}, ${pick(UNITS)}, ${JSON.stringify(state)}::jsonb, ${status}, ${iso(due)}, now(), now())`);
    if (status === 'met' && late === false && r() < 0.1)
      await db.execute(sql`insert into alerts (id, obligation_id, kind, due_at, unit_id, at, retracted_at)
        values (${`alr-duty-${d}`}, ${`duty-${d}`}, 'breached', ${iso(due)}, null, ${iso(due)}, ${iso(due + H)})`);
  }
  return { incidents: incidents.length, clocks: clocks.length };
}

const month = (m: string) => {
  const [y, mm] = m.split('-').map(Number) as [number, number];
  const next = mm === 12 ? `${y + 1}-01` : `${y}-${String(mm + 1).padStart(2, '0')}`;
  return { from: at(`${m}-01T00:00:00`), to: at(`${next}-01T00:00:00`) };
};

const PERIODS: Record<string, Pick<StatsFilter, 'from' | 'to'>> = {
  'all time': {},
  '2026': { from: at('2026-01-01T00:00:00'), to: at('2027-01-01T00:00:00') },
  '2026-03..2026-06': { from: at('2026-03-01T00:00:00'), to: at('2026-07-01T00:00:00') },
  '2026-11': month('2026-11'),
  'since 2026-05': { from: at('2026-05-01T00:00:00') },
  'up to 2026-09': { to: at('2026-10-01T00:00:00') },
};
/** Not whole months: the whole months from the rollup, the edges from the deadlines (composed). */
const PARTIAL_PERIODS: Record<string, Pick<StatsFilter, 'from' | 'to'>> = {
  '2026-03-05..2026-06-17 14:30:00.250': { from: at('2026-03-05T00:00:00'), to: at('2026-06-17T14:30:00.250') },
  'since 2026-05-20 08:00': { from: at('2026-05-20T08:00:00') },
  'up to 2026-09-10': { to: at('2026-09-11T00:00:00') },
  '2026-11-03..2026-11-20 (inside one month)': { from: at('2026-11-03T00:00:00'), to: at('2026-11-21T00:00:00') },
  '2026-10-15..2026-11-10 (two months, none whole)': { from: at('2026-10-15T00:00:00'), to: at('2026-11-11T00:00:00') },
  '2025-12-20..2027-01-05 (a whole year inside)': { from: at('2025-12-20T00:00:00'), to: at('2027-01-06T00:00:00') },
};
const FILTERS: Record<string, Omit<StatsFilter, 'from' | 'to'>> = {
  none: {},
  'unit u1': { unit: 'u1' },
  'no unit': { unit: 'none' },
  'level I': { level: 'I' },
  ungraded: { level: 'ungraded' },
  'kind response': { kind: 'response' },
  'kind press_conference, unit u2': { kind: 'press_conference', unit: 'u2' },
  duties: { source: 'duty' },
  incidents: { source: 'incident' },
  'kind disclosure_request': { kind: 'disclosure_request' },
};
const BYS = ['all', 'unit', 'level', 'kind', 'month'] as const;

/** Exact where the definition is exact, within a minute where the rollup reads minute histograms. */
function expectSame(rolled: StatsRow[], exact: StatsRow[], what: string) {
  const strict = (r: StatsRow) => ({
    key: r.key,
    label: r.label,
    counts: [r.counted, r.onTime, r.late, r.breached, r.pending, r.retracted],
    onTimeRate: r.onTimeRate,
    overdue: [r.overdue.count, r.overdue.totalMs, r.overdue.maxMs],
    firstResponses: r.firstResponse.incidents,
    nulls: [r.overdue.medianMs === null, r.firstResponse.medianMs === null, r.firstResponse.p90Ms === null],
  });
  expect(rolled.map(strict), what).toEqual(exact.map(strict));
  rolled.forEach((r, i) => {
    const e = exact[i]!;
    for (const [a, b, name] of [
      [r.overdue.medianMs, e.overdue.medianMs, 'overdue median'],
      [r.firstResponse.medianMs, e.firstResponse.medianMs, 'first response median'],
      [r.firstResponse.p90Ms, e.firstResponse.p90Ms, 'first response p90'],
    ] as const) {
      if (a !== null && b !== null) expect(Math.abs(a - b), `${what} ${String(r.key)} ${name}: ${a} vs ${b}`).toBeLessThan(60_000);
    }
  });
}

/** After the first full comparison, the later ones check fewer filter × period combinations (time). */
const LITE_PERIODS = new Set([
  'all time',
  '2026',
  '2026-11',
  'since 2026-05',
  '2026-03-05..2026-06-17 14:30:00.250',
  '2026-10-15..2026-11-10 (two months, none whole)',
]);
const LITE_FILTERS = new Set(['none', 'unit u1', 'level I', 'kind press_conference, unit u2', 'duties']);

/**
 * groupStats answers from the rollup (rollupStats) when it can, else from the live tables. Each
 * test file replaces rollupStats with a spy on itself (vi.mock of ../src/stats/rollup.ts), so that every
 * comparison checks that the very call behind groupStats's figures answered from the rollup —
 * without asking the rollup a second time (that second call was a third of this suite's time).
 */
function rollupSpy() {
  if (!vi.isMockFunction(rollupStats)) throw new Error('stats-rollup.shared.ts: the test file must vi.mock ../src/stats/rollup.ts');
  return vi.mocked(rollupStats);
}

async function compareAll(db: Db, options: { scopes?: StatsScope[]; expectRollup?: boolean; lite?: boolean } = {}) {
  const spy = rollupSpy();
  let compared = 0;
  for (const scope of options.scopes ?? [{}, { unitId: 'u3' }])
    for (const [pName, period] of [...Object.entries(PERIODS), ...Object.entries(PARTIAL_PERIODS)])
      for (const [fName, filter] of Object.entries(FILTERS))
        for (const by of BYS) {
          if (options.lite && !(LITE_PERIODS.has(pName) && LITE_FILTERS.has(fName))) continue;
          // The composed periods with fewer filters and scopes (PGlite's time): every dimension.
          if (pName in PARTIAL_PERIODS && (!LITE_FILTERS.has(fName) || (!options.lite && scope.unitId))) continue;
          if (scope.unitId && filter.unit) continue;
          const f = { ...period, ...filter };
          const what = `${JSON.stringify(scope)} ${pName} ${fName} by ${by}`;
          spy.mockClear();
          const figures = await groupStats(db, NOW, scope, f, by);
          if (options.expectRollup !== false) {
            expect(spy.mock.calls, what).toHaveLength(1);
            expect(await spy.mock.results[0]!.value, what).not.toBeNull();
          }
          expectSame(figures, await exactGroupStats(db, NOW, scope, f, by), what);
          compared++;
        }
  return compared;
}

const totals = async (db: Db, f: StatsFilter = {}, scope: StatsScope = {}) => (await groupStats(db, NOW, scope, f, 'all'))[0]!;
const touch = (db: Db, id: string) => db.execute(sql`update incidents set updated_at = now() where id = ${id}`);

export function rollupSuite(name: string, open: () => Promise<{ db: Db; drop(): Promise<void> }>, seedValue = 20261130) {
  describe(name, () => {
    let handle: { db: Db; drop(): Promise<void> };
    let db: Db;
    beforeAll(async () => {
      handle = await open();
      db = handle.db;
      const seeded = await seed(db, seedValue);
      expect(seeded.incidents).toBe(400);
    }, 120_000);
    afterAll(async () => handle?.drop());

    it('before the first run every figure is read from the live tables', async () => {
      expect(await rollupStats(db, NOW, {}, {}, 'all')).toBeNull();
    });

    it('after a full run: rollup = the exact queries, for every dimension, filter, scope and period (whole months, and composed)', async () => {
      const report = await runRollup(db, { marginMs: 0 });
      expect(report).toMatchObject({ full: true });
      // The data set has what the rollup must get right: wide incidents, boundary months, reassigned and retracted breaches.
      const [shape] = rowsOf<{ wide: number; cells: number; frb: number }>(
        await db.execute(sql`select (select count(distinct ref_id) from stats_fact where wide)::int as wide,
          (select count(*) from stats_cell)::int as cells, (select count(*) from stats_cell where part = 'frAB')::int as frb`),
      );
      expect(shape!.wide).toBeGreaterThan(0);
      expect(shape!.frb).toBeGreaterThan(0);
      expect(await compareAll(db)).toBeGreaterThan(400);
    }, 300_000);

    it('a period that is not whole months is composed: whole months from the rollup, the edges from the deadlines', async () => {
      const f = { from: at('2026-03-05T00:00:00'), to: at('2026-06-01T00:00:00') };
      expect(await rollupStats(db, NOW, {}, f, 'unit')).not.toBeNull();
      expectSame(await groupStats(db, NOW, {}, f, 'unit'), await exactGroupStats(db, NOW, {}, f, 'unit'), 'unaligned');
      // Every day of March as its own period, and every stretch from a day to the end of the year: edges everywhere.
      for (let d = 1; d <= 31; d++) {
        const day = `2026-03-${String(d).padStart(2, '0')}`;
        const one = { from: at(`${day}T00:00:00`), to: new Date(at(`${day}T00:00:00`).getTime() + 86_400_000) };
        expectSame(await groupStats(db, NOW, {}, one, 'all'), await exactGroupStats(db, NOW, {}, one, 'all'), day);
        const rest = { from: at(`${day}T07:00:00`), to: at('2026-12-10T12:00:00') };
        expectSame(await groupStats(db, NOW, {}, rest, 'all'), await exactGroupStats(db, NOW, {}, rest, 'all'), `${day}..12-10`);
      }
    }, 120_000);

    it('changes after the watermark are counted at once: a late response, a reassigned breach, a retraction, a re-grade, a new incident, a dismissal', async () => {
      const before = await totals(db, month('2026-11'));
      // 1. A breached clock in November is answered now (late) — after its incident was reassigned:
      //    the breach stays with the unit on its alert.
      const [breached] = rowsOf<{ incident_id: string; seq: number; alert_unit: string | null; unit_id: string | null }>(
        await db.execute(sql`select c.incident_id, c.seq, a.unit_id as alert_unit, c.unit_id from clocks c
          join alerts a on a.incident_id = c.incident_id and a.clock = c.kind and a.due_at = c.due_at
          where c.state = 'breached' and c.due_at > ${month('2026-11').from.toISOString()} and c.due_at <= ${month('2026-11').to.toISOString()}
          order by c.incident_id, c.seq limit 1`),
      );
      expect(breached).toBeDefined();
      const newUnit = UNITS.find((u) => u !== breached!.unit_id && u !== breached!.alert_unit)!;
      await db.execute(sql`update incidents set unit_id = ${newUnit}, updated_at = now() where id = ${breached!.incident_id}`);
      await db.execute(sql`update clocks set unit_id = ${newUnit}, updated_at = now() where incident_id = ${breached!.incident_id}`);
      await db.execute(sql`update clocks set state = 'met', late = true, responded_at = ${NOW.toISOString()}::timestamptz - interval '1 hour',
        updated_at = now() where incident_id = ${breached!.incident_id} and seq = ${breached!.seq}`);
      const after = await totals(db, month('2026-11'));
      expect([after.breached, after.late]).toEqual([before.breached - 1, before.late + 1]);
      const byUnit = await groupStats(db, NOW, {}, month('2026-11'), 'unit');
      const exactByUnit = await exactGroupStats(db, NOW, {}, month('2026-11'), 'unit');
      expectSame(byUnit, exactByUnit, 'after the late response');

      // 2. A late response in another month turns out to predate the due: the breach is retracted.
      const [lateOne] = rowsOf<{ incident_id: string; seq: number; kind: string; due_at: Date | string }>(
        await db.execute(sql`select c.incident_id, c.seq, c.kind, c.due_at from clocks c
          where c.state = 'met' and c.late and c.incident_id <> ${breached!.incident_id} order by c.incident_id, c.seq limit 1`),
      );
      await db.execute(sql`update clocks set late = false, responded_at = due_at - interval '10 minutes', updated_at = now()
        where incident_id = ${lateOne!.incident_id} and seq = ${lateOne!.seq}`);
      await db.execute(sql`update alerts set retracted_at = now() where incident_id = ${lateOne!.incident_id} and kind = 'breached'
        and clock = ${lateOne!.kind} and due_at = ${new Date(lateOne!.due_at).toISOString()}`);
      await touch(db, lateOne!.incident_id);

      // 3. A re-grade that changes no clock row; 4. a dismissal (running → waived); 5. a new incident in November; 6. a duty answered late.
      await db.execute(sql`update incidents set level = case when level = 'III' then 'IV' else 'III' end, updated_at = now()
        where id = (select min(incident_id) from clocks where state = 'met' and not late)`);
      await db.execute(sql`update clocks set state = 'waived', updated_at = now()
        where (incident_id, seq) = (select incident_id, seq from clocks where state = 'running' order by incident_id, seq limit 1)`);
      await db.execute(sql`update incidents set updated_at = now() where id in (select incident_id from clocks where state = 'waived')`);
      await db.execute(sql`insert into incidents (id, title, level, unit_id, status, start_at, state, created_at, updated_at)
        values ('inc-new', '新事件', 'I', 'u1', 'open', ${at('2026-11-20T08:00:00').toISOString()}, '{}'::jsonb, now(), now())`);
      await db.execute(sql`insert into clocks (incident_id, seq, kind, state, start_at, due_at, responded_at, late, unit_id, updated_at) values
        ('inc-new', 1, 'release', 'met', ${at('2026-11-20T08:00:00').toISOString()}, ${at('2026-11-20T13:00:00').toISOString()},
          ${at('2026-11-20T09:30:00').toISOString()}, false, 'u1', now()),
        ('inc-new', 2, 'press_conference', 'breached', ${at('2026-11-20T08:00:00').toISOString()}, ${at('2026-11-21T08:00:00').toISOString()},
          null, null, 'u1', now())`);
      await db.execute(sql`insert into alerts (id, incident_id, kind, clock, due_at, unit_id, at)
        values ('alr-inc-new', 'inc-new', 'breached', 'press_conference', ${at('2026-11-21T08:00:00').toISOString()}, 'u1', now())`);
      await db.execute(sql`update obligations set status = 'met', state = state || jsonb_build_object('respondedAt', ${NOW.getTime() - H}::bigint,
        'late', true, 'state', 'met'), updated_at = now() where id = (select min(id) from obligations where status = 'breached')`);

      const total = await totals(db, month('2026-11'));
      expect(total.counted).toBe(after.counted + 2); // inc-new's two clocks
      expect(await compareAll(db, { scopes: [{}, { unitId: 'u1' }], lite: true })).toBeGreaterThan(150);
    }, 300_000);

    it('an incremental run takes the changes in; two runs at once do not count anything twice', async () => {
      const r1 = await runRollup(db, { marginMs: 0 });
      expect(r1).toMatchObject({ full: false });
      // Five incidents and duties changed deadlines; the dismissal only ended a running clock (live, never rolled up).
      expect(r1!.changed).toBe(5);
      // Nothing is left for the live remainder: the watermark covers every change.
      expect((await runRollup(db, { marginMs: 0 }))!.changed).toBe(0);
      await compareAll(db, { scopes: [{}], lite: true });

      // Another change, then two runs at the same time (as two API processes would).
      await db.execute(sql`with c as (update clocks set state = 'met', late = true, responded_at = ${NOW.toISOString()}, updated_at = now()
          where (incident_id, seq) = (select incident_id, seq from clocks where state = 'breached' order by incident_id desc, seq limit 1)
          returning incident_id)
        update incidents set updated_at = now() where id in (select incident_id from c)`);
      const runs = await Promise.all([runRollup(db, { marginMs: 0 }), runRollup(db, { marginMs: 0 })]);
      // Either one skipped (the other held the lock) or they ran one after the other and the second found nothing new.
      const applied = runs.filter((r) => r !== null && r.changed > 0);
      expect(applied).toHaveLength(1);
      // A wide margin: the same changes are looked at again by every run, and move nothing the second time.
      await runRollup(db, { marginMs: 24 * H });
      await runRollup(db, { marginMs: 24 * H });
      await runRollup(db, { marginMs: 0 });
      await compareAll(db, { scopes: [{}, { unitId: 'u1' }], lite: true });
    }, 300_000);

    it('a full rebuild gives the same cells as the incremental runs', async () => {
      const cells = async () =>
        rowsOf<{ k: string }>(
          await db.execute(sql`select part || month || unit || level || kind || data::text || coalesce(h1, '') || coalesce(h2, '') as k
          from stats_cell order by part, month, unit, level, kind`),
        ).map((r) => r.k);
      const incremental = await cells();
      await runRollup(db, { full: true, marginMs: 0 });
      const rebuilt = await cells();
      // The kept maxima lists may differ in order of equal values only; compare as multisets of rows.
      expect(rebuilt.length).toBe(incremental.length);
      expect([...rebuilt].sort()).toEqual([...incremental].sort());
    }, 120_000);

    it('scheduled (as app.ts does): a run takes a change in without anyone asking, and stopping waits for the run', async () => {
      // The engine writes a clock and its incident together; so does this.
      await db.execute(sql`with c as (update clocks set state = 'met', late = true, responded_at = ${NOW.toISOString()}, updated_at = now()
          where (incident_id, seq) = (select incident_id, seq from clocks where state = 'breached' order by incident_id, seq limit 1)
          returning incident_id)
        update incidents set updated_at = now() where id in (select incident_id from c)`);
      const dirty = async () =>
        rowsOf<{ n: number }>(
          await db.execute(sql`select count(*)::int as n from incidents where updated_at > (select watermark from stats_rollup_state)`),
        )[0]!.n;
      expect(await dirty()).toBeGreaterThan(0);
      const errors: unknown[] = [];
      const stop = scheduleRollup(db, { firstAfterMs: 0, intervalMs: 3_600_000, marginMs: 0, onError: (e) => errors.push(e) });
      const deadline = Date.now() + 60_000;
      while ((await dirty()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await stop();
      expect(errors).toEqual([]);
      expect(await dirty()).toBe(0);
      expectSame(await groupStats(db, NOW, {}, {}, 'unit'), await exactGroupStats(db, NOW, {}, {}, 'unit'), 'after the scheduled run');
    }, 120_000);
  });
}

export { NOW as ROLLUP_TEST_NOW };
