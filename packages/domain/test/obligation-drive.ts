/** Stepping obligations the way the live engine does: advance to at - 1, apply, repeat. */
import type { WorkingDayCalendar } from '../src/calendar.ts';
import { advanceObligation, applyObligationInput, type ObligationState } from '../src/obligation.ts';
import { DEFAULT_RULE_PACK } from '../src/rule-pack.ts';
import type { EngineEvent, Instant, ObligationInput } from '../src/types.ts';
import { calendar as cnCalendar } from './helpers.ts';

export interface Driven {
  state: ObligationState;
  events: EngineEvent[];
}

/** Apply `inputs` in order to one duty (the first creates it), then advance to `horizon`. */
export function drive(inputs: readonly ObligationInput[], options: { calendar?: WorkingDayCalendar; horizon?: Instant } = {}): Driven {
  const calendar = options.calendar ?? cnCalendar;
  let state: ObligationState | undefined;
  const events: EngineEvent[] = [];
  for (const input of inputs) {
    if (state !== undefined) {
      const due = advanceObligation(state, input.at - 1);
      events.push(...due.events);
      state = due.state;
    }
    const r = applyObligationInput(state, input, DEFAULT_RULE_PACK, calendar);
    events.push(...r.events);
    state = r.state;
  }
  if (state === undefined) throw new Error('no inputs');
  if (options.horizon !== undefined) {
    const r = advanceObligation(state, options.horizon);
    events.push(...r.events);
    state = r.state;
  }
  return { state, events };
}

/** Events as compact rows: [event, at, due | null, extra | null]. */
export function rows(events: readonly EngineEvent[]): unknown[][] {
  return events.map((e) => [
    e.event,
    e.at,
    'due' in e ? e.due : null,
    'elapsed' in e
      ? e.elapsed
      : 'remainingWorkingDays' in e
        ? e.remainingWorkingDays
        : 'late' in e
          ? e.late
          : 'reason' in e
            ? e.reason
            : null,
  ]);
}
