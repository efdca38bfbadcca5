/**
 * How late the timer's wakes became visible (deadlines.ts OnCommitted), kept as a fixed
 * histogram so a long-running engine holds constant memory: 1 ms buckets up to 1 s, 10 ms up
 * to 10 s, 1 s up to 10 min, then one overflow bucket. Quantiles are bucket upper bounds (an
 * over-estimate by at most one bucket); the maximum is exact.
 */
const FINE = 1000;
const MID = 900;
const COARSE = 590;
const BUCKETS = FINE + MID + COARSE + 1;

function bucketOf(ms: number): number {
  const x = Math.max(0, Math.ceil(ms));
  if (x < FINE) return x;
  if (x < 10_000) return FINE + Math.floor((x - FINE) / 10);
  if (x < 600_000) return FINE + MID + Math.floor((x - 10_000) / 1000);
  return BUCKETS - 1;
}

function upperOf(bucket: number): number {
  if (bucket < FINE) return bucket;
  if (bucket < FINE + MID) return FINE + (bucket - FINE + 1) * 10;
  if (bucket < BUCKETS - 1) return 10_000 + (bucket - FINE - MID + 1) * 1000;
  return Number.POSITIVE_INFINITY;
}

export interface LatenessSummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
  /** Wakes later than 50 ms (the isolation target's bound). */
  over50: number;
}

export class LatenessHistogram {
  private readonly counts = new Uint32Array(BUCKETS);
  private n = 0;
  private max = 0;

  add(latenessMs: readonly number[]): void {
    for (const ms of latenessMs) {
      this.counts[bucketOf(ms)]!++;
      this.n++;
      if (ms > this.max) this.max = ms;
    }
  }

  summary(): LatenessSummary {
    const q = (p: number) => {
      if (this.n === 0) return 0;
      const rank = Math.ceil(p * this.n);
      let seen = 0;
      for (let b = 0; b < BUCKETS; b++) {
        seen += this.counts[b]!;
        if (seen >= rank) return Math.min(upperOf(b), this.max);
      }
      return this.max;
    };
    let over50 = 0;
    for (let b = bucketOf(50) + 1; b < BUCKETS; b++) over50 += this.counts[b]!;
    return { count: this.n, p50: q(0.5), p99: q(0.99), max: Math.round(this.max), over50 };
  }
}
