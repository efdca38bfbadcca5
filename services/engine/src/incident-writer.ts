import { createHash } from 'node:crypto';
import { TOPICS, type EventMessage } from '@huiying/bus';
import { type alerts, type auditLog, type clocks, type incidents, type OutboxMessage, rowsOf, sql, type Tx } from '@huiying/db';
import { type EngineEvent, type IncidentState, nextIncidentWake } from '@huiying/domain';
import { json, sideEffectCtes } from './batch-sql.ts';
import { StaleWriteError } from './errors.ts';
import { type LadderWiring, walkIncidentLadders } from './ladder-writer.ts';
import { incidentView } from './view.ts';

/**
 * The incident writer: what every change of an incident (a signal, a command, the timer) writes,
 * in the caller's transaction — state, clock read model, alerts, outgoing events, audit.
 */

const iso = (ms: number) => new Date(ms).toISOString();

/** Deterministic alert id: the same engine event always maps to one alert row. */
export function alertIdFor(incidentId: string, e: EngineEvent): string {
  const parts = [
    incidentId,
    e.event,
    'clock' in e ? e.clock : '',
    'due' in e ? String(e.due) : '',
    'elapsed' in e ? String(e.elapsed) : '',
    e.at,
  ];
  return `alr_${createHash('sha256').update(parts.join('|')).digest('hex').slice(0, 20)}`;
}

interface PersistArgs {
  before: IncidentState | undefined;
  /** Fencing token: the row version this write was decided on (0 for a new incident). */
  version: number;
  after: IncidentState;
  events: EngineEvent[];
  input: unknown;
  actor: string;
  now: number;
}

/**
 * Write new states, their clock read model, alerts, outgoing events and audit rows — for many
 * incidents at once, in a fixed number of statements, inside the caller's transaction. The
 * timer fires hundreds of incidents per claim; one statement per table keeps that cheap.
 * The escalation ladder is walked here too (ladder-writer.ts), so every path — signals,
 * commands, the timer — queues its notifications in the transaction of the clock change.
 */
export async function persistAll(tx: Tx, given: readonly PersistArgs[], ladder?: LadderWiring): Promise<void> {
  if (given.length === 0) return;
  const walked = await walkIncidentLadders(tx, given, ladder);
  const items = given.map((a, i) => ({ ...a, after: walked.outcomes[i]!.state, ladderWake: walked.outcomes[i]!.wake }));
  const incidentRows: (typeof incidents.$inferInsert)[] = [];
  const clockRows: (typeof clocks.$inferInsert)[] = [];
  const alertRows: (typeof alerts.$inferInsert)[] = [];
  const retractions: { incidentId: string; clock: string; due: number; at: number }[] = [];
  const auditRows: (typeof auditLog.$inferInsert)[] = [];
  const messages: OutboxMessage[] = [];
  let earliestMovedWake: number | null = null;

  for (const a of items) {
    const view = incidentView(a.after);
    const now = new Date(a.now);
    // The ladder's steps are wakes of the same timer, with the same precision.
    const clockWake = nextIncidentWake(a.after);
    const wake = clockWake === null ? a.ladderWake : a.ladderWake === null ? clockWake : Math.min(clockWake, a.ladderWake);
    const before = a.before === undefined ? null : nextIncidentWake(a.before);
    if (wake !== null && (before === null || wake < before)) earliestMovedWake = Math.min(earliestMovedWake ?? wake, wake);
    incidentRows.push({
      id: view.id,
      title: view.title,
      level: view.level,
      unitId: view.unitId,
      status: view.status,
      startAt: new Date(view.startAt),
      state: a.after,
      nextWakeAt: wake === null ? null : new Date(wake),
      version: a.version + 1,
      createdAt: now,
      updatedAt: now,
    });
    // The clock read model is rewritten only where it changed (a warning, for one, changes no row).
    const unchanged = new Set(a.before === undefined ? [] : clockKeys(incidentView(a.before)));
    for (const c of view.clocks) {
      if (unchanged.has(clockKey(c, view.unitId))) continue;
      clockRows.push({
        incidentId: view.id,
        seq: c.seq,
        kind: c.kind,
        state: c.state,
        startAt: new Date(c.startAt),
        dueAt: new Date(c.dueAt),
        respondedAt: c.respondedAt === null ? null : new Date(c.respondedAt),
        late: c.late,
        unitId: view.unitId,
        updatedAt: now,
      });
    }
    if (a.before === undefined) {
      auditRows.push({
        at: now,
        actor: a.actor,
        action: 'incident.created',
        entity: 'incident',
        entityId: view.id,
        input: a.input,
        result: { level: view.level, startAt: iso(view.startAt) },
      });
    } else if (a.events.length === 0 && a.actor !== 'timer') {
      auditRows.push({
        at: now,
        actor: a.actor,
        action: 'incident.updated',
        entity: 'incident',
        entityId: view.id,
        input: a.input,
        result: null,
      });
    }
    for (const e of a.events) {
      let alertId: string | undefined;
      if (e.event === 'warning' || e.event === 'breached' || e.event === 'nonqualifying_response') {
        alertId = alertIdFor(view.id, e);
        alertRows.push({
          id: alertId,
          incidentId: view.id,
          kind: e.event,
          clock: e.event === 'nonqualifying_response' ? null : e.clock,
          dueAt: 'due' in e ? new Date(e.due) : null,
          elapsed: e.event === 'warning' ? e.elapsed : null,
          unitId: view.unitId,
          at: new Date(e.at),
        });
      } else if (e.event === 'breach_retracted') {
        retractions.push({ incidentId: view.id, clock: e.clock, due: e.due, at: e.at });
      }
      const payload = toEventMessage(view.id, view.title, view.unitId, e, alertId);
      messages.push({ topic: TOPICS.events, key: view.id, payload });
      // Every clock transition, with the input that caused it (a command, a signal, or the timer).
      auditRows.push({
        at: now,
        actor: a.actor,
        action: `clock.${e.event}`,
        entity: 'incident',
        entityId: view.id,
        input: a.input,
        result: payload,
      });
    }
    // An incident that changed without a clock event (assign, a title) still refreshes live views.
    // (A timer wake without one only walked the ladder: its notifications are audited instead.)
    if ((a.events.length === 0 && a.actor !== 'timer') || a.before === undefined) {
      messages.push({
        topic: TOPICS.events,
        key: view.id,
        payload: {
          v: 1,
          type: 'event',
          id: `evt_${createHash('sha256')
            .update(`${view.id}|changed|${a.now}|${JSON.stringify(a.input)}`)
            .digest('hex')
            .slice(0, 20)}`,
          event: 'incident_changed',
          at: iso(a.now),
          incidentId: view.id,
          unitId: view.unitId,
          title: view.title,
        } satisfies EventMessage,
      });
    }
  }

  // One round trip for the whole batch: every table is written by a data-modifying CTE reading
  // its rows from one jsonb parameter, with fixed SQL text. (Building multi-row INSERTs with the
  // query builder cost more CPU than the database spent executing them; see bench/README.md.)
  const result = rowsOf<{ written: number }>(
    await tx.execute(sql`
      with inc as (
        insert into incidents (id, title, level, unit_id, status, start_at, state, next_wake_at, version, created_at, updated_at)
        select id, title, level, "unitId", status, "startAt", state, "nextWakeAt", version, "createdAt", "updatedAt"
        from jsonb_to_recordset(${json(incidentRows)}::jsonb) as r(id text, title text, level text, "unitId" text, status text,
          "startAt" timestamptz, state jsonb, "nextWakeAt" timestamptz, version int, "createdAt" timestamptz, "updatedAt" timestamptz)
        on conflict (id) do update set title = excluded.title, level = excluded.level, unit_id = excluded.unit_id,
          status = excluded.status, start_at = excluded.start_at, state = excluded.state, next_wake_at = excluded.next_wake_at,
          version = excluded.version, updated_at = excluded.updated_at
        -- The fence: only the writer holding the version it read may write the next one.
        where incidents.version = excluded.version - 1
        returning id
      ),
      clk as (
        -- A clock's seq is stable for its incident's life, so the read model is upserted in place.
        insert into clocks (incident_id, seq, kind, state, start_at, due_at, responded_at, late, unit_id, updated_at)
        select "incidentId", seq, kind, state, "startAt", "dueAt", "respondedAt", late, "unitId", "updatedAt"
        from jsonb_to_recordset(${json(clockRows)}::jsonb) as r("incidentId" text, seq int, kind text, state text, "startAt" timestamptz,
          "dueAt" timestamptz, "respondedAt" timestamptz, late boolean, "unitId" text, "updatedAt" timestamptz)
        on conflict (incident_id, seq) do update set kind = excluded.kind, state = excluded.state, start_at = excluded.start_at,
          due_at = excluded.due_at, responded_at = excluded.responded_at, late = excluded.late, unit_id = excluded.unit_id,
          updated_at = excluded.updated_at
      ),
      ${sideEffectCtes({ alerts: alertRows, audits: [...auditRows, ...walked.batch.audits], messages, at: new Date(items[0]!.now) })}
      select count(*)::int as written from inc`),
  );
  const written = result[0]?.written ?? 0;
  if (written !== incidentRows.length) {
    throw new StaleWriteError(`stale write refused for ${incidentRows.length - written} incident(s): another engine changed them first`);
  }
  // After the fence: a refused write has thrown, and the transaction queues nothing.
  await walked.batch.flush();
  for (const r of retractions) {
    await tx.execute(
      sql`update alerts set retracted_at = ${iso(r.at)} where incident_id = ${r.incidentId} and kind = 'breached' and clock = ${r.clock} and due_at = ${iso(r.due)}`,
    );
  }
  // Other engines armed for a later instant hear that something is now due earlier.
  if (earliestMovedWake !== null) await tx.execute(sql`select pg_notify('huiying_wake', ${iso(earliestMovedWake)})`);
}

type ClockView = ReturnType<typeof incidentView>['clocks'][number];
const clockKey = (c: ClockView, unitId: string | null) =>
  `${c.seq}|${c.kind}|${c.state}|${c.startAt}|${c.dueAt}|${c.respondedAt}|${c.late}|${unitId}`;
const clockKeys = (view: ReturnType<typeof incidentView>) => view.clocks.map((c) => clockKey(c, view.unitId));

export function toEventMessage(incidentId: string, title: string, unitId: string | null, e: EngineEvent, alertId?: string): EventMessage {
  const m: EventMessage = {
    v: 1,
    type: 'event',
    id: `evt_${createHash('sha256')
      .update(`${incidentId}|${JSON.stringify(e)}`)
      .digest('hex')
      .slice(0, 20)}`,
    event: e.event,
    at: iso(e.at),
    incidentId,
    unitId,
    title,
  };
  if ('clock' in e) m.clock = e.clock;
  if ('due' in e) m.due = iso(e.due);
  if ('elapsed' in e) m.elapsed = e.elapsed;
  if ('respondedAt' in e) m.respondedAt = iso(e.respondedAt);
  if ('late' in e) m.late = e.late;
  if ('reason' in e) m.reason = e.reason;
  if ('kind' in e) m.kind = e.kind;
  if (alertId) m.alertId = alertId;
  return m;
}
