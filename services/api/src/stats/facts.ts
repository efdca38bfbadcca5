/**
 * Leaders' statistics (领导统计): response timeliness over the clocks read model and the
 * working-day duties, in PostgreSQL (the same SQL runs on PGlite in the embedded default).
 * Here the deadlines ("facts") every figure is computed from, as SQL, and the pieces of SQL the
 * figures share.
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
 */
import { type Db, type SQL, sql } from '@huiying/db';
import { type Dimension, DUTY_KINDS, type StatsFilter, type StatsScope } from './model.ts';

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
export function facts(now: Date, f: StatsFilter, detail: boolean, only: 'all' | 'missed' | 'met' = 'all'): SQL {
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
export function unitCondition(scope: StatsScope, f: StatsFilter): SQL {
  const unit = scope.unitId ?? f.unit;
  if (unit === undefined) return sql`true`;
  return unit === 'none' ? sql`g.unit_id is null` : sql`g.unit_id = ${unit}`;
}

const MONTH_KEY = sql`to_char((g.due_at - interval '1 millisecond') at time zone 'Asia/Shanghai', 'YYYY-MM')`;

export function keyOf(d: Dimension | 'all'): SQL {
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
export async function reporting(db: Db, query: SQL): Promise<unknown> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`set local jit = off`);
    await tx.execute(sql`set local work_mem = '64MB'`);
    return tx.execute(query);
  });
}

/** How long past due: a late response by respondedAt − due, a still-open breach by now − due. */
export const overdueMs = (now: Date) => sql`case g.outcome when 'late' then extract(epoch from g.responded_at - g.due_at) * 1000
  when 'breached' then extract(epoch from ${iso(now)}::timestamptz - g.due_at) * 1000 end`;

export const num = (v: string | number | null | undefined): number | null => (v === null || v === undefined ? null : Math.round(Number(v)));
