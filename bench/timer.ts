/**
 * Live timer precision benchmark: N open response clocks in PostgreSQL, their dues spread evenly
 * over S seconds, fired by the real engine timer (services/engine/src/timer.ts → fireDue →
 * persist). Prints the lateness of the fired breaches, the engine's CPU and memory, and the CPU
 * PostgreSQL spent while firing.
 *
 *     node --import tsx bench/timer.ts [--clocks 1000000] [--spread-seconds 300] [--lead-seconds 20]
 *
 * Options (argv `--name value` / `--name=value`, or env BENCH_NAME, e.g. BENCH_CLOCKS):
 *   --clocks N            open incidents, one response clock each, one due each   (1000000)
 *   --spread-seconds S    the dues are spread evenly over S seconds               (300)
 *   --lead-seconds L      planned time between the end of loading and the first due (20)
 *   --load-rate R         rows/s assumed when scheduling the dues before loading  (15000)
 *   --chunk C             rows per INSERT statement while loading                 (5000)
 *   --max-wait-seconds W  give up W s after the last due if not all have fired    (900)
 *   --pg-url URL          server to create the throw-away database on  (postgres://postgres@127.0.0.1:5432)
 *   --engine-timer PATH   module exporting DeadlineTimer (default: the live engine's timer.ts)
 *   --workers W           firing transactions in flight while a backlog lasts (default: the engine's, 2)
 *   --passes P            passes in flight when a wake falls due during one (default: the engine's, 1)
 *   --queue-vacuum-every F  the timer vacuums incident_wakes after F fired wakes, at most every 10 s
 *                         (default: the engine's, 20 000; 0 = never)
 *   --vacuum-every-seconds V  run `vacuum incidents` every V s while firing, standing in for
 *                         autovacuum when the server has it off (default: off; reported either way)
 *   --floor-seconds F     after firing, measure PostgreSQL's own floor for the lateness for F s: pgbench
 *                         commits transactions of the timer's WAL size at its rate (commit-floor.ts; 0 = skip) (60)
 *   --keep-db             don't drop the database at the end
 *   --ladder-snapshots M  how the loaded states keep their clocks' ladder snapshot: `ref` (by reference, as the
 *                         engine's writer stores them since migration 0038) or `inline` (copied into the clock,
 *                         as states stored before it)                              (ref if the table exists)
 *
 * How the dues are placed. Due i is firstDue + i·S/N. The state of each incident is built by the
 * domain itself: a hotline signal seen at due − 1 s that was published at due − 48 h, so the
 * response clock runs from due − 48 h to due and both warning points (50 %, 80 %) are already past
 * when the clock starts (skipped, not fired): the only timer event in the window is the breach.
 * The states carry their due, so firstDue is fixed before loading: now + L + the estimated load
 * time (N / --load-rate, plus VACUUM). If loading is faster the engine simply waits longer; the
 * actual lead is printed, and the run aborts if it falls under 2 s.
 *
 * How lateness is measured. For every breach alert: (a) "stamped" = outbox.created_at − alerts.due_at,
 * the `now` the engine wrote with the event (joined on payload->>'alertId'); (b) "committed" = the
 * moment the firing transaction's COMMIT returned to the engine − due. (a) is one `now` per fireDue
 * pass, taken before the first claim, so it does not include the time the pass then spends
 * (claiming, persisting, further batches); (b) is when the alert actually became visible. To get
 * (b) the benchmark hands the engine a db whose `transaction()` is the real one plus one
 * `select pg_current_xact_id_if_assigned()` at the end of each transaction (one tiny query per
 * claimed batch); rows are matched to transactions by alerts.xmin.
 *
 * Per fired clock it prints engine CPU and PostgreSQL CPU (this database's backends), beside
 * graphile-worker's figure from issue 8, the ceiling those two imply on this machine's cores, and
 * the load average: on a shared machine the wall-clock figures follow the others' load, the CPU
 * per fired clock much less.
 *
 * PostgreSQL CPU: utime+stime from /proc/<pid>/stat of the postmaster's children, plus the
 * postmaster's cutime+cstime (children that exited in between, e.g. autovacuum workers), at the
 * start and the end of the firing window. Split by process: backends of the benchmark database,
 * background processes, and backends of other databases (other users of the same server, which
 * would make the total an over-estimate: that line should read 0).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import type * as PgNs from 'pg';
import { systemClock } from '../packages/clock/src/index.ts';
import { commitFloor } from './commit-floor.ts';
import { type Db, type DbHandle, openPostgres, rowsOf, sql } from '../packages/db/src/index.ts';
import { applyIncidentInput, DEFAULT_RULE_PACK, type Ladder, MS_PER_HOUR, nextIncidentWake } from '../packages/domain/src/index.ts';
import type * as TimerModule from '../services/engine/src/timer.ts';
import { storedIncidentState } from '../services/engine/src/ladder-refs.ts';
import { incidentView } from '../services/engine/src/view.ts';
import { readProcStat, USER_HZ } from './proc-stat.ts';

// ---------------------------------------------------------------------------------------------
// Options

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
function numberOption(name: string, fallback: number, { zero = false } = {}): number {
  const raw = option(name);
  if (raw === undefined) return fallback;
  const n = Number(raw.replaceAll('_', ''));
  if (!Number.isFinite(n) || n < 0 || (n === 0 && !zero))
    throw new Error(`--${name} must be a ${zero ? 'non-negative' : 'positive'} number, got ${JSON.stringify(raw)}`);
  return n;
}

const N = Math.floor(numberOption('clocks', 1_000_000));
const SPREAD_MS = numberOption('spread-seconds', 300) * 1000;
const LEAD_MS = numberOption('lead-seconds', 20) * 1000;
const LOAD_RATE = numberOption('load-rate', 15_000);
const CHUNK = Math.floor(numberOption('chunk', 5000));
const MAX_WAIT_MS = numberOption('max-wait-seconds', 900) * 1000;
const PG_URL = option('pg-url') ?? process.env.DATABASE_URL_BENCH ?? 'postgres://postgres@127.0.0.1:5432';
const KEEP_DB = option('keep-db') === 'true';
const LADDER_SNAPSHOTS = option('ladder-snapshots');
if (LADDER_SNAPSHOTS !== undefined && LADDER_SNAPSHOTS !== 'ref' && LADDER_SNAPSHOTS !== 'inline')
  throw new Error(`--ladder-snapshots is ref or inline, not ${LADDER_SNAPSHOTS}`);
const ENGINE_TIMER = option('engine-timer');
const WORKERS = option('workers') === undefined ? undefined : Math.floor(numberOption('workers', 2));
const PASSES = option('passes') === undefined ? undefined : Math.floor(numberOption('passes', 1));
const QUEUE_VACUUM_EVERY =
  option('queue-vacuum-every') === undefined ? undefined : Math.floor(numberOption('queue-vacuum-every', 20000, { zero: true }));
const FLOOR_SECONDS = Math.floor(numberOption('floor-seconds', 60, { zero: true }));
const VACUUM_EVERY_MS = option('vacuum-every-seconds') === undefined ? 0 : numberOption('vacuum-every-seconds', 30) * 1000;

const HOUR_48 = 48 * MS_PER_HOUR;
const dueOffset = (i: number) => Math.floor((i * SPREAD_MS) / N);

// ---------------------------------------------------------------------------------------------
// Small helpers

const log = (msg: string) => process.stdout.write(`[timer-bench] ${msg}\n`);
const fmt = (n: number, digits = 1) => n.toFixed(digits);
const mb = (bytes: number) => `${fmt(bytes / 1024 / 1024)} MB`;
const iso = (ms: number) => new Date(ms).toISOString();

function withDb(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

/** A GC before measuring the engine's memory, so the loader's garbage isn't counted. */
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

// ---------------------------------------------------------------------------------------------
// PostgreSQL CPU from /proc

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

interface ProcStat {
  pid: number;
  ppid: number;
  ticks: number; // utime + stime
  childTicks: number; // cutime + cstime
}

function readStat(pid: number): ProcStat | null {
  const st = readProcStat(pid);
  return st ? { pid, ppid: st.ppid, ticks: Math.round(st.cpu * USER_HZ), childTicks: Math.round(st.childCpu * USER_HZ) } : null;
}

function readCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return '';
  }
}

type PgProcKind = 'bench' | 'background' | 'other-db';

interface PgCpuSnapshot {
  /** Σ children utime+stime + postmaster utime+stime+cutime+cstime, in ticks. */
  total: number;
  byPid: Map<number, { ticks: number; kind: PgProcKind }>;
  postmasterChildTicks: number;
}

class PgCpu {
  private kinds = new Map<number, PgProcKind>();
  /** Last ticks seen per pid during the window (a pid that exits keeps its last sample). */
  readonly lastSeen = new Map<number, { ticks: number; kind: PgProcKind }>();

  constructor(
    private readonly postmaster: number,
    private readonly dbName: string,
  ) {}

  private kindOf(pid: number): PgProcKind {
    let k = this.kinds.get(pid);
    if (k) return k;
    // Backends read "postgres: 15/main: <user> <database> <client> <activity>".
    const cmd = readCmdline(pid);
    const m = /^postgres: [^:]+: (\S+) (\S+) \S+/.exec(cmd);
    const isBackgroundWorker =
      /: (checkpointer|background writer|walwriter|autovacuum|logical replication|stats|archiver|walsender|walreceiver|startup|parallel worker)/.test(
        cmd,
      );
    if (m && !isBackgroundWorker) k = m[2] === this.dbName ? 'bench' : 'other-db';
    else if (cmd.includes(`autovacuum worker`) || isBackgroundWorker) k = 'background';
    else k = 'background';
    this.kinds.set(pid, k);
    return k;
  }

  snapshot(): PgCpuSnapshot {
    const byPid = new Map<number, { ticks: number; kind: PgProcKind }>();
    let total = 0;
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      const st = readStat(Number(name));
      if (!st || st.ppid !== this.postmaster) continue;
      const entry = { ticks: st.ticks, kind: this.kindOf(st.pid) };
      byPid.set(st.pid, entry);
      this.lastSeen.set(st.pid, entry);
      total += st.ticks;
    }
    const pm = readStat(this.postmaster);
    if (!pm) throw new Error(`postmaster ${this.postmaster} vanished`);
    total += pm.ticks + pm.childTicks;
    return { total, byPid, postmasterChildTicks: pm.childTicks };
  }

  /** Seconds between two snapshots, split by process kind (exited = children that ended in between). */
  diff(a: PgCpuSnapshot, b: PgCpuSnapshot): { total: number; bench: number; background: number; otherDb: number; postmaster: number } {
    const split = { bench: 0, background: 0, 'other-db': 0 } as Record<PgProcKind, number>;
    const pids = new Set<number>([...a.byPid.keys(), ...b.byPid.keys(), ...this.lastSeen.keys()]);
    for (const pid of pids) {
      const end = b.byPid.get(pid) ?? this.lastSeen.get(pid);
      if (!end) continue;
      const start = a.byPid.get(pid)?.ticks ?? 0;
      split[end.kind] += Math.max(0, end.ticks - start);
    }
    const accounted = split.bench + split.background + split['other-db'];
    return {
      total: (b.total - a.total) / CLK_TCK,
      bench: split.bench / CLK_TCK,
      background: split.background / CLK_TCK,
      otherDb: split['other-db'] / CLK_TCK,
      // Postmaster itself plus whatever exited children did that the 500 ms samples missed.
      postmaster: (b.total - a.total - accounted) / CLK_TCK,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Observing the engine: commit moments per transaction, and client-side time per statement kind

interface TxRecord {
  xid: string | null;
  startedAt: number; // performance.now()
  endedAt: number;
  committedAtMs: number; // Date.now() once COMMIT returned
  rows: number | null;
}

/** The engine's own db, except that each transaction also reports its xid (one extra query). */
function observed(db: Db, records: TxRecord[]): Db {
  const transaction = (async (cb: (tx: unknown) => Promise<unknown>, config?: unknown) => {
    const startedAt = performance.now();
    let xid: string | null = null;
    const result = await (
      db.transaction as (
        cb: (tx: Parameters<Parameters<Db['transaction']>[0]>[0]) => Promise<unknown>,
        config?: unknown,
      ) => Promise<unknown>
    )(async (tx) => {
      const out = await cb(tx);
      const [row] = rowsOf<{ xid: string | null }>(await tx.execute(sql`select pg_current_xact_id_if_assigned()::text as xid`));
      xid = row?.xid ?? null;
      return out;
    }, config);
    records.push({
      xid,
      startedAt,
      endedAt: performance.now(),
      committedAtMs: Date.now(),
      // The claimed batch's size: fireBatch returns the wakes it fired (an array; a count in earlier engines).
      rows: typeof result === 'number' ? result : Array.isArray(result) ? result.length : null,
    });
    return result;
  }) as unknown as Db['transaction'];
  return new Proxy(db, {
    get(target, prop) {
      if (prop === 'transaction') return transaction;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

class StatementProfile {
  enabled = false;
  /** Characters of statement text and parameters sent while firing. */
  sent = 0;
  readonly stats = new Map<string, { count: number; ms: number }>();
  /** Statements slower than SLOW_MS while firing: when (wall clock), which kind, how long; at most 1 000 kept. */
  readonly slow: { at: number; key: string; ms: number }[] = [];
  static readonly SLOW_MS = 20;
  /** The same, per time bucket of the firing window (bucket = floor((end − origin) / bucketMs)). */
  readonly series = new Map<number, Map<string, { count: number; ms: number }>>();
  origin = 0;
  bucketMs = 30_000;

  constructor(pg: typeof PgNs) {
    const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
    const original = proto.query;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const profile = this;
    proto.query = function (this: unknown, ...args: unknown[]) {
      if (!profile.enabled) return original.apply(this, args);
      const first = args[0] as string | { text?: string; values?: unknown[] } | undefined;
      const text = typeof first === 'string' ? first : (first?.text ?? '');
      const key = StatementProfile.kind(text);
      // What the engine sends: the text and its parameters' characters (a figure the machine's load does not change).
      const values = (typeof first === 'object' && first?.values) || (Array.isArray(args[1]) ? (args[1] as unknown[]) : []);
      profile.sent += text.length + values.reduce<number>((n, v) => n + (typeof v === 'string' ? v.length : 8), 0);
      const t0 = performance.now();
      const done = () => profile.add(key, performance.now() - t0);
      const last = args[args.length - 1];
      if (typeof last === 'function') {
        args[args.length - 1] = (...cbArgs: unknown[]) => {
          done();
          return (last as (...a: unknown[]) => unknown)(...cbArgs);
        };
        return original.apply(this, args);
      }
      const r = original.apply(this, args);
      if (r && typeof (r as Promise<unknown>).then === 'function') (r as Promise<unknown>).then(done, done);
      return r;
    };
  }

  private add(key: string, ms: number): void {
    if (ms > StatementProfile.SLOW_MS && this.slow.length < 1000) this.slow.push({ at: Date.now() - ms, key, ms });
    const s = this.stats.get(key) ?? { count: 0, ms: 0 };
    s.count++;
    s.ms += ms;
    this.stats.set(key, s);
    const bucket = Math.floor((Date.now() - this.origin) / this.bucketMs);
    let m = this.series.get(bucket);
    if (!m) this.series.set(bucket, (m = new Map()));
    const b = m.get(key) ?? { count: 0, ms: 0 };
    b.count++;
    b.ms += ms;
    m.set(key, b);
  }

  /** Cheap on purpose: the multi-row inserts are long, only their head (and a marker) is read. */
  static kind(text: string): string {
    const t = text.slice(0, 160).trim().toLowerCase().replace(/\s+/g, ' ');
    if (/^(begin|commit|rollback)/.test(t)) return t.split(' ')[0]!;
    if (t.includes('from incident_wakes w join incidents')) return 'claim (select … for update skip locked)';
    if (t.includes('min(wake_at)')) return 'min(next_wake_at) (re-arm)';
    if (t.includes('pg_current_xact_id')) return 'bench: xid probe';
    if (t.includes('pg_notify')) return 'pg_notify';
    if (t.startsWith('vacuum'))
      return t.startsWith('vacuum incident_wakes') ? "vacuum incident_wakes (the timer's queue)" : 'bench: vacuum';
    const m = /^(insert into|update|delete from) "?(\w+)"?/.exec(t);
    if (m) return `${m[1]} ${m[2]}${text.includes(' on conflict ') ? ' (on conflict)' : ''}`;
    return t.slice(0, 40);
  }
}

/** The server's WAL insert position, in bytes. */
async function currentLsn(db: Db): Promise<number> {
  const [row] = rowsOf<{ b: string }>(await db.execute(sql`select pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text as b`));
  return Number(row?.b ?? 0);
}

/** What the timer's two queue queries cost right now: EXPLAIN (ANALYZE, BUFFERS) of each. */
async function explainQueue(db: Db, at: number): Promise<{ claim: string; min: string }> {
  const one = async (query: string) => {
    const [row] = rowsOf<{ 'QUERY PLAN': unknown }>(await db.execute(sql.raw(`explain (analyze, buffers, format json) ${query}`)));
    const [plan] = row?.['QUERY PLAN'] as {
      'Execution Time': number;
      Plan: { 'Actual Rows': number; 'Shared Hit Blocks': number; 'Shared Read Blocks': number };
    }[];
    if (!plan) return '?';
    const buffers = plan.Plan['Shared Hit Blocks'] + plan.Plan['Shared Read Blocks'];
    return `${fmt(plan['Execution Time'], 2)} ms, ${buffers} buffers, ${plan.Plan['Actual Rows']} rows`;
  };
  return {
    claim: await one(
      `select a.id, w.wake_at as next_wake_at, state, version from incident_wakes w join incidents a on a.id = w.incident_id
        where w.wake_at <= '${iso(at)}' order by w.wake_at limit 500 for update of w, a skip locked`,
    ),
    min: await one(`select min(wake_at) as at from incident_wakes`),
  };
}

// ---------------------------------------------------------------------------------------------
// The run

interface Figures {
  lines: [string, string][];
}

async function main(): Promise<void> {
  const dbName = `huiying_bench_${randomBytes(4).toString('hex')}`;
  const admin = openPostgres(withDb(PG_URL, 'postgres'), { max: 1 });
  const figures: Figures = { lines: [] };
  const add = (k: string, v: string) => figures.lines.push([k, v]);
  let handle: DbHandle | undefined;
  let loader: DbHandle | undefined;
  let probe: DbHandle | undefined;
  let created = false;
  const cleanup = async () => {
    await Promise.allSettled([handle?.close(), loader?.close(), probe?.close()]);
    handle = loader = probe = undefined;
    if (created && !KEEP_DB) {
      await admin.db.execute(sql.raw(`drop database if exists "${dbName}" with (force)`));
      created = false;
      log(`dropped database ${dbName}`);
    } else if (created) log(`kept database ${dbName}`);
    await admin.close();
  };
  let interrupted = false;
  // Ctrl-C or SIGTERM (a supervisor, a timeout): stop loading, then drop the database as at the end.
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => {
      interrupted = true;
      log(`${signal}: cleaning up`);
    });

  try {
    const [ver] = rowsOf<{ v: string; fsync: string; sc: string }>(
      await admin.db.execute(
        sql`select current_setting('server_version') as v, current_setting('fsync') as fsync, current_setting('synchronous_commit') as sc`,
      ),
    );
    await admin.db.execute(sql.raw(`create database "${dbName}"`));
    created = true;
    const url = withDb(PG_URL, dbName);
    log(`database ${dbName} created; migrating`);
    loader = openPostgres(url, { max: 3 });
    await loader.migrate();

    // --- Load --------------------------------------------------------------------------------
    const loadStart = Date.now();
    const estimatedPrepMs = (N / LOAD_RATE) * 1000 * 1.25 + 3000;
    const firstDue = Math.ceil(loadStart + estimatedPrepMs + LEAD_MS);
    const lastDue = firstDue + dueOffset(N - 1);
    log(`loading ${N} incidents; first due ${iso(firstDue)}, last due ${iso(lastDue)} (planned)`);
    const createdAt = iso(loadStart);
    // States as the engine's writer stores them: each clock's ladder snapshot by reference (0038).
    const [hasSnapshots] = rowsOf<{ yes: boolean }>(
      await loader.db.execute(sql`select to_regclass('ladder_snapshots') is not null as yes`),
    );
    const byRef = (LADDER_SNAPSHOTS ?? (hasSnapshots!.yes ? 'ref' : 'inline')) === 'ref';
    const snapshots = new Map<string, Ladder>();
    log(`ladder snapshots stored ${byRef ? 'by reference' : 'inline'}`);
    const chunkJson = (from: number, to: number): { incidents: string; clocks: string } => {
      const inc: unknown[] = [];
      const clk: unknown[] = [];
      for (let i = from; i < to; i++) {
        const due = firstDue + dueOffset(i);
        const id = `inc_bench_${String(i).padStart(7, '0')}`;
        const { state } = applyIncidentInput(
          undefined,
          { type: 'signal', at: due - 1000, incident: id, source: 'hotline', publishedAt: due - HOUR_48, title: `热线工单 ${i}` },
          DEFAULT_RULE_PACK,
        );
        const wake = nextIncidentWake(state);
        if (wake !== due) throw new Error(`incident ${i}: next wake ${wake} is not its due ${due}`);
        const view = incidentView(state);
        inc.push({
          id,
          title: view.title,
          level: view.level,
          unit_id: view.unitId,
          status: view.status,
          start_at: iso(view.startAt),
          state: byRef ? storedIncidentState(state, snapshots) : state,
          next_wake_at: iso(wake),
        });
        for (const c of view.clocks) {
          clk.push({
            incident_id: id,
            seq: c.seq,
            kind: c.kind,
            state: c.state,
            start_at: iso(c.startAt),
            due_at: iso(c.dueAt),
            responded_at: c.respondedAt === null ? null : iso(c.respondedAt),
            late: c.late,
            unit_id: view.unitId,
          });
        }
      }
      return { incidents: JSON.stringify(inc), clocks: JSON.stringify(clk) };
    };
    const loadDb = loader.db;
    const insertChunk = async (from: number, to: number) => {
      const { incidents, clocks } = chunkJson(from, to);
      if (snapshots.size > 0)
        await loadDb.execute(sql`insert into ladder_snapshots (id, ladder) select key, value from jsonb_each(${JSON.stringify(Object.fromEntries(snapshots))}::jsonb)
          on conflict (id) do nothing`);
      await loadDb.execute(sql`
        with i as (
          insert into incidents (id, title, level, unit_id, status, start_at, state, next_wake_at, created_at, updated_at)
          select id, title, level, unit_id, status, start_at, state, next_wake_at, ${createdAt}::timestamptz, ${createdAt}::timestamptz
          from jsonb_to_recordset(${incidents}::jsonb) as r(id text, title text, level text, unit_id text, status text,
                                                             start_at timestamptz, state jsonb, next_wake_at timestamptz)
          returning id, next_wake_at
        ),
        w as (insert into incident_wakes (incident_id, wake_at) select id, next_wake_at from i where next_wake_at is not null)
        insert into clocks (incident_id, seq, kind, state, start_at, due_at, responded_at, late, unit_id, updated_at)
        select incident_id, seq, kind, state, start_at, due_at, responded_at, late, unit_id, ${createdAt}::timestamptz
        from jsonb_to_recordset(${clocks}::jsonb) as r(incident_id text, seq int, kind text, state text, start_at timestamptz,
                                                       due_at timestamptz, responded_at timestamptz, late boolean, unit_id text)`);
    };
    // Two statements in flight: the next chunk is built while the server inserts the previous one.
    let nextFrom = 0;
    let loaded = 0;
    let lastReport = Date.now();
    const worker = async () => {
      while (nextFrom < N && !interrupted) {
        const from = nextFrom;
        const to = Math.min(N, from + CHUNK);
        nextFrom = to;
        await insertChunk(from, to);
        loaded += to - from;
        if (Date.now() - lastReport > 5000) {
          lastReport = Date.now();
          log(`  loaded ${loaded} / ${N} (${fmt(loaded / ((Date.now() - loadStart) / 1000), 0)} rows/s)`);
        }
      }
    };
    await Promise.all([worker(), worker()]);
    if (interrupted) return;
    const loadEnd = Date.now();
    const loadSeconds = (loadEnd - loadStart) / 1000;
    log(`loaded ${N} incidents + ${N} clock rows in ${fmt(loadSeconds)} s (${fmt(N / loadSeconds, 0)} incidents/s); vacuum analyze`);
    await loadDb.execute(sql`vacuum analyze`);
    await loadDb.execute(sql`checkpoint`);
    const prepEnd = Date.now();
    await loader.close();
    loader = undefined;
    const actualLeadMs = firstDue - prepEnd;
    log(`vacuum analyze + checkpoint ${fmt((prepEnd - loadEnd) / 1000)} s; first due in ${fmt(actualLeadMs / 1000)} s`);
    if (actualLeadMs < 2000) {
      throw new Error(
        `loading took longer than estimated: the first due is ${fmt(actualLeadMs / 1000)} s away (< 2 s). ` +
          `Rerun with a lower --load-rate (measured ${fmt(N / loadSeconds, 0)} rows/s).`,
      );
    }

    // --- Fire --------------------------------------------------------------------------------
    const pg = createRequire(new URL('../packages/db/package.json', import.meta.url))('pg') as typeof PgNs;
    const statements = new StatementProfile(pg);
    handle = openPostgres(url);
    probe = openPostgres(url, { max: 1 });
    const [bp] = rowsOf<{ pid: number }>(await probe.db.execute(sql`select pg_backend_pid() as pid`));
    const postmaster = readStat(bp!.pid)!.ppid;
    const pgCpu = new PgCpu(postmaster, dbName);
    const txs: TxRecord[] = [];
    const passes: { at: number; n: number }[] = [];
    // Rows fired so far by committed transactions (onFired only reports at the end of a pass).
    let committedRows = 0;
    let seenTx = 0;
    const committedSoFar = () => {
      while (seenTx < txs.length) committedRows += txs[seenTx++]!.rows ?? 0;
      return committedRows;
    };
    let fired = 0;
    let errors = 0;
    const logger = {
      error: (e: unknown, msg?: string) => {
        errors++;
        process.stderr.write(`[timer-bench] engine error: ${msg ?? ''} ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      },
      warn: () => undefined,
      info: () => undefined,
      debug: () => undefined,
    };
    const timerModule: typeof TimerModule = ENGINE_TIMER
      ? ((await import(pathToFileURL(ENGINE_TIMER).href)) as typeof TimerModule)
      : await import('../services/engine/src/timer.ts');
    type TimerDeps = ConstructorParameters<typeof TimerModule.DeadlineTimer>[0];
    const timer = new timerModule.DeadlineTimer(
      { db: observed(handle.db, txs), clock: systemClock, pack: () => DEFAULT_RULE_PACK, logger: logger as unknown as TimerDeps['logger'] },
      {
        resyncMs: 0,
        ...(WORKERS === undefined ? {} : { workers: WORKERS }),
        ...(PASSES === undefined ? {} : { passes: PASSES }),
        ...(QUEUE_VACUUM_EVERY === undefined ? {} : { vacuum: { everyFired: QUEUE_VACUUM_EVERY, minIntervalMs: 10_000 } }),
        onFired: (n) => {
          fired += n;
          passes.push({ at: Date.now(), n });
        },
      },
    );

    const explainBefore = await explainQueue(probe.db, firstDue + SPREAD_MS);
    const [av] = rowsOf<{ on: string }>(await probe.db.execute(sql`select current_setting('autovacuum') as on`));
    const autovacuum = av?.on ?? '?';

    // Start the window just before the first due: nothing is due earlier, so nothing fires earlier.
    const untilStart = firstDue - 1000 - Date.now();
    if (untilStart > 0) await sleep(untilStart);
    gc();
    const mem0 = process.memoryUsage();
    let rssPeak = mem0.rss;
    let heapPeak = mem0.heapUsed;
    const pg0 = pgCpu.snapshot();
    const load0 = loadavg();
    const lsn0 = await currentLsn(probe.db);
    const cpu0 = process.cpuUsage();
    const windowStart = Date.now();
    let maxBacklog = 0;
    let maxBacklogAt = 0;
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      rssPeak = Math.max(rssPeak, m.rss);
      heapPeak = Math.max(heapPeak, m.heapUsed);
      pgCpu.snapshot();
      const now = Date.now();
      const dueSoFar = now < firstDue ? 0 : Math.min(N, Math.floor(((now - firstDue) * N) / SPREAD_MS) + 1);
      const backlog = dueSoFar - committedSoFar();
      if (backlog > maxBacklog) {
        maxBacklog = backlog;
        maxBacklogAt = (now - firstDue) / 1000;
      }
    }, 500);
    statements.origin = firstDue;
    statements.bucketMs = Math.max(10_000, Math.round(SPREAD_MS / 10 / 1000) * 1000);
    statements.enabled = true;
    let vacuums = 0;
    let vacuumMs = 0;
    let vacuumRunning = false;
    const vacuumer =
      VACUUM_EVERY_MS > 0
        ? setInterval(() => {
            if (vacuumRunning || !probe) return;
            vacuumRunning = true;
            const t0 = performance.now();
            void probe.db
              .execute(sql`vacuum incidents`)
              .then(() => {
                vacuums++;
                vacuumMs += performance.now() - t0;
              })
              .catch((e: unknown) => log(`vacuum failed: ${String(e)}`))
              .finally(() => (vacuumRunning = false));
          }, VACUUM_EVERY_MS)
        : undefined;
    await timer.start();
    log(`timer started (rss ${mb(mem0.rss)}, heap ${mb(mem0.heapUsed)}); firing ${N} dues over ${SPREAD_MS / 1000} s`);

    let lastProgress = Date.now();
    let lastFired = 0;
    let lastChange = Date.now();
    let gaveUp = false;
    while (committedSoFar() < N && !interrupted) {
      await sleep(1000);
      const now = Date.now();
      const done = committedSoFar();
      if (done !== lastFired) {
        lastFired = done;
        lastChange = now;
      }
      if (now - lastProgress >= 5000) {
        lastProgress = now;
        const dueSoFar = now < firstDue ? 0 : Math.min(N, Math.floor(((now - firstDue) * N) / SPREAD_MS) + 1);
        log(
          `  t=${fmt((now - firstDue) / 1000)} s fired ${done} / due ${dueSoFar} (backlog ${dueSoFar - done}), rss ${mb(process.memoryUsage().rss)}`,
        );
      }
      if (now > lastDue + MAX_WAIT_MS || (now > lastDue + 60_000 && now - lastChange > 60_000)) {
        gaveUp = true;
        log(`giving up: ${N - done} dues not fired ${fmt((now - lastDue) / 1000)} s after the last due`);
        break;
      }
    }
    await timer.stop();
    if (vacuumer) clearInterval(vacuumer);
    while (vacuumRunning) await sleep(50);
    statements.enabled = false;
    const windowEnd = Date.now();
    const cpu1 = process.cpuUsage(cpu0);
    const walBytes = (await currentLsn(probe.db)) - lsn0;
    const pg1 = pgCpu.snapshot();
    clearInterval(sampler);
    const mem1 = process.memoryUsage();
    rssPeak = Math.max(rssPeak, mem1.rss);
    heapPeak = Math.max(heapPeak, mem1.heapUsed);
    const pgSpent = pgCpu.diff(pg0, pg1);
    if (interrupted) return;

    // --- Measure -----------------------------------------------------------------------------
    log('firing done; computing lateness');
    const q = probe.db;
    const [open] = rowsOf<{ n: string }>(await q.execute(sql`select count(*) as n from incidents where next_wake_at is not null`));
    const [counts] = rowsOf<{ alerts: string; distinct_due: string; outbox: string; audit: string; dup: string }>(
      await q.execute(sql`select
        (select count(*) from alerts where kind = 'breached') as alerts,
        (select count(distinct incident_id) from alerts where kind = 'breached') as distinct_due,
        (select count(*) from outbox where payload->>'event' = 'breached') as outbox,
        (select count(*) from audit_log where action = 'clock.breached') as audit,
        (select count(*) - count(distinct payload->>'alertId') from outbox where payload->>'event' = 'breached') as dup`),
    );
    const stamped = rowsOf<Record<string, string | number | null>>(
      await q.execute(sql`
        with f as (
          select extract(epoch from (o.created_at - a.due_at)) * 1000 as ms
          from alerts a join outbox o on o.payload->>'alertId' = a.id
          where a.kind = 'breached'
        )
        select count(*) as n, percentile_cont(0.5) within group (order by ms) as p50,
               percentile_cont(0.99) within group (order by ms) as p99, max(ms) as max, avg(ms) as mean, min(ms) as min,
               count(*) filter (where ms > 50) as over50, count(*) filter (where ms > 250) as over250 from f`),
    )[0]!;
    // Commit moments, matched to alert rows by the inserting transaction's xid.
    const txJson = JSON.stringify(txs.filter((t) => t.xid !== null).map((t) => ({ xid: t.xid, at: iso(t.committedAtMs) })));
    await q.execute(
      sql`create table bench_tx as select (xid::numeric % 4294967296)::bigint as xid, at from jsonb_to_recordset(${txJson}::jsonb) as r(xid text, at timestamptz)`,
    );
    const committed = rowsOf<Record<string, string | number | null>>(
      await q.execute(sql`
        with f as (
          select extract(epoch from (t.at - a.due_at)) * 1000 as ms
          from alerts a join bench_tx t on t.xid = a.xmin::text::bigint
          where a.kind = 'breached'
        )
        select count(*) as n, percentile_cont(0.5) within group (order by ms) as p50,
               percentile_cont(0.99) within group (order by ms) as p99, max(ms) as max, avg(ms) as mean, min(ms) as min,
               count(*) filter (where ms > 50) as over50, count(*) filter (where ms > 250) as over250 from f`),
    )[0]!;
    const [last] = rowsOf<{ at: string | Date | null }>(await q.execute(sql`select max(at) as at from bench_tx`));
    const lastCommit = last?.at ? new Date(last.at).getTime() : windowEnd;

    // Transactions that fired something.
    const work = txs.filter((t) => (t.rows ?? 0) > 0);
    const txMs = work.map((t) => t.endedAt - t.startedAt).sort((a, b) => a - b);
    const pct = (xs: number[], p: number) => (xs.length ? xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]! : 0);
    const rowsTotal = work.reduce((s, t) => s + (t.rows ?? 0), 0);
    const txTotalMs = txMs.reduce((s, x) => s + x, 0);
    const rowsPerTx = work.map((t) => t.rows ?? 0).sort((a, b) => a - b);

    const explainAfter = await explainQueue(q, lastDue + 1);
    // HOT updates (no new index entries) of the incident row: what a timer wake's write can be (migration 0033).
    // The engine's backends report their counters when they exit.
    const engineHandle = handle;
    handle = undefined;
    await engineHandle.close();
    await sleep(200);
    await q.execute(sql`select pg_stat_clear_snapshot()`);
    const [tup] = rowsOf<{ live: string; dead: string; upd: string; hot: string }>(
      await q.execute(sql`select n_live_tup as live, n_dead_tup as dead, n_tup_upd as upd, n_tup_hot_upd as hot
        from pg_stat_user_tables where relname = 'incidents'`),
    );
    // Per time bucket of the window: throughput, batch size, statement times, lateness of the dues in it.
    const bucketMs = statements.bucketMs;
    const byDue = new Map(
      rowsOf<{ b: number; n: string; p99: number | string; max: number | string }>(
        await q.execute(sql`
          select floor(extract(epoch from (a.due_at - ${iso(firstDue)}::timestamptz)) * 1000 / ${bucketMs})::int as b, count(*) as n,
                 percentile_cont(0.99) within group (order by extract(epoch from (t.at - a.due_at)) * 1000) as p99,
                 max(extract(epoch from (t.at - a.due_at)) * 1000) as max
          from alerts a join bench_tx t on t.xid = a.xmin::text::bigint
          where a.kind = 'breached' group by 1 order by 1`),
      ).map((r) => [Number(r.b), r] as const),
    );
    const series: string[] = [];
    const buckets = new Set<number>([...statements.series.keys(), ...byDue.keys()]);
    for (const b of [...buckets].sort((x, y) => x - y)) {
      if (b < 0) continue;
      const inBucket = work.filter((t) => Math.floor((t.committedAtMs - firstDue) / bucketMs) === b);
      const rows = inBucket.reduce((s, t) => s + (t.rows ?? 0), 0);
      const ms = inBucket.reduce((s, t) => s + (t.endedAt - t.startedAt), 0);
      const st = statements.series.get(b);
      const mean = (k: string) => {
        const v = st?.get(k);
        return v ? `${fmt(v.ms / v.count, 2)} ms` : '–';
      };
      const due = byDue.get(b);
      series.push(
        `t=${(b * bucketMs) / 1000}–${((b + 1) * bucketMs) / 1000} s: fired ${fmt(rows / (bucketMs / 1000), 0)}/s, ` +
          `${fmt(rows / Math.max(1, inBucket.length), 0)} rows/tx, ${fmt((ms / Math.max(1, rows)) * 1000, 0)} µs/incident, ` +
          `claim ${mean('claim (select … for update skip locked)')}, re-arm ${mean('min(next_wake_at) (re-arm)')}, ` +
          `upsert incidents ${mean('insert into incidents (on conflict)')}, commit ${mean('commit')}; ` +
          `dues in it: committed p99 ${due ? fmt(Number(due.p99), 0) : '–'} ms, max ${due ? fmt(Number(due.max), 0) : '–'} ms`,
      );
    }

    // --- Print -------------------------------------------------------------------------------
    const num = (v: string | number | null | undefined) => Number(v ?? NaN);
    const lateness = (label: string, r: Record<string, string | number | null>) => {
      const n = num(r.n);
      add(`${label} events`, `${n}`);
      add(`${label} p50`, `${fmt(num(r.p50))} ms`);
      add(`${label} p99`, `${fmt(num(r.p99))} ms`);
      add(`${label} max`, `${fmt(num(r.max))} ms`);
      add(`${label} mean`, `${fmt(num(r.mean))} ms`);
      add(`${label} min`, `${fmt(num(r.min))} ms`);
      add(`${label} > 50 ms`, `${num(r.over50)} (${fmt((100 * num(r.over50)) / Math.max(1, n), 2)} %)`);
      add(`${label} > 250 ms`, `${num(r.over250)} (${fmt((100 * num(r.over250)) / Math.max(1, n), 2)} %)`);
    };
    const engineFile = new URL('../services/engine/src/incident-writer.ts', import.meta.url);
    let engineRev = 'unknown';
    try {
      const cwd = new URL('..', import.meta.url).pathname;
      const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd }).toString().trim();
      const dirty = execFileSync('git', ['status', '--porcelain', '--', 'services/engine/src'], { cwd }).toString().trim() !== '';
      const blob = execFileSync('git', ['hash-object', engineFile.pathname], { cwd }).toString().trim().slice(0, 10);
      engineRev = `${ENGINE_TIMER ?? 'services/engine/src/timer.ts'} at ${head}${dirty ? ' + uncommitted changes' : ''} (incident-writer.ts blob ${blob})`;
    } catch {
      /* not a git checkout */
    }
    const windowS = (lastCommit - windowStart) / 1000;
    add('date', new Date().toISOString());
    add(
      'machine',
      `${cpus().length} cores (${cpus()[0]?.model ?? '?'}), Node ${process.version}, PostgreSQL ${ver?.v} (fsync ${ver?.fsync}, synchronous_commit ${ver?.sc})`,
    );
    add('engine', `${engineRev}; firing transactions in flight: ${WORKERS ?? 'the engine default (2)'}`);
    add(
      'autovacuum',
      `${autovacuum}${VACUUM_EVERY_MS > 0 ? `; the bench ran \`vacuum incidents\` every ${VACUUM_EVERY_MS / 1000} s (${vacuums} runs, ${fmt(vacuumMs / 1000, 1)} s)` : ''}`,
    );
    add('clocks', `${N}`);
    add('spread', `${SPREAD_MS / 1000} s (${fmt(N / (SPREAD_MS / 1000), 0)} dues/s)`);
    add(
      'load',
      `${N} incidents + ${N} clock rows in ${fmt(loadSeconds)} s = ${fmt(N / loadSeconds, 0)} incidents/s (${CHUNK} rows/statement, 2 in flight)`,
    );
    add('vacuum analyze + checkpoint', `${fmt((prepEnd - loadEnd) / 1000)} s`);
    add('lead', `${fmt(LEAD_MS / 1000)} s planned, ${fmt(actualLeadMs / 1000)} s actual (end of loading+vacuum → first due)`);
    add('fired', `${fired} of ${N}${gaveUp ? ' (GAVE UP)' : ''}; still open ${open?.n}; engine errors ${errors}`);
    add(
      'rows',
      `breach alerts ${counts?.alerts} (${counts?.distinct_due} incidents), outbox ${counts?.outbox} (duplicate alert ids ${counts?.dup}), audit ${counts?.audit}`,
    );
    lateness('lateness stamped (outbox.created_at − due)', stamped);
    lateness('lateness committed (COMMIT returned − due)', committed);
    add('firing window', `${fmt(windowS)} s (first due − 1 s → last commit; spread ${SPREAD_MS / 1000} s)`);
    add('last commit after last due', `${fmt((lastCommit - lastDue) / 1000, 2)} s`);
    add('max backlog', `${maxBacklog} dues at t=${fmt(maxBacklogAt)} s (sampled every 500 ms)`);
    add('fire passes / transactions', `${passes.length} passes, ${work.length} transactions with work, ${txs.length} in all`);
    add('rows per transaction', `mean ${fmt(rowsTotal / Math.max(1, work.length))}, p50 ${pct(rowsPerTx, 0.5)}, max ${pct(rowsPerTx, 1)}`);
    add('transaction time', `p50 ${fmt(pct(txMs, 0.5))} ms, p99 ${fmt(pct(txMs, 0.99))} ms, max ${fmt(pct(txMs, 1))} ms`);
    add(
      'time in firing transactions',
      `${fmt(txTotalMs / 1000, 2)} s = ${fmt((100 * txTotalMs) / 1000 / windowS, 0)} % of the window; ${fmt((txTotalMs / Math.max(1, rowsTotal)) * 1000, 0)} µs per fired incident at this batch size`,
    );
    add(
      'engine CPU',
      `${fmt((cpu1.user + cpu1.system) / 1e6, 2)} s (user ${fmt(cpu1.user / 1e6, 2)}, system ${fmt(cpu1.system / 1e6, 2)}) = ${fmt((100 * (cpu1.user + cpu1.system)) / 1e6 / windowS, 0)} % of one core`,
    );
    add('engine memory rss', `${mb(mem0.rss)} at start, ${mb(rssPeak)} peak, ${mb(mem1.rss)} at end`);
    add('engine memory heapUsed', `${mb(mem0.heapUsed)} at start, ${mb(heapPeak)} peak, ${mb(mem1.heapUsed)} at end`);
    add('postgres CPU while firing', `${fmt(pgSpent.total, 2)} s = ${fmt((100 * pgSpent.total) / windowS, 0)} % of one core`);
    // Per fired clock, the figures to compare across runs on a shared machine (wall-clock ones follow its load).
    const perFired = (seconds: number) => (seconds * 1e6) / Math.max(1, rowsTotal);
    const engineUs = perFired((cpu1.user + cpu1.system) / 1e6);
    const pgUs = perFired(pgSpent.bench);
    add('engine CPU per fired clock', `${fmt(engineUs, 0)} µs`);
    add(
      'sent to PostgreSQL per fired clock',
      `${fmt(statements.sent / Math.max(1, rowsTotal), 0)} characters (statement text and parameters)`,
    );
    add(
      'postgres CPU per fired clock',
      `${fmt(pgUs, 0)} µs (this database's backends; ${fmt(perFired(pgSpent.total - pgSpent.otherDb), 0)} µs with background processes) — ` +
        `graphile-worker, issue 8: 100 000 jobs due over 120 s, PostgreSQL 11–13 s = 110–130 µs per job`,
    );
    add(
      'CPU ceiling',
      `${fmt((cpus().length * 1e6) / (engineUs + pgUs), 0)} fired/s if engine + PostgreSQL had all ${cpus().length} cores and nothing else ran (issue 8: ≥ 10 000/s)`,
    );
    const load1 = loadavg();
    add(
      'load average (1, 5, 15 min)',
      `${load0.map((x) => fmt(x, 2)).join(', ')} at the first due; ${load1.map((x) => fmt(x, 2)).join(', ')} at the end`,
    );
    add(
      'postgres CPU split',
      `bench-db backends ${fmt(pgSpent.bench, 2)} s, background ${fmt(pgSpent.background, 2)} s, postmaster+exited ${fmt(pgSpent.postmaster, 2)} s, other databases' backends ${fmt(pgSpent.otherDb, 2)} s`,
    );
    // Client-side round trips per statement kind (they include waiting for the event loop).
    const stmtRows = [...statements.stats.entries()].sort((a, b) => b[1].ms - a[1].ms);
    const inTx = stmtRows.filter(([k]) => !k.startsWith('min(next_wake_at)') && !k.includes('vacuum')).reduce((s, [, v]) => s + v.ms, 0);
    const rearmMs = statements.stats.get('min(next_wake_at) (re-arm)')?.ms ?? 0;
    const busyMs = txTotalMs + rearmMs;
    add(
      'engine busy time',
      `${fmt(busyMs / 1000, 2)} s (firing transactions + re-arm queries) = ${fmt((100 * busyMs) / 1000 / windowS, 0)} % of the window`,
    );
    for (const [k, v] of stmtRows) {
      add(
        `  statement ${k}`,
        `${v.count} × ${fmt(v.ms / v.count, 2)} ms = ${fmt(v.ms / 1000, 2)} s (${fmt((100 * v.ms) / Math.max(1, busyMs), 1)} % of busy time)`,
      );
    }
    const jsMs = Math.max(0, txTotalMs - inTx);
    add(
      `  JS between statements`,
      `${fmt(jsMs / 1000, 2)} s (${fmt((100 * jsMs) / Math.max(1, busyMs), 1)} % of busy time: row parsing, advance, building persist rows)`,
    );
    // Where the lateness tail comes from: the stalls, by statement, with their wall-clock time (to
    // set beside the server's log: checkpoints, the queue's vacuum).
    const slowByKind = new Map<string, number>();
    for (const x of statements.slow) slowByKind.set(x.key, (slowByKind.get(x.key) ?? 0) + 1);
    add(
      `statements over ${StatementProfile.SLOW_MS} ms`,
      statements.slow.length === 0
        ? 'none'
        : [...slowByKind.entries()]
            .sort((a, b) => b[1] - a[1])
            .map(([k, n]) => `${n} × ${k.slice(0, 40)}`)
            .join('; '),
    );
    for (const x of [...statements.slow].sort((a, b) => b.ms - a.ms).slice(0, 8)) {
      add(`  slow at t=${fmt((x.at - firstDue) / 1000, 1)} s`, `${iso(x.at)} ${fmt(x.ms, 1)} ms ${x.key.slice(0, 60)}`);
    }
    // The server-wide WAL written while firing (this database is the only one writing).
    const walPerTx = walBytes / Math.max(1, work.length);
    add(
      'WAL while firing',
      `${fmt(walBytes / 1e6, 0)} MB = ${fmt(walBytes / Math.max(1, rowsTotal) / 1000, 1)} kB per fired clock, ${fmt(walPerTx / 1000, 0)} kB per transaction`,
    );
    if (FLOOR_SECONDS > 0) {
      // PostgreSQL's own floor for this lateness (commit-floor.ts): pgbench commits transactions of
      // the timer's WAL size at its transaction rate, and a due at a random instant waits for the next.
      log(`raw floor: pgbench ${FLOOR_SECONDS} s at the timer's transaction rate and size`);
      // From where the timer started: right after a checkpoint (the firing's WAL has them running).
      await probe.db.execute(sql`checkpoint`);
      const txPerSecond = work.length / windowS;
      const floor = commitFloor({ url, txPerSecond, walPerTx, seconds: FLOOR_SECONDS, duesPerSecond: N / (SPREAD_MS / 1000) });
      add(
        'raw floor: pgbench commits',
        `${floor.transactions} transactions of ${floor.rowsPerTx} × 1 kB rows at ${fmt(txPerSecond, 0)}/s over ${FLOOR_SECONDS} s: ` +
          `p50 ${fmt(floor.commit.p50, 2)} ms, p99 ${fmt(floor.commit.p99, 2)} ms, max ${fmt(floor.commit.max, 1)} ms, ${floor.commit.over20} over 20 ms`,
      );
      add(
        'raw floor: lateness',
        `a due at a random instant, committed by the next of those to start: p50 ${fmt(floor.lateness.p50, 1)} ms, p99 ${fmt(floor.lateness.p99, 1)} ms, ` +
          `max ${fmt(floor.lateness.max, 1)} ms, ${fmt(100 * floor.lateness.over20Share, 2)} % over 20 ms (a timer costing nothing, on this server today)`,
      );
    }
    add('claim query, full queue before firing', explainBefore.claim);
    add('claim query, drained queue after firing', explainAfter.claim);
    add('min(next_wake_at), full queue before firing', explainBefore.min);
    add('min(next_wake_at), drained queue after firing', explainAfter.min);
    add('incidents tuples after firing', `${tup?.live} live, ${tup?.dead} dead; ${tup?.upd} updates, ${tup?.hot} of them HOT`);
    series.forEach((line, i) => add(`series ${String(i + 1).padStart(2)}`, line));
    const p99 = num(stamped.p99);
    const max = num(stamped.max);
    const cp99 = num(committed.p99);
    const cmax = num(committed.max);
    add(
      'target p99 ≤ 50 ms, max ≤ 250 ms',
      `stamped: p99 ${p99 <= 50 ? 'MET' : 'MISSED'}, max ${max <= 250 ? 'MET' : 'MISSED'}; committed: p99 ${cp99 <= 50 ? 'MET' : 'MISSED'}, max ${cmax <= 250 ? 'MET' : 'MISSED'}`,
    );
    add(
      'target issue 8: p99 ≤ 20 ms, max ≤ 100 ms',
      `committed: p99 ${cp99 <= 20 ? 'MET' : 'MISSED'}, max ${cmax <= 100 ? 'MET' : 'MISSED'}`,
    );

    const width = Math.max(...figures.lines.map(([k]) => k.length));
    process.stdout.write('\n== Huiying live timer precision ==\n');
    for (const [k, v] of figures.lines) process.stdout.write(`${k.padEnd(width)}  ${v}\n`);
    process.stdout.write('\n');
  } finally {
    await cleanup();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`[timer-bench] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
