import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../src/group-commit.ts';

describe('GroupCommit', () => {
  it('writes an idle caller at once and batches callers that arrive while a write is in flight', async () => {
    const writes: number[][] = [];
    let release: () => void = () => undefined;
    let gate: Promise<void> = Promise.resolve();
    const gc = new GroupCommit<number, string>(
      async (items) => {
        writes.push(items);
        await gate;
        return items.map((i) => `ok ${i}`);
      },
      { concurrency: 1 },
    );
    expect(await gc.submit(1)).toBe('ok 1');
    gate = new Promise<void>((r) => (release = r));
    const first = gc.submit(2);
    await new Promise((r) => setImmediate(r));
    // While 2 is being written, 3..6 queue up and share the next write.
    const rest = [3, 4, 5, 6].map((i) => gc.submit(i));
    release();
    expect(await first).toBe('ok 2');
    gate = Promise.resolve();
    expect(await Promise.all(rest)).toEqual(['ok 3', 'ok 4', 'ok 5', 'ok 6']);
    expect(writes).toEqual([[1], [2], [3, 4, 5, 6]]);
  });

  it('caps a batch at maxBatch and keeps submission order', async () => {
    const writes: number[][] = [];
    const gc = new GroupCommit<number, number>(async (items) => (writes.push(items), items), { maxBatch: 3, concurrency: 1 });
    expect(await Promise.all([1, 2, 3, 4, 5, 6, 7].map((i) => gc.submit(i)))).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(writes).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
  });

  it('fails only the bad item of a failing batch', async () => {
    const gc = new GroupCommit<number, number>(async (items) => {
      if (items.includes(13)) throw new Error('unlucky');
      return items;
    });
    const results = await Promise.allSettled([12, 13, 14].map((i) => gc.submit(i)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });

  it('waits for submitted items on close and refuses new ones', async () => {
    const gc = new GroupCommit<number, number>(async (items) => items);
    const pending = gc.submit(1);
    await gc.close();
    expect(await pending).toBe(1);
    await expect(gc.submit(2)).rejects.toThrow(/closed/);
  });
});
