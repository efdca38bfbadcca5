/**
 * The statistics rollup: pre-aggregated figures per Asia/Shanghai month of due, so that a year
 * of statistics reads a few thousand cells instead of scanning millions of deadlines — and is
 * still exactly the figures queries.ts defines, right after any change.
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
 * The drill-down and the 通报's list read the live tables (queries.ts), as does everything before
 * the first run.
 */
import { type Db, type DbHandle, rowsOf, type SQL, sql, type Tx } from '@huiying/db';
import type { Dimension, StatsFilter, StatsScope } from './queries.ts';
import { mergeAll, runOfEncoded, runOfMap, runPercentile, type SortedRun } from './sorted-runs.ts';

/** How many of the largest late overdues / earliest breached dues a cell keeps, for exact maxima. */
const TOP = 16;
const US_PER_MIN = 60_000_000;
const SHANGHAI_MS = 8 * 3_600_000;
/** Advisory lock key of the rollup job ("hystats" in ASCII, truncated). */
const ROLLUP_LOCK = 0x6879_7374;
/** Beyond this many incidents and duties changed since the watermark, a request reads the live tables. */
const MAX_DIRTY = 20_000;
export const DEFAULT_MARGIN_MS = 5 * 60_000;

// ---------------------------------------------------------------------------------------------
// Deadlines ("facts") and months

export type FactOutcome = 'on_time' | 'late' | 'breached' | 'running';

export interface Fact {
  source: 'incident' | 'duty';
  ref: string;
  seq: number;
  kind: string;
  /** Incident level, null = ungraded; null for duties. */
  level: string | null;
  /** The unit the deadline is attributed to (queries.ts: the breach alert's for late/breached). */
  unit: string | null;
  /** Instants in µs since the epoch (PostgreSQL's precision; exact in a double). */
  due: number;
  responded: number | null;
  outcome: FactOutcome;
  retracted: boolean;
  /** Incident start (起算时间), for first responses. */
  start: number | null;
  /** A running duty whose count is suspended (never breached while suspended). */
  suspended: boolean;
}

/** Month index (year × 12 + month − 1) of the Asia/Shanghai month the due falls in: (start, end]. */
export function monthOf(dueUs: number): number {
  const d = new Date(Math.floor((dueUs - 1) / 1000) + SHANGHAI_MS);
  return d.getUTCFullYear() * 12 + d.getUTCMonth();
}
export const monthName = (m: number) => `${Math.floor(m / 12)}-${String((m % 12) + 1).padStart(2, '0')}`;
const monthIndex = (name: string) => Number(name.slice(0, 4)) * 12 + Number(name.slice(5, 7)) - 1;
/** A year's cells are stored with month = 'YYYY'. */
const yearName = (m: number) => String(Math.floor(m / 12));
const isYear = (name: string) => name.length === 4;
/** First and last month index of a cell's period (a month, or a year). */
const monthsOfCell = (name: string): [number, number] =>
  isYear(name) ? [Number(name) * 12, Number(name) * 12 + 11] : [monthIndex(name), monthIndex(name)];
/** 00:00 Asia/Shanghai on the first of month m, in ms. */
const monthStartMs = (m: number) => Date.UTC(Math.floor(m / 12), m % 12, 1) - SHANGHAI_MS;

const levelKey = (f: Fact) => (f.source === 'duty' ? 'duty' : (f.level ?? 'ungraded'));
const unitKey = (u: string | null) => u ?? '';
const isMet = (f: Fact) => f.source === 'incident' && (f.outcome === 'on_time' || f.outcome === 'late');
const frValueUs = (facts: readonly Fact[], start: number) => Math.max(0, Math.min(...facts.map((f) => f.responded!)) - start);

// ---------------------------------------------------------------------------------------------
// Cells

export interface FactCell {
  onTime: number;
  late: number;
  breached: number;
  retracted: number;
  /** Σ (responded − due) of the late ones, µs. */
  lateSum: bigint;
  /** The largest late overdues, µs, descending (all of them when fewer than TOP). */
  lateTop: number[];
  /** Σ due of the breached ones, µs. */
  dueSum: bigint;
  /** The earliest breached dues, µs, ascending. */
  dueLow: number[];
  /** Late overdue floored to the minute → how many. */
  lateHist: Map<number, number>;
  /** Breached due floored to the minute → how many. */
  dueHist: Map<number, number>;
  /** Every value added (only when building the contribution of a few changed deadlines). */
  lateAll?: number[];
  dueAll?: number[];
}

export interface FrCell {
  n: number;
  /** First response floored to the minute → how many incidents. */
  hist: Map<number, number>;
}

export type Part = 'f' | 'fr' | 'frA' | 'frB' | 'frAB';

export interface CellDims {
  part: Part;
  month: string;
  unit: string;
  level: string;
  kind: string;
}

export interface Cell {
  part: Part;
  month: string;
  /** Unit id, '' = no unit, '*' = all. */
  unit: string;
  /** I … IV, 'ungraded', 'duty' (working-day duties), '*'. */
  level: string;
  kind: string;
  f?: FactCell;
  fr?: FrCell;
  /**
   * A stored cell read by an incremental run: its histograms hold the changes to these stored
   * ones (counts may be negative), merged in one pass when written — the year cells' histograms
   * have up to ~100 000 entries, and a change touches a few of them.
   */
  base?: { h1: string | null; h2: string | null };
}

const SEP = '\u0001';
export const cellKey = (part: string, month: string, unit: string, level: string, kind: string) =>
  `${part}${SEP}${month}${SEP}${unit}${SEP}${level}${SEP}${kind}`;

const emptyFact = (all: boolean): FactCell => ({
  onTime: 0,
  late: 0,
  breached: 0,
  retracted: 0,
  lateSum: 0n,
  lateTop: [],
  dueSum: 0n,
  dueLow: [],
  lateHist: new Map(),
  dueHist: new Map(),
  ...(all ? { lateAll: [], dueAll: [] } : {}),
});

const bump = (m: Map<number, number>, k: number, by: number) => {
  const v = (m.get(k) ?? 0) + by;
  if (v === 0) m.delete(k);
  else m.set(k, v);
};

function insertTop(list: number[], v: number, desc: boolean) {
  let i = 0;
  while (i < list.length && (desc ? list[i]! >= v : list[i]! <= v)) i++;
  list.splice(i, 0, v);
  if (list.length > TOP) list.pop();
}

export interface Cells {
  map: Map<string, Cell>;
  /** Incidents whose first response is computed live (see the header). */
  wide: Set<string>;
}

/**
 * The cells a set of deadlines contributes to. `facts` holds every non-running deadline of each
 * incident or duty it names (first responses are per incident). `all` keeps every value for
 * taking them back out of stored cells. `keep`: only the cells it accepts (a request builds the
 * old contribution of the changed deadlines to the few cells it reads, not to all sixteen and more
 * of each).
 */
export function buildCells(
  facts: readonly Fact[],
  into: Cells = { map: new Map(), wide: new Set() },
  all = false,
  keep?: (c: CellDims) => boolean,
): Cells {
  const cell = (part: Part, month: string, unit: string, level: string, kind: string): Cell | undefined => {
    if (keep && !keep({ part, month, unit, level, kind })) return undefined;
    const key = cellKey(part, month, unit, level, kind);
    let c = into.map.get(key);
    if (!c) {
      c = { part, month, unit, level, kind, ...(part === 'f' ? { f: emptyFact(all) } : { fr: { n: 0, hist: new Map() } }) };
      into.map.set(key, c);
    }
    return c;
  };
  const byIncident = new Map<string, Fact[]>();
  for (const fact of facts) {
    if (fact.outcome === 'running') continue;
    const m = monthOf(fact.due);
    const l = levelKey(fact);
    // Each deadline in its month's cells and in its year's (a whole year is read as one cell).
    for (const period of [monthName(m), yearName(m)])
      for (const u of [unitKey(fact.unit), '*'])
        for (const lv of [l, '*'])
          for (const k of [fact.kind, '*']) {
            const c = cell('f', period, u, lv, k);
            if (c) addFact(c.f!, fact, all);
          }
    if (isMet(fact)) {
      const list = byIncident.get(fact.ref);
      if (list) list.push(fact);
      else byIncident.set(fact.ref, [fact]);
    }
  }
  for (const [ref, met] of byIncident) {
    const months = [...new Set(met.map((f) => monthOf(f.due)))].sort((a, b) => a - b);
    if (months.length > 2 || (months.length === 2 && months[1]! - months[0]! !== 1)) {
      into.wide.add(ref);
      continue;
    }
    const start = met[0]!.start ?? 0;
    const level = levelKey(met[0]!);
    for (const uSpec of [false, true])
      for (const kSpec of [false, true]) {
        const groups = new Map<string, Fact[]>();
        for (const f of met) {
          const g = `${uSpec ? unitKey(f.unit) : '*'}${SEP}${kSpec ? f.kind : '*'}`;
          const list = groups.get(g);
          if (list) list.push(f);
          else groups.set(g, [f]);
        }
        for (const [g, list] of groups) {
          const [u, k] = g.split(SEP) as [string, string];
          const lo = Math.min(...list.map((f) => monthOf(f.due)));
          const inLo = list.filter((f) => monthOf(f.due) === lo);
          const hi = Math.max(...list.map((f) => monthOf(f.due)));
          for (const lv of [level, '*']) {
            const add = (part: Part, facts: Fact[], period = monthName(lo)) => {
              const c = cell(part, period, u, lv, k)?.fr;
              if (!c) return;
              c.n++;
              bump(c.hist, Math.floor(frValueUs(facts, start) / US_PER_MIN), 1);
            };
            // Within one year: also in the year's cell.
            if (yearName(lo) === yearName(hi)) add('fr', list, yearName(lo));
            if (inLo.length === list.length) add('fr', list);
            else {
              add('frA', inLo);
              add(
                'frB',
                list.filter((f) => monthOf(f.due) !== lo),
              );
              add('frAB', list);
            }
          }
        }
      }
  }
  return into;
}

function addFact(c: FactCell, f: Fact, all: boolean) {
  if (f.outcome === 'on_time') {
    c.onTime++;
    if (f.retracted) c.retracted++;
  } else if (f.outcome === 'late') {
    const ov = f.responded! - f.due;
    c.late++;
    c.lateSum += BigInt(Math.round(ov));
    insertTop(c.lateTop, ov, true);
    bump(c.lateHist, Math.floor(ov / US_PER_MIN), 1);
    if (all) c.lateAll!.push(ov);
  } else if (f.outcome === 'breached') {
    c.breached++;
    c.dueSum += BigInt(Math.round(f.due));
    insertTop(c.dueLow, f.due, false);
    bump(c.dueHist, Math.floor(f.due / US_PER_MIN), 1);
    if (all) c.dueAll!.push(f.due);
  }
}

const removeValue = (list: number[], v: number) => {
  const i = list.indexOf(v);
  if (i >= 0) list.splice(i, 1);
};

/**
 * Take `old` (built with all = true) out of `into`. 'ok': the kept maxima lists still hold the
 * largest values, as many as they should; 'short': they hold the largest remaining values (the
 * maximum is right) but fewer than they should; 'empty': a list lost every value it kept while
 * the cell still has some — the maximum has to be read again from the deadlines.
 */
export function subtractCell(into: Cell, old: Cell): 'ok' | 'short' | 'empty' {
  if (into.fr && old.fr) {
    into.fr.n -= old.fr.n;
    for (const [k, v] of old.fr.hist) bump(into.fr.hist, k, -v);
    return 'ok';
  }
  const a = into.f!;
  const b = old.f!;
  a.onTime -= b.onTime;
  a.late -= b.late;
  a.breached -= b.breached;
  a.retracted -= b.retracted;
  a.lateSum -= b.lateSum;
  a.dueSum -= b.dueSum;
  for (const [k, v] of b.lateHist) bump(a.lateHist, k, -v);
  for (const [k, v] of b.dueHist) bump(a.dueHist, k, -v);
  for (const v of b.lateAll ?? []) removeValue(a.lateTop, v);
  for (const v of b.dueAll ?? []) removeValue(a.dueLow, v);
  if ((a.lateTop.length === 0 && a.late > 0) || (a.dueLow.length === 0 && a.breached > 0)) return 'empty';
  return a.lateTop.length === Math.min(TOP, a.late) && a.dueLow.length === Math.min(TOP, a.breached) ? 'ok' : 'short';
}

/** Add `more` (built with all = true) to `into`, whose lists are complete. */
export function addCell(into: Cell, more: Cell) {
  if (into.fr && more.fr) {
    into.fr.n += more.fr.n;
    for (const [k, v] of more.fr.hist) bump(into.fr.hist, k, v);
    return;
  }
  const a = into.f!;
  const b = more.f!;
  a.onTime += b.onTime;
  a.late += b.late;
  a.breached += b.breached;
  a.retracted += b.retracted;
  a.lateSum += b.lateSum;
  a.dueSum += b.dueSum;
  for (const [k, v] of b.lateHist) bump(a.lateHist, k, v);
  for (const [k, v] of b.dueHist) bump(a.dueHist, k, v);
  for (const v of b.lateAll ?? b.lateTop) insertTop(a.lateTop, v, true);
  for (const v of b.dueAll ?? b.dueLow) insertTop(a.dueLow, v, false);
}

const isEmptyCell = (c: Cell) => (c.fr ? c.fr.n === 0 : c.f!.onTime + c.f!.late + c.f!.breached === 0);

// ---------------------------------------------------------------------------------------------
// Histogram encoding: sorted (minute, count) pairs as unsigned LEB128 varints of the minute's
// delta (the first one zigzag) and the count, in base64 (compact to read: a year by unit is a few hundred kB).

export function encodeHist(m: Map<number, number>): string | null {
  const keys = [...m.keys()].sort((a, b) => a - b);
  return encodeSorted(
    keys,
    keys.map((k) => m.get(k)!),
  );
}

/** Ascending minutes and their counts, encoded. */
function encodeSorted(keys: readonly number[], counts: readonly number[]): string | null {
  if (keys.length === 0) return null;
  const bytes: number[] = [];
  const varint = (n: number) => {
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`histogram value out of range: ${n}`);
    while (n >= 0x80) {
      bytes.push((n % 0x80) | 0x80);
      n = Math.floor(n / 0x80);
    }
    bytes.push(n);
  };
  // The first minute zigzag-encoded (a late response recorded before its due has a negative overdue).
  varint(keys[0]! < 0 ? -2 * keys[0]! - 1 : 2 * keys[0]!);
  varint(counts[0]!);
  for (let i = 1; i < keys.length; i++) {
    varint(keys[i]! - keys[i - 1]!);
    varint(counts[i]!);
  }
  return Buffer.from(bytes).toString('base64');
}

/** The stored histogram `s` plus `delta` (counts may be negative), encoded: one merge pass. */
function mergeHist(s: string | null, delta: Map<number, number>): string | null {
  if (delta.size === 0) return s;
  const dk = [...delta.keys()].sort((a, b) => a - b);
  const keys: number[] = [];
  const counts: number[] = [];
  const put = (m: number, k: number) => {
    if (k === 0) return;
    keys.push(m);
    counts.push(k);
  };
  let j = 0;
  decodeHist(s, (m, k) => {
    while (j < dk.length && dk[j]! < m) put(dk[j]!, delta.get(dk[j++]!)!);
    if (j < dk.length && dk[j] === m) put(m, k + delta.get(dk[j++]!)!);
    else put(m, k);
  });
  while (j < dk.length) put(dk[j]!, delta.get(dk[j++]!)!);
  return encodeSorted(keys, counts);
}

/** Calls `each(minute, count)` for every entry, in order (decoded by sorted-runs.ts, the one decoder). */
function decodeHist(s: string | null, each: (minute: number, count: number) => void) {
  const run = runOfEncoded(s, 1, 0);
  for (let k = 0; k < run.length; k++) each(run.values[k]!, run.counts[k]!);
}

const toMap = (s: string | null) => {
  const m = new Map<number, number>();
  decodeHist(s, (k, v) => m.set(k, v));
  return m;
};

interface CellRow {
  part: Part;
  month: string;
  unit: string;
  level: string;
  kind: string;
  data: {
    n?: number;
    onTime?: number;
    late?: number;
    breached?: number;
    retracted?: number;
    lateSum?: string;
    lateTop?: number[];
    dueSum?: string;
    dueLow?: number[];
  };
  h1: string | null;
  h2: string | null;
}

const dataOf = (r: CellRow): CellRow['data'] => (typeof r.data === 'string' ? (JSON.parse(r.data) as CellRow['data']) : r.data);

/** `delta`: the histograms left encoded, as `Cell.base` (an incremental run). */
function fromRow(r: CellRow, delta = false): Cell {
  const base = {
    part: r.part,
    month: r.month,
    unit: r.unit,
    level: r.level,
    kind: r.kind,
    ...(delta ? { base: { h1: r.h1, h2: r.h2 } } : {}),
  };
  const hist = (h: string | null) => (delta ? new Map<number, number>() : toMap(h));
  const d = dataOf(r);
  if (r.part !== 'f') return { ...base, fr: { n: d.n ?? 0, hist: hist(r.h1) } };
  return {
    ...base,
    f: {
      onTime: d.onTime ?? 0,
      late: d.late ?? 0,
      breached: d.breached ?? 0,
      retracted: d.retracted ?? 0,
      lateSum: BigInt(d.lateSum ?? '0'),
      lateTop: d.lateTop ?? [],
      dueSum: BigInt(d.dueSum ?? '0'),
      dueLow: d.dueLow ?? [],
      lateHist: hist(r.h1),
      dueHist: hist(r.h2),
    },
  };
}

function toRecord(c: Cell) {
  const base = { part: c.part, month: c.month, unit: c.unit, level: c.level, kind: c.kind };
  const enc = (m: Map<number, number>, stored: string | null | undefined) => (c.base ? mergeHist(stored ?? null, m) : encodeHist(m));
  if (c.fr) return { ...base, data: { n: c.fr.n }, h1: enc(c.fr.hist, c.base?.h1), h2: null };
  const f = c.f!;
  return {
    ...base,
    data: {
      onTime: f.onTime,
      late: f.late,
      breached: f.breached,
      retracted: f.retracted,
      lateSum: String(f.lateSum),
      lateTop: f.lateTop,
      dueSum: String(f.dueSum),
      dueLow: f.dueLow,
    },
    h1: enc(f.lateHist, c.base?.h1),
    h2: enc(f.dueHist, c.base?.h2),
  };
}

// ---------------------------------------------------------------------------------------------
// Reading deadlines

const us = (col: SQL) => sql`(extract(epoch from ${col}) * 1000000)::float8`;
/** `col` is one of `values` — as `= any(array(…))`, so the planner looks each up by index. */
const inList = (col: SQL, values: readonly string[]) =>
  sql`${col} = any(array(select jsonb_array_elements_text(${JSON.stringify(values)}::jsonb)))`;

/**
 * The deadlines of the live tables, as queries.ts defines them (outcome without `now`: running
 * stays 'running'). `which` = the incidents and duties named, or every running deadline.
 */
function liveFacts(which: { incidents: readonly string[]; duties: readonly string[] } | 'running' | 'all'): SQL {
  // Running: all of them, through the small partial indexes (a due range here would have the
  // planner walk the due index over every deadline of the period instead).
  const incidentWhere =
    which === 'running'
      ? sql`c.state = 'running'`
      : which === 'all'
        ? sql`c.state in ('met', 'breached')`
        : sql`c.state in ('met', 'breached') and ${inList(sql`c.incident_id`, which.incidents)}`;
  const dutyWhere =
    which === 'running'
      ? sql`o.status = 'running'`
      : which === 'all'
        ? sql`o.status in ('met', 'breached')`
        : sql`o.status in ('met', 'breached') and ${inList(sql`o.id`, which.duties)}`;
  return sql`
    select 'incident'::text as source, c.incident_id as ref, c.seq, c.kind, i.level,
      case when c.state = 'met' and c.late is not true then c.unit_id when b.id is not null then b.unit_id else c.unit_id end as unit,
      ${us(sql`c.due_at`)} as due, ${us(sql`c.responded_at`)} as responded,
      case when c.state = 'met' and c.late is not true then 'on_time' when c.state = 'met' then 'late'
           when c.state = 'breached' then 'breached' else 'running' end as outcome,
      (c.state = 'met' and c.late is not true and exists (select 1 from alerts r where r.kind = 'breached' and r.incident_id = c.incident_id
        and r.clock = c.kind and r.due_at = c.due_at and r.retracted_at is not null)) as retracted,
      ${us(sql`i.start_at`)} as start, false as suspended
    from clocks c
    join incidents i on i.id = c.incident_id
    left join alerts b on not (c.state = 'met' and c.late is not true)
      and b.kind = 'breached' and b.incident_id = c.incident_id and b.clock = c.kind and b.due_at = c.due_at
    where ${incidentWhere}
    union all
    select 'duty'::text, o.id, 0, o.kind, null::text, o.unit_id, ${us(sql`o.due_at`)},
      round((o.state->>'respondedAt')::numeric) * 1000,
      case when o.status = 'met' and (o.state->>'late')::boolean is not true then 'on_time' when o.status = 'met' then 'late'
           when o.status = 'breached' then 'breached' else 'running' end,
      (o.status = 'met' and (o.state->>'late')::boolean is not true and exists (select 1 from alerts ra
        where ra.kind = 'breached' and ra.obligation_id = o.id and ra.retracted_at is not null)),
      null::float8, jsonb_typeof(o.state->'suspension') = 'object'
    from obligations o
    where ${dutyWhere}`;
}

interface FactRow {
  source: 'incident' | 'duty';
  ref: string;
  seq: number;
  kind: string;
  level: string | null;
  unit: string | null;
  due: number | string;
  responded: number | string | null;
  outcome: FactOutcome;
  retracted: boolean;
  start: number | string | null;
  suspended: boolean | null;
}

const n = (v: number | string | null): number | null => (v === null ? null : Number(v));
const toFact = (r: FactRow): Fact => ({
  source: r.source,
  ref: r.ref,
  seq: Number(r.seq),
  kind: r.kind,
  level: r.level,
  unit: r.unit,
  due: Number(r.due),
  responded: n(r.responded),
  outcome: r.outcome,
  retracted: Boolean(r.retracted),
  start: n(r.start),
  suspended: Boolean(r.suspended),
});

const storedFacts = (where: SQL) => sql`
  select source, ref_id as ref, seq, kind, level, unit_id as unit, due_us as due, responded_us as responded, outcome, retracted,
    start_us as start, false as suspended
  from stats_fact where ${where}`;

async function readFacts(db: Db | Tx, query: SQL): Promise<Fact[]> {
  return rowsOf<FactRow>(await db.execute(query)).map(toFact);
}

/** Facts grouped by 'source|ref', in a stable order (to compare old and new). */
function byRef(facts: readonly Fact[]): Map<string, Fact[]> {
  const m = new Map<string, Fact[]>();
  for (const f of facts) {
    const k = `${f.source}|${f.ref}`;
    const list = m.get(k);
    if (list) list.push(f);
    else m.set(k, [f]);
  }
  return m;
}
const signature = (facts: readonly Fact[] | undefined) =>
  JSON.stringify(
    [...(facts ?? [])]
      .map((f) => [f.seq, f.kind, f.level, f.unit, f.due, f.responded, f.outcome, f.retracted, f.start])
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
  );

async function insertFacts(tx: Tx, facts: readonly Fact[], wide: Set<string>) {
  for (let i = 0; i < facts.length; i += 5000) {
    const rows = facts.slice(i, i + 5000).map((f) => ({ ...f, wide: f.source === 'incident' && wide.has(f.ref) }));
    await tx.execute(sql`
      insert into stats_fact (source, ref_id, seq, kind, level, unit_id, due_us, responded_us, outcome, retracted, start_us, wide)
      select source, ref, seq, kind, level, unit, due, responded, outcome, retracted, start, wide
      from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as r(source text, ref text, seq int, kind text, level text, unit text,
        due bigint, responded bigint, outcome text, retracted boolean, start bigint, wide boolean)`);
  }
}

async function writeCells(tx: Tx, cells: Iterable<Cell>) {
  const all = [...cells];
  for (let i = 0; i < all.length; i += 2000) {
    const batch = all.slice(i, i + 2000);
    const gone = batch.filter(isEmptyCell).map((c) => ({ part: c.part, month: c.month, unit: c.unit, level: c.level, kind: c.kind }));
    const kept = batch.filter((c) => !isEmptyCell(c)).map(toRecord);
    if (gone.length > 0)
      await tx.execute(sql`
        delete from stats_cell s using jsonb_to_recordset(${JSON.stringify(gone)}::jsonb) as r(part text, month text, unit text, level text, kind text)
        where s.part = r.part and s.month = r.month and s.unit = r.unit and s.level = r.level and s.kind = r.kind`);
    if (kept.length > 0)
      await tx.execute(sql`
        insert into stats_cell (part, month, unit, level, kind, data, h1, h2)
        select part, month, unit, level, kind, data, h1, h2
        from jsonb_to_recordset(${JSON.stringify(kept)}::jsonb) as r(part text, month text, unit text, level text, kind text, data jsonb, h1 text, h2 text)
        on conflict (part, month, unit, level, kind) do update set data = excluded.data, h1 = excluded.h1, h2 = excluded.h2`);
  }
}

/** Stored cells for an incremental run (their histograms as changes over the stored ones: `Cell.base`). */
async function readCells(tx: Db | Tx, keys: readonly Cell[]): Promise<Map<string, Cell>> {
  const out = new Map<string, Cell>();
  for (let i = 0; i < keys.length; i += 2000) {
    const batch = keys.slice(i, i + 2000).map((c) => ({ part: c.part, month: c.month, unit: c.unit, level: c.level, kind: c.kind }));
    const rows = rowsOf<CellRow>(
      await tx.execute(sql`
        select s.part, s.month, s.unit, s.level, s.kind, s.data, s.h1, s.h2
        from stats_cell s join jsonb_to_recordset(${JSON.stringify(batch)}::jsonb) as r(part text, month text, unit text, level text, kind text)
          on s.part = r.part and s.month = r.month and s.unit = r.unit and s.level = r.level and s.kind = r.kind`),
    );
    for (const r of rows) out.set(cellKey(r.part, r.month, r.unit, r.level, r.kind), fromRow(r, true));
  }
  return out;
}

/**
 * Read the kept maxima of fact cells again from stats_fact (after their lists lost too many),
 * leaving out `exclude` (a request: the deadlines changed since the watermark, added back live).
 * One statement per kind of list and shape of cell, each cell's read as a lateral index scan
 * (by unit first for the cells of one unit: migration 0024) — not one round trip and plan per
 * cell: a burst of answers to old breaches empties hundreds of lists at once.
 */
async function refreshTops(
  tx: Db | Tx,
  items: readonly { c: Cell; need: 'short' | 'empty' }[],
  exclude?: Pick<Dirty, 'incidents' | 'duties'>,
) {
  // Only the lists that need it ('short': fewer than they should hold; 'empty': lost all they held).
  const needs = (need: 'short' | 'empty', kept: number, count: number) =>
    need === 'short' ? kept < Math.min(TOP, count) : kept === 0 && count > 0;
  const late: Cell[] = [];
  const due: Cell[] = [];
  for (const { c, need } of items) {
    if (needs(need, c.f!.lateTop.length, c.f!.late)) late.push(c);
    if (needs(need, c.f!.dueLow.length, c.f!.breached)) due.push(c);
  }
  const notExcluded = exclude ? sql`and not ${dirtyCondition(exclude)}` : sql``;
  const read = async (cells: Cell[], list: 'late' | 'due') => {
    const found = new Map<number, number[]>();
    for (const oneUnit of [true, false]) {
      const batch = cells
        .map((c, i) => ({ c, i }))
        .filter(({ c }) => (c.unit !== '*' && c.unit !== '') === oneUnit)
        .map(({ c, i }) => {
          const [first, last] = monthsOfCell(c.month);
          return { i, lo: monthStartMs(first) * 1000, hi: monthStartMs(last + 1) * 1000, unit: c.unit, level: c.level, kind: c.kind };
        });
      if (batch.length === 0) continue;
      const unitCond = oneUnit ? sql`f.unit_id = c.unit` : sql`(c.unit = '*' or (c.unit = '' and f.unit_id is null))`;
      // The largest late overdues by walking the overdue index (the unit's, or all) and filtering
      // by due (`+ 0`: not by the due index — the planner, not knowing the cell's bounds, would
      // intersect it with a million rows of a year and sort).
      const [value, order, outcome, due] =
        list === 'late'
          ? [sql`(f.responded_us - f.due_us)::float8`, sql`f.responded_us - f.due_us desc`, 'late', sql`(f.due_us + 0)`]
          : [sql`f.due_us::float8`, sql`f.due_us`, 'breached', sql`f.due_us`];
      const rows = rowsOf<{ i: number; v: number | string }>(
        await tx.execute(sql`
          select c.i, x.v from jsonb_to_recordset(${JSON.stringify(batch)}::jsonb)
            as c(i int, lo bigint, hi bigint, unit text, level text, kind text)
          cross join lateral (
            select ${value} as v from stats_fact f
            where f.outcome = ${outcome} and ${unitCond} and ${due} > c.lo and ${due} <= c.hi
              and (c.level = '*' or (c.level = 'duty' and f.source = 'duty') or (c.level = 'ungraded' and f.source = 'incident' and f.level is null)
                or (f.source = 'incident' and f.level = c.level))
              and (c.kind = '*' or f.kind = c.kind) ${notExcluded}
            order by ${order} limit ${TOP}) x`),
      );
      for (const r of rows) {
        const l = found.get(Number(r.i));
        if (l) l.push(Number(r.v));
        else found.set(Number(r.i), [Number(r.v)]);
      }
    }
    return found;
  };
  if (late.length + due.length === 0) return;
  // Each cell's few rows from walking an index in the list's order: the planner, estimating one
  // row per cell, would rather bitmap-scan the cell's whole month or year and sort (seconds).
  const planner = (on: boolean) =>
    tx.execute(
      sql`select set_config('enable_bitmapscan', ${on ? 'on' : 'off'}, true), set_config('enable_sort', ${on ? 'on' : 'off'}, true)`,
    );
  await planner(false);
  const lateFound = await read(late, 'late');
  const dueFound = await read(due, 'due');
  await planner(true);
  late.forEach((c, i) => (c.f!.lateTop = (lateFound.get(i) ?? []).sort((a, b) => b - a)));
  due.forEach((c, i) => (c.f!.dueLow = (dueFound.get(i) ?? []).sort((a, b) => a - b)));
}

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

interface Dirty {
  incidents: string[];
  duties: string[];
  /** Each one's row version and latest updated_at (an incident's or its clocks') as read (for stats_seen). */
  versions: { source: 'incident' | 'duty'; ref: string; xmin: string; at: string }[];
}

/**
 * The incidents and duties changed after the watermark, except those a run has rolled up at their
 * current row version (stats_seen, migration 0024): the changes inside the watermark's margin are
 * read live by requests and looked at by runs only until a run has taken them in. An incident is
 * changed by its own `updated_at` (signals, commands) or a clock's (the timer's breaches, which
 * leave the incident's as it was; every write of an incident gives its row a new version).
 */
async function dirtySince(tx: Db | Tx, since: string, limit?: number): Promise<Dirty> {
  const cap = limit === undefined ? sql`` : sql`limit ${limit + 1}`;
  const read = async (source: 'incident' | 'duty', table: SQL, at: SQL, changed: SQL) =>
    rowsOf<{ id: string; xmin: string; at: string }>(
      await tx.execute(sql`select t.id, t.xmin::text as xmin, ${at}::text as at from ${table} t
        where ${changed}
          and not exists (select 1 from stats_seen s where s.source = ${source} and s.ref_id = t.id and s.row_version = t.xmin::text) ${cap}`),
    ).map((r) => ({ source, ref: r.id, xmin: r.xmin, at: r.at }));
  const versions = [
    ...(await read(
      'incident',
      sql`incidents`,
      sql`greatest(t.updated_at, (select max(c.updated_at) from clocks c where c.incident_id = t.id))`,
      sql`t.id in (select id from incidents where updated_at > ${since}::timestamptz
        union select incident_id from clocks where updated_at > ${since}::timestamptz)`,
    )),
    ...(await read('duty', sql`obligations`, sql`t.updated_at`, sql`t.updated_at > ${since}::timestamptz`)),
  ];
  return {
    incidents: versions.filter((v) => v.source === 'incident').map((v) => v.ref),
    duties: versions.filter((v) => v.source === 'duty').map((v) => v.ref),
    versions,
  };
}

/** Record what a run has rolled up (read before its deadlines were), and forget what the watermark has passed. */
async function markSeen(tx: Tx, versions: Dirty['versions'], watermark: string) {
  for (let i = 0; i < versions.length; i += 5000)
    await tx.execute(sql`
      insert into stats_seen (source, ref_id, row_version, updated_at)
      select source, ref, xmin, at::timestamptz from jsonb_to_recordset(${JSON.stringify(versions.slice(i, i + 5000))}::jsonb)
        as r(source text, ref text, xmin text, at text)
      on conflict (source, ref_id) do update set row_version = excluded.row_version, updated_at = excluded.updated_at`);
  await tx.execute(sql`delete from stats_seen where updated_at <= ${watermark}::timestamptz`);
}

const dirtyCondition = (d: Pick<Dirty, 'incidents' | 'duties'>) =>
  sql`((source = 'incident' and ${inList(sql`ref_id`, d.incidents)}) or (source = 'duty' and ${inList(sql`ref_id`, d.duties)}))`;

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
 * The figures of queries.ts's groupStats from the rollup and the live remainder, or null when
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
