/** The drill-down: the deadlines behind a figure, one by one (also the 通报's list). */
import { type Db, rowsOf, sql } from '@huiying/db';
import { facts, num, overdueMs, reporting, unitCondition } from './facts.ts';
import type { Outcome, StatsFilter, StatsItem, StatsScope } from './model.ts';

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
