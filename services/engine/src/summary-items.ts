/**
 * What the periodic summaries (the leaders' daily and weekly digests, the 交接班 handover) list:
 * clocks and obligations as one list of items, and queueing the summary mails they render.
 */
import { type DbOrTx, enqueueNotifications, type NewNotification, rowsOf, sql } from '@huiying/db';
import { maskPersonalData } from '@huiying/domain';
import type { SummaryItem } from '@huiying/notify';

type Row = {
  type: 'incident' | 'obligation';
  id: string;
  title: string | null;
  clock: string;
  unit_name: string | null;
  due_at: string | Date;
};
// Titles come from tickets and posts and may carry a citizen's name or phone number: masked in mail.
const itemOf = (r: Row): SummaryItem => ({
  type: r.type,
  id: r.id,
  title: maskPersonalData(r.title ?? r.id),
  clock: r.clock,
  unitName: r.unit_name,
  dueAt: new Date(r.due_at).getTime(),
});

// Literal states rather than parameters, so the planner can use the partial indexes (clocks_running_idx, …).
const IN_STATE = {
  breached: { clock: sql`c.state = 'breached'`, obligation: sql`o.status = 'breached'` },
  running: { clock: sql`c.state = 'running'`, obligation: sql`o.status = 'running'` },
};

/** Clocks and obligations in `state`, only those due in (from, to] if given; oldest due first. */
async function loadItems(db: DbOrTx, state: keyof typeof IN_STATE, due?: { from: number; to: number }): Promise<SummaryItem[]> {
  const from = due && new Date(due.from).toISOString();
  const to = due && new Date(due.to).toISOString();
  return rowsOf<Row>(
    await db.execute(sql`
      select 'incident' as type, c.incident_id as id, i.title, c.kind as clock, u.name as unit_name, c.due_at
      from clocks c join incidents i on i.id = c.incident_id left join units u on u.id = c.unit_id
      where ${IN_STATE[state].clock} ${due ? sql`and c.due_at > ${from}::timestamptz and c.due_at <= ${to}::timestamptz` : sql``}
      union all
      select 'obligation', o.id, o.title, o.kind, u.name, o.due_at
      from obligations o left join units u on u.id = o.unit_id
      where ${IN_STATE[state].obligation} ${due ? sql`and o.due_at > ${from}::timestamptz and o.due_at <= ${to}::timestamptz` : sql``}
      order by due_at, id`),
  ).map(itemOf);
}

/** Every breached clock and obligation (still open, so still overdue), oldest due first. */
export const loadBreachedItems = (db: DbOrTx): Promise<SummaryItem[]> => loadItems(db, 'breached');

/** Running clocks and obligations that fall due in (from, to], soonest first. */
export const loadItemsDueIn = (db: DbOrTx, from: number, to: number): Promise<SummaryItem[]> => loadItems(db, 'running', { from, to });

/**
 * Queue the summary mails (idempotent per clock key, step and recipient) and, when any row is
 * new, wake every dispatcher at commit. Returns the rows inserted.
 */
export async function queueSummaries(tx: DbOrTx, at: number, rows: readonly NewNotification[]): Promise<number> {
  const ids = await enqueueNotifications(tx, new Date(at), rows);
  if (ids.length > 0) await tx.execute(sql`select pg_notify('huiying_notify', ${String(ids.length)})`);
  return ids.length;
}
