/**
 * The engine's signal path alone (issue 8), without HTTP or Kafka: a fresh database, N tickets
 * stored as ingest's batch intake stores them (`acceptSignals`, arrays of 1 000), then applied by
 * `handleSignals` in batches of `--batch` one after the other, as one engine process does. Prints
 * signals/s, the engine's CPU per signal, PostgreSQL's backend CPU per signal (summed from /proc
 * over the database's backends) and where the wall time of a batch goes, statement by statement.
 *
 *     node --import tsx bench/signals-batch.ts [--signals 10000] [--batch 500] [--in-flight 3] [--join-every 5] [--capture FILE]
 *
 * `--capture FILE` writes the statements (text and parameters) of the third engine batch to FILE
 * as JSON, and those of ingest storing the same signals to FILE.ingest.json (give `--ingest-batch`
 * equal to `--batch`), for `bench/signals-pgbench.ts` (PostgreSQL's floor for the same writes).
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type * as PgNs from 'pg';
import { systemClock } from '../packages/clock/src/index.ts';
import { openPostgres, rowsOf, sql } from '../packages/db/src/index.ts';
import { DEFAULT_RULE_PACK } from '../packages/domain/src/index.ts';
import { decidedAheadStats, handleSignals } from '../services/engine/src/signals.ts';
import type { EngineDeps } from '../services/engine/src/store.ts';
import { acceptSignals, signalId, signalMessage } from '../services/ingest/src/signals.ts';
import { benchTicket } from './e2e/tickets.ts';
import { cpuSeconds } from './proc-stat.ts';

const { values: args } = parseArgs({
  options: {
    'pg-url': { type: 'string', default: process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432' },
    signals: { type: 'string', default: '10000' },
    batch: { type: 'string', default: '500' },
    /** Batches handed to handleSignals at once (the engine consumes three partitions concurrently). */
    'in-flight': { type: 'string', default: '3' },
    'join-every': { type: 'string', default: '5' },
    /** Tickets per acceptSignals call (ingest's batch intake takes arrays of up to 1 000). */
    'ingest-batch': { type: 'string', default: '1000' },
    capture: { type: 'string' },
  },
});
const root = new URL('..', import.meta.url).pathname;
const pg = createRequire(join(root, 'packages/db/package.json'))('pg') as typeof PgNs;
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const say = (label: string, value: string) => console.log(`${label.padEnd(46)}${value}`);

// Every statement's wall time (send → result), by its first words; and one batch's statements in full.
const byStatement = new Map<string, { n: number; ms: number }>();
let capturing: { text: string; values: unknown[] }[] | null = null;
const proto = pg.Client.prototype as unknown as { query: (...a: unknown[]) => unknown };
const query = proto.query;
proto.query = function (this: unknown, ...a: unknown[]) {
  const q = a[0] as string | { text: string; values?: unknown[] };
  const text = typeof q === 'string' ? q : q.text;
  const values = (typeof q === 'string' ? undefined : q.values) ?? (a[1] as unknown[] | undefined) ?? [];
  capturing?.push({ text, values });
  const key = text.replace(/\s+/g, ' ').trim().slice(0, 70);
  const t0 = performance.now();
  const r = query.apply(this, a);
  if (r && typeof (r as Promise<unknown>).then === 'function')
    void (r as Promise<unknown>).then(
      () => {
        const s = byStatement.get(key) ?? { n: 0, ms: 0 };
        s.n++;
        s.ms += performance.now() - t0;
        byStatement.set(key, s);
      },
      () => undefined,
    );
  return r;
};

/** utime + stime of every backend of the database, in ms (same machine: /proc). */
async function backendCpuMs(admin: PgNs.Client, db: string): Promise<number> {
  const { rows } = await admin.query<{ pid: number }>('select pid from pg_stat_activity where datname = $1', [db]);
  let total = 0;
  for (const { pid } of rows) total += cpuSeconds(pid) * 1000;
  return total;
}

const n = Number(args.signals);
const batchSize = Number(args.batch);
const name = `e2e8_sigbatch_${Date.now().toString(36)}`;
const adminUrl = `${args['pg-url']!.replace(/\/$/, '')}/postgres`;
const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
await admin.query(`create database ${name}`);
const url = adminUrl.replace(/\/postgres$/, `/${name}`);
const handle = openPostgres(url);
try {
  await handle.migrate();
  say('date', new Date().toISOString());
  say(
    'machine',
    `${cpus().length} cores, load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' / ')}`,
  );
  const receivedAt = new Date().toISOString();
  const tickets = Array.from({ length: n }, (_, i) => ({
    source: 'hotline' as const,
    sourceRef: `B-${i}`,
    ...benchTicket(i, { prefix: 'B-', joinEvery: Number(args['join-every']), receivedAt }),
  }));
  // Ingest's batch intake.
  const ingestBatch = Number(args['ingest-batch']);
  let t = performance.now();
  for (let i = 0; i < n; i += ingestBatch) {
    const slice = tickets
      .slice(i, i + ingestBatch)
      .map(({ id: _id, ...x }) => ({ ...x, publishedAt: receivedAt, receivedAt, jurisdiction: 'default' }));
    if (i === 2 * batchSize && args.capture) capturing = [];
    await handle.db.transaction((tx) => acceptSignals(tx, slice, 'bench', new Date()));
    if (capturing) {
      writeFileSync(`${args.capture}.ingest.json`, JSON.stringify(capturing));
      capturing = null;
    }
  }
  say(`stored (acceptSignals, arrays of ${fmt(ingestBatch)})`, `${fmt(n / ((performance.now() - t) / 1000))} signals/s`);
  byStatement.clear();

  const deps: EngineDeps = { db: handle.db, clock: systemClock, pack: () => DEFAULT_RULE_PACK };
  const messages = tickets.map((x) => signalMessage(signalId(x.source, x.sourceRef), { ...x, receivedAt }));
  const cpu0 = process.cpuUsage();
  const pg0 = await backendCpuMs(admin, name);
  t = performance.now();
  let b = 0;
  // Up to `--in-flight` batches handed over at once, as the engine's consumer hands it one batch
  // per partition (three) — they take turns, each deciding ahead while the one before writes.
  const inFlight = args.capture ? 1 : Math.max(1, Number(args['in-flight']));
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < n; i += batchSize, b++) {
    if (b === 2 && args.capture) capturing = [];
    pending.push(handleSignals(deps, messages.slice(i, i + batchSize)));
    if (pending.length >= inFlight) await pending.shift();
    if (capturing) {
      writeFileSync(args.capture!, JSON.stringify(capturing));
      capturing = null;
    }
  }
  await Promise.all(pending);
  const wall = performance.now() - t;
  const cpu = process.cpuUsage(cpu0);
  const pgMs = (await backendCpuMs(admin, name)) - pg0;
  const [processed] = rowsOf<{ n: number }>(
    await handle.db.execute(sql`select count(*)::int as n from signals where processed_at is not null`),
  );
  say(
    'applied (handleSignals)',
    `${fmt(n / (wall / 1000))} signals/s (${fmt(n)} in ${fmt(wall / 1000, 1)} s, batches of ${batchSize}, ${inFlight} at once)`,
  );
  say('decided ahead of the lock: used / again', `${decidedAheadStats.used} / ${decidedAheadStats.discarded} batches`);
  say('signals processed (processed_at set)', fmt(processed!.n));
  say('engine CPU per signal', `${fmt((cpu.user + cpu.system) / 1000 / n, 3)} ms`);
  say('PostgreSQL backend CPU per signal', `${fmt(pgMs / n, 3)} ms`);
  const total = [...byStatement.values()].reduce((a, s) => a + s.ms, 0);
  say('statements (wall in the engine)', `${fmt(total / 1000, 2)} s of ${fmt(wall / 1000, 2)} s`);
  for (const [k, s] of [...byStatement].sort((x, y) => y[1].ms - x[1].ms).slice(0, 14))
    console.log(`  ${fmt(s.ms, 0).padStart(7)} ms ${String(s.n).padStart(5)}×  ${k}`);
} finally {
  await handle.close();
  await admin.query(`drop database if exists ${name} with (force)`);
  await admin.end();
}
