import type { SignalMessage } from '@huiying/bus';
import { rowsOf, sql, type Tx } from '@huiying/db';
import {
  advanceIncident,
  applyIncidentInput,
  type CandidatePool,
  canonicalUrl,
  DEFAULT_GROUPING_POLICY,
  type GroupingFeatures,
  type IncidentState,
  type MonitoringRule,
  nextIncidentWake,
} from '@huiying/domain';
import { json } from './batch-sql.ts';
import {
  aheadHolds,
  type DecidedAhead,
  decideAhead,
  decideAll,
  jurisdictionsOf,
  knownUnitsOf,
  type Planned,
  readSignals,
  sameSignals,
  type SignalDecision,
  type SignalRow,
  type SignalState,
  signalInput,
  lockSignalStates,
  undoAhead,
} from './decide.ts';
import { candidatesFor, DEFAULT_JURISDICTION, keepCandidates, loadRules, lockJurisdictions, rememberFeatures } from './grouping.ts';
import { type Decided, loadIncidents, openIncident, type Touched, writeDecisions } from './signal-writes.ts';
import type { EngineDeps } from './store.ts';

export type { SignalDecision } from './decide.ts';
export { promoteSignal, SignalAlreadyGrouped } from './promote.ts';

export interface SignalOutcome {
  signalId: string;
  /** Null when the signal matched no monitoring rule (stored, searchable, promotable). */
  incidentId: string | null;
  created: boolean;
  decision: SignalDecision | null;
}

/**
 * Signals from the bus: each is matched against the monitoring rules; a match joins an open
 * incident of the same matter (shared link, ticket burst, similar text) or opens one; no match
 * leaves it stored as unmatched. The decision and its reason are written on the signal.
 *
 * A whole batch is one transaction, in the order given (the bus keeps per-key order), holding
 * the jurisdiction's grouping lock so that two engines never split one matter. Idempotent: a
 * redelivered signal changes nothing, also when it appears twice in one batch.
 */
export function handleSignals(deps: EngineDeps, msgs: readonly SignalMessage[]): Promise<SignalOutcome[]> {
  if (msgs.length === 0) return Promise.resolve([]);
  // This process's batches take turns (they would wait for each other's grouping lock in
  // PostgreSQL anyway): a batch locks only once the one before has finished and marked its kept
  // candidates current, so two partitions consumed at once do not make each other read them all
  // again. But it decides ahead, as soon as the one before has decided: its decisions (CPU) are
  // taken while the one before writes (PostgreSQL), and checked under the lock (decideAhead).
  const before = groupingTurns.get(deps.db) ?? { decided: Promise.resolve(), done: Promise.resolve() };
  let decided!: () => void;
  const turn = {
    decided: new Promise<void>((resolve) => (decided = resolve)),
    done: (async () => {
      try {
        await before.decided;
        const policy = deps.grouping ?? DEFAULT_GROUPING_POLICY;
        const unique = uniqueSignals(msgs);
        const ahead = await decideAhead(deps.db, unique, policy).catch(() => null);
        await before.done;
        return await groupSignals(deps, unique, ahead, decided);
      } finally {
        decided();
      }
    })(),
  };
  groupingTurns.set(deps.db, { decided: turn.decided, done: turn.done.catch(() => undefined) });
  return turn.done;
}

/**
 * Per database handle, the last signal batch this process started: when its decisions became
 * final (the next may decide ahead), and when it ended (the next may lock). Neither rejects.
 */
const groupingTurns = new WeakMap<object, { decided: Promise<void>; done: Promise<unknown> }>();

/** How often a batch used the decisions it took ahead of the lock, and how often it had to decide again (for tests and /metrics). */
export const decidedAheadStats = { used: 0, discarded: 0 };

/** Each signal once, first occurrence first (a batch may hold a redelivery twice). */
function uniqueSignals<T extends { id: string }>(msgs: readonly T[]): T[] {
  const seen = new Set<string>();
  return msgs.filter((m) => !seen.has(m.id) && seen.add(m.id));
}

const isSignalRow = (r: SignalState): r is SignalRow => 'source' in r;

/** `rows` (read by id) in the order of `order`. */
function inOrder(order: readonly SignalState[], rows: readonly SignalRow[]): SignalRow[] {
  const byId = new Map(rows.map((r) => [r.id, r]));
  return order.map((r) => byId.get(r.id)!);
}

/**
 * The batch's signals, locked under their jurisdictions' grouping locks (held: each with the
 * version its lock advanced to): `rows` every one found, by id; `fresh` the undecided ones with
 * their text, in batch order.
 */
async function lockBatch(
  tx: Tx,
  unique: readonly SignalMessage[],
  ahead: DecidedAhead | null,
): Promise<{ held: Map<string, number>; rows: Map<string, SignalState>; fresh: SignalRow[] }> {
  // Grouping is serialised per jurisdiction: the batch holds the lock of each it touches.
  const jurisdictionOf = ahead?.jurisdictions ?? (await jurisdictionsOf(tx, unique));
  const held = await lockJurisdictions(tx, jurisdictionOf.values());
  // Decided ahead, the batch holds its signals' text already: it locks them and reads only
  // what may have changed since (whether they are still undecided, their feed's kind).
  const rows = new Map<string, SignalState>(
    (
      await (ahead ? lockSignalStates : readSignals)(
        tx,
        unique.map((m) => m.id),
      )
    ).map((r) => [r.id, r]),
  );
  // Ingest normally stored the signal already (with its text), so nothing is written for it
  // here; a message from elsewhere (or a replay) is stored now, then locked like the others.
  const missing = unique.filter((m) => !rows.has(m.id));
  if (missing.length > 0) {
    await tx.execute(sql`
    insert into signals (id, source, source_ref, feed_id, area, category, unit_hint, published_at, received_at, jurisdiction)
    select id, source, "sourceRef", "feedId", area, category, "unitHint", "publishedAt", "receivedAt", jurisdiction
    from jsonb_to_recordset(${json(missing.map((m) => ({ ...m, jurisdiction: jurisdictionOf.get(m.id) ?? DEFAULT_JURISDICTION })))}::jsonb)
      as r(id text, source text, "sourceRef" text, "feedId" text, area text, category text, "unitHint" text,
      "publishedAt" timestamptz, "receivedAt" timestamptz, jurisdiction text)
    on conflict do nothing`);
    for (const r of await readSignals(
      tx,
      missing.map((m) => m.id),
    ))
      rows.set(r.id, r);
  }
  const undecided = unique.flatMap((m) => {
    const r = rows.get(m.id);
    return r && r.incident_id === null && r.decision === null ? [r] : [];
  });
  // The undecided ones with their text: those read ahead if they are the same, else read now.
  const fresh: SignalRow[] =
    ahead && sameSignals(ahead.fresh, undecided)
      ? ahead.fresh
      : undecided.every(isSignalRow)
        ? undecided
        : inOrder(
            undecided,
            await readSignals(
              tx,
              undecided.map((r) => r.id),
            ),
          );
  // Only if ingest stored a signal between the read above and the insert (it stores before it
  // publishes, so only for a foreign message): its own jurisdiction's lock, taken late.
  await lockJurisdictions(
    tx,
    fresh.map((r) => r.jurisdiction),
    held,
  );
  return { held, rows, fresh };
}

/** What the batch will do, decided under the lock, with what it read to decide. */
interface Plan {
  /** Each fresh signal's rule and choice, in batch order. */
  steps: Planned[];
  featuresOf: Map<string, GroupingFeatures>;
  /** The incidents joined, read and locked. */
  loaded: Map<string, { state: IncidentState; version: number }>;
  /** The units the tickets name that exist (an assignment, not grouping). */
  knownUnits: Set<string>;
}

/**
 * Decide the fresh signals under the lock: against each jurisdiction's candidates (kept across
 * batches; `commits` gets what to do once committed) and rules, or take the decisions taken
 * ahead if they still hold (`settleAhead` is told which).
 */
async function planBatch(
  tx: Tx,
  deps: EngineDeps,
  fresh: readonly SignalRow[],
  held: ReadonlyMap<string, number>,
  ahead: DecidedAhead | null,
  now: number,
  commits: (() => void)[],
  settleAhead: (use: boolean) => void,
): Promise<Plan> {
  const policy = deps.grouping ?? DEFAULT_GROUPING_POLICY;
  // Each jurisdiction's candidates among its own signals only (kept across batches), and its rules.
  const scopes = new Map<string, { rules: MonitoringRule[]; pool: CandidatePool }>();
  let changed = false;
  for (const j of [...new Set(fresh.map((r) => r.jurisdiction))].sort()) {
    const linkKeys = [...new Set(fresh.filter((r) => r.jurisdiction === j).flatMap((r) => canonicalUrl(r.url) ?? []))];
    const candidates = await candidatesFor(tx, deps.db, held.get(j)!, now, policy, linkKeys, j);
    commits.push(candidates.commit);
    changed ||= candidates.changed;
    scopes.set(j, { rules: [], pool: candidates.pool });
  }
  // The rules in force, read under the lock (editing them does not take it).
  for (const [j, scope] of scopes) scope.rules = await loadRules(tx, j);
  // The decisions taken ahead hold if they were taken against these very candidates, unchanged
  // since (no other process grouped in between, none expired), for these same undecided
  // signals from feeds of the same kind, under the same rules.
  const use = ahead !== null && !changed && aheadHolds(ahead, scopes, fresh);
  settleAhead(use);
  const knownUnits = await knownUnitsOf(tx, [...new Set(fresh.flatMap((r) => (r.unit_hint ? [r.unit_hint] : [])))]);
  // 1. Decide every signal in order, each a candidate for the ones after it (or take the
  // decisions taken ahead). 2. Read and lock the incidents joined, all in one statement.
  // 3. Should one of them have been dismissed (or deleted) since its signals became candidates
  // — dismissing does not take the grouping lock — take this batch's signals out of the pool
  // again, drop that incident, and decide anew.
  const featuresOf = use ? ahead!.featuresOf : new Map<string, GroupingFeatures>();
  const loaded = new Map<string, { state: IncidentState; version: number }>();
  let plan: Planned[] | null = use ? ahead!.plan : null;
  for (;;) {
    plan ??= await decideAll(fresh, scopes, policy, featuresOf);
    const opened = new Set(plan.flatMap((x) => (x.choice?.kind === 'open' ? [x.incidentId!] : [])));
    const wanted = [
      ...new Set(plan.flatMap((x) => (x.choice?.kind === 'join' && !opened.has(x.choice.incidentId) ? [x.choice.incidentId] : []))),
    ].filter((id) => !loaded.has(id));
    for (const [id, row] of await loadIncidents(tx, wanted)) loaded.set(id, row);
    const gone = wanted.filter((id) => loaded.get(id)?.state.status !== 'open');
    if (gone.length === 0) return { steps: plan, featuresOf, loaded, knownUnits };
    for (const x of [...plan].reverse()) if (x.choice) scopes.get(x.row.jurisdiction)!.pool.remove(x.row.id);
    for (const id of gone) for (const { pool } of scopes.values()) pool.removeIncident(id);
    plan = null;
  }
}

/**
 * The plan applied in order: an incident joined first fires its timers due before now (so the
 * signal sees the state a replay would), a new one is opened; each signal's decision recorded.
 */
function applyPlan(
  tx: Tx,
  deps: EngineDeps,
  { steps, featuresOf, loaded, knownUnits }: Plan,
  now: number,
): { touched: Map<string, Touched>; decided: Decided[]; outcomes: Map<string, SignalOutcome> } {
  const policy = deps.grouping ?? DEFAULT_GROUPING_POLICY;
  const outcomes = new Map<string, SignalOutcome>();
  const touched = new Map<string, Touched>();
  const decided: Decided[] = [];
  for (const { row, rule, choice, incidentId: target } of steps) {
    if (!rule || !choice) {
      decided.push({
        id: row.id,
        incidentId: null,
        decision: 'unmatched',
        reason: 'no_rule',
        ruleId: null,
        score: null,
        via: null,
        linkKey: canonicalUrl(row.url),
      });
      outcomes.set(row.id, { signalId: row.id, incidentId: null, created: false, decision: 'unmatched' });
      continue;
    }
    const features = featuresOf.get(row.id)!;
    if (choice.kind === 'join') {
      const incidentId = choice.incidentId;
      let t = touched.get(incidentId);
      if (!t) {
        const { state, version } = loaded.get(incidentId)!;
        const overdue = advanceIncident(state, now - 1);
        t = { before: state, version, state: overdue.state, events: overdue.events, inputs: [], actor: `signal:${row.source}` };
        touched.set(incidentId, t);
      }
      const input = signalInput(row, incidentId, now);
      const applied = applyIncidentInput(t.state, input, deps.pack());
      t.state = applied.state;
      t.events = [...t.events, ...applied.events];
      t.inputs.push(input);
      decided.push({
        id: row.id,
        incidentId,
        decision: 'joined',
        reason: choice.reason,
        ruleId: rule.id,
        score: choice.score,
        via: choice.via,
        linkKey: features.link,
      });
      outcomes.set(row.id, { signalId: row.id, incidentId, created: false, decision: 'joined' });
    } else {
      const t = openIncident(row, now, deps, knownUnits, `signal:${row.source}`, target!);
      const incidentId = t.state.id;
      touched.set(incidentId, t);
      decided.push({
        id: row.id,
        incidentId,
        decision: 'opened',
        reason: 'new_matter',
        ruleId: rule.id,
        score: choice.best?.score ?? null,
        via: choice.best?.via ?? null,
        linkKey: features.link,
      });
      outcomes.set(row.id, { signalId: row.id, incidentId, created: true, decision: 'opened' });
    }
    rememberFeatures(tx, deps.db, policy, features);
  }
  return { touched, decided, outcomes };
}

/**
 * One batch (each signal once) under the grouping lock. `ahead`: its decisions taken before the
 * lock, used if still valid, else taken out of the kept candidates again. `decidedFinal` is told
 * once the batch's decisions are final (the next batch may then decide ahead on top of them).
 */
async function groupSignals(
  deps: EngineDeps,
  unique: readonly SignalMessage[],
  ahead: DecidedAhead | null,
  decidedFinal: () => void,
): Promise<SignalOutcome[]> {
  const now = deps.clock.now();
  const commits: (() => void)[] = [];
  // Whether `ahead` was used or taken back: until then a failure must take it back, or the kept
  // candidates (still marked current) would hold decisions never written.
  let aheadSettled = ahead === null;
  const settleAhead = (use: boolean) => {
    if (aheadSettled) return;
    aheadSettled = true;
    if (use) decidedAheadStats.used++;
    else {
      decidedAheadStats.discarded++;
      undoAhead(ahead!);
    }
  };
  const result = await deps.db
    .transaction(async (tx) => {
      const { held, rows, fresh } = await lockBatch(tx, unique, ahead);
      let applied: ReturnType<typeof applyPlan> = { touched: new Map(), decided: [], outcomes: new Map() };
      // Nothing left to decide (another engine or the sweep decided them): nothing taken ahead holds.
      if (fresh.length === 0) settleAhead(false);
      else {
        const plan = await planBatch(tx, deps, fresh, held, ahead, now, commits, settleAhead);
        decidedFinal();
        applied = applyPlan(tx, deps, plan, now);
      }
      // Where nothing became a candidate, the kept candidates stay current (see candidatesFor) — once committed.
      const grouped = new Set(fresh.map((r) => r.jurisdiction));
      for (const [j, version] of held) if (!grouped.has(j)) commits.push(() => keepCandidates(deps.db, version, j));
      await writeDecisions(tx, applied.touched, applied.decided, now, null, deps.ladder);
      let wake: number | null = null;
      for (const t of applied.touched.values()) {
        const w = nextIncidentWake(t.state);
        if (w !== null) wake = Math.min(wake ?? w, w);
      }
      const list = unique.map(
        (m) =>
          applied.outcomes.get(m.id) ?? {
            signalId: m.id,
            incidentId: rows.get(m.id)?.incident_id ?? null,
            created: false,
            decision: rows.get(m.id)?.decision ?? null,
          },
      );
      return { outcomes: list, wake };
    })
    .catch((e: unknown) => {
      settleAhead(false);
      throw e;
    });
  for (const commit of commits) commit();
  if (result.wake !== null) deps.onWake?.(result.wake);
  return result.outcomes;
}

/** One signal (commands, tests): the batch path with a batch of one. */
export async function handleSignal(deps: EngineDeps, msg: SignalMessage): Promise<SignalOutcome> {
  const [outcome] = await handleSignals(deps, [msg]);
  return outcome!;
}

/**
 * Signals accepted but never decided — their bus message was dead-lettered, or an embedded
 * process stopped before handling it. Idempotent, so racing the consumer is harmless.
 */
export async function sweepSignals(deps: EngineDeps, olderThanMs = 60_000): Promise<number> {
  const cutoff = new Date(deps.clock.now() - olderThanMs);
  const rows = rowsOf<{
    id: string;
    source: SignalMessage['source'];
    source_ref: string;
    received_at: string | Date;
  }>(
    await deps.db.execute(
      sql`select id, source, source_ref, received_at
          from signals where incident_id is null and processed_at is null and received_at < ${cutoff.toISOString()} order by received_at limit 500`,
    ),
  );
  // The stored row has everything grouping reads; the message only names it.
  await handleSignals(
    deps,
    rows.map((r) => ({
      v: 1,
      type: 'signal',
      id: r.id,
      source: r.source,
      sourceRef: r.source_ref,
      receivedAt: new Date(r.received_at).toISOString(),
    })),
  );
  return rows.length;
}
