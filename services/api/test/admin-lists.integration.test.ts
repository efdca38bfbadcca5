/**
 * The administration lists on the real PostgreSQL: every one pages (page, pageSize, a total
 * that counts the filtered rows, not the page), filters by text (a substring, case-insensitive,
 * `%` and `_` taken literally) and by its own columns, and refuses bad paging with a 400.
 */
import { FakeClock } from '@huiying/clock';
import { feeds, responseCandidates } from '@huiying/db';
import type { SessionClient } from '@huiying/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmbeddedHarness } from '../../standalone/test/embedded-harness.ts';
import {
  candidateRow,
  type FreshDatabase,
  startOnFreshPostgres,
  ticketIncident as assignedIncident,
} from './fixtures/embedded-postgres.ts';

const T0 = Date.parse('2026-10-01T09:00:00+08:00');
const clock = new FakeClock(T0);
let db: FreshDatabase;
let env: EmbeddedHarness;
let stop: (() => Promise<void>) | undefined;
let admin: SessionClient;
let duty: SessionClient;

interface Page<T> {
  items: T[];
  total: number;
  page: number;
  pageSize: number;
}
const two = (n: number) => String(n).padStart(2, '0');
/** 25 units: u01 … u25, named 测试单位01 …; u07 is also the 环保 one, u13 has a `%` in its name. */
const UNITS = Array.from({ length: 25 }, (_, i) => ({
  id: `u${two(i + 1)}`,
  name: i + 1 === 7 ? '市生态环境局' : i + 1 === 13 ? '测试单位13（100%）' : `测试单位${two(i + 1)}`,
  email: `u${two(i + 1)}@example.test`,
}));

async function get<T>(client: SessionClient, url: string): Promise<Page<T>> {
  const res = await client.inject({ method: 'GET', url });
  expect(res.statusCode, `${url}: ${res.body}`).toBe(200);
  return res.json<Page<T>>();
}

const ticketIncident = (ref: string, title: string, unit: string) => assignedIncident(duty, clock, ref, title, unit);

beforeAll(async () => {
  ({ db, env, stop } = await startOnFreshPostgres({ clock, units: UNITS }));
  admin = await env.as('admin');
  duty = await env.as('duty');
});
afterAll(async () => {
  await stop?.();
});

describe('units', () => {
  it('pages by id with the total; page 2 holds the rest', async () => {
    const first = await get<{ id: string }>(admin, '/api/admin/units?pageSize=20');
    expect(first).toMatchObject({ total: 25, page: 1, pageSize: 20 });
    expect(first.items.map((u) => u.id)).toEqual(UNITS.slice(0, 20).map((u) => u.id));
    const second = await get<{ id: string }>(admin, '/api/admin/units?pageSize=20&page=2');
    expect(second).toMatchObject({ total: 25, page: 2, pageSize: 20 });
    expect(second.items.map((u) => u.id)).toEqual(['u21', 'u22', 'u23', 'u24', 'u25']);
    // Past the end: an empty page, the same total.
    expect(await get(admin, '/api/admin/units?pageSize=20&page=3')).toMatchObject({ items: [], total: 25 });
    // The default page takes all 25 (a console that asks for no page still sees everything).
    expect((await get(admin, '/api/admin/units')).items).toHaveLength(25);
  });

  it('filters by name or id; the total counts the matches', async () => {
    const byName = await get<{ id: string }>(admin, `/api/admin/units?q=${encodeURIComponent('生态')}`);
    expect(byName).toMatchObject({ total: 1, items: [{ id: 'u07' }] });
    const byId = await get<{ id: string }>(admin, '/api/admin/units?q=U2&pageSize=4');
    expect(byId.total).toBe(6); // u20 … u25, case-insensitive
    expect(byId.items.map((u) => u.id)).toEqual(['u20', 'u21', 'u22', 'u23']);
    // `%` is a character, not a wildcard.
    expect((await get<{ id: string }>(admin, `/api/admin/units?q=${encodeURIComponent('%')}`)).items.map((u) => u.id)).toEqual(['u13']);
    expect(await get(admin, '/api/admin/units?q=_')).toMatchObject({ total: 0, items: [] });
    // Blank text is no filter.
    expect((await get(admin, '/api/admin/units?q=%20%20')).total).toBe(25);
  });

  it('refuses bad paging with a reason', async () => {
    for (const q of ['page=0', 'pageSize=0', 'pageSize=501', 'page=x', `q=${'x'.repeat(201)}`]) {
      const res = await admin.inject({ method: 'GET', url: `/api/admin/units?${q}` });
      expect(res.statusCode, q).toBe(400);
      expect(res.json<{ code: string; message: string }>()).toMatchObject({ code: 'HY_VALIDATION' });
    }
  });

  it('the pickers’ look-up (GET /api/units) still answers every unit, unpaged', async () => {
    const res = (await duty.inject({ method: 'GET', url: '/api/units' })).json<{ items: { id: string }[]; total?: number }>();
    expect(res.items).toHaveLength(25);
  });
});

describe('users', () => {
  it('filters by role, unit, state and text, and pages the result', async () => {
    // The demo accounts: duty, leader, admin and unit-<id> for each of the 25 units.
    const all = await get<{ username: string }>(admin, '/api/admin/users?pageSize=5');
    expect(all.total).toBe(28);
    expect(all.items).toHaveLength(5);
    const units = await get<{ username: string; role: string }>(admin, '/api/admin/users?role=unit&pageSize=10&page=3');
    expect(units).toMatchObject({ total: 25, page: 3 });
    expect(units.items.map((u) => u.username)).toEqual(['unit-u21', 'unit-u22', 'unit-u23', 'unit-u24', 'unit-u25']);
    expect((await get(admin, '/api/admin/users?q=UNIT-U1')).total).toBe(10);
    expect((await get<{ username: string }>(admin, '/api/admin/users?unit=u07')).items.map((u) => u.username)).toEqual(['unit-u07']);
    const leader = (await get<{ id: string }>(admin, '/api/admin/users?role=leader')).items[0]!;
    expect((await admin.inject({ method: 'PATCH', url: `/api/admin/users/${leader.id}`, payload: { disabled: true } })).statusCode).toBe(
      200,
    );
    expect((await get<{ id: string }>(admin, '/api/admin/users?disabled=true')).items.map((u) => u.id)).toEqual([leader.id]);
    expect((await get(admin, '/api/admin/users?disabled=false')).total).toBe(27);
    expect((await admin.inject({ method: 'GET', url: '/api/admin/users?role=chief' })).statusCode).toBe(400);
  });
});

describe('API tokens', () => {
  it('filters the tokens in use and by text', async () => {
    const ids: string[] = [];
    for (const name of ['12345 热线（市级）', '12345 热线（区级）', '旧系统']) {
      const res = await admin.inject({ method: 'POST', url: '/api/admin/tokens', payload: { name, scopes: ['tickets:write'] } });
      expect(res.statusCode).toBe(201);
      ids.push(res.json<{ id: string }>().id);
    }
    expect((await admin.inject({ method: 'DELETE', url: `/api/admin/tokens/${ids[2]}` })).statusCode).toBe(204);
    expect(await get(admin, '/api/admin/tokens?pageSize=2')).toMatchObject({ total: 3, pageSize: 2 });
    const inUse = await get<{ id: string }>(admin, '/api/admin/tokens?revoked=false&scope=tickets:write');
    expect(inUse.items.map((t) => t.id).sort()).toEqual(ids.slice(0, 2).sort());
    expect((await get<{ id: string }>(admin, '/api/admin/tokens?revoked=true')).items.map((t) => t.id)).toEqual([ids[2]]);
    expect((await get(admin, `/api/admin/tokens?q=${encodeURIComponent('热线')}`)).total).toBe(2);
    expect((await admin.inject({ method: 'GET', url: '/api/admin/tokens?scope=admin' })).statusCode).toBe(400);
  });
});

describe('hotline sources', () => {
  it('page by name with the total and filter by text', async () => {
    for (let i = 1; i <= 12; i++) {
      const res = await admin.inject({ method: 'POST', url: '/api/admin/hotline-sources', payload: { name: `src-${two(i)}` } });
      expect(res.statusCode).toBe(201);
    }
    const last = await get<{ name: string; secret?: string }>(admin, '/api/admin/hotline-sources?pageSize=5&page=3');
    expect(last).toMatchObject({ total: 12, page: 3, pageSize: 5 });
    expect(last.items.map((s) => s.name)).toEqual(['src-11', 'src-12']);
    // The secret is shown once, at creation: never in a list.
    expect(last.items.every((s) => s.secret === undefined)).toBe(true);
    const ones = await get<{ name: string }>(admin, '/api/admin/hotline-sources?q=SRC-1');
    expect(ones.items.map((s) => s.name)).toEqual(['src-10', 'src-11', 'src-12']);
    expect(ones.total).toBe(3);
    expect((await get(admin, '/api/admin/hotline-sources')).total).toBe(12);
  });
});

describe('monitoring rules, feeds and candidate responses', () => {
  it('monitoring rules filter by name or keyword expression', async () => {
    const before = (await get(admin, '/api/admin/monitoring-rules')).total;
    for (const [name, expression] of [
      ['燃气安全', '燃气 AND (泄漏 OR 爆炸)'],
      ['河道污染', '河道 AND 污染'],
      ['校园安全', '学校 OR 校园'],
    ] as const) {
      const res = await admin.inject({ method: 'POST', url: '/api/admin/monitoring-rules', payload: { name, expression } });
      expect(res.statusCode, res.body).toBe(201);
    }
    expect((await get(admin, '/api/admin/monitoring-rules')).total).toBe(before + 3);
    expect(
      (await get<{ name: string }>(admin, `/api/admin/monitoring-rules?q=${encodeURIComponent('安全')}`)).items.map((r) => r.name).sort(),
    ).toEqual(['校园安全', '燃气安全'].sort());
    expect(
      (await get<{ name: string }>(admin, `/api/admin/monitoring-rules?q=${encodeURIComponent('泄漏')}`)).items.map((r) => r.name),
    ).toEqual(['燃气安全']);
    expect(await get(admin, '/api/admin/monitoring-rules?pageSize=1&page=2')).toMatchObject({ page: 2, pageSize: 1, total: before + 3 });
  });

  it('feeds filter by name, URL or id, within the kind', async () => {
    await db.db.insert(feeds).values([
      { id: 'news-a', name: '本地新闻', url: 'https://news.example.test/rss', kind: 'news', unitId: null },
      { id: 'forum-a', name: '城市论坛', url: 'https://bbs.example.test/rss', kind: 'forum', unitId: null },
      { id: 'gov-u07', name: '市生态环境局网站', url: 'https://sthjj.example.test/rss', kind: 'official', unitId: 'u07' },
    ]);
    expect((await get(duty, '/api/feeds')).total).toBe(3);
    expect((await get<{ id: string }>(duty, '/api/feeds?q=bbs')).items.map((f) => f.id)).toEqual(['forum-a']);
    expect((await get<{ id: string }>(duty, `/api/feeds?q=${encodeURIComponent('环境')}`)).items.map((f) => f.id)).toEqual(['gov-u07']);
    expect(await get(duty, '/api/feeds?q=example&kind=news')).toMatchObject({ total: 1, items: [{ id: 'news-a' }] });
    expect(await get(duty, '/api/feeds?q=gov-u07')).toMatchObject({ total: 1 });
    // A unit user's text search stays within its own official channels.
    const unit = await env.as('unit-u07');
    expect((await get(unit, '/api/feeds?q=example')).items.map((f) => (f as { id: string }).id)).toEqual(['gov-u07']);
  });

  it('candidate responses filter by title or incident, and a unit still sees only its own', async () => {
    const at = new Date(clock.now());
    const gas = await ticketIncident('M-GAS', '燃气泄漏', 'u07');
    const river = await ticketIncident('M-RIVER', '河道污染', 'u08');
    const candidate = (id: string, incidentId: string, unitId: string, title: string) =>
      candidateRow({ id, incidentId, unitId, feedId: 'gov-u07', title, at });
    await db.db
      .insert(responseCandidates)
      .values([
        candidate('rc-1', gas, 'u07', '关于燃气泄漏的情况通报'),
        candidate('rc-2', gas, 'u07', '处置进展'),
        candidate('rc-3', river, 'u08', '河道治理答复'),
      ]);
    expect(await get(duty, '/api/response-candidates?pageSize=2')).toMatchObject({ total: 3, pageSize: 2 });
    // By the incident's title: both candidates of the gas incident; by the item's own title: one.
    expect((await get(duty, `/api/response-candidates?q=${encodeURIComponent('燃气')}`)).total).toBe(2);
    expect((await get<{ id: string }>(duty, `/api/response-candidates?q=${encodeURIComponent('治理')}`)).items.map((c) => c.id)).toEqual([
      'rc-3',
    ]);
    expect((await get(duty, `/api/response-candidates?q=${river}`)).total).toBe(1);
    const unit = await env.as('unit-u07');
    expect(await get(unit, `/api/response-candidates?q=${encodeURIComponent('河道')}`)).toMatchObject({ total: 0, items: [] });
  });
});
