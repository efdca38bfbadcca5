/**
 * Which parts of the statistics rollup a request reads (rollup-read.ts answers it): the whole
 * months its period covers, read from the cells; the edges inside a month, read deadline by
 * deadline from stats_fact; and to which row (unit, level, kind, month) a cell or a fact counts.
 */
import { type SQL, sql } from '@huiying/db';
import type { Dimension, StatsFilter, StatsScope } from './queries.ts';
import {
  type CellDims,
  type Fact,
  isYear,
  levelKey,
  monthIndex,
  monthName,
  monthOf,
  monthStartMs,
  type Part,
  SHANGHAI_MS,
  unitKey,
} from './rollup-cells.ts';

export interface Plan {
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
export function planOf(scope: StatsScope, f: StatsFilter, by: Dimension | 'all'): Plan {
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
export function cellTarget(p: Plan, c: CellDims): string | null | undefined {
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
export function cellQuery(p: Plan): SQL {
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
export function factTarget(p: Plan, f: Fact, anyDue = false): string | null | undefined {
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
