import { createHash } from 'node:crypto';
import { TOPICS, type EventMessage } from '@huiying/bus';
import { type clocks, type incidents, sql, type Tx } from '@huiying/db';
import { type EngineEvent, type IncidentState, type Ladder, nextIncidentWake } from '@huiying/domain';
import { type AuditRow, inputRefs, json, type OutboxRow } from './batch-sql.ts';
import { announceEarlierWake, earlierOf, writeFenced } from './deadlines.ts';
import { hydrateIncidentStates, storedIncidentState } from './ladder-refs.ts';
import { type LadderWiring, walkIncidentLadders } from './ladder-writer.ts';
import { reportCandidacyAt } from './report-candidacy.ts';
import { incidentStateChanges, type StateChanges } from './state-patch.ts';
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
export async function persistAll(
  tx: Tx,
  given: readonly PersistArgs[],
  ladder?: LadderWiring,
  /**
   * Let the event loop run other work (the timer's wakes) after this many ms of building rows: a
   * signal batch of hundreds builds for tens of ms. The timer's own batches do not yield (their
   * commit is what its lateness measures).
   */
  options: { yieldAfterMs?: number } = {},
): Promise<void> {
  if (given.length === 0) return;
  // States as read from the table name their ladder snapshots (ladder-refs.ts): whoever read
  // them, the ladder walk below and the domain see the snapshots. In place: the rows are the
  // caller's fresh reads, and an unchanged clock stays the same object in before and after.
  await hydrateIncidentStates(
    tx,
    given.flatMap((a) => (a.before === undefined ? [a.after] : [a.before, a.after])),
  );
  const walked = await walkIncidentLadders(tx, given, ladder);
  const items = given.map((a, i) => ({ ...a, after: walked.outcomes[i]!.state, ladderWake: walked.outcomes[i]!.wake }));
  const incidentRows: (typeof incidents.$inferInsert)[] = [];
  // Existing incidents whose columns stay as they are: only what changed of the state is sent.
  const patched: { id: string; changes: StateChanges; nextWakeAt: Date | null; version: number; updatedAt: Date | null }[] = [];
  const patchedAt = new Set<number>();
  const clockRows: (typeof clocks.$inferInsert)[] = [];
  const retractions: { incidentId: string; clock: string; due: number; at: number }[] = [];
  const auditRows: AuditRow[] = [];
  const messages: OutboxRow[] = [];
  const { inputs, ref: inputOf } = inputRefs();
  // The ladder snapshots the written states name (ladder-refs.ts), inserted where missing.
  const snapshots = new Map<string, Ladder>();
  let earliestMovedWake: number | null = null;

  let ranSince = performance.now();
  for (const a of items) {
    if (options.yieldAfterMs !== undefined && performance.now() - ranSince > options.yieldAfterMs) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      ranSince = performance.now();
    }
    const view = incidentView(a.after);
    const now = new Date(a.now);
    // The ladder's steps are wakes of the same timer, with the same precision.
    const clockWake = nextIncidentWake(a.after);
    const wake = earlierOf(clockWake, a.ladderWake);
    const before = a.before === undefined ? null : nextIncidentWake(a.before);
    if (wake !== null && (before === null || wake < before)) earliestMovedWake = Math.min(earliestMovedWake ?? wake, wake);
    const beforeView = a.before === undefined ? undefined : incidentView(a.before);
    // Stored as the table keeps it: each clock's ladder snapshot by reference.
    const stored = storedIncidentState(a.after, snapshots);
    const changes =
      a.before !== undefined && sameColumns(beforeView!, view)
        ? incidentStateChanges(storedIncidentState(a.before, new Map()), stored)
        : null;
    if (changes !== null) {
      patchedAt.add(incidentRows.length);
      // A timer wake leaves updated_at (the last signal or command) as it was: with no indexed
      // column changed, the row's write is a HOT update (migration 0033). What the stats rollup
      // needs of a breach, it finds by the clock's row.
      const updatedAt = a.actor === 'timer' ? null : now;
      patched.push({ id: view.id, changes, nextWakeAt: wake === null ? null : new Date(wake), version: a.version + 1, updatedAt });
    }
    incidentRows.push({
      id: view.id,
      title: view.title,
      level: view.level,
      unitId: view.unitId,
      status: view.status,
      startAt: new Date(view.startAt),
      state: stored,
      nextWakeAt: wake === null ? null : new Date(wake),
      version: a.version + 1,
      createdAt: now,
      updatedAt: now,
    });
    // The clock read model is rewritten only where it changed (a warning, for one, changes no row).
    const unchanged = new Set(beforeView === undefined ? [] : clockKeys(beforeView));
    for (const c of view.clocks) {
      const candidacy = candidacyOf(a.after, c.seq, c.dueAt);
      if (unchanged.has(clockKey(c, view.unitId)) && candidacy === candidacyOf(a.before, c.seq, c.dueAt)) continue;
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
        reportCandidacyAt: candidacy === null ? null : new Date(candidacy),
      });
    }
    if (a.before === undefined) {
      auditRows.push({
        at: now,
        actor: a.actor,
        action: 'incident.created',
        entity: 'incident',
        entityId: view.id,
        inputRef: inputOf(a.input),
        result: { level: view.level, startAt: iso(view.startAt) },
      });
    } else if (a.events.length === 0 && a.actor !== 'timer') {
      auditRows.push({
        at: now,
        actor: a.actor,
        action: 'incident.updated',
        entity: 'incident',
        entityId: view.id,
        inputRef: inputOf(a.input),
        result: null,
      });
    }
    for (const e of a.events) {
      const raises = e.event === 'warning' || e.event === 'breached' || e.event === 'nonqualifying_response';
      const alertId = raises ? alertIdFor(view.id, e) : undefined;
      if (e.event === 'breach_retracted') retractions.push({ incidentId: view.id, clock: e.clock, due: e.due, at: e.at });
      const payload = toEventMessage(view.id, view.title, view.unitId, e, alertId);
      messages.push({
        topic: TOPICS.events,
        key: view.id,
        payload,
        // Every clock transition, with the input that caused it (a command, a signal, or the timer).
        audit: { at: now, actor: a.actor, action: `clock.${e.event}`, entity: 'incident', entityId: view.id, input: inputOf(a.input) },
        ...(raises ? { alert: 'incident' as const } : {}),
      });
    }
    // An incident that changed without a clock event (assign, a title) still refreshes live views.
    // (A timer wake without one only walked the ladder: its notifications are audited instead.) A
    // new incident's clock events already name it — the live feed reads the incident on any
    // event that does — so it sends no second message to say the same.
    if (a.events.length === 0 && (a.actor !== 'timer' || a.before === undefined)) {
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
  // An existing incident is updated in place (no insert attempt, created_at untouched); a new
  // one is inserted, and a row already there refuses it like a stale version would.
  const fresh = incidentRows.filter((_, i) => items[i]!.before === undefined);
  const existing = incidentRows.filter((_, i) => items[i]!.before !== undefined && !patchedAt.has(i));
  await writeFenced(
    tx,
    sql`
      ins as (
        insert into incidents (id, title, level, unit_id, status, start_at, state, next_wake_at, version, created_at, updated_at)
        select id, title, level, "unitId", status, "startAt", state, "nextWakeAt", version, "createdAt", "updatedAt"
        from jsonb_to_recordset(${json(fresh)}::jsonb) as r(id text, title text, level text, "unitId" text, status text,
          "startAt" timestamptz, state jsonb, "nextWakeAt" timestamptz, version int, "createdAt" timestamptz, "updatedAt" timestamptz)
        on conflict (id) do nothing
        returning id, next_wake_at
      ),
      upd as (
        update incidents i set title = r.title, level = r.level, unit_id = r."unitId", status = r.status, start_at = r."startAt",
          state = r.state, next_wake_at = r."nextWakeAt", version = r.version, updated_at = r."updatedAt"
        from jsonb_to_recordset(${json(existing)}::jsonb) as r(id text, title text, level text, "unitId" text, status text,
          "startAt" timestamptz, state jsonb, "nextWakeAt" timestamptz, version int, "updatedAt" timestamptz)
        -- The fence: only the writer holding the version it read may write the next one.
        where i.id = r.id and i.version = r.version - 1
        returning i.id, i.next_wake_at
      ),
      pat as (
        -- What changed of the state (state-patch.ts, migration 0021); the columns derived from it did not change.
        update incidents i set state = jsonb_set_each(i.state, r.changes), next_wake_at = r."nextWakeAt", version = r.version,
          updated_at = coalesce(r."updatedAt", i.updated_at)
        from jsonb_to_recordset(${json(patched)}::jsonb) as r(id text, changes jsonb, "nextWakeAt" timestamptz, version int,
          "updatedAt" timestamptz)
        where i.id = r.id and i.version = r.version - 1
        returning i.id, i.next_wake_at
      ),
      written as materialized (select * from ins union all select * from upd union all select * from pat),
      clr as materialized (
        select * from jsonb_to_recordset(${json(clockRows)}::jsonb) as r("incidentId" text, seq int, kind text, state text, "startAt" timestamptz,
          "dueAt" timestamptz, "respondedAt" timestamptz, late boolean, "unitId" text, "updatedAt" timestamptz,
          "reportCandidacyAt" timestamptz)
      ),
      clu as (
        -- A clock's seq is stable for its incident's life, so the read model is updated in place (a plain
        -- update: an upsert's speculative insert and row lock cost more), and inserted where it has no row yet.
        update clocks c set kind = r.kind, state = r.state, start_at = r."startAt", due_at = r."dueAt", responded_at = r."respondedAt",
          late = r.late, unit_id = r."unitId", updated_at = r."updatedAt", report_candidacy_at = r."reportCandidacyAt"
        from clr r where c.incident_id = r."incidentId" and c.seq = r.seq
        returning c.incident_id, c.seq
      ),
      clk as (
        insert into clocks (incident_id, seq, kind, state, start_at, due_at, responded_at, late, unit_id, updated_at, report_candidacy_at)
        select "incidentId", seq, kind, state, "startAt", "dueAt", "respondedAt", late, "unitId", "updatedAt", "reportCandidacyAt"
        from clr r where not exists (select 1 from clu where clu.incident_id = r."incidentId" and clu.seq = r.seq)
        -- (Only when another engine created the incident first: its write is refused by the fence.)
        on conflict (incident_id, seq) do nothing
      ),
      wku as (
        -- The timer's queue (migration 0033) follows next_wake_at of the rows written, moved only where it moved.
        insert into incident_wakes (incident_id, wake_at) select id, next_wake_at from written where next_wake_at is not null
        on conflict (incident_id) do update set wake_at = excluded.wake_at where incident_wakes.wake_at is distinct from excluded.wake_at
      ),
      wkd as (delete from incident_wakes w using written where w.incident_id = written.id and written.next_wake_at is null),
      lsn as (
        -- Sorted: two batches naming the same new snapshots wait for each other in one order.
        insert into ladder_snapshots (id, ladder) select key, value from jsonb_each(${JSON.stringify(Object.fromEntries(snapshots))}::jsonb)
        order by key on conflict (id) do nothing
      )`,
    { alerts: [], audits: [...auditRows, ...walked.batch.audits], messages, inputs, at: new Date(items[0]!.now) },
    incidentRows.length,
    'incident',
  );
  // After the fence: a refused write has thrown, and the transaction queues nothing.
  await walked.batch.flush();
  for (const r of retractions) {
    await tx.execute(
      sql`update alerts set retracted_at = ${iso(r.at)} where incident_id = ${r.incidentId} and kind = 'breached' and clock = ${r.clock} and due_at = ${iso(r.due)}`,
    );
  }
  await announceEarlierWake(tx, earliestMovedWake);
}

type View = ReturnType<typeof incidentView>;
/** The incidents columns taken from the state are the same (so only the state's patch and the wake are written). */
const sameColumns = (b: View, a: View) =>
  b.id === a.id && b.title === a.title && b.level === a.level && b.unitId === a.unitId && b.status === a.status && b.startAt === a.startAt;

/** The clock's 通报-candidacy instant from its ladder snapshot (report-candidacy.ts); null without one. */
const candidacyOf = (state: IncidentState | undefined, seq: number, dueAt: number): number | null =>
  reportCandidacyAt(state?.clocks.find((c) => c.seq === seq)?.ladder, dueAt);

type ClockView = View['clocks'][number];
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
