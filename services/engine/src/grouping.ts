/**
 * What grouping reads from PostgreSQL: the jurisdiction's monitoring rules and the recent
 * signals of open incidents (the candidates a new signal may join). The decisions themselves
 * are pure (packages/domain monitoring.ts, grouping.ts).
 */
import { type Db, type DbOrTx, rowsOf, sql, type Tx } from '@huiying/db';
import {
  CandidatePool,
  type GroupingFeatures,
  groupingFeatures,
  type GroupingPolicy,
  type MonitoringRule,
  parseRuleExpression,
} from '@huiying/domain';
import { json } from './batch-sql.ts';

/** One deployment watches one jurisdiction today; rules carry the column so that can grow. */
export const DEFAULT_JURISDICTION = 'default';

/** Lock class for pg_advisory_xact_lock(class, key): grouping of one jurisdiction at a time. */
const GROUPING_LOCK_CLASS = 72_410;

/**
 * Serialise grouping per jurisdiction for the rest of the transaction: two engines handling
 * signals of one matter at once would otherwise each open an incident for it. Released at
 * commit or rollback. Every holder may change which signals are candidates, so taking the lock
 * advances the jurisdiction's grouping version; returns the new version (see `candidatesFor`).
 */
export async function lockGrouping(tx: Tx, jurisdiction = DEFAULT_JURISDICTION): Promise<number> {
  await tx.execute(sql`select pg_advisory_xact_lock(${GROUPING_LOCK_CLASS}, hashtext(${jurisdiction}))`);
  const [row] = rowsOf<{ version: string | number }>(
    await tx.execute(sql`
      insert into grouping_state (jurisdiction, version) values (${jurisdiction}, 1)
      on conflict (jurisdiction) do update set version = grouping_state.version + 1
      returning version`),
  );
  return Number(row!.version);
}

/**
 * Take the grouping lock of each jurisdiction, in one order (a batch spanning two jurisdictions
 * and another spanning the same two cannot deadlock). Returns those held, each with the grouping
 * version its lock advanced to.
 */
export async function lockJurisdictions(
  tx: Tx,
  jurisdictions: Iterable<string>,
  held = new Map<string, number>(),
): Promise<Map<string, number>> {
  for (const j of [...new Set(jurisdictions)].filter((x) => !held.has(x)).sort()) held.set(j, await lockGrouping(tx, j));
  return held;
}

/** The jurisdictions of the incidents' signals (the default for an incident without any): what a merge or split must lock. */
export async function incidentJurisdictions(tx: Tx, incidentIds: readonly string[]): Promise<string[]> {
  const rows = rowsOf<{ jurisdiction: string }>(
    await tx.execute(sql`
      select distinct s.jurisdiction from signals s
      where s.incident_id in (select jsonb_array_elements_text(${json(incidentIds)}::jsonb))`),
  );
  return rows.length > 0 ? rows.map((r) => r.jurisdiction) : [DEFAULT_JURISDICTION];
}

/**
 * A signal was attached to an incident outside the grouping lock (补充线索 by a duty officer, after
 * its command committed): advance the jurisdiction's version so every engine reads its candidates
 * again before its next batch.
 */
export async function groupingChanged(db: Db, jurisdiction = DEFAULT_JURISDICTION): Promise<void> {
  await db.transaction(async (tx) => {
    await lockGrouping(tx, jurisdiction);
  });
}

/** Enabled rules in id order (every engine tries them in the same order). A rule that no longer parses is skipped. */
export async function loadRules(tx: DbOrTx, jurisdiction = DEFAULT_JURISDICTION): Promise<MonitoringRule[]> {
  const rows = rowsOf<{ id: string; name: string; expression: string; sources: string[]; areas: string[]; categories: string[] }>(
    await tx.execute(
      sql`select id, name, expression, sources, areas, categories from monitoring_rules where enabled and jurisdiction = ${jurisdiction} order by id`,
    ),
  );
  return rows.flatMap((r) => {
    try {
      return [
        {
          id: r.id,
          name: r.name,
          expression: parseRuleExpression(r.expression),
          sources: r.sources,
          areas: r.areas,
          categories: r.categories,
        },
      ];
    } catch {
      return [];
    }
  });
}

interface CandidateRow {
  id: string;
  incident_id: string;
  received_at: string | Date;
}

interface CandidateText {
  id: string;
  source: 'feed' | 'hotline' | 'manual';
  url: string | null;
  title: string | null;
  content: string | null;
  area: string | null;
  category: string | null;
  at: string | Date;
}

/**
 * A signal's grouping features (its bigrams above all) depend only on its stored text, which
 * never changes; computing them is most of the CPU a batch spends on its candidates, which are
 * every open matter's recent signals. So each engine remembers them per database and signal,
 * and a batch reads the text of the candidates it has not seen yet only. Bounded: when full it
 * starts over (a batch then computes what it needs again).
 */
const FEATURE_MEMO_MAX = 50_000;
const featureMemo = new WeakMap<object, { policy: GroupingPolicy; features: Map<string, GroupingFeatures> }>();

function memoFor(tx: DbOrTx, db: object | undefined, policy: GroupingPolicy): Map<string, GroupingFeatures> {
  const key = db ?? tx;
  let m = featureMemo.get(key);
  if (!m || m.policy !== policy || m.features.size > FEATURE_MEMO_MAX) {
    m = { policy, features: new Map() };
    featureMemo.set(key, m);
  }
  return m.features;
}

/** A signal this engine just decided: its features are remembered for the batches after it. */
export function rememberFeatures(tx: Tx, db: object | undefined, policy: GroupingPolicy, features: GroupingFeatures): void {
  memoFor(tx, db, policy).set(features.id, features);
}

/** Features of the given signals, from the memo or computed from their stored text. */
async function featuresOf(tx: DbOrTx, memo: Map<string, GroupingFeatures>, ids: readonly string[], policy: GroupingPolicy): Promise<void> {
  const unknown = ids.filter((id) => !memo.has(id));
  if (unknown.length === 0) return;
  const texts = rowsOf<CandidateText>(
    await tx.execute(sql`
      select s.id, s.source, s.url, s.title, left(s.content, ${policy.contentChars}) as content, s.area, s.category,
        least(coalesce(s.published_at, s.received_at), s.received_at) as at
      from signals s where s.id in (select jsonb_array_elements_text(${json(unknown)}::jsonb))`),
  );
  for (const r of texts)
    memo.set(
      r.id,
      groupingFeatures(
        {
          id: r.id,
          source: r.source,
          at: new Date(r.at).getTime(),
          url: r.url,
          title: r.title,
          content: r.content,
          area: r.area,
          category: r.category,
        },
        policy,
      ),
    );
}

/**
 * The candidates as PostgreSQL has them now: the latest `maxSignalsPerIncident` signals of each
 * open incident seen within the window, plus every signal of an open incident sharing a link
 * with the batch (a repost of an old page still joins its matter), oldest first. `db` (the
 * engine's database handle) keys the features remembered across batches.
 */
export async function loadCandidates(
  tx: Tx,
  now: number,
  policy: GroupingPolicy,
  linkKeys: readonly string[],
  db?: object,
  /** Only signals of this jurisdiction are candidates: two jurisdictions never share an incident. */
  jurisdiction = DEFAULT_JURISDICTION,
): Promise<CandidatePool> {
  const since = new Date(now - policy.windowMs).toISOString();
  const rows = rowsOf<CandidateRow>(
    await tx.execute(sql`
      with recent as (
        select s.id, s.incident_id, s.received_at,
          row_number() over (partition by s.incident_id order by s.received_at desc, s.id desc) as nth
        from signals s join incidents i on i.id = s.incident_id
        where i.status = 'open' and s.received_at >= ${since}::timestamptz and s.jurisdiction = ${jurisdiction}
      ),
      picked as (
        select id from recent where nth <= ${policy.maxSignalsPerIncident}
        union
        select s.id from signals s join incidents i on i.id = s.incident_id
        where i.status = 'open' and s.jurisdiction = ${jurisdiction}
          and s.link_key in (select jsonb_array_elements_text(${json(linkKeys)}::jsonb))
      )
      select s.id, s.incident_id, s.received_at
      from signals s join picked using (id)
      order by s.received_at, s.id`),
  );
  const memo = memoFor(tx, db, policy);
  await featuresOf(
    tx,
    memo,
    rows.map((r) => r.id),
    policy,
  );
  const pool = new CandidatePool(policy);
  for (const r of rows) {
    const features = memo.get(r.id);
    if (features) pool.add({ ...features, incidentId: r.incident_id }, new Date(r.received_at).getTime());
  }
  return pool;
}

/** How often (engine time) a kept pool forgets candidates the window has passed. */
const EXPIRE_EVERY_MS = 60_000;

interface KeptPool {
  policy: GroupingPolicy;
  pool: CandidatePool;
  /** The grouping version the pool is current at; null while a transaction changes it (or after one failed). */
  version: number | null;
  expiredAt: number;
}

const keptPools = new WeakMap<object, Map<string, KeptPool>>();

/** How often batches found their kept candidates current, and how often they read them again (for /metrics and tests). */
export const candidatePoolStats = { kept: 0, reloaded: 0 };

/**
 * The candidates for a batch holding the grouping lock (`version` is what `lockGrouping`
 * returned). Kept in memory across batches: reading and indexing every open matter's recent
 * signals again for each batch costs what the number of open matters costs, which is most of a
 * batch once there are thousands. The kept pool is current when no other transaction took the
 * lock since this engine's last batch (`version − 1`), else it is read again. What changes
 * without the lock is caught where it matters: a candidate's incident dismissed meanwhile is
 * found closed when the signal joins it (`forget` it and decide again), and candidates the
 * window has passed are forgotten every minute (decisions compare signal times anyway).
 *
 * Call `commit()` once the transaction has committed: only then is the pool current at `version`.
 */
export async function candidatesFor(
  tx: Tx,
  db: object,
  version: number,
  now: number,
  policy: GroupingPolicy,
  linkKeys: readonly string[],
  jurisdiction = DEFAULT_JURISDICTION,
): Promise<{ pool: CandidatePool; commit: () => void; changed: boolean }> {
  let byJurisdiction = keptPools.get(db);
  if (!byJurisdiction) keptPools.set(db, (byJurisdiction = new Map()));
  let kept = byJurisdiction.get(jurisdiction);
  let changed = false;
  if (kept && kept.policy === policy && kept.version !== null && kept.version === version - 1) {
    kept.version = null;
    candidatePoolStats.kept++;
    if (now - kept.expiredAt >= EXPIRE_EVERY_MS) {
      changed = kept.pool.expire(now - policy.windowMs) > 0;
      kept.expiredAt = now;
    }
    if (linkKeys.length > 0 && (await addLinked(tx, db, kept.pool, policy, linkKeys, jurisdiction)) > 0) changed = true;
  } else {
    candidatePoolStats.reloaded++;
    changed = true;
    kept = { policy, pool: await loadCandidates(tx, now, policy, linkKeys, db, jurisdiction), version: null, expiredAt: now };
    byJurisdiction.set(jurisdiction, kept);
  }
  const mine = kept;
  return {
    pool: mine.pool,
    /** Read again, candidates expired, or candidates added by link: not the pool a decision taken ahead of the lock saw (signals.ts). */
    changed,
    commit: () => {
      if (byJurisdiction.get(jurisdiction) === mine) mine.version = version;
    },
  };
}

/**
 * This process's kept candidates of a jurisdiction, whatever version they are current at (null:
 * none yet). For a decision taken ahead of the grouping lock (signals.ts `decideAhead`): it is
 * used only if, under the lock, `candidatesFor` then keeps this same pool unchanged.
 */
export function keptPoolOf(db: object, policy: GroupingPolicy, jurisdiction = DEFAULT_JURISDICTION): CandidatePool | null {
  const kept = keptPools.get(db)?.get(jurisdiction);
  return kept && kept.policy === policy ? kept.pool : null;
}

/**
 * A transaction holding the lock changed no candidate: a pool current before it is current after
 * it. (Should it roll back, the version it took is taken again and the pool is read again.)
 */
export function keepCandidates(db: object, version: number, jurisdiction = DEFAULT_JURISDICTION): void {
  const kept = keptPools.get(db)?.get(jurisdiction);
  if (kept && kept.version === version - 1) kept.version = version;
}

/**
 * Signals of open incidents sharing a link with the batch that the kept pool does not hold (older
 * than the window), added by link only. Returns how many were added.
 */
export async function addLinked(
  tx: DbOrTx,
  db: object,
  pool: CandidatePool,
  policy: GroupingPolicy,
  linkKeys: readonly string[],
  jurisdiction: string,
): Promise<number> {
  const rows = rowsOf<CandidateRow>(
    await tx.execute(sql`
      select s.id, s.incident_id, s.received_at from signals s join incidents i on i.id = s.incident_id
      where i.status = 'open' and s.jurisdiction = ${jurisdiction}
        and s.link_key in (select jsonb_array_elements_text(${json(linkKeys)}::jsonb))
      order by s.received_at, s.id`),
  ).filter((r) => !pool.has(r.id));
  if (rows.length === 0) return 0;
  const memo = memoFor(tx, db, policy);
  await featuresOf(
    tx,
    memo,
    rows.map((r) => r.id),
    policy,
  );
  let added = 0;
  for (const r of rows) {
    const features = memo.get(r.id);
    if (!features || features.link === null) continue;
    pool.addLinkOnly({ ...features, incidentId: r.incident_id }, new Date(r.received_at).getTime());
    added++;
  }
  return added;
}
