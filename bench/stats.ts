/**
 * Leaders' statistics benchmark: one year of figures by unit over 1 000 000 incidents.
 *
 *     node --import tsx bench/stats.ts [--incidents 1000000] [--units 60] [--runs 3] [--pg-url URL] [--keep-db] [--db NAME] [--year-only]
 *
 * (each option also as env BENCH_<NAME>, e.g. BENCH_INCIDENTS.) `--db NAME` reuses a database kept by an
 * earlier `--keep-db` run: no seeding and no catch-up (minutes), the job's incremental run first.
 * `--year-only` stops after the year by unit and the job's runs (steps 1–4 up to the totals; no ladder
 * snapshots, which only the candidates read).
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
 * 4. Starts the real API (buildApp on this database, listening on a local port, the minute rollup off:
 *    the bench runs the job itself; its business clock runs from 2027-01-05 10:00 +08:00), logs in
 *    a leader and times `GET /api/stats/breakdown?by=unit&from=2026-01-01&to=2026-12-31` with the
 *    session cookie over HTTP, `--runs` times (wall time to the parsed body; this process's CPU — the
 *    server and the client — and the database backends' CPU), then `groupStats(by unit, 2026)` as a
 *    function call, labelled so; then answers 50 and 500 breaches "now" (after the rollup's
 *    watermark, so every request adds them live) and times both again, the 500 case's HTTP figures
 *    checked against the exact queries over the live tables at the response's `generatedAt`; runs
 *    the job once more (incremental); then the year totals, one month by unit (checked against the
 *    exact queries) and a drill-down page, and prints the figures (the totals and the first units).
 * 5. Drops the database (unless --keep-db).
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import type * as PgNs from 'pg';
import { EmbeddedBus } from '../packages/bus/src/index.ts';
import { scaledClock, systemClock } from '../packages/clock/src/index.ts';
import { type Db, openPostgres, rowsOf, type SQL, sql } from '../packages/db/src/index.ts';
import { DEFAULT_LADDER_PACK, DEFAULT_RULE_PACK, ladderSnapshot, periodRange } from '../packages/domain/src/index.ts';
import { createUser } from '../packages/identity/src/index.ts';
import { type AppDeps, buildApp } from '../services/api/src/index.ts';
import { exactGroupStats, groupStats, listItems, type StatsRow } from '../services/api/src/stats/queries.ts';
import { runRollup } from '../services/api/src/stats/rollup.ts';
import { cpuSeconds } from './proc-stat.ts';
import { loadInterviewCandidates, loadReportCandidates } from '../services/engine/src/candidates.ts';
import { CalendarService, RulePackHolder } from '../services/engine/src/index.ts';

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
const REUSE_DB = option('db');
const KEEP_DB = option('keep-db') === 'true' || REUSE_DB !== undefined;
/** Stop after the year by unit (and the job's runs): no totals, month, composed period or candidates. */
const YEAR_ONLY = option('year-only') === 'true';

const YEAR_FROM = new Date('2026-01-01T00:00:00+08:00');
const YEAR_TO = new Date('2027-01-01T00:00:00+08:00');
/** "Now" for the figures: after the year, so every due of 2026 is past. */
const NOW = new Date('2027-01-05T10:00:00+08:00');

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const pct = (r: number | null) => (r === null ? '   —  ' : `${(r * 100).toFixed(1).padStart(5)}%`);
const h = (v: number | null) => (v === null ? '—' : `${(v / 3_600_000).toFixed(1)} h`);

// pg is a dependency of packages/db, not of the root.
const pg = createRequire(new URL('../packages/db/package.json', import.meta.url))('pg') as typeof PgNs;
const pino = createRequire(new URL('../services/api/package.json', import.meta.url))('pino') as (o: { level: string }) => AppDeps['logger'];

/** utime + stime of a process in ms (0 when gone). */
const procCpuMs = (pid: number) => cpuSeconds(pid) * 1000;
const p50 = (xs: readonly number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
/** Seeds the data set (step 2) and runs the catch-up (step 3). */
async function seedAndCatchUp(db: Db) {
  let t0 = process.hrtime.bigint();
  await db.execute(sql`select setseed(0.2026)`);
  await db.execute(sql`insert into units (id, name) select 'u' || lpad(g::text, 3, '0'), '单位' || g from generate_series(1, ${UNITS}) g`);
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
}
const loadavg = () =>
  `load ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`;

/**
 * Incidents and duties changed since the rollup's watermark: all of them, and those not yet rolled
 * up at their current version (stats_seen) — what every request reads live.
 */
async function pendingCount(db: Db): Promise<string> {
  const [r] = rowsOf<{ n: number; live: number }>(
    await db.execute(sql`select (select count(*) from incidents where updated_at > s.watermark)::int
      + (select count(*) from obligations where updated_at > s.watermark)::int as n,
      (select count(*) from incidents t where updated_at > s.watermark and not exists (select 1 from stats_seen x
        where x.source = 'incident' and x.ref_id = t.id and x.row_version = t.xmin::text))::int
      + (select count(*) from obligations t where updated_at > s.watermark and not exists (select 1 from stats_seen x
        where x.source = 'duty' and x.ref_id = t.id and x.row_version = t.xmin::text))::int as live
      from stats_rollup_state s`),
  );
  return `${r?.n ?? 0} incidents and duties changed since the rollup's watermark, ${r?.live ?? 0} of them not rolled up yet (read live)`;
}

/**
 * The clocks' and duties' ladder snapshots, as the engine stores them (the default pack), for the
 * 通报 candidates — on the incidents with a breached or late clock (the only ones the candidate
 * query reads) and on every duty. Once per database.
 */
async function seedLadders(db: Db) {
  const [has] = rowsOf<{ n: number }>(await db.execute(sql`select count(*)::int as n from incidents where state ? 'clocks'`));
  if ((has?.n ?? 0) > 0) return;
  const t0 = process.hrtime.bigint();
  const ladders = Object.fromEntries(
    (['release', 'press_conference', 'response', 'policy_interpretation'] as const).map((k) => [k, ladderSnapshot(DEFAULT_LADDER_PACK, k)]),
  );
  const msOf = (col: SQL) => sql`(extract(epoch from ${col}) * 1000)::bigint`;
  await db.execute(sql`
    update incidents i set state = jsonb_build_object('id', i.id, 'clocks', x.clocks)
    from (select c.incident_id, jsonb_agg(jsonb_build_object('seq', c.seq, 'kind', c.kind, 'state', c.state, 'dueAt', ${msOf(sql`c.due_at`)},
        'ladder', jsonb_build_object('ladder', ${JSON.stringify(ladders)}::jsonb -> c.kind,
          'progress', jsonb_build_object('since', ${msOf(sql`c.start_at`)}, 'through', ${msOf(sql`c.due_at`)}),
          'unit', c.unit_id, 'assignedAt', ${msOf(sql`c.start_at`)}, 'done', c.state not in ('running', 'breached'))) order by c.seq) as clocks
      from clocks c
      where c.incident_id in (select incident_id from clocks where state = 'breached' or (state = 'met' and late))
      group by c.incident_id) x
    where x.incident_id = i.id`);
  // The clocks' 通报-candidacy instant (migration 0029) from the snapshots just written: the engine
  // writes it with each clock; here the database's trigger fills it when set to null.
  await db.execute(sql`
    update clocks set report_candidacy_at = null
    where incident_id in (select incident_id from clocks where state = 'breached' or (state = 'met' and late))`);
  await db.execute(sql`
    update obligations set state = state || jsonb_build_object('ladder', jsonb_build_object(
      'ladder', ${JSON.stringify(ladders.policy_interpretation)}::jsonb, 'progress', jsonb_build_object('since', (state->>'startAt')::bigint)))`);
  await db.execute(sql`vacuum analyze incidents`);
  await db.execute(sql`vacuum analyze obligations`);
  console.log(`ladder snapshots on the incidents with a breached or late clock and on every duty: ${(ms(t0) / 1000).toFixed(1)} s`);
}

async function main() {
  const name = REUSE_DB ?? `huiying_bench_stats_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`--db must be a plain database name, got ${JSON.stringify(name)}`);
  const admin = new pg.Client({ connectionString: `${PG_URL.replace(/\/$/, '')}/postgres` });
  await admin.connect();
  if (!REUSE_DB) await admin.query(`create database ${name}`);
  const url = `${PG_URL.replace(/\/$/, '')}/${name}`;
  const handle = openPostgres(url, { max: 4 });
  let app: Awaited<ReturnType<typeof buildApp>> | undefined;
  try {
    await handle.migrate();
    const { db } = handle;
    if (REUSE_DB) {
      const [counts] = rowsOf<Record<string, string>>(
        await db.execute(sql`select (select count(*) from incidents) as incidents, (select count(*) from clocks) as clocks,
          (select count(*) from units) as units, (select count(*) from stats_rollup_state) as rolled`),
      );
      if (counts?.rolled !== '1') throw new Error(`database ${name} has no statistics rollup: run once with --keep-db instead`);
      console.log(`database ${name} (reused): ${counts.incidents} incidents, ${counts.clocks} clocks, ${counts.units} units, year 2026`);
    } else {
      console.log(`database ${name}: ${INCIDENTS} incidents, ${UNITS} units, year 2026`);
      await seedAndCatchUp(db);
    }
    // The ladder snapshots are for the 通报 candidates only (not read by the figures).
    if (!YEAR_ONLY) await seedLadders(db);

    const filter = { from: YEAR_FROM, to: YEAR_TO };
    const figures = (rs: readonly StatsRow[]) =>
      JSON.stringify(
        rs.map((r) => [r.key, r.counted, r.onTime, r.late, r.breached, r.overdue.totalMs, r.overdue.maxMs, r.firstResponse.incidents]),
      );

    // The real API, as a leader calls it: buildApp on this database, a port, a session cookie. Its
    // business clock runs from NOW (the figures' "now"); sessions keep the system clock. The
    // minute rollup is off: the bench runs the job itself, between the measurements.
    const bus = new EmbeddedBus();
    await bus.ensureTopics();
    const calendars = new CalendarService(db);
    await calendars.load();
    app = await buildApp({
      db,
      bus,
      clock: scaledClock(1, NOW.getTime()),
      realClock: systemClock,
      engine: { db, clock: systemClock, pack: () => DEFAULT_RULE_PACK },
      rulePacks: new RulePackHolder({ db, fallback: { pack: DEFAULT_RULE_PACK, source: 'default' }, logger: console }),
      calendars,
      logger: pino({ level: 'silent' }),
      listen: handle.listen,
      statsRollup: false,
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const leader = `bench-leader-${Date.now().toString(36)}`;
    await createUser(db, { username: leader, role: 'leader', password: 'bench-password-1' }, 'bench', new Date());
    const login = await fetch(`${origin}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: leader, password: 'bench-password-1' }),
    });
    if (!login.ok) throw new Error(`leader log-in: HTTP ${login.status} ${await login.text()}`);
    const cookie = login.headers.getSetCookie()[0]!.split(';')[0]!;
    const yearUrl = `${origin}/api/stats/breakdown?by=unit&from=2026-01-01&to=2026-12-31`;
    // Every backend of this database, the asking one too: the pool hands the request the same connection.
    const backends = async () =>
      rowsOf<{ pid: number }>(await db.execute(sql`select pid from pg_stat_activity where datname = current_database()`)).map((r) =>
        Number(r.pid),
      );
    /** One request: wall time to the parsed body, this process's CPU (server and client), the backends' CPU. */
    const request = async () => {
      const pids = await backends();
      const pgBefore = new Map(pids.map((pid) => [pid, procCpuMs(pid)]));
      const cpu0 = process.cpuUsage();
      const t = process.hrtime.bigint();
      const res = await fetch(yearUrl, { headers: { cookie } });
      const body = (await res.json()) as { generatedAt: string; items: StatsRow[] };
      const wall = ms(t);
      const { user, system } = process.cpuUsage(cpu0);
      if (res.status !== 200) throw new Error(`GET ${yearUrl}: HTTP ${res.status} ${JSON.stringify(body)}`);
      let pgCpu = 0;
      for (const pid of new Set([...pids, ...(await backends())])) pgCpu += procCpuMs(pid) - (pgBefore.get(pid) ?? 0);
      return { wall, nodeCpu: (user + system) / 1000, pgCpu, body };
    };

    let rows: StatsRow[] = [];
    let lastBody: { generatedAt: string; items: StatsRow[] } | undefined;
    const timeYear = async (what: string) => {
      console.log(`${what} — ${await pendingCount(db)}:`);
      const walls: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const r = await request();
        walls.push(r.wall);
        lastBody = r.body;
        console.log(
          `  HTTP run ${i + 1}: GET /api/stats/breakdown?by=unit&from=2026-01-01&to=2026-12-31 (${r.body.items.length} units) ` +
            `in ${r.wall.toFixed(0)} ms; node CPU ${r.nodeCpu.toFixed(0)} ms, PostgreSQL backends' CPU ${r.pgCpu} ms   (${loadavg()})`,
        );
      }
      console.log(`  HTTP: target ≤ 300 ms; p50 ${p50(walls).toFixed(0)} ms, max ${Math.max(...walls).toFixed(0)} ms   (${loadavg()})`);
      const calls: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const t = process.hrtime.bigint();
        rows = await groupStats(db, NOW, {}, filter, 'unit');
        calls.push(ms(t));
      }
      console.log(
        `  function call groupStats (no HTTP): ${calls.map((x) => x.toFixed(0)).join(' / ')} ms; p50 ${p50(calls).toFixed(0)} ms   (${loadavg()})`,
      );
    };
    const runJob = async (what: string) => {
      const t = process.hrtime.bigint();
      const r = await runRollup(db);
      console.log(
        `${what}: ${r?.examined} incidents and duties looked at, ${r?.changed} changed, ${r?.cells} cells written, in ${ms(t).toFixed(0)} ms   (${loadavg()})`,
      );
    };
    // Responses recorded "now", after the watermark: the live remainder of every request until
    // the job's next run, and inside its 5-minute margin for a while after.
    const answer = async (n: number) => {
      // Only the incidents answered here: the clocks changed in the last minute would also take a
      // run of a moment ago (the bench on a reused database), whose answers would be pending again.
      await db.execute(sql`
        with b as (select incident_id, seq from clocks where state = 'breached' order by incident_id, seq limit ${n}),
        answered as (
          update clocks c set state = 'met', late = true, responded_at = now(), updated_at = now() from b
          where b.incident_id = c.incident_id and b.seq = c.seq
          returning c.incident_id)
        update incidents set updated_at = now() where id in (select incident_id from answered)`);
    };

    await runJob('the job brought up to date first (incremental run)');
    {
      // A server's first request compiles the route's serializer and warms the JIT: printed, not counted.
      const r = await request();
      console.log(
        `the API process's first request (not counted in the runs below): ${r.wall.toFixed(0)} ms; node CPU ${r.nodeCpu.toFixed(0)} ms, ` +
          `PostgreSQL backends' CPU ${r.pgCpu} ms   (${loadavg()})`,
      );
    }
    await timeYear('rollup current');
    await answer(50);
    await timeYear('50 breaches answered now, before the job has run');
    await runJob('incremental run after 50 changes');
    await answer(500);
    await timeYear('500 more breaches answered now, before the job has run');
    {
      // The last response's figures against the exact queries over the live tables at its "now".
      const t = process.hrtime.bigint();
      const exact = await exactGroupStats(db, new Date(lastBody!.generatedAt), {}, filter, 'unit');
      const same = figures(lastBody!.items) === figures(exact);
      console.log(
        `  the last HTTP response against the live tables (exactGroupStats at its generatedAt, ${ms(t).toFixed(0)} ms): ` +
          `counts, overdue total/max and first-response counts ${same ? 'equal' : 'DIFFER'}`,
      );
      if (!same) process.exitCode = 1;
    }
    await runJob('incremental run after 500 changes');
    await runJob('incremental run again, nothing new (the changes are still inside its 5-minute margin)');
    await timeYear('after the run (the changes rolled up, inside the margin)');
    if (YEAR_ONLY) return;

    let t = process.hrtime.bigint();
    const [totals] = await groupStats(db, NOW, {}, filter, 'all');
    console.log(`year totals alone: ${ms(t).toFixed(0)} ms`);
    for (const [label, period] of [
      ['one month (2026-11)', { from: new Date('2026-11-01T00:00:00+08:00'), to: new Date('2026-12-01T00:00:00+08:00') }],
      [
        '2026-03-15..2026-09-14 (composed: whole months + edges)',
        { from: new Date('2026-03-15T00:00:00+08:00'), to: new Date('2026-09-15T00:00:00+08:00') },
      ],
    ] as const) {
      const times: number[] = [];
      let got: Awaited<ReturnType<typeof groupStats>> = [];
      for (let i = 0; i < RUNS; i++) {
        t = process.hrtime.bigint();
        got = await groupStats(db, NOW, {}, period, 'unit');
        times.push(ms(t));
        console.log(`  run ${i + 1}: ${label} by unit: ${times[i]!.toFixed(0)} ms (${got.length} units)   (${loadavg()})`);
      }
      t = process.hrtime.bigint();
      const exact = await exactGroupStats(db, NOW, {}, period, 'unit');
      console.log(
        `  the same from the live tables (the reference, exactGroupStats): ${ms(t).toFixed(0)} ms; ` +
          `counts, overdue total/max and first-response counts ${figures(got) === figures(exact) ? 'equal' : 'DIFFER'}`,
      );
      if (figures(got) !== figures(exact)) process.exitCode = 1;
    }
    const november = { from: new Date('2026-11-01T00:00:00+08:00'), to: new Date('2026-12-01T00:00:00+08:00') };
    t = process.hrtime.bigint();
    const drill = await listItems(db, NOW, {}, { ...november, unit: 'u001' }, { outcome: 'breached', limit: 50, offset: 0 });
    console.log(`drill-down, one unit's open breaches of 2026-11, first page: ${ms(t).toFixed(0)} ms (${drill.total} rows)`);

    // GET /api/stats/candidates: what the route runs (the two loads, then its response built and
    // serialized); the route takes a month, quarter or year, the loads any [from, to).
    const nowMs = NOW.getTime();
    const rule = DEFAULT_LADDER_PACK.interview;
    for (const [label, from, to] of [
      ['quarter 2026-Q4', periodRange('2026-Q4')!.from, periodRange('2026-Q4')!.to],
      ['year 2026', periodRange('2026')!.from, periodRange('2026')!.to],
      ['2026-03-15..2026-09-14', Date.parse('2026-03-15T00:00:00+08:00'), Date.parse('2026-09-15T00:00:00+08:00')],
    ] as const) {
      for (let i = 0; i < RUNS; i++) {
        const t1 = process.hrtime.bigint();
        const q = { now: nowMs, from, to };
        const [reports, interviews] = [await loadReportCandidates(db, q), await loadInterviewCandidates(db, rule, q)];
        const loaded = ms(t1);
        const iso = (v: number) => new Date(v).toISOString();
        const body = JSON.stringify({
          reports: reports.map((r) => ({
            ...r,
            dueAt: iso(r.dueAt),
            respondedAt: r.respondedAt === null ? null : iso(r.respondedAt),
            candidateAt: iso(r.candidateAt),
          })),
          interviews: interviews.map((x) => ({
            unit: x.unit,
            period: x.period,
            breachCount: x.breaches.length,
            breaches: x.breaches.map((b) => ({ ...b, dueAt: b.dueAt === null ? null : iso(b.dueAt), at: iso(b.at) })),
          })),
        });
        console.log(
          `  run ${i + 1}: candidates ${label}: ${ms(t1).toFixed(0)} ms (loads ${loaded.toFixed(0)} ms; ${reports.length} 通报, ` +
            `${interviews.length} 约谈 unit-periods with ${interviews.reduce((s, x) => s + x.breaches.length, 0)} breaches; ` +
            `${(body.length / 1e6).toFixed(1)} MB of JSON)   (${loadavg()})`,
        );
      }
    }

    const line = (r: (typeof rows)[number]) =>
      `${r.label.padEnd(8)} ${String(r.counted).padStart(8)} ${String(r.onTime).padStart(8)} ${String(r.late).padStart(7)} ${String(r.breached).padStart(7)} ` +
      `${pct(r.onTimeRate)}  overdue max ${h(r.overdue.maxMs).padStart(9)}  first response median ${h(r.firstResponse.medianMs)} p90 ${h(r.firstResponse.p90Ms)}`;
    console.log('\nunit       counted  on time    late breached  rate');
    if (totals) console.log(line(totals));
    for (const r of rows.slice(0, 10)) console.log(line(r));
    if (rows.length > 10) console.log(`… ${rows.length - 10} more units`);
  } finally {
    await app?.close();
    await handle.close();
    if (KEEP_DB) console.log(`kept database ${name} (again: --db ${name})`);
    else await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
