/**
 * Grouping quality on the labelled sample must not regress: the floors are the figures measured
 * when DEFAULT_GROUPING_POLICY was chosen (bench/grouping.ts prints them and the sweep).
 */
import { describe, expect, it } from 'vitest';
import { groupAll } from '../src/candidate-pool.ts';
import { DEFAULT_GROUPING_POLICY, pairwiseScores } from '../src/grouping.ts';
import { loadSample } from './grouping-sample.ts';

describe('grouping on the labelled sample', () => {
  const { signals, truth, subjects } = loadSample();

  it('is a sample worth measuring: ≥ 150 signals, matters of several signals, tickets and near misses', () => {
    expect(signals.length).toBeGreaterThanOrEqual(150);
    const sizes = new Map<string, number>();
    for (const g of truth.values()) sizes.set(g, (sizes.get(g) ?? 0) + 1);
    expect([...sizes.values()].filter((n) => n >= 4).length).toBeGreaterThanOrEqual(15);
    expect([...sizes.values()].filter((n) => n === 1).length).toBeGreaterThanOrEqual(25);
    expect(signals.filter((s) => s.source === 'hotline').length).toBeGreaterThanOrEqual(40);
  });

  it('keeps pairwise precision ≥ 84 % and recall ≥ 90 % (measured 84.3 % / 90.9 %)', () => {
    const { precision, recall } = pairwiseScores(truth, groupAll(subjects, DEFAULT_GROUPING_POLICY));
    expect(precision).toBeGreaterThanOrEqual(0.84);
    expect(recall).toBeGreaterThanOrEqual(0.9);
  });

  it('does better than putting everything together or nothing together', () => {
    const all = pairwiseScores(truth, new Map([...truth.keys()].map((id) => [id, 'x'])));
    const none = pairwiseScores(truth, new Map([...truth.keys()].map((id) => [id, id])));
    expect(all.precision).toBeLessThan(0.2);
    expect(none.recall).toBe(0);
  });
});
