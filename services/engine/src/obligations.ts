import { createHash } from 'node:crypto';
import { type EventMessage, TOPICS } from '@huiying/bus';
import { type alerts, type auditLog, type Db, rowsOf, sql, type Tx } from '@huiying/db';
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
import { inputRefs, json, type OutboxRow } from './batch-sql.ts';
import type { CalendarService } from './calendar.ts';
import {
  type AggregateWrite,
  announceEarlierWake,
  applyCommandOf,
  type DeadlineKind,
  earlierOf,
  fireDueOf,
  writeFenced,
} from './deadlines.ts';
import { alertIdFor, toEventMessage } from './incident-writer.ts';
import { type LadderWiring, walkObligationLadders } from './ladder-writer.ts';
import { reportCandidacyAt } from './report-candidacy.ts';

export interface ObligationDeps {
  db: Db;
  clock: { now(): number };
  /** The pack in force, asked at each use (see EngineDeps.pack). */
  pack: () => RulePack;
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
  given: ObligationInput,
  actor: string,
  meta: ObligationMeta = {},
): Promise<{ state: ObligationState; events: EngineEvent[] }> {
  const input =
    given.type === 'obligation' && given.jurisdiction === undefined ? await withUnitJurisdiction(deps.db, given, meta.unit) : given;
  return applyCommandOf(obligationDeadlines, deps, {
    id: input.id,
    at: input.at,
    input,
    actor,
    mustExist: input.type !== 'obligation',
    decide: (state, loaded) => ({
      ...applyWithCalendar(state, input, deps.pack(), deps.calendars),
      extra: { title: meta.title ?? loaded?.extra.title ?? null, unitId: meta.unit ?? loaded?.extra.unitId ?? null },
    }),
  }).then(({ state, events }) => ({ state, events }));
}

/** A new duty is in its unit's jurisdiction (units.jurisdiction, 0026), whose ladder it snapshots; no unit: the default. */
async function withUnitJurisdiction(
  db: Db,
  input: Extract<ObligationInput, { type: 'obligation' }>,
  unit: string | undefined,
): Promise<ObligationInput> {
  if (unit === undefined) return input;
  const [row] = rowsOf<{ jurisdiction: string }>(await db.execute(sql`select jurisdiction from units where id = ${unit}`));
  return row === undefined ? input : { ...input, jurisdiction: row.jurisdiction };
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

/** What a duty row keeps besides its state: the title and unit its events and alerts carry. */
interface DutyMeta {
  title: string | null;
  unitId: string | null;
}

/** Working-day duties as an aggregate with deadlines: the same command and timer path as incidents (deadlines.ts). */
export const obligationDeadlines: DeadlineKind<ObligationState, DutyMeta> = {
  entity: 'obligation',
  table: 'obligations',
  queue: { table: 'obligations', key: 'id', at: 'next_wake_at' },
  columns: 'state, version, title, unit_id',
  read: (row) => ({
    state: row.state as ObligationState,
    version: row.version as number,
    extra: { title: row.title as string | null, unitId: row.unit_id as string | null },
  }),
  advance: advanceObligation,
  nextWake: nextObligationWake,
  persist: (tx, writes, ladder) => persistObligations(tx, writes, ladder),
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

type ObligationWrite = AggregateWrite<ObligationState, DutyMeta>;

/** The duty's 通报-candidacy instant from its ladder snapshot (report-candidacy.ts), for the row. */
function reportCandidacyIso(s: ObligationState): string | null {
  const at = reportCandidacyAt(s.ladder, s.dueAt);
  return at === null ? null : new Date(at).toISOString();
}

async function persistObligations(tx: Tx, given: readonly ObligationWrite[], ladder: LadderWiring | undefined): Promise<void> {
  if (given.length === 0) return;
  // The duty's ladder is walked with every change, in this transaction (ladder-writer.ts).
  const walked = await walkObligationLadders(
    tx,
    given.map((a) => ({ ...a, title: a.extra.title, unitId: a.extra.unitId })),
    ladder,
  );
  const items = given.map((a, i) => ({ ...a, after: walked.outcomes[i]!.state, ladderWake: walked.outcomes[i]!.wake }));
  const alertRows: (typeof alerts.$inferInsert)[] = [];
  const auditRows: (typeof auditLog.$inferInsert)[] = [];
  const messages: OutboxRow[] = [];
  const { inputs, ref: inputOf } = inputRefs();
  let earliest: number | null = null;
  const rows = items.map((a) => {
    const clockWake = nextObligationWake(a.after);
    const wake = earlierOf(clockWake, a.ladderWake);
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
        unitId: a.extra.unitId,
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
          unitId: a.extra.unitId,
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
      const raises = e.event === 'warning' || e.event === 'breached';
      const alertId = raises ? alertIdFor(`obl:${a.after.id}`, e) : undefined;
      const payload: EventMessage = {
        ...toEventMessage(a.after.id, a.extra.title ?? a.after.id, a.extra.unitId, e, alertId),
        obligationId: a.after.id,
      };
      delete payload.incidentId;
      payload.id = `evt_${createHash('sha256')
        .update(`obl|${a.after.id}|${JSON.stringify(e)}`)
        .digest('hex')
        .slice(0, 20)}`;
      messages.push({
        topic: TOPICS.events,
        key: `obligation:${a.after.id}`,
        payload,
        audit: {
          at: now,
          actor: a.actor,
          action: `obligation.${e.event}`,
          entity: 'obligation',
          entityId: a.after.id,
          input: inputOf(a.input),
        },
        ...(raises ? { alert: 'obligation' as const } : {}),
      });
    }
    return {
      id: a.after.id,
      kind: a.after.kind,
      title: a.extra.title,
      unitId: a.extra.unitId,
      state: a.after,
      status: a.after.state,
      dueAt: new Date(a.after.dueAt),
      provisional: a.after.provisional,
      reportCandidacyAt: reportCandidacyIso(a.after),
      nextWakeAt: wake === null ? null : new Date(wake),
      version: a.version + 1,
      createdAt: now,
      updatedAt: now,
    };
  });
  // As for incidents: an existing duty is updated in place past the fence, a new one inserted.
  const fresh = rows.filter((_, i) => items[i]!.before === undefined);
  const existing = rows.filter((_, i) => items[i]!.before !== undefined);
  await writeFenced(
    tx,
    sql`
      ins as (
        insert into obligations (id, kind, title, unit_id, state, status, due_at, provisional, next_wake_at, version, created_at, updated_at,
          report_candidacy_at)
        select id, kind, title, "unitId", state, status, "dueAt", provisional, "nextWakeAt", version, "createdAt", "updatedAt",
          "reportCandidacyAt"
        from jsonb_to_recordset(${json(fresh)}::jsonb) as r(id text, kind text, title text, "unitId" text, state jsonb, status text,
          "dueAt" timestamptz, provisional boolean, "nextWakeAt" timestamptz, version int, "createdAt" timestamptz, "updatedAt" timestamptz,
          "reportCandidacyAt" timestamptz)
        on conflict (id) do nothing
        returning id
      ),
      upd as (
        update obligations o set title = r.title, unit_id = r."unitId", state = r.state, status = r.status, due_at = r."dueAt",
          provisional = r.provisional, next_wake_at = r."nextWakeAt", version = r.version, updated_at = r."updatedAt",
          report_candidacy_at = r."reportCandidacyAt"
        from jsonb_to_recordset(${json(existing)}::jsonb) as r(id text, title text, "unitId" text, state jsonb, status text,
          "dueAt" timestamptz, provisional boolean, "nextWakeAt" timestamptz, version int, "updatedAt" timestamptz,
          "reportCandidacyAt" timestamptz)
        -- The fence, as for incidents.
        where o.id = r.id and o.version = r.version - 1
        returning o.id
      ),
      written as (select id from ins union all select id from upd)`,
    { alerts: alertRows, audits: [...auditRows, ...walked.batch.audits], messages, inputs, at: new Date(items[0]!.now) },
    rows.length,
    'duty',
  );
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
  await announceEarlierWake(tx, earliest);
}
