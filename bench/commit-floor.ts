/**
 * PostgreSQL's own floor for a timer's lateness on this machine (issue 8), measured with pgbench
 * on the same server: one client commits transactions of the timer's size (the WAL it wrote per
 * transaction, as rows of 1 000 random hex characters: stored inline, not compressed) at the
 * timer's transaction rate (a fixed pause before each), for a while. A due falling at a random
 * instant is committed, at the earliest, by the first of those transactions to start after it:
 * the lateness that gives is what a timer with no cost of its own would see, including the
 * commits the server's storage stalls.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGBENCH } from './pgbench.ts';

/** What a transaction of the timer's size takes on an idle server, left out of the pause that sets the rate. */
const PAUSE_ALLOWANCE_US = 700;

/** The WAL one 1 000-character row adds (heap tuple and its primary key entry, with record headers). */
const WAL_PER_ROW = 1_100;

export interface CommitFloorOptions {
  /** The database to write in (a scratch table is created there and dropped). */
  url: string;
  /** Transactions per second to throttle at (the timer's). */
  txPerSecond: number;
  /** WAL bytes per transaction to match (the timer's). */
  walPerTx: number;
  seconds: number;
  /** Dues per second whose lateness is sampled (the timer's load). */
  duesPerSecond: number;
}

export interface CommitFloor {
  rowsPerTx: number;
  transactions: number;
  /** Commit latency (client side, from the transaction's start), ms. */
  commit: { p50: number; p99: number; max: number; over20: number };
  /** A due at a random instant, committed by the next transaction to start: ms. */
  lateness: { p50: number; p99: number; max: number; over20Share: number };
}

const pct = (xs: readonly number[], p: number) => (xs.length ? xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]! : 0);

export function commitFloor(o: CommitFloorOptions): CommitFloor {
  const dir = mkdtempSync(join(tmpdir(), 'commit-floor-'));
  const rowsPerTx = Math.max(1, Math.round(o.walPerTx / WAL_PER_ROW));
  try {
    const psql = (sqlText: string) => execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', sqlText, o.url], { stdio: 'pipe' });
    psql('drop table if exists bench_commit_floor; create table bench_commit_floor (id bigserial primary key, v text)');
    const script = join(dir, 'tx.sql');
    // A fixed pause before each transaction sets the rate (pgbench's -R would space them at random,
    // exponentially: a wait of its own, p99 4.6 × the mean gap, that no timer loop has).
    const pauseUs = Math.max(0, Math.round(1e6 / o.txPerSecond - PAUSE_ALLOWANCE_US));
    writeFileSync(
      script,
      `\\sleep ${pauseUs} us\ninsert into bench_commit_floor (v) select (select string_agg(md5(random()::text || i::text), '') from generate_series(1, 31) i) || substr(md5(random()::text || g::text), 1, 8) from generate_series(1, ${rowsPerTx}) g;\n`,
    );
    execFileSync(PGBENCH, ['-n', '-c', '1', '-T', String(o.seconds), '-f', script, '-l', '--log-prefix', join(dir, 'log'), o.url], {
      stdio: 'pipe',
    });
    psql('drop table bench_commit_floor');
    // Log lines: client, transaction, script time µs (the pause, then the insert and its commit), script, end s, end µs.
    const txs: { start: number; end: number }[] = [];
    for (const f of readdirSync(dir).filter((n) => n.startsWith('log'))) {
      for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
        const p = line.trim().split(/\s+/);
        if (p.length < 6) continue;
        const end = Number(p[4]) * 1e6 + Number(p[5]);
        txs.push({ start: end - Math.max(0, Number(p[2]) - pauseUs), end });
      }
    }
    txs.sort((a, b) => a.start - b.start);
    const commitMs = txs.map((t) => (t.end - t.start) / 1000).sort((a, b) => a - b);
    const late: number[] = [];
    const step = 1e6 / o.duesPerSecond;
    let i = 0;
    for (let t = txs[0]?.start ?? 0; txs.length > 0; t += step) {
      while (i < txs.length && txs[i]!.start < t) i++;
      if (i >= txs.length) break;
      late.push((txs[i]!.end - t) / 1000);
    }
    late.sort((a, b) => a - b);
    return {
      rowsPerTx,
      transactions: txs.length,
      commit: { p50: pct(commitMs, 0.5), p99: pct(commitMs, 0.99), max: pct(commitMs, 1), over20: commitMs.filter((x) => x > 20).length },
      lateness: {
        p50: pct(late, 0.5),
        p99: pct(late, 0.99),
        max: pct(late, 1),
        over20Share: late.filter((x) => x > 20).length / Math.max(1, late.length),
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
