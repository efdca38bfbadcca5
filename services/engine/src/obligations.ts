import { createHash } from 'node:crypto';
import { type EventMessage, TOPICS } from '@huiying/bus';
import { type alerts, type auditLog, type Db, type OutboxMessage, rowsOf, sql, type Tx } from '@huiying/db';
import {
  advanceObligation,
  applyObligationInput,
  CalendarYearMissing,
  type EngineEvent,
  nextObligationWake,
  type ObligationInput,
  type ObligationState,
  type RulePack,
} from '@huiying/domain';
import { json, sideEffectCtes } from './batch-sql.ts';
import type { CalendarService } from './calendar.ts';
import { type DeadlineKind, fireDueOf } from './deadlines.ts';
import { NotFoundError, StaleWriteError } from './errors.ts';
import { alertIdFor, toEventMessage } from './incident-writer.ts';
import { type LadderWiring, walkObligationLadders } from './ladder-writer.ts';

export interface ObligationDeps {
  db: Db;
  clock: { now(): number };
  pack: RulePack;
  calendars: CalendarService;
  onWake?: (at: number) => void;
  /** Renders the escalation ladder's messages (see EngineDeps.ladder). */
  ladder?: LadderWiring | undefined;
}

const iso = (ms: number) => new Date(ms).toISOString();

export interface ObligationMeta {
  title?: string | undefined;
  unit?: string | undefined;
}

/**
 * A working-day duty's input (create, fulfil, extend) from the API. A due that runs into a year
 * without calendar data is computed Monday–Friday, stored as provisional, and raises a
 * `calendar_missing` alert for administrators; loading the year recomputes it.
 */
export async function applyObligationCommand(
  deps: ObligationDeps,
  input: ObligationInput,
  actor: string,
  meta: ObligationMeta = {},
): Promise<{ state: ObligationState; events: EngineEvent[] }> {
  const result = await deps.db.transaction(async (tx) => {
    const [row] = rowsOf<{ state: ObligationState; version: number; title: string | null; unit_id: string | null }>(
      await tx.execute(sql`select state, version, title, unit_id from obligations where id = ${input.id} for update`),
    );
    if (input.type !== 'obligation' && !row) throw new NotFoundError(`obligation ${input.id} not found`);
    let before: ObligationState | undefined;
    let events: EngineEvent[] = [];
    if (row) {
      const overdue = advanceObligation(row.state, input.at - 1);
      before = overdue.state;
      events = overdue.events;
    }
    const applied = applyWithCalendar(before, input, deps.pack, deps.calendars);
    events = [...events, ...applied.events];
    await persistObligations(
      tx,
      [
        {
          before: row?.state,
          version: row?.version ?? 0,
          after: applied.state,
          events,
          input,
          actor,
          now: deps.clock.now(),
          title: meta.title ?? row?.title ?? null,
          unitId: meta.unit ?? row?.unit_id ?? null,
        },
      ],
      deps.ladder,
    );
    return { state: applied.state, events };
  });
  const wake = nextObligationWake(result.state);
  if (wake !== null) deps.onWake?.(wake);
  return result;
}

function applyWithCalendar(
  state: ObligationState | undefined,
  input: ObligationInput,
  pack: RulePack,
  calendars: CalendarService,
): { state: ObligationState; events: EngineEvent[] } {
  try {
    return applyObligationInput(state, input, pack, calendars.calendar);
  } catch (error) {
    if (!(error instanceof CalendarYearMissing)) throw error;
    return applyObligationInput(state, input, pack, calendars.provisional);
  }
}

type ObligationRow = { state: ObligationState; version: number; title: string | null; unit_id: string | null };

/** Working-day duties as an aggregate with deadlines, fired by the same pipeline as incidents (deadlines.ts). */
export const obligationDeadlines: DeadlineKind = {
  entity: 'obligation',
  table: 'obligations',
  columns: 'state, version, title, unit_id',
  fire: (tx, rows, now, deps) =>
    persistObligations(
      tx,
      (rows as ObligationRow[]).map((row) => {
        const { state, events } = advanceObligation(row.state, now);
        return {
          before: row.state,
          version: row.version,
          after: state,
          events,
          input: { type: 'timer', at: iso(now) },
          actor: 'timer',
          now,
          title: row.title,
          unitId: row.unit_id,
        };
      }),
      deps.ladder,
    ),
};

/** Fire warnings and breaches of working-day duties due at or before `now`. */
export function fireDueObligations(deps: Pick<ObligationDeps, 'db' | 'ladder'>, now: number, batch = 200): Promise<number> {
  return fireDueOf(obligationDeadlines, { db: deps.db, clock: { now: () => now }, ladder: deps.ladder }, now, batch);
}

export async function provisionalObligationIds(db: Db): Promise<string[]> {
  const rows = rowsOf<{ id: string }>(
    await db.execute(sql`select id from obligations where provisional and status = 'running' order by id`),
  );
  return rows.map((r) => r.id);
}

interface ObligationWrite {
  before: ObligationState | undefined;
  version: number;
  after: ObligationState;
  events: EngineEvent[];
  input: unknown;
  actor: string;
  now: number;
  title: string | null;
  unitId: string | null;
}

async function persistObligations(tx: Tx, given: readonly ObligationWrite[], ladder: LadderWiring | undefined): Promise<void> {
  if (given.length === 0) return;
  // The duty's ladder is walked with every change, in this transaction (ladder-writer.ts).
  const walked = await walkObligationLadders(tx, given, ladder);
  const items = given.map((a, i) => ({ ...a, after: walked.outcomes[i]!.state, ladderWake: walked.outcomes[i]!.wake }));
  const alertRows: (typeof alerts.$inferInsert)[] = [];
  const auditRows: (typeof auditLog.$inferInsert)[] = [];
  const messages: OutboxMessage[] = [];
  let earliest: number | null = null;
  const rows = items.map((a) => {
    const clockWake = nextObligationWake(a.after);
    const wake = clockWake === null ? a.ladderWake : a.ladderWake === null ? clockWake : Math.min(clockWake, a.ladderWake);
    const beforeWake = a.before ? nextObligationWake(a.before) : null;
    if (wake !== null && (beforeWake === null || wake < beforeWake)) earliest = Math.min(earliest ?? wake, wake);
    const now = new Date(a.now);
    if (a.after.provisional && !a.before?.provisional) {
      // Administrators must load the missing year; until then this due is a Monday–Friday estimate.
      const calendarAlertId = `alr_cal_${createHash('sha256').update(a.after.id).digest('hex').slice(0, 24)}`;
      alertRows.push({
        id: calendarAlertId,
        obligationId: a.after.id,
        kind: 'calendar_missing',
        clock: a.after.kind,
        dueAt: new Date(a.after.dueAt),
        unitId: a.unitId,
        at: now,
      });
      // Live boards learn of it at once (the API streams alerts named by events).
      messages.push({
        topic: TOPICS.events,
        key: `obligation:${a.after.id}`,
        payload: {
          v: 1,
          type: 'event',
          id: `evt_${calendarAlertId}`,
          event: 'calendar_missing',
          at: now.toISOString(),
          obligationId: a.after.id,
          alertId: calendarAlertId,
          clock: a.after.kind,
          unitId: a.unitId,
        } satisfies EventMessage,
      });
    }
    if (a.events.length === 0 && a.actor !== 'timer')
      auditRows.push({
        at: now,
        actor: a.actor,
        action: 'obligation.updated',
        entity: 'obligation',
        entityId: a.after.id,
        input: a.input,
        result: null,
      });
    for (const e of a.events) {
      let alertId: string | undefined;
      if (e.event === 'warning' || e.event === 'breached') {
        alertId = alertIdFor(`obl:${a.after.id}`, e);
        alertRows.push({
          id: alertId,
          obligationId: a.after.id,
          kind: e.event,
          clock: e.clock,
          dueAt: new Date(e.due),
          elapsed: e.event === 'warning' ? e.elapsed : null,
          unitId: a.unitId,
          at: new Date(e.at),
        });
      }
      const payload: EventMessage = {
        ...toEventMessage(a.after.id, a.title ?? a.after.id, a.unitId, e, alertId),
        obligationId: a.after.id,
      };
      delete payload.incidentId;
      payload.id = `evt_${createHash('sha256')
        .update(`obl|${a.after.id}|${JSON.stringify(e)}`)
        .digest('hex')
        .slice(0, 20)}`;
      messages.push({ topic: TOPICS.events, key: `obligation:${a.after.id}`, payload });
      auditRows.push({
        at: now,
        actor: a.actor,
        action: `obligation.${e.event}`,
        entity: 'obligation',
        entityId: a.after.id,
        input: a.input,
        result: payload,
      });
    }
    return {
      id: a.after.id,
      kind: a.after.kind,
      title: a.title,
      unitId: a.unitId,
      state: a.after,
      status: a.after.state,
      dueAt: new Date(a.after.dueAt),
      provisional: a.after.provisional,
      nextWakeAt: wake === null ? null : new Date(wake),
      version: a.version + 1,
      createdAt: now,
      updatedAt: now,
    };
  });
  const result = rowsOf<{ written: number }>(
    await tx.execute(sql`
      with obl as (
        insert into obligations (id, kind, title, unit_id, state, status, due_at, provisional, next_wake_at, version, created_at, updated_at)
        select id, kind, title, "unitId", state, status, "dueAt", provisional, "nextWakeAt", version, "createdAt", "updatedAt"
        from jsonb_to_recordset(${json(rows)}::jsonb) as r(id text, kind text, title text, "unitId" text, state jsonb, status text,
          "dueAt" timestamptz, provisional boolean, "nextWakeAt" timestamptz, version int, "createdAt" timestamptz, "updatedAt" timestamptz)
        on conflict (id) do update set title = excluded.title, unit_id = excluded.unit_id, state = excluded.state,
          status = excluded.status, due_at = excluded.due_at, provisional = excluded.provisional,
          next_wake_at = excluded.next_wake_at, version = excluded.version, updated_at = excluded.updated_at
        -- The fence, as for incidents.
        where obligations.version = excluded.version - 1
        returning id
      ),
      ${sideEffectCtes({ alerts: alertRows, audits: [...auditRows, ...walked.batch.audits], messages, at: new Date(items[0]!.now) })}
      select count(*)::int as written from obl`),
  );
  if ((result[0]?.written ?? 0) !== rows.length) throw new StaleWriteError('stale obligation write refused');
  await walked.batch.flush();
  // A due that is no longer provisional settles its calendar_missing alert; a fulfilment
  // recorded late but dated before the due withdraws the breach (as breach_retracted does for incidents).
  for (const a of items) {
    if (a.before?.state === 'breached' && a.after.state === 'met' && a.after.late === false) {
      await tx.execute(
        sql`update alerts set retracted_at = ${iso(a.now)} where obligation_id = ${a.after.id} and kind = 'breached' and retracted_at is null`,
      );
    }
    if (a.before?.provisional && !a.after.provisional) {
      await tx.execute(
        sql`update alerts set retracted_at = ${iso(a.now)} where obligation_id = ${a.after.id} and kind = 'calendar_missing' and retracted_at is null`,
      );
    }
  }
  if (earliest !== null) await tx.execute(sql`select pg_notify('huiying_wake', ${iso(earliest)})`);
}
