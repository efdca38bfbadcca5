/**
 * The ladder as part of a clock's state: the snapshot a clock takes of its jurisdiction's
 * ladder when it starts (beside the span and warning points it already snapshots), how far
 * the ladder has been walked, and the assignment the notice step is about. Pure, like the
 * rest of the core: the engine steps the ladders of an incident or duty after every change
 * (input or timer wake) and writes what fired in the same transaction as the clock change.
 */
import { type Ladder, ladderAt, type LadderClock, type LadderFiring, type LadderPack, type LadderProgress, startLadder } from './ladder.ts';
import type { IncidentClock, IncidentState } from './incident.ts';
import type { ObligationState } from './obligation.ts';
import type { ClockKind, Instant } from './types.ts';

/** Stored inside an IncidentClock or an ObligationState (plain JSON). */
export interface ClockLadder {
  /** The pack's ladder for this clock kind when the clock (re)started. */
  ladder: Ladder;
  progress: LadderProgress;
  /** The responsible unit the ladder last saw (incidents; null for duties and while unassigned). */
  unit: string | null;
  /** When that unit became responsible (or the clock started, if later): the notice's instant. */
  assignedAt: Instant | null;
  /** The clock stopped and its queued steps were cancelled: nothing more to walk. */
  done: boolean;
}

/** A clock's ladder record at its start; null when the pack has no ladder for the kind. */
export function clockLadder(pack: LadderPack | undefined, kind: ClockKind, now: Instant, assignedAt: Instant | null): ClockLadder | null {
  const ladder = pack?.clocks[kind];
  if (!ladder) return null;
  // The pack is frozen and never edited, so the reference is the snapshot until the state is
  // stored (as JSON); a later pack is a new object and never reaches this clock.
  return { ladder, progress: startLadder(now), unit: null, assignedAt, done: false };
}

/** One ladder step that fell due, with what a message about it needs. */
export interface ClockFiring {
  /** The incident clock's seq; null for a duty. */
  seq: number | null;
  kind: ClockKind;
  firing: LadderFiring;
  /** The responsible unit when it fired (null while unassigned). */
  unit: string | null;
  /** For warnings: the fraction of the span elapsed. */
  elapsed: number | null;
}

export interface LadderStep<S> {
  state: S;
  firings: ClockFiring[];
  /** Clocks that stopped since the last step: cancel what is still queued for them. */
  stopped: { seq: number | null; kind: ClockKind }[];
  /** Earliest instant a ladder step may fall due next (null: none). */
  nextWake: Instant | null;
}

const minOf = (a: Instant | null, b: Instant | null): Instant | null => (a === null ? b : b === null ? a : Math.min(a, b));

/**
 * Walk every clock's ladder of an incident to `now`. `acknowledgedAt(clock)` says when the
 * clock's breach alert was acknowledged (stops the step's repeats, never the clock).
 * A clock stored before the ladder existed has no record and is left alone.
 */
export function stepIncidentLadders(
  state: IncidentState,
  now: Instant,
  acknowledgedAt: (c: IncidentClock) => Instant | null = () => null,
): LadderStep<IncidentState> {
  const firings: ClockFiring[] = [];
  const stopped: LadderStep<IncidentState>['stopped'] = [];
  let nextWake: Instant | null = null;
  let changed = false;
  const clocks = state.clocks.map((c) => {
    const rec = c.ladder;
    if (!rec || rec.done) return c;
    let unit = rec.unit;
    let assignedAt = rec.assignedAt;
    // A (re)assignment is noticed to the unit now responsible.
    if (state.unit !== null && state.unit !== unit) {
      unit = state.unit;
      assignedAt = now;
    }
    const view: LadderClock = {
      state: c.state,
      startAt: c.startAt,
      dueAt: c.dueAt,
      warnings: c.warnings,
      assignedAt,
      acknowledgedAt: c.state === 'breached' ? acknowledgedAt(c) : null,
    };
    const d = ladderAt(view, rec.ladder, rec.progress, now);
    for (const firing of d.firings) {
      firings.push({
        seq: c.seq,
        kind: c.kind,
        firing,
        unit: state.unit,
        elapsed: firing.kind === 'warning' ? (c.warnings[firing.occurrence] ?? null) : null,
      });
    }
    if (d.cancelled) stopped.push({ seq: c.seq, kind: c.kind });
    nextWake = minOf(nextWake, d.nextWake);
    if (d.progress.through === rec.progress.through && unit === rec.unit && assignedAt === rec.assignedAt && !d.cancelled) return c;
    changed = true;
    return { ...c, ladder: { ladder: rec.ladder, progress: d.progress, unit, assignedAt, done: d.cancelled } };
  });
  return { state: changed ? { ...state, clocks } : state, firings, stopped, nextWake };
}

/**
 * Walk a working-day duty's ladder to `now`. A duty belongs to its unit from the start
 * (`unit` is the row's). While its count is suspended nothing falls due and nothing is
 * caught up afterwards: the walk moves on without firing.
 */
export function stepObligationLadder(
  state: ObligationState,
  unit: string | null,
  now: Instant,
  acknowledgedAt: Instant | null = null,
): LadderStep<ObligationState> {
  const rec = state.ladder;
  if (!rec || rec.done) return { state, firings: [], stopped: [], nextWake: null };
  if (state.suspension) {
    if (now <= rec.progress.through) return { state, firings: [], stopped: [], nextWake: null };
    return {
      state: { ...state, ladder: { ...rec, progress: { since: rec.progress.since, through: now } } },
      firings: [],
      stopped: [],
      nextWake: null,
    };
  }
  const view: LadderClock = {
    state: state.state,
    startAt: state.startAt,
    dueAt: state.dueAt,
    warnings: state.warnings,
    assignedAt: rec.assignedAt,
    acknowledgedAt: state.state === 'breached' ? acknowledgedAt : null,
  };
  const d = ladderAt(view, rec.ladder, rec.progress, now);
  const firings: ClockFiring[] = d.firings.map((firing) => ({
    seq: null,
    kind: state.kind,
    firing,
    unit,
    elapsed: firing.kind === 'warning' ? (state.warnings[firing.occurrence] ?? null) : null,
  }));
  const next =
    d.progress.through === rec.progress.through && !d.cancelled
      ? state
      : { ...state, ladder: { ...rec, progress: d.progress, done: d.cancelled } };
  return { state: next, firings, stopped: d.cancelled ? [{ seq: null, kind: state.kind }] : [], nextWake: d.nextWake };
}
