/**
 * Leaders' statistics (领导统计): response timeliness over the clocks read model and the
 * working-day duties, in PostgreSQL (the same SQL runs on PGlite in the embedded default).
 *
 * What is counted — one row per deadline ("fact"):
 * - every incident clock in `clocks` whose state is running, met or breached. Cancelled
 *   (superseded by a re-grade, downgraded) and waived (dismissed incident) clocks are NOT
 *   counted: no one owed a response on them any more.
 * - every working-day duty in `obligations` (its clock lives in the `state` jsonb), by its kind.
 *
 * Outcome of a fact, as of `now` (replay.md semantics):
 * - on_time  — met, not late. A breach later retracted (the response was published before
 *              the due, recorded afterwards) is on time; it is also counted in `retracted`.
 * - late     — met after its due; overdue = respondedAt − due.
 * - breached — breached and still without a qualifying response (or running past its due
 *              when the timer has not written the breach yet); overdue = now − due. A
 *              suspended disclosure request is not counted down, so never breached while suspended.
 * - pending  — still running before its due: shown, but not in the on-time rate.
 * On-time rate = on_time / (on_time + late + breached).
 *
 * Period: a fact belongs to the period in which it FELL DUE — that is when it was either
 * answered in time or not, and what a 通报 for a month is about. Periods are half-open at the
 * start and closed at the end, (from, to]: a working-day duty due "at the end of 30 November"
 * has due_at = 1 December 00:00 (Asia/Shanghai) and belongs to November, exactly like the
 * replay's "end at T includes everything due at T". Months are Asia/Shanghai months, the
 * same rule: month(due − 1 ms).
 *
 * Unit: the unit a breach belongs to is the one responsible when it happened (domain.md: a
 * reassignment does not move a past breach). For late and breached incident clocks that is
 * the unit on the breach alert (null = nobody was assigned then); otherwise the incident's
 * current unit. Duties: their unit.
 *
 * Time to first authoritative response (incidents only): per incident, the earliest
 * respondedAt among its met clocks in the selection, minus the incident's start (起算时间),
 * floored at 0; median and p90 by linear interpolation (percentile_cont). Incidents with no
 * qualifying response yet have no such time and are not in these figures.
 *
 * Where the figures come from (rollup.ts): from the statistics rollup — cells pre-aggregated per
 * month and year of due, brought up to date by a scheduled job — for the whole Asia/Shanghai
 * months of the period, the deadlines rolled up one by one for a start or end inside a month,
 * plus, live from the tables here, everything changed since the rollup's watermark and every
 * running deadline; the drill-down and the 通报's list (and everything before the rollup's first
 * run) from the queries below over the live tables. Both give the same
 * counts, on-time rate and overdue count, total and maximum, to the millisecond. PRECISION: from
 * the rollup (any period), the overdue median and the first-response median and p90 are percentile_cont over
 * values floored to the whole minute (per-minute histograms; a breach still open counts now −
 * its due floored to the minute), so they may differ from the exact figure by less than one
 * minute; values changed since the watermark enter exactly.
 */
import { type Db, rowsOf, type SQL, sql } from '@huiying/db';
import { type RollupAgg, rollupStats } from './rollup.ts';

export const INCIDENT_KINDS = ['response', 'release', 'press_conference'] as const;
export const DUTY_KINDS = [
  'policy_interpretation',
  'service_change',
  'proposal_reply',
  'penalty_disclosure',
  'disclosure_request',
] as const;
export const LEVELS = ['I', 'II', 'III', 'IV', 'ungraded'] as const;
export const OUTCOMES = ['on_time', 'late', 'breached', 'pending'] as const;
export const DIMENSIONS = ['unit', 'level', 'kind', 'month'] as const;

export type StatsKind = (typeof INCIDENT_KINDS)[number] | (typeof DUTY_KINDS)[number];
export type StatsLevel = (typeof LEVELS)[number];
export type Outcome = (typeof OUTCOMES)[number];
export type Dimension = (typeof DIMENSIONS)[number];

/** Who is asking: a unit user sees its own unit only; leader, duty and admin see everything. */
export interface StatsScope {
  unitId?: string;
}

export interface StatsFilter {
  /** Exclusive lower bound on the due instant. */
  from?: Date;
  /** Inclusive upper bound on the due instant. */
  to?: Date;
  unit?: string;
  level?: StatsLevel;
  kind?: StatsKind;
  source?: 'incident' | 'duty';
}

export const LEVEL_LABEL: Record<StatsLevel, string> = {
  I: '特别重大（Ⅰ级）',
  II: '重大（Ⅱ级）',
  III: '较大（Ⅲ级）',
  IV: '一般（Ⅳ级）',
  ungraded: '待研判',
};

export const KIND_LABEL: Record<StatsKind, string> = {
  response: '权威回应（48小时）',
  release: '权威信息发布（5小时）',
  press_conference: '新闻发布会（24小时）',
  policy_interpretation: '政策解读（3个工作日）',
  service_change: '服务事项变更公开（1个工作日）',
  proposal_reply: '建议提案复文公开（10个工作日）',
  penalty_disclosure: '行政处罚结果公开（20个工作日）',
  disclosure_request: '依申请公开答复（20个工作日）',
};

export const OUTCOME_LABEL: Record<Outcome, string> = { on_time: '按时', late: '超时回应', breached: '超时未回应', pending: '未到期' };

export const NO_UNIT_LABEL = '未指定责任单位';

export interface StatsRow {
  /** Unit id, level (or 'ungraded'), kind, or 'YYYY-MM'; null = no unit; 'all' for totals. */
  key: string | null;
  label: string;
  /** on_time + late + breached: the deadlines that fell due. */
  counted: number;
  onTime: number;
  late: number;
  breached: number;
  pending: number;
  /** On-time clocks whose breach was retracted (the response turned out to predate the due). */
  retracted: number;
  /** onTime / counted, null when nothing fell due. */
  onTimeRate: number | null;
  /** Over late + breached: late = respondedAt − due, breached = now − due. */
  overdue: { count: number; totalMs: number; maxMs: number | null; medianMs: number | null };
  /** Incidents only: earliest qualifying response − incident start. */
  firstResponse: { incidents: number; medianMs: number | null; p90Ms: number | null };
}

export interface StatsItem {
  source: 'incident' | 'duty';
  /** Incident id or duty id. */
  id: string;
  seq: number;
  title: string;
  kind: string;
  level: string | null;
  unit: { id: string; name: string } | null;
  startAt: string;
  dueAt: string;
  respondedAt: string | null;
  outcome: Outcome;
  overdueMs: number | null;
  retracted: boolean;
}

const isDutyKind = (k: string): boolean => (DUTY_KINDS as readonly string[]).includes(k);

const iso = (d: Date) => d.toISOString();

/**
 * The facts under the filter, one row per deadline. `detail` joins incidents for the level,
 * title and start (needed for level, drill-down, first response); without it the by-unit and
 * by-kind figures read `clocks` and the breach alerts only. `only` narrows the scan to the
 * rows a figure needs: 'missed' (late or breached: overdue), 'met' (first response).
 *
 * Incident clocks come in two branches so that the large on-time majority is never joined
 * with the breach alerts: an on-time clock's unit is its incident's, and only the few retracted
 * breaches are looked up for it.
 */
function facts(now: Date, f: StatsFilter, detail: boolean, only: 'all' | 'missed' | 'met' = 'all'): SQL {
  const parts: SQL[] = [];
  const nowP = sql`${iso(now)}::timestamptz`;
  const period = (col: SQL) => {
    const c: SQL[] = [];
    if (f.from) c.push(sql`${col} > ${iso(f.from)}::timestamptz`);
    if (f.to) c.push(sql`${col} <= ${iso(f.to)}::timestamptz`);
    return c;
  };
  const wantIncidents = f.source !== 'duty' && !(f.kind && isDutyKind(f.kind));
  const wantDuties = f.source !== 'incident' && !(f.kind && !isDutyKind(f.kind)) && !f.level;

  if (wantIncidents) {
    const joinIncidents = detail || f.level !== undefined;
    const common: SQL[] = [...period(sql`c.due_at`)];
    if (f.kind) common.push(sql`c.kind = ${f.kind}`);
    if (f.level === 'ungraded') common.push(sql`i.level is null`);
    else if (f.level) common.push(sql`i.level = ${f.level}`);
    const columns = (unit: SQL, outcome: SQL, retracted: SQL) => sql`
      select 'incident'::text as source, c.incident_id as ref_id, c.seq, c.kind,
        ${joinIncidents ? sql`i.level` : sql`null::text`} as level, ${unit} as unit_id,
        c.start_at, c.due_at, c.responded_at, ${outcome} as outcome, ${retracted} as retracted,
        ${detail ? sql`i.title` : sql`null::text`} as title,
        ${detail ? sql`i.start_at` : sql`null::timestamptz`} as incident_start
      from clocks c
      ${joinIncidents ? sql`join incidents i on i.id = c.incident_id` : sql``}`;
    if (only !== 'missed') {
      parts.push(sql`${columns(sql`c.unit_id`, sql`'on_time'::text`, sql`r.incident_id is not null`)}
        left join (select incident_id, clock, due_at from alerts
                   where kind = 'breached' and incident_id is not null and retracted_at is not null) r
          on r.incident_id = c.incident_id and r.clock = c.kind and r.due_at = c.due_at
        where ${sql.join([sql`c.state = 'met'`, sql`c.late is not true`, ...common], sql` and `)}`);
    }
    const missed =
      only === 'met'
        ? sql`c.state = 'met' and c.late`
        : only === 'missed'
          ? sql`((c.state = 'met' and c.late) or c.state = 'breached' or (c.state = 'running' and c.due_at <= ${nowP}))`
          : sql`((c.state = 'met' and c.late) or c.state in ('breached', 'running'))`;
    parts.push(sql`${columns(
      // The unit a breach belongs to is the one on its alert: responsible when it happened.
      sql`case when b.id is not null then b.unit_id else c.unit_id end`,
      sql`case when c.state = 'met' then 'late' when c.state = 'breached' or c.due_at <= ${nowP} then 'breached' else 'pending' end`,
      sql`false`,
    )}
      left join alerts b on b.kind = 'breached' and b.incident_id = c.incident_id and b.clock = c.kind and b.due_at = c.due_at
      where ${sql.join([missed, ...common], sql` and `)}`);
  }
  if (wantDuties) {
    const where: SQL[] = [sql`o.status in ('running', 'met', 'breached')`, ...period(sql`o.due_at`)];
    if (f.kind) where.push(sql`o.kind = ${f.kind}`);
    parts.push(sql`
      select 'duty'::text as source, o.id as ref_id, 0 as seq, o.kind, null::text as level, o.unit_id,
        to_timestamp((o.state->>'startAt')::float8 / 1000) as start_at, o.due_at,
        to_timestamp((o.state->>'respondedAt')::float8 / 1000) as responded_at,
        case when o.status = 'met' and (o.state->>'late')::boolean is not true then 'on_time'
             when o.status = 'met' then 'late'
             when o.status = 'breached' then 'breached'
             -- A suspended count (补正, 征求第三方意见) does not run out while suspended.
             when o.due_at <= ${nowP} and jsonb_typeof(o.state->'suspension') is distinct from 'object' then 'breached'
             else 'pending' end as outcome,
        (o.status = 'met' and (o.state->>'late')::boolean is not true and ra.obligation_id is not null) as retracted,
        coalesce(o.title, o.id) as title, null::timestamptz as incident_start
      from obligations o
      left join (select distinct obligation_id from alerts
                 where kind = 'breached' and obligation_id is not null and retracted_at is not null) ra on ra.obligation_id = o.id
      where ${sql.join(where, sql` and `)}`);
  }
  if (parts.length === 0) {
    return sql`select null::text as source, null::text as ref_id, 0 as seq, null::text as kind, null::text as level, null::text as unit_id,
      null::timestamptz as start_at, null::timestamptz as due_at, null::timestamptz as responded_at, null::text as outcome,
      false as retracted, null::text as title, null::timestamptz as incident_start where false`;
  }
  return sql.join(parts, sql` union all `);
}

/** The unit the caller may see wins; `unit` is a further filter (the route 404s a foreign one). */
function unitCondition(scope: StatsScope, f: StatsFilter): SQL {
  const unit = scope.unitId ?? f.unit;
  if (unit === undefined) return sql`true`;
  return unit === 'none' ? sql`g.unit_id is null` : sql`g.unit_id = ${unit}`;
}

const MONTH_KEY = sql`to_char((g.due_at - interval '1 millisecond') at time zone 'Asia/Shanghai', 'YYYY-MM')`;

function keyOf(d: Dimension | 'all'): SQL {
  switch (d) {
    case 'all':
      return sql`'all'::text`;
    case 'unit':
      return sql`g.unit_id`;
    case 'level':
      return sql`case when g.source = 'duty' then null else coalesce(g.level, 'ungraded') end`;
    case 'kind':
      return sql`g.kind`;
    case 'month':
      return MONTH_KEY;
  }
}

/**
 * A reporting query: one scan and sort of up to millions of rows. JIT compilation would cost
 * seconds on top (the planner's estimate crosses jit_above_cost long before compiling pays
 * off), and the per-unit sorts behind the percentiles should stay in memory.
 */
async function reporting(db: Db, query: SQL): Promise<unknown> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`set local jit = off`);
    await tx.execute(sql`set local work_mem = '64MB'`);
    return tx.execute(query);
  });
}

/** How long past due: a late response by respondedAt − due, a still-open breach by now − due. */
const overdueMs = (now: Date) => sql`case g.outcome when 'late' then extract(epoch from g.responded_at - g.due_at) * 1000
  when 'breached' then extract(epoch from ${iso(now)}::timestamptz - g.due_at) * 1000 end`;

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

const num = (v: string | number | null | undefined): number | null => (v === null || v === undefined ? null : Math.round(Number(v)));

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

export function monthLabel(month: string): string {
  const [y, m] = month.split('-');
  return `${y}年${Number(m)}月`;
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

/** An all-zero row, for months without any due in the trend. */
export function emptyRow(key: string | null, label: string): StatsRow {
  return {
    key,
    label,
    counted: 0,
    onTime: 0,
    late: 0,
    breached: 0,
    pending: 0,
    retracted: 0,
    onTimeRate: null,
    overdue: { count: 0, totalMs: 0, maxMs: null, medianMs: null },
    firstResponse: { incidents: 0, medianMs: null, p90Ms: null },
  };
}

export type RankedRow = StatsRow & { rank: number };

/**
 * Units ranked best first: on-time rate (units with nothing due last), then fewer deadlines
 * missed, then more handled. Equal figures share a rank (1, 1, 3).
 */
export function rankUnits(rows: readonly StatsRow[]): RankedRow[] {
  const missed = (r: StatsRow) => r.late + r.breached;
  const cmp = (a: StatsRow, b: StatsRow) => (b.onTimeRate ?? -1) - (a.onTimeRate ?? -1) || missed(a) - missed(b) || b.counted - a.counted;
  const sorted = [...rows].sort((a, b) => cmp(a, b) || String(a.key).localeCompare(String(b.key)));
  const ranked: RankedRow[] = [];
  sorted.forEach((r, i) => {
    const prev = ranked[i - 1];
    ranked.push({ ...r, rank: prev && cmp(prev, r) === 0 ? prev.rank : i + 1 });
  });
  return ranked;
}

/** Every month of the period, Asia/Shanghai, oldest first ('YYYY-MM'); empty without both bounds. */
export function monthsOf(from: Date | undefined, to: Date | undefined): string[] {
  if (!from || !to) return [];
  const shanghai = (d: Date) => new Date(d.getTime() + 8 * 3_600_000);
  // (from, to]: the first month is the one holding from + 1 ms, the last the one holding to − 1 ms.
  const a = shanghai(new Date(from.getTime() + 1));
  const b = shanghai(new Date(to.getTime() - 1));
  const out: string[] = [];
  for (let y = a.getUTCFullYear(), m = a.getUTCMonth(); y < b.getUTCFullYear() || (y === b.getUTCFullYear() && m <= b.getUTCMonth());) {
    out.push(`${y}-${String(m + 1).padStart(2, '0')}`);
    if (++m === 12) {
      m = 0;
      y++;
    }
    if (out.length > 1200) break;
  }
  return out;
}

interface ItemRow {
  source: 'incident' | 'duty';
  ref_id: string;
  seq: number;
  kind: string;
  level: string | null;
  unit_id: string | null;
  unit_name: string | null;
  title: string | null;
  start_at: Date | string;
  due_at: Date | string;
  responded_at: Date | string | null;
  outcome: Outcome;
  overdue_ms: string | null;
  retracted: boolean;
  total: string;
}

const isoOf = (v: Date | string) => new Date(v).toISOString();

/** Drill-down: the deadlines behind a figure, latest due first. */
export async function listItems(
  db: Db,
  now: Date,
  scope: StatsScope,
  f: StatsFilter,
  page: { outcome?: Outcome | readonly Outcome[]; firstResponse?: boolean; limit: number; offset: number },
): Promise<{ items: StatsItem[]; total: number }> {
  const outcomes = page.outcome === undefined ? [] : typeof page.outcome === 'string' ? [page.outcome] : page.outcome;
  const outcomeCondition =
    outcomes.length === 0
      ? sql`true`
      : sql`g.outcome in (${sql.join(
          outcomes.map((o) => sql`${o}`),
          sql`, `,
        )})`;
  // The first-response figure counts incidents, by their earliest met clock (exactGroupStats' first_at).
  const g = (detail: boolean) =>
    page.firstResponse
      ? sql`select distinct on (g.ref_id) * from (${facts(now, { ...f, source: f.source ?? 'incident' }, true, 'met')}) as g
          where ${unitCondition(scope, f)} and g.source = 'incident' order by g.ref_id, g.responded_at, g.seq`
      : sql`select * from (${facts(now, f, detail)}) as g where ${unitCondition(scope, f)}`;
  const result = await reporting(
    db,
    sql`
    with g as (${g(true)})
    select g.source, g.ref_id, g.seq, g.kind, g.level, g.unit_id, u.name as unit_name, g.title,
      g.start_at, g.due_at, g.responded_at, g.outcome, g.retracted,
      ${overdueMs(now)} as overdue_ms,
      count(*) over () as total
    from g left join units u on u.id = g.unit_id
    where ${outcomeCondition}
    order by g.due_at desc, g.ref_id, g.seq
    limit ${page.limit} offset ${page.offset}`,
  );
  const rows = rowsOf<ItemRow>(result);
  let total = Number(rows[0]?.total ?? 0);
  if (rows.length === 0 && page.offset > 0) {
    const counted = await db.execute(sql`with g as (${g(false)}) select count(*) as total from g where ${outcomeCondition}`);
    total = Number(rowsOf<{ total: string }>(counted)[0]?.total ?? 0);
  }
  return {
    total,
    items: rows.map((r) => ({
      source: r.source,
      id: r.ref_id,
      seq: Number(r.seq),
      title: r.title ?? r.ref_id,
      kind: r.kind,
      level: r.level,
      unit: r.unit_id === null ? null : { id: r.unit_id, name: r.unit_name ?? r.unit_id },
      startAt: isoOf(r.start_at),
      dueAt: isoOf(r.due_at),
      respondedAt: r.responded_at === null ? null : isoOf(r.responded_at),
      outcome: r.outcome,
      overdueMs: num(r.overdue_ms),
      retracted: r.retracted,
    })),
  };
}

export async function unitExists(db: Db, id: string): Promise<string | null> {
  const rows = rowsOf<{ name: string }>(await db.execute(sql`select name from units where id = ${id}`));
  return rows[0]?.name ?? null;
}
