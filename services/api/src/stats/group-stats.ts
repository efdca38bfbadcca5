/**
 * The figures grouped by one dimension (unit, level, kind, month) or in one total row: the
 * deadlines by outcome, the on-time rate, the overdue count, total, maximum and median, and the
 * time to first authoritative response (median, p90), as facts.ts defines them.
 *
 * Where the figures come from (rollup.ts): from the statistics rollup — cells pre-aggregated per
 * month and year of due, brought up to date by a scheduled job — for the whole Asia/Shanghai
 * months of the period, the deadlines rolled up one by one for a start or end inside a month,
 * plus, live from the tables here, everything changed since the rollup's watermark and every
 * running deadline; the drill-down and the 通报's list (items.ts), and everything before the
 * rollup's first run, from the queries over the live tables. Both give the same counts, on-time
 * rate and overdue count, total and maximum, to the millisecond. PRECISION: from the rollup (any
 * period), the overdue median and the first-response median and p90 are percentile_cont over
 * values floored to the whole minute (per-minute histograms; a breach still open counts now −
 * its due floored to the minute), so they may differ from the exact figure by less than one
 * minute; values changed since the watermark enter exactly.
 */
import { type Db, rowsOf, sql } from '@huiying/db';
import { facts, keyOf, num, overdueMs, reporting, unitCondition } from './facts.ts';
import {
  type Dimension,
  KIND_LABEL,
  LEVEL_LABEL,
  monthLabel,
  NO_UNIT_LABEL,
  type StatsFilter,
  type StatsKind,
  type StatsLevel,
  type StatsRow,
  type StatsScope,
} from './model.ts';
import { type RollupAgg, rollupStats } from './rollup.ts';

interface AggRow {
  key: string | null;
  counted: string;
  on_time: string;
  late: string;
  breached: string;
  pending: string;
  retracted: string;
  overdue_count: string;
  overdue_total: string | null;
  overdue_max: string | null;
  overdue_median: string | null;
  fr_incidents: string | null;
  fr_median: string | null;
  fr_p90: string | null;
  unit_name: string | null;
}

/**
 * Figures grouped by one dimension (or one 'all' row), ordered by key: from the rollup and the
 * live remainder (rollup.ts) when it can answer — the rollup run at least once and not too far
 * behind — else from the live tables (`exactGroupStats`).
 */
export async function groupStats(db: Db, now: Date, scope: StatsScope, f: StatsFilter, by: Dimension | 'all'): Promise<StatsRow[]> {
  const rolled = await rollupStats(db, now, scope, f, by);
  if (rolled === null) return exactGroupStats(db, now, scope, f, by);
  const names =
    by === 'unit' && rolled.length > 0
      ? new Map(rowsOf<{ id: string; name: string }>(await db.execute(sql`select id, name from units`)).map((u) => [u.id, u.name] as const))
      : new Map<string, string>();
  return rolled.map((r) => fromRollup(r, by, r.key === null ? null : (names.get(r.key) ?? null)));
}

function fromRollup(r: RollupAgg, by: Dimension | 'all', unitName: string | null): StatsRow {
  const counted = r.onTime + r.late + r.breached;
  return {
    key: r.key,
    label: labelOf(by, r.key, unitName),
    counted,
    onTime: r.onTime,
    late: r.late,
    breached: r.breached,
    pending: r.pending,
    retracted: r.retracted,
    onTimeRate: counted === 0 ? null : r.onTime / counted,
    overdue: { count: r.overdueCount, totalMs: r.overdueTotalMs, maxMs: r.overdueMaxMs, medianMs: r.overdueMedianMs },
    firstResponse: { incidents: r.frIncidents, medianMs: r.frMedianMs, p90Ms: r.frP90Ms },
  };
}

/**
 * The figures straight from the live tables: the reference definition (the rollup is tested
 * against it), and the answer while the rollup cannot give one.
 */
export async function exactGroupStats(db: Db, now: Date, scope: StatsScope, f: StatsFilter, by: Dimension | 'all'): Promise<StatsRow[]> {
  const key = keyOf(by);
  const detail = by === 'level';
  const unit = unitCondition(scope, f);
  // The incidents' start: for a period of up to a quarter, one primary-key lookup per responded
  // incident (offset 0 keeps the planner from turning it back into a hash join, which reads every
  // incident ever recorded to answer for one month); for longer periods the hash join is cheaper.
  const short = f.from !== undefined && f.to !== undefined && f.to.getTime() - f.from.getTime() <= 92 * 86_400_000;
  const incidentStart = short
    ? sql`cross join lateral (select start_at from incidents i where i.id = fa.ref_id offset 0) i`
    : sql`join incidents i on i.id = fa.ref_id`;
  // Three scans, each of only the rows its figure needs, each CTE used once (so inlined, not
  // materialised): counts and sums by hashing; the overdue median over missed deadlines only;
  // first responses over met incident clocks only.
  const result = await reporting(
    db,
    sql`
    with agg as (
      select ${key} as key,
        count(*) filter (where g.outcome <> 'pending') as counted,
        count(*) filter (where g.outcome = 'on_time') as on_time,
        count(*) filter (where g.outcome = 'late') as late,
        count(*) filter (where g.outcome = 'breached') as breached,
        count(*) filter (where g.outcome = 'pending') as pending,
        count(*) filter (where g.retracted) as retracted,
        count(${overdueMs(now)}) as overdue_count,
        sum(${overdueMs(now)}) as overdue_total,
        max(${overdueMs(now)}) as overdue_max
      from (${facts(now, f, detail)}) as g where ${unit}
      group by 1
    ),
    od as (
      select ${key} as key, percentile_cont(0.5) within group (order by ${overdueMs(now)}) as overdue_median
      from (${facts(now, f, detail, 'missed')}) as g where ${unit} and g.outcome in ('late', 'breached')
      group by 1
    ),
    first_at as (
      select ${key} as key, g.ref_id, min(g.responded_at) as at
      from (${facts(now, { ...f, source: f.source ?? 'incident' }, detail, 'met')}) as g
      where ${unit} and g.source = 'incident'
      group by 1, 2
    ),
    fr as (
      select fa.key, count(*) as incidents,
        percentile_cont(0.5) within group (order by greatest(0, extract(epoch from fa.at - i.start_at) * 1000)) as median,
        percentile_cont(0.9) within group (order by greatest(0, extract(epoch from fa.at - i.start_at) * 1000)) as p90
      from first_at fa ${incidentStart} group by fa.key
    )
    select agg.*, od.overdue_median, fr.incidents as fr_incidents, fr.median as fr_median, fr.p90 as fr_p90,
      ${by === 'unit' ? sql`u.name` : sql`null::text`} as unit_name
    from agg
    left join od on od.key is not distinct from agg.key
    left join fr on fr.key is not distinct from agg.key
    ${by === 'unit' ? sql`left join units u on u.id = agg.key` : sql``}
    order by agg.key nulls last`,
  );
  return rowsOf<AggRow>(result).map((r) => toRow(r, by));
}

function toRow(r: AggRow, by: Dimension | 'all'): StatsRow {
  const counted = Number(r.counted);
  const onTime = Number(r.on_time);
  return {
    key: r.key,
    label: labelOf(by, r.key, r.unit_name),
    counted,
    onTime,
    late: Number(r.late),
    breached: Number(r.breached),
    pending: Number(r.pending),
    retracted: Number(r.retracted),
    onTimeRate: counted === 0 ? null : onTime / counted,
    overdue: {
      count: Number(r.overdue_count),
      totalMs: num(r.overdue_total) ?? 0,
      maxMs: num(r.overdue_max),
      medianMs: num(r.overdue_median),
    },
    firstResponse: { incidents: Number(r.fr_incidents ?? 0), medianMs: num(r.fr_median), p90Ms: num(r.fr_p90) },
  };
}

function labelOf(by: Dimension | 'all', key: string | null, unitName: string | null): string {
  switch (by) {
    case 'all':
      return '合计';
    case 'unit':
      return key === null ? NO_UNIT_LABEL : (unitName ?? key);
    case 'level':
      return key === null ? '工作日时限事项' : (LEVEL_LABEL[key as StatsLevel] ?? key);
    case 'kind':
      return key !== null && Object.hasOwn(KIND_LABEL, key) ? KIND_LABEL[key as StatsKind] : (key ?? '');
    case 'month':
      return key === null ? '' : monthLabel(key);
  }
}
