import { describe, expect, it } from 'vitest';
import { FakeClock, scaledClock } from '../src/index.ts';

describe('FakeClock', () => {
  it('runs due timers in due order, ties in registration order, and moves now to each due', async () => {
    const clock = new FakeClock('2026-03-02T08:00:00+08:00');
    const seen: string[] = [];
    const t0 = clock.now();
    clock.at(t0 + 300, () => seen.push(`c@${clock.now() - t0}`));
    clock.at(t0 + 100, () => seen.push(`a@${clock.now() - t0}`));
    clock.at(t0 + 100, () => seen.push(`b@${clock.now() - t0}`));
    await clock.advanceTo(t0 + 200);
    expect(seen).toEqual(['a@100', 'b@100']);
    expect(clock.now()).toBe(t0 + 200);
    await clock.advanceBy(100);
    expect(seen).toEqual(['a@100', 'b@100', 'c@300']);
  });

  it('fires timers registered by a timer when they fall inside the advance, and waits for tracked work', async () => {
    const clock = new FakeClock(0);
    const seen: number[] = [];
    clock.at(10, () => {
      void clock.track(
        (async () => {
          await Promise.resolve();
          seen.push(clock.now());
          clock.at(20, () => seen.push(clock.now()));
        })(),
      );
    });
    await clock.advanceTo(50);
    expect(seen).toEqual([10, 20]);
  });

  it('cancels timers and refuses to go backwards', async () => {
    const clock = new FakeClock(1000);
    let fired = false;
    const cancel = clock.at(1500, () => (fired = true));
    cancel();
    await clock.advanceTo(2000);
    expect(fired).toBe(false);
    await expect(clock.advanceTo(1999)).rejects.toThrow(/backwards/);
  });
});

describe('scaledClock', () => {
  it('runs simulated time faster by the scale and rejects non-positive scales', () => {
    const origin = Date.parse('2026-01-01T00:00:00Z');
    const clock = scaledClock(600, origin);
    expect(clock.now()).toBeGreaterThanOrEqual(origin);
    expect(clock.scale).toBe(600);
    expect(() => scaledClock(0)).toThrow(/positive/);
  });
});
