import { createHash } from 'node:crypto';
import { TOPICS, type EventMessage, type SignalMessage } from '@huiying/bus';
import type { Clock } from '@huiying/clock';
import { alerts, audit, clocks, type Db, enqueue, eq, incidents, rowsOf, signals, sql, type Tx, units } from '@huiying/db';
import {
  advanceIncident,
  applyIncidentInput,
  type EngineEvent,
  type IncidentInput,
  type IncidentState,
  nextIncidentWake,
  type RulePack,
} from '@huiying/domain';
import { incidentView } from './view.ts';

export interface EngineDeps {
  db: Db;
  clock: Clock;
  pack: RulePack;
  /** Told when an incident's next wake-up may have moved earlier (the in-process timer re-arms). */
  onWake?: (at: number) => void;
}

export class NotFoundError extends Error {
  override name = 'NotFoundError';
}

const iso = (ms: number) => new Date(ms).toISOString();

export function incidentIdFor(signalId: string): string {
  return `inc_${createHash('sha256').update(signalId).digest('hex').slice(0, 16)}`;
}

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

/**
 * A signal from the bus becomes an incident (one incident per signal in this version; grouping
 * comes with the correlation rules). Idempotent: a redelivered signal changes nothing.
 */
export async function handleSignal(deps: EngineDeps, msg: SignalMessage): Promise<{ incidentId: string; created: boolean }> {
  const now = deps.clock.now();
  const result = await deps.db.transaction(async (tx) => {
    await tx
      .insert(signals)
      .values({
        id: msg.id,
        source: msg.source,
        sourceRef: msg.sourceRef,
        feedId: msg.feedId ?? null,
        title: msg.title ?? null,
        content: msg.content ?? null,
        url: msg.url ?? null,
        publishedAt: msg.publishedAt ? new Date(msg.publishedAt) : null,
        receivedAt: new Date(msg.receivedAt),
      })
      .onConflictDoNothing();
    const [row] = rowsOf<{ incident_id: string | null }>(
      await tx.execute(sql`select incident_id from signals where id = ${msg.id} for update`),
    );
    if (row?.incident_id) return { incidentId: row.incident_id, created: false, wake: null };
    const incidentId = incidentIdFor(msg.id);
    const input: IncidentInput = {
      type: 'signal',
      at: now,
      incident: incidentId,
      source: msg.source,
      ...(msg.publishedAt ? { publishedAt: Date.parse(msg.publishedAt) } : {}),
      ...(msg.title ? { title: msg.title } : {}),
    };
    let { state, events } = applyIncidentInput(undefined, input, deps.pack);
    // A ticket that names its handling unit (承办单位) arrives assigned, if we know that unit.
    if (msg.unitHint) {
      const [unit] = await tx.select({ id: units.id }).from(units).where(eq(units.id, msg.unitHint));
      if (unit) {
        const assigned = applyIncidentInput(state, { type: 'assign', at: now, incident: incidentId, unit: unit.id }, deps.pack);
        state = assigned.state;
        events = [...events, ...assigned.events];
      }
    }
    await persist(tx, deps, { before: undefined, after: state, events, input, actor: `signal:${msg.source}`, now });
    await tx
      .update(signals)
      .set({ incidentId, processedAt: new Date(now) })
      .where(eq(signals.id, msg.id));
    return { incidentId, created: true, wake: nextIncidentWake(state) };
  });
  if (result.wake !== null) deps.onWake?.(result.wake);
  return { incidentId: result.incidentId, created: result.created };
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
): Promise<{ state: IncidentState; events: EngineEvent[] }> {
  const now = deps.clock.now();
  const result = await deps.db.transaction(async (tx) => {
    const [row] = rowsOf<{ state: IncidentState }>(await tx.execute(sql`select state from incidents where id = ${incidentId} for update`));
    if (!row) throw new NotFoundError(`incident ${incidentId} not found`);
    const overdue = advanceIncident(row.state, input.at - 1);
    const applied = applyIncidentInput(overdue.state, input, deps.pack);
    const events = [...overdue.events, ...applied.events];
    await persist(tx, deps, { before: row.state, after: applied.state, events, input, actor, now });
    return { state: applied.state, events };
  });
  const wake = nextIncidentWake(result.state);
  if (wake !== null) deps.onWake?.(wake);
  return result;
}

/**
 * Fire every warning and breach due at or before `now`. Rows are claimed with SKIP LOCKED, so
 * several engines share the work and none fires one clock twice.
 */
export async function fireDue(deps: EngineDeps, now: number, batch = 500): Promise<number> {
  let fired = 0;
  for (;;) {
    const n = await deps.db.transaction(async (tx) => {
      const rows = rowsOf<{ id: string; state: IncidentState }>(
        await tx.execute(
          sql`select id, state from incidents where next_wake_at <= ${iso(now)} order by next_wake_at limit ${batch} for update skip locked`,
        ),
      );
      for (const row of rows) {
        const { state, events } = advanceIncident(row.state, now);
        await persist(tx, deps, { before: row.state, after: state, events, input: { type: 'timer', at: now }, actor: 'timer', now });
      }
      return rows.length;
    });
    fired += n;
    if (n < batch) return fired;
  }
}

export async function nextWakeInDb(db: Db): Promise<number | null> {
  const [row] = rowsOf<{ at: string | Date | null }>(await db.execute(sql`select min(next_wake_at) as at from incidents`));
  return row?.at ? new Date(row.at).getTime() : null;
}

interface PersistArgs {
  before: IncidentState | undefined;
  after: IncidentState;
  events: EngineEvent[];
  input: unknown;
  actor: string;
  now: number;
}

/** Write the new state, its read model, alerts, outgoing events and audit rows in one transaction. */
async function persist(tx: Tx, deps: EngineDeps, a: PersistArgs): Promise<void> {
  const view = incidentView(a.after);
  const now = new Date(a.now);
  const wake = nextIncidentWake(a.after);
  const values = {
    title: view.title,
    level: view.level,
    unitId: view.unitId,
    status: view.status,
    startAt: new Date(view.startAt),
    state: a.after,
    nextWakeAt: wake === null ? null : new Date(wake),
    updatedAt: now,
  };
  if (a.before === undefined) {
    await tx.insert(incidents).values({ id: view.id, ...values, createdAt: now });
    await audit(tx, {
      at: now,
      actor: a.actor,
      action: 'incident.created',
      entity: 'incident',
      entityId: view.id,
      input: a.input,
      result: { level: view.level, startAt: iso(view.startAt) },
    });
  } else {
    await tx
      .update(incidents)
      .set({ ...values, version: sql`${incidents.version} + 1` })
      .where(eq(incidents.id, view.id));
    if (a.events.length === 0) {
      await audit(tx, { at: now, actor: a.actor, action: 'incident.updated', entity: 'incident', entityId: view.id, input: a.input });
    }
  }
  await tx.delete(clocks).where(eq(clocks.incidentId, view.id));
  if (view.clocks.length > 0) {
    await tx.insert(clocks).values(
      view.clocks.map((c) => ({
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
      })),
    );
  }
  const messages: { topic: string; key: string; payload: EventMessage }[] = [];
  for (const e of a.events) {
    const alertId = await recordAlert(tx, view.id, view.unitId, e);
    const payload = toEventMessage(view.id, view.title, view.unitId, e, alertId);
    messages.push({ topic: TOPICS.events, key: view.id, payload });
    await audit(tx, {
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
  if (a.events.length === 0 || a.before === undefined) {
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
      },
    });
  }
  await enqueue(tx, now, messages);
  if (wake !== null) await tx.execute(sql`select pg_notify('huiying_wake', ${iso(wake)})`);
}

async function recordAlert(tx: Tx, incidentId: string, unitId: string | null, e: EngineEvent): Promise<string | undefined> {
  if (e.event === 'warning' || e.event === 'breached' || e.event === 'nonqualifying_response') {
    const id = alertIdFor(incidentId, e);
    await tx
      .insert(alerts)
      .values({
        id,
        incidentId,
        kind: e.event,
        clock: e.event === 'nonqualifying_response' ? null : e.clock,
        dueAt: 'due' in e ? new Date(e.due) : null,
        elapsed: e.event === 'warning' ? e.elapsed : null,
        unitId,
        at: new Date(e.at),
      })
      .onConflictDoNothing();
    return id;
  }
  if (e.event === 'breach_retracted') {
    await tx.execute(
      sql`update alerts set retracted_at = ${iso(e.at)} where incident_id = ${incidentId} and kind = 'breached' and clock = ${e.clock} and due_at = ${iso(e.due)}`,
    );
  }
  return undefined;
}

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
