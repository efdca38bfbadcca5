/**
 * The statistics request's percentiles from sorted runs (sorted-runs.ts) equal those of the map
 * they replaced (every histogram entry decoded into a value → count map, its entries sorted):
 * random per-minute histograms as the cells store them (late overdue minutes, possibly negative;
 * breached due minutes, mapped to now − due; first-response minutes), with corrections taking
 * back some of their entries and adding live values in between.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeHist, percentile, sortedCounts } from '../src/stats/rollup.ts';
import { mergeAll, runOfEncoded, runOfMap, runPercentile } from '../src/stats/sorted-runs.ts';

const NOW_MS = Date.parse('2026-11-30T12:34:56.789Z');
const hist = fc
  .array(fc.tuple(fc.integer({ min: -2_000, max: 600_000 }), fc.integer({ min: 1, max: 50 })), { maxLength: 300 })
  .map((pairs) => new Map(pairs));
const bump = (m: Map<number, number>, k: number, by: number) => {
  const v = (m.get(k) ?? 0) + by;
  if (v === 0) m.delete(k);
  else m.set(k, v);
};

describe('percentiles from sorted runs', () => {
  it('equal the sorted map of every entry, with corrections, for a few cells at once', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(hist, hist), { minLength: 1, maxLength: 4 }),
        fc.array(fc.double({ min: -1e6, max: 1e10, noNaN: true }), { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.constantFrom(0, 0.5, 0.9, 1),
        (cells, live, takeBack, q) => {
          const reference = new Map<number, number>();
          const corrections = new Map<number, number>();
          const runs = [];
          for (const [late, due] of cells) {
            for (const [m, k] of late) bump(reference, m * 60_000, k);
            for (const [m, k] of due) bump(reference, NOW_MS - m * 60_000, k);
            runs.push(runOfEncoded(encodeHist(late), 60_000, 0), runOfEncoded(encodeHist(due), -60_000, NOW_MS));
          }
          // Take back some stored values (a changed deadline's old contribution), add live ones.
          const stored = [...reference.keys()];
          for (const i of takeBack) {
            if (stored.length === 0) break;
            const v = stored[i % stored.length]!;
            if ((reference.get(v) ?? 0) <= 0) continue;
            bump(reference, v, -1);
            bump(corrections, v, -1);
          }
          for (const v of live) {
            bump(reference, v, 1);
            bump(corrections, v, 1);
          }
          const expected = percentile(sortedCounts(reference), q);
          expect(runPercentile(mergeAll([...runs, runOfMap(corrections)]), q)).toBe(expected);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('an empty multiset has no percentile', () => {
    expect(runPercentile(mergeAll([runOfEncoded(null, 60_000, 0), runOfMap(new Map())]), 0.5)).toBeNull();
    expect(
      runPercentile(mergeAll([runOfEncoded(encodeHist(new Map([[5, 2]])), 60_000, 0), runOfMap(new Map([[300_000, -2]]))]), 0.5),
    ).toBeNull();
  });

  it('percentile_cont between the two nearest ranks', () => {
    // 1, 2, 2, 10 (minutes → ms): median between rank 1 (2) and rank 2 (2) = 2; p90 at 2.7 → 2 + 0.7 · 8.
    const run = runOfEncoded(
      encodeHist(
        new Map([
          [1, 1],
          [2, 2],
          [10, 1],
        ]),
      ),
      60_000,
      0,
    );
    expect(runPercentile(run, 0.5)).toBe(120_000);
    expect(runPercentile(run, 0.9)).toBeCloseTo(120_000 + 0.7 * 480_000, 6);
  });
});
