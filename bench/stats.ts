/**
 * Leaders' statistics benchmark: one year of figures by unit over 1 000 000 incidents.
 *
 *     node --import tsx bench/stats.ts [--incidents 1000000] [--units 60] [--runs 3] [--pg-url URL] [--keep-db]
 *
 * (each option also as env BENCH_<NAME>, e.g. BENCH_INCIDENTS.)
 *
 * 1. Creates `huiying_bench_stats_<random>` and migrates it (so the 0008 statistics indexes are there).
 * 2. Seeds, server-side with generate_series (no round trip per row), every incident starting in
 *    2026 (Asia/Shanghai) — the worst case for "one year": the year covers every row:
 *    - 95 % graded I/II from 待研判: a cancelled `response` clock, a 5 h `release` and a 24 h
 *      `press_conference` (3 clock rows); 5 % III/IV/ungraded: one 48 h `response`
 *      → ≈ 2 900 000 clock rows;
 *    - per live clock: 80 % met on time, 12 % met late (by up to 24 h), 6 % breached and still
 *      open, 2 % waived; a breach alert for every late or breached clock, 10 % of them with
 *      another unit than the incident's current one (reassigned after the breach), 1 % retracted;
 *    - 50 000 working-day duties of the five kinds, the same outcome mix;
 *    then VACUUM ANALYZE, as autovacuum would have done on a live database. Rows were last written
 *    "before the run" (updated_at an hour and more before now, in the order of their start), as on a
 *    live database.
 * 3. Runs the statistics rollup as the API's scheduled job does (its first run builds everything) and
 *    prints how long that catch-up took.
 * 4. Times groupStats(by unit, 2026) — exactly what GET /api/stats/breakdown?by=unit&from=2026-01-01&to=2026-12-31
 *    runs — `--runs` times; then answers 500 breaches "now" (after the rollup's watermark, so every
 *    request adds them live) and times it again; runs the job once more (incremental); then the
 *    year totals, one month by unit (checked against the exact queries over the live tables) and a
 *    drill-down page, and prints the figures (the totals and the first units).
 * 5. Drops the database (unless --keep-db).
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as PgNs from 'pg';
import { openPostgres, rowsOf, sql } from '../packages/db/src/index.ts';
import { exactGroupStats, groupStats, listItems } from '../services/api/src/stats/queries.ts';
import { runRollup } from '../services/api/src/stats/rollup.ts';

const argv = process.argv.slice(2);
function option(name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === `--${name}`) {
      const next = argv[i + 1];
      return next === undefined || next.startsWith('--') ? 'true' : next;
    }
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
  }
  return process.env[`BENCH_${name.toUpperCase().replaceAll('-', '_')}`];
}
function numberOption(name: string, fallback: number): number {
  const raw = option(name);
  if (raw === undefined) return fallback;
  const n = Number(raw.replaceAll('_', ''));
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${JSON.stringify(raw)}`);
  return n;
}

const INCIDENTS = Math.floor(numberOption('incidents', 1_000_000));
const UNITS = Math.floor(numberOption('units', 60));
const RUNS = Math.floor(numberOption('runs', 3));
const PG_URL = option('pg-url') ?? 'postgres://postgres@127.0.0.1:5432';
const KEEP_DB = option('keep-db') === 'true';

const YEAR_FROM = new Date('2026-01-01T00:00:00+08:00');
const YEAR_TO = new Date('2027-01-01T00:00:00+08:00');
/** "Now" for the figures: after the year, so every due of 2026 is past. */
const NOW = new Date('2027-01-05T10:00:00+08:00');

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const pct = (r: number | null) => (r === null ? '   —  ' : `${(r * 100).toFixed(1).padStart(5)}%`);
const h = (v: number | null) => (v === null ? '—' : `${(v / 3_600_000).toFixed(1)} h`);

// pg is a dependency of packages/db, not of the root.
const pg = createRequire(new URL('../packages/db/package.json', import.meta.url))('pg') as typeof PgNs;

async function main() {
  const name = `huiying_bench_stats_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: `${PG_URL.replace(/\/$/, '')}/postgres` });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const url = `${PG_URL.replace(/\/$/, '')}/${name}`;
  const handle = openPostgres(url, { max: 2 });
  console.log(`database ${name}: ${INCIDENTS} incidents, ${UNITS} units, year 2026`);
  try {
    await handle.migrate();
    const { db } = handle;
    let t0 = process.hrtime.bigint();
    await db.execute(sql`select setseed(0.2026)`);
    await db.execute(
      sql`insert into units (id, name) select 'u' || lpad(g::text, 3, '0'), '单位' || g from generate_series(1, ${UNITS}) g`,
    );
    // One row per incident with its draws; start spread evenly over the year.
    await db.execute(sql`
      create unlogged table bench_draw as
      select g, 'inc' || g as id,
        ${YEAR_FROM.toISOString()}::timestamptz + (g - 1) * (interval '365 days' / ${INCIDENTS}) as start_at,
        'u' || lpad((1 + floor(random() * ${UNITS}))::int::text, 3, '0') as unit_id,
        random() as r_level
      from generate_series(1, ${INCIDENTS}) g`);
    await db.execute(sql`
      insert into incidents (id, title, level, unit_id, status, start_at, state, created_at, updated_at)
      select id, '舆情事件 ' || g,
        case when r_level < 0.475 then 'I' when r_level < 0.95 then 'II' when r_level < 0.97 then 'III' when r_level < 0.99 then 'IV' end,
        unit_id, 'open', start_at, '{}'::jsonb, start_at, now() - interval '1 hour' - (${YEAR_TO.toISOString()}::timestamptz - start_at) / 2
      from bench_draw`);
    // Clock rows: (seq, kind, span) per incident, then an outcome per live clock.
    await db.execute(sql`
      insert into clocks (incident_id, seq, kind, state, start_at, due_at, responded_at, late, unit_id, updated_at)
      select d.id, k.seq, k.kind,
        case when k.cancelled then 'cancelled' when o.r < 0.80 then 'met' when o.r < 0.92 then 'met' when o.r < 0.98 then 'breached' else 'waived' end,
        d.start_at, d.start_at + k.span,
        case when k.cancelled then null
             when o.r < 0.80 then d.start_at + k.span * (0.05 + 0.9 * o.r2)
             when o.r < 0.92 then d.start_at + k.span + interval '24 hours' * o.r2 end,
        case when k.cancelled then null when o.r < 0.80 then false when o.r < 0.92 then true end,
        d.unit_id, now() - interval '1 hour' - (${YEAR_TO.toISOString()}::timestamptz - d.start_at) / 2
      from bench_draw d
      cross join lateral (
        select * from (values
          (1, 'response', interval '48 hours', d.r_level < 0.95),
          (2, 'release', interval '5 hours', false),
          (3, 'press_conference', interval '24 hours', false)) as k(seq, kind, span, cancelled)
        where d.r_level < 0.95 or k.seq = 1
      ) k
      -- Two uniform draws per clock from a hash of its key (random() in a lateral is not re-evaluated per row).
      cross join lateral (select (hashtext(d.id || ':' || k.seq) & 2147483647) / 2147483647.0 as r,
        (hashtext(k.seq || ':' || d.id) & 2147483647) / 2147483647.0 as r2) o`);
    await db.execute(sql`
      insert into alerts (id, incident_id, kind, clock, due_at, unit_id, at, retracted_at)
      select 'alr_' || c.incident_id || '_' || c.seq, c.incident_id, 'breached', c.kind, c.due_at,
        case when random() < 0.1 then 'u' || lpad((1 + floor(random() * ${UNITS}))::int::text, 3, '0') else c.unit_id end,
        c.due_at, null
      from clocks c where c.state = 'breached' or c.late`);
    // A few breaches retracted: the response turned out to predate the due.
    await db.execute(sql`
      with r as (select incident_id, seq from clocks where late and random() < 0.01)
      update clocks c set late = false, responded_at = c.due_at - interval '10 minutes' from r where r.incident_id = c.incident_id and r.seq = c.seq`);
    await db.execute(sql`
      update alerts a set retracted_at = a.due_at + interval '1 hour' from clocks c
      where c.incident_id = a.incident_id and c.kind = a.clock and c.due_at = a.due_at and c.state = 'met' and not c.late`);
    await db.execute(sql`
      insert into obligations (id, kind, title, unit_id, state, status, due_at, created_at, updated_at)
      select 'duty' || g, (array['policy_interpretation', 'service_change', 'proposal_reply', 'penalty_disclosure', 'disclosure_request'])[1 + g % 5],
        '工作日时限事项 ' || g, 'u' || lpad((1 + g % ${UNITS})::text, 3, '0'),
        jsonb_build_object('v', 1, 'startAt', (extract(epoch from s) * 1000)::bigint, 'dueAt', (extract(epoch from s + interval '14 days') * 1000)::bigint,
          'respondedAt', case when r < 0.92 then (extract(epoch from s + interval '14 days' * (0.1 + r)) * 1000)::bigint end,
          'late', case when r < 0.80 then false when r < 0.92 then true end, 'suspension', null),
        case when r < 0.92 then 'met' else 'breached' end, s + interval '14 days', s, now() - interval '1 hour' - (${YEAR_TO.toISOString()}::timestamptz - s) / 2
      from (select g, ${YEAR_FROM.toISOString()}::timestamptz + (g - 1) * (interval '340 days' / 50000) as s, random() as r
            from generate_series(1, 50000) g) x`);
    await db.execute(sql`drop table bench_draw`);
    const seeded = ms(t0);
    t0 = process.hrtime.bigint();
    await db.execute(sql`vacuum analyze`);
    const vacuumed = ms(t0);
    const [counts] = rowsOf<Record<string, string>>(
      await db.execute(sql`select (select count(*) from incidents) as incidents, (select count(*) from clocks) as clocks,
        (select count(*) from alerts) as alerts, (select count(*) from obligations) as duties,
        pg_size_pretty(pg_database_size(current_database())) as size`),
    );
    console.log(
      `seeded ${counts?.incidents} incidents, ${counts?.clocks} clocks, ${counts?.alerts} breach alerts, ${counts?.duties} duties ` +
        `(${counts?.size}) in ${(seeded / 1000).toFixed(1)} s; vacuum analyze ${(vacuumed / 1000).toFixed(1)} s`,
    );

    // The rollup as production runs it: the first run of the scheduled job builds everything.
    t0 = process.hrtime.bigint();
    const built = await runRollup(db);
    console.log(`rollup catch-up (first run: ${built?.examined} deadlines, ${built?.cells} cells) in ${(ms(t0) / 1000).toFixed(1)} s`);
    t0 = process.hrtime.bigint();
    await db.execute(sql`analyze stats_fact`);
    await db.execute(sql`analyze stats_cell`);
    console.log(`analyze of the rollup tables: ${(ms(t0) / 1000).toFixed(1)} s`);

    const filter = { from: YEAR_FROM, to: YEAR_TO };
    let rows: Awaited<ReturnType<typeof groupStats>> = [];
    const timeYear = async (what: string) => {
      const times: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const t = process.hrtime.bigint();
        rows = await groupStats(db, NOW, {}, filter, 'unit');
        times.push(ms(t));
        console.log(`  run ${i + 1}: one year of statistics by unit (${rows.length} units) in ${times[i]!.toFixed(0)} ms`);
      }
      console.log(`  ${what}: target ≤ 300 ms; best ${Math.min(...times).toFixed(0)} ms, worst ${Math.max(...times).toFixed(0)} ms`);
    };
    console.log('nothing changed since the rollup:');
    await timeYear('nothing changed since the rollup');

    // Responses recorded "a second ago", after the watermark: the live remainder of every request.
    const CHANGED = 500;
    await db.execute(sql`
      with b as (select incident_id, seq from clocks where state = 'breached' order by incident_id, seq limit ${CHANGED})
      update clocks c set state = 'met', late = true, responded_at = now(), updated_at = now() from b
      where b.incident_id = c.incident_id and b.seq = c.seq`);
    await db.execute(
      sql`update incidents set updated_at = now() where id in (select incident_id from clocks where updated_at > now() - interval '1 minute')`,
    );
    console.log(`${CHANGED} breaches answered after the rollup's watermark (read live by every request):`);
    await timeYear(`${CHANGED} changed since the rollup`);
    t0 = process.hrtime.bigint();
    const caught = await runRollup(db);
    console.log(
      `incremental rollup run: ${caught?.examined} incidents and duties looked at, ${caught?.changed} changed, in ${ms(t0).toFixed(0)} ms`,
    );

    let t = process.hrtime.bigint();
    const [totals] = await groupStats(db, NOW, {}, filter, 'all');
    console.log(`year totals alone: ${ms(t).toFixed(0)} ms`);
    const november = { from: new Date('2026-11-01T00:00:00+08:00'), to: new Date('2026-12-01T00:00:00+08:00') };
    t = process.hrtime.bigint();
    const month = await groupStats(db, NOW, {}, november, 'unit');
    console.log(`one month (2026-11) by unit: ${ms(t).toFixed(0)} ms (${month.length} units)`);
    t = process.hrtime.bigint();
    const exact = await exactGroupStats(db, NOW, {}, november, 'unit');
    const figures = (rs: typeof month) =>
      JSON.stringify(
        rs.map((r) => [r.key, r.counted, r.onTime, r.late, r.breached, r.overdue.totalMs, r.overdue.maxMs, r.firstResponse.incidents]),
      );
    console.log(
      `  the same from the live tables (the reference, exactGroupStats): ${ms(t).toFixed(0)} ms; ` +
        `counts, overdue total/max and first-response counts ${figures(month) === figures(exact) ? 'equal' : 'DIFFER'}`,
    );
    if (figures(month) !== figures(exact)) process.exitCode = 1;
    t = process.hrtime.bigint();
    const drill = await listItems(db, NOW, {}, { ...november, unit: 'u001' }, { outcome: 'breached', limit: 50, offset: 0 });
    console.log(`drill-down, one unit's open breaches of 2026-11, first page: ${ms(t).toFixed(0)} ms (${drill.total} rows)`);

    const line = (r: (typeof rows)[number]) =>
      `${r.label.padEnd(8)} ${String(r.counted).padStart(8)} ${String(r.onTime).padStart(8)} ${String(r.late).padStart(7)} ${String(r.breached).padStart(7)} ` +
      `${pct(r.onTimeRate)}  overdue max ${h(r.overdue.maxMs).padStart(9)}  first response median ${h(r.firstResponse.medianMs)} p90 ${h(r.firstResponse.p90Ms)}`;
    console.log('\nunit       counted  on time    late breached  rate');
    if (totals) console.log(line(totals));
    for (const r of rows.slice(0, 10)) console.log(line(r));
    if (rows.length > 10) console.log(`… ${rows.length - 10} more units`);
  } finally {
    await handle.close();
    if (KEEP_DB) console.log(`kept database ${name}`);
    else await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
