/**
 * The duty board and the live stream at scale (issue 7): a throw-away PostgreSQL database with
 * 1 000 000 incidents over a year (each with its clock rows; a few thousand still open), the
 * real API (buildApp) on it, and load from separate processes:
 *
 *   - the board's first page (GET /api/incidents?status=open, as a logged-in duty officer) at a
 *     fixed rate from bench/board-load.ts (a child process): autocannon, and an even open-loop
 *     schedule (--load), p50/p99 per run, beside pgbench running the same SQL at the same rate
 *     (the database's own share);
 *   - one alert fanned out over SSE to N connected clients (bench/sse-clients.ts, a child
 *     process, started after the board runs): time from publishing the event to the last client
 *     receiving it.
 *
 *   node --import tsx bench/board.ts [--incidents 1000000] [--open 3000] [--rate 500] [--seconds 20]
 *                                    [--clients 1000] [--runs 3] [--cache on|off] [--writes 20] [--rollup off|on]
 *                                    [--max-stale-ms 1000] [--no-sse] [--no-pgbench]
 *                                    [--load both|autocannon|even] [--accept-encoding 'gzip, deflate, br, zstd'|none]
 *                                    [--keep-db | --db NAME | --seed-only] [--pg-url postgres://postgres@127.0.0.1:5432]
 *
 * Seed once, measure many times: --keep-db (or --seed-only) keeps the database and prints its
 * name; --db NAME reuses it (no seeding; kept again). Drop it when done.
 *
 * The API runs as in production, with its board page cache (LISTEN on the database; --cache off
 * to measure without it); after the runs, one more run while an incident changes --writes times
 * a second (each change makes the page stale; it is rebuilt off the request path).
 *
 * Per run, where the time goes: the client's latencies (autocannon's own report, which adds
 * samples for coordinated omission, and its responses timed once; or the even schedule's, timed
 * from when each request was due) and the load generator's CPU and event-loop delay; the
 * server's per request (Node's request event to the response's finish), how many were in at
 * once, the API process's CPU per request, event-loop delay and GC pauses; and what else ran in
 * it meanwhile (cache rebuilds, notifications, sessions read, queries sent, SSE clients, the
 * resources it held).
 *
 * Targets: board p99 ≤ 25 ms at 500 requests/s; fan-out ≤ 1 s.
 */
import { execFile, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { createRequire } from 'node:module';
import type * as PgNs from 'pg';
import { type AppDeps, buildApp } from '../services/api/src/index.ts';
import { EmbeddedBus, TOPICS } from '../packages/bus/src/index.ts';
import { systemClock } from '../packages/clock/src/index.ts';
import { openPostgres, rowsOf, sql } from '../packages/db/src/index.ts';
import { DEFAULT_RULE_PACK } from '../packages/domain/src/index.ts';
import { CalendarService, RulePackHolder } from '../services/engine/src/index.ts';
import { createUser, findUserByName } from '../packages/identity/src/index.ts';
import { type LoadFigures, type LoadMode, loadArgv } from './board-load-contract.ts';
import { PGBENCH } from './pgbench.ts';

// bench/ is not a workspace package: take the drivers from the packages that depend on them.
const pg = createRequire(new URL('../packages/db/package.json', import.meta.url))('pg') as typeof PgNs;
const pino = createRequire(new URL('../services/api/package.json', import.meta.url))('pino') as (o: { level: string }) => AppDeps['logger'];

const { values: a } = parseArgs({
  options: {
    incidents: { type: 'string', default: '1000000' },
    open: { type: 'string', default: '3000' },
    rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '20' },
    clients: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '3' },
    /** The board's page cache (services/api/src/list-cache.ts): 'on' as in production, 'off' to measure without it. */
    cache: { type: 'string', default: 'on' },
    /** Incident changes per second during one extra run (each invalidates the cache, as the engine's writes do). */
    writes: { type: 'string', default: '20' },
    /** How long a changed board page may still be served while rebuilt (AppDeps.boardMaxStaleMs; 0: every request after a change waits). */
    'max-stale-ms': { type: 'string', default: '1000' },
    /** Skip the SSE fan-out (iterating on the board alone). */
    'no-sse': { type: 'boolean', default: false },
    /**
     * The API's minute statistics rollup. Off by default: on a freshly seeded database its first
     * run is the whole catch-up (minutes of a core at 1M incidents, bench/stats.ts), which a
     * running installation did once long ago; 'on' measures the board beside it.
     */
    rollup: { type: 'string', default: 'off' },
    /** Keep the database (and skip the load) to look at plans. */
    'seed-only': { type: 'boolean', default: false },
    /** Keep the database after the run and print its name (reuse it with --db). */
    'keep-db': { type: 'boolean', default: false },
    /** Reuse a database seeded by an earlier --keep-db/--seed-only run (no seeding; kept afterwards). */
    db: { type: 'string' },
    /**
     * How the rate is generated (bench/board-load.ts, a child process): 'autocannon' (its -R: per
     * connection bursts each second, latencies with its coordinated-omission samples), 'even' (one
     * request every 1/rate s, timed from when it was due), or 'both' (each run twice, one after the other).
     */
    load: { type: 'string', default: 'both' },
    /**
     * The requests' Accept-Encoding: 'gzip, deflate, br, zstd' (what the console's browser sends; the
     * page is then sent gzipped), or 'none' (no header: the JSON as it is, as autocannon sends by default).
     */
    'accept-encoding': { type: 'string', default: 'gzip, deflate, br, zstd' },
    /** Run pgbench on the same SQL after each run (the database's share). */
    'no-pgbench': { type: 'boolean', default: false },
    'pg-url': { type: 'string', default: process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432' },
  },
});
const N = Number(a.incidents);
const OPEN = Number(a.open);
const RATE = Number(a.rate);
const SECONDS = Number(a.seconds);
const CLIENTS = Number(a.clients);
const RUNS = Number(a.runs);
const CACHE = a.cache !== 'off';
const WRITES = Number(a.writes);
const ACCEPT_ENCODING = a['accept-encoding'] === 'none' ? '' : a['accept-encoding']!;
const REUSE = a.db !== undefined;
const KEEP = a['keep-db'] || REUSE;
const LOADS = a.load === 'both' ? (['autocannon', 'even'] as const) : a.load === 'even' ? (['even'] as const) : (['autocannon'] as const);
const dbName = a.db ?? `huiying_bench_board_${Date.now().toString(36)}`;
const at = (database: string) => Object.assign(new URL(a['pg-url']!), { pathname: `/${database}` }).toString();
const url = at(dbName);
const run = promisify(execFile);

const admin = new pg.Client({ connectionString: at('postgres') });
await admin.connect();
if (!REUSE) await admin.query(`create database ${dbName}`);
const handle = openPostgres(url, { max: 20 });
let app: Awaited<ReturnType<typeof buildApp>> | undefined;
try {
  await handle.migrate();
  const db = handle.db;
  if (REUSE) {
    console.log(`reusing ${dbName}`);
  } else {
    const t0 = performance.now();
    await db.execute(
      sql`insert into units (id, name, email) select 'u' || g, '单位' || g, 'u' || g || '@example.test' from generate_series(1, 40) g`,
    );
    // One year of incidents ending now; the newest OPEN are still open (running or breached).
    const now = Date.now();
    const yearMs = 365 * 86_400_000;
    const chunk = 100_000;
    for (let from = 1; from <= N; from += chunk) {
      const to = Math.min(N, from + chunk - 1);
      await db.execute(sql`
        insert into incidents (id, title, level, unit_id, status, start_at, state, next_wake_at, version, created_at, updated_at)
        select id, title, level, unit, status, start_at, jsonb_build_object(
            'v', 1, 'id', id, 'title', title, 'level', level, 'unit', unit, 'status', status,
            'closeReason', null, 'closedAt', null, 'createdAt', start_ms, 'startAt', start_ms, 'asOf', start_ms,
            'signalCount', 1, 'nextSeq', case when grave then 4 else 2 end,
            'clocks', case when grave then jsonb_build_array(
                jsonb_build_object('seq', 1, 'kind', 'response', 'anchor', 'start', 'startAt', start_ms, 'dueAt', start_ms + 172800000, 'spanMs', 172800000,
                  'warnings', jsonb_build_array(0.75), 'metBy', jsonb_build_array('release', 'press_conference', 'reply'), 'nextWarning', 1, 'warningsFired', '[]'::jsonb,
                  'state', 'cancelled', 'respondedAt', null, 'late', null, 'reason', 'superseded'),
                jsonb_build_object('seq', 2, 'kind', 'release', 'anchor', 'start', 'startAt', start_ms, 'dueAt', start_ms + 18000000, 'spanMs', 18000000,
                  'warnings', jsonb_build_array(0.8), 'metBy', jsonb_build_array('release', 'press_conference', 'reply'), 'nextWarning', 1, 'warningsFired', '[]'::jsonb,
                  'state', clock_state, 'respondedAt', responded_ms, 'late', late, 'reason', null),
                jsonb_build_object('seq', 3, 'kind', 'press_conference', 'anchor', 'start', 'startAt', start_ms, 'dueAt', start_ms + 86400000, 'spanMs', 86400000,
                  'warnings', jsonb_build_array(0.75), 'metBy', jsonb_build_array('press_conference'), 'nextWarning', 1, 'warningsFired', '[]'::jsonb,
                  'state', clock_state, 'respondedAt', responded_ms, 'late', late, 'reason', null))
              else jsonb_build_array(
                jsonb_build_object('seq', 1, 'kind', 'response', 'anchor', 'start', 'startAt', start_ms, 'dueAt', start_ms + 172800000, 'spanMs', 172800000,
                  'warnings', jsonb_build_array(0.75), 'metBy', jsonb_build_array('release', 'press_conference', 'reply'), 'nextWarning', 1, 'warningsFired', '[]'::jsonb,
                  'state', clock_state, 'respondedAt', responded_ms, 'late', late, 'reason', null)) end,
            'earliestResponses', '{}'::jsonb, 'responseCount', 0, 'repostCount', 0),
          case when status = 'open' and clock_state = 'running' then to_timestamp((start_ms + 18000000) / 1000.0) end,
          1, start_at, start_at
        from (
          select 'inc_' || g as id, '事件 ' || g || ' 市民反映问题' as title,
                 (array['I', 'II', 'III', 'IV', 'IV', 'III'])[1 + g % 6] as level, g % 6 < 2 as grave,
                 'u' || (1 + g % 40) as unit,
                 case when g > ${N - OPEN} then 'open' else 'closed' end as status,
                 case when g > ${N - OPEN} then (case when g % 3 = 0 then 'breached' else 'running' end) else 'met' end as clock_state,
                 to_timestamp(start_ms / 1000.0) as start_at, start_ms,
                 case when g > ${N - OPEN} then null else start_ms + (g % 50) * 3600000 end as responded_ms,
                 case when g > ${N - OPEN} then null else (g % 50) > 48 end as late
          from (select g, ${now - yearMs}::bigint + (g::bigint * ${Math.floor(yearMs / N)}) -
                  case when g > ${N - OPEN} then (g % 3) * 86400000 else 0 end as start_ms
                from generate_series(${from}::int, ${to}::int) g) s
        ) x`);
      process.stdout.write(`\rseeding incidents: ${to.toLocaleString('en')} / ${N.toLocaleString('en')}`);
    }
    await db.execute(sql`
      insert into clocks (incident_id, seq, kind, state, start_at, due_at, responded_at, late, unit_id, updated_at)
      select i.id, (c->>'seq')::int, c->>'kind', c->>'state', to_timestamp((c->>'startAt')::bigint / 1000.0),
             to_timestamp((c->>'dueAt')::bigint / 1000.0),
             case when c->>'respondedAt' is null then null else to_timestamp((c->>'respondedAt')::bigint / 1000.0) end,
             (c->>'late')::boolean, i.unit_id, i.updated_at
      from incidents i, jsonb_array_elements(i.state->'clocks') c`);
    // The timer's queue (migration 0033).
    await db.execute(
      sql`insert into incident_wakes (incident_id, wake_at) select id, next_wake_at from incidents where next_wake_at is not null`,
    );
    await db.execute(sql`vacuum analyze`);
    const counts = rowsOf<{ incidents: number; clocks: number; open: number }>(
      await db.execute(sql`select (select count(*)::int from incidents) as incidents, (select count(*)::int from clocks) as clocks,
                                  (select count(*)::int from incidents where status = 'open') as open`),
    )[0]!;
    console.log(
      `\nseeded ${counts.incidents.toLocaleString('en')} incidents, ${counts.clocks.toLocaleString('en')} clocks, ${counts.open} open, in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
  }

  if (a['seed-only']) {
    console.log(`kept ${url}`);
    process.exit(0);
  }
  const bus = new EmbeddedBus();
  await bus.ensureTopics();
  const calendars = new CalendarService(db);
  await calendars.load();
  app = await buildApp({
    db,
    bus,
    clock: systemClock,
    engine: { db, clock: systemClock, pack: () => DEFAULT_RULE_PACK },
    rulePacks: new RulePackHolder({ db, fallback: { pack: DEFAULT_RULE_PACK, source: 'default' }, logger: console }),
    calendars,
    logger: pino({ level: 'silent' }),
    ...(CACHE ? { listen: handle.listen } : {}),
    statsRollup: a.rollup === 'on',
    boardMaxStaleMs: Number(a['max-stale-ms']),
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  if (!(await findUserByName(db, 'bench-duty')))
    await createUser(db, { username: 'bench-duty', role: 'duty', password: 'bench-password-1' }, 'bench', new Date());
  const login = await fetch(`${origin}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'bench-duty', password: 'bench-password-1' }),
  });
  const cookie = login.headers.getSetCookie()[0]!.split(';')[0]!;
  const boardUrl = `${origin}/api/incidents?status=open&pageSize=50`;
  const first = (await (await fetch(boardUrl, { headers: { cookie } })).json()) as { items: unknown[]; total: number };
  const size = async (encoding: string) =>
    (await fetch(boardUrl, { headers: { cookie, 'accept-encoding': encoding } })).headers.get('content-length');
  console.log(
    `board first page: ${first.items.length} of ${first.total} open incidents, ${await size('identity')} bytes as JSON, ${await size('gzip')} gzipped`,
  );

  // The same statement the board runs, for pgbench (the database's share of the latency).
  const script = join(tmpdir(), `${dbName}.sql`);
  await writeFile(
    script,
    `select i.state, i.updated_at, u.name from incidents i left join units u on u.id = i.unit_id
     where i.status = 'open' order by i.urgent_due asc nulls last, i.updated_at desc, i.id limit 50 offset 0;
     select count(*)::int from incidents i where i.status = 'open';\n`,
  );

  /** One run of the load generator (bench/board-load.ts, its own process) against `target`. */
  const generate = (mode: LoadMode, target: string, seconds = SECONDS) =>
    run(
      process.execPath,
      [
        '--import',
        'tsx',
        'bench/board-load.ts',
        ...loadArgv({ url: target, cookie, rate: RATE, seconds, connections: 32, mode, acceptEncoding: ACCEPT_ENCODING }),
      ],
      {
        maxBuffer: 64 * 1024 * 1024,
      },
    ).then(({ stdout }) => JSON.parse(stdout.trim().split('\n').at(-1)!) as LoadFigures);

  // Server-side, per request: from Node's 'request' event (headers parsed; before Fastify's
  // onRequest hooks) to the response's 'finish' (the last byte handed to the kernel), and how many
  // were in the server at once. Listened to before Fastify's own handler.
  const server = { arrivals: [] as number[], durations: [] as number[], inFlight: 0, maxInFlight: 0, on: false };
  app.server.prependListener('request', (_req: unknown, res: { once(e: 'finish', f: () => void): void }) => {
    if (!server.on) return;
    const t = performance.now();
    server.arrivals.push(t);
    server.maxInFlight = Math.max(server.maxInFlight, ++server.inFlight);
    res.once('finish', () => {
      server.inFlight--;
      server.durations.push(performance.now() - t);
    });
  });
  // Every query this process sends (pool clients, LISTEN connections), to show what a run costs the database.
  let queries = 0;
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: PgNs.Client, ...args: unknown[]) {
    queries++;
    return (query as (...x: unknown[]) => unknown).apply(this, args);
  } as typeof query;

  const quantile = (sorted: Float64Array, q: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
  const ms = (x: number) => (x >= 10 ? x.toFixed(0) : x.toFixed(1));

  await generate('autocannon', boardUrl, 3); // warm-up
  console.log(
    `\nboard first page at ${RATE} requests/s for ${SECONDS} s (target p99 ≤ 25 ms), page cache ${CACHE ? 'on' : 'off'}, ` +
      `Accept-Encoding ${ACCEPT_ENCODING ? `'${ACCEPT_ENCODING}'` : 'none'}:`,
  );
  console.log(
    "  client: what the load generator saw; server: Node's request event → response finished (the request path); " +
      'autocannon "reported" includes its coordinated-omission samples (bench/board-load.ts)',
  );
  const changing = rowsOf<{ id: string }>(await db.execute(sql`select id from incidents where status = 'open' limit 1`))[0]!.id;
  for (let r = 1; r <= RUNS + (CACHE && WRITES > 0 ? 1 : 0); r++) {
    // The last run with the cache on: incidents change WRITES times a second meanwhile (each change
    // notifies every API process and empties its cache, as the engine's and the timer's writes do).
    const writing = r > RUNS;
    for (const mode of LOADS) {
      const load = (await readFile('/proc/loadavg', 'utf8')).split(' ')[0];
      const writer = writing
        ? // (drizzle's query is lazy: it runs when awaited)
          setInterval(
            () => void (async () => await db.execute(sql`update incidents set updated_at = now() where id = ${changing}`))(),
            1000 / WRITES,
          )
        : undefined;
      const before = {
        stale: app.boardCache.staleHits,
        rebuilds: app.boardCache.rebuilds,
        hits: app.boardCache.hits,
        misses: app.boardCache.misses,
        changes: app.boardCache.changes,
        sessionHits: app.sessionCache.hits,
        sessionMisses: app.sessionCache.misses,
        queries,
      };
      // The API's event loop (how long a ready request may wait behind another's work) and its GC pauses.
      const loop = monitorEventLoopDelay({ resolution: 1 });
      const gc = { count: 0, ms: 0, maxMs: 0, longest: '', major: 0 };
      const gcObserver = new PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
          gc.count++;
          gc.ms += e.duration;
          // perf_hooks.constants.NODE_PERFORMANCE_GC_*: 1 minor (scavenge), 4 major (mark-sweep-compact), 8 incremental marking, 16 weak callbacks.
          const kind = (e as { detail?: { kind?: number } }).detail?.kind;
          if (kind === 4) gc.major++;
          if (e.duration > gc.maxMs) {
            gc.maxMs = e.duration;
            gc.longest =
              ({ 1: 'minor', 4: 'major', 8: 'incremental', 16: 'weak callbacks' } as Record<number, string>)[kind ?? 0] ?? String(kind);
          }
        }
      });
      gcObserver.observe({ entryTypes: ['gc'] });
      loop.enable();
      // What else the API process holds while the load runs (timers, sockets, SSE streams), half way through.
      let resources = '';
      const peek = setTimeout(
        () => {
          const byType = new Map<string, number>();
          for (const t of process.getActiveResourcesInfo()) byType.set(t, (byType.get(t) ?? 0) + 1);
          resources = [...byType].map(([t, n]) => `${t} ${n}`).join(', ');
        },
        (SECONDS * 1000) / 2,
      );
      Object.assign(server, { arrivals: [], durations: [], inFlight: 0, maxInFlight: 0, on: true });
      const cpu = process.cpuUsage();
      const res = await generate(mode, boardUrl);
      const cpuMs = (({ user, system }) => (user + system) / 1000)(process.cpuUsage(cpu));
      server.on = false;
      clearTimeout(peek);
      loop.disable();
      gcObserver.disconnect();
      if (writer) clearInterval(writer);
      const sessions = `sessions kept ${app.sessionCache.hits - before.sessionHits} / read ${app.sessionCache.misses - before.sessionMisses}`;
      const cacheNote = CACHE
        ? `cache hits ${app.boardCache.hits - before.hits} / stale ${app.boardCache.staleHits - before.stale} (rebuilds ${app.boardCache.rebuilds - before.rebuilds}) / misses ${app.boardCache.misses - before.misses}, changes told ${app.boardCache.changes - before.changes}${writing ? ` (${WRITES} incident changes/s)` : ''}, ${sessions}`
        : sessions;
      const served = Float64Array.from(server.durations).sort();
      // When in the second the requests arrived (relative to the first): autocannon's -R bursts.
      const t0 = server.arrivals[0] ?? 0;
      const early = server.arrivals.filter((t) => (t - t0) % 1000 < 250).length / Math.max(1, server.arrivals.length);
      const client =
        mode === 'autocannon'
          ? `autocannon reported p50 ${ms(res.reported!.p50)} p99 ${ms(res.reported!.p99)} max ${ms(res.reported!.max)} ms over ${res.reported!.samples} samples; ` +
            `its ${res.timed.n} responses timed once: p50 ${ms(res.timed.p50)} p99 ${ms(res.timed.p99)} p99.9 ${ms(res.timed.p999)} max ${ms(res.timed.max)} ms; ` +
            `its correction replayed on them: p99 ${ms(res.replayed!.asRun.p99)} ms over ${res.replayed!.asRun.samples} (1 ms interval, as run), ` +
            `p99 ${ms(res.replayed!.asMeant.p99)} ms over ${res.replayed!.asMeant.samples} (${ms(res.replayed!.asMeant.interval)} ms, as meant)`
          : `even arrivals, from due: p50 ${ms(res.timed.p50)} p99 ${ms(res.timed.p99)} p99.9 ${ms(res.timed.p999)} max ${ms(res.timed.max)} ms over ${res.timed.n} (from sent: p99 ${ms(res.fromSent!.p99)} ms)`;
      console.log(
        `  ${writing ? 'changing' : `run ${r}`} ${mode} (load ${load}): ${res.requestsPerSecond.toFixed(0)} req/s, non-2xx ${res.non2xx}, errors ${res.errors}\n` +
          `    client: ${client}; generator CPU ${(res.cpuMs / Math.max(1, res.timed.n)).toFixed(2)} ms/request, its loop delay p99 ${ms(res.loopP99Ms)} max ${ms(res.loopMaxMs)} ms\n` +
          `    server: p50 ${ms(quantile(served, 0.5))} p99 ${ms(quantile(served, 0.99))} p99.9 ${ms(quantile(served, 0.999))} max ${ms(served.at(-1) ?? NaN)} ms over ${served.length}, ` +
          `at most ${server.maxInFlight} in at once, ${(early * 100).toFixed(0)} % arrived in the first quarter of their second; ` +
          `API CPU ${(cpuMs / Math.max(1, served.length)).toFixed(2)} ms/request, event-loop delay p99 ${ms(loop.percentile(99) / 1e6)} max ${ms(loop.max / 1e6)} ms, ` +
          `GC ${gc.count}× (${gc.major} major) ${gc.ms.toFixed(0)} ms, longest ${gc.maxMs.toFixed(1)} ms (${gc.longest}), heap ${(process.memoryUsage().heapUsed / 1e6).toFixed(0)} MB\n` +
          `    meanwhile: ${cacheNote}, ${queries - before.queries} database queries from this process, SSE clients ${app.live.size}; held: ${resources}`,
      );
    }
    if (a['no-pgbench']) continue;
    const { stdout } = await run(PGBENCH, [
      '-n',
      '-R',
      String(RATE),
      '-T',
      String(SECONDS),
      '-c',
      '8',
      '-j',
      '2',
      '-r',
      '-f',
      script,
      url.replace('postgres://', 'postgresql://'),
    ]);
    console.log(
      `    pgbench same SQL at ${RATE}/s: avg ${/latency average = ([\d.]+) ms/.exec(stdout)?.[1]} ms (${/tps = ([\d.]+)/.exec(stdout)?.[1]} tps)`,
    );
  }

  if (!a['no-sse']) console.log(`\nSSE fan-out of one alert to ${CLIENTS} clients (target ≤ 1 s):`);
  const openIncident = rowsOf<{ id: string; unit_id: string }>(
    await db.execute(sql`select id, unit_id from incidents where status = 'open' limit 1`),
  )[0]!;
  for (let r = 1; r <= (a['no-sse'] ? 0 : RUNS); r++) {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/sse-clients.ts', `${origin}/api/stream`, cookie, String(CLIENTS)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    const ready = new Promise<void>((resolve) =>
      child.stdout.on('data', (d: Buffer) => ((out += d.toString()), out.includes('ready') && resolve())),
    );
    const done = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    const connectStart = performance.now();
    await ready;
    const connectMs = performance.now() - connectStart;
    const alertId = `bench_alert_${Date.now().toString(36)}_${r}`;
    await db.execute(sql`insert into alerts (id, incident_id, kind, clock, due_at, unit_id, at)
      values (${alertId}, ${openIncident.id}, 'breached', 'release', now(), ${openIncident.unit_id}, now())`);
    const published = Date.now();
    await bus.publish(TOPICS.events, [
      {
        key: openIncident.id,
        value: {
          v: 1,
          type: 'event',
          id: `bench_${alertId}`,
          event: 'breached',
          at: new Date().toISOString(),
          incidentId: openIncident.id,
          alertId,
        },
      },
    ]);
    await done;
    const { received } = JSON.parse(out.slice(out.indexOf('{'))) as { received: number[] };
    received.sort((x, y) => x - y);
    console.log(
      `  run ${r}: ${received.length} clients connected in ${connectMs.toFixed(0)} ms; first received after ${received[0]! - published} ms, last after ${received.at(-1)! - published} ms`,
    );
  }
} finally {
  await app?.close();
  await handle.close();
  if (KEEP) console.log(`kept ${dbName} (reuse: --db ${dbName})`);
  else await admin.query(`drop database if exists ${dbName} with (force)`);
  await admin.end();
}
