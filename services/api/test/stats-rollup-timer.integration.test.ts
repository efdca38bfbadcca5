/**
 * A breach the engine's timer fires is rolled up, on the real PostgreSQL and the real engine
 * (fake clock). The timer's write leaves the incident's `updated_at` as the last signal or
 * command set it, so that the wide row's update is HOT (migration 0033): the rollup finds the
 * breach by its clock's row instead, and the figures it stores count it.
 */
import { FakeClock } from '@huiying/clock';
import { type DbHandle, openPostgres, rowsOf, sql, units } from '@huiying/db';
import { DEFAULT_RULE_PACK, MS_PER_HOUR } from '@huiying/domain';
import { type EngineDeps, fireDue } from '@huiying/engine';
import { freshDatabase } from '@huiying/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { signalIn } from '../../engine/test/signal-in.ts';
import { exactGroupStats, groupStats, type StatsFilter } from '../src/stats/queries.ts';
import { runRollup } from '../src/stats/rollup.ts';

const H = MS_PER_HOUR;
const T0 = Date.parse('2026-06-10T09:00:00+08:00');
const JUNE: StatsFilter = { from: new Date('2026-06-01T00:00:00+08:00'), to: new Date('2026-07-01T00:00:00+08:00') };
const NOW = new Date(T0 + 30 * 24 * H);
let db: Awaited<ReturnType<typeof freshDatabase>>;

beforeAll(async () => {
  db = await freshDatabase();
  await db.db.insert(units).values([{ id: 'u1', name: '一单位', email: 'u1@example.test' }]);
});

afterAll(async () => {
  await db?.drop();
});

const incidentRow = async (id: string) =>
  rowsOf<{ updated_at: string; xmin: string }>(
    await db.db.execute(sql`select updated_at::text, xmin::text from incidents where id = ${id}`),
  )[0]!;
const facts = async (id: string) =>
  rowsOf<{ outcome: string }>(
    await db.db.execute(sql`select outcome from stats_fact where source = 'incident' and ref_id = ${id} order by seq`),
  ).map((r) => r.outcome);
/** The exact figures (the medians of rolled-up values are floored to the minute). */
const strict = (rows: Awaited<ReturnType<typeof groupStats>>) =>
  rows.map((r) => [r.key, r.counted, r.onTime, r.late, r.breached, r.overdue.count, r.overdue.totalMs, r.overdue.maxMs]);
const hotUpdates = async () => {
  await db.db.execute(sql`select pg_stat_clear_snapshot()`);
  return Number(
    rowsOf<{ n: string }>(
      await db.db.execute(sql`select n_tup_hot_upd::text as n from pg_stat_user_tables where relname = 'incidents'`),
    )[0]!.n,
  );
};

it('a breach fired by the timer is rolled up, though the incident row kept its updated_at (a HOT update)', async () => {
  // The engine on a connection of its own, closed after firing: a backend reports its statistics on exit.
  const engineDb: DbHandle = openPostgres(db.url);
  const clock = new FakeClock(T0);
  const deps: EngineDeps = { db: engineDb.db, clock, pack: () => DEFAULT_RULE_PACK };
  const { incidentId: id } = await signalIn(deps, {
    v: 1,
    type: 'signal',
    id: 'sig-rollup-timer-1',
    source: 'hotline',
    sourceRef: 'sig-rollup-timer-1',
    title: '小区停水三天无人处理',
    unitHint: 'u1',
    publishedAt: new Date(T0 - 2 * H).toISOString(),
    receivedAt: new Date(T0).toISOString(),
  });
  // A run with no margin: its watermark is the incident's last change; nothing is rolled up yet (its clock runs).
  expect(await runRollup(db.db, { marginMs: 0 })).toMatchObject({ full: true });
  expect(await facts(id)).toEqual([]);
  const created = await incidentRow(id);
  const hotBefore = await hotUpdates();

  // The timer fires the warnings and the 48 h response breach.
  for (const at of [T0 + 30 * H, T0 + 46 * H + 1]) {
    await clock.advanceTo(at);
    expect(await fireDue(deps, at)).toBe(1);
  }
  await engineDb.close();
  const fired = await incidentRow(id);
  expect(fired.xmin).not.toBe(created.xmin);
  expect(fired.updated_at).toBe(created.updated_at);
  expect(await hotUpdates()).toBeGreaterThan(hotBefore);

  // A request before the next run reads the change live; the run takes it in; both count the breach as the exact query does.
  const exact = await exactGroupStats(db.db, NOW, {}, JUNE, 'all');
  expect(exact[0]).toMatchObject({ counted: 1, breached: 1 });
  expect(strict(await groupStats(db.db, NOW, {}, JUNE, 'all'))).toEqual(strict(exact));
  expect(await runRollup(db.db, { marginMs: 0 })).toMatchObject({ full: false, examined: 1, changed: 1 });
  expect(await facts(id)).toEqual(['breached']);
  expect(strict(await groupStats(db.db, NOW, {}, JUNE, 'all'))).toEqual(strict(exact));
  expect(await runRollup(db.db, { marginMs: 0 })).toMatchObject({ examined: 0, changed: 0 });
});
