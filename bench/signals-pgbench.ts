/**
 * PostgreSQL's floor for the signal path (issue 8): pgbench runs exactly the statements one
 * engine batch issued (captured by `bench/signals-batch.ts --capture FILE --ingest-batch 500`),
 * each time with fresh ids, so the database does the same work with no engine around it. Two
 * scripts, each one pgbench "transaction":
 *
 * - ingest: the batch intake's statement storing the batch's signals (signal, outbox, audit rows);
 * - signal life: that, committed, then the engine's transaction applying the same signals
 *   (grouping lock, reads, incidents, clocks, outbox, audit, the signals' decisions).
 *
 * Rows per second = signals per batch × transactions per second. The engine's own floor is the
 * difference of the two. With one client this is one engine's serial stream; with more, the
 * grouping lock (pg_advisory_xact_lock) serialises them as it serialises engines.
 *
 *     node --import tsx bench/signals-pgbench.ts --capture FILE [--seconds 20] [--clients 1,2]
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type * as PgNs from 'pg';
import { openPostgres } from '../packages/db/src/index.ts';
import { PGBENCH } from './pgbench.ts';
import { cpuSeconds } from './proc-stat.ts';

const { values: args } = parseArgs({
  options: {
    'pg-url': { type: 'string', default: process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432' },
    capture: { type: 'string' },
    seconds: { type: 'string', default: '20' },
    clients: { type: 'string', default: '1,2' },
  },
});
if (!args.capture) throw new Error('--capture FILE (from bench/signals-batch.ts --capture FILE --ingest-batch 500)');
const root = new URL('..', import.meta.url).pathname;
const pg = createRequire(join(root, 'packages/db/package.json'))('pg') as typeof PgNs;

type Statement = { text: string; values: unknown[] };
const engine = JSON.parse(readFileSync(args.capture, 'utf8')) as Statement[];
const ingest = (JSON.parse(readFileSync(`${args.capture}.ingest.json`, 'utf8')) as Statement[]).filter(
  (s) => !/^\s*(begin|commit)\s*$/i.test(s.text),
);
const signals = new Set(JSON.stringify(ingest).match(/sig_[0-9a-f]{24}/g) ?? []).size;

/**
 * A parameter as a literal: dollar-quoted text (no escaping needed), numbers and NULL as they are.
 * Signal, incident, alert and event ids and the tickets' source refs are made unique per run of the
 * script: each gets a placeholder the server replaces with `:run` (a random number pgbench draws) —
 * one pgbench variable per parameter, as pgbench's own substitution copies the whole command for
 * each one (thousands of ids in a megabyte would make pgbench, not PostgreSQL, the bottleneck).
 */
function literal(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const raw = typeof v === 'string' ? v : v instanceof Date ? v.toISOString() : JSON.stringify(v);
  if (raw.includes('$lit$')) throw new Error('parameter holds the quote tag');
  const text = raw.replace(/\b(sig|inc|alr|evt)_([0-9a-f]{16,24})\b/g, '$1_$2_@RUN@').replace(/"(B-\d+)"/g, '"$1-@RUN@"');
  return text === raw ? `$lit$${text}$lit$` : `replace($lit$${text}$lit$, '@RUN@', ':run')`;
}

/** One statement as pgbench text: parameters inlined, on one line. */
function inline(s: Statement): string {
  // pgbench reads a command per line: comments go before the lines are joined (and before any parameter holds `--`).
  const text = s.text.replace(/--[^\n]*/g, '').replace(/\$(\d+)/g, (_, i: string) => literal(s.values[Number(i) - 1]));
  return `${text.replace(/\s*\n\s*/g, ' ').trim()};`;
}

/** utime + stime of a process in ms (same machine). */
const cpuMs = (pid: number) => cpuSeconds(pid) * 1000;

const body = (list: Statement[]) => list.map(inline).join('\n');
const name = `e2e8_sigpgb_${Date.now().toString(36)}`;
const adminUrl = `${args['pg-url']!.replace(/\/$/, '')}/postgres`;
const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
await admin.query(`create database ${name}`);
const url = adminUrl.replace(/\/postgres$/, `/${name}`);
const dir = mkdtempSync(join(tmpdir(), 'e2e8-pgbench-'));
try {
  const handle = openPostgres(url);
  await handle.migrate();
  await handle.close();
  const scripts = {
    ingest: `\\set run random(1, 1000000000000)\nBEGIN;\n${body(ingest)}\nCOMMIT;\n`,
    'signal life': `\\set run random(1, 1000000000000)\nBEGIN;\n${body(ingest)}\nCOMMIT;\n${body(engine)}\n`,
  };
  console.log(
    `${new Date().toISOString()}  ${cpus().length} cores, load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' / ')}`,
  );
  console.log(
    `batch of ${signals} signals; engine statements: ${engine.length} (${engine.map((s) => s.text.trim().split(/\s+/)[0]).join(', ')})`,
  );
  for (const [label, script] of Object.entries(scripts)) {
    const file = join(dir, `${label.replace(' ', '-')}.sql`);
    writeFileSync(file, script);
    for (const c of args.clients!.split(',')) {
      const seen = new Map<number, number>();
      const done = new Promise<string>((resolve, reject) =>
        execFile(PGBENCH, ['-n', '-c', c, '-j', c, '-T', args.seconds!, '-f', file, url], { maxBuffer: 64 * 1024 * 1024 }, (err, out) =>
          err ? reject(err) : resolve(out),
        ),
      );
      // The backends' CPU (utime + stime, /proc): polled while pgbench runs, the last reading of each kept.
      let running = true;
      void done.finally(() => (running = false)).catch(() => undefined);
      while (running) {
        const { rows } = await admin.query<{ pid: number }>('select pid from pg_stat_activity where datname = $1', [name]);
        for (const { pid } of rows) seen.set(pid, Math.max(seen.get(pid) ?? 0, cpuMs(pid)));
        await new Promise((r) => setTimeout(r, 100));
      }
      const out = await done;
      const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(out)?.[1]);
      const batches = Number(/number of transactions actually processed: (\d+)/.exec(out)?.[1]);
      const lat = /latency average = ([\d.]+) ms/.exec(out)?.[1];
      const cpu = [...seen.values()].reduce((a, b) => a + b, 0);
      console.log(
        `${label.padEnd(12)} ${c} client(s): ${tps.toFixed(2)} batches/s = ${Math.round(tps * signals).toLocaleString('en-US')} signals/s (latency avg ${lat} ms), backend CPU ${(cpu / (batches * signals)).toFixed(3)} ms per signal`,
      );
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
  await admin.query(`drop database if exists ${name} with (force)`);
  await admin.end();
}
