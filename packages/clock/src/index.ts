/**
 * The one clock abstraction every service uses. Production runs on the system clock; the
 * embedded drill mode runs on a scaled clock; tests run on a fake clock they advance by hand.
 * Services never call Date.now() or setTimeout for business time: they ask the clock.
 */
export interface Clock {
  /** Current instant, epoch milliseconds. */
  now(): number;
  /** Run `fn` once the clock reaches `at` (epoch ms). Returns a cancel function. */
  at(at: number, fn: () => void): () => void;
  /** Fake clocks wait for work that timers start (see FakeClock.track); real clocks don't need to. */
  track?<T>(p: Promise<T>): Promise<T>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  at(at, fn) {
    return realTimer(() => at - Date.now(), fn);
  },
};

/** setTimeout caps at ~24.8 days; re-arm until the instant is really reached. */
function realTimer(remaining: () => number, fn: () => void): () => void {
  let handle: NodeJS.Timeout | undefined;
  let cancelled = false;
  // Always through setTimeout, even when already due: callers never see `fn` run synchronously.
  const arm = () => {
    if (cancelled) return;
    const ms = remaining();
    handle = setTimeout(ms <= 0 ? fire : arm, Math.max(0, Math.min(ms, 2 ** 31 - 1)));
  };
  const fire = () => {
    if (remaining() > 0) return arm();
    handle = undefined;
    if (!cancelled) fn();
  };
  arm();
  return () => {
    cancelled = true;
    if (handle) clearTimeout(handle);
  };
}

/**
 * Drill/demo time: simulated time runs `scale` times faster than real time from `origin`.
 * `--time-scale 600` makes one real second ten simulated minutes.
 */
export function scaledClock(scale: number, origin: number = Date.now()): Clock & { scale: number } {
  if (!(scale > 0)) throw new Error(`time scale must be positive, got ${scale}`);
  const realStart = Date.now();
  const now = () => origin + (Date.now() - realStart) * scale;
  return {
    scale,
    now,
    at(at, fn) {
      return realTimer(() => Math.ceil((at - now()) / scale), fn);
    },
  };
}

/**
 * Test clock: time moves only when the test says so. Timers due at or before the new time
 * run in due order (ties in registration order); `advanceTo` awaits what they start so a test
 * can assert straight after it.
 */
export class FakeClock implements Clock {
  private current: number;
  private seq = 0;
  private timers: { at: number; seq: number; fn: () => void }[] = [];
  private pending = new Set<Promise<unknown>>();

  constructor(start: number | string) {
    this.current = typeof start === 'number' ? start : Date.parse(start);
    if (Number.isNaN(this.current)) throw new Error(`invalid fake clock start: ${String(start)}`);
  }

  now(): number {
    return this.current;
  }

  at(at: number, fn: () => void): () => void {
    const timer = { at, seq: this.seq++, fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }

  /** Register work a timer started so `advanceTo` and `settle` can wait for it. */
  track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p)).catch(() => undefined);
    return p;
  }

  async advanceTo(target: number | string): Promise<void> {
    const to = typeof target === 'number' ? target : Date.parse(target);
    if (to < this.current) throw new Error('a fake clock does not go backwards');
    for (;;) {
      const due = this.timers.filter((t) => t.at <= to).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.current = Math.max(this.current, due.at);
      due.fn();
      await this.settle();
    }
    this.current = to;
    await this.settle();
  }

  advanceBy(ms: number): Promise<void> {
    return this.advanceTo(this.current + ms);
  }

  /** Wait until every tracked promise (and those they start) has finished. */
  async settle(): Promise<void> {
    for (let i = 0; i < 1000; i++) {
      await new Promise((r) => setImmediate(r));
      if (this.pending.size === 0) return;
      await Promise.allSettled([...this.pending]);
    }
  }

  get scheduled(): number {
    return this.timers.length;
  }
}
