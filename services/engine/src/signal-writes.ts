/**
 * How a signal's decision is written: the incidents it touches (read and locked, or opened),
 * their new states through the incident writer, and the decision and its audit on the signal.
 * Shared by the bus's batch path (signals.ts) and a duty officer's promotion (promote.ts).
 */
import { rowsOf, sql, type Tx } from '@huiying/db';
import { applyIncidentInput, type EngineEvent, type IncidentInput, type IncidentState } from '@huiying/domain';
import { json } from './batch-sql.ts';
import { type SignalDecision, type SignalRow, signalInput, YIELD_AFTER_MS } from './decide.ts';
import { persistAll } from './incident-writer.ts';
import { type EngineDeps, incidentIdFor } from './store.ts';

/** A signal's decision, as written on its row and in the audit log. */
export interface Decided {
  id: string;
  incidentId: string | null;
  decision: SignalDecision;
  reason: string;
  ruleId: string | null;
  score: number | null;
  via: string | null;
  linkKey: string | null;
}

/** An incident touched by this batch: what it was when read (for the fence), and what it is now. */
export interface Touched {
  before: IncidentState | undefined;
  version: number;
  state: IncidentState;
  events: EngineEvent[];
  inputs: IncidentInput[];
  actor: string;
}

/** Read and lock incidents, in id order (two batches locking overlapping sets cannot deadlock). */
export async function loadIncidents(tx: Tx, ids: readonly string[]): Promise<Map<string, { state: IncidentState; version: number }>> {
  if (ids.length === 0) return new Map();
  const rows = rowsOf<{ id: string; state: IncidentState; version: number }>(
    await tx.execute(sql`
      select id, state, version from incidents
      where id in (select jsonb_array_elements_text(${json(ids)}::jsonb))
      order by id
      for update`),
  );
  return new Map(rows.map((r) => [r.id, { state: r.state, version: r.version }]));
}

/** Open a new incident for the signal (assigned to the unit it names, when known). */
export function openIncident(
  row: SignalRow,
  now: number,
  deps: EngineDeps,
  knownUnits: Set<string>,
  actor: string,
  incidentId = incidentIdFor(row.id),
): Touched {
  const input = signalInput(row, incidentId, now);
  let { state, events } = applyIncidentInput(undefined, input, deps.pack());
  const inputs = [input];
  // A ticket that names its handling unit (承办单位) arrives assigned, if we know that unit.
  if (row.unit_hint && knownUnits.has(row.unit_hint)) {
    const assign: IncidentInput = { type: 'assign', at: now, incident: incidentId, unit: row.unit_hint };
    const assigned = applyIncidentInput(state, assign, deps.pack());
    state = assigned.state;
    events = [...events, ...assigned.events];
    inputs.push(assign);
  }
  return { before: undefined, version: 0, state, events, inputs, actor };
}

export async function writeDecisions(
  tx: Tx,
  touched: Map<string, Touched>,
  decided: Decided[],
  now: number,
  extraAudit: string | null,
  ladder: EngineDeps['ladder'],
): Promise<void> {
  await persistAll(
    tx,
    [...touched.values()].map((t) => ({
      before: t.before,
      version: t.version,
      after: t.state,
      events: t.events,
      input: t.inputs.length === 1 ? t.inputs[0] : t.inputs,
      actor: t.actor,
      now,
    })),
    ladder,
    { yieldAfterMs: YIELD_AFTER_MS },
  );
  if (decided.length === 0) return;
  const at = new Date(now).toISOString();
  // The decisions are sent once: the audit rows are the updated signals' (RETURNING reads `d`), in
  // the batch's order (the timeline lists a batch's rows by id: a join after the open it joined).
  await tx.execute(sql`
    with upd as (
      update signals set incident_id = d."incidentId", processed_at = ${at}::timestamptz, decision = d.decision,
        decision_reason = d.reason, rule_id = d."ruleId", decision_score = d.score, decision_via = d.via, decided_at = ${at}::timestamptz,
        link_key = d."linkKey"
      from rows from (
          jsonb_to_recordset(${json(decided)}::jsonb) as (id text, "incidentId" text, decision text, reason text, "ruleId" text,
            score real, via text, "linkKey" text)
        ) with ordinality as d(id, "incidentId", decision, reason, "ruleId", score, via, "linkKey", n)
      where signals.id = d.id
      returning d.id, d."incidentId", d.decision, d.reason, d."ruleId", d.score, d.via, d.n
    )
    insert into audit_log (at, actor, action, entity, entity_id, input, result)
    select ${at}::timestamptz, ${extraAudit ?? 'engine'}, 'signal.' || u.decision, 'signal', u.id, null,
      jsonb_build_object('incidentId', u."incidentId", 'reason', u.reason, 'ruleId', u."ruleId", 'score', u.score, 'via', u.via)
    from upd u order by u.n`);
}
