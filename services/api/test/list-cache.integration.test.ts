/**
 * The board's page cache across processes, on the real PostgreSQL: two apps (two "API
 * processes") over one database, each caching its board pages. A change made anywhere reaches
 * every app through the database's notification (migration 0014), a change made through an app
 * is on that app's next page at once, and an app whose LISTEN connection is killed reads the
 * database for every page until it listens again. The same notification prompts the statistics
 * rollup (one LISTEN connection per process).
 */
import { FakeClock } from '@huiying/clock';
import { rowsOf, sql } from '@huiying/db';
import { eventually, freshDatabase, type SessionClient } from '@huiying/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type EmbeddedHarness, startEmbedded } from '../../standalone/test/embedded-harness.ts';

const T0 = Date.parse('2026-10-12T08:00:00+08:00');
const clock = new FakeClock(T0);
let db: Awaited<ReturnType<typeof freshDatabase>>;
let a: EmbeddedHarness;
let b: EmbeddedHarness;
let dutyA: SessionClient;
let dutyB: SessionClient;
let incidentId: string;

type Board = { items: { id: string; title: string; level: string | null }[]; total: number };
const board = async (c: SessionClient) => (await c.inject({ method: 'GET', url: '/api/incidents?status=open' })).json<Board>();
const titleOn = async (c: SessionClient) => (await board(c)).items.find((i) => i.id === incidentId)?.title;

/** A write no trigger sees (as if the notification were lost): only the cache can explain a stale page. */
async function renameBehindTheCache(title: string): Promise<void> {
  await db.db.transaction(async (tx) => {
    await tx.execute(sql`set local session_replication_role = replica`);
    await tx.execute(
      sql`update incidents set title = ${title}, state = jsonb_set(state, '{title}', to_jsonb(${title}::text)) where id = ${incidentId}`,
    );
  });
}

beforeAll(async () => {
  db = await freshDatabase();
  a = await startEmbedded({ clock, handle: db });
  b = await startEmbedded({ clock, handle: db });
  dutyA = await a.as('duty');
  dutyB = await b.as('duty');
  const receivedAt = new Date(T0 - 3_600_000).toISOString();
  await dutyA.inject({
    method: 'POST',
    url: '/api/tickets',
    payload: { id: 'CACHE-1', receivedAt, title: '小区停水', content: '小区停水三天' },
  });
  incidentId = await eventually(async () => (await board(dutyB)).items[0]?.id, 'the incident on B');
  await eventually(async () => a.hy.app.boardCache.enabled && b.hy.app.boardCache.enabled, 'both apps listening');
});

afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await db?.drop();
});

it('serves a cached page until the database notifies a change, whichever process made it', async () => {
  expect(await titleOn(dutyB)).toBe('小区停水');
  await renameBehindTheCache('改名（未通知）');
  expect(await titleOn(dutyB)).toBe('小区停水'); // cached
  const hits = b.hy.app.boardCache.hits;
  await board(dutyB);
  expect(b.hy.app.boardCache.hits).toBe(hits + 1);

  // Graded through A: the commit notifies, B's next page is read afresh (and shows the rename too).
  const graded = await dutyA.inject({ method: 'POST', url: `/api/incidents/${incidentId}/grade`, payload: { level: 'III' } });
  expect(graded.statusCode).toBe(200);
  await eventually(async () => (await board(dutyB)).items.find((i) => i.id === incidentId)?.level === 'III', 'B sees the grade');
  expect(await titleOn(dutyB)).toBe('改名（未通知）');
});

it('a change made through an app is on its own next page (the write invalidates locally; the notification and the live event do too)', async () => {
  await board(dutyA); // cached on A
  await renameBehindTheCache('再次改名');
  const assigned = await dutyA.inject({ method: 'POST', url: `/api/incidents/${incidentId}/grade`, payload: { level: 'IV' } });
  expect(assigned.statusCode).toBe(200);
  const page = await board(dutyA);
  expect(page.items.find((i) => i.id === incidentId)).toMatchObject({ level: 'IV', title: '再次改名' });
});

it('an app that lost its LISTEN connection reads the database for every page, then caches again', async () => {
  await board(dutyB);
  const killed = rowsOf<{ pg_terminate_backend: boolean }>(
    await db.db.execute(sql`select pg_terminate_backend(pid) from pg_stat_activity
      where datname = current_database() and query ilike 'LISTEN%huiying_board%'`),
  );
  expect(killed.length).toBe(2); // A's and B's
  await eventually(async () => !b.hy.app.boardCache.enabled, 'B notices');
  await renameBehindTheCache('监听中断时改名');
  expect(await titleOn(dutyB)).toBe('监听中断时改名'); // not cached while deaf
  await eventually(async () => b.hy.app.boardCache.enabled, 'B listens again', 20_000);
  await board(dutyB);
  await renameBehindTheCache('恢复后改名');
  expect(await titleOn(dutyB)).not.toBe('恢复后改名'); // cached again
});

it('the notification also prompts the statistics rollup: a change is rolled up in seconds, not at the next minute', async () => {
  const ranAt = async () =>
    rowsOf<{ ran_at: string }>(await db.db.execute(sql`select ran_at::text as ran_at from stats_rollup_state where id = 1`))[0]?.ran_at;
  // The first run (10 s after start, or prompted by the ticket of beforeAll).
  const before = await eventually(ranAt, 'a first rollup run', 30_000);
  await db.db.execute(sql`update incidents set updated_at = now() where id = ${incidentId}`);
  // Prompted 2 s after the notification; the scheduled run is a minute apart.
  await eventually(async () => ((await ranAt()) ?? '') > before, 'a run soon after the change', 8_000);
});
