/**
 * Resolved sessions kept per API process (packages/http/src/session-cache.ts), on the real
 * PostgreSQL: two apps (two "API processes") over one database, one cookie used on both. A
 * session ended or changed through one app is refused or changed on the other as soon as the
 * database's notification arrives (migration 0018), and on the app that made the change at once;
 * expiry stays exact while a session is kept; last_seen_at is written at most once a minute per
 * process; an app that lost its LISTEN connection reads every session from the database.
 * Session time runs on its own fake clock, shared by both apps.
 */
import { FakeClock } from '@huiying/clock';
import { rowsOf, sql } from '@huiying/db';
import { DEFAULT_SESSION_POLICY, digest } from '@huiying/identity';
import { eventually, freshDatabase, type Injectable, loginAs, type SessionClient } from '@huiying/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedHarness, startEmbedded } from '../../standalone/test/embedded-harness.ts';

const MINUTE = 60_000;
const PASSWORD = 'kept-sessions-2026';
const T0 = Date.parse('2026-11-30T09:00:00+08:00');
const clock = new FakeClock(T0);
const wall = new FakeClock(T0);

let db: Awaited<ReturnType<typeof freshDatabase>>;
let a: EmbeddedHarness;
let b: EmbeddedHarness;
let admin: SessionClient;

/** The same cookie session on another app (another API process). */
const on = (app: EmbeddedHarness, client: SessionClient): SessionClient => ({
  ...client,
  inject: (opts) =>
    (app.hy.app as Injectable).inject({
      ...opts,
      headers: {
        cookie: client.cookie,
        ...(opts.method === 'GET' || opts.method === 'HEAD' ? {} : { 'x-csrf-token': client.csrfToken }),
        ...opts.headers,
      },
    }),
});
const status = async (c: SessionClient, url = '/api/auth/me') => (await c.inject({ method: 'GET', url })).statusCode;
const lastSeen = async (c: SessionClient) =>
  rowsOf<{ at: string }>(
    await db.db.execute(sql`select last_seen_at::text as at from sessions where id = ${digest(c.cookie.slice('hy_session='.length))}`),
  ).map((r) => Date.parse(r.at.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00')))[0]!;

async function newUser(username: string, role: 'duty' | 'unit' = 'duty'): Promise<string> {
  const res = await admin.inject({
    method: 'POST',
    url: '/api/admin/users',
    payload: { username, displayName: username, role, ...(role === 'unit' ? { unitId: 'housing' } : {}), password: PASSWORD },
  });
  expect(res.statusCode).toBe(201);
  return res.json<{ id: string }>().id;
}

beforeAll(async () => {
  db = await freshDatabase();
  const units = [{ id: 'housing', name: '市住房和城乡建设局', email: 'zjj@example.test' }];
  a = await startEmbedded({ clock, handle: db, units, compose: { realClock: wall } });
  b = await startEmbedded({ clock, handle: db, units, compose: { realClock: wall } });
  await eventually(async () => a.hy.app.sessionCache.enabled && b.hy.app.sessionCache.enabled, 'both apps listening');
  admin = await loginAs(a.hy.app, 'admin');
});

afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await db?.drop();
});

describe('across two API processes', () => {
  it('a kept session costs no database read', async () => {
    const duty = on(b, await loginAs(a.hy.app, 'duty'));
    expect(await status(duty)).toBe(200);
    const { hits, misses } = b.hy.app.sessionCache;
    for (let i = 0; i < 5; i++) expect(await status(duty, '/api/incidents?status=open')).toBe(200);
    expect([b.hy.app.sessionCache.hits - hits, b.hy.app.sessionCache.misses - misses]).toEqual([5, 0]);
  });

  it('log-out on one app: the app refuses the cookie at once, the other as soon as the notification arrives', async () => {
    await newUser('wangwu');
    const onA = await loginAs(a.hy.app, 'wangwu', PASSWORD);
    const onB = on(b, onA);
    expect(await status(onA)).toBe(200);
    expect(await status(onB)).toBe(200); // kept on B
    expect(b.hy.app.sessionCache.size).toBeGreaterThan(0);
    expect((await onA.inject({ method: 'POST', url: '/api/auth/logout' })).statusCode).toBe(204);
    expect(a.hy.app.sessionCache.size).toBe(0); // the write emptied A's cache before the answer left
    expect(await status(onA)).toBe(401);
    await eventually(async () => b.hy.app.sessionCache.size === 0, "B's cache emptied by the notification", 2_000);
    expect(await status(onB)).toBe(401);
  });

  it('a user disabled, or their sessions ended, by an administrator on one app is refused on the other', async () => {
    const id = await newUser('zhaoliu');
    const onB = on(b, await loginAs(a.hy.app, 'zhaoliu', PASSWORD));
    expect(await status(onB)).toBe(200);
    const disabled = await admin.inject({ method: 'PATCH', url: `/api/admin/users/${id}`, payload: { disabled: true } });
    expect(disabled.statusCode).toBe(200);
    await eventually(async () => (await status(onB)) === 401, 'B refuses the disabled user', 2_000);

    const id2 = await newUser('sunqi');
    const onB2 = on(b, await loginAs(a.hy.app, 'sunqi', PASSWORD));
    expect(await status(onB2)).toBe(200);
    expect((await admin.inject({ method: 'DELETE', url: `/api/admin/users/${id2}/sessions` })).statusCode).toBeLessThan(300);
    await eventually(async () => (await status(onB2)) === 401, 'B refuses the ended session', 2_000);
  });

  it('a unit renamed on one app shows on the other at once (the kept session carries the unit name)', async () => {
    await newUser('zhouba', 'unit');
    const onB = on(b, await loginAs(a.hy.app, 'zhouba', PASSWORD));
    const me = async () =>
      (await onB.inject({ method: 'GET', url: '/api/auth/me' })).json<{ user: { unit: { name: string } } }>().user.unit.name;
    expect(await me()).toBe('市住房和城乡建设局');
    const renamed = await admin.inject({ method: 'PATCH', url: '/api/admin/units/housing', payload: { name: '市住房和城乡建设委员会' } });
    expect(renamed.statusCode).toBe(200);
    await eventually(async () => (await me()) === '市住房和城乡建设委员会', 'B shows the new name', 2_000);
  });

  it('a change made outside any app (plain SQL) reaches both through the notification', async () => {
    const duty = await loginAs(a.hy.app, 'leader');
    const onB = on(b, duty);
    expect(await status(duty)).toBe(200);
    expect(await status(onB)).toBe(200);
    await db.db.execute(sql`update sessions set revoked_at = now() where user_id = (select id from users where username = 'leader')`);
    await eventually(async () => (await status(duty)) === 401 && (await status(onB)) === 401, 'both refuse', 2_000);
  });
});

describe('time', () => {
  it('expiry stays exact while a session is kept: twelve hours after log-in, to the millisecond', async () => {
    const user = await loginAs(a.hy.app, 'duty');
    const onB = on(b, user);
    const start = wall.now();
    // Busy all along (a request every hour on both apps), so idle time never ends it.
    for (let h = 1; h < 12; h++) {
      await wall.advanceBy(3_600_000);
      expect(await status(user), `hour ${h}`).toBe(200);
      expect(await status(onB), `hour ${h}`).toBe(200);
    }
    await wall.advanceBy(start + DEFAULT_SESSION_POLICY.absoluteMs - 1 - wall.now());
    expect(await status(onB)).toBe(200);
    const { misses } = b.hy.app.sessionCache;
    await wall.advanceBy(1);
    expect(await status(onB)).toBe(401);
    expect(await status(user)).toBe(401);
    expect(b.hy.app.sessionCache.misses).toBe(misses + 1); // read again before refusing, then refused
  });

  it('idle time: an app that has not seen the session for two hours reads it again before refusing, and keeps it if another app saw it', async () => {
    const user = await loginAs(a.hy.app, 'duty');
    const onB = on(b, user);
    expect(await status(onB)).toBe(200); // B keeps it, last seen at log-in
    // Busy on A only for three hours: A records the requests (once a minute at most).
    for (let m = 0; m < 180; m += 30) {
      await wall.advanceBy(30 * MINUTE);
      expect(await status(user)).toBe(200);
    }
    expect(await status(onB)).toBe(200); // B's copy is three hours old; the database's is not
    // Now idle everywhere: two hours exactly is still live, a millisecond more is not.
    const seen = await lastSeen(user);
    await wall.advanceBy(seen + DEFAULT_SESSION_POLICY.idleMs - wall.now());
    expect(await status(onB)).toBe(200);
    await wall.advanceBy(DEFAULT_SESSION_POLICY.idleMs + 1);
    expect(await status(onB)).toBe(401);
    expect(await status(user)).toBe(401);
  });

  it('last_seen_at is written at most once a minute per app, not on every request', async () => {
    const user = await loginAs(a.hy.app, 'duty');
    const loggedIn = await lastSeen(user);
    for (let s = 0; s < 60; s += 10) {
      expect(await status(user)).toBe(200);
      await wall.advanceBy(10_000);
    }
    expect(await lastSeen(user)).toBe(loggedIn); // a minute of requests: no write
    await wall.advanceBy(1);
    expect(await status(user)).toBe(200);
    const touched = await lastSeen(user);
    expect(touched).toBe(wall.now()); // a minute and a bit after log-in: one write
    await wall.advanceBy(30_000);
    expect(await status(user)).toBe(200);
    expect(await lastSeen(user)).toBe(touched);
  });
});

it('an app that lost its LISTEN connection reads every session from the database, then keeps them again', async () => {
  const user = on(b, await loginAs(a.hy.app, 'duty'));
  expect(await status(user)).toBe(200);
  const killed = rowsOf<{ pg_terminate_backend: boolean }>(
    await db.db.execute(sql`select pg_terminate_backend(pid) from pg_stat_activity
      where datname = current_database() and query ilike 'LISTEN%huiying_sessions%'`),
  );
  expect(killed.length).toBe(2); // A's and B's
  await eventually(async () => !b.hy.app.sessionCache.enabled, 'B notices');
  const { hits, misses } = b.hy.app.sessionCache;
  expect(await status(user)).toBe(200);
  expect(await status(user)).toBe(200);
  expect([b.hy.app.sessionCache.hits - hits, b.hy.app.sessionCache.misses - misses]).toEqual([0, 2]);
  await eventually(async () => b.hy.app.sessionCache.enabled, 'B listens again', 20_000);
  expect(await status(user)).toBe(200);
  expect(await status(user)).toBe(200);
  expect(b.hy.app.sessionCache.hits).toBeGreaterThan(hits);
});
