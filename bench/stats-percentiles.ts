/**
 * The part of a year-of-statistics-by-unit request that turns the cells' per-minute histograms
 * into the overdue median and the first-response median and p90 (services/api/src/stats/rollup.ts),
 * in CPU time, on synthetic cells shaped like bench/stats.ts's year at 1 M incidents: 60 units,
 * per unit-year ≈ 1 440 late-overdue minutes, ≈ 2 000 breached-due minutes, ≈ 1 500
 * first-response minutes (≈ 300 000 entries in all), plus a few corrections per unit.
 *
 *   node --import tsx bench/stats-percentiles.ts [--units 60] [--reps 20]
 *
 * "map": every entry decoded into a value → count Map and its entries sorted (before);
 * "runs": decoded into typed arrays in order and merged (sorted-runs.ts). Both give the same figures.
 */
import { parseArgs } from 'node:util';
import { encodeHist, percentile, sortedCounts } from '../services/api/src/stats/rollup.ts';
import { mergeAll, runOfEncoded, runOfMap, runPercentile } from '../services/api/src/stats/sorted-runs.ts';

const { values: a } = parseArgs({ options: { units: { type: 'string', default: '60' }, reps: { type: 'string', default: '20' } } });
const UNITS = Number(a.units);
const REPS = Number(a.reps);
const NOW = Date.parse('2026-12-31T00:00:00Z');
const nowMin = Math.floor(NOW / 60_000);

let seed = 7;
const rand = () => (seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0) / 2 ** 32;
const histOf = (n: number, lo: number, span: number) => {
  const m = new Map<number, number>();
  for (let i = 0; i < 100 * n && m.size < n; i++) m.set(lo + Math.floor(rand() * span), 1 + Math.floor(rand() * 4));
  return m;
};
const cells = Array.from({ length: UNITS }, () => ({
  h1: encodeHist(histOf(1_440, 0, 1_440)),
  h2: encodeHist(histOf(2_000, nowMin - 525_600, 525_600)),
  fr: encodeHist(histOf(1_500, 0, 2_880)),
  corrections: new Map([...histOf(8, 0, 1_440)].map(([m]) => [m * 60_000, -1])),
}));

/** As the request did before: every stored (minute, count) pair bumped into a Map (decoding itself as cheap as in "runs"). */
function decodeInto(s: string | null, into: Map<number, number>, scale: number, offset: number) {
  const r = runOfEncoded(s, 1, 0);
  for (let i = 0; i < r.length; i++) {
    const k = scale * r.values[i]! + offset;
    const x = (into.get(k) ?? 0) + r.counts[i]!;
    if (x === 0) into.delete(k);
    else into.set(k, x);
  }
}

function viaMap() {
  const out: (number | null)[] = [];
  for (const c of cells) {
    const overdue = new Map(c.corrections);
    decodeInto(c.h1, overdue, 60_000, 0);
    decodeInto(c.h2, overdue, -60_000, NOW);
    const fr = new Map<number, number>();
    decodeInto(c.fr, fr, 60_000, 0);
    const sfr = sortedCounts(fr);
    out.push(percentile(sortedCounts(overdue), 0.5), percentile(sfr, 0.5), percentile(sfr, 0.9));
  }
  return out;
}

function viaRuns() {
  const out: (number | null)[] = [];
  for (const c of cells) {
    const overdue = mergeAll([runOfEncoded(c.h1, 60_000, 0), runOfEncoded(c.h2, -60_000, NOW), runOfMap(c.corrections)]);
    const fr = runOfEncoded(c.fr, 60_000, 0);
    out.push(runPercentile(overdue, 0.5), runPercentile(fr, 0.5), runPercentile(fr, 0.9));
  }
  return out;
}

const same = JSON.stringify(viaMap()) === JSON.stringify(viaRuns());
for (const [name, f] of [
  ['map', viaMap],
  ['runs', viaRuns],
] as const) {
  for (let i = 0; i < 3; i++) f(); // warm-up
  const heap = process.memoryUsage().heapUsed;
  const cpu = process.cpuUsage();
  for (let i = 0; i < REPS; i++) f();
  const { user, system } = process.cpuUsage(cpu);
  console.log(
    `${name}: ${((user + system) / 1000 / REPS).toFixed(1)} ms CPU per year by unit (${UNITS} units), heap after ${REPS} reps ${((process.memoryUsage().heapUsed - heap) / 1e6).toFixed(0)} MB more`,
  );
}
console.log(`same figures: ${same}`);
