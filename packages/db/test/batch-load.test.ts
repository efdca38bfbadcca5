import { describe, expect, it } from 'vitest';
import { BatchLoader } from '../src/batch-load.ts';

describe('BatchLoader', () => {
  it('answers the keys asked for in one turn with one load, each caller its own value', async () => {
    const loads: string[][] = [];
    const loader = new BatchLoader<string, number>(async (keys) => {
      loads.push(keys);
      return new Map(keys.filter((k) => k !== 'missing').map((k) => [k, k.length]));
    });
    const answers = await Promise.all(['a', 'bb', 'a', 'missing', 'ccc'].map((k) => loader.get(k)));
    expect(answers).toEqual([1, 2, 1, undefined, 3]);
    expect(loads).toEqual([['a', 'bb', 'missing', 'ccc']]);
  });

  it('caches nothing: a key asked for again is loaded again and sees the new value', async () => {
    let value = 1;
    let loads = 0;
    const loader = new BatchLoader<string, number>(async (keys) => (loads++, new Map(keys.map((k) => [k, value]))));
    expect(await loader.get('k')).toBe(1);
    value = 2;
    expect(await loader.get('k')).toBe(2);
    expect(loads).toBe(2);
  });

  it('rejects every caller of a failed load, and the next turn loads afresh', async () => {
    let fail = true;
    const loader = new BatchLoader<string, string>(async (keys) => {
      if (fail) throw new Error('database down');
      return new Map(keys.map((k) => [k, k]));
    });
    const failed = await Promise.allSettled([loader.get('x'), loader.get('y')]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    expect(await loader.get('x')).toBe('x');
  });
});
