/**
 * The escalation ladder inside the writers: after every change of an incident or a duty (a
 * signal, a command, a timer wake) its clocks' ladders are walked to `now`, and what fell due
 * becomes notification rows in the same transaction as the clock change; a clock that stopped
 * cancels what is still queued for it. The dispatcher (packages/notify) delivers the rows.
 *
 * Without wiring (a process that cannot render messages, such as an API process without the
 * duty mailbox), a command fires nothing here: the walk is not stored and the row's wake is set
 * to the step's instant, so the engine's timer, which has the wiring, fires it at once. A timer
 * without wiring (an engine started without it, in tests) walks on without queuing, so it never
 * wakes for the same step again. Cancelling needs no wiring and is always done.
 */
import {
  type auditLog,
  cancelNotifications,
  clockKey,
  enqueueNotifications,
  type NewNotification,
  rowsOf,
  sql,
  type Tx,
} from '@huiying/db';
import {
  advanceIncident,
  type ClockFiring,
  type EngineEvent,
  type IncidentClock,
  type IncidentState,
  maskPersonalData,
  type ObligationState,
  type RoutingRule,
  stepIncidentLadders,
  stepObligationLadder,
} from '@huiying/domain';
import {
  type ClockFacts,
  contactsFor,
  type Directory,
  loadDirectory,
  officersOnShift,
  planLadderNotifications,
  renderRepostMessage,
} from '@huiying/notify';
import { json } from './batch-sql.ts';

/** What the writers need to turn ladder firings into messages. */
export interface LadderWiring {
  /** The console's base URL, for the deep link in every message. */
  dashboardUrl: string;
  /** The 政务公开办 duty mailbox (unassigned matters, units without a supervising office). */
  dutyEmail: string | null;
  routing?: RoutingRule;
}

const iso = (ms: number) => new Date(ms).toISOString();
const minOf = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.min(a, b));

export interface LadderOutcome<S> {
  /** The state to store (with its ladders walked, unless there was no wiring to fire them). */
  state: S;
  /** The ladder's next wake, to store as min(clock wake, this). */
  wake: number | null;
}

interface Pending {
  firings: { firing: ClockFiring; now: number }[];
  notices: Set<string>;
}

/** Per write: rows to queue and clocks to cancel, flushed once for the batch. */
export class LadderBatch {
  private readonly rows: NewNotification[] = [];
  private latest = 0;
  readonly audits: (typeof auditLog.$inferInsert)[] = [];
  private readonly cancels: { key: string; reason: string; at: number }[] = [];
  private directory: Directory | undefined;

  constructor(
    private readonly tx: Tx,
    readonly wiring: LadderWiring | undefined,
  ) {}

  /** The directory, with the duty roster around `at` (a day either side: one batch's steps are close together). */
  async dir(at: number): Promise<Directory> {
    this.directory ??= await loadDirectory(this.tx, { dutyEmail: this.wiring?.dutyEmail ?? null, rosterAt: at });
    return this.directory;
  }

  queue(rows: readonly NewNotification[], at: number): void {
    this.rows.push(...rows);
    this.latest = Math.max(this.latest, at);
  }

  cancel(key: string, reason: string, at: number): void {
    this.cancels.push({ key, reason, at });
  }

  async flush(): Promise<void> {
    for (const c of this.cancels) await cancelNotifications(this.tx, c.key, new Date(c.at), c.reason);
    if (this.rows.length === 0) return;
    const ids = await enqueueNotifications(this.tx, new Date(this.latest), this.rows);
    // Delivered at commit: every dispatcher listening (this process or another) looks at once.
    if (ids.length > 0) await this.tx.execute(sql`select pg_notify('huiying_notify', ${String(ids.length)})`);
  }
}

const clockFacts = (c: IncidentClock): ClockFacts & { seq: number } => ({
  kind: c.kind,
  startAt: c.startAt,
  dueAt: c.dueAt,
  spanMs: c.spanMs,
  state: c.state,
  seq: c.seq,
});

/** When each clock's breach alert was acknowledged (only acknowledged ones are returned). */
async function acknowledgements(tx: Tx, column: 'incident_id' | 'obligation_id', ids: readonly string[]): Promise<Map<string, number>> {
  if (ids.length === 0) return new Map();
  const rows = rowsOf<{ id: string; clock: string | null; due_at: string | Date | null; acknowledged_at: string | Date }>(
    await tx.execute(
      sql`select ${sql.raw(column)} as id, clock, due_at, acknowledged_at from alerts
          where ${sql.raw(column)} in (select jsonb_array_elements_text(${json(ids)}::jsonb)) and kind = 'breached'
            and acknowledged_at is not null and retracted_at is null`,
    ),
  );
  const out = new Map<string, number>();
  for (const r of rows) {
    const key = `${r.id}|${r.clock ?? ''}|${r.due_at ? new Date(r.due_at).getTime() : ''}`;
    const at = new Date(r.acknowledged_at).getTime();
    out.set(key, Math.min(out.get(key) ?? at, at));
  }
  return out;
}

/**
 * Only a clock that was breached before this write can have an acknowledged breach alert: one
 * breaching now gets its alert in this very transaction. (The timer's breaches, by far the most
 * common write, so skip the lookup.)
 */
const needsAcks = (
  after: readonly { seq?: number; state: string; ladder?: unknown }[],
  before: readonly { seq?: number; state: string }[],
) => after.some((c) => c.state === 'breached' && c.ladder && before.some((b) => b.seq === c.seq && b.state === 'breached'));

export interface IncidentLadderItem {
  before: IncidentState | undefined;
  after: IncidentState;
  events: readonly EngineEvent[];
  actor: string;
  now: number;
}

/**
 * Walk the ladders of a batch of incident writes. Returns, per item, the state to store and
 * the ladder's next wake; queues the rows (call `flush` on the returned batch after the
 * incidents are written, in the same transaction).
 */
export async function walkIncidentLadders(
  tx: Tx,
  items: readonly IncidentLadderItem[],
  wiring: LadderWiring | undefined,
): Promise<{ outcomes: LadderOutcome<IncidentState>[]; batch: LadderBatch }> {
  const batch = new LadderBatch(tx, wiring);
  const acks = await acknowledgements(
    tx,
    'incident_id',
    items.filter((a) => a.before !== undefined && needsAcks(a.after.clocks, a.before.clocks)).map((a) => a.after.id),
  );
  const ackOf = (id: string) => (c: IncidentClock) => acks.get(`${id}|${c.kind}|${c.dueAt}`) ?? null;
  const outcomes: LadderOutcome<IncidentState>[] = [];
  for (const a of items) {
    const pending: Pending = { firings: [], notices: new Set() };
    let after = a.after;
    // Before the input: steps due until just before it, judged by the clock as it stood.
    if (a.before !== undefined && a.actor !== 'timer' && a.now - 1 > a.before.asOf) {
      const pre = stepIncidentLadders(advanceIncident(a.before, a.now - 1).state, a.now - 1, ackOf(a.after.id));
      for (const f of pre.firings) pending.firings.push({ firing: f, now: a.now - 1 });
      for (const c of pre.stopped) batch.cancel(clockKey({ incidentId: a.after.id, clockSeq: c.seq! }), 'clock stopped', a.now);
      // Carry the walk over to the clocks the input left in the same run (same start of the walk).
      const walked = new Map(pre.state.clocks.map((c) => [c.seq, c.ladder]));
      after = {
        ...after,
        clocks: after.clocks.map((c) => {
          const w = walked.get(c.seq);
          return w && c.ladder && w.progress.since === c.ladder.progress.since ? { ...c, ladder: w } : c;
        }),
      };
    }
    const step = stepIncidentLadders(after, a.now, ackOf(a.after.id));
    for (const f of step.firings) pending.firings.push({ firing: f, now: a.now });
    for (const s of step.stopped) {
      const c = a.after.clocks.find((x) => x.seq === s.seq);
      batch.cancel(clockKey({ incidentId: a.after.id, clockSeq: s.seq! }), `clock ${c?.state ?? 'stopped'}`, a.now);
    }
    const reposts = wiring ? a.events.filter((e) => e.event === 'nonqualifying_response') : [];
    if (!wiring && pending.firings.length > 0 && a.actor !== 'timer') {
      // Leave the walk where it was and wake the timer (which has the wiring) for the steps.
      const due = Math.min(...pending.firings.map((f) => f.now));
      outcomes.push({ state: a.after, wake: minOf(due, step.nextWake) });
      continue;
    }
    outcomes.push({ state: step.state, wake: step.nextWake });
    if (!wiring || (pending.firings.length === 0 && reposts.length === 0)) continue;
    const dir = await batch.dir(a.now);
    const state = step.state;
    const subject = { type: 'incident' as const, id: state.id, title: maskPersonalData(state.title ?? state.id), level: state.level };
    const live = (at: number) =>
      state.clocks.filter((c) => c.state === 'running' || (c.state === 'breached' && c.dueAt <= at)).map(clockFacts);
    for (const { firing: f, now } of pending.firings) {
      const clock = state.clocks.find((c) => c.seq === f.seq)!;
      // One notice per incident and evaluation, listing every due time (a grade starts two clocks at once).
      if (f.firing.kind === 'notice') {
        if (pending.notices.has(String(now))) continue;
        pending.notices.add(String(now));
      }
      const rows = planLadderNotifications({
        firing: f.firing,
        subject,
        unitId: f.unit,
        clock: clockFacts(clock),
        ...(f.firing.kind === 'notice' ? { clocks: live(now) } : {}),
        ...(f.elapsed !== null ? { elapsed: f.elapsed } : {}),
        now,
        dashboardUrl: wiring!.dashboardUrl,
        directory: dir,
        ...(wiring!.routing ? { routing: wiring!.routing } : {}),
      });
      batch.queue(rows, now);
      batch.audits.push(escalationAudit(a.actor, now, 'incident', state.id, f, rows.length, dir));
    }
    for (const e of reposts) batch.queue(repostRows(state, e.at, dir, wiring!), a.now);
  }
  return { outcomes, batch };
}

/** 回应不计入: the responsible unit (or the duty office) is told why a repost does not count. */
function repostRows(state: IncidentState, at: number, dir: Directory, wiring: LadderWiring): NewNotification[] {
  const subject = { type: 'incident' as const, id: state.id, title: maskPersonalData(state.title ?? state.id), level: state.level };
  const unit = state.unit === null ? undefined : dir.units.get(state.unit);
  const clocks = state.clocks.filter((c) => c.state === 'running' || c.state === 'breached').map(clockFacts);
  const out: NewNotification[] = [];
  for (const contact of contactsFor('unit', state.unit, dir)) {
    const recipient = contact.addresses.email;
    if (!recipient) continue;
    const m = renderRepostMessage({
      subject,
      recipientName: contact.name,
      unitName: unit?.name ?? '（待交办）',
      clocks,
      now: at,
      dashboardUrl: wiring.dashboardUrl,
    });
    out.push({
      // Not a clock's step: a met clock does not withdraw it.
      clockKey: `incident:${state.id}:response`,
      step: `repost@${iso(at)}`,
      stepKind: 'repost',
      role: 'unit',
      recipient,
      recipientUnitId: contact.unitId,
      channel: 'email',
      groupKey: state.id,
      incidentId: state.id,
      clockKind: null,
      clockSeq: null,
      subject: m.subject,
      text: m.text,
      html: m.html,
    });
  }
  return out;
}

function escalationAudit(
  actor: string,
  at: number,
  entity: 'incident' | 'obligation',
  id: string,
  f: ClockFiring,
  queued: number,
  dir: Directory,
) {
  // A step for the duty officer while the roster has nobody on shift went to the duty mailbox: say so.
  const toDuty = f.firing.to.includes('duty') || f.firing.cc.includes('duty');
  const nobodyOnShift = toDuty && dir.roster !== undefined && officersOnShift(dir.roster, at).length === 0;
  return {
    at: new Date(at),
    actor,
    action: `${entity === 'incident' ? 'clock' : 'obligation'}.escalated`,
    entity,
    entityId: id,
    input: null,
    result: {
      clock: f.kind,
      seq: f.seq,
      step: f.firing.key,
      kind: f.firing.kind,
      to: f.firing.to,
      cc: f.firing.cc,
      queued,
      ...(nobodyOnShift ? { dutyFallback: 'nobody on shift: sent to the duty mailbox' } : {}),
    },
  };
}

export interface ObligationLadderItem {
  /** The duty as stored before this write (undefined: created by it). */
  before?: ObligationState | undefined;
  after: ObligationState;
  actor: string;
  title: string | null;
  unitId: string | null;
  now: number;
}

/** The same for working-day duties (one clock each). */
export async function walkObligationLadders(
  tx: Tx,
  items: readonly ObligationLadderItem[],
  wiring: LadderWiring | undefined,
): Promise<{ outcomes: LadderOutcome<ObligationState>[]; batch: LadderBatch }> {
  const batch = new LadderBatch(tx, wiring);
  const acks = await acknowledgements(
    tx,
    'obligation_id',
    items.filter((a) => a.after.state === 'breached' && a.after.ladder && a.before?.state === 'breached').map((a) => a.after.id),
  );
  const outcomes: LadderOutcome<ObligationState>[] = [];
  for (const a of items) {
    const s = a.after;
    const step = stepObligationLadder(s, a.unitId, a.now, acks.get(`${s.id}|${s.kind}|${s.dueAt}`) ?? null);
    if (step.stopped.length > 0) batch.cancel(clockKey({ obligationId: s.id }), `duty ${s.state}`, a.now);
    if (!wiring && step.firings.length > 0 && a.actor !== 'timer') {
      outcomes.push({ state: s, wake: a.now });
      continue;
    }
    outcomes.push({ state: step.state, wake: step.nextWake });
    if (!wiring || step.firings.length === 0) continue;
    const dir = await batch.dir(a.now);
    const facts: ClockFacts = {
      kind: s.kind,
      startAt: s.startAt,
      dueAt: s.dueAt,
      workingDays: s.workingDays + (s.extended && s.extension ? s.extension.workingDays : 0),
      state: s.state,
    };
    for (const f of step.firings) {
      const rows = planLadderNotifications({
        firing: f.firing,
        subject: { type: 'obligation', id: s.id, title: maskPersonalData(a.title ?? s.id), level: null },
        unitId: a.unitId,
        clock: facts,
        ...(f.firing.kind === 'notice' ? { clocks: [facts] } : {}),
        ...(f.elapsed !== null ? { elapsed: f.elapsed } : {}),
        now: a.now,
        dashboardUrl: wiring!.dashboardUrl,
        directory: dir,
        ...(wiring!.routing ? { routing: wiring!.routing } : {}),
      });
      batch.queue(rows, a.now);
      batch.audits.push(escalationAudit(a.actor, a.now, 'obligation', s.id, f, rows.length, dir));
    }
  }
  return { outcomes, batch };
}
