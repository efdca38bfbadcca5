/**
 * One 舆情事件 and its clocks (replay.md, "Clock semantics"): state + input + pack in, new
 * state + events out. Pure and deterministic: no wall clock, no I/O, no mutation of the
 * state passed in (a fresh object is returned; unchanged parts may be shared).
 *
 * Time contract. `applyIncidentInput` takes the input's `at` as "now". Timers (warnings,
 * breaches) due strictly before `at` must have fired first, and timers due exactly at `at`
 * must not have — that is how "a response published exactly at due is on time" holds. The
 * live engine calls `advanceIncident(state, input.at - 1)` before applying; as a safety net
 * `applyIncidentInput` fires anything still pending before `at` itself, returning those
 * events first. An input older than the state's `asOf` (possible with clock skew between
 * processes, never in replay) is applied as of `asOf`; its own timestamps are kept.
 */
import { deadlineWake, skipPastWarnings, warningPoint } from './deadline.ts';
import { DomainError } from './errors.ts';
import { type ClockLadder, clockLadder } from './ladder-state.ts';
import { ladderPackFor, type RulePack } from './rule-pack.ts';
import type { ClockState, EngineEvent, IncidentClockKind, IncidentInput, Instant, Level, ResponseKind } from './types.ts';

export type ClockAnchor = 'start' | 'regrade';

export interface IncidentClock {
  /** Stable per incident, from 1, in creation order (a restarted response clock keeps its seq). */
  seq: number;
  kind: IncidentClockKind;
  /** 'start' clocks move with the incident's start; 'regrade' clocks run from an upgrade. */
  anchor: ClockAnchor;
  startAt: Instant;
  dueAt: Instant;
  /** Snapshot from the pack when the clock (re)started. */
  spanMs: number;
  warnings: number[];
  metBy: ResponseKind[];
  /** Index into `warnings` of the next point not yet warned or skipped. */
  nextWarning: number;
  /** Fractions warned so far, in order. */
  warningsFired: number[];
  state: ClockState;
  /** Publication time of the response that met it. */
  respondedAt: Instant | null;
  late: boolean | null;
  /** Why it was cancelled (superseded/downgraded) or waived (the dismiss reason). */
  reason: string | null;
  /**
   * The escalation ladder snapshot from the pack when the clock (re)started, and how far it
   * has been walked (ladder-state.ts). Absent in clocks stored before the ladder existed.
   */
  ladder?: ClockLadder | null;
}

export interface ResponseRecord {
  kind: ResponseKind;
  publishedAt: Instant;
  recordedAt: Instant;
  unit: string | null;
  channel: string | null;
  url: string | null;
}

/**
 * Plain JSON (no Maps, Dates, classes or undefined values): the live engine stores it as
 * jsonb and must get identical behaviour after a round trip.
 */
export interface IncidentState {
  /** Shape version of this JSON. */
  v: 1;
  id: string;
  /** From the first signal that had one. */
  title: string | null;
  /** null = 待研判 (not yet graded). */
  level: Level | null;
  /** Responsible unit (责任单位). */
  unit: string | null;
  status: 'open' | 'closed';
  /** The dismiss reason once closed. */
  closeReason: string | null;
  closedAt: Instant | null;
  /** `at` of the signal that created it. */
  createdAt: Instant;
  /** 起算时间: earliest signal publication (capped at its `at`) or occurrence time. */
  startAt: Instant;
  /** Latest instant the state has been brought to, by an input or by advance. */
  asOf: Instant;
  signalCount: number;
  /** seq the next new clock gets. */
  nextSeq: number;
  clocks: IncidentClock[];
  /**
   * The earliest-published original response of each kind. That is all the rules need
   * ("responses published before a clock existed count for it"; the earliest qualifying
   * one decides on-time-ness) and keeps the state O(1) in the number of responses; the
   * full list lives in the store's responses table.
   */
  earliestResponses: Partial<Record<ResponseKind, ResponseRecord>>;
  responseCount: number;
  repostCount: number;
  /**
   * 辖区: the jurisdiction of the signal that created the incident, whose ladder each new clock
   * snapshots (rule-pack.ts `ladderPackFor`). Absent: the default jurisdiction (and in states
   * stored before incidents had one).
   */
  jurisdiction?: string;
}

export type IncidentResult = { state: IncidentState; events: EngineEvent[] };

interface Run {
  w: IncidentState;
  now: Instant;
  out: EngineEvent[];
  pack: RulePack;
}

const isHigh = (level: Level | null): boolean => level === 'I' || level === 'II';

/** Instants are whole epoch milliseconds: "timers before `at`" means "due at or before at - 1". */
function checkInstant(name: string, value: number): void {
  if (!Number.isSafeInteger(value)) throw new DomainError('INVALID_INPUT', `${name} is not an instant (integer epoch ms): ${value}`);
}

/** Every instant of the input, before anything changes. */
function checkInput(input: IncidentInput): void {
  checkInstant('at', input.at);
  if ((input.type === 'signal' || input.type === 'response') && input.publishedAt !== undefined)
    checkInstant('publishedAt', input.publishedAt);
  if (input.type === 'occurred') checkInstant('occurredAt', input.occurredAt);
}

/**
 * A copy safe to mutate: the state and its clocks are new objects; arrays and the
 * earliestResponses record inside them are replaced, never edited. Written out field by
 * field: literal copies keep one hidden class and are much cheaper than object spread.
 */
function draft(s: IncidentState): IncidentState {
  const clocks: IncidentClock[] = new Array<IncidentClock>(s.clocks.length);
  for (let i = 0; i < clocks.length; i++) clocks[i] = copyClock(s.clocks[i]!);
  const d: IncidentState = {
    v: 1,
    id: s.id,
    title: s.title,
    level: s.level,
    unit: s.unit,
    status: s.status,
    closeReason: s.closeReason,
    closedAt: s.closedAt,
    createdAt: s.createdAt,
    startAt: s.startAt,
    asOf: s.asOf,
    signalCount: s.signalCount,
    nextSeq: s.nextSeq,
    clocks,
    earliestResponses: s.earliestResponses, // replaced, never edited (see respond)
    responseCount: s.responseCount,
    repostCount: s.repostCount,
  };
  if (s.jurisdiction !== undefined) d.jurisdiction = s.jurisdiction;
  return d;
}

function copyClock(c: IncidentClock): IncidentClock {
  return {
    seq: c.seq,
    kind: c.kind,
    anchor: c.anchor,
    startAt: c.startAt,
    dueAt: c.dueAt,
    spanMs: c.spanMs,
    warnings: c.warnings,
    metBy: c.metBy,
    nextWarning: c.nextWarning,
    warningsFired: c.warningsFired,
    state: c.state,
    respondedAt: c.respondedAt,
    late: c.late,
    reason: c.reason,
    ladder: c.ladder ?? null,
  };
}

/** A signal's start: its publication, unless absent or later than when it was seen. */
function signalStart(input: Extract<IncidentInput, { type: 'signal' }>): Instant {
  return input.publishedAt !== undefined && input.publishedAt < input.at ? input.publishedAt : input.at;
}

/**
 * Apply one input. `state` is undefined only for the signal that creates the incident;
 * any other input about an unknown incident throws DomainError INCIDENT_NOT_FOUND.
 * Precondition (see the module comment): timers before `input.at` have fired.
 */
export function applyIncidentInput(state: IncidentState | undefined, input: IncidentInput, pack: RulePack): IncidentResult {
  if (state === undefined) return createIncident(input, pack);
  const out: EngineEvent[] = [];
  const w = draft(state);
  applyIncidentInputInPlace(w, input, pack, out);
  return { state: w, events: out };
}

/**
 * applyIncidentInput on a state the caller owns exclusively, mutating it and pushing the
 * events to `out`. Replay uses it for the states it keeps privately: copying a state per
 * input is what makes a million-line replay slow. Same checks, same results; after a throw
 * the state may be half-updated and must be dropped (replay stops the run).
 * @internal
 */
export function applyIncidentInputInPlace(w: IncidentState, input: IncidentInput, pack: RulePack, out: EngineEvent[]): void {
  checkInput(input);
  if (input.incident !== w.id) {
    throw new DomainError('INCIDENT_MISMATCH', `input for incident ${JSON.stringify(input.incident)} applied to ${JSON.stringify(w.id)}`);
  }
  fireTimers(w, input.at - 1, out, null);
  const now = Math.max(input.at, w.asOf);
  w.asOf = now;
  // replay.md: after dismiss, later lines about the incident change nothing.
  if (w.status === 'closed') return;
  const run: Run = { w, now, out, pack };
  switch (input.type) {
    case 'signal':
      w.signalCount++;
      if (w.title === null && input.title !== undefined) w.title = input.title;
      moveStart(run, signalStart(input));
      break;
    case 'occurred':
      moveStart(run, input.occurredAt);
      break;
    case 'grade':
      if (input.unit !== undefined) w.unit = input.unit;
      grade(run, input.level);
      break;
    case 'assign':
      w.unit = input.unit;
      break;
    case 'response':
      respond(run, input);
      break;
    case 'dismiss':
      for (const c of w.clocks) {
        if (c.state !== 'running') continue;
        c.state = 'waived';
        c.reason = input.reason;
        out.push({ event: 'waived', at: now, incident: w.id, clock: c.kind, reason: input.reason });
      }
      w.status = 'closed';
      w.closeReason = input.reason;
      w.closedAt = now;
      break;
    default:
      assertNever(input);
  }
}

function createIncident(input: IncidentInput, pack: RulePack): IncidentResult {
  checkInput(input);
  if (input.type !== 'signal') {
    throw new DomainError('INCIDENT_NOT_FOUND', `incident ${JSON.stringify(input.incident)} does not exist (only a signal creates one)`);
  }
  const startAt = signalStart(input);
  const w: IncidentState = {
    v: 1,
    id: input.incident,
    title: input.title ?? null,
    level: null,
    unit: null,
    status: 'open',
    closeReason: null,
    closedAt: null,
    createdAt: input.at,
    startAt,
    asOf: input.at,
    signalCount: 1,
    nextSeq: 1,
    clocks: [],
    earliestResponses: {},
    responseCount: 0,
    repostCount: 0,
  };
  if (input.jurisdiction !== undefined) w.jurisdiction = input.jurisdiction;
  const out: EngineEvent[] = [];
  startClock({ w, now: input.at, out, pack }, 'response', 'start', startAt);
  return { state: w, events: out };
}

/** Fire warnings and breaches due at or before `now`, in time order. */
export function advanceIncident(state: IncidentState, now: Instant): IncidentResult {
  checkInstant('now', now);
  const wake = nextIncidentWake(state);
  if ((wake === null || wake > now) && now <= state.asOf) return { state, events: [] };
  const w = draft(state);
  const out: EngineEvent[] = [];
  advanceIncidentInPlace(w, now, out, null);
  return { state: w, events: out };
}

/**
 * advanceIncident on a state the caller owns exclusively (see applyIncidentInputInPlace);
 * pushes each event's clock seq to `seqs` when given (replay orders timer events of several
 * incidents due at one instant by it).
 * @internal
 */
export function advanceIncidentInPlace(w: IncidentState, now: Instant, out: EngineEvent[], seqs: number[] | null): void {
  checkInstant('now', now);
  fireTimers(w, now, out, seqs);
  if (now > w.asOf) w.asOf = now;
}

/** The next warning or due instant of any running clock; null when nothing is running. */
export function nextIncidentWake(state: IncidentState): Instant | null {
  let min: Instant | null = null;
  for (const c of state.clocks) {
    const t = deadlineWake(c);
    if (t !== null && (min === null || t < min)) min = t;
  }
  return min;
}

function fireTimers(w: IncidentState, limit: Instant, out: EngineEvent[], seqs: number[] | null): void {
  for (;;) {
    const t = nextIncidentWake(w);
    if (t === null || t > limit) return;
    // Everything due before t has fired, so each point found here is due exactly at t.
    for (const c of w.clocks) {
      if (c.state !== 'running') continue;
      while (c.nextWarning < c.warnings.length) {
        const at = warningPoint(c, c.nextWarning);
        if (at > t) break;
        const elapsed = c.warnings[c.nextWarning]!;
        c.nextWarning++;
        c.warningsFired = [...c.warningsFired, elapsed];
        out.push({ event: 'warning', at, incident: w.id, clock: c.kind, due: c.dueAt, elapsed });
        seqs?.push(c.seq);
      }
      if (c.dueAt <= t) {
        c.state = 'breached';
        out.push({ event: 'breached', at: c.dueAt, incident: w.id, clock: c.kind, due: c.dueAt });
        seqs?.push(c.seq);
      }
    }
  }
}

function startClock(run: Run, kind: IncidentClockKind, anchor: ClockAnchor, startAt: Instant): void {
  const rule = run.pack.clocks[kind];
  const c: IncidentClock = {
    seq: run.w.nextSeq++,
    kind,
    anchor,
    startAt,
    dueAt: startAt + rule.spanMs,
    spanMs: rule.spanMs,
    warnings: [...rule.warnings],
    metBy: [...rule.metBy],
    nextWarning: 0,
    warningsFired: [],
    state: 'running',
    respondedAt: null,
    late: null,
    reason: null,
    ladder: clockLadder(ladderPackFor(run.pack, run.w.jurisdiction), kind, run.now, null),
  };
  run.w.clocks = [...run.w.clocks, c];
  run.out.push({ event: 'started', at: run.now, incident: run.w.id, clock: kind, due: c.dueAt });
  settle(run, c);
}

/** "A response clock that was cancelled starts again from the incident's start." */
function restartClock(run: Run, c: IncidentClock): void {
  const rule = run.pack.clocks[c.kind];
  c.anchor = 'start';
  c.startAt = run.w.startAt;
  c.spanMs = rule.spanMs;
  c.dueAt = c.startAt + rule.spanMs;
  c.warnings = [...rule.warnings];
  c.metBy = [...rule.metBy];
  c.nextWarning = 0;
  c.warningsFired = [];
  c.state = 'running';
  c.respondedAt = null;
  c.late = null;
  c.reason = null;
  c.ladder = clockLadder(ladderPackFor(run.pack, run.w.jurisdiction), c.kind, run.now, null);
  run.out.push({ event: 'started', at: run.now, incident: run.w.id, clock: c.kind, due: c.dueAt });
  settle(run, c);
}

/**
 * A clock that just started or moved: responses already seen may meet it; a due already
 * past is a breach reported now (before any late met); warning points already past are
 * skipped.
 */
function settle(run: Run, c: IncidentClock): void {
  const best = earliestQualifying(run.w, c.metBy);
  if (c.dueAt < run.now) {
    if (best !== null && best <= c.dueAt) return meet(run, c, best);
    c.state = 'breached';
    run.out.push({ event: 'breached', at: run.now, incident: run.w.id, clock: c.kind, due: c.dueAt });
    if (best !== null) meet(run, c, best);
    return;
  }
  if (best !== null) return meet(run, c, best);
  skipPastWarnings(c, run.now);
}

function earliestQualifying(w: IncidentState, metBy: readonly ResponseKind[]): Instant | null {
  let best: Instant | null = null;
  for (const kind of metBy) {
    const r = w.earliestResponses[kind];
    if (r !== undefined && (best === null || r.publishedAt < best)) best = r.publishedAt;
  }
  return best;
}

function meet(run: Run, c: IncidentClock, respondedAt: Instant): void {
  c.state = 'met';
  c.respondedAt = respondedAt;
  c.late = respondedAt > c.dueAt;
  run.out.push({ event: 'met', at: run.now, incident: run.w.id, clock: c.kind, due: c.dueAt, respondedAt, late: c.late });
}

function moveStart(run: Run, candidate: Instant): void {
  const w = run.w;
  if (candidate >= w.startAt) return;
  w.startAt = candidate;
  // Only running clocks anchored to the start move; met, breached, cancelled and
  // re-grade-anchored clocks keep their due.
  for (const c of w.clocks) {
    if (c.state !== 'running' || c.anchor !== 'start') continue;
    c.startAt = candidate;
    c.dueAt = candidate + c.spanMs;
    run.out.push({ event: 'rescheduled', at: run.now, incident: w.id, clock: c.kind, due: c.dueAt });
    settle(run, c);
  }
}

function grade(run: Run, level: Level): void {
  const w = run.w;
  const from = w.level;
  w.level = level;
  // Ungraded → III/IV, I↔II, III↔IV and the same level again change no clock.
  if (isHigh(from) === isHigh(level)) return;
  const now = run.now;
  if (isHigh(level)) {
    // Upward: from ungraded the new clocks run from the start, from III/IV from now.
    for (const c of w.clocks) {
      if (c.kind === 'response' && c.state === 'running') cancel(run, c, 'superseded');
    }
    const anchor: ClockAnchor = from === null ? 'start' : 'regrade';
    const startAt = from === null ? w.startAt : now;
    startClock(run, 'release', anchor, startAt);
    startClock(run, 'press_conference', anchor, startAt);
    return;
  }
  // Downward from I/II to III/IV, one pass in clock order so events come out in clock order.
  for (const c of w.clocks) {
    if (c.kind === 'response' && c.state === 'cancelled') restartClock(run, c);
    else if ((c.kind === 'release' || c.kind === 'press_conference') && c.state === 'running') cancel(run, c, 'downgraded');
  }
}

function cancel(run: Run, c: IncidentClock, reason: 'superseded' | 'downgraded'): void {
  c.state = 'cancelled';
  c.reason = reason;
  run.out.push({ event: 'cancelled', at: run.now, incident: run.w.id, clock: c.kind, reason });
}

function respond(run: Run, input: Extract<IncidentInput, { type: 'response' }>): void {
  const w = run.w;
  // A publication time after the moment it was recorded cannot be known yet; like a
  // signal's, it is capped at `at`.
  const publishedAt = input.publishedAt !== undefined && input.publishedAt < input.at ? input.publishedAt : input.at;
  w.responseCount++;
  if (!input.original) {
    w.repostCount++;
    run.out.push({ event: 'nonqualifying_response', at: run.now, incident: w.id, kind: input.kind, reason: 'repost' });
    return;
  }
  const prev = w.earliestResponses[input.kind];
  if (prev === undefined || publishedAt < prev.publishedAt) {
    w.earliestResponses = {
      ...w.earliestResponses,
      [input.kind]: {
        kind: input.kind,
        publishedAt,
        recordedAt: run.now,
        unit: input.unit ?? null,
        channel: input.channel ?? null,
        url: input.url ?? null,
      },
    };
  }
  for (const c of w.clocks) {
    if (!c.metBy.includes(input.kind)) continue;
    switch (c.state) {
      case 'running':
        meet(run, c, publishedAt);
        break;
      case 'breached':
        meet(run, c, publishedAt);
        if (publishedAt <= c.dueAt) retract(run, c);
        break;
      case 'met':
        // Met late, and now a response shows it was published in time after all.
        if (c.late === true && publishedAt <= c.dueAt) {
          meet(run, c, publishedAt);
          retract(run, c);
        }
        break;
      case 'cancelled':
      case 'waived':
        break;
      default:
        assertNever(c.state);
    }
  }
}

function retract(run: Run, c: IncidentClock): void {
  run.out.push({ event: 'breach_retracted', at: run.now, incident: run.w.id, clock: c.kind, due: c.dueAt });
}

function assertNever(x: never): never {
  throw new Error(`unexpected ${JSON.stringify(x)}`);
}
