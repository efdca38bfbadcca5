/**
 * Grouping's decisions for a batch of signals (signals.ts applies them): each signal matched
 * against its jurisdiction's monitoring rules and decided against the candidates in order — under
 * the grouping lock, or ahead of it (`decideAhead`) while this process's batch before it writes.
 */
import type { SignalMessage } from '@huiying/bus';
import { type DbOrTx, rowsOf, sql } from '@huiying/db';
import {
  type CandidatePool,
  canonicalUrl,
  type GroupingDecision,
  type GroupingFeatures,
  type GroupingPolicy,
  groupingFeatures,
  type IncidentInput,
  matchRules,
  type MonitoringRule,
} from '@huiying/domain';
import { json } from './batch-sql.ts';
import { addLinked, DEFAULT_JURISDICTION, keptPoolOf, loadRules } from './grouping.ts';
import { incidentIdFor } from './store.ts';

export type SignalDecision = 'opened' | 'joined' | 'unmatched' | 'promoted' | 'attached' | 'merged' | 'split';

/** The stored signal, as grouping reads it (the bus message carries no citizen text). */
export interface SignalRow {
  id: string;
  source: SignalMessage['source'];
  title: string | null;
  content: string | null;
  url: string | null;
  area: string | null;
  category: string | null;
  unit_hint: string | null;
  published_at: string | Date | null;
  received_at: string | Date;
  incident_id: string | null;
  decision: SignalDecision | null;
  feed_kind: string | null;
  jurisdiction: string;
}

/** How long a signal batch computes before it lets the event loop run other work (the timer). */
export const YIELD_AFTER_MS = 5;

export const ms = (v: string | Date | null) => (v === null ? undefined : new Date(v).getTime());

/**
 * A stored signal as the domain's input to its incident (grouping, merge and split alike). The
 * creating signal's jurisdiction becomes the incident's: its clocks take that ladder.
 */
export function signalInput(
  row: Pick<SignalRow, 'source' | 'published_at' | 'title' | 'jurisdiction'>,
  incident: string,
  now: number,
): IncidentInput {
  const publishedAt = ms(row.published_at);
  return {
    type: 'signal',
    at: now,
    incident,
    source: row.source,
    ...(publishedAt !== undefined ? { publishedAt } : {}),
    ...(row.title ? { title: row.title } : {}),
    jurisdiction: row.jurisdiction,
  };
}

/**
 * What of a stored signal may change: whether (and where) it was decided, and its feed's kind
 * (rules match on it, and an administrator may change it while a batch decides ahead).
 */
export type SignalState = Pick<SignalRow, 'id' | 'incident_id' | 'decision' | 'jurisdiction' | 'feed_kind'>;

/** The signals named, locked in id order (as `readSignals`), without their text: a batch decided ahead holds it already. */
export async function lockSignalStates(tx: DbOrTx, ids: readonly string[]): Promise<SignalState[]> {
  return rowsOf<SignalState>(
    await tx.execute(sql`
      select s.id, s.incident_id, s.decision, s.jurisdiction, f.kind as feed_kind
      from signals s left join feeds f on f.id = s.feed_id
      where s.id in (select jsonb_array_elements_text(${json(ids)}::jsonb))
      order by s.id
      for update of s`),
  );
}

/**
 * The stored signals named, locked in id order (two transactions over overlapping batches — a
 * redelivery racing the sweep — cannot deadlock); `lock: false` reads them without a lock, for
 * a decision taken ahead of the grouping lock.
 */
export async function readSignals(tx: DbOrTx, ids: readonly string[], lock = true): Promise<SignalRow[]> {
  return rowsOf<SignalRow>(
    await tx.execute(sql`
      select s.id, s.source, s.title, s.content, s.url, s.area, s.category, s.unit_hint, s.published_at, s.received_at,
        s.incident_id, s.decision, f.kind as feed_kind, s.jurisdiction
      from signals s left join feeds f on f.id = s.feed_id
      where s.id in (select jsonb_array_elements_text(${json(ids)}::jsonb))
      order by s.id
      ${lock ? sql`for update of s` : sql``}`),
  );
}

/**
 * The jurisdictions of the signals named, read before any lock (a stored signal's never changes);
 * a message whose signal is not stored yet (a replay, a producer other than ingest) takes its
 * feed's, else the default.
 */
export async function jurisdictionsOf(tx: DbOrTx, msgs: readonly Pick<SignalMessage, 'id' | 'feedId'>[]): Promise<Map<string, string>> {
  const rows = rowsOf<{ id: string; jurisdiction: string }>(
    await tx.execute(sql`
      select m.id, coalesce(s.jurisdiction, f.jurisdiction, ${DEFAULT_JURISDICTION}) as jurisdiction
      from jsonb_to_recordset(${json(msgs.map((m) => ({ id: m.id, feedId: m.feedId ?? null })))}::jsonb) as m(id text, "feedId" text)
      left join signals s on s.id = m.id
      left join feeds f on f.id = m."feedId"`),
  );
  return new Map(rows.map((r) => [r.id, r.jurisdiction]));
}

export async function knownUnitsOf(tx: DbOrTx, hints: readonly string[]): Promise<Set<string>> {
  if (hints.length === 0) return new Set();
  return new Set(
    rowsOf<{ id: string }>(
      await tx.execute(sql`select id from units where id in (select jsonb_array_elements_text(${json(hints)}::jsonb))`),
    ).map((r) => r.id),
  );
}

/** A signal of the batch with the rule it matched (none: unmatched) and where grouping put it. */
export interface Planned {
  row: SignalRow;
  rule: MonitoringRule | null;
  choice: GroupingDecision | null;
  /** The incident the signal joins or opens (null: unmatched). */
  incidentId: string | null;
}

/**
 * Decide each signal in order against its jurisdiction's candidates, adding it to them (as a
 * signal of the incident it joins, or of the one it opens) for the signals after it.
 */
export async function decideAll(
  fresh: readonly SignalRow[],
  scopes: ReadonlyMap<string, { rules: MonitoringRule[]; pool: CandidatePool }>,
  policy: GroupingPolicy,
  featuresOf: Map<string, GroupingFeatures>,
): Promise<Planned[]> {
  const plan: Planned[] = [];
  let ranSince = performance.now();
  for (const row of fresh) {
    // A batch of hundreds computes for a while between its statements: let the timer's wakes
    // (and the rest of the process) run in between, so clocks fire on time during a flood.
    if (performance.now() - ranSince > YIELD_AFTER_MS) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      ranSince = performance.now();
    }
    const { rules, pool } = scopes.get(row.jurisdiction)!;
    const rule = matchRules(rules, {
      source: row.source,
      feedKind: row.feed_kind,
      area: row.area,
      category: row.category,
      title: row.title,
      content: row.content,
    });
    if (!rule) {
      plan.push({ row, rule: null, choice: null, incidentId: null });
      continue;
    }
    let features = featuresOf.get(row.id);
    if (!features) {
      const at = Math.min(ms(row.published_at) ?? ms(row.received_at)!, ms(row.received_at)!);
      features = groupingFeatures(
        {
          id: row.id,
          source: row.source,
          at,
          url: row.url,
          title: row.title,
          content: row.content,
          area: row.area,
          category: row.category,
        },
        policy,
      );
      featuresOf.set(row.id, features);
    }
    const choice = pool.decide(features);
    // Hashed once per decision (an opened incident's id is a hash of its first signal's).
    const incidentId = choice.kind === 'join' ? choice.incidentId : incidentIdFor(row.id);
    pool.add({ ...features, incidentId }, ms(row.received_at)!);
    plan.push({ row, rule, choice, incidentId });
  }
  return plan;
}

/** A batch's grouping decided ahead of its lock (`decideAhead`), to be used under the lock only if nothing it read has changed. */
export interface DecidedAhead {
  jurisdiction: string;
  /** Every signal of the batch's jurisdiction (a stored signal's never changes). */
  jurisdictions: Map<string, string>;
  /** The kept candidates it decided against (and added its signals to). */
  pool: CandidatePool;
  /** The undecided signals as read without a lock, in the batch's order. */
  fresh: SignalRow[];
  rules: MonitoringRule[];
  featuresOf: Map<string, GroupingFeatures>;
  plan: Planned[];
}

/**
 * Decide a batch before taking the grouping lock, while this process's batch before it writes
 * and commits (handleSignals calls it once that batch's decisions are final): the decisions take
 * CPU, the writes wait on PostgreSQL, and one after the other under one lock they left both half
 * idle. Decided against this process's kept candidates, which then hold the batch before's
 * signals. Under the lock the batch uses these decisions only if the kept candidates are still the
 * same pool, unchanged (no other process grouped in between, no candidate added by link), its
 * signals are still the same undecided ones from feeds of the same kind, and the rules the same;
 * else it takes its signals out of the pool again and decides as before. Null where there is
 * nothing to gain or it cannot be checked: no kept candidates yet, signals not stored yet or of
 * two jurisdictions, or a signal the pool already holds.
 */
export async function decideAhead(
  db: DbOrTx & object,
  msgs: readonly Pick<SignalMessage, 'id' | 'feedId'>[],
  policy: GroupingPolicy,
): Promise<DecidedAhead | null> {
  const rows = new Map(
    (
      await readSignals(
        db,
        msgs.map((m) => m.id),
        false,
      )
    ).map((r) => [r.id, r]),
  );
  if (msgs.some((m) => !rows.has(m.id))) return null;
  // In the batch's order, as under the lock: each decision sees the signals before it.
  const fresh = msgs.flatMap((m) => {
    const r = rows.get(m.id)!;
    return r.incident_id === null && r.decision === null ? [r] : [];
  });
  if (fresh.length === 0 || new Set(fresh.map((r) => r.jurisdiction)).size !== 1) return null;
  const jurisdiction = fresh[0]!.jurisdiction;
  const pool = keptPoolOf(db, policy, jurisdiction);
  if (!pool || fresh.some((r) => pool.has(r.id))) return null;
  const linkKeys = [...new Set(fresh.flatMap((r) => canonicalUrl(r.url) ?? []))];
  if (linkKeys.length > 0) await addLinked(db, db, pool, policy, linkKeys, jurisdiction);
  const rules = await loadRules(db, jurisdiction);
  const featuresOf = new Map<string, GroupingFeatures>();
  let plan: Planned[];
  try {
    plan = await decideAll(fresh, new Map([[jurisdiction, { rules, pool }]]), policy, featuresOf);
  } catch (error) {
    // Half decided: the signals added so far leave the pool again (none was in it before).
    for (const r of [...fresh].reverse()) pool.remove(r.id);
    throw error;
  }
  const jurisdictions = new Map([...rows.values()].map((r) => [r.id, r.jurisdiction]));
  return { jurisdiction, jurisdictions, pool, fresh, rules, featuresOf, plan };
}

/** The same signals in the same order, their feeds of the same kind as when `a` was read. */
export const sameSignals = (a: readonly SignalState[], b: readonly SignalState[]) =>
  a.length === b.length && a.every((r, i) => r.id === b[i]!.id && r.feed_kind === b[i]!.feed_kind);

/** Rules read ahead and under the lock: the same ids, expressions and filters, in the same order. */
const sameRules = (a: readonly MonitoringRule[], b: readonly MonitoringRule[]) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Whether decisions taken ahead still hold under the lock, given what the lock holder read: they
 * were taken against these very candidates (the caller has checked none was read again, expired
 * or added by link since), for these same undecided signals from feeds of the same kind, under
 * the same rules.
 */
export function aheadHolds(
  ahead: DecidedAhead,
  scopes: ReadonlyMap<string, { rules: MonitoringRule[]; pool: CandidatePool }>,
  fresh: readonly SignalState[],
): boolean {
  const scope = scopes.get(ahead.jurisdiction);
  return scopes.size === 1 && scope?.pool === ahead.pool && sameSignals(ahead.fresh, fresh) && sameRules(ahead.rules, scope.rules);
}

/** Take the decisions of `ahead` out of its pool again (they were not used): the signals leave it, newest first. */
export function undoAhead(ahead: DecidedAhead): void {
  for (const x of [...ahead.plan].reverse()) if (x.choice) ahead.pool.remove(x.row.id);
}
