/**
 * The rollup's incremental run costs what changed (migration 0024), on the real PostgreSQL:
 * - a run looks only at the incidents changed since the watermark that it has not rolled up at
 *   their current row version (stats_seen) — the changes inside the watermark's margin are not
 *   looked at again by every run, nor read live by every request, once a run has taken them in;
 * - with LISTEN, a run follows a change to incidents within seconds (not at the next minute);
 * - kept maxima emptied by a burst of answers to the earliest breaches are read again in one
 *   statement, and the touched cells' histograms are merged, not rebuilt: the cells equal a full
 *   rebuild's, and the figures the exact queries'.
 */
import { type Db, rowsOf, sql } from '@huiying/db';
import { freshDatabase } from '@huiying/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exactGroupStats, groupStats, type StatsFilter } from '../src/stats/queries.ts';
import { runRollup, scheduleRollup } from '../src/stats/rollup.ts';

const H = 3_600_000;
const at = (local: string) => new Date(`${local}+08:00`);
const NOW = at('2026-12-15T10:00:00');
const YEAR: StatsFilter = { from: at('2026-01-01T00:00:00'), to: at('2027-01-01T00:00:00') };
const JANUARY: StatsFilter = { from: at('2026-01-01T00:00:00'), to: at('2026-02-01T00:00:00') };
/** The margin keeps every change of this test after the watermark (as the 5 minutes do in production). */
const WIDE = { marginMs: 24 * H };

let handle: Awaited<ReturnType<typeof freshDatabase>>;
let db: Db;

const cells = async () =>
  rowsOf<{ k: string }>(
    await db.execute(sql`select part || month || unit || level || kind || data::text || coalesce(h1, '') || coalesce(h2, '') as k
      from stats_cell order by 1`),
  ).map((r) => r.k);
const seen = async () => rowsOf<{ n: number }>(await db.execute(sql`select count(*)::int as n from stats_seen`))[0]!.n;

function expectExact(a: Awaited<ReturnType<typeof groupStats>>, b: Awaited<ReturnType<typeof groupStats>>) {
  const strict = (r: (typeof a)[number]) => [
    r.key,
    r.counted,
    r.onTime,
    r.late,
    r.breached,
    r.overdue.count,
    r.overdue.totalMs,
    r.overdue.maxMs,
  ];
  expect(a.map(strict)).toEqual(b.map(strict));
}

/** Answer (late, now) the `n` earliest breaches of 2026, writing the incidents as the engine does. */
async function answerEarliest(n: number) {
  await db.execute(sql`with c as (update clocks set state = 'met', late = true, responded_at = ${NOW.toISOString()}, updated_at = now()
      where (incident_id, seq) in (select incident_id, seq from clocks where state = 'breached' order by due_at limit ${n})
      returning incident_id)
    update incidents set updated_at = now() where id in (select incident_id from c)`);
}

describe('the rollup run in proportion to what changed', () => {
  beforeAll(async () => {
    handle = await freshDatabase();
    db = handle.db;
    await db.execute(sql`insert into units (id, name) values ('u1', '单位1'), ('u2', '单位2')`);
    // 120 incidents in January (every 6 h), one 48 h clock each: 60 breached (more than the 16
    // earliest dues a cell keeps), 30 late, 30 on time; half u1, half u2.
    await db.execute(sql`insert into incidents (id, title, level, unit_id, status, start_at, state, created_at, updated_at)
      select 'inc' || lpad(g::text, 3, '0'), '事件' || g, case when g % 3 = 0 then 'III' else 'IV' end, 'u' || (1 + g % 2), 'open',
        ${at('2026-01-01T00:00:00').toISOString()}::timestamptz + (g - 1) * interval '6 hours', '{}'::jsonb, now(), now()
      from generate_series(1, 120) g`);
    await db.execute(sql`insert into clocks (incident_id, seq, kind, state, start_at, due_at, responded_at, late, unit_id, updated_at)
      select i.id, 1, 'response', case when g % 4 < 2 then 'breached' else 'met' end, i.start_at, i.start_at + interval '48 hours',
        case when g % 4 = 2 then i.start_at + interval '60 hours' when g % 4 = 3 then i.start_at + interval '20 hours' end,
        case when g % 4 = 2 then true when g % 4 = 3 then false end, i.unit_id, now()
      from incidents i cross join lateral (select substr(i.id, 4)::int as g) x`);
    await db.execute(sql`insert into alerts (id, incident_id, kind, clock, due_at, unit_id, at)
      select 'alr_' || c.incident_id, c.incident_id, 'breached', c.kind, c.due_at, c.unit_id, c.due_at
      from clocks c where c.state = 'breached' or c.late`);
  }, 60_000);
  afterAll(async () => handle?.drop());

  it('a full run marks what it read after the watermark as rolled up: the next run looks at nothing', async () => {
    expect(await runRollup(db, WIDE)).toMatchObject({ full: true });
    expect(await seen()).toBe(120);
    expect(await runRollup(db, WIDE)).toMatchObject({ full: false, examined: 0, changed: 0 });
  });

  it('a burst of answers to the earliest breaches: only they are looked at, once; the cells equal a full rebuild', async () => {
    await answerEarliest(40);
    expectExact(await groupStats(db, NOW, {}, YEAR, 'unit'), await exactGroupStats(db, NOW, {}, YEAR, 'unit'));
    const run = await runRollup(db, WIDE);
    expect(run).toMatchObject({ full: false, examined: 40, changed: 40 });
    // Still inside the margin, but rolled up at their current version: not looked at again.
    expect(await runRollup(db, WIDE)).toMatchObject({ examined: 0, changed: 0 });
    for (const by of ['unit', 'all', 'level'] as const)
      for (const f of [YEAR, JANUARY]) expectExact(await groupStats(db, NOW, {}, f, by), await exactGroupStats(db, NOW, {}, f, by));
    // Every earliest-due list of January lost its first entries and was read again; the histograms were merged.
    const incremental = await cells();
    await runRollup(db, { ...WIDE, full: true });
    expect([...(await cells())].sort()).toEqual([...incremental].sort());
  });

  it('a change to a rolled-up incident is looked at again (a new row version), and the figures follow it', async () => {
    await db.execute(sql`update incidents set level = 'I', updated_at = now() where id = 'inc001'`);
    expectExact(await groupStats(db, NOW, {}, YEAR, 'level'), await exactGroupStats(db, NOW, {}, YEAR, 'level'));
    expect(await runRollup(db, WIDE)).toMatchObject({ examined: 1, changed: 1 });
    expectExact(await groupStats(db, NOW, {}, YEAR, 'level'), await exactGroupStats(db, NOW, {}, YEAR, 'level'));
  });

  it('with LISTEN, a change to incidents is rolled up within seconds, not at the next scheduled run', async () => {
    const unrolled = async () =>
      rowsOf<{ n: number }>(
        await db.execute(sql`select count(*)::int as n from incidents t where updated_at > (select watermark from stats_rollup_state)
          and not exists (select 1 from stats_seen s where s.source = 'incident' and s.ref_id = t.id and s.row_version = t.xmin::text)`),
      )[0]!.n;
    const errors: unknown[] = [];
    const stop = scheduleRollup(db, {
      ...WIDE,
      firstAfterMs: 3_600_000,
      intervalMs: 3_600_000,
      listen: handle.listen,
      promptAfterMs: 50,
      onError: (e) => errors.push(e),
    });
    try {
      // LISTEN is set up asynchronously: touch the answered incident again until a run has followed a notification.
      await answerEarliest(1);
      const deadline = Date.now() + 30_000;
      while ((await unrolled()) > 0 && Date.now() < deadline) {
        await db.execute(
          sql`update incidents set updated_at = now() where id = (select max(id) from incidents where updated_at > now() - interval '1 minute')`,
        );
        for (let i = 0; i < 20 && (await unrolled()) > 0; i++) await new Promise((r) => setTimeout(r, 100));
      }
      expect(await unrolled()).toBe(0);
    } finally {
      await stop();
    }
    expect(errors).toEqual([]);
    expectExact(await groupStats(db, NOW, {}, YEAR, 'unit'), await exactGroupStats(db, NOW, {}, YEAR, 'unit'));
  });

  it('what the watermark has passed is forgotten', async () => {
    expect(await seen()).toBeGreaterThan(0);
    await runRollup(db, { marginMs: 0 });
    expect(await seen()).toBe(0);
    expectExact(await groupStats(db, NOW, {}, YEAR, 'unit'), await exactGroupStats(db, NOW, {}, YEAR, 'unit'));
  });
});
