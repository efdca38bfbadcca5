/**
 * 10 000 feeds polled with conditional GET (issue 9): the real FeedPoller on the real PostgreSQL,
 * against feeds served by a local HTTP server in a child process. Per run, a first round gets
 * every document (200 with a body: decode, parse, store the items — as history, the feed being
 * new) and a second round sends the ETag / Last-Modified kept in the database and gets 304s.
 * Prints polls/s and CPU: this process (the poller, process.cpuUsage), the server child, and the
 * PostgreSQL backends serving this database (utime + stime from /proc/<pid>/stat).
 *
 *     node --import tsx bench/feeds.ts [--feeds 10000] [--items 3] [--hosts 1000] [--runs 3]
 *                                      [--concurrency 32] [--batch 200] [--pg-url URL] [--keep-db]
 *
 * Feeds are spread over `--hosts` host names (resolved to 127.0.0.1 by the bench, as many 政务
 * columns share one portal), so the per-host politeness limit (2 in flight) applies as in production.
 * Needs PostgreSQL (a role that may CREATE DATABASE); creates and drops its own database.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type * as PgNs from 'pg';
import { systemClock } from '../packages/clock/src/index.ts';
import { openPostgres, rowsOf, sql } from '../packages/db/src/index.ts';
import { FeedPoller, type PollResult } from '../services/ingest/src/feeds.ts';
import { AddressPolicy, DEFAULT_FETCH_POLICY } from '../services/ingest/src/fetch/index.ts';
import { testLogger } from '../packages/testkit/src/index.ts';
import { cpuSeconds } from './proc-stat.ts';

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0) return process.argv[i + 1]?.startsWith('--') || process.argv[i + 1] === undefined ? 'true' : process.argv[i + 1];
  return process.env[`BENCH_${name.toUpperCase().replaceAll('-', '_')}`];
}
function numberOption(name: string, fallback: number): number {
  const raw = option(name);
  if (raw === undefined) return fallback;
  const n = Number(raw.replaceAll('_', ''));
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${JSON.stringify(raw)}`);
  return Math.floor(n);
}

// ---- the feed server (child process): `--serve ITEMS` ----
if (process.argv.includes('--serve')) {
  const items = Number(process.argv[process.argv.indexOf('--serve') + 1]);
  const lastModified = new Date(Date.now() - 3_600_000).toUTCString();
  const doc = (path: string) => {
    const entries = Array.from(
      { length: items },
      (_, k) =>
        `<item><guid isPermaLink="false">${path}#${k}</guid><title>政务公开 第${k}条 ${path}</title>` +
        `<link>https://www.example.gov.cn${path.replace('.xml', '')}/${k}.html</link><pubDate>${lastModified}</pubDate>` +
        `<description>关于进一步做好政务舆情回应工作的通知（${k}）</description></item>`,
    ).join('');
    return `<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>${path}</title>${entries}</channel></rss>`;
  };
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    const etag = `"${Buffer.from(path).toString('base64url')}"`;
    if (req.headers['if-none-match'] === etag || req.headers['if-modified-since'] === lastModified) {
      res.writeHead(304, { etag, 'last-modified': lastModified });
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/rss+xml; charset=utf-8', etag, 'last-modified': lastModified });
    res.end(doc(path));
  });
  server.keepAliveTimeout = 5_000;
  server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as AddressInfo).port }));
  process.on('disconnect', () => process.exit(0));
} else {
  await main();
}

async function main() {
  const FEEDS = numberOption('feeds', 10_000);
  const ITEMS = numberOption('items', 3);
  const HOSTS = numberOption('hosts', 1000);
  const RUNS = numberOption('runs', 3);
  const CONCURRENCY = numberOption('concurrency', 32);
  const BATCH = numberOption('batch', 200);
  const PG_URL = option('pg-url') ?? 'postgres://postgres@127.0.0.1:5432';
  const KEEP_DB = option('keep-db') === 'true';

  const pg = createRequire(new URL('../packages/db/package.json', import.meta.url))('pg') as typeof PgNs;
  const name = `huiying_bench_feeds_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: `${PG_URL.replace(/\/$/, '')}/postgres` });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const handle = openPostgres(`${PG_URL.replace(/\/$/, '')}/${name}`, { max: 10 });

  const child: ChildProcess = fork(new URL(import.meta.url).pathname, ['--serve', String(ITEMS)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`feed server exited (${code})`)));
  });

  const load = (await import('node:os')).loadavg().map((l) => l.toFixed(2));
  console.log(
    `feeds bench: ${FEEDS} feeds × ${ITEMS} items on ${HOSTS} hosts, poller concurrency ${CONCURRENCY}, batch ${BATCH}, ` +
      `2 per host; database ${name}; load average ${load.join(' ')} (shared machine)`,
  );
  const pgBackends = async () =>
    rowsOf<{ pid: number }>(
      await handle.db.execute(sql`select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`),
    ).map((r) => Number(r.pid));

  try {
    await handle.migrate();
    for (let run = 1; run <= RUNS; run++) {
      // A new set of feeds per run (the last run's are paused): the first round is a real first poll.
      await handle.db.execute(sql`update feeds set enabled = false`);
      await handle.db.execute(sql`
        insert into feeds (id, url, name, added_at, poll_interval_seconds)
        select 'r' || ${run} || '-' || g, 'http://h' || (g % ${HOSTS}) || '.bench.test:' || ${port} || '/r' || ${run} || '/' || g || '.xml',
          'feed ' || g, now(), 300
        from generate_series(1, ${FEEDS}) g`);
      const poller = new FeedPoller({
        db: handle.db,
        clock: systemClock,
        logger: testLogger,
        owner: `bench-${run}`,
        options: {
          fetch: { ...DEFAULT_FETCH_POLICY, addresses: new AddressPolicy(['127.0.0.1/32']), retries: 0 },
          concurrency: CONCURRENCY,
          batch: BATCH,
        },
        fetchDeps: { resolve: async () => [{ address: '127.0.0.1', family: 4 }] },
      });
      for (const round of ['first (200)', 'second (304)'] as const) {
        // Every feed of this run due now (the second round stands for the next poll interval), polled the scheduled way.
        await handle.db.execute(sql`update feeds set next_poll_at = null where enabled`);
        const backends = await pgBackends();
        const pgBefore = new Map(backends.map((pid) => [pid, cpuSeconds(pid)]));
        const serverBefore = cpuSeconds(child.pid!);
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        const results: PollResult[] = await poller.pollDue();
        const wall = (performance.now() - t0) / 1000;
        const cpu = process.cpuUsage(cpu0);
        const serverCpu = cpuSeconds(child.pid!) - serverBefore;
        let pgCpu = 0;
        for (const pid of new Set([...backends, ...(await pgBackends())])) pgCpu += cpuSeconds(pid) - (pgBefore.get(pid) ?? 0);
        const by = (s: PollResult['status']) => results.filter((r) => r.status === s).length;
        const stored = results.reduce((n, r) => n + r.accepted + r.history, 0);
        const pollerCpu = (cpu.user + cpu.system) / 1e6;
        const line =
          `run ${run} ${round.padEnd(12)} ${String(results.length).padStart(6)} polls ` +
          `(${by('updated')} updated, ${by('not_modified')} not modified, ${by('error')} errors, ${stored} items stored) ` +
          `${wall.toFixed(1).padStart(6)} s  ${(results.length / wall).toFixed(0).padStart(5)} polls/s  ` +
          `CPU poller ${pollerCpu.toFixed(1)} s (${((pollerCpu / results.length) * 1000).toFixed(2)} ms/poll), ` +
          `server ${serverCpu.toFixed(1)} s, PostgreSQL ${pgCpu.toFixed(1)} s`;
        console.log(line);
        const firstError = results.find((r) => r.status === 'error');
        if (firstError) console.log(`  first error: ${firstError.error}`);
      }
    }
  } finally {
    child.disconnect();
    child.kill();
    await handle.close();
    if (!KEEP_DB) await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}
