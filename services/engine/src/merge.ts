/**
 * Duty officers correct grouping by hand: merge incidents that are one matter, split signals
 * that are another. Both go through the domain's own inputs, so the clocks follow replay.md:
 *
 * - merge: the target receives every signal of the merged incidents as a signal input (its start
 *   becomes the earliest of them, moving running clocks), their recorded occurrence time, and
 *   their earliest original responses (a response already published counts for the target too);
 *   each merged incident is closed (`dismiss`, reason "merged into …"), waiving its running clocks.
 * - split: the chosen signals open a new incident (the earliest opens it, the others join it), so
 *   the new incident's clock starts at the earliest of them. The original keeps its clocks: the
 *   domain's start only ever moves earlier, and a split must not hand a unit more time on a
 *   matter that was public already; the duty officer records that if it was wrong.
 */
import type { SignalMessage } from '@huiying/bus';
import { rowsOf, sql, type Tx } from '@huiying/db';
import {
  advanceIncident,
  applyIncidentInput,
  type EngineEvent,
  type IncidentInput,
  type IncidentState,
  nextIncidentWake,
  RESPONSE_KINDS,
} from '@huiying/domain';
import { json } from './batch-sql.ts';
import { persistAll } from './incident-writer.ts';
import { type EngineDeps, incidentIdFor, NotFoundError } from './store.ts';
import { incidentJurisdictions, lockJurisdictions } from './signals.ts';

/** A merge or split that does not apply (a closed incident, a signal of another incident, …). */
export class RegroupRefused extends Error {
  override name = 'RegroupRefused';
}

interface Loaded {
  /** undefined for an incident this change creates. */
  before: IncidentState | undefined;
  version: number;
  state: IncidentState;
  events: EngineEvent[];
  inputs: IncidentInput[];
}

interface SignalRow {
  id: string;
  source: SignalMessage['source'];
  title: string | null;
  published_at: string | Date | null;
  received_at: string | Date;
  incident_id: string | null;
}

const ms = (v: string | Date) => new Date(v).getTime();

async function loadForUpdate(tx: Tx, ids: readonly string[], now: number): Promise<Map<string, Loaded>> {
  const rows = rowsOf<{ id: string; state: IncidentState; version: number }>(
    await tx.execute(
      sql`select id, state, version from incidents where id in (select jsonb_array_elements_text(${json(ids)}::jsonb)) order by id for update`,
    ),
  );
  const out = new Map<string, Loaded>();
  for (const r of rows) {
    // Timers due before now fire first, as for any command.
    const overdue = advanceIncident(r.state, now - 1);
    out.set(r.id, { before: r.state, version: r.version, state: overdue.state, events: overdue.events, inputs: [] });
  }
  for (const id of ids) if (!out.has(id)) throw new NotFoundError(`incident ${id} not found`);
  return out;
}

function apply(l: Loaded, input: IncidentInput, deps: EngineDeps): void {
  const r = applyIncidentInput(l.state, input, deps.pack());
  l.state = r.state;
  l.events = [...l.events, ...r.events];
  l.inputs.push(input);
}

function signalInput(row: SignalRow, incident: string, now: number): IncidentInput {
  return {
    type: 'signal',
    at: now,
    incident,
    source: row.source,
    ...(row.published_at !== null ? { publishedAt: ms(row.published_at) } : {}),
    ...(row.title ? { title: row.title } : {}),
  };
}

async function signalsOf(tx: Tx, incidentIds: readonly string[]): Promise<SignalRow[]> {
  return rowsOf<SignalRow>(
    await tx.execute(sql`
      select id, source, title, published_at, received_at, incident_id from signals
      where incident_id in (select jsonb_array_elements_text(${json(incidentIds)}::jsonb))
      order by coalesce(published_at, received_at), id for update`),
  );
}

async function finish(
  tx: Tx,
  deps: EngineDeps,
  touched: Map<string, Loaded>,
  actor: string,
  now: number,
  audit: object,
): Promise<number | null> {
  await persistAll(
    tx,
    [...touched.values()].map((l) => ({
      before: l.before,
      version: l.version,
      after: l.state,
      events: l.events,
      input: audit,
      actor,
      now,
    })),
    deps.ladder,
  );
  let wake: number | null = null;
  for (const l of touched.values()) {
    const w = nextIncidentWake(l.state);
    if (w !== null) wake = Math.min(wake ?? w, w);
  }
  return wake;
}

/** Merge `from` incidents into `target` (see the module comment). Returns the signals moved. */
export async function mergeIncidents(deps: EngineDeps, target: string, from: readonly string[], actor: string): Promise<{ moved: number }> {
  const now = deps.clock.now();
  const sources = [...new Set(from)];
  if (sources.includes(target)) throw new RegroupRefused('an incident cannot be merged into itself');
  const result = await deps.db.transaction(async (tx) => {
    await lockJurisdictions(tx, await incidentJurisdictions(tx, [target, ...sources]));
    const loaded = await loadForUpdate(tx, [target, ...sources], now);
    for (const [id, l] of loaded)
      if (l.state.status !== 'open') throw new RegroupRefused(`incident ${id} is closed: only open incidents are merged`);
    const t = loaded.get(target)!;
    const moved = await signalsOf(tx, sources);
    for (const s of moved) apply(t, signalInput(s, target, now), deps);
    for (const id of sources) {
      const src = loaded.get(id)!;
      if (src.state.startAt < t.state.startAt)
        apply(t, { type: 'occurred', at: now, incident: target, occurredAt: src.state.startAt }, deps);
      for (const kind of RESPONSE_KINDS) {
        const r = src.state.earliestResponses[kind];
        if (!r) continue;
        apply(
          t,
          {
            type: 'response',
            at: now,
            incident: target,
            kind,
            original: true,
            publishedAt: r.publishedAt,
            ...(r.unit !== null ? { unit: r.unit } : {}),
            ...(r.channel !== null ? { channel: r.channel } : {}),
            ...(r.url !== null ? { url: r.url } : {}),
          },
          deps,
        );
      }
      apply(src, { type: 'dismiss', at: now, incident: id, reason: `merged into ${target}` }, deps);
    }
    const wake = await finish(tx, deps, loaded, actor, now, { type: 'merge', target, from: sources });
    const at = new Date(now).toISOString();
    await tx.execute(sql`
      update signals set decision_via = incident_id, incident_id = ${target}, decision = 'merged',
        decision_reason = 'merged', decided_at = ${at}::timestamptz
      where incident_id in (select jsonb_array_elements_text(${json(sources)}::jsonb))`);
    await tx.execute(
      sql`update responses set incident_id = ${target} where incident_id in (select jsonb_array_elements_text(${json(sources)}::jsonb))`,
    );
    await tx.execute(sql`
      insert into audit_log (at, actor, action, entity, entity_id, input)
      select ${at}::timestamptz, ${actor}, 'incident.merged', 'incident', x, ${json([{ target, from: sources, signals: moved.map((s) => s.id) }])}::jsonb -> 0
      from jsonb_array_elements_text(${json([target, ...sources])}::jsonb) as x`);
    return { moved: moved.length, wake };
  });
  if (result.wake !== null) deps.onWake?.(result.wake);
  return { moved: result.moved };
}

/** Split `signalIds` out of `incidentId` into a new incident (see the module comment). */
export async function splitIncident(
  deps: EngineDeps,
  incidentId: string,
  signalIds: readonly string[],
  actor: string,
): Promise<{ incidentId: string }> {
  const now = deps.clock.now();
  const ids = [...new Set(signalIds)];
  const result = await deps.db.transaction(async (tx) => {
    await lockJurisdictions(tx, await incidentJurisdictions(tx, [incidentId]));
    const loaded = await loadForUpdate(tx, [incidentId], now);
    const original = loaded.get(incidentId)!;
    if (original.state.status !== 'open') throw new RegroupRefused(`incident ${incidentId} is closed`);
    const all = await signalsOf(tx, [incidentId]);
    const chosen = all.filter((s) => ids.includes(s.id));
    if (chosen.length !== ids.length) throw new RegroupRefused('every signal split out must belong to this incident');
    if (chosen.length === all.length) throw new RegroupRefused('at least one signal must stay with the incident');
    const first = chosen[0]!;
    const newId = incidentIdFor(`${first.id}|split|${incidentId}`);
    const created = applyIncidentInput(undefined, signalInput(first, newId, now), deps.pack());
    const fresh: Loaded = { before: undefined, version: 0, state: created.state, events: created.events, inputs: [] };
    for (const s of chosen.slice(1)) apply(fresh, signalInput(s, newId, now), deps);
    // The original is only recorded as changed (its clocks stay; see the module comment).
    const touched = new Map<string, Loaded>([
      [incidentId, original],
      [newId, fresh],
    ]);
    const wake = await finish(tx, deps, touched, actor, now, { type: 'split', from: incidentId, into: newId, signals: ids });
    const at = new Date(now).toISOString();
    await tx.execute(sql`
      update signals set incident_id = ${newId}, decision = 'split', decision_reason = 'split', decision_via = ${incidentId},
        decided_at = ${at}::timestamptz
      where id in (select jsonb_array_elements_text(${json(ids)}::jsonb))`);
    await tx.execute(sql`
      insert into audit_log (at, actor, action, entity, entity_id, input)
      select ${at}::timestamptz, ${actor}, 'incident.split', 'incident', x, ${json([{ from: incidentId, into: newId, signals: ids }])}::jsonb -> 0
      from jsonb_array_elements_text(${json([incidentId, newId])}::jsonb) as x`);
    return { incidentId: newId, wake };
  });
  if (result.wake !== null) deps.onWake?.(result.wake);
  return { incidentId: result.incidentId };
}
