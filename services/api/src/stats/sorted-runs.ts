/**
 * Percentiles over multisets given as sorted runs: a statistics request (rollup.ts) reads per
 * unit-year a few encoded per-minute histograms of thousands of entries each, plus a handful of
 * corrections (the old contributions of changed deadlines, counted negative, and the live ones).
 * Decoding every entry into a Map keyed by value and sorting the Map's entries cost a heap number
 * per entry and a sort per figure (≈ 300 000 entries for a year by unit); a histogram is stored
 * sorted already, so it is decoded into typed arrays in order and the runs are merged, summing
 * equal values — the same multiset, so the same percentile_cont, with no per-entry allocation.
 */

/** Ascending distinct values and their counts (a count may be negative in a correction run). */
export interface SortedRun {
  values: Float64Array;
  counts: Float64Array;
  length: number;
}

const EMPTY: SortedRun = { values: new Float64Array(0), counts: new Float64Array(0), length: 0 };

/**
 * An encoded histogram (rollup.ts: sorted (minute, count) pairs as LEB128 varints of the minute's
 * delta — the first zigzag — and the count, in base64), each minute mapped to `scale · minute +
 * offset` (scale −1 reverses the order, so the run is stored ascending either way).
 */
export function runOfEncoded(s: string | null, scale: number, offset: number): SortedRun {
  if (!s) return EMPTY;
  const b = Buffer.from(s, 'base64');
  // Every varint ends with a byte below 0x80; two varints per entry.
  let ends = 0;
  for (let i = 0; i < b.length; i++) if (b[i]! < 0x80) ends++;
  const n = ends >> 1;
  const values = new Float64Array(n);
  const counts = new Float64Array(n);
  let i = 0;
  const varint = () => {
    let v = 0;
    let mul = 1;
    for (;;) {
      const x = b[i++]!;
      v += (x & 0x7f) * mul;
      if (x < 0x80) return v;
      mul *= 0x80;
    }
  };
  const z = varint();
  let minute = z % 2 === 1 ? -(z + 1) / 2 : z / 2;
  const put = (j: number, count: number) => {
    const at = scale < 0 ? n - 1 - j : j;
    values[at] = scale * minute + offset;
    counts[at] = count;
  };
  put(0, varint());
  for (let j = 1; j < n; j++) {
    minute += varint();
    put(j, varint());
  }
  return { values, counts, length: n };
}

/** A run of the entries of a value → count map (a few corrections). */
export function runOfMap(m: ReadonlyMap<number, number>): SortedRun {
  const keys = [...m.keys()].sort((x, y) => x - y);
  const values = Float64Array.from(keys);
  const counts = Float64Array.from(keys, (k) => m.get(k)!);
  return { values, counts, length: keys.length };
}

/** Two runs as one, equal values' counts summed (zero sums dropped). */
export function mergeRuns(a: SortedRun, b: SortedRun): SortedRun {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const values = new Float64Array(a.length + b.length);
  const counts = new Float64Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let n = 0;
  const put = (v: number, c: number) => {
    if (c === 0) return;
    values[n] = v;
    counts[n++] = c;
  };
  while (i < a.length && j < b.length) {
    const x = a.values[i]!;
    const y = b.values[j]!;
    if (x < y) put(x, a.counts[i++]!);
    else if (y < x) put(y, b.counts[j++]!);
    else put(x, a.counts[i++]! + b.counts[j++]!);
  }
  while (i < a.length) put(a.values[i]!, a.counts[i++]!);
  while (j < b.length) put(b.values[j]!, b.counts[j++]!);
  return { values, counts, length: n };
}

/** All runs as one (pairwise, so k runs of N entries in all cost N · log k). */
export function mergeAll(runs: readonly SortedRun[]): SortedRun {
  let level = runs.filter((r) => r.length > 0);
  if (level.length === 0) return EMPTY;
  while (level.length > 1) {
    const next: SortedRun[] = [];
    for (let k = 0; k < level.length; k += 2) next.push(k + 1 < level.length ? mergeRuns(level[k]!, level[k + 1]!) : level[k]!);
    level = next;
  }
  return level[0]!;
}

/**
 * percentile_cont (linear interpolation between the two nearest ranks) of the multiset a run
 * holds, entries with a count ≤ 0 left out (as rollup.ts's map-based `percentile` does).
 */
export function runPercentile(run: SortedRun, q: number): number | null {
  let total = 0;
  for (let k = 0; k < run.length; k++) if (run.counts[k]! > 0) total += run.counts[k]!;
  if (total === 0) return null;
  const pos = q * (total - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  let a: number | undefined;
  let b: number | undefined;
  let last = 0;
  let seen = 0;
  for (let k = 0; k < run.length; k++) {
    const c = run.counts[k]!;
    if (c <= 0) continue;
    const v = run.values[k]!;
    last = v;
    seen += c;
    if (a === undefined && lo < seen) a = v;
    if (hi < seen) {
      b = v;
      break;
    }
  }
  a ??= last;
  b ??= last;
  return a + (pos - lo) * (b - a);
}
