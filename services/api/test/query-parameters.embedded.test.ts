/**
 * A query parameter a route does not declare is refused with a 400 naming it, on every `/api/`
 * route, where it used to be dropped with a 200 (ajv's removeAdditional) as if it had been applied.
 */
import { FakeClock } from '@huiying/clock';
import type { Injectable } from '@huiying/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedHarness, startEmbedded } from '../../standalone/test/embedded-harness.ts';

const clock = new FakeClock(Date.parse('2026-09-07T09:00:00+08:00'));
let env: EmbeddedHarness;

beforeAll(async () => {
  env = await startEmbedded({ clock, units: [{ id: 'housing', name: '市住房和城乡建设局', email: 'zjj@example.test' }] });
});
afterAll(async () => {
  await env?.stop();
});

/** Someone the route lets through to validation (a refusal by role would come first). */
async function callerOf(access: EmbeddedHarness['hy']['app']['apiRoutes'][number]['access']): Promise<Injectable> {
  if (access === 'public') return env.hy.app;
  const roles: readonly string[] = access.roles ?? [];
  for (const [role, username] of [
    ['duty', 'duty'],
    ['admin', 'admin'],
    ['leader', 'leader'],
    ['unit', 'unit-housing'],
  ] as const) {
    if (roles.includes(role)) return env.as(username);
  }
  throw new Error(`no test caller for ${JSON.stringify(access)}`);
}

describe('unknown query parameters', () => {
  it('are refused with a 400 naming the parameter on every /api/ route, after who asks was checked', async () => {
    const routes = env.hy.app.apiRoutes.filter((r) => r.method !== 'HEAD' && r.method !== 'OPTIONS');
    expect(routes.length).toBeGreaterThan(40);
    const passed: string[] = [];
    for (const r of routes) {
      const url = `${r.url.replace(/:\w+/g, 'x').replace(/\*/g, 'x')}?sortBy=name`;
      const res = await (await callerOf(r.access)).inject({ method: r.method as 'GET', url });
      const body = res.json<{ code: string; message: string }>();
      if (res.statusCode !== 400 || body.code !== 'HY_VALIDATION' || !body.message.startsWith('querystring/sortBy: '))
        passed.push(`${r.method} ${r.url} → ${res.statusCode} ${res.body.slice(0, 120)}`);
    }
    expect(passed).toEqual([]);
    // Anonymous is still a 401 first: the parameters are nobody's business before the caller is known.
    expect((await env.hy.app.inject({ method: 'GET', url: '/api/incidents?sortBy=name' })).statusCode).toBe(401);
  });

  it('a list says which parameters it takes; the ones it takes, lists repeated included, still work', async () => {
    const duty = await env.as('duty');
    const leader = await env.as('leader');
    const refused = await duty.inject({ method: 'GET', url: '/api/incidents?status=open&sort=name' });
    expect(refused.statusCode).toBe(400);
    expect(refused.json<{ message: string }>().message).toMatch(
      /^querystring\/sort: 未知参数 unknown parameter \(accepted: .*\bpageSize\b.*\)$/,
    );
    expect((await duty.inject({ method: 'GET', url: '/api/time?x=1' })).json<{ message: string }>().message).toBe(
      'querystring/x: 未知参数 unknown parameter (this route takes no parameters)',
    );
    for (const [who, url] of [
      [duty, '/api/incidents?status=open&page=1&pageSize=500'],
      [duty, '/api/signals?matched=false&q=x&page=1&pageSize=20'],
      [leader, '/api/stats/items?outcome=late&outcome=breached&page=1&pageSize=50'],
      [leader, '/api/stats/export.csv?view=totals'],
    ] as const) {
      const res = await who.inject({ method: 'GET', url });
      expect(res.statusCode, `${url}: ${res.body.slice(0, 200)}`).toBe(200);
    }
  });
});
