/**
 * An incident's clocks rebuilt after signals left it (a duty officer's split). replay.md only
 * ever moves a start earlier, because a timeline only ever adds signals; a split takes some
 * away, so the start is the earliest *remaining* signal (or occurrence time) and may move later.
 *
 * The rebuild replays the incident's remaining inputs (its signals, occurrence times, grades,
 * assignments, responses) through the same rules, from nothing, in order of `at`, and then
 * reconciles each clock of the stored state with its rebuilt twin at `now`, so what already
 * happened stays told:
 *
 * - a running clock takes the rebuilt start and due (`rescheduled` when the due moved); warning
 *   points already past are skipped, those ahead on the new span are armed (again);
 * - a breached clock whose new due is still ahead runs again: `rescheduled`, then
 *   `breach_retracted` with the due that was breached (the engine withdraws that alert and what
 *   the ladder still had queued for it); one whose new due is past too keeps its breach and due;
 * - a met clock stays met; one met late whose response is on time against the new due is
 *   corrected (`met`, not late, then `breach_retracted`), as for a backdated response;
 * - a running or breached clock the rebuild cancels (an upgrade superseded the response clock
 *   before its new due) is cancelled, its breach withdrawn;
 * - cancelled and waived clocks stay as they were.
 *
 * Inputs dated before the first remaining signal (a grade of an incident whose first signal left)
 * are applied when that signal is: an incident exists from its first signal.
 */
import { skipPastWarnings } from './deadline.ts';
import { DomainError } from './errors.ts';
import { advanceIncident, applyIncidentInput, type IncidentClock, type IncidentResult, type IncidentState } from './incident.ts';
import type { RulePack } from './rule-pack.ts';
import type { EngineEvent, IncidentInput, Instant } from './types.ts';

/** The remaining inputs, ordered by `at` (ties keep their order), the first signal first. */
function timeline(inputs: readonly IncidentInput[]): IncidentInput[] {
  const sorted = inputs.map((input, i) => ({ input, i })).sort((a, b) => a.input.at - b.input.at || a.i - b.i);
  const first = sorted.find((x) => x.input.type === 'signal');
  if (first === undefined) throw new DomainError('INVALID_INPUT', 'an incident rebuilt needs at least one signal');
  const opened = first.input.at;
  return [first.input, ...sorted.filter((x) => x !== first).map((x) => (x.input.at < opened ? { ...x.input, at: opened } : x.input))];
}

/** The state the remaining inputs alone give, brought to just before `now`. */
function replayed(id: string, inputs: readonly IncidentInput[], now: Instant, pack: RulePack): IncidentState {
  let state: IncidentState | undefined;
  for (const input of timeline(inputs)) {
    if (input.incident !== id) throw new DomainError('INCIDENT_MISMATCH', `input for ${input.incident} in the rebuild of ${id}`);
    if (state !== undefined) state = advanceIncident(state, input.at - 1).state;
    state = applyIncidentInput(state, input, pack).state;
  }
  return advanceIncident(state!, Math.max(now - 1, state!.asOf)).state;
}

/** A stored clock reconciled with its rebuilt twin at `now` (see the module comment). */
function reconcile(b: IncidentClock, r: IncidentClock, id: string, now: Instant, out: EngineEvent[]): IncidentClock {
  if (b.state === 'cancelled' || b.state === 'waived' || r.state === 'waived') return b;
  if (r.state === 'cancelled') return b.state === 'met' ? b : cancelledInstead(b, r, id, now, out);
  const moved = r.startAt !== b.startAt || r.dueAt !== b.dueAt;
  if (!moved) return b;
  const c: IncidentClock = { ...b, startAt: r.startAt, dueAt: r.dueAt };
  switch (b.state) {
    case 'running':
    case 'breached': {
      // A due reached exactly now still breaches on the timer (inputs at an instant come first).
      if (c.dueAt < now) return b.state === 'breached' ? b : breachNow(c, id, now, out);
      c.state = 'running';
      c.nextWarning = 0;
      skipPastWarnings(c, now);
      out.push({ event: 'rescheduled', at: now, incident: id, clock: c.kind, due: c.dueAt });
      if (b.state === 'breached') out.push({ event: 'breach_retracted', at: now, incident: id, clock: c.kind, due: b.dueAt });
      return c;
    }
    case 'met': {
      if (b.late !== true || b.respondedAt === null || b.respondedAt > c.dueAt) return b;
      c.late = false;
      out.push({ event: 'met', at: now, incident: id, clock: c.kind, due: c.dueAt, respondedAt: b.respondedAt, late: false });
      out.push({ event: 'breach_retracted', at: now, incident: id, clock: c.kind, due: b.dueAt });
      return c;
    }
    default:
      return b;
  }
}

/**
 * Without the signals split out the clock would have been cancelled (an upgrade superseded a
 * response clock before it fell due): it is, and a breach it had is withdrawn.
 */
function cancelledInstead(b: IncidentClock, r: IncidentClock, id: string, now: Instant, out: EngineEvent[]): IncidentClock {
  const reason = r.reason === 'downgraded' ? 'downgraded' : 'superseded';
  if (b.state === 'breached') out.push({ event: 'breach_retracted', at: now, incident: id, clock: b.kind, due: b.dueAt });
  out.push({ event: 'cancelled', at: now, incident: id, clock: b.kind, reason });
  return { ...b, state: 'cancelled', reason };
}

/** Only a start moving earlier makes this happen; kept so the rebuild never hides a past due. */
function breachNow(c: IncidentClock, id: string, now: Instant, out: EngineEvent[]): IncidentClock {
  out.push({ event: 'rescheduled', at: now, incident: id, clock: c.kind, due: c.dueAt });
  out.push({ event: 'breached', at: now, incident: id, clock: c.kind, due: c.dueAt });
  return { ...c, state: 'breached' };
}

/**
 * Rebuild `before` (an open incident, brought to just before `now`) from `inputs`, the inputs
 * that remain its own after a split. Returns the new state and the events of the change at `now`.
 * Responses, the grade and the unit are the stored state's; the start, the title, the signal
 * count and the clocks' starts and dues come from the rebuild.
 */
export function rebuildIncident(before: IncidentState, inputs: readonly IncidentInput[], now: Instant, pack: RulePack): IncidentResult {
  if (before.status !== 'open') throw new DomainError('INVALID_INPUT', `incident ${before.id} is closed: it is not rebuilt`);
  const rebuilt = replayed(before.id, inputs, now, pack);
  const events: EngineEvent[] = [];
  const clocks = before.clocks.map((b) => {
    const r = rebuilt.clocks.find((x) => x.seq === b.seq);
    // Same inputs, same grades: the same clocks in the same order. Anything else is a bug upstream.
    if (r === undefined || r.kind !== b.kind) throw new DomainError('INVALID_INPUT', `clock ${b.seq} of ${before.id} has no rebuilt twin`);
    return reconcile(b, r, before.id, now, events);
  });
  const state: IncidentState = {
    ...before,
    title: rebuilt.title ?? before.title,
    startAt: rebuilt.startAt,
    signalCount: rebuilt.signalCount,
    asOf: Math.max(before.asOf, now),
    clocks,
  };
  return { state, events };
}
