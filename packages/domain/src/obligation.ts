/**
 * Working-day disclosure duties (replay.md, "Working-day rules"): the same pure shape as
 * incidents — state + input + pack + calendar in, new state + events out — and the same
 * time contract (timers before `input.at` fired first; see incident.ts).
 */
import { type WorkingDayCalendar, extendWorkingDayDue, workingDayDue } from './calendar.ts';
import { deadlineWake, skipPastWarnings, warningPoint } from './deadline.ts';
import { DomainError } from './errors.ts';
import type { RulePack } from './rule-pack.ts';
import { formatDay, shanghaiDay } from './time.ts';
import type { ClockState, EngineEvent, Instant, ObligationInput, ObligationKind } from './types.ts';

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
}

export type ObligationResult = { state: ObligationState; events: EngineEvent[] };

/** Instants are whole epoch milliseconds: "timers before `at`" means "due at or before at - 1". */
function checkInstant(name: string, value: number): void {
  if (!Number.isSafeInteger(value)) throw new DomainError('INVALID_INPUT', `${name} is not an instant (integer epoch ms): ${value}`);
}

/**
 * Apply one input. `state` is undefined only for `obligation` (which creates the duty; a
 * second one with the same id throws OBLIGATION_EXISTS); fulfil/extend on an unknown id
 * throw OBLIGATION_NOT_FOUND. A calendar year without data throws CalendarYearMissing
 * unless the calendar is provisional.
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
 * applyObligationInput for fulfil/extend on a state the caller owns exclusively, mutating
 * it (replay's private states; see applyIncidentInputInPlace).
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
        w.late = input.at > w.dueAt;
        out.push({ event: 'met', ...base, due: w.dueAt, respondedAt: input.at, late: w.late });
      }
      break;
    case 'extend': {
      const rejection = extendRejection(w);
      if (rejection !== null || w.extension === null) {
        out.push({ event: 'extend_rejected', ...base, reason: rejection ?? 'not_extendable' });
        break;
      }
      const due = extendWorkingDayDue(w.dueDate, w.extension.workingDays, calendar);
      w.extended = true;
      w.dueDate = due.dueDate;
      w.dueAt = due.dueAt;
      w.provisional ||= due.provisional;
      // "After extend, the points of the new span still ahead are warned again."
      w.nextWarning = 0;
      skipPastWarnings(w, now);
      out.push({ event: 'extended', ...base, due: w.dueAt });
      break;
    }
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
  return null;
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
  const wake = deadlineWake(state);
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
  };
}

/** The next warning or due instant while running; null otherwise. */
export function nextObligationWake(state: ObligationState): Instant | null {
  return deadlineWake(state);
}

function fireTimers(w: ObligationState, limit: Instant, out: EngineEvent[]): void {
  for (;;) {
    const t = deadlineWake(w);
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
