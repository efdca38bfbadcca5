import { type AuditEntry, type SQL, sql } from '@huiying/db';

/**
 * What every engine write emits besides the entity itself: alerts, audit rows and outbox events,
 * as data-modifying CTEs that read their rows from one jsonb parameter each. Fixed SQL text and
 * one round trip per batch (bench/README.md: the query builder cost more than the database).
 *
 * A clock event is written three times — its outbox message, its audit row (the payload is the
 * audit's result) and, when it raises one, its alert — and the payload already says everything
 * the other two hold. So an event is sent once, with the few fields its audit row adds, and the
 * database derives the audit and alert rows from it: a timer batch sends about half the text it
 * did, and the engine serialises each payload once (bench/README.md, timer.ts).
 */
export interface SideEffects {
  /** Alerts that are not derived from an event's payload (a duty's calendar_missing). */
  alerts: readonly {
    id: string;
    incidentId?: string | null;
    obligationId?: string | null;
    kind: string;
    clock?: string | null;
    dueAt?: Date | null;
    elapsed?: number | null;
    unitId?: string | null;
    at: Date;
  }[];
  /**
   * Audit rows that are not an event's (created, updated, the ladder's). `inputRef` names the input
   * in `inputs` instead of `input` (a new incident's audit and its clock events' share one).
   */
  audits: readonly AuditRow[];
  /** Outbox messages in order; an event's carries its audit row and, when it raises one, its alert. */
  messages: readonly OutboxRow[];
  /** The inputs event audits refer to by index (a timer batch shares one). */
  inputs?: readonly unknown[];
  /** outbox.created_at for the batch. */
  at: Date;
}

/** An audit entry (packages/db) whose input may be named by its place in SideEffects.inputs. */
export interface AuditRow extends AuditEntry {
  /** Index into SideEffects.inputs (then no `input`). */
  inputRef?: number;
}

export interface OutboxRow {
  topic: string;
  key: string;
  payload: unknown;
  /** Audit this message: audit_log.result = the payload. */
  audit?: EventAudit;
  /**
   * The alert this event raises, and which column names its aggregate: alerts.incident_id
   * (payload.incidentId) or obligation_id (payload.obligationId). Its id, kind, clock, due,
   * elapsed, unit and instant are the payload's alertId, event, clock, due, elapsed, unitId, at.
   */
  alert?: 'incident' | 'obligation';
}

export interface EventAudit {
  at: Date;
  actor: string;
  action: string;
  entity: string;
  entityId: string;
  /** Index into SideEffects.inputs. */
  input: number;
}

export const json = (rows: readonly (object | string)[]) => JSON.stringify(rows);

/** The jsonb row of one message: its audit flattened to columns the statement reads. */
function messageRow(m: OutboxRow, ord: number): Record<string, unknown> {
  const r: Record<string, unknown> = { topic: m.topic, key: m.key, payload: m.payload, ord };
  if (m.audit) {
    r.auditAt = m.audit.at;
    r.actor = m.audit.actor;
    r.action = m.audit.action;
    r.entity = m.audit.entity;
    r.entityId = m.audit.entityId;
    r.input = m.audit.input;
  }
  if (m.alert) r.alertOf = m.alert;
  return r;
}

/** `alr, inp, aud, msg, obx, eva, evl` CTEs, to follow the entity's own CTE in one `with` statement. */
export function sideEffectCtes(e: SideEffects): SQL {
  return sql`
      alr as (
        insert into alerts (id, incident_id, obligation_id, kind, clock, due_at, elapsed, unit_id, at)
        select id, "incidentId", "obligationId", kind, clock, "dueAt", elapsed, "unitId", at
        from jsonb_to_recordset(${json(e.alerts)}::jsonb) as r(id text, "incidentId" text, "obligationId" text, kind text,
          clock text, "dueAt" timestamptz, elapsed real, "unitId" text, at timestamptz)
        on conflict (id) do nothing
      ),
      inp as materialized (select ${JSON.stringify(e.inputs ?? [])}::jsonb as inputs),
      aud as (
        insert into audit_log (at, actor, action, entity, entity_id, input, result)
        select at, actor, action, entity, "entityId", case when "inputRef" is null then input else (select inputs from inp) -> "inputRef" end, result
        from jsonb_to_recordset(${json(e.audits)}::jsonb) as r(at timestamptz, actor text, action text, entity text, "entityId" text,
          input jsonb, "inputRef" int, result jsonb)
      ),
      msg as materialized (
        select * from jsonb_to_recordset(${json(e.messages.map(messageRow))}::jsonb) as r(topic text, key text, payload jsonb, ord int,
          "auditAt" timestamptz, actor text, action text, entity text, "entityId" text, input int, "alertOf" text)
      ),
      obx as (
        insert into outbox (topic, key, payload, created_at)
        select topic, key, payload, ${e.at.toISOString()}::timestamptz from msg order by ord
      ),
      eva as (
        insert into audit_log (at, actor, action, entity, entity_id, input, result)
        select "auditAt", actor, action, entity, "entityId", (select inputs from inp) -> input, payload
        from msg where action is not null order by ord
      ),
      evl as (
        insert into alerts (id, incident_id, obligation_id, kind, clock, due_at, elapsed, unit_id, at)
        select payload->>'alertId', case when "alertOf" = 'incident' then payload->>'incidentId' end,
          case when "alertOf" = 'obligation' then payload->>'obligationId' end, payload->>'event', payload->>'clock',
          (payload->>'due')::timestamptz, (payload->>'elapsed')::real, payload->>'unitId', (payload->>'at')::timestamptz
        from msg where "alertOf" is not null
        on conflict (id) do nothing
      )`;
}

/** The inputs a batch's event audits refer to, each sent once (a timer batch's wakes share one). */
export function inputRefs(): { inputs: unknown[]; ref(input: unknown): number } {
  const inputs: unknown[] = [];
  const index = new Map<unknown, number>();
  return {
    inputs,
    ref(input) {
      let i = index.get(input);
      if (i === undefined) index.set(input, (i = inputs.push(input) - 1));
      return i;
    },
  };
}
