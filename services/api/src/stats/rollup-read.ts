/**
 * The statistics rollup answering a request (see rollup.ts): which cells a period and filter
 * read, the live remainder, and the figures composed from both.
 */
import { type Db, rowsOf, type SQL, sql } from '@huiying/db';
import type { Dimension, StatsFilter, StatsScope } from './queries.ts';
import {
  buildCells,
  bump,
  type Cell,
  type CellDims,
  cellKey,
  type CellRow,
  dataOf,
  emptyFact,
  type Fact,
  isMet,
  isYear,
  levelKey,
  monthIndex,
  monthName,
  monthOf,
  monthStartMs,
  type Part,
  SEP,
  SHANGHAI_MS,
  subtractCell,
  unitKey,
} from './rollup-cells.ts';
import { dirtyCondition, dirtySince, inList, liveFacts, readFacts, refreshTops, storedFacts } from './rollup-store.ts';
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

interface Plan {
  by: Dimension | 'all';
  uSpec: boolean;
  lSpec: boolean;
  kSpec: boolean;
  /** '' = no unit. */
  unit?: string;
  level?: string;
  kind?: string;
  source?: 'incident' | 'duty';
  /** The whole months read from the cells, inclusive; null = open. m1 > m2: none. */
  m1: number | null;
  m2: number | null;
  fromUs: number | null;
  toUs: number | null;
  /**
   * The parts of the period outside its whole months, (lo, hi] in µs: a start or end inside a
   * month. Their deadlines are read one by one from stats_fact (plus the live remainder, as for
   * every period), so their counts and overdue figures are exact.
   */
  edges: { lo: number | null; hi: number | null }[];
  /** The months those edges lie in: first responses of incidents touching them are computed from their deadlines. */
  edgeMonths: number[];
}

/** The month index when `d` is 00:00 Asia/Shanghai on a first of the month, else null. */
function monthBoundary(d: Date): number | null {
  const s = new Date(d.getTime() + SHANGHAI_MS);
  if (s.getUTCDate() !== 1 || s.getUTCHours() !== 0 || s.getUTCMinutes() !== 0 || s.getUTCSeconds() !== 0 || s.getUTCMilliseconds() !== 0)
    return null;
  return s.getUTCFullYear() * 12 + s.getUTCMonth();
}

/** The Asia/Shanghai month index holding instant `d`. */
function monthHolding(d: Date): number {
  const s = new Date(d.getTime() + SHANGHAI_MS);
  return s.getUTCFullYear() * 12 + s.getUTCMonth();
}

/**
 * How a period is read: its whole Asia/Shanghai months from the cells, and a start or end inside
 * a month (an "edge") from the deadlines themselves. A period within one month, or across two
 * without a whole month between, is all edge.
 */
function planOf(scope: StatsScope, f: StatsFilter, by: Dimension | 'all'): Plan {
  let m1: number | null = null;
  let m2: number | null = null;
  const fromUs = f.from ? f.from.getTime() * 1000 : null;
  const toUs = f.to ? f.to.getTime() * 1000 : null;
  let loEdge: number | null = null;
  let hiEdge: number | null = null;
  if (f.from) {
    const b = monthBoundary(f.from);
    if (b !== null) m1 = b;
    else m1 = (loEdge = monthHolding(f.from)) + 1;
  }
  if (f.to) {
    const b = monthBoundary(f.to);
    if (b !== null) m2 = b - 1;
    else m2 = (hiEdge = monthHolding(f.to)) - 1;
  }
  const edges: Plan['edges'] = [];
  const edgeMonths: number[] = [];
  if (m1 !== null && m2 !== null && m1 > m2) {
    // No whole month: the period is all edge (it touches one month, or two adjacent ones).
    edges.push({ lo: fromUs, hi: toUs });
    for (let m = monthOf(fromUs! + 1); m <= monthOf(toUs!); m++) edgeMonths.push(m);
  } else {
    if (loEdge !== null) {
      edges.push({ lo: fromUs, hi: monthStartMs(m1!) * 1000 });
      edgeMonths.push(loEdge);
    }
    if (hiEdge !== null) {
      edges.push({ lo: monthStartMs(m2! + 1) * 1000, hi: toUs });
      edgeMonths.push(hiEdge);
    }
  }
  const unit = scope.unitId ?? f.unit;
  return {
    by,
    uSpec: by === 'unit' || unit !== undefined,
    lSpec: by === 'level' || f.level !== undefined || f.source !== undefined,
    kSpec: by === 'kind' || f.kind !== undefined,
    ...(unit !== undefined ? { unit: unit === 'none' ? '' : unit } : {}),
    ...(f.level !== undefined ? { level: f.level } : {}),
    ...(f.kind !== undefined ? { kind: f.kind } : {}),
    ...(f.source !== undefined ? { source: f.source } : {}),
    m1,
    m2,
    fromUs,
    toUs,
    edges,
    edgeMonths,
  };
}

/** Whether a cell's unit / level / kind are those the plan reads. */
function cellDimsMatch(p: Plan, c: CellDims): boolean {
  if (p.uSpec ? c.unit === '*' || (p.unit !== undefined && c.unit !== p.unit) : c.unit !== '*') return false;
  if (p.lSpec) {
    if (c.level === '*') return false;
    if (p.level !== undefined && c.level !== p.level) return false;
    if (p.source === 'duty' && c.level !== 'duty') return false;
    if (p.source === 'incident' && c.level === 'duty') return false;
  } else if (c.level !== '*') return false;
  if (p.kSpec ? c.kind === '*' || (p.kind !== undefined && c.kind !== p.kind) : c.kind !== '*') return false;
  return true;
}

const inRange = (p: Plan, m: number) => (p.m1 === null || m >= p.m1) && (p.m2 === null || m <= p.m2);
/** Whether the whole year holding month m is inside the period (then its year cells are read; not for a figure by month). */
const fullYear = (p: Plan, m: number) => {
  const y = Math.floor(m / 12);
  return p.by !== 'month' && inRange(p, y * 12) && inRange(p, y * 12 + 11);
};
const sameYear = (a: number, b: number) => Math.floor(a / 12) === Math.floor(b / 12);

/**
 * Whether a cell is read by the plan, and the figure key it adds to (undefined = not read).
 * The period is cut into whole years (their year cells) and months (month cells); first
 * responses add the groups spanning a cut inside the period ('frAB') and the parts inside of
 * those spanning its ends ('frA' at the end, 'frB' at the start).
 */
function cellTarget(p: Plan, c: CellDims): string | null | undefined {
  if (!cellDimsMatch(p, c)) return undefined;
  if (c.part !== 'f' && p.source === 'duty') return undefined;
  if (isYear(c.month)) {
    if (c.part !== 'f' && c.part !== 'fr') return undefined;
    if (!fullYear(p, Number(c.month) * 12)) return undefined;
  } else {
    const m = monthIndex(c.month);
    switch (c.part) {
      case 'f':
      case 'fr':
        if (!inRange(p, m) || fullYear(p, m)) return undefined;
        break;
      case 'frAB':
        // Both months inside the period, not within one whole year read as a year (never by month: each month is its own period).
        if (p.by === 'month' || !inRange(p, m) || !inRange(p, m + 1) || (sameYear(m, m + 1) && fullYear(p, m))) return undefined;
        break;
      case 'frA':
        // This month inside, the next one not (or a figure by month).
        if (!inRange(p, m) || (p.by !== 'month' && inRange(p, m + 1))) return undefined;
        // The next month is an edge: these incidents' first responses are computed from their deadlines.
        if (p.by !== 'month' && p.edgeMonths.includes(m + 1)) return undefined;
        break;
      case 'frB':
        if (!inRange(p, m + 1) || (p.by !== 'month' && inRange(p, m))) return undefined;
        if (p.by !== 'month' && p.edgeMonths.includes(m)) return undefined;
        break;
    }
  }
  switch (p.by) {
    case 'all':
      return 'all';
    case 'unit':
      return c.unit === '' ? null : c.unit;
    case 'level':
      return c.level === 'duty' ? null : c.level;
    case 'kind':
      return c.kind;
    case 'month':
      return c.part === 'frB' ? monthName(monthIndex(c.month) + 1) : c.month;
  }
}

/** The SQL that reads the plan's cells (a superset; cellTarget decides). */
function cellQuery(p: Plan): SQL {
  const where: SQL[] = [];
  if (p.uSpec) where.push(p.unit !== undefined ? sql`unit = ${p.unit}` : sql`unit <> '*'`);
  else where.push(sql`unit = '*'`);
  if (p.lSpec) {
    where.push(sql`level <> '*'`);
    if (p.level !== undefined) where.push(sql`level = ${p.level}`);
    if (p.source === 'duty') where.push(sql`level = 'duty'`);
    if (p.source === 'incident') where.push(sql`level <> 'duty'`);
  } else where.push(sql`level = '*'`);
  if (p.kSpec) where.push(p.kind !== undefined ? sql`kind = ${p.kind}` : sql`kind <> '*'`);
  else where.push(sql`kind = '*'`);
  if (p.m1 !== null && p.m2 !== null && p.m2 - p.m1 < 1200) {
    // Exactly the (part, month) pairs the period reads.
    const pairs: { part: Part; month: string }[] = [];
    const dims = { unit: p.uSpec ? (p.unit ?? 'x') : '*', level: p.lSpec ? (p.level ?? 'x') : '*', kind: p.kSpec ? (p.kind ?? 'x') : '*' };
    const probe = (part: Part, month: string) => {
      if (
        cellTarget({ ...p, unit: undefined, level: undefined, kind: undefined, source: undefined }, { part, month, ...dims }) !== undefined
      )
        pairs.push({ part, month });
    };
    for (let y = Math.floor((p.m1 - 1) / 12); y <= Math.floor(p.m2 / 12); y++)
      for (const part of ['f', 'fr'] as const) probe(part, String(y));
    for (let m = p.m1 - 1; m <= p.m2; m++) for (const part of ['f', 'fr', 'frA', 'frB', 'frAB'] as const) probe(part, monthName(m));
    // One index scan per pair on the primary key's leading (part, month). As a plain join the
    // planner, guessing 100 pairs, hashed them and read every cell (a seq scan of 38 000 rows, 3 700
    // buffers for a year by unit at a million incidents, against 260 this way).
    return sql`select s.part, s.month, s.unit, s.level, s.kind, s.data, s.h1, s.h2
      from jsonb_to_recordset(${JSON.stringify(pairs)}::jsonb) as w(part text, month text)
      cross join lateral (select * from stats_cell s where s.part = w.part and s.month = w.month
        and ${sql.join(where, sql` and `)} offset 0) s`;
  } else {
    // One month of slack on each side for the boundary parts; cellTarget decides.
    if (p.m1 !== null) where.push(sql`month >= ${monthName(p.m1 - 1)}`);
    if (p.m2 !== null) where.push(sql`month <= ${monthName(p.m2)}`);
  }
  return sql`select part, month, unit, level, kind, data, h1, h2 from stats_cell where ${sql.join(where, sql` and `)}`;
}

/** Whether a live deadline is in the plan's selection, and its figure key. */
function factTarget(p: Plan, f: Fact, anyDue = false): string | null | undefined {
  if (!anyDue && p.fromUs !== null && f.due <= p.fromUs) return undefined;
  if (!anyDue && p.toUs !== null && f.due > p.toUs) return undefined;
  if (p.unit !== undefined && unitKey(f.unit) !== p.unit) return undefined;
  if (p.source !== undefined && f.source !== p.source) return undefined;
  if (p.level !== undefined && (f.source !== 'incident' || levelKey(f) !== p.level)) return undefined;
  if (p.kind !== undefined && f.kind !== p.kind) return undefined;
  switch (p.by) {
    case 'all':
      return 'all';
    case 'unit':
      return f.unit;
    case 'level':
      return f.source === 'duty' ? null : levelKey(f);
    case 'kind':
      return f.kind;
    case 'month':
      return monthName(monthOf(f.due));
  }
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
