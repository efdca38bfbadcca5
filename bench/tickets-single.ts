/**
 * One ticket per request, on its own (issue 8's second target), in a minute or two:
 * `pnpm bench --only tickets-single`, or
 *
 *     node --import tsx bench/tickets-single.ts [--brokers 127.0.0.1:19092] [--singles 3000] [--clients 64]
 *       [--pgbench-seconds 5] [--runs 1] [--engine] [--log-level warn|info]
 *
 * A fresh database, the production ingest main (`services/ingest/src/main.ts`) against it and a
 * running broker (unique topic prefix), an API token as the hotline system holds one; then per run:
 * pgbench's two-insert transaction (signal + outbox, 64 clients, as in bench/e2e.ts) for the
 * baseline, and `--singles` single-ticket POSTs from `--clients` keep-alive clients in a closed
 * loop (bench/e2e/load.ts, its own process). While the load runs, the ingest database's backends
 * are sampled in pg_stat_activity every 20 ms: what the request path's connections wait on.
 * `--engine` also runs the engine main (as in the e2e single phase, where it applies the signals).
 * `--log-level info` runs the processes at production's LOG_LEVEL (a line per request); the default
 * `warn` leaves the per-request logging out. `BENCH_SUT_NODE_FLAGS='--cpu-prof --cpu-prof-dir=DIR'`
 * profiles the ingest main (written when it stops at the end).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';
import type PgNs from 'pg';
import { type Cleanup, runBench } from './interrupt.ts';
import { cpuSeconds } from './proc-stat.ts';
import { PGBENCH } from './pgbench.ts';

const { values: args } = parseArgs({
  options: {
    'pg-url': { type: 'string', default: process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432' },
    brokers: { type: 'string', default: '127.0.0.1:19092' },
    singles: { type: 'string', default: '3000' },
    clients: { type: 'string', default: '64' },
    'pgbench-seconds': { type: 'string', default: '5' },
    runs: { type: 'string', default: '1' },
    engine: { type: 'boolean', default: false },
    /** The processes' LOG_LEVEL: production's default `info` logs every request; `warn` (the default here) measures without it. */
    'log-level': { type: 'string', default: 'warn' },
  },
});
const root = new URL('..', import.meta.url).pathname;
const pg = createRequire(join(root, 'packages/db/package.json'))('pg') as typeof PgNs;
const run = `${process.pid}_${Date.now().toString(36)}`;
const cleanups: Cleanup[] = [];
const say = (label: string, value: string) => console.log(`${label.padEnd(44)}${value}`);
/** cpuSeconds of a process and its descendants (the ingest main's cluster workers, INGEST_WORKERS > 1). */
function treeCpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  let children: number[] = [];
  try {
    children = readdirSync(`/proc/${pid}/task`).flatMap((task) =>
      readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
    );
  } catch {
    // gone
  }
  return cpuSeconds(pid) + children.reduce((sum, child) => sum + treeCpuSeconds(child), 0);
}
const load1 = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function dbUrl(name: string): string {
  const u = new URL(args['pg-url']!);
  u.pathname = `/${name}`;
  return u.toString();
}

async function admin<T>(fn: (c: InstanceType<typeof PgNs.Client>) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: dbUrl('postgres') });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function freshDb(name: string): Promise<string> {
  await admin((c) => c.query(`create database "${name}"`));
  cleanups.push(() => admin((c) => c.query(`drop database if exists "${name}" with (force)`)).then(() => undefined));
  const url = dbUrl(name);
  execFileSync(process.execPath, ['--import', 'tsx', join(root, 'packages/db/src/migrate-cli.ts')], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: url },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return url;
}

function start(script: string, env: Record<string, string>, label: string): ChildProcess {
  const flags = (process.env.BENCH_SUT_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...flags, '--import', 'tsx', join(root, script)], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  const keep = (d: Buffer) => (tail = (tail + d.toString()).slice(-4000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  child.on('exit', (code) => {
    if (code !== 0 && code !== null) console.error(`${label} exited with ${code}: ${tail}`);
  });
  cleanups.push(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  });
  return child;
}

/** The same transaction as bench/e2e.ts: a signal and its outbox row, 64 clients. */
async function pgbench(url: string, dir: string): Promise<{ tps: number; latency: string; clientCpu: number }> {
  const content = '市民来电反映：某区某街道某小区旁工地连续多日夜间施工至凌晨，噪音严重影响休息，请相关部门尽快核实处理并回复。';
  const payload = JSON.stringify({ v: 1, type: 'signal', source: 'hotline', title: '市民反映小区夜间施工噪音扰民', content });
  const script = join(dir, 'signal-outbox.sql');
  writeFileSync(
    script,
    `\\set n random(1, 9000000000000000)
BEGIN;
INSERT INTO signals (id, source, source_ref, title, content, received_at) VALUES ('pgb-' || :client_id || '-' || :n, 'hotline', 'pgb-' || :client_id || '-' || :n, '市民反映小区夜间施工噪音扰民', '${content}', now()) ON CONFLICT DO NOTHING;
INSERT INTO outbox (topic, key, payload, created_at) VALUES ('huiying.signals.v1', 'pgb-' || :client_id || '-' || :n, '${payload}'::jsonb, now());
COMMIT;
`,
  );
  const child = spawn(PGBENCH, ['-n', '-c', '64', '-j', '2', '-T', args['pgbench-seconds']!, '-f', script, url], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  // The client's own CPU, read until it exits (the last reading is at most 20 ms before the end).
  let clientCpu = 0;
  const poll = setInterval(() => (clientCpu = Math.max(clientCpu, cpuSeconds(child.pid))), 20);
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  clearInterval(poll);
  if (code !== 0) throw new Error(`pgbench exited with ${code}: ${err}`);
  const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(out);
  if (!tps) throw new Error(`cannot read pgbench output: ${out}`);
  return { tps: Number(tps[1]), latency: /latency average = ([\d.]+) ms/.exec(out)?.[1] ?? '?', clientCpu };
}

interface LoadResult {
  tickets: number;
  failed: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  max: number;
  /** The load generator's own CPU seconds (user + system). */
  cpu?: number;
}

async function load(url: string, token: string, extra: string[]): Promise<LoadResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'bench/e2e/load.ts'), '--url', url, '--token', token, ...extra], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  if (code !== 0) throw new Error(`load generator exited with ${code}`);
  return JSON.parse(out.trim().split('\n').at(-1)!) as LoadResult;
}

/**
 * Samples what the database's backends are doing until `stop` resolves; returns counts per
 * state/wait/statement and the CPU seconds its client backends used meanwhile (from /proc: a
 * backend first seen after the first sample counts from its start).
 */
async function sampleActivity(
  dbName: string,
  stop: Promise<unknown>,
): Promise<{ samples: number; rows: [string, number][]; backendCpu: number }> {
  const c = new pg.Client({ connectionString: dbUrl('postgres') });
  await c.connect();
  const counts = new Map<string, number>();
  const cpu = new Map<number, { first: number; last: number }>();
  let samples = 0;
  let done = false;
  void stop.finally(() => (done = true));
  try {
    while (!done) {
      const r = await c.query<{ pid: number; state: string; wait: string | null; q: string }>(
        `select pid, coalesce(state, '?') as state, wait_event_type || ':' || wait_event as wait,
           regexp_replace(left(query, 48), '\\s+', ' ', 'g') as q
         from pg_stat_activity where datname = $1 and backend_type = 'client backend' and pid <> pg_backend_pid()`,
        [dbName],
      );
      for (const row of r.rows) {
        const key = `${row.state.padEnd(20)} ${(row.wait ?? '-').padEnd(24)} ${row.state === 'idle' ? '' : row.q}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
        const now = cpuSeconds(row.pid);
        const seen = cpu.get(row.pid);
        if (seen) seen.last = Math.max(seen.last, now);
        else cpu.set(row.pid, { first: samples === 0 ? now : 0, last: now });
      }
      samples++;
      await sleep(20);
    }
  } finally {
    await c.end();
  }
  let backendCpu = 0;
  for (const { first, last } of cpu.values()) backendCpu += last - first;
  return { samples, rows: [...counts].sort((a, b) => b[1] - a[1]), backendCpu };
}

async function main(): Promise<void> {
  say('date', new Date().toISOString());
  say('code', execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root }).toString().trim());
  const dir = mkdtempSync(join(tmpdir(), 'huiying-singles-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const pgbDbName = `huiying_bench_pgb_${run}`;
  const pgbUrl = await freshDb(pgbDbName);
  const dbName = `huiying_bench_singles_${run}`;
  const url = await freshDb(dbName);
  const token = execFileSync(
    process.execPath,
    [
      '--import',
      'tsx',
      join(root, 'packages/identity/src/identity-cli.ts'),
      'token:add',
      '--name',
      'bench-hotline',
      '--scope',
      'tickets:write',
    ],
    { cwd: root, env: { ...process.env, DATABASE_URL: url }, stdio: ['ignore', 'pipe', 'ignore'] },
  )
    .toString()
    .trim()
    .split('\n')
    .at(-1)!;
  const port = await freePort();
  const common = {
    DATABASE_URL: url,
    KAFKA_BROKERS: args.brokers!,
    KAFKA_TOPIC_PREFIX: `bench-singles-${run}.`,
    LOG_LEVEL: args['log-level']!,
  };
  const ingest = start('services/ingest/src/main.ts', { ...common, INGEST_PORT: String(port), FEED_CRON: '0 0 1 1 *' }, 'ingest');
  if (args.engine)
    start(
      'services/engine/src/main.ts',
      { ...common, SMTP_URL: 'smtp://127.0.0.1:9', DUTY_EMAIL: 'duty@bench.invalid', MAIL_FROM: 'bench@bench.invalid' },
      'engine',
    );
  const ticketsUrl = `http://127.0.0.1:${port}/api/tickets`;
  for (let until = Date.now() + 120_000; ;) {
    if (ingest.exitCode !== null) throw new Error('ingest exited during start-up');
    if (Date.now() > until) throw new Error('ingest did not answer within 120 s');
    try {
      await fetch(ticketsUrl, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
      break;
    } catch {
      await sleep(250);
    }
  }
  // 2 000 tickets at the measured concurrency: run 1 after 200 used 0.1–0.2 ms more ingest CPU per ticket than run 2 (JIT).
  const warm = await load(ticketsUrl, token, ['--mode', 'single', '--tickets', '2000', '--clients', '64', '--prefix', 'W-']);
  if (warm.failed > 0) throw new Error('warm-up tickets refused');
  say(
    'system under test',
    `ingest main pid ${ingest.pid}${process.env.INGEST_WORKERS ? ` (INGEST_WORKERS=${process.env.INGEST_WORKERS})` : ''}${args.engine ? ' + engine main' : ''}, broker ${args.brokers}, LOG_LEVEL=${args['log-level']}${process.env.BENCH_SUT_NODE_FLAGS ? `, node flags ${process.env.BENCH_SUT_NODE_FLAGS}` : ''}`,
  );

  const db = new pg.Client({ connectionString: url });
  await db.connect();
  cleanups.push(() => db.end().catch(() => undefined));
  const runs = Number(args.runs);
  for (let r = 1; r <= runs; r++) {
    const before = load1();
    let pgbDone!: () => void;
    const pgbActivity = sampleActivity(pgbDbName, new Promise<void>((res) => (pgbDone = res)));
    const base = await pgbench(pgbUrl, dir).finally(() => pgbDone());
    const pgbCpu = (await pgbActivity).backendCpu;
    const n = Number(args.singles);
    const prefix = `S${r}-`;
    let finish!: () => void;
    const stop = new Promise<void>((res) => (finish = res));
    const activity = sampleActivity(dbName, stop);
    const cpu0 = treeCpuSeconds(ingest.pid);
    const res = await load(ticketsUrl, token, [
      '--mode',
      'single',
      '--tickets',
      String(n),
      '--clients',
      args.clients!,
      '--prefix',
      prefix,
    ]).finally(finish);
    const cpu = treeCpuSeconds(ingest.pid) - cpu0;
    const act = await activity;
    const txs = await db.query<{ n: number }>(`select count(distinct received_at)::int as n from signals where source_ref like $1`, [
      `${prefix}%`,
    ]);
    const after = load1();
    // The outbox relay's cycles for these tickets: each marks its rows with its transaction's now().
    let relay = { cycles: 0, pending: 0 };
    for (let until = Date.now() + 10_000; ; await sleep(100)) {
      const [row] = (
        await db.query<{ cycles: number; pending: number }>(
          `select count(distinct o.published_at)::int as cycles, count(*) filter (where o.published_at is null)::int as pending
           from outbox o join signals s on s.id = o.key where s.source_ref like $1`,
          [`${prefix}%`],
        )
      ).rows;
      relay = row!;
      if (relay.pending === 0 || Date.now() > until) break;
    }
    say(`run ${r}: load average before / after`, `${before} / ${after}`);
    say(`run ${r}: pgbench signal + outbox, 64 clients`, `${base.tps.toFixed(0)} tx/s (latency avg ${base.latency} ms)`);
    say(
      `run ${r}: one ticket per request, ${args.clients} clients`,
      `${res.perSecond.toFixed(0)} tickets/s (${n} tickets, ${res.failed} refused, ${res.seconds.toFixed(1)} s), HTTP p50 ${res.p50.toFixed(1)} ms, p99 ${res.p99.toFixed(1)} ms, max ${res.max.toFixed(1)} ms`,
    );
    say(
      `run ${r}: ingest CPU during the load`,
      `${cpu.toFixed(1)} s of ${res.seconds.toFixed(1)} s wall (${((100 * cpu) / res.seconds).toFixed(0)} % of one core)`,
    );
    const perOp = (s: number, n: number) => `${((1000 * s) / n).toFixed(2)} ms`;
    const pgbTx = base.tps * Number(args['pgbench-seconds']);
    say(
      `run ${r}: CPU per ticket`,
      `ingest ${perOp(cpu, n)}, PostgreSQL backends ${perOp(act.backendCpu, n)}, load generator ${res.cpu === undefined ? '?' : perOp(res.cpu, n)}`,
    );
    say(
      `run ${r}: CPU per pgbench transaction`,
      `PostgreSQL backends ${perOp(pgbCpu, pgbTx)}, pgbench client ${perOp(base.clientCpu, pgbTx)} (≈ ${pgbTx.toFixed(0)} transactions)`,
    );
    say(
      `run ${r}: transactions (distinct received_at)`,
      `${txs.rows[0]!.n} for ${n} tickets (${(n / Math.max(1, txs.rows[0]!.n)).toFixed(1)} per commit)`,
    );
    say(
      `run ${r}: outbox relay cycles (published_at)`,
      `${relay.cycles} for ${n} tickets (${(n / Math.max(1, relay.cycles)).toFixed(1)} per cycle${relay.pending > 0 ? `; ${relay.pending} still unpublished` : ''})`,
    );
    say(
      `run ${r}: ratio / pgbench`,
      `${(res.perSecond / base.tps).toFixed(2)} × (target ≥ 1: ${res.perSecond >= base.tps ? 'met' : 'MISSED'}; p99 ≤ 50 ms: ${res.p99 <= 50 ? 'met' : 'MISSED'})`,
    );
    console.log(`run ${r}: ingest database backends, ${act.samples} samples of pg_stat_activity (backend-samples: state, wait, statement)`);
    for (const [key, count] of act.rows.slice(0, 12)) console.log(`  ${String(count).padStart(6)}  ${key}`);
  }
}

// Interrupted (Ctrl-C, SIGTERM, SIGHUP, its output closed): stop and drop what was started all the same.
await runBench('tickets-single', cleanups, main);
