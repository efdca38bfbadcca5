/**
 * Incident commands and the incident's deadlines: a command or a due wake-up loads the state,
 * lets the domain decide, and hands the result to the incident writer (incident-writer.ts).
 * Signal intake is in signals.ts, the shared timer pipeline in deadlines.ts.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '@huiying/clock';
import type { Db, Tx } from '@huiying/db';
import {
  advanceIncident,
  applyIncidentInput,
  type EngineEvent,
  type IncidentInput,
  type GroupingPolicy,
  type IncidentState,
  nextIncidentWake,
  type RulePack,
} from '@huiying/domain';
import { applyCommandOf, type DeadlineKind, fireDueOf } from './deadlines.ts';
import { persistAll } from './incident-writer.ts';
import type { LadderWiring } from './ladder-writer.ts';

export interface EngineDeps {
  db: Db;
  clock: Clock;
  /** The pack in force, asked at each use (RulePackHolder.current): a clock starting now snapshots it. */
  pack: () => RulePack;
  /** Told when an incident's next wake-up may have moved earlier (the in-process timer re-arms). */
  onWake?: (at: number) => void;
  /** Renders the escalation ladder's messages (ladder-writer.ts); without it the timer of a process that has it fires them. */
  ladder?: LadderWiring;
  /** Grouping thresholds (default DEFAULT_GROUPING_POLICY, chosen on the labelled sample). */
  grouping?: GroupingPolicy;
}

export { NotFoundError, StaleWriteError } from './errors.ts';
export { alertIdFor, persistAll, toEventMessage } from './incident-writer.ts';

export function incidentIdFor(signalId: string): string {
  return `inc_${createHash('sha256').update(signalId).digest('hex').slice(0, 16)}`;
}

/** Incidents as an aggregate with deadlines: commands and the timer both write them through deadlines.ts. */
export const incidentDeadlines: DeadlineKind<IncidentState, undefined> = {
  entity: 'incident',
  table: 'incidents',
  queue: { table: 'incident_wakes', key: 'incident_id', at: 'wake_at' },
  columns: 'state, version',
  read: (row) => ({ state: row.state as IncidentState, version: row.version as number, extra: undefined }),
  advance: advanceIncident,
  nextWake: nextIncidentWake,
  persist: persistAll,
};

/**
 * A duty officer's or unit's command (grade, assign, respond, dismiss, occurred) on one incident.
 * Timers already due before the command are fired first, so the command sees the same state
 * the replay would.
 */
export function applyCommand(
  deps: EngineDeps,
  incidentId: string,
  input: IncidentInput,
  actor: string,
  /** Writes that must commit or roll back with the command (e.g. the recorded response's row). */
  alongside?: (tx: Tx) => Promise<void>,
): Promise<{ state: IncidentState; events: EngineEvent[] }> {
  return applyCommandOf(incidentDeadlines, deps, {
    id: incidentId,
    at: input.at,
    input,
    actor,
    mustExist: true,
    decide: (state) => ({ ...applyIncidentInput(state!, input, deps.pack()), extra: undefined }),
    alongside,
  }).then(({ state, events }) => ({ state, events }));
}

/**
 * Fire every incident warning and breach due at or before `until` (claimed with SKIP LOCKED, so
 * several engines share the work and none fires one clock twice).
 */
export function fireDue(deps: EngineDeps, until: number, batch = 200): Promise<number> {
  return fireDueOf(incidentDeadlines, deps, until, batch);
}
