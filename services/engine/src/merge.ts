/**
 * Duty officers correct grouping by hand: merge incidents that are one matter, split signals
 * that are another. Both go through the domain's own inputs, so the clocks follow replay.md
 * (the start is the earliest signal):
 *
 * - merge: the target receives every signal of the merged incidents as a signal input (its start
 *   becomes the earliest of them, moving running clocks), their recorded occurrence time, and
 *   their earliest original responses (a response already published counts for the target too);
 *   each merged incident is closed (`dismiss`, reason "merged into …"), waiving its running clocks.
 * - split: the chosen signals open a new incident (the earliest opens it, the others join it), so
 *   the new incident's clock starts at the earliest of them. The original is rebuilt by the
 *   domain from the inputs that remain its own (its other signals, occurrence times — its own
 *   and those of incidents merged into it —, grades, assignments, responses; rebuildIncident):
 *   its start becomes the earliest remaining signal and may move later. A running clock moves
 *   with it (warnings re-armed on the new due); a breach whose new due is still ahead is
 *   withdrawn (`breach_retracted`: the alert is marked retracted, what the ladder still had
 *   queued for that clock is cancelled, both audited); a met clock stays met.
 */
import type { SignalMessage } from '@huiying/bus';
import { cancelNotifications, clockKey, rowsOf, sql, type Tx } from '@huiying/db';
import {
  advanceIncident,
  applyIncidentInput,
  type EngineEvent,
  type IncidentInput,
  type IncidentState,
  nextIncidentWake,
  rebuildIncident,
  RESPONSE_KINDS,
  type ResponseKind,
} from '@huiying/domain';
import { json } from './batch-sql.ts';
import { signalInput } from './decide.ts';
import { incidentJurisdictions, lockJurisdictions } from './grouping.ts';
import { persistAll } from './incident-writer.ts';
import { type EngineDeps, incidentIdFor, NotFoundError } from './store.ts';

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
  /** When the engine last placed it in its incident (handled, merged, split). */
  decided_at: string | Date | null;
  /** Its source's jurisdiction: an incident opened by a split takes its first signal's, as signals.ts does. */
  jurisdiction: string;
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

async function signalsOf(tx: Tx, incidentIds: readonly string[]): Promise<SignalRow[]> {
  return rowsOf<SignalRow>(
    await tx.execute(sql`
      select id, source, title, published_at, received_at, incident_id, decided_at, jurisdiction from signals
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
    const startBefore = original.state.startAt;
    const remaining = all.filter((s) => !ids.includes(s.id));
    const rebuilt = rebuildIncident(original.state, await remainingInputs(tx, incidentId, remaining), now, deps.pack());
    original.state = rebuilt.state;
    original.events = [...original.events, ...rebuilt.events];
    const touched = new Map<string, Loaded>([
      [incidentId, original],
      [newId, fresh],
    ]);
    const wake = await finish(tx, deps, touched, actor, now, { type: 'split', from: incidentId, into: newId, signals: ids });
    await cancelRetractedSteps(tx, original, now);
    const at = new Date(now).toISOString();
    await tx.execute(sql`
      update signals set incident_id = ${newId}, decision = 'split', decision_reason = 'split', decision_via = ${incidentId},
        decided_at = ${at}::timestamptz
      where id in (select jsonb_array_elements_text(${json(ids)}::jsonb))`);
    // Each side's start as the split left it (the original's may have moved later: see the module comment).
    const starts = {
      [incidentId]: { startBefore: new Date(startBefore).toISOString(), startAt: new Date(original.state.startAt).toISOString() },
      [newId]: { startAt: new Date(fresh.state.startAt).toISOString() },
    };
    await tx.execute(sql`
      insert into audit_log (at, actor, action, entity, entity_id, input, result)
      select ${at}::timestamptz, ${actor}, 'incident.split', 'incident', x, ${json([{ from: incidentId, into: newId, signals: ids }])}::jsonb -> 0,
        ${json([starts])}::jsonb -> 0 -> x
      from jsonb_array_elements_text(${json([incidentId, newId])}::jsonb) as x`);
    return { incidentId: newId, wake };
  });
  if (result.wake !== null) deps.onWake?.(result.wake);
  return { incidentId: result.incidentId };
}

/**
 * What remains the incident's own after a split, as domain inputs: its remaining signals (each
 * at the moment the engine placed it, as it was applied then), the occurrence times recorded on
 * it or on incidents merged into it, its grades and assignments (from the audit log, where every
 * command is recorded with its input), and its responses (the responses table, merged ones
 * included).
 */
async function remainingInputs(tx: Tx, incidentId: string, remaining: readonly SignalRow[]): Promise<IncidentInput[]> {
  const signals = remaining.map((s) => signalInput(s, incidentId, ms(s.decided_at ?? s.received_at)));
  const commands = rowsOf<{ input: IncidentInput }>(
    await tx.execute(sql`
      with recursive family(id) as (
        select ${incidentId}::text
        union
        select jsonb_array_elements_text(a.input -> 'from') from audit_log a join family f
          on a.entity = 'incident' and a.entity_id = f.id and a.action = 'incident.merged' and a.input ->> 'target' = f.id
      ),
      given as (
        select a.id, x.input from audit_log a
        cross join lateral jsonb_array_elements(case jsonb_typeof(a.input) when 'array' then a.input else jsonb_build_array(a.input) end) as x(input)
        where a.entity = 'incident' and a.entity_id in (select id from family)
      )
      select distinct on (input::text) input from given
      where (input ->> 'type' = 'occurred' and input ->> 'incident' in (select id from family))
         or (input ->> 'type' in ('grade', 'assign') and input ->> 'incident' = ${incidentId})
      order by input::text, id`),
  ).map((r) => (r.input.type === 'occurred' ? { ...r.input, incident: incidentId } : r.input));
  const responses = rowsOf<{ kind: ResponseKind; original: boolean; published_at: string | Date; recorded_at: string | Date }>(
    await tx.execute(
      sql`select kind, original, published_at, recorded_at from responses where incident_id = ${incidentId} order by recorded_at, id`,
    ),
  ).map((r): IncidentInput => ({
    type: 'response',
    at: ms(r.recorded_at),
    incident: incidentId,
    kind: r.kind,
    original: r.original,
    publishedAt: ms(r.published_at),
  }));
  return [...signals, ...commands, ...responses];
}

/**
 * A breach the split withdrew: the clock runs again, so the ladder's steps still queued for the
 * breach (reminders, escalations) are cancelled (audited by cancelNotifications).
 */
async function cancelRetractedSteps(tx: Tx, l: Loaded, now: number): Promise<void> {
  for (const e of l.events) {
    if (e.event !== 'breach_retracted') continue;
    const c = l.state.clocks.find((x) => x.kind === e.clock && x.state === 'running');
    if (c) await cancelNotifications(tx, clockKey({ incidentId: l.state.id, clockSeq: c.seq }), new Date(now), 'breach retracted: split');
  }
}
