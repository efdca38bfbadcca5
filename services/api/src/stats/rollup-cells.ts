/**
 * The statistics rollup's figures (see rollup.ts): deadlines ("facts") and the Asia/Shanghai
 * months they fall due in, the cells that add them up, taking them back out and merging cells,
 * the per-minute histograms' encoding, and a cell's stored row.
 */
import { runOfEncoded } from './sorted-runs.ts';

/** How many of the largest late overdues / earliest breached dues a cell keeps, for exact maxima. */
export const TOP = 16;
export const US_PER_MIN = 60_000_000;
export const SHANGHAI_MS = 8 * 3_600_000;

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
  /** The unit the deadline is attributed to (facts.ts: the breach alert's for late/breached). */
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
export const monthIndex = (name: string) => Number(name.slice(0, 4)) * 12 + Number(name.slice(5, 7)) - 1;
/** A year's cells are stored with month = 'YYYY'. */
const yearName = (m: number) => String(Math.floor(m / 12));
export const isYear = (name: string) => name.length === 4;
/** First and last month index of a cell's period (a month, or a year). */
export const monthsOfCell = (name: string): [number, number] =>
  isYear(name) ? [Number(name) * 12, Number(name) * 12 + 11] : [monthIndex(name), monthIndex(name)];
/** 00:00 Asia/Shanghai on the first of month m, in ms. */
export const monthStartMs = (m: number) => Date.UTC(Math.floor(m / 12), m % 12, 1) - SHANGHAI_MS;

export const levelKey = (f: Fact) => (f.source === 'duty' ? 'duty' : (f.level ?? 'ungraded'));
export const unitKey = (u: string | null) => u ?? '';
export const isMet = (f: Fact) => f.source === 'incident' && (f.outcome === 'on_time' || f.outcome === 'late');
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

export const SEP = '\u0001';
export const cellKey = (part: string, month: string, unit: string, level: string, kind: string) =>
  `${part}${SEP}${month}${SEP}${unit}${SEP}${level}${SEP}${kind}`;

export const emptyFact = (all: boolean): FactCell => ({
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

export const bump = (m: Map<number, number>, k: number, by: number) => {
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

export const isEmptyCell = (c: Cell) => (c.fr ? c.fr.n === 0 : c.f!.onTime + c.f!.late + c.f!.breached === 0);

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

export interface CellRow {
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

export const dataOf = (r: CellRow): CellRow['data'] => (typeof r.data === 'string' ? (JSON.parse(r.data) as CellRow['data']) : r.data);

/** `delta`: the histograms left encoded, as `Cell.base` (an incremental run). */
export function fromRow(r: CellRow, delta = false): Cell {
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

export function toRecord(c: Cell) {
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
