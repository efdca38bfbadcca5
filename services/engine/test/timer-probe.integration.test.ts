/**
 * The timer's "anything due?" probe runs before every pass (deadlines.ts anyDue). Fired wakes
 * leave dead rows at the start of the queue's heap until the queue's vacuum; once the planner
 * estimated most of the queue due, an unordered probe became a sequential scan that walked them
 * (2.3 ms a pass in bench/timer.ts). It must read the index's head instead, whatever the estimate.
 */
import { rowsOf, sql } from '@huiying/db';
import { freshDatabase } from '@huiying/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { anyDue } from '../src/deadlines.ts';
import { incidentDeadlines } from '../src/store.ts';

let db: Awaited<ReturnType<typeof freshDatabase>>;
const T0 = Date.parse('2026-07-01T09:00:00+08:00');
const N = 20_000;

beforeAll(async () => {
  db = await freshDatabase();
  // A queue of N wakes one ms apart, analysed whole; then the first half fired (deleted, not yet vacuumed).
  await db.db.execute(sql`
    insert into incidents (id, title, level, status, start_at, state, next_wake_at, version, created_at, updated_at)
    select 'inc_' || i, 't', 'IV', 'open', ${new Date(T0).toISOString()}::timestamptz, '{}'::jsonb,
      ${new Date(T0).toISOString()}::timestamptz + i * interval '1 ms', 1, now(), now()
    from generate_series(1, ${N}) i`);
  await db.db.execute(sql`insert into incident_wakes (incident_id, wake_at) select id, next_wake_at from incidents`);
  await db.db.execute(sql`analyze incident_wakes`);
  await db.db.execute(sql`delete from incident_wakes where wake_at <= ${new Date(T0 + N / 2).toISOString()}`);
}, 60_000);

afterAll(async () => {
  await db?.drop();
});

const planOf = async (query: ReturnType<typeof anyDue>) => {
  const rows = rowsOf<{ 'QUERY PLAN': string }>(await db.db.execute(sql`explain (costs off) ${query}`));
  return rows.map((r) => r['QUERY PLAN']).join('\n');
};

it('probes the incident queue by its index even when the planner estimates most of it due', async () => {
  // 75 % of the analysed queue is due by then: "any row" by a sequential scan looked cheapest.
  const until = T0 + (3 * N) / 4;
  const plan = await planOf(anyDue(incidentDeadlines, until));
  expect(plan).not.toMatch(/Seq Scan/);
  expect(plan).toMatch(/Index (Only )?Scan using incident_wakes_at_idx/);
  const [row] = rowsOf<{ one: number }>(await db.db.execute(anyDue(incidentDeadlines, until)));
  expect(row?.one).toBe(1);
  // Nothing is due before the first wake left.
  expect(rowsOf(await db.db.execute(anyDue(incidentDeadlines, T0 + N / 2)))).toEqual([]);
});
