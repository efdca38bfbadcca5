/**
 * What incident clocks and working-day obligations share: a start, a due, warning points at
 * fractions of the span between them, and the index of the next point not yet warned.
 */
import type { ClockState, Instant } from './types.ts';

export interface Deadline {
  startAt: Instant;
  dueAt: Instant;
  /** Warning points, fractions of dueAt - startAt, strictly increasing (snapshot from the pack). */
  warnings: number[];
  /** Index into `warnings` of the next point not yet warned or skipped. */
  nextWarning: number;
  state: ClockState;
}

/** "fractional points are floored to the millisecond" (replay.md). */
export function warningPoint(d: Deadline, index: number): Instant {
  return d.startAt + Math.floor(d.warnings[index]! * (d.dueAt - d.startAt));
}

/** The next instant this deadline needs the engine's attention, or null. */
export function deadlineWake(d: Deadline): Instant | null {
  if (d.state !== 'running') return null;
  if (d.nextWarning < d.warnings.length) {
    const p = warningPoint(d, d.nextWarning);
    return p < d.dueAt ? p : d.dueAt;
  }
  return d.dueAt;
}

/** A point already past when the clock starts or moves is skipped, not warned late. */
export function skipPastWarnings(d: Deadline, now: Instant): void {
  while (d.nextWarning < d.warnings.length && warningPoint(d, d.nextWarning) < now) d.nextWarning++;
}
