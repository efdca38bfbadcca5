/**
 * Incident commands and the incident's deadlines: a command or a due wake-up loads the state,
 * lets the domain decide, and hands the result to the incident writer (incident-writer.ts).
 * Signal intake is in signals.ts, the shared timer pipeline in deadlines.ts.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '@huiying/clock';
import { type Db, rowsOf, sql, type Tx } from '@huiying/db';
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
import { type DeadlineKind, fireDueOf } from './deadlines.ts';
import { NotFoundError } from './errors.ts';
import { persistAll } from './incident-writer.ts';
import type { LadderWiring } from './ladder-writer.ts';

export interface EngineDeps {
  db: Db;
  clock: Clock;
  pack: RulePack;
  /** Told when an incident's next wake-up may have moved earlier (the in-process timer re-arms). */
  onWake?: (at: number) => void;
  /** Renders the escalation ladder's messages (ladder-writer.ts); without it the timer of a process that has it fires them. */
  ladder?: LadderWiring;
  /** Grouping thresholds (default DEFAULT_GROUPING_POLICY, chosen on the labelled sample). */
  grouping?: GroupingPolicy;
}

export { NotFoundError, StaleWriteError } from './errors.ts';
export { alertIdFor, persistAll, toEventMessage } from './incident-writer.ts';

const iso = (ms: number) => new Date(ms).toISOString();

export function incidentIdFor(signalId: string): string {
  return `inc_${createHash('sha256').update(signalId).digest('hex').slice(0, 16)}`;
}

/**
 * A duty officer's or unit's command (grade, assign, respond, dismiss, occurred) on one incident.
 * Timers already due before the command are fired first, so the command sees the same state
 * the replay would.
 */
export async function applyCommand(
  deps: EngineDeps,
  incidentId: string,
  input: IncidentInput,
  actor: string,
  /** Writes that must commit or roll back with the command (e.g. the recorded response's row). */
  alongside?: (tx: Tx) => Promise<void>,
): Promise<{ state: IncidentState; events: EngineEvent[] }> {
  const now = deps.clock.now();
  const result = await deps.db.transaction(async (tx) => {
    const [row] = rowsOf<{ state: IncidentState; version: number }>(
      await tx.execute(sql`select state, version from incidents where id = ${incidentId} for update`),
    );
    if (!row) throw new NotFoundError(`incident ${incidentId} not found`);
    const overdue = advanceIncident(row.state, input.at - 1);
    const applied = applyIncidentInput(overdue.state, input, deps.pack);
    const events = [...overdue.events, ...applied.events];
    await persistAll(tx, [{ before: row.state, version: row.version, after: applied.state, events, input, actor, now }], deps.ladder);
    await alongside?.(tx);
    return { state: applied.state, events };
  });
  const wake = nextIncidentWake(result.state);
  if (wake !== null) deps.onWake?.(wake);
  return result;
}

/** Incidents as an aggregate with deadlines: the timer claims, advances and persists them through deadlines.ts. */
export const incidentDeadlines: DeadlineKind = {
  entity: 'incident',
  table: 'incidents',
  columns: 'state, version',
  fire: (tx, rows, now, deps) =>
    persistAll(
      tx,
      (rows as { state: IncidentState; version: number }[]).map((row) => {
        const { state, events } = advanceIncident(row.state, now);
        return {
          before: row.state,
          version: row.version,
          after: state,
          events,
          input: { type: 'timer', at: iso(now) },
          actor: 'timer',
          now,
        };
      }),
      deps.ladder,
    ),
};

/**
 * Fire every incident warning and breach due at or before `until` (claimed with SKIP LOCKED, so
 * several engines share the work and none fires one clock twice).
 */
export function fireDue(deps: EngineDeps, until: number, batch = 200): Promise<number> {
  return fireDueOf(incidentDeadlines, deps, until, batch);
}
