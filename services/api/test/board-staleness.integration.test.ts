/**
 * The board rebuilt off the request path, across two API processes on the real PostgreSQL: after
 * a change made elsewhere (notified by the database), a duty officer's next page may be the
 * previous one — at most `maxStaleMs` (1 s) after the change, while one rebuild runs — and the
 * page after it has the change; a unit user's page is never stale (a reassignment narrows what
 * they may see); and a rebuild that ends after its request was answered 304 is still the list.
 */
import { FakeClock } from '@huiying/clock';
import { sql } from '@huiying/db';
import { eventually, freshDatabase, type SessionClient } from '@huiying/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type EmbeddedHarness, startEmbedded } from '../../standalone/test/embedded-harness.ts';

const T0 = Date.parse('2026-10-12T08:00:00+08:00');
const clock = new FakeClock(T0);
/** B's wall clock (sessions, and the staleness bound): moved by hand. */
const wall = new FakeClock(Date.now());
const units = [
  { id: 'housing', name: '市住房和城乡建设局', email: 'zjj@example.test' },
  { id: 'environment', name: '市生态环境局', email: 'sthjj@example.test' },
];
let db: Awaited<ReturnType<typeof freshDatabase>>;
let a: EmbeddedHarness;
let b: EmbeddedHarness;
let dutyA: SessionClient;
let dutyB: SessionClient;
let unitB: SessionClient;
let incidentId: string;

type Board = { items: { id: string; title: string }[] | undefined };
const boardOf = async (c: SessionClient, headers: Record<string, string> = {}) =>
  c.inject({ method: 'GET', url: '/api/incidents?status=open', headers });
const titleOn = async (c: SessionClient) => (await boardOf(c)).json<Board>().items?.find((i) => i.id === incidentId)?.title;

/** A change made outside B (plain SQL: the trigger notifies every process), and B told of it. */
async function renameElsewhere(title: string): Promise<void> {
  const before = b.hy.app.boardCache.changes;
  await db.db.execute(
    sql`update incidents set title = ${title}, state = jsonb_set(state, '{title}', to_jsonb(${title}::text)) where id = ${incidentId}`,
  );
  await eventually(async () => b.hy.app.boardCache.changes > before, 'B notified');
}

beforeAll(async () => {
  db = await freshDatabase();
  a = await startEmbedded({ clock, handle: db, units });
  b = await startEmbedded({ clock, handle: db, units, compose: { realClock: wall } });
  dutyA = await a.as('duty');
  dutyB = await b.as('duty');
  unitB = await b.as('unit-housing');
  const receivedAt = new Date(T0 - 3_600_000).toISOString();
  const res = await dutyA.inject({
    method: 'POST',
    url: '/api/tickets',
    payload: { id: 'STALE-1', receivedAt, title: '小区停水', content: '小区停水三天' },
  });
  expect(res.statusCode).toBeLessThan(300);
  incidentId = await eventually(async () => (await boardOf(dutyA)).json<Board>().items?.[0]?.id, 'the incident');
  expect(
    (await dutyA.inject({ method: 'POST', url: `/api/incidents/${incidentId}/assign`, payload: { unit: 'housing' } })).statusCode,
  ).toBe(200);
  await eventually(async () => a.hy.app.boardCache.enabled && b.hy.app.boardCache.enabled, 'both apps listening');
  await eventually(async () => (await titleOn(unitB)) === '小区停水', "on the unit's board");
});

afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await db?.drop();
});

it("a duty officer's page: the previous one while it is rebuilt, within the bound, then the change", async () => {
  expect(await titleOn(dutyB)).toBe('小区停水'); // cached on B
  await renameElsewhere('改名一');
  const staleHits = b.hy.app.boardCache.staleHits;
  expect(await titleOn(dutyB)).toBe('小区停水'); // not waited for the rebuild…
  expect(b.hy.app.boardCache.staleHits).toBe(staleHits + 1);
  await eventually(async () => (await titleOn(dutyB)) === '改名一', 'the rebuilt page'); // …which follows

  // Past the bound the request waits for a page read after the change.
  await renameElsewhere('改名二');
  await wall.advanceBy(1_001);
  expect(await titleOn(dutyB)).toBe('改名二');
});

it("a unit user's page is never stale: a change known to the process is on their next page", async () => {
  expect(await titleOn(unitB)).toBe('改名二');
  await renameElsewhere('改名三');
  expect(await titleOn(unitB)).toBe('改名三');
  // Reassigned to another unit through A: off the housing board as soon as B knows.
  const before = b.hy.app.boardCache.changes;
  expect(
    (await dutyA.inject({ method: 'POST', url: `/api/incidents/${incidentId}/assign`, payload: { unit: 'environment' } })).statusCode,
  ).toBe(200);
  await eventually(async () => b.hy.app.boardCache.changes > before, 'B notified');
  expect((await boardOf(unitB)).json<Board>().items?.map((i) => i.id)).not.toContain(incidentId);
});

it('a rebuild started by a request answered 304 is the list, serialized by its own schema', async () => {
  await wall.advanceBy(1_001); // whatever the last test left stale is not served again
  const first = await boardOf(dutyB);
  expect(first.json<Board>().items?.find((i) => i.id === incidentId)?.title).toBe('改名三');
  const etag = String(first.headers.etag);
  await renameElsewhere('改名四');
  const revalidated = await boardOf(dutyB, { 'if-none-match': etag });
  expect(revalidated.statusCode).toBe(304); // the previous page, still current enough
  await eventually(async () => (await titleOn(dutyB)) === '改名四', 'the rebuilt page');
});
