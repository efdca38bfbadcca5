/**
 * Log-in, sessions, CSRF, tokens and the live stream's scope, over HTTP on the real
 * PostgreSQL. Session time runs on its own fake clock (sessions use wall-clock time even in a
 * drill), so expiry is tested without waiting.
 */
import { FakeClock } from '@huiying/clock';
import { auditLog, eq, users } from '@huiying/db';
import { authPlugin, installErrorHandler } from '@huiying/http';
import { createToken, DEFAULT_SESSION_POLICY } from '@huiying/identity';
import { eventually, freshDatabase, type Injectable, loginAs, type SessionClient } from '@huiying/testkit';
import Fastify, { type InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedHarness, startEmbedded } from '../../standalone/test/embedded-harness.ts';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-09-07T09:00:00+08:00');
const clock = new FakeClock(T0);
const wall = new FakeClock(T0);

let db: Awaited<ReturnType<typeof freshDatabase>>;
let env: EmbeddedHarness;

beforeAll(async () => {
  db = await freshDatabase();
  env = await startEmbedded({
    clock,
    handle: db,
    listen: true,
    units: [
      { id: 'housing', name: '市住房和城乡建设局', email: 'zjj@example.test' },
      { id: 'environment', name: '市生态环境局', email: 'sthjj@example.test' },
    ],
    compose: { realClock: wall, loginRateLimit: { max: 4, windowMs: 60_000, perAddress: 40 } },
  });
});

afterAll(async () => {
  await env?.stop();
  await db?.drop();
});

const login = (username: string, password: string, ip = '10.0.0.1') =>
  env.hy.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password }, remoteAddress: ip });

describe('log-in', () => {
  it('sets an HttpOnly, SameSite session cookie and answers /me with the user and a CSRF token', async () => {
    const res = await login('unit-housing', 'huiying-demo');
    expect(res.statusCode).toBe(200);
    const cookie = String(res.headers['set-cookie']);
    expect(cookie).toMatch(/^hy_session=hys_[\w-]+;/);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Lax');
    expect(cookie).toContain('Path=/');
    expect(cookie).not.toContain('Secure'); // plain HTTP here; set when served over TLS
    expect(res.json()).toMatchObject({
      user: { username: 'unit-housing', role: 'unit', unit: { id: 'housing', name: '市住房和城乡建设局' } },
      csrfToken: expect.any(String),
    });
    const me = await env.hy.app.inject({ method: 'GET', url: '/api/auth/me', headers: { cookie: cookie.split(';')[0]! } });
    expect(me.json()).toMatchObject({ user: { username: 'unit-housing' }, csrfToken: res.json().csrfToken });
  });

  it('refuses a wrong password and an unknown user alike, and audits both', async () => {
    for (const [u, p] of [
      ['duty', 'wrong-password'],
      ['nobody', 'huiying-demo'],
    ]) {
      const res = await login(u!, p!, '10.0.0.2');
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({ code: 'HY_AUTH_FAILED', message: expect.stringContaining('用户名或密码错误') });
    }
    const failed = await db.db.select().from(auditLog).where(eq(auditLog.action, 'auth.login_failed'));
    expect(failed.map((f) => f.entityId)).toEqual(expect.arrayContaining(['duty', 'nobody']));
    expect(JSON.stringify(failed)).not.toContain('wrong-password');
  });

  it('rate-limits attempts per address and username: the fifth is 429 even with the right password', async () => {
    for (let i = 0; i < 4; i++) expect((await login('leader', `guess-${i}`, '10.0.0.3')).statusCode).toBe(401);
    const limited = await login('leader', 'huiying-demo', '10.0.0.3');
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toMatchObject({ code: 'HY_RATE_LIMITED' });
    expect((await login('leader', 'huiying-demo', '10.0.0.4')).statusCode).toBe(200);
  });

  it('rate-limits attempts per address whatever the username (password spraying)', async () => {
    for (let i = 0; i < 40; i++) expect((await login(`spray-${i}`, 'Winter2026!', '10.0.0.66')).statusCode, `attempt ${i}`).toBe(401);
    const limited = await login('duty', 'huiying-demo', '10.0.0.66');
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toMatchObject({ code: 'HY_RATE_LIMITED' });
    expect((await login('duty', 'huiying-demo', '10.0.0.67')).statusCode).toBe(200);
  });

  it('stores passwords as argon2id hashes', async () => {
    const rows = await db.db.select({ username: users.username, hash: users.passwordHash }).from(users);
    expect(rows.length).toBeGreaterThanOrEqual(4);
    for (const r of rows) if (r.hash !== null) expect(r.hash, r.username).toMatch(/^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$/);
    expect(rows.some((r) => r.hash?.startsWith('$argon2id$'))).toBe(true);
  });

  it('sends security headers with a CSP that allows scripts only from the server', async () => {
    const res = await env.hy.app.inject({ method: 'GET', url: '/api/health' });
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });
});

describe('sessions', () => {
  it('a change without the CSRF header is refused; with it, it goes through', async () => {
    const duty = await loginAs(env.hy.app, 'duty');
    const ticket = { id: 'CSRF-1', receivedAt: new Date(clock.now()).toISOString(), content: '测试' };
    const bare = await env.hy.app.inject({ method: 'POST', url: '/api/tickets', payload: ticket, headers: { cookie: duty.cookie } });
    expect(bare.statusCode).toBe(403);
    expect(bare.json()).toMatchObject({ code: 'HY_CSRF' });
    const wrong = await env.hy.app.inject({
      method: 'POST',
      url: '/api/tickets',
      payload: ticket,
      headers: { cookie: duty.cookie, 'x-csrf-token': 'x'.repeat(32) },
    });
    expect(wrong.statusCode).toBe(403);
    expect((await duty.inject({ method: 'POST', url: '/api/tickets', payload: ticket })).statusCode).toBe(201);
  });

  it('log-out ends the session on the server, not only in the browser', async () => {
    const leader = await loginAs(env.hy.app, 'leader');
    expect((await leader.inject({ method: 'POST', url: '/api/auth/logout' })).statusCode).toBe(204);
    const after = await leader.inject({ method: 'GET', url: '/api/incidents' });
    expect(after.statusCode).toBe(401);
    expect(after.json()).toMatchObject({ code: 'HY_UNAUTHENTICATED' });
  });

  it('expires after two idle hours, and twelve hours after log-in however busy', async () => {
    const idle = await loginAs(env.hy.app, 'admin');
    await wall.advanceBy(DEFAULT_SESSION_POLICY.idleMs - 60_000);
    expect((await idle.inject({ method: 'GET', url: '/api/auth/me' })).statusCode).toBe(200);
    await wall.advanceBy(DEFAULT_SESSION_POLICY.idleMs + 60_000);
    expect((await idle.inject({ method: 'GET', url: '/api/auth/me' })).statusCode).toBe(401);

    const busy = await loginAs(env.hy.app, 'admin');
    for (let h = 1; h < 12; h++) {
      await wall.advanceBy(HOUR);
      expect((await busy.inject({ method: 'GET', url: '/api/auth/me' })).statusCode, `hour ${h}`).toBe(200);
    }
    await wall.advanceBy(HOUR);
    expect((await busy.inject({ method: 'GET', url: '/api/auth/me' })).statusCode).toBe(401);
  });

  it('disabling a user or changing their role ends their sessions at once', async () => {
    const admin = await loginAs(env.hy.app, 'admin');
    const created = await admin.inject({
      method: 'POST',
      url: '/api/admin/users',
      payload: { username: 'zhangsan', displayName: '张三', role: 'unit', unitId: 'environment', password: 'zs-password-2026' },
    });
    expect(created.statusCode).toBe(201);
    const zhang = await loginAs(env.hy.app, 'zhangsan', 'zs-password-2026');
    expect((await zhang.inject({ method: 'GET', url: '/api/incidents' })).statusCode).toBe(200);
    const disabled = await admin.inject({ method: 'PATCH', url: `/api/admin/users/${created.json().id}`, payload: { disabled: true } });
    expect(disabled.json()).toMatchObject({ disabled: true });
    expect((await zhang.inject({ method: 'GET', url: '/api/incidents' })).statusCode).toBe(401);
    expect((await login('zhangsan', 'zs-password-2026', '10.0.0.9')).statusCode).toBe(401);
    const weak = await admin.inject({
      method: 'POST',
      url: '/api/admin/users',
      payload: { username: 'lisi', role: 'duty', password: 'short' },
    });
    expect(weak.statusCode).toBe(400);
    const self = await admin.inject({
      method: 'PATCH',
      url: `/api/admin/users/${(await admin.inject({ method: 'GET', url: '/api/auth/me' })).json().user.id}`,
      payload: { disabled: true },
    });
    expect(self.statusCode).toBe(409);
  });
});

describe('API tokens', () => {
  it('are shown once, stored hashed, scoped, and stop working when revoked', async () => {
    const admin = await loginAs(env.hy.app, 'admin');
    const made = await admin.inject({
      method: 'POST',
      url: '/api/admin/tokens',
      payload: { name: '12345热线', scopes: ['tickets:write'] },
    });
    expect(made.statusCode).toBe(201);
    const { id, token } = made.json<{ id: string; token: string }>();
    const listed = JSON.stringify((await admin.inject({ method: 'GET', url: '/api/admin/tokens' })).json());
    expect(listed).toContain(id);
    expect(listed).not.toContain(token);
    expect(JSON.stringify(await db.db.execute('select * from api_tokens'))).not.toContain(token);
    const bearer = { authorization: `Bearer ${token}` };
    const post = (ref: string) =>
      env.hy.app.inject({
        method: 'POST',
        url: '/api/tickets',
        headers: bearer,
        payload: { id: ref, receivedAt: new Date(clock.now()).toISOString(), content: '路灯不亮' },
      });
    expect((await post('TOK-1')).statusCode).toBe(201);
    expect((await env.hy.app.inject({ method: 'GET', url: '/api/incidents', headers: bearer })).statusCode).toBe(403);
    expect((await admin.inject({ method: 'DELETE', url: `/api/admin/tokens/${id}` })).statusCode).toBe(204);
    const revoked = await post('TOK-2');
    expect(revoked.statusCode).toBe(401);
    expect(revoked.json()).toMatchObject({ code: 'HY_UNAUTHENTICATED' });
  });

  it('a token of the wrong scope is refused', async () => {
    const { token } = await createToken(db.db, { name: 'prometheus', scopes: ['metrics:read'] }, 'test', new Date());
    const res = await env.hy.app.inject({
      method: 'POST',
      url: '/api/tickets',
      headers: { authorization: `Bearer ${token}` },
      payload: { id: 'X', receivedAt: new Date(clock.now()).toISOString(), content: 'x' },
    });
    expect(res.statusCode).toBe(403);
    const metrics = await env.hy.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${token}` } });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body).toContain('huiying_http_request_duration_seconds');
    expect(metrics.body).toContain('huiying_sse_clients');
  });
});

describe('anonymous requests', () => {
  /** The only /api/ routes anyone may call (the issue and the README say so). */
  const OPEN = new Set(['GET /api/health', 'POST /api/auth/login']);

  it('get 401 on every registered /api/ route but the health check and the log-in', async () => {
    const routes = env.hy.app.apiRoutes.filter((r) => r.method !== 'HEAD' && r.method !== 'OPTIONS');
    expect(routes.length).toBeGreaterThan(40);
    expect(
      routes
        .filter((r) => r.access === 'public')
        .map((r) => `${r.method} ${r.url}`)
        .sort(),
    ).toEqual([...OPEN].sort());
    const open: string[] = [];
    for (const r of routes) {
      const url = r.url.replace(/:\w+/g, 'x').replace(/\*/g, 'x');
      const res = await env.hy.app.inject({ method: r.method as 'GET', url, remoteAddress: '10.0.5.5' });
      if (res.statusCode === 401) expect(res.json(), `${r.method} ${r.url}`).toMatchObject({ code: 'HY_UNAUTHENTICATED' });
      else open.push(`${r.method} ${r.url} → ${res.statusCode}`);
    }
    expect(open.map((o) => o.replace(/ → \d+$/, '')).sort()).toEqual([...OPEN].sort());
  });
});

describe('anonymous refusals in the audit log', () => {
  const refusedFrom = async (ip: string) =>
    (await db.db.select().from(auditLog).where(eq(auditLog.action, 'access.refused'))).filter(
      (a) => a.actor === 'anonymous' && (a.input as { ip?: string } | null)?.ip === ip,
    );
  const get = (ip: string, headers: Record<string, string> = {}) =>
    env.hy.app.inject({ method: 'GET', url: '/api/incidents', remoteAddress: ip, headers });

  it('a bad token or an ended session is audited once a minute per address, with the count left out; no credentials, not at all', async () => {
    for (let i = 0; i < 5; i++) expect((await get('10.0.8.8', { authorization: 'Bearer hy_forged' })).statusCode).toBe(401);
    expect((await refusedFrom('10.0.8.8')).map((a) => (a.input as { why: string }).why)).toEqual(['token']);
    await wall.advanceBy(61_000);
    expect((await get('10.0.8.8', { authorization: 'Bearer hy_forged' })).statusCode).toBe(401);
    const entries = await refusedFrom('10.0.8.8');
    expect(entries).toHaveLength(2);
    expect(entries.map((e) => (e.input as { alsoRefusedSinceLastEntry?: number }).alsoRefusedSinceLastEntry)).toContain(4);

    for (let i = 0; i < 3; i++) expect((await get('10.0.8.9', { cookie: 'hy_session=hys_ended' })).statusCode).toBe(401);
    expect((await refusedFrom('10.0.8.9')).map((a) => (a.input as { why: string }).why)).toEqual(['session']);

    for (let i = 0; i < 3; i++) expect((await get('10.0.8.10')).statusCode).toBe(401);
    expect(await refusedFrom('10.0.8.10')).toEqual([]);
  });
});

describe('a route that forgets to say who may call it', () => {
  it('stops the server from starting', async () => {
    const app = Fastify();
    installErrorHandler(app);
    await app.register(authPlugin, { db: db.db, clock: wall });
    expect(() => app.get('/api/forgotten', async () => 'everything')).toThrow(/declares no config.access/);
  });
});

describe('the live stream', () => {
  it('sends each user only what their unit may see', async () => {
    const duty = await loginAs(env.hy.app, 'duty');
    const streamOf = async (username: string) => {
      const c = await loginAs(env.hy.app, username);
      const ac = new AbortController();
      const res = await fetch(`${env.url}api/stream`, { headers: { cookie: c.cookie }, signal: ac.signal });
      expect(res.status).toBe(200);
      const received: string[] = [];
      void (async () => {
        const decoder = new TextDecoder();
        try {
          for await (const chunk of res.body!) received.push(decoder.decode(chunk as Uint8Array));
        } catch {
          // aborted
        }
      })();
      return { text: () => received.join(''), close: () => ac.abort() };
    };
    const anonymous = await fetch(`${env.url}api/stream`);
    expect(anonymous.status).toBe(401);
    const housing = await streamOf('unit-housing');
    const leader = await streamOf('leader');
    await eventually(async () => housing.text().includes('event: hello') && leader.text().includes('event: hello'), 'both streams open');

    const make = async (ref: string, title: string, unit: string) => {
      await duty.inject({
        method: 'POST',
        url: '/api/tickets',
        payload: { id: ref, receivedAt: new Date(clock.now()).toISOString(), title, content: title },
      });
      const inc = await eventually(
        async () =>
          (await duty.inject({ method: 'GET', url: `/api/incidents?q=${encodeURIComponent(title)}` })).json().items[0] as
            { id: string } | undefined,
        title,
      );
      await duty.inject({ method: 'POST', url: `/api/incidents/${inc.id}/assign`, payload: { unit } });
      return inc.id;
    };
    const mine = await make('SSE-A', '住建：工地夜间施工', 'housing');
    const theirs = await make('SSE-B', '环保：化工园区异味', 'environment');
    await env.hy.engine.timer.rearm();
    await clock.advanceBy(49 * HOUR);
    await eventually(async () => leader.text().includes(theirs) && leader.text().includes(mine), 'the leader sees both breaches');
    await eventually(async () => housing.text().includes(mine), 'the unit sees its own breach');
    expect(housing.text()).not.toContain(theirs);
    expect(housing.text()).not.toContain('化工园区');
    housing.close();
    leader.close();
  });
});

describe('a live stream ends with its session', () => {
  const open = async (cookie: string) => {
    const res = await fetch(`${env.url}api/stream`, { headers: { cookie } });
    expect(res.status).toBe(200);
    let text = '';
    let ended = false;
    void (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of res.body!) text += decoder.decode(chunk as Uint8Array);
      } catch {
        // reset
      }
      ended = true;
    })();
    await eventually(async () => text.includes('event: hello'), 'the stream opens');
    return { res, hasEnded: () => ended };
  };
  let adminClient: Promise<SessionClient> | undefined;
  const newUser = async (username: string) => {
    // From an address of its own: earlier tests used up the admin's log-ins from the default one.
    const from: Injectable = { inject: (o) => env.hy.app.inject({ ...o, remoteAddress: '10.0.7.7' } as InjectOptions) };
    const admin = await (adminClient ??= loginAs(from, 'admin'));
    const created = await admin.inject({
      method: 'POST',
      url: '/api/admin/users',
      payload: { username, displayName: username, role: 'unit', unitId: 'housing', password: 'stream-password-2026' },
    });
    expect(created.statusCode).toBe(201);
    return { admin, id: created.json<{ id: string }>().id, client: await loginAs(env.hy.app, username, 'stream-password-2026') };
  };
  /** Still open a while after the session change? Then it would stay open. */
  const ends = (s: { hasEnded: () => boolean }, what: string) => eventually(async () => s.hasEnded(), what, 5_000);

  it('is sent with the same security headers as every other response', async () => {
    const { client: leader } = await newUser('stream-headers');
    const s = await open(leader.cookie);
    expect(s.res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(s.res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(s.res.headers.get('content-type')).toContain('text/event-stream');
    await leader.inject({ method: 'POST', url: '/api/auth/logout' });
    await ends(s, 'the stream ends');
  });

  it('after log-out', async () => {
    const { client: leader } = await newUser('stream-logout');
    const other = await open((await loginAs(env.hy.app, 'stream-logout', 'stream-password-2026')).cookie);
    const s = await open(leader.cookie);
    expect((await leader.inject({ method: 'POST', url: '/api/auth/logout' })).statusCode).toBe(204);
    await ends(s, 'the logged-out stream ends');
    expect(other.hasEnded()).toBe(false); // the same user's other session keeps its stream
  });

  it('after the user is disabled, and after their unit is changed', async () => {
    const a = await newUser('stream-disabled');
    const s = await open(a.client.cookie);
    expect((await a.admin.inject({ method: 'PATCH', url: `/api/admin/users/${a.id}`, payload: { disabled: true } })).statusCode).toBe(200);
    await ends(s, 'the disabled user’s stream ends');

    const b = await newUser('stream-moved');
    const moved = await open(b.client.cookie);
    const patched = await b.admin.inject({ method: 'PATCH', url: `/api/admin/users/${b.id}`, payload: { unitId: 'environment' } });
    expect(patched.statusCode).toBe(200);
    await ends(moved, 'the stream with the old unit’s scope ends');
  });

  it('after an administrator ends the user’s sessions', async () => {
    const u = await newUser('stream-kicked');
    const s = await open(u.client.cookie);
    const res = await u.admin.inject({ method: 'DELETE', url: `/api/admin/users/${u.id}/sessions` });
    expect(res.json()).toEqual({ revoked: 1 });
    await ends(s, 'the stream of the ended session ends');
  });

  it('when the session expires, on the session clock', async () => {
    const u = await newUser('stream-idle');
    const s = await open(u.client.cookie);
    await wall.advanceBy(DEFAULT_SESSION_POLICY.idleMs - 60_000);
    await new Promise((r) => setTimeout(r, 200));
    expect(s.hasEnded()).toBe(false);
    await wall.advanceBy(120_000);
    await ends(s, 'the idle session’s stream ends');
  });

  it('is not for API tokens', async () => {
    const { token } = await createToken(db.db, { name: 'stream-token', scopes: ['metrics:read'] }, 'test', new Date());
    const res = await env.hy.app.inject({ method: 'GET', url: '/api/stream', headers: { authorization: `Bearer ${token}` } });
    expect(res.statusCode).toBe(403);
  });
});
