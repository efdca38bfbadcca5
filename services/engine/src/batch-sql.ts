import { type SQL, sql } from '@huiying/db';

/**
 * What every engine write emits besides the entity itself: alerts, audit rows and outbox events,
 * as data-modifying CTEs that read their rows from one jsonb parameter each. Fixed SQL text and
 * one round trip per batch (bench/README.md: the query builder cost more than the database).
 */
export interface SideEffects {
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
  audits: readonly { at: Date; actor: string; action: string; entity: string; entityId: string; input?: unknown; result?: unknown }[];
  messages: readonly { topic: string; key: string; payload: unknown }[];
  /** outbox.created_at for the batch. */
  at: Date;
}

export const json = (rows: readonly (object | string)[]) => JSON.stringify(rows);

/** `alr, aud, obx` CTEs, to follow the entity's own CTE in one `with` statement. */
export function sideEffectCtes(e: SideEffects): SQL {
  return sql`
      alr as (
        insert into alerts (id, incident_id, obligation_id, kind, clock, due_at, elapsed, unit_id, at)
        select id, "incidentId", "obligationId", kind, clock, "dueAt", elapsed, "unitId", at
        from jsonb_to_recordset(${json(e.alerts)}::jsonb) as r(id text, "incidentId" text, "obligationId" text, kind text,
          clock text, "dueAt" timestamptz, elapsed real, "unitId" text, at timestamptz)
        on conflict (id) do nothing
      ),
      aud as (
        insert into audit_log (at, actor, action, entity, entity_id, input, result)
        select at, actor, action, entity, "entityId", input, result
        from jsonb_to_recordset(${json(e.audits)}::jsonb) as r(at timestamptz, actor text, action text, entity text, "entityId" text,
          input jsonb, result jsonb)
      ),
      obx as (
        insert into outbox (topic, key, payload, created_at)
        select topic, key, payload, ${e.at.toISOString()}::timestamptz
        from jsonb_to_recordset(${json(e.messages.map((m, ord) => ({ ...m, ord })))}::jsonb) as r(topic text, key text, payload jsonb, ord int)
        order by ord
      )`;
}
