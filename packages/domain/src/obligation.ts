/**
 * Working-day disclosure duties (replay.md, "Working-day rules"): the same pure shape as
 * incidents — state + input + pack + calendar in, new state + events out — and the same
 * time contract (timers before `input.at` fired first; see incident.ts).
 *
 * The due is a fold: the start (issue day + N working days) followed by the duty's
 * `steps` (extend, suspend, resume) in order, each computed with the calendar. Live inputs
 * apply one step to the current clock; `recalculate` folds all of them again with the
 * calendar it is given (after a missing year was loaded) and so lands on exactly the due
 * the same calendar would have given step by step.
 */
import {
  countWorkingDaysNumber,
  dueAfterDay,
  extendWorkingDayDue,
  type WorkingDayCalendar,
  type WorkingDayDue,
  workingDayDue,
} from './calendar.ts';
import { deadlineWake, skipPastWarnings, warningPoint } from './deadline.ts';
import { DomainError } from './errors.ts';
import { type ClockLadder, clockLadder } from './ladder-state.ts';
import { ladderPackFor, type RulePack } from './rule-pack.ts';
import { formatDay, parseDay, shanghaiDay } from './time.ts';
import type { ClockState, EngineEvent, Instant, ObligationInput, ObligationKind, SuspendReason } from './types.ts';

/** One change to a duty's count after its start, kept so that the due can be recomputed. */
export type ObligationStep =
  | { op: 'extend'; at: Instant; workingDays: number }
  | { op: 'suspend'; at: Instant; reason: SuspendReason }
  | { op: 'resume'; at: Instant };

/** A suspended count (补正 / 征求第三方意见). */
export interface ObligationSuspension {
  /** The suspend instant; its Asia/Shanghai day still counted. */
  since: Instant;
  reason: SuspendReason;
  /**
   * Working days counted again after the resume day: for third_party those after the
   * suspend day up to and including the due date; for correction the base period.
   */
  remainingWorkingDays: number;
}

const SUSPEND_REASONS: readonly SuspendReason[] = ['correction', 'third_party'];

/** Plain JSON, like IncidentState. */
export interface ObligationState {
  v: 1;
  id: string;
  kind: ObligationKind;
  issuedAt: Instant;
  /** The issue day (Asia/Shanghai), which does not count. */
  issueDate: string;
  createdAt: Instant;
  asOf: Instant;
  /** Snapshot from the pack when the duty started. */
  workingDays: number;
  extension: { workingDays: number } | null;
  extended: boolean;
  /** The last working day, 'YYYY-MM-DD'; dueAt is the end of it. */
  dueDate: string;
  /** Warning points are measured from here (the issue instant) to dueAt. */
  startAt: Instant;
  dueAt: Instant;
  warnings: number[];
  nextWarning: number;
  warningsFired: number[];
  /** running, met or breached (obligations are never cancelled or waived). */
  state: ClockState;
  respondedAt: Instant | null;
  late: boolean | null;
  /** Some year on the way had no calendar data and was counted Monday–Friday. */
  provisional: boolean;
  /**
   * extend/suspend/resume accepted so far, in order (rejected inputs are not kept): what
   * `recalculate` replays. States stored before suspensions existed lack it (read as []).
   */
  steps: ObligationStep[];
  /**
   * Non-null while the count is suspended: no warnings, no breach, nextObligationWake is
   * null; `dueAt` is the due as it stood at suspension (frozen). `state` stays `running`.
   * Kept as a record if the duty is met while suspended. Absent in old states = null.
   */
  suspension: ObligationSuspension | null;
  /** The escalation ladder snapshot and its walk (ladder-state.ts); absent in states stored before it existed. */
  ladder?: ClockLadder | null;
}

export type ObligationResult = { state: ObligationState; events: EngineEvent[] };

/** Instants are whole epoch milliseconds: "timers before `at`" means "due at or before at - 1". */
function checkInstant(name: string, value: number): void {
  if (!Number.isSafeInteger(value)) throw new DomainError('INVALID_INPUT', `${name} is not an instant (integer epoch ms): ${value}`);
}

/**
 * Apply one input. `state` is undefined only for `obligation` (which creates the duty; a
 * second one with the same id throws OBLIGATION_EXISTS); any other input on an unknown id
 * throws OBLIGATION_NOT_FOUND. A calendar year without data throws CalendarYearMissing
 * unless the calendar is provisional (the state given is then left as it was).
 */
export function applyObligationInput(
  state: ObligationState | undefined,
  input: ObligationInput,
  pack: RulePack,
  calendar: WorkingDayCalendar,
): ObligationResult {
  checkInstant('at', input.at);
  if (input.type === 'obligation') {
    if (state !== undefined) throw new DomainError('OBLIGATION_EXISTS', `obligation ${JSON.stringify(input.id)} already exists`);
    return createObligation(input, pack, calendar);
  }
  if (state === undefined) throw new DomainError('OBLIGATION_NOT_FOUND', `obligation ${JSON.stringify(input.id)} does not exist`);
  const out: EngineEvent[] = [];
  const w: ObligationState = copyObligation(state);
  applyObligationInputInPlace(w, input, calendar, out);
  return { state: w, events: out };
}

/**
 * applyObligationInput for inputs other than `obligation` on a state the caller owns
 * exclusively, mutating it (replay's private states; see applyIncidentInputInPlace).
 * @internal
 */
export function applyObligationInputInPlace(
  w: ObligationState,
  input: ObligationInput,
  calendar: WorkingDayCalendar,
  out: EngineEvent[],
): void {
  checkInstant('at', input.at);
  if (input.type === 'obligation') throw new DomainError('OBLIGATION_EXISTS', `obligation ${JSON.stringify(input.id)} already exists`);
  if (w.id !== input.id) {
    throw new DomainError('OBLIGATION_MISMATCH', `input for obligation ${JSON.stringify(input.id)} applied to ${JSON.stringify(w.id)}`);
  }
  fireTimers(w, input.at - 1, out);
  const now = Math.max(input.at, w.asOf);
  w.asOf = now;
  const base = { at: now, obligation: w.id, clock: w.kind };
  switch (input.type) {
    case 'fulfil':
      if (w.state === 'running' || w.state === 'breached') {
        w.state = 'met';
        w.respondedAt = input.at;
        // A reply while the count is suspended is never late: the frozen due does not run.
        w.late = suspensionOf(w) === null && input.at > w.dueAt;
        out.push({ event: 'met', ...base, due: w.dueAt, respondedAt: input.at, late: w.late });
      }
      break;
    case 'extend': {
      const rejection = extendRejection(w);
      if (rejection !== null || w.extension === null) {
        out.push({ event: 'extend_rejected', ...base, reason: rejection ?? 'not_extendable' });
        break;
      }
      addStep(w, { op: 'extend', at: now, workingDays: w.extension.workingDays }, calendar);
      // "After extend, the points of the new span still ahead are warned again."
      w.nextWarning = 0;
      skipPastWarnings(w, now);
      out.push({ event: 'extended', ...base, due: w.dueAt });
      break;
    }
    case 'suspend': {
      if (!SUSPEND_REASONS.includes(input.reason)) {
        throw new DomainError(
          'INVALID_INPUT',
          `suspend reason must be one of ${SUSPEND_REASONS.join(', ')}, got ${JSON.stringify(input.reason)}`,
        );
      }
      const rejection = suspendRejection(w);
      if (rejection !== null) {
        out.push({ event: 'suspend_rejected', ...base, reason: rejection });
        break;
      }
      addStep(w, { op: 'suspend', at: now, reason: input.reason }, calendar);
      const suspension = w.suspension as ObligationSuspension;
      out.push({
        event: 'suspended',
        ...base,
        reason: suspension.reason,
        due: w.dueAt,
        remainingWorkingDays: suspension.remainingWorkingDays,
      });
      break;
    }
    case 'resume': {
      const suspension = suspensionOf(w);
      const rejection =
        w.state === 'met' ? 'already_met' : w.state === 'breached' ? 'already_breached' : suspension === null ? 'not_suspended' : null;
      if (rejection !== null || suspension === null) {
        out.push({ event: 'resume_rejected', ...base, reason: rejection ?? 'not_suspended' });
        break;
      }
      addStep(w, { op: 'resume', at: now }, calendar);
      // The new span (from the resume for a correction, from the issue otherwise): its
      // points still ahead are warned, again if need be — as after extend.
      w.nextWarning = 0;
      skipPastWarnings(w, now);
      out.push({ event: 'resumed', ...base, reason: suspension.reason, due: w.dueAt });
      break;
    }
    case 'recalculate':
      recalculate(w, now, calendar, out);
      break;
    default:
      assertNever(input);
  }
}

/** replay.md: only disclosure_request, only once, only while the duty is neither met nor breached. */
function extendRejection(w: ObligationState): string | null {
  if (w.extension === null) return 'not_extendable';
  if (w.state === 'met') return 'already_met';
  if (w.state === 'breached') return 'already_breached';
  if (w.extended) return 'already_extended';
  // Live only: the due is unknown until the count resumes; extend after resuming.
  if (suspensionOf(w) !== null) return 'suspended';
  return null;
}

/** 政府信息公开条例 pauses apply to disclosure requests only (a statute, not a pack setting). */
function suspendRejection(w: ObligationState): string | null {
  if (w.kind !== 'disclosure_request') return 'not_suspendable';
  if (w.state === 'met') return 'already_met';
  if (w.state === 'breached') return 'already_breached';
  if (suspensionOf(w) !== null) return 'already_suspended';
  return null;
}

/**
 * Fold the steps again with `calendar`. A met or breached duty keeps its outcome (and its
 * `provisional` flag, as the record of what it was judged against): nothing happens.
 */
function recalculate(w: ObligationState, now: Instant, calendar: WorkingDayCalendar, out: EngineEvent[]): void {
  if (w.state !== 'running') return;
  const clock = foldClock(w, calendar);
  const moved = clock.dueAt !== w.dueAt;
  setClock(w, clock);
  const base = { at: now, obligation: w.id, clock: w.kind };
  if (moved) out.push({ event: 'rescheduled', ...base, due: w.dueAt });
  // Past means strictly before now; a suspended due is frozen, not past. A step that comes
  // after the due under this calendar (an extend or suspend the complete calendar would
  // have refused as already breached) means the duty is overdue since then.
  if (clock.lapsed || (w.suspension === null && w.dueAt < now)) {
    w.state = 'breached';
    out.push({ event: 'breached', ...base, due: w.dueAt });
  } else if (moved && w.suspension === null) {
    w.nextWarning = 0;
    skipPastWarnings(w, now);
  }
}

/** The part of the state the steps decide. */
interface Clock {
  dueDate: string;
  dueAt: Instant;
  startAt: Instant;
  extended: boolean;
  suspension: ObligationSuspension | null;
  provisional: boolean;
  /** A step came after the due under this calendar: the fold stops there, overdue. */
  lapsed: boolean;
}

function clockFromDue(due: WorkingDayDue, startAt: Instant): Clock {
  return {
    dueDate: due.dueDate,
    dueAt: due.dueAt,
    startAt,
    extended: false,
    suspension: null,
    provisional: due.provisional,
    lapsed: false,
  };
}

function clockOf(w: ObligationState): Clock {
  return {
    dueDate: w.dueDate,
    dueAt: w.dueAt,
    startAt: w.startAt,
    extended: w.extended,
    suspension: suspensionOf(w),
    provisional: w.provisional,
    lapsed: false,
  };
}

function setClock(w: ObligationState, c: Clock): void {
  w.dueDate = c.dueDate;
  w.dueAt = c.dueAt;
  w.startAt = c.startAt;
  w.extended = c.extended;
  w.suspension = c.suspension;
  w.provisional = c.provisional;
}

function foldClock(w: ObligationState, calendar: WorkingDayCalendar): Clock {
  const c = clockFromDue(workingDayDue(w.issuedAt, w.workingDays, calendar), w.issuedAt);
  for (const step of stepsOf(w)) {
    applyStep(c, step, w.workingDays, calendar);
    if (c.lapsed) break;
  }
  return c;
}

/** Apply a live step: the clock moves only once the calendar has answered (no half updates). */
function addStep(w: ObligationState, step: ObligationStep, calendar: WorkingDayCalendar): void {
  const c = clockOf(w);
  applyStep(c, step, w.workingDays, calendar);
  setClock(w, c);
  w.steps = [...stepsOf(w), step];
}

function applyStep(c: Clock, step: ObligationStep, baseWorkingDays: number, calendar: WorkingDayCalendar): void {
  switch (step.op) {
    case 'extend': {
      if (c.dueAt < step.at) {
        c.lapsed = true;
        return;
      }
      // replay.md: N more working days counted from the current due date.
      const due = extendWorkingDayDue(c.dueDate, step.workingDays, calendar);
      c.dueDate = due.dueDate;
      c.dueAt = due.dueAt;
      c.provisional ||= due.provisional;
      c.extended = true;
      return;
    }
    case 'suspend': {
      if (c.dueAt < step.at) {
        c.lapsed = true;
        return;
      }
      let remaining = baseWorkingDays;
      if (step.reason === 'third_party') {
        // The suspend day counts; what is left after it runs again after the resume day.
        const left = countWorkingDaysNumber(shanghaiDay(step.at), parseDay(c.dueDate) as number, calendar);
        remaining = left.count;
        c.provisional ||= left.provisional;
      }
      c.suspension = { since: step.at, reason: step.reason, remainingWorkingDays: remaining };
      return;
    }
    case 'resume': {
      const suspension = c.suspension;
      if (suspension === null) return;
      // The resume day does not count (like the issue day).
      const due = dueAfterDay(shanghaiDay(step.at), suspension.remainingWorkingDays, calendar);
      c.dueDate = due.dueDate;
      c.dueAt = due.dueAt;
      c.provisional ||= due.provisional;
      if (suspension.reason === 'correction') {
        // 条例 art. 30: the period counts from receipt of the corrected request — a new
        // period: warnings measured from here, and an earlier extension is moot (the new
        // period may be extended once).
        c.startAt = step.at;
        c.extended = false;
      }
      c.suspension = null;
      return;
    }
    default:
      assertNever(step);
  }
}

/** States stored before suspensions existed have no `steps`/`suspension`. */
function stepsOf(w: ObligationState): ObligationStep[] {
  return (w as Partial<ObligationState>).steps ?? [];
}

function suspensionOf(w: ObligationState): ObligationSuspension | null {
  return (w as Partial<ObligationState>).suspension ?? null;
}

function createObligation(
  input: Extract<ObligationInput, { type: 'obligation' }>,
  pack: RulePack,
  calendar: WorkingDayCalendar,
): ObligationResult {
  checkInstant('issuedAt', input.issuedAt);
  const rule = pack.obligations[input.kind];
  const due = workingDayDue(input.issuedAt, rule.workingDays, calendar);
  const w: ObligationState = {
    v: 1,
    id: input.id,
    kind: input.kind,
    issuedAt: input.issuedAt,
    issueDate: formatDay(shanghaiDay(input.issuedAt)),
    createdAt: input.at,
    asOf: input.at,
    workingDays: rule.workingDays,
    extension: rule.extension === null ? null : { workingDays: rule.extension.workingDays },
    extended: false,
    dueDate: due.dueDate,
    startAt: input.issuedAt,
    dueAt: due.dueAt,
    warnings: [...rule.warnings],
    nextWarning: 0,
    warningsFired: [],
    state: 'running',
    respondedAt: null,
    late: null,
    provisional: due.provisional,
    steps: [],
    suspension: null,
    // A duty belongs to its unit from the start: the notice is due at once.
    ladder: clockLadder(ladderPackFor(pack, input.jurisdiction), input.kind, input.at, input.at),
  };
  const out: EngineEvent[] = [{ event: 'started', at: input.at, obligation: w.id, clock: w.kind, due: w.dueAt }];
  if (w.dueAt < input.at) {
    w.state = 'breached';
    out.push({ event: 'breached', at: input.at, obligation: w.id, clock: w.kind, due: w.dueAt });
  } else {
    skipPastWarnings(w, input.at);
  }
  return { state: w, events: out };
}

/** Fire warnings and the breach due at or before `now`, in time order. */
export function advanceObligation(state: ObligationState, now: Instant): ObligationResult {
  checkInstant('now', now);
  const wake = nextObligationWake(state);
  if ((wake === null || wake > now) && now <= state.asOf) return { state, events: [] };
  const w = copyObligation(state);
  const out: EngineEvent[] = [];
  advanceObligationInPlace(w, now, out);
  return { state: w, events: out };
}

/** advanceObligation on a state the caller owns exclusively. @internal */
export function advanceObligationInPlace(w: ObligationState, now: Instant, out: EngineEvent[]): void {
  checkInstant('now', now);
  fireTimers(w, now, out);
  if (now > w.asOf) w.asOf = now;
}

/** Field-by-field copy (see incident.ts `draft`); its arrays are replaced, never edited. */
function copyObligation(s: ObligationState): ObligationState {
  return {
    v: 1,
    id: s.id,
    kind: s.kind,
    issuedAt: s.issuedAt,
    issueDate: s.issueDate,
    createdAt: s.createdAt,
    asOf: s.asOf,
    workingDays: s.workingDays,
    extension: s.extension,
    extended: s.extended,
    dueDate: s.dueDate,
    startAt: s.startAt,
    dueAt: s.dueAt,
    warnings: s.warnings,
    nextWarning: s.nextWarning,
    warningsFired: s.warningsFired,
    state: s.state,
    respondedAt: s.respondedAt,
    late: s.late,
    provisional: s.provisional,
    steps: stepsOf(s),
    suspension: suspensionOf(s),
    ladder: s.ladder ?? null,
  };
}

/** The next warning or due instant while running and not suspended; null otherwise. */
export function nextObligationWake(state: ObligationState): Instant | null {
  return suspensionOf(state) === null ? deadlineWake(state) : null;
}

function fireTimers(w: ObligationState, limit: Instant, out: EngineEvent[]): void {
  for (;;) {
    const t = nextObligationWake(w);
    if (t === null || t > limit) return;
    while (w.nextWarning < w.warnings.length) {
      const at = warningPoint(w, w.nextWarning);
      if (at > t) break;
      const elapsed = w.warnings[w.nextWarning]!;
      w.nextWarning++;
      w.warningsFired = [...w.warningsFired, elapsed];
      out.push({ event: 'warning', at, obligation: w.id, clock: w.kind, due: w.dueAt, elapsed });
    }
    if (w.dueAt <= t) {
      w.state = 'breached';
      out.push({ event: 'breached', at: w.dueAt, obligation: w.id, clock: w.kind, due: w.dueAt });
    }
  }
}

function assertNever(x: never): never {
  throw new Error(`unexpected ${JSON.stringify(x)}`);
}
