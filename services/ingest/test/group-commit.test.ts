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

  it('keeps several writes in flight up to its concurrency, each caller answered from its own batch', async () => {
    const gates: (() => void)[] = [];
    const writes: number[][] = [];
    const gc = new GroupCommit<number, string>(
      async (items) => {
        writes.push(items);
        await new Promise<void>((r) => gates.push(r));
        return items.map((i) => `ok ${i}`);
      },
      { concurrency: 3, maxBatch: 2 },
    );
    const pending = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => gc.submit(i));
    await new Promise((r) => setImmediate(r));
    // Three batches of two are in flight; the rest wait for one of them to finish.
    expect(writes).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    gates[1]!(); // the second finishes first
    expect(await Promise.all(pending.slice(2, 4))).toEqual(['ok 3', 'ok 4']);
    expect(writes.at(-1)).toEqual([7, 8]);
    for (const g of gates) g();
    gates.length = 0;
    const rest = Promise.all(pending);
    await new Promise((r) => setImmediate(r));
    for (const g of gates) g();
    expect(await rest).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((i) => `ok ${i}`));
  });

  it('answers the others of a failing batch in order, each written alone, and the bad one with its own error', async () => {
    const writes: number[][] = [];
    const gc = new GroupCommit<number, number>(
      async (items) => {
        writes.push(items);
        const bad = items.find((i) => i % 10 === 3);
        if (bad !== undefined) throw new Error(`bad ${bad}`);
        return items.map((i) => i * 2);
      },
      { concurrency: 1 },
    );
    const results = await Promise.allSettled([11, 12, 13, 14].map((i) => gc.submit(i)));
    expect(results).toEqual([
      { status: 'fulfilled', value: 22 },
      { status: 'fulfilled', value: 24 },
      { status: 'rejected', reason: new Error('bad 13') },
      { status: 'fulfilled', value: 28 },
    ]);
    expect(writes).toEqual([[11, 12, 13, 14], [11], [12], [13], [14]]);
  });

  it('on close waits for the writes in flight and the queued items, and refuses new ones meanwhile', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const written: number[] = [];
    const gc = new GroupCommit<number, number>(
      async (items) => {
        await gate;
        written.push(...items);
        return items;
      },
      { concurrency: 1, maxBatch: 1 },
    );
    const pending = [1, 2, 3].map((i) => gc.submit(i));
    let closed = false;
    const closing = gc.close().then(() => (closed = true));
    await expect(gc.submit(4)).rejects.toThrow(/closed/);
    await new Promise((r) => setTimeout(r, 5));
    expect(closed).toBe(false);
    release();
    await closing;
    expect(written).toEqual([1, 2, 3]);
    expect(await Promise.all(pending)).toEqual([1, 2, 3]);
  });

  it('waits for submitted items on close and refuses new ones', async () => {
    const gc = new GroupCommit<number, number>(async (items) => items);
    const pending = gc.submit(1);
    await gc.close();
    expect(await pending).toBe(1);
    await expect(gc.submit(2)).rejects.toThrow(/closed/);
  });
});
