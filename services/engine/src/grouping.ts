/**
 * What grouping reads from PostgreSQL: the jurisdiction's monitoring rules and the recent
 * signals of open incidents (the candidates a new signal may join). The decisions themselves
 * are pure (packages/domain monitoring.ts, grouping.ts).
 */
import { rowsOf, sql, type Tx } from '@huiying/db';
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
 * commit or rollback.
 */
export async function lockGrouping(tx: Tx, jurisdiction = DEFAULT_JURISDICTION): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${GROUPING_LOCK_CLASS}, hashtext(${jurisdiction}))`);
}

/** Enabled rules in id order (every engine tries them in the same order). A rule that no longer parses is skipped. */
export async function loadRules(tx: Tx, jurisdiction = DEFAULT_JURISDICTION): Promise<MonitoringRule[]> {
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
const FEATURE_MEMO_MAX = 250_000;
const featureMemo = new WeakMap<object, { policy: GroupingPolicy; features: Map<string, GroupingFeatures> }>();

function memoFor(tx: Tx, db: object | undefined, policy: GroupingPolicy): Map<string, GroupingFeatures> {
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

/**
 * The candidates for this batch: the latest `maxSignalsPerIncident` signals of each open
 * incident seen within the window, plus every signal of an open incident sharing a link with
 * the batch (a repost of an old page still joins its matter), oldest first. `db` (the engine's
 * database handle) keys the features remembered across batches.
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
        where i.status = 'open' and s.received_at >= ${since}::timestamptz
      ),
      picked as (
        select id from recent where nth <= ${policy.maxSignalsPerIncident}
        union
        select s.id from signals s join incidents i on i.id = s.incident_id
        where i.status = 'open' and s.link_key in (select jsonb_array_elements_text(${json(linkKeys)}::jsonb))
      )
      select s.id, s.incident_id
      from signals s join picked using (id)
      where s.jurisdiction = ${jurisdiction}
      order by s.received_at, s.id`),
  );
  const memo = memoFor(tx, db, policy);
  const unknown = rows.filter((r) => !memo.has(r.id)).map((r) => r.id);
  if (unknown.length > 0) {
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
  const pool = new CandidatePool(policy);
  for (const r of rows) {
    const features = memo.get(r.id);
    if (features) pool.add({ ...features, incidentId: r.incident_id });
  }
  return pool;
}
