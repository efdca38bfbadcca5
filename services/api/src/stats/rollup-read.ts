/**
 * The statistics rollup answering a request (see rollup.ts): the cells and edge facts its plan
 * names (rollup-plan.ts), the live remainder, and the figures composed from both.
 */
import { type Db, rowsOf, sql } from '@huiying/db';
import type { Dimension, StatsFilter, StatsScope } from './queries.ts';
import {
  buildCells,
  bump,
  type Cell,
  cellKey,
  type CellRow,
  dataOf,
  emptyFact,
  type Fact,
  isMet,
  monthOf,
  monthStartMs,
  SEP,
  subtractCell,
} from './rollup-cells.ts';
import { dirtyCondition, dirtySince, inList, liveFacts, readFacts, refreshTops, storedFacts } from './rollup-store.ts';
import { cellQuery, cellTarget, factTarget, planOf } from './rollup-plan.ts';
import { mergeAll, runOfEncoded, runOfMap, runPercentile, type SortedRun } from './sorted-runs.ts';

/** Beyond this many incidents and duties changed since the watermark, a request reads the live tables. */
const MAX_DIRTY = 20_000;

// ---------------------------------------------------------------------------------------------
// Answering a request

export interface RollupAgg {
  key: string | null;
  onTime: number;
  late: number;
  breached: number;
  pending: number;
  retracted: number;
  overdueCount: number;
  overdueTotalMs: number;
  overdueMaxMs: number | null;
  overdueMedianMs: number | null;
  frIncidents: number;
  frMedianMs: number | null;
  frP90Ms: number | null;
}

interface Acc {
  key: string | null;
  onTime: number;
  late: number;
  breached: number;
  pending: number;
  retracted: number;
  /** Overdue µs: exact sum of the late ones and of the live breached ones. */
  overdueSum: bigint;
  /** Breached from cells: their count and Σ due (overdue = count × now − Σ due). */
  cellBreached: number;
  cellDueSum: bigint;
  maxUs: number | null;
  /** Overdue values for the median, ms: the cells' histograms as decoded (sorted-runs.ts)… */
  overdueRuns: SortedRun[];
  /** …and the corrections (changed deadlines' old contributions negative, live ones), ms → count. */
  overdue: Map<number, number>;
  frN: number;
  frRuns: SortedRun[];
  fr: Map<number, number>;
}

const newAcc = (key: string | null): Acc => ({
  key,
  onTime: 0,
  late: 0,
  breached: 0,
  pending: 0,
  retracted: 0,
  overdueSum: 0n,
  cellBreached: 0,
  cellDueSum: 0n,
  maxUs: null,
  overdueRuns: [],
  overdue: new Map(),
  frN: 0,
  frRuns: [],
  fr: new Map(),
});

/** A multiset given as value → count, sorted once for its percentiles. */
export function sortedCounts(values: Map<number, number>): { entries: [number, number][]; total: number } {
  const entries = [...values].filter(([, c]) => c > 0).sort((a, b) => a[0] - b[0]);
  return { entries, total: entries.reduce((s, [, c]) => s + c, 0) };
}

/** percentile_cont (linear interpolation between the two nearest ranks). */
export function percentile(sorted: { entries: [number, number][]; total: number }, q: number): number | null {
  const { entries, total } = sorted;
  if (total === 0) return null;
  const pos = q * (total - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  let a: number | undefined;
  let b: number | undefined;
  let seen = 0;
  for (const [v, c] of entries) {
    seen += c;
    if (a === undefined && lo < seen) a = v;
    if (hi < seen) {
      b = v;
      break;
    }
  }
  a ??= entries[entries.length - 1]![0];
  b ??= entries[entries.length - 1]![0];
  return a + (pos - lo) * (b - a);
}

const maxOf = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));
const roundUs = (v: bigint) => Number((v >= 0n ? v + 500n : v - 500n) / 1000n);

/**
 * The figures of group-stats.ts's groupStats from the rollup and the live remainder, or null when
 * the rollup cannot answer (never run, too far behind): the caller then reads the live tables.
 */
export async function rollupStats(
  db: Db,
  now: Date,
  scope: StatsScope,
  f: StatsFilter,
  by: Dimension | 'all',
): Promise<RollupAgg[] | null> {
  const p = planOf(scope, f, by);
  const nowMs = now.getTime();
  const nowUs = nowMs * 1000;
  const read = await db.transaction(
    async (tx) => {
      const state = rowsOf<{ watermark: Date | string }>(
        await tx.execute(sql`select watermark::text as watermark from stats_rollup_state where id = 1`),
      )[0];
      if (!state) return null;
      const dirty = await dirtySince(tx, String(state.watermark), MAX_DIRTY);
      if (dirty.incidents.length + dirty.duties.length > MAX_DIRTY) return null;
      const any = dirty.incidents.length + dirty.duties.length > 0;
      const noCells = p.m1 !== null && p.m2 !== null && p.m1 > p.m2;
      const cellRows = noCells ? [] : rowsOf<CellRow>(await tx.execute(cellQuery(p)));
      const old = any ? await readFacts(tx, storedFacts(dirtyCondition(dirty))) : [];
      const fresh = any ? await readFacts(tx, liveFacts(dirty)) : [];
      const running = await readFacts(tx, liveFacts('running'));
      const wide =
        p.source === 'duty'
          ? []
          : await readFacts(tx, storedFacts(sql`wide and source = 'incident' and not ${inList(sql`ref_id`, dirty.incidents)}`));
      // The cells, minus what the changed incidents and duties contributed when they were rolled
      // up (a cell whose kept maxima lost too many reads them again, in this snapshot).
      // The changes' old contributions come out of the figures below; here only the touched
      // cells' counts and kept maxima are corrected (their histograms are never decoded twice).
      const cells = new Map<string, CellRow>();
      for (const r of cellRows) if (cellTarget(p, r) !== undefined) cells.set(cellKey(r.part, r.month, r.unit, r.level, r.kind), r);
      const minus: Cell[] = [];
      const emptied: { c: Cell; row: CellRow }[] = [];
      if (old.length > 0) {
        for (const [key, o] of buildCells(old, undefined, true, (c) => cellTarget(p, c) !== undefined).map) {
          const row = cells.get(key);
          if (!row) throw new Error(`stats rollup: cell ${key.replaceAll(SEP, '/')} is missing what stats_fact says it holds`);
          minus.push(o);
          if (!o.f) continue;
          const d = dataOf(row);
          // Only the maximum is read from the lists here: a short list still starts with it.
          const c: Cell = {
            ...o,
            f: {
              ...emptyFact(false),
              late: d.late ?? 0,
              breached: d.breached ?? 0,
              lateTop: [...(d.lateTop ?? [])],
              dueLow: [...(d.dueLow ?? [])],
            },
          };
          if (subtractCell(c, o) === 'empty') emptied.push({ c, row });
          else row.data = { ...d, lateTop: c.f!.lateTop, dueLow: c.f!.dueLow };
        }
        await refreshTops(
          tx,
          emptied.map(({ c }) => ({ c, need: 'empty' as const })),
          dirty,
        );
        for (const { c, row } of emptied) row.data = { ...dataOf(row), lateTop: c.f!.lateTop, dueLow: c.f!.dueLow };
      }
      // The edges: their deadlines as rolled up (the changed ones come in `fresh`), and every
      // deadline of the incidents with a response due in an edge month, for their first responses.
      const notDirty = any ? sql`not ${dirtyCondition(dirty)}` : sql`true`;
      const edge =
        p.edges.length === 0
          ? []
          : await readFacts(
              tx,
              storedFacts(
                sql`(${sql.join(
                  p.edges.map(
                    (e) =>
                      sql`(${e.lo === null ? sql`true` : sql`due_us > ${e.lo}`} and ${e.hi === null ? sql`true` : sql`due_us <= ${e.hi}`})`,
                  ),
                  sql` or `,
                )}) and ${notDirty}`,
              ),
            );
      const edgeMet =
        p.edgeMonths.length === 0 || p.source === 'duty'
          ? []
          : await readFacts(
              tx,
              storedFacts(sql`source = 'incident' and outcome in ('on_time', 'late') and not wide and ${notDirty}
                and ref_id in (select ref_id from stats_fact where source = 'incident' and outcome in ('on_time', 'late') and (${sql.join(
                  p.edgeMonths.map((m) => sql`(due_us > ${monthStartMs(m) * 1000} and due_us <= ${monthStartMs(m + 1) * 1000})`),
                  sql` or `,
                )}))`),
            );
      return { cells, minus, fresh, running, wide, edge, edgeMet };
    },
    { isolationLevel: 'repeatable read', accessMode: 'read only' },
  );
  if (read === null) return null;

  const accs = new Map<string | null, Acc>();
  const acc = (key: string | null) => {
    let a = accs.get(key);
    if (!a) accs.set(key, (a = newAcc(key)));
    return a;
  };
  for (const cell of read.cells.values()) {
    const key = cellTarget(p, cell)!;
    const d = dataOf(cell);
    if (cell.part !== 'f') {
      if (!d.n) continue;
      const a = acc(key);
      a.frN += d.n;
      a.frRuns.push(runOfEncoded(cell.h1, 60_000, 0));
      continue;
    }
    const a = acc(key);
    a.onTime += d.onTime ?? 0;
    a.late += d.late ?? 0;
    a.breached += d.breached ?? 0;
    a.retracted += d.retracted ?? 0;
    a.overdueSum += BigInt(d.lateSum ?? '0');
    a.cellBreached += d.breached ?? 0;
    a.cellDueSum += BigInt(d.dueSum ?? '0');
    if (d.lateTop?.length) a.maxUs = maxOf(a.maxUs, d.lateTop[0]!);
    if (d.dueLow?.length) a.maxUs = maxOf(a.maxUs, nowUs - d.dueLow[0]!);
    a.overdueRuns.push(runOfEncoded(cell.h1, 60_000, 0), runOfEncoded(cell.h2, -60_000, nowMs));
  }
  // Minus what the changed incidents and duties contributed when they were rolled up (their
  // maxima were taken out of the kept lists above).
  for (const o of read.minus) {
    const a = acc(cellTarget(p, o)!);
    if (o.fr) {
      a.frN -= o.fr.n;
      for (const [m, k] of o.fr.hist) bump(a.fr, m * 60_000, -k);
      continue;
    }
    const x = o.f!;
    a.onTime -= x.onTime;
    a.late -= x.late;
    a.breached -= x.breached;
    a.retracted -= x.retracted;
    a.overdueSum -= x.lateSum;
    a.cellBreached -= x.breached;
    a.cellDueSum -= x.dueSum;
    for (const [m, k] of x.lateHist) bump(a.overdue, m * 60_000, -k);
    for (const [m, k] of x.dueHist) bump(a.overdue, nowMs - m * 60_000, -k);
  }

  // The live remainder: deadlines changed since the watermark, and every running one; and the
  // deadlines of the edges.
  for (const fact of [...read.fresh, ...read.running, ...read.edge]) {
    const key = factTarget(p, fact);
    if (key === undefined) continue;
    const a = acc(key);
    let overdueUs: number | null = null;
    if (fact.outcome === 'on_time') {
      a.onTime++;
      if (fact.retracted) a.retracted++;
    } else if (fact.outcome === 'late') {
      a.late++;
      overdueUs = fact.responded! - fact.due;
    } else if (fact.outcome === 'breached' || (fact.due <= nowUs && !fact.suspended)) {
      a.breached++;
      overdueUs = nowUs - fact.due;
    } else a.pending++;
    if (overdueUs !== null) {
      a.overdueSum += BigInt(Math.round(overdueUs));
      a.maxUs = maxOf(a.maxUs, overdueUs);
      bump(a.overdue, overdueUs / 1000, 1);
    }
  }
  // First responses of the changed incidents and of those spanning more than two months, exactly.
  const frGroups = new Map<string, { key: string | null; first: number; start: number }>();
  for (const fact of [...read.fresh, ...read.wide]) {
    if (!isMet(fact)) continue;
    const key = factTarget(p, fact);
    if (key === undefined) continue;
    const g = `${key}${SEP}${fact.ref}`;
    const prev = frGroups.get(g);
    if (!prev) frGroups.set(g, { key, first: fact.responded!, start: fact.start ?? 0 });
    else prev.first = Math.min(prev.first, fact.responded!);
  }
  // Incidents with a response due in an edge month: per figure group (as the cells group them),
  // those touching an edge month are computed here and were left out of the cells read; by
  // month, the edge months' own figures. A group's first response is over its deadlines in the period.
  const edgeGroups = new Map<string, Fact[]>();
  for (const fact of read.edgeMet) {
    const key = factTarget(p, fact, p.by !== 'month');
    if (key === undefined) continue;
    const g = `${key}${SEP}${fact.ref}`;
    const list = edgeGroups.get(g);
    if (list) list.push(fact);
    else edgeGroups.set(g, [fact]);
  }
  for (const [g, list] of edgeGroups) {
    const touches = list.some((x) => p.edgeMonths.includes(monthOf(x.due)));
    if (!touches) continue;
    const inPeriod = list.filter((x) => factTarget(p, x) !== undefined);
    if (inPeriod.length === 0) continue;
    const key = factTarget(p, inPeriod[0]!)!;
    frGroups.set(g, { key, first: Math.min(...inPeriod.map((x) => x.responded!)), start: inPeriod[0]!.start ?? 0 });
  }
  for (const g of frGroups.values()) {
    const a = acc(g.key);
    a.frN++;
    bump(a.fr, Math.max(0, g.first - g.start) / 1000, 1);
  }

  const out: RollupAgg[] = [];
  for (const a of accs.values()) {
    if (a.onTime + a.late + a.breached + a.pending === 0) continue;
    const total = a.overdueSum + BigInt(a.cellBreached) * BigInt(Math.round(nowUs)) - a.cellDueSum;
    const count = a.late + a.breached;
    const median = runPercentile(mergeAll([...a.overdueRuns, runOfMap(a.overdue)]), 0.5);
    const fr = mergeAll([...a.frRuns, runOfMap(a.fr)]);
    const frMedian = runPercentile(fr, 0.5);
    const frP90 = runPercentile(fr, 0.9);
    out.push({
      key: a.key,
      onTime: a.onTime,
      late: a.late,
      breached: a.breached,
      pending: a.pending,
      retracted: a.retracted,
      overdueCount: count,
      overdueTotalMs: roundUs(total),
      overdueMaxMs: count === 0 || a.maxUs === null ? null : Math.round(a.maxUs / 1000),
      overdueMedianMs: median === null ? null : Math.round(median),
      frIncidents: a.frN,
      frMedianMs: frMedian === null ? null : Math.round(frMedian),
      frP90Ms: frP90 === null ? null : Math.round(frP90),
    });
  }
  // As the SQL orders its keys: ascending, nulls last.
  out.sort((x, y) => (x.key === y.key ? 0 : x.key === null ? 1 : y.key === null ? -1 : x.key < y.key ? -1 : 1));
  return out;
}
