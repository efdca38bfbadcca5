import { describe, expect, it } from 'vitest';
import { LatenessHistogram } from '../src/lateness.ts';

describe('the timer lateness histogram', () => {
  it('gives exact quantiles in the 1 ms range, the exact maximum, and counts what is over 50 ms', () => {
    const h = new LatenessHistogram();
    h.add(Array.from({ length: 100 }, (_, i) => i + 1)); // 1 … 100 ms
    expect(h.summary()).toEqual({ count: 100, p50: 50, p99: 99, max: 100, over50: 50 });
  });

  it('bounds a late tail by its bucket (10 ms, then 1 s) and never reports above the maximum', () => {
    const h = new LatenessHistogram();
    h.add([...Array.from({ length: 98 }, () => 3), 1234, 65_432.4]);
    const s = h.summary();
    expect(s.p50).toBe(3);
    // 1234 ms lies in the 10 ms bucket (1230, 1240].
    expect(s.p99).toBe(1240);
    expect(s.max).toBe(65_432);
    expect(s.over50).toBe(2);
    const one = new LatenessHistogram();
    one.add([1234.5]);
    expect(one.summary().p99).toBe(1234.5);
  });

  it('is empty until something fires, and negative lateness (a clock skew) counts as 0', () => {
    const h = new LatenessHistogram();
    expect(h.summary()).toEqual({ count: 0, p50: 0, p99: 0, max: 0, over50: 0 });
    h.add([-5]);
    expect(h.summary()).toMatchObject({ count: 1, p50: 0, p99: 0 });
  });
});
