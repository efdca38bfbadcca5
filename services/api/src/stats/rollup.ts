/**
 * The statistics rollup: pre-aggregated figures per Asia/Shanghai month of due, so that a year
 * of statistics reads a few thousand cells instead of scanning millions of deadlines — and is
 * still exactly the figures facts.ts defines, right after any change.
 *
 * Three tables (migration 0015):
 * - `stats_fact`: every counted deadline that is not running (on time, late, breached) as the
 *   last run saw it — so its old contribution can be taken back out when it changes;
 * - `stats_cell`: per (month, unit, level, kind) — each also as '*' (all), so a figure by unit
 *   reads one cell per unit and month — the counts, the late overdue sum, the breached count
 *   and Σ due (so "now − due" is worked out at read time), the 16 largest late overdues and the
 *   16 earliest breached dues (exact maxima), and per-minute histograms of late overdue and of
 *   breached due (the overdue median); and the first responses of the incidents (see below);
 * - `stats_rollup_state`: the watermark up to which they are complete.
 *
 * A run (`runRollup`, scheduled by the API process, app.ts) takes the incidents and duties
 * whose `updated_at`, or an incident's clock's, is after the previous watermark (the engine
 * writes the incident's with every signal and command, the clock's with every change of the
 * clock — a timer's breach among them — and a duty's with every change), recomputes their deadlines, and moves
 * the difference into the cells; in one transaction under an advisory lock, so two processes
 * running it cannot both apply a change. The new watermark is the latest `updated_at` written
 * (never after the database's now) minus a margin (5 min) for transactions still in flight; a
 * change seen twice moves nothing the second time. The changes inside the margin that a run has
 * rolled up are recorded with their row version (`stats_seen`, migration 0024): later runs and
 * requests skip them until they change again, so a run costs the changes since the last run, and
 * a request reads live only what no run has taken in yet. A run reads again, in one statement,
 * the kept maxima its changes took out, and merges its changes into the stored histograms.
 *
 * A request (`rollupStats`) reads, in one snapshot: the cells of its months, minus the stored
 * contribution of every incident or duty changed since the watermark and not rolled up at its
 * current version (only to the cells the request reads), plus those recomputed
 * from the live tables, plus every running deadline (pending, or breached with its overdue
 * growing with now — few rows, `clocks_running_idx`). So a response recorded a second ago is
 * counted. Counts, on-time rate, overdue count, total and maximum are exact; the overdue median
 * and the first-response median and p90 are percentile_cont over values floored to the minute
 * (values changed since the watermark are exact).
 *
 * First responses are per incident (and per unit or kind when the figure is split by them): the
 * earliest response among the incident's met deadlines in the period. An incident's deadlines
 * fall due within days of each other, so its group lies in one month ('fr', min over all), or in
 * two adjacent months ('frA' this month's part, 'frB' the next month's part, 'frAB' both, stored
 * at the earlier month): a period of whole months takes 'fr' of its months, 'frAB' of its inner
 * boundaries and the part inside of the two at its ends — exact for any range of whole months.
 * Incidents whose met deadlines span more (re-graded weeks later) are marked `wide` and computed live.
 *
 * What this relies on: every change of a deadline's outcome, unit, level or start comes with a
 * new `updated_at` on its incident (every signal and command), on its `clocks` row (every change
 * of the clock, with its breach alert in the same transaction: how a timer's breach is found,
 * since a timer wake leaves the incident's `updated_at` so that its write is a HOT update,
 * migration 0033) or on its duty, written no earlier than the margin before it commits.
 * A writer that changes `clocks` or `alerts` alone, a bulk import or replay into this database
 * with historical `updated_at`, or a transaction open longer than the margin, is not seen until
 * the next full rebuild (`runRollup(db, { full: true })`; the schedule does one a day).
 *
 * A period that is not whole Asia/Shanghai months (from/to at another day or instant) is
 * composed: its whole months from the cells as above, and its edges — from its start to the first
 * whole month, from the last whole month to its end (or all of it, when it holds no whole month) —
 * from the deadlines rolled up in `stats_fact` (at most two months of rows, by the due index),
 * plus the live remainder as for every period. Counts, on-time rate, overdue count, total and
 * maximum are then exact as for whole months. The medians and p90 compose because the cells keep
 * per-minute histograms, not monthly medians: the edges' values enter exactly, the cells' floored
 * to the minute, so the figures stay within one minute of the exact ones. First responses are
 * per incident: the cells hold no incident's value, so an incident with a response due in an edge
 * month is computed from its deadlines (every figure group of it touching the edge month; the
 * cells' parts of those groups, 'frA' before an end edge and 'frB' after a start edge, are left
 * unread); by month, the edge months' own figures are. Tested against the exact queries on a
 * seeded year (stats-rollup.shared.ts).
 *
 * The drill-down and the 通报's list read the live tables (items.ts), as does everything before
 * the first run.
 */
import { type Db, type DbHandle, rowsOf, sql } from '@huiying/db';
import { addCell, type Cell, type Cells, buildCells, emptyFact, subtractCell } from './rollup-cells.ts';
import {
  byRef,
  dirtyCondition,
  dirtySince,
  inList,
  insertFacts,
  liveFacts,
  markSeen,
  readCells,
  readFacts,
  refreshTops,
  signature,
  storedFacts,
  writeCells,
} from './rollup-store.ts';

export {
  addCell,
  buildCells,
  type Cell,
  type CellDims,
  cellKey,
  type Cells,
  encodeHist,
  type Fact,
  type FactCell,
  type FactOutcome,
  type FrCell,
  monthName,
  monthOf,
  type Part,
  subtractCell,
} from './rollup-cells.ts';
export { percentile, type RollupAgg, rollupStats, sortedCounts } from './rollup-read.ts';

/** Advisory lock key of the rollup job ("hystats" in ASCII, truncated). */
const ROLLUP_LOCK = 0x6879_7374;
export const DEFAULT_MARGIN_MS = 5 * 60_000;

// ---------------------------------------------------------------------------------------------
// The job

export interface RollupReport {
  full: boolean;
  /** Incidents and duties looked at / whose deadlines had changed. */
  examined: number;
  changed: number;
  cells: number;
  watermark: Date;
  ms: number;
}

/**
 * Bring the rollup up to date (a full build the first time, or with `full`). Returns null when
 * another process is running it (advisory lock): that run applies the same changes.
 */
export async function runRollup(db: Db, options: { full?: boolean; marginMs?: number } = {}): Promise<RollupReport | null> {
  const t0 = Date.now();
  const margin = options.marginMs ?? DEFAULT_MARGIN_MS;
  // Read committed, not one snapshot: once the lock is held, every statement sees what the
  // previous run committed (a snapshot taken before the lock could predate it). Each incident's
  // deadlines are read in one statement; one changed while the run reads is after the new
  // watermark and is looked at again by the next run.
  return db.transaction(async (tx) => {
    const locked = rowsOf<{ ok: boolean }>(await tx.execute(sql`select pg_try_advisory_xact_lock(${ROLLUP_LOCK}) as ok`))[0]?.ok;
    if (!locked) return null;
    await tx.execute(sql`set local jit = off`);
    const state = rowsOf<{ watermark: Date | string }>(
      await tx.execute(sql`select watermark::text as watermark from stats_rollup_state where id = 1`),
    )[0];
    // The latest change written (by the writers' clocks), never after the database's now, minus
    // the margin for transactions that took their time before this snapshot and commit after it.
    const [mark] = rowsOf<{ w: Date | string }>(
      await tx.execute(sql`select (least(now(), coalesce(greatest((select max(updated_at) from incidents), (select max(updated_at) from clocks),
          (select max(updated_at) from obligations)), now())) - ${`${margin} milliseconds`}::interval)::text as w`),
    );
    // As text: PostgreSQL's microseconds, not a Date's milliseconds (a row at the watermark stays behind it).
    const watermarkText = String(mark!.w);
    const watermark = new Date(watermarkText);
    const full = options.full === true || state === undefined;
    let examined = 0;
    let changed = 0;
    let cellCount = 0;
    if (full) {
      await tx.execute(sql`delete from stats_fact`);
      await tx.execute(sql`delete from stats_cell`);
      await tx.execute(sql`delete from stats_seen`);
      // What changed after the new watermark is rolled up at the version read here (before the deadlines).
      await markSeen(tx, (await dirtySince(tx, watermarkText)).versions, watermarkText);
      await tx.execute(sql`
          insert into stats_fact (source, ref_id, seq, kind, level, unit_id, due_us, responded_us, outcome, retracted, start_us)
          select source, ref, seq, kind, level, unit, due, responded, outcome, retracted, start from (${liveFacts('all')}) f`);
      const cells: Cells = { map: new Map(), wide: new Set() };
      // Every incident's deadlines together (first responses are per incident), in batches.
      for (const source of ['incident', 'duty'] as const) {
        let after = '';
        for (;;) {
          // The next ~20 000 deadlines, ending at a whole incident (bounds compared by PostgreSQL, in its collation).
          const [bound] = rowsOf<{ upto: string | null }>(
            await tx.execute(sql`select max(ref_id) as upto from (select ref_id from stats_fact where source = ${source} and ref_id > ${after}
                order by ref_id limit 20000) x`),
          );
          if (!bound?.upto) break;
          const batch = await readFacts(tx, storedFacts(sql`source = ${source} and ref_id > ${after} and ref_id <= ${bound.upto}`));
          buildCells(batch, cells);
          examined += batch.length;
          after = bound.upto;
        }
      }
      if (cells.wide.size > 0)
        await tx.execute(sql`update stats_fact set wide = true where source = 'incident' and ${inList(sql`ref_id`, [...cells.wide])}`);
      await writeCells(tx, cells.map.values());
      cellCount = cells.map.size;
      changed = examined;
    } else {
      const since = String(state.watermark);
      const dirty = await dirtySince(tx, since);
      examined = dirty.incidents.length + dirty.duties.length;
      const oldFacts = byRef(await readFacts(tx, storedFacts(dirtyCondition(dirty))));
      const newFacts = byRef(await readFacts(tx, liveFacts(dirty)));
      const changedKeys = [...new Set([...oldFacts.keys(), ...newFacts.keys()])].filter(
        (k) => signature(oldFacts.get(k)) !== signature(newFacts.get(k)),
      );
      changed = changedKeys.length;
      if (changed > 0) {
        const olds = changedKeys.flatMap((k) => oldFacts.get(k) ?? []);
        const news = changedKeys.flatMap((k) => newFacts.get(k) ?? []);
        const minus = buildCells(olds, undefined, true);
        const plus = buildCells(news, undefined, true);
        const keys = new Map<string, Cell>([...minus.map, ...plus.map]);
        const stored = await readCells(tx, [...keys.values()]);
        const stale: Cell[] = [];
        for (const [key, proto] of keys) {
          let c = stored.get(key);
          if (!c) {
            c = { ...proto, ...(proto.f ? { f: emptyFact(false) } : { fr: { n: 0, hist: new Map() } }) };
            stored.set(key, c);
          }
          const old = minus.map.get(key);
          const complete = old ? subtractCell(c, old) === 'ok' : true;
          const more = plus.map.get(key);
          if (more) addCell(c, more);
          if (!complete) stale.push(c);
        }
        const refs = (source: string) => changedKeys.filter((k) => k.startsWith(`${source}|`)).map((k) => k.slice(source.length + 1));
        await tx.execute(sql`delete from stats_fact where ${dirtyCondition({ incidents: refs('incident'), duties: refs('duty') })}`);
        await insertFacts(tx, news, plus.wide);
        await refreshTops(
          tx,
          stale.map((c) => ({ c, need: 'short' as const })),
        );
        await writeCells(tx, stored.values());
        cellCount = stored.size;
      }
      await markSeen(tx, dirty.versions, watermarkText);
    }
    await tx.execute(sql`
        insert into stats_rollup_state (id, watermark, ran_at, full_at) values (1, ${watermarkText}::timestamptz, now(), now())
        on conflict (id) do update set watermark = excluded.watermark, ran_at = excluded.ran_at
          ${full ? sql`, full_at = excluded.full_at` : sql``}`);
    return { full, examined, changed, cells: cellCount, watermark, ms: Date.now() - t0 };
  });
}
/**
 * Run the rollup every `intervalMs` (and a full rebuild every `fullEveryMs`, which also repairs
 * anything written with an `updated_at` older than the watermark, e.g. a bulk import), and, with
 * `listen`, `promptAfterMs` after incidents change (channel huiying_board, migration 0014: every
 * committed change to incidents notifies it) — so what requests read live stays the changes of
 * the last seconds, not of the last minute. Notifications during the wait or a run fold into
 * one more run. Returns a stop function that waits for a run in progress.
 */
export function scheduleRollup(
  db: Db,
  options: {
    intervalMs?: number;
    firstAfterMs?: number;
    fullEveryMs?: number;
    marginMs?: number;
    listen?: DbHandle['listen'] | undefined;
    promptAfterMs?: number;
    onError?: (e: unknown) => void;
  } = {},
): () => Promise<void> {
  const interval = options.intervalMs ?? 60_000;
  const fullEvery = options.fullEveryMs ?? 24 * 3_600_000;
  const promptAfter = options.promptAfterMs ?? 2_000;
  let running: Promise<unknown> | null = null;
  let stopped = false;
  let again = false;
  let soon: ReturnType<typeof setTimeout> | null = null;
  let lastFull = Date.now();
  const tick = (prompted = false) => {
    if (stopped) return;
    if (running) {
      if (prompted) again = true;
      return;
    }
    const full = Date.now() - lastFull >= fullEvery;
    running = runRollup(db, { full, ...(options.marginMs !== undefined ? { marginMs: options.marginMs } : {}) })
      .then((r) => {
        if (r?.full) lastFull = Date.now();
      })
      .catch((e: unknown) => options.onError?.(e))
      .finally(() => {
        running = null;
        if (again) {
          again = false;
          prompt();
        }
      });
  };
  const prompt = () => {
    if (stopped || soon) return;
    soon = setTimeout(() => {
      soon = null;
      tick(true);
    }, promptAfter);
    soon.unref();
  };
  const first = setTimeout(tick, options.firstAfterMs ?? 10_000);
  const every = setInterval(tick, interval);
  first.unref();
  every.unref();
  // A lost listening connection leaves the schedule every minute.
  let unlisten: (() => Promise<void>) | undefined;
  const listening = options
    .listen?.('huiying_board', prompt)
    .then((u) => {
      unlisten = u;
    })
    .catch((e: unknown) => options.onError?.(e));
  return async () => {
    stopped = true;
    clearTimeout(first);
    clearInterval(every);
    if (soon) clearTimeout(soon);
    await listening;
    await unlisten?.();
    await running;
  };
}
