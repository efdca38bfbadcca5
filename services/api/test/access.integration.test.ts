/**
 * Who may do what, over HTTP, on the real PostgreSQL: every role × every kind of record ×
 * read/write as one table. A unit user asking for another unit's record gets the same 404
 * as for a record that does not exist; a leader's write is a 403; anonymous is a 401.
 */
import { gunzipSync } from 'node:zlib';
import { FakeClock } from '@huiying/clock';
import {
  auditLog,
  clocks,
  dutyShifts,
  eq,
  evidence,
  evidenceRefs,
  feeds,
  monitoringRules,
  responseCandidates,
  rowsOf,
  signals,
  sql,
  users,
} from '@huiying/db';
import { createToken, createUser } from '@huiying/identity';
import { createHotlineSource, signalId } from '@huiying/ingest';
import { eventually, type Injectable, loginAs, type SessionClient } from '@huiying/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmbeddedHarness } from '../../standalone/test/embedded-harness.ts';
import {
  candidateRow,
  type FreshDatabase,
  startOnFreshPostgres,
  ticketIncident as assignedIncident,
} from './fixtures/embedded-postgres.ts';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-09-07T09:00:00+08:00');
const clock = new FakeClock(T0);

type Who = 'anonymous' | 'token' | 'leader' | 'admin' | 'unitA' | 'duty';
// Writers last, so that what the others were refused is still there to be refused.
const WHO: Who[] = ['anonymous', 'token', 'leader', 'admin', 'unitA', 'duty'];

let db: FreshDatabase;
let env: EmbeddedHarness;
let stop: (() => Promise<void>) | undefined;
const client = {} as Record<Who, Injectable>;
const ids = {
  incA: '',
  incB: '',
  incC: '',
  alertA: '',
  alertB: '',
  oblA: 'obl-a',
  oblA2: 'obl-a2',
  oblB: 'obl-b',
  oblReq: 'obl-req',
  hotline: '',
  dutyUser: '',
  someUser: '',
  tokenToRevoke: '',
  rulePack: 0,
};

const ticketIncident = (duty: SessionClient, ref: string, title: string, unit: string) => assignedIncident(duty, clock, ref, title, unit);

beforeAll(async () => {
  ({ db, env, stop } = await startOnFreshPostgres({
    clock,
    units: [
      { id: 'housing', name: '市住房和城乡建设局', email: 'zjj@example.test' },
      { id: 'environment', name: '市生态环境局', email: 'sthjj@example.test' },
    ],
  }));
  const duty = await env.as('duty');
  const { token } = await createToken(db.db, { name: 'hotline', scopes: ['tickets:write'] }, 'test', new Date());
  ids.hotline = (await createHotlineSource(db.db, { name: 'hotline-city' }, 'test', new Date())).id;
  await createHotlineSource(db.db, { name: 'hs-import' }, 'test', new Date());
  const app = env.hy.app;
  client.anonymous = app;
  client.token = { inject: (o) => client.anonymous.inject({ ...o, headers: { authorization: `Bearer ${token}`, ...o.headers } }) };
  client.leader = await env.as('leader');
  client.admin = await env.as('admin');
  client.unitA = await env.as('unit-housing');
  client.duty = duty;
  // A stored rule pack version (the default pack: nothing else changes) for the administrator to activate again.
  const stored = await client.admin.inject({ method: 'POST', url: '/api/admin/rule-packs', payload: { document: {}, note: '矩阵' } });
  expect(stored.statusCode, stored.body).toBe(201);
  ids.rulePack = stored.json<{ version: number }>().version;

  // A rule for the administrator to delete, and a stored signal no rule matched, for a duty officer to promote.
  await db.db.insert(monitoringRules).values({
    id: 'mr-delete-me',
    name: '待删除',
    expression: '测试',
    createdBy: 'test',
    createdAt: new Date(T0),
    updatedAt: new Date(T0),
  });
  await db.db.insert(signals).values({
    id: 'sig-unmatched',
    source: 'feed',
    sourceRef: 'sig-unmatched',
    title: '市图书馆延长开放时间',
    receivedAt: new Date(T0),
    processedAt: new Date(T0),
    decision: 'unmatched',
    decisionReason: 'no_rule',
  });
  ids.incA = await ticketIncident(duty, 'M-A', '小区电梯频繁故障', 'housing');
  ids.incB = await ticketIncident(duty, 'M-B', '河道黑臭', 'environment');
  // Another unit's incident for a duty officer to dismiss (the others stay open for the board test).
  ids.incC = await ticketIncident(duty, 'M-C', '菜市场占道经营', 'environment');
  ids.someUser = (
    await createUser(db.db, { username: 'matrix-leader', role: 'leader', password: 'matrix-password-1' }, 'test', new Date())
  ).id;
  ids.tokenToRevoke = (await createToken(db.db, { name: 'to-revoke', scopes: ['tickets:write'] }, 'test', new Date())).id;
  for (const [id, unit] of [
    [ids.oblA, 'housing'],
    [ids.oblA2, 'housing'],
    [ids.oblB, 'environment'],
  ] as const) {
    const res = await duty.inject({
      method: 'POST',
      url: '/api/obligations',
      payload: { id, kind: 'penalty_disclosure', issuedAt: new Date(clock.now()).toISOString(), unit, title: `处罚公开 ${id}` },
    });
    expect(res.statusCode).toBe(201);
  }
  // 依申请公开: the one kind of duty that is suspended, resumed and extended.
  const req = await duty.inject({
    method: 'POST',
    url: '/api/obligations',
    payload: {
      id: ids.oblReq,
      kind: 'disclosure_request',
      issuedAt: new Date(clock.now()).toISOString(),
      unit: 'housing',
      title: '依申请公开 obl-req',
    },
  });
  expect(req.statusCode).toBe(201);
  // The three incidents breach their 48 h clocks: one breach alert each.
  await env.hy.engine.timer.rearm();
  await clock.advanceBy(49 * HOUR);
  const breaches = await eventually(async () => {
    const items = (await duty.inject({ method: 'GET', url: '/api/alerts?kind=breached' })).json<{
      items: { id: string; incidentId: string }[];
    }>().items;
    return items.length >= 3 ? items : undefined;
  }, 'three breaches');
  ids.alertA = breaches.find((a) => a.incidentId === ids.incA)!.id;
  ids.alertB = breaches.find((a) => a.incidentId === ids.incB)!.id;
  // Feeds: a news feed, each unit's official channel, and a candidate response on each unit's incident.
  const feedRow = (id: string, kind: string, unitId: string | null) => ({
    id,
    name: id,
    url: `https://example.test/${id}.xml`,
    kind,
    unitId,
  });
  await db.db
    .insert(feeds)
    .values([feedRow('feed-news', 'news', null), feedRow('feed-a', 'official', 'housing'), feedRow('feed-b', 'official', 'environment')]);
  const candidate = (id: string, incidentId: string, unitId: string) =>
    candidateRow({
      id,
      incidentId,
      unitId,
      feedId: unitId === 'housing' ? 'feed-a' : 'feed-b',
      title: '情况通报',
      at: new Date(clock.now()),
    });
  await db.db
    .insert(responseCandidates)
    .values([
      candidate('rc-a', ids.incA, 'housing'),
      candidate('rc-b', ids.incB, 'environment'),
      candidate('rc-a2', ids.incA, 'housing'),
      candidate('rc-b2', ids.incB, 'environment'),
    ]);
  // The duty roster: the demo duty officer, and two shifts for the administrator to change and remove.
  ids.dutyUser = (await db.db.select({ id: users.id }).from(users).where(eq(users.username, 'duty')))[0]!.id;
  const shift = (id: string, day: number) => ({
    id,
    userId: ids.dutyUser,
    startsAt: new Date(T0 + day * 24 * HOUR),
    endsAt: new Date(T0 + day * 24 * HOUR + 8 * HOUR),
    createdBy: 'test',
    createdAt: new Date(T0),
    updatedAt: new Date(T0),
  });
  await db.db.insert(dutyShifts).values([shift('shift-change-me', 100), shift('shift-delete-me', 101)]);
  // 证据留存: an archived page behind each incident's ticket signal.
  for (const [id, ticket] of [
    ['ev-a', 'M-A'],
    ['ev-b', 'M-B'],
  ] as const) {
    await db.db.insert(evidence).values({
      id,
      url: `https://example.test/${id}`,
      state: 'archived',
      firstSeenAt: new Date(T0),
      fetchedAt: new Date(T0),
      httpStatus: 200,
      contentType: 'text/html',
      body: Buffer.from('<p>存档</p>'),
      text: '<p>存档</p>',
      size: 13,
    });
    await db.db
      .insert(evidenceRefs)
      .values({ kind: 'signal', refId: signalId('hotline', ticket), evidenceId: id, createdAt: new Date(T0) });
  }
});

afterAll(async () => {
  await stop?.();
});

type Row = [
  what: string,
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  url: () => string,
  body: ((who: Who) => unknown) | undefined,
  expect: Record<Who, number>,
  headers?: Record<string, string>,
  /** 'fresh': each signed-in role asks on a session of its own, logged in for this row (the request ends it). */
  session?: 'fresh',
];

const USERNAME: Record<Exclude<Who, 'anonymous' | 'token'>, string> = {
  leader: 'leader',
  admin: 'admin',
  unitA: 'unit-housing',
  duty: 'duty',
};
const A = (anonymous: number, token: number, leader: number, admin: number, unitA: number, duty: number) => ({
  anonymous,
  token,
  leader,
  admin,
  unitA,
  duty,
});

let seq = 0;
const MATRIX: Row[] = [
  ['health', 'GET', () => '/api/health', undefined, A(200, 200, 200, 200, 200, 200)],
  ['who am I', 'GET', () => '/api/auth/me', undefined, A(401, 403, 200, 200, 200, 200)],
  ['incident list', 'GET', () => '/api/incidents', undefined, A(401, 403, 200, 200, 200, 200)],
  ['own unit incident', 'GET', () => `/api/incidents/${ids.incA}`, undefined, A(401, 403, 200, 200, 200, 200)],
  ["another unit's incident", 'GET', () => `/api/incidents/${ids.incB}`, undefined, A(401, 403, 200, 200, 404, 200)],
  ["another unit's timeline", 'GET', () => `/api/incidents/${ids.incB}/timeline`, undefined, A(401, 403, 200, 200, 404, 200)],
  ['own unit timeline', 'GET', () => `/api/incidents/${ids.incA}/timeline`, undefined, A(401, 403, 200, 200, 200, 200)],
  ['own unit evidence list', 'GET', () => `/api/incidents/${ids.incA}/evidence`, undefined, A(401, 403, 200, 200, 200, 200)],
  ["another unit's evidence list", 'GET', () => `/api/incidents/${ids.incB}/evidence`, undefined, A(401, 403, 200, 200, 404, 200)],
  ['own unit archived copy', 'GET', () => '/api/evidence/ev-a', undefined, A(401, 403, 200, 200, 200, 200)],
  ["another unit's archived copy", 'GET', () => '/api/evidence/ev-b', undefined, A(401, 403, 200, 200, 404, 200)],
  ['grade', 'POST', () => `/api/incidents/${ids.incA}/grade`, () => ({ level: 'III' }), A(401, 403, 403, 403, 403, 200)],
  ['assign', 'POST', () => `/api/incidents/${ids.incA}/assign`, () => ({ unit: 'housing' }), A(401, 403, 403, 403, 403, 200)],
  ['attach a signal', 'POST', () => `/api/incidents/${ids.incA}/signals`, () => ({ title: '补充线索' }), A(401, 403, 403, 403, 403, 201)],
  [
    'own unit response',
    'POST',
    () => `/api/incidents/${ids.incA}/responses`,
    () => ({ kind: 'reply', original: true }),
    A(401, 403, 403, 403, 201, 201),
  ],
  [
    "another unit's response",
    'POST',
    () => `/api/incidents/${ids.incB}/responses`,
    () => ({ kind: 'reply', original: true }),
    A(401, 403, 403, 403, 404, 201),
  ],
  ['alert list', 'GET', () => '/api/alerts', undefined, A(401, 403, 200, 200, 200, 200)],
  ['ack own unit alert', 'POST', () => `/api/alerts/${ids.alertA}/ack`, undefined, A(401, 403, 403, 403, 200, 200)],
  ["ack another unit's alert", 'POST', () => `/api/alerts/${ids.alertB}/ack`, undefined, A(401, 403, 403, 403, 404, 200)],
  ['duty list', 'GET', () => '/api/obligations', undefined, A(401, 403, 200, 200, 200, 200)],
  ["another unit's duty", 'GET', () => `/api/obligations/${ids.oblB}`, undefined, A(401, 403, 200, 200, 404, 200)],
  [
    'create a duty',
    'POST',
    () => '/api/obligations',
    () => ({ kind: 'service_change', issuedAt: new Date(T0).toISOString() }),
    A(401, 403, 403, 403, 403, 201),
  ],
  ['fulfil own duty', 'POST', () => `/api/obligations/${ids.oblA}/fulfil`, () => ({}), A(401, 403, 403, 403, 200, 200)],
  ["fulfil another unit's duty", 'POST', () => `/api/obligations/${ids.oblB}/fulfil`, () => ({}), A(401, 403, 403, 403, 404, 200)],
  [
    'suspend a duty',
    'POST',
    () => `/api/obligations/${ids.oblA2}/suspend`,
    () => ({ reason: 'third_party' }),
    A(401, 403, 403, 403, 403, 409),
  ],
  [
    '12345 ticket',
    'POST',
    () => '/api/tickets',
    (who) => ({ id: `T-${who}-${seq++}`, receivedAt: new Date(T0).toISOString(), content: '噪声扰民' }),
    A(401, 201, 403, 403, 403, 201),
  ],
  ['calendar', 'GET', () => '/api/calendar', undefined, A(401, 403, 200, 200, 200, 200)],
  [
    'load a holiday year',
    'PUT',
    () => '/api/calendar/years/2031',
    () => ({ holidays: ['2031-01-01'], workdays: [] }),
    A(401, 403, 403, 200, 403, 403),
  ],
  ['users', 'GET', () => '/api/admin/users', undefined, A(401, 403, 403, 200, 403, 403)],
  [
    'add a user',
    'POST',
    () => '/api/admin/users',
    (who) => ({ username: `u${seq++}-${who}`, role: 'leader', password: 'a-long-password-1' }),
    A(401, 403, 403, 201, 403, 403),
  ],
  ['units (admin view)', 'GET', () => '/api/admin/units', undefined, A(401, 403, 403, 200, 403, 403)],
  ['units (admin view), searched', 'GET', () => '/api/admin/units?q=hous&pageSize=10', undefined, A(401, 403, 403, 200, 403, 403)],
  ['add a unit', 'POST', () => '/api/admin/units', () => ({ id: `unit-${seq++}`, name: '新单位' }), A(401, 403, 403, 201, 403, 403)],
  ['change a unit', 'PATCH', () => '/api/admin/units/housing', () => ({ email: 'zjj2@example.test' }), A(401, 403, 403, 200, 403, 403)],
  ['tokens', 'GET', () => '/api/admin/tokens', undefined, A(401, 403, 403, 200, 403, 403)],
  [
    'create a token',
    'POST',
    () => '/api/admin/tokens',
    () => ({ name: `t${seq++}`, scopes: ['tickets:write'] }),
    A(401, 403, 403, 201, 403, 403),
  ],
  ['rule pack', 'GET', () => '/api/admin/rule-pack', undefined, A(401, 403, 200, 200, 403, 200)],
  ['rule pack versions', 'GET', () => '/api/admin/rule-packs', undefined, A(401, 403, 403, 200, 403, 403)],
  [
    'store and activate a rule pack',
    'POST',
    () => '/api/admin/rule-packs',
    (who) => ({ document: {}, note: `矩阵 ${who}` }),
    A(401, 403, 403, 201, 403, 403),
  ],
  [
    'activate a rule pack version (rollback)',
    'POST',
    () => `/api/admin/rule-packs/${ids.rulePack}/activate`,
    undefined,
    A(401, 403, 403, 200, 403, 403),
  ],
  [
    'activate an unknown rule pack version',
    'POST',
    () => '/api/admin/rule-packs/999999/activate',
    undefined,
    A(401, 403, 403, 404, 403, 403),
  ],
  ['monitoring rules', 'GET', () => '/api/admin/monitoring-rules', undefined, A(401, 403, 200, 200, 403, 200)],
  [
    'add a monitoring rule',
    'POST',
    () => '/api/admin/monitoring-rules',
    (who) => ({ name: `规则 ${who}`, expression: '噪声 AND NOT 演练', sources: ['hotline'] }),
    A(401, 403, 403, 201, 403, 403),
  ],
  [
    'change a monitoring rule',
    'PATCH',
    () => '/api/admin/monitoring-rules/mr-delete-me',
    () => ({ name: '待删除（改）' }),
    A(401, 403, 403, 200, 403, 403),
  ],
  ['delete a monitoring rule', 'DELETE', () => '/api/admin/monitoring-rules/mr-delete-me', undefined, A(401, 403, 403, 204, 403, 403)],
  ['signal search', 'GET', () => '/api/signals?matched=false', undefined, A(401, 403, 200, 200, 200, 200)],
  // One signal by its id: a unit reads its own unit's, another unit's (or one not yet anyone's) is a 404 like an unknown id.
  ['own unit signal', 'GET', () => `/api/signals/${signalId('hotline', 'M-A')}`, undefined, A(401, 403, 200, 200, 200, 200)],
  ["another unit's signal", 'GET', () => `/api/signals/${signalId('hotline', 'M-B')}`, undefined, A(401, 403, 200, 200, 404, 200)],
  ['an unmatched signal', 'GET', () => '/api/signals/sig-unmatched', undefined, A(401, 403, 200, 200, 404, 200)],
  ['an unknown signal', 'GET', () => '/api/signals/sig-nope', undefined, A(401, 403, 404, 404, 404, 404)],
  // The same through the search (what a unit finds there is checked below).
  ['own unit signal, searched', 'GET', () => `/api/signals?q=${signalId('hotline', 'M-A')}`, undefined, A(401, 403, 200, 200, 200, 200)],
  [
    "another unit's signal, searched",
    'GET',
    () => `/api/signals?q=${signalId('hotline', 'M-B')}`,
    undefined,
    A(401, 403, 200, 200, 200, 200),
  ],
  ['promote a signal (人工立案)', 'POST', () => '/api/signals/sig-unmatched/promote', () => ({}), A(401, 403, 403, 403, 403, 201)],
  // Duty officers only; an unknown incident is a 404, a signal of another incident a 409 — nothing changes.
  ['merge incidents', 'POST', () => `/api/incidents/${ids.incA}/merge`, () => ({ from: ['inc_nope'] }), A(401, 403, 403, 403, 403, 404)],
  [
    'split an incident',
    'POST',
    () => `/api/incidents/${ids.incA}/split`,
    () => ({ signals: ['sig_nope'] }),
    A(401, 403, 403, 403, 403, 409),
  ],
  ['metrics', 'GET', () => '/metrics', undefined, A(401, 403, 403, 200, 403, 403)],
  [
    'caller of an own unit ticket',
    'GET',
    () => `/api/hotline/callers/${signalId('hotline', 'M-A')}`,
    undefined,
    A(401, 403, 403, 403, 200, 200),
  ],
  [
    "caller of another unit's ticket",
    'GET',
    () => `/api/hotline/callers/${signalId('hotline', 'M-B')}`,
    undefined,
    A(401, 403, 403, 403, 404, 200),
  ],
  ['hotline sources', 'GET', () => '/api/admin/hotline-sources', undefined, A(401, 403, 403, 200, 403, 403)],
  ['hotline sources, searched', 'GET', () => '/api/admin/hotline-sources?q=city&page=2', undefined, A(401, 403, 403, 200, 403, 403)],
  [
    'add a hotline source',
    'POST',
    () => '/api/admin/hotline-sources',
    (who) => ({ name: `hs-${seq++}-${who}` }),
    A(401, 403, 403, 201, 403, 403),
  ],
  [
    'move a hotline source to another jurisdiction',
    'PATCH',
    () => `/api/admin/hotline-sources/${ids.hotline}`,
    () => ({ jurisdiction: 'default' }),
    A(401, 403, 403, 200, 403, 403),
  ],
  [
    'disable a hotline source',
    'POST',
    () => `/api/admin/hotline-sources/${ids.hotline}/disable`,
    undefined,
    A(401, 403, 403, 200, 403, 403),
  ],
  [
    'import a 12345 export',
    'POST',
    () => '/api/hotline/imports?source=hs-import',
    (who) => `工单编号,受理时间,诉求内容\r\nIMP-${who}-${seq++},${new Date(T0).toISOString()},噪声扰民\r\n`,
    A(401, 403, 403, 200, 403, 200),
    { 'content-type': 'text/csv' },
  ],
  // Feeds: administrators change them; everyone signed in reads, a unit only its own official channels.
  ['feeds', 'GET', () => '/api/feeds', undefined, A(401, 403, 200, 200, 200, 200)],
  ['news feed', 'GET', () => '/api/feeds/feed-news', undefined, A(401, 403, 200, 200, 404, 200)],
  ['own official channel', 'GET', () => '/api/feeds/feed-a', undefined, A(401, 403, 200, 200, 200, 200)],
  ["another unit's official channel", 'GET', () => '/api/feeds/feed-b', undefined, A(401, 403, 200, 200, 404, 200)],
  [
    'add a feed',
    'POST',
    () => '/api/feeds',
    () => ({ name: `f${seq++}`, url: 'https://example.test/f.xml', kind: 'news' }),
    A(401, 403, 403, 201, 403, 403),
  ],
  ['edit a feed', 'PATCH', () => '/api/feeds/feed-a', () => ({ pollIntervalSeconds: 600 }), A(401, 403, 403, 200, 403, 403)],
  ['pause a feed', 'POST', () => '/api/feeds/feed-news/pause', undefined, A(401, 403, 403, 200, 403, 403)],
  ['resume a feed', 'POST', () => '/api/feeds/feed-news/resume', undefined, A(401, 403, 403, 200, 403, 403)],
  ['candidate responses', 'GET', () => '/api/response-candidates', undefined, A(401, 403, 200, 200, 200, 200)],
  [
    'candidate responses, searched',
    'GET',
    () => '/api/response-candidates?q=%E9%80%9A%E6%8A%A5',
    undefined,
    A(401, 403, 200, 200, 200, 200),
  ],
  ['reject own unit candidate', 'POST', () => '/api/response-candidates/rc-a/reject', () => ({}), A(401, 403, 403, 200, 403, 409)],
  ["reject another unit's candidate", 'POST', () => '/api/response-candidates/rc-b/reject', () => ({}), A(401, 403, 403, 200, 403, 409)],
  ['remove a feed', 'DELETE', () => '/api/feeds/feed-news', undefined, A(401, 403, 403, 204, 403, 403)],
  // 领导统计: everyone signed in reads; a unit only its own unit (another is a 404, as for every record).
  ['statistics', 'GET', () => '/api/stats/overview', undefined, A(401, 403, 200, 200, 200, 200)],
  ['通报/约谈 candidates', 'GET', () => '/api/stats/candidates', undefined, A(401, 403, 200, 200, 200, 200)],
  ['own unit candidates', 'GET', () => '/api/stats/candidates?unit=housing', undefined, A(401, 403, 200, 200, 200, 200)],
  ["another unit's candidates", 'GET', () => '/api/stats/candidates?unit=environment', undefined, A(401, 403, 200, 200, 404, 200)],
  // 值班表: administrators keep it; duty officers and leaders read it; units neither.
  ['duty roster', 'GET', () => '/api/roster', undefined, A(401, 403, 200, 200, 403, 200)],
  [
    'add a shift',
    'POST',
    () => '/api/admin/roster',
    () => {
      const start = T0 + (200 + seq++) * 24 * HOUR;
      return { userId: ids.dutyUser, startsAt: new Date(start).toISOString(), endsAt: new Date(start + 12 * HOUR).toISOString() };
    },
    A(401, 403, 403, 201, 403, 403),
  ],
  ['change a shift', 'PATCH', () => '/api/admin/roster/shift-change-me', () => ({ note: '调班' }), A(401, 403, 403, 200, 403, 403)],
  ['remove a shift', 'DELETE', () => '/api/admin/roster/shift-delete-me', undefined, A(401, 403, 403, 204, 403, 403)],
  [
    "change a unit's other channels",
    'PATCH',
    () => '/api/admin/units/housing',
    () => ({ phone: '13800000000', wecomRobot: 'zjj-group' }),
    A(401, 403, 403, 200, 403, 403),
  ],
  // Incidents: the duty officer's other commands.
  [
    'record when it occurred',
    'POST',
    () => `/api/incidents/${ids.incA}/occurred`,
    () => ({ occurredAt: new Date(T0 - HOUR).toISOString() }),
    A(401, 403, 403, 403, 403, 200),
  ],
  ["another unit's incident (to be dismissed)", 'GET', () => `/api/incidents/${ids.incC}`, undefined, A(401, 403, 200, 200, 404, 200)],
  ['dismiss', 'POST', () => `/api/incidents/${ids.incC}/dismiss`, () => ({ reason: '非本市事项' }), A(401, 403, 403, 403, 403, 200)],
  // 依申请公开: suspend, resume, extend (duty officers only; a unit fulfils but does not move the count).
  [
    'suspend a request',
    'POST',
    () => `/api/obligations/${ids.oblReq}/suspend`,
    () => ({ reason: 'third_party' }),
    A(401, 403, 403, 403, 403, 200),
  ],
  ['resume a duty', 'POST', () => `/api/obligations/${ids.oblReq}/resume`, undefined, A(401, 403, 403, 403, 403, 200)],
  ['extend a duty', 'POST', () => `/api/obligations/${ids.oblReq}/extend`, undefined, A(401, 403, 403, 403, 403, 200)],
  ['own unit request duty', 'GET', () => `/api/obligations/${ids.oblReq}`, undefined, A(401, 403, 200, 200, 200, 200)],
  // Candidate responses: a decision is the duty officer's (or an administrator's); a second one is a conflict.
  ['accept own unit candidate', 'POST', () => '/api/response-candidates/rc-a2/accept', () => ({}), A(401, 403, 403, 200, 403, 409)],
  ["accept another unit's candidate", 'POST', () => '/api/response-candidates/rc-b2/accept', () => ({}), A(401, 403, 403, 200, 403, 409)],
  // Administration of people and tokens.
  [
    'change a user',
    'PATCH',
    () => `/api/admin/users/${ids.someUser}`,
    () => ({ displayName: '矩阵领导' }),
    A(401, 403, 403, 200, 403, 403),
  ],
  ["end a user's sessions", 'DELETE', () => `/api/admin/users/${ids.someUser}/sessions`, undefined, A(401, 403, 403, 200, 403, 403)],
  ['revoke a token', 'DELETE', () => `/api/admin/tokens/${ids.tokenToRevoke}`, undefined, A(401, 403, 403, 204, 403, 403)],
  // No failed notification here: the administrator is let through to a 404, everyone else stopped before.
  ['retry a notification', 'POST', () => '/api/admin/notifications/ntf-none/retry', undefined, A(401, 403, 403, 404, 403, 403)],
  // 领导统计, every view: a unit reads its own unit, another unit is a 404.
  ...(['breakdown?by=unit', 'ranking', 'trend', 'items', 'export.csv?view=totals', 'export.xlsx', 'notice.docx'] as const).flatMap(
    (view): Row[] => {
      const sep = view.includes('?') ? '&' : '?';
      return [
        [`statistics: ${view}`, 'GET', () => `/api/stats/${view}`, undefined, A(401, 403, 200, 200, 200, 200)],
        [`statistics: ${view}, own unit`, 'GET', () => `/api/stats/${view}${sep}unit=housing`, undefined, A(401, 403, 200, 200, 200, 200)],
        [
          `statistics: ${view}, another unit`,
          'GET',
          () => `/api/stats/${view}${sep}unit=environment`,
          undefined,
          A(401, 403, 200, 200, 404, 200),
        ],
      ];
    },
  ),
  // Reference data every signed-in user reads.
  ['system time', 'GET', () => '/api/time', undefined, A(401, 403, 200, 200, 200, 200)],
  ['unit names', 'GET', () => '/api/units', undefined, A(401, 403, 200, 200, 200, 200)],
  ['error codes', 'GET', () => '/api/error-codes', undefined, A(401, 403, 200, 200, 200, 200)],
  // Log-out ends the session it is sent with; a token has no session to end.
  ['log out', 'POST', () => '/api/auth/logout', undefined, A(401, 403, 204, 204, 204, 204), undefined, 'fresh'],
];

describe('the access matrix', () => {
  it.each(MATRIX)('%s (%s)', async (_what, method, url, body, expected, headers, session) => {
    const got: Partial<Record<Who, number>> = {};
    for (const who of WHO) {
      const payload = body?.(who);
      const fresh = session === 'fresh' && who !== 'anonymous' && who !== 'token' ? await loginAs(env.hy.app, USERNAME[who]) : null;
      const res = await (fresh ?? client[who]).inject({
        method,
        url: url(),
        ...(payload !== undefined ? { payload } : {}),
        ...(headers ? { headers } : {}),
      });
      got[who] = res.statusCode;
      // A fresh session that was ended is refused afterwards.
      if (fresh && res.statusCode < 300) expect((await fresh.inject({ method: 'GET', url: '/api/auth/me' })).statusCode, who).toBe(401);
      if (res.statusCode === 404) expect(res.body, `a 404 never carries the record's title`).not.toMatch(/河道|电梯|菜市场/);
    }
    expect(got).toEqual(expected);
  });

  it('a unit user lists only its own unit’s incidents, alerts and duties (and the totals say so)', async () => {
    const unit = client.unitA;
    const incidents = (await unit.inject({ method: 'GET', url: '/api/incidents' })).json<{
      items: { unit: { id: string } | null }[];
      total: number;
    }>();
    expect(incidents.items.length).toBeGreaterThan(0);
    expect(incidents.items.every((i) => i.unit?.id === 'housing')).toBe(true);
    expect(incidents.total).toBe(incidents.items.length);
    const alerts = (await unit.inject({ method: 'GET', url: '/api/alerts' })).json<{
      items: { unitId: string | null; incidentTitle: string }[];
    }>();
    expect(alerts.items.length).toBeGreaterThan(0);
    expect(alerts.items.every((a) => a.unitId === 'housing')).toBe(true);
    const channels = (await unit.inject({ method: 'GET', url: '/api/feeds' })).json<{ items: { id: string }[] }>();
    expect(channels.items.map((f) => f.id)).toEqual(['feed-a']);
    const candidates = (await unit.inject({ method: 'GET', url: '/api/response-candidates' })).json<{ items: { id: string }[] }>();
    expect(candidates.items.map((c) => c.id).sort()).toEqual(['rc-a', 'rc-a2']);
    const duties = (await unit.inject({ method: 'GET', url: '/api/obligations' })).json<{ items: { unit: { id: string } | null }[] }>();
    expect(duties.items.map((d) => d.unit?.id)).toEqual(['housing', 'housing', 'housing']);
    // Signals: only those of the unit's own incidents, never one attached to another unit's.
    type Signals = { items: { id: string; incidentId: string | null }[]; total: number };
    const signalsOf = async (who: Injectable, q: string) => (await who.inject({ method: 'GET', url: `/api/signals?${q}` })).json<Signals>();
    const own = await signalsOf(unit, 'matched=true');
    expect(own.items.map((i) => i.id)).toContain(signalId('hotline', 'M-A'));
    expect(own.items.every((i) => i.incidentId === ids.incA)).toBe(true);
    for (const q of [`q=${signalId('hotline', 'M-B')}`, `q=${encodeURIComponent('河道')}`, 'source=hotline']) {
      expect(
        (await signalsOf(client.duty, q)).items.map((i) => i.id),
        q,
      ).toContain(signalId('hotline', 'M-B'));
      expect(
        (await signalsOf(unit, q)).items.map((i) => i.id),
        q,
      ).not.toContain(signalId('hotline', 'M-B'));
    }
    const hidden = await unit.inject({ method: 'GET', url: `/api/signals/${signalId('hotline', 'M-B')}` });
    expect(hidden.statusCode).toBe(404);
    expect(hidden.json()).toEqual({ code: 'HY_NOT_FOUND', message: `signal ${signalId('hotline', 'M-B')} not found` });
    // Asking for another unit by filter changes nothing: the scope is not a filter the client sets.
    const other = (await unit.inject({ method: 'GET', url: '/api/incidents?unit=environment' })).json<{ total: number }>();
    expect(other.total).toBe(0);
  });

  it("one signal reads as the list shows it, its ticket text (a citizen's words) to duty officers only", async () => {
    const id = signalId('hotline', 'M-A');
    for (const who of ['duty', 'leader', 'admin', 'unitA'] as const) {
      const one = await client[who].inject({ method: 'GET', url: `/api/signals/${id}` });
      expect(one.statusCode, who).toBe(200);
      const listed = (await client[who].inject({ method: 'GET', url: `/api/signals?q=${id}` })).json<{ items: unknown[] }>();
      expect(listed.items, who).toEqual([one.json()]);
      const body = one.json<{ incidentId: string; content: string | null; title: string }>();
      expect(body.incidentId, who).toBe(ids.incA);
      expect(body.title, who).toBe('小区电梯频繁故障');
      expect(body.content, who).toBe(who === 'duty' ? '小区电梯频繁故障' : null);
    }
  });

  it('the cached board page is kept per scope: the same URL, asked first by duty, never shows a unit another unit’s incidents; a conditional GET is 304 with the security headers', async () => {
    type Page = { items: { unit: { id: string } | null }[]; total: number };
    const url = '/api/incidents?status=open&pageSize=50';
    const environment = await env.as('unit-environment');
    const all = await client.duty.inject({ method: 'GET', url });
    expect(all.statusCode).toBe(200);
    const units = new Set(all.json<Page>().items.map((i) => i.unit?.id));
    expect(units).toContain('housing');
    expect(units).toContain('environment');
    for (const [who, unit] of [
      [client.unitA, 'housing'],
      [environment, 'environment'],
    ] as const) {
      for (let i = 0; i < 2; i++) {
        const page = (await who.inject({ method: 'GET', url })).json<Page>();
        expect(page.items.length).toBeGreaterThan(0);
        expect(page.items.every((item) => item.unit?.id === unit)).toBe(true);
      }
    }
    expect(all.headers['cache-control']).toBe('private, no-cache');
    const etag = String(all.headers.etag);
    const again = await client.duty.inject({ method: 'GET', url, headers: { 'if-none-match': etag } });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
    expect(again.headers['content-security-policy']).toContain("script-src 'self'");
    expect(again.headers['x-content-type-options']).toBe('nosniff');
    // Another scope's tag names another page.
    expect((await client.unitA.inject({ method: 'GET', url, headers: { 'if-none-match': etag } })).statusCode).toBe(200);
    // Without a session the cache is never reached.
    expect((await client.anonymous.inject({ method: 'GET', url, headers: { 'if-none-match': etag } })).statusCode).toBe(401);

    // Gzipped for a client that takes it (every browser): the same page, another validator.
    const gzip = { 'accept-encoding': 'gzip, deflate, br' };
    const zipped = await client.duty.inject({ method: 'GET', url, headers: gzip });
    expect(zipped.statusCode).toBe(200);
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.headers.vary).toContain('accept-encoding');
    expect(all.headers.vary).toContain('accept-encoding');
    expect(all.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(gunzipSync(zipped.rawPayload).toString())).toEqual(all.json());
    const zippedTag = String(zipped.headers.etag);
    expect(zippedTag).not.toBe(etag);
    expect((await client.duty.inject({ method: 'GET', url, headers: { ...gzip, 'if-none-match': zippedTag } })).statusCode).toBe(304);
    // A tag of one representation does not validate the other.
    expect((await client.duty.inject({ method: 'GET', url, headers: { ...gzip, 'if-none-match': etag } })).statusCode).toBe(200);
    expect((await client.duty.inject({ method: 'GET', url, headers: { 'if-none-match': zippedTag } })).statusCode).toBe(200);
    // Scope still holds: a unit user's gzipped page is their unit's alone, and the duty officer's tag is not theirs.
    const unitZipped = await client.unitA.inject({ method: 'GET', url, headers: { ...gzip, 'if-none-match': zippedTag } });
    expect(unitZipped.statusCode).toBe(200);
    const unitItems = (JSON.parse(gunzipSync(unitZipped.rawPayload).toString()) as Page).items;
    expect(unitItems.length).toBeGreaterThan(0);
    expect(unitItems.every((item) => item.unit?.id === 'housing')).toBe(true);
  });

  it('the live stream: anyone signed in, nobody else (over a real socket: a stream does not end by itself)', async () => {
    const cookieOf = async (username: string) => (await env.as(username)).cookie;
    const cookies: Partial<Record<Who, string>> = {
      leader: await cookieOf('leader'),
      admin: await cookieOf('admin'),
      unitA: await cookieOf('unit-housing'),
      duty: await cookieOf('duty'),
    };
    const { token } = await createToken(db.db, { name: 'stream', scopes: ['tickets:write', 'metrics:read'] }, 'test', new Date());
    const address = await env.hy.app.listen({ port: 0, host: '127.0.0.1' });
    const got: Partial<Record<Who, number>> = {};
    for (const who of WHO) {
      const ac = new AbortController();
      const headers: Record<string, string> =
        who === 'token' ? { authorization: `Bearer ${token}` } : cookies[who] ? { cookie: cookies[who] } : {};
      const res = await fetch(`${address}/api/stream`, { headers, signal: ac.signal });
      got[who] = res.status;
      ac.abort();
    }
    expect(got).toEqual(A(401, 403, 200, 200, 200, 200));
  });

  it('every list pages with a total: candidate responses, feeds, users, tokens, monitoring rules, duties', async () => {
    type Page = { items: { id: string }[]; total: number; page: number; pageSize: number };
    const get = async (who: Injectable, url: string) => {
      const res = await who.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      return res.json<Page>();
    };
    for (const [who, url] of [
      [client.duty, '/api/response-candidates'],
      [client.admin, '/api/feeds'],
      [client.admin, '/api/admin/users'],
      [client.admin, '/api/admin/tokens'],
      [client.admin, '/api/admin/monitoring-rules'],
    ] as const) {
      const all = await get(who, url);
      expect(all.total, url).toBeGreaterThanOrEqual(2);
      expect(all.items.length, url).toBe(all.total);
      const first = await get(who, `${url}?pageSize=1`);
      const second = await get(who, `${url}?pageSize=1&page=2`);
      expect([first.items.length, first.total, first.page, first.pageSize], url).toEqual([1, all.total, 1, 1]);
      expect([first.items[0]!.id, second.items[0]!.id], url).toEqual(all.items.slice(0, 2).map((i) => i.id));
    }
    // The total counts what the caller may see.
    expect((await get(client.unitA, '/api/response-candidates?pageSize=1')).total).toBe(2);
    // Duties: text and the due time range.
    const duties = async (q: string) => (await get(client.duty, `/api/obligations?${q}`)).items.map((i) => i.id).sort();
    expect(await duties(`q=${encodeURIComponent('处罚公开')}`)).toEqual([ids.oblA, ids.oblA2, ids.oblB].sort());
    expect(await duties(`q=${ids.oblReq}`)).toEqual([ids.oblReq]);
    const iso = (ms: number) => encodeURIComponent(new Date(ms).toISOString());
    expect(await duties(`from=${iso(T0 + 400 * 24 * HOUR)}`)).toEqual([]);
    expect(await duties(`to=${iso(T0)}`)).toEqual([]);
    expect(await duties(`from=${iso(T0)}&to=${iso(T0 + 90 * 24 * HOUR)}`)).toEqual(
      expect.arrayContaining([ids.oblA, ids.oblB, ids.oblReq]),
    );
  });

  it('the incident list filters by unit, clock and clock state, and start time', async () => {
    type Page = { items: { id: string; unit: { id: string } | null }[]; total: number };
    const list = async (q: string) => (await client.duty.inject({ method: 'GET', url: `/api/incidents?${q}` })).json<Page>();
    const housing = await list('unit=housing');
    expect(housing.items.map((i) => i.id)).toContain(ids.incA);
    expect(housing.items.every((i) => i.unit?.id === 'housing')).toBe(true);
    // Against the clocks table: the incidents with a response clock in each state, and no others.
    const rows = await db.db.select({ id: clocks.incidentId, state: clocks.state }).from(clocks).where(eq(clocks.kind, 'response'));
    for (const state of ['met', 'breached', 'cancelled']) {
      const expected = [...new Set(rows.filter((r) => r.state === state).map((r) => r.id))].sort();
      expect((await list(`clock=response&state=${state}`)).items.map((i) => i.id).sort(), state).toEqual(expected);
    }
    expect(rows.some((r) => r.state === 'met')).toBe(true);
    expect((await list('clock=response&state=waived')).total).toBe(0);
    const iso = (ms: number) => encodeURIComponent(new Date(ms).toISOString());
    expect((await list(`from=${iso(T0 + 100 * 24 * HOUR)}`)).total).toBe(0);
    expect((await list(`to=${iso(T0 - 10 * 24 * HOUR)}`)).total).toBe(0);
    const around = await list(`from=${iso(T0 - 10 * 24 * HOUR)}&to=${iso(T0 + 24 * HOUR)}&unit=environment`);
    expect(around.items.map((i) => i.id).sort()).toEqual([ids.incB, ids.incC].sort());
    // The text search finds the unit's name too (the board's search box); 未指派 is its own filter.
    const byUnitName = await list(`q=${encodeURIComponent('生态环境')}`);
    expect(byUnitName.items.map((i) => i.id).sort()).toEqual([ids.incB, ids.incC].sort());
    const unassignedIds = rowsOf<{ id: string }>(await db.db.execute(sql`select id from incidents where unit_id is null order by id`)).map(
      (r) => r.id,
    );
    expect(unassignedIds.length).toBeGreaterThan(0);
    const unassigned = await list('unassigned=true&pageSize=500');
    expect(unassigned.items.map((i) => i.id).sort()).toEqual(unassignedIds);
    expect(unassigned.items.every((i) => i.unit === null)).toBe(true);
  });

  it('/metrics reports open clocks by state, open alerts by kind, outbox lag and the mail queue as the database has them', async () => {
    const text = (await client.admin.inject({ method: 'GET', url: '/metrics' })).body;
    const value = (series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    };
    const count = async (q: string) => rowsOf<{ n: number }>(await db.db.execute(sql.raw(q)))[0]!.n;
    for (const state of ['running', 'breached']) {
      const n = await count(`select count(*)::int as n from clocks where kind = 'response' and state = '${state}'`);
      expect(value(`huiying_clocks{kind="response",state="${state}"}`) ?? 0, state).toBe(n);
    }
    expect(value('huiying_clocks{kind="response",state="breached"}')).toBeGreaterThan(0);
    expect(value('huiying_clocks{kind="response",state="met"}')).toBeUndefined(); // open clocks only
    const breachAlerts = await count(
      `select count(*)::int as n from alerts where kind = 'breached' and acknowledged_at is null and retracted_at is null`,
    );
    expect(breachAlerts).toBeGreaterThan(0);
    expect(value('huiying_open_alerts{kind="breached"}')).toBe(breachAlerts);
    expect(value('huiying_outbox_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(value('huiying_outbox_pending')).toBe(await count('select count(*)::int as n from outbox where published_at is null'));
    const queued = rowsOf<{ status: string; n: number }>(
      await db.db.execute(
        sql`select status, count(*)::int as n from (select status from notifications union all select status from emails) q group by status`,
      ),
    );
    expect(queued.length).toBeGreaterThan(0);
    for (const q of queued) expect(value(`huiying_mail_queue{status="${q.status}"}`), q.status).toBe(q.n);
    expect(value('huiying_sse_clients')).toBe(env.hy.app.live.size);
  });

  it('the actor of every change is the authenticated user, and refusals are audited', async () => {
    const trail = await db.db.select().from(auditLog).where(eq(auditLog.entityId, ids.incA));
    expect(
      trail.filter((a) => a.action === 'clock.started' || a.action === 'incident.assigned' || a.actor.startsWith('user:')).length,
    ).toBeGreaterThan(0);
    const responses = await db.db.select().from(auditLog).where(eq(auditLog.action, 'response.recorded'));
    // The administrator's: the candidates it accepted.
    expect(new Set(responses.map((r) => r.actor))).toEqual(new Set(['user:unit-housing', 'user:duty', 'user:admin']));
    const refused = await db.db.select().from(auditLog).where(eq(auditLog.action, 'access.refused'));
    expect(refused.some((r) => r.actor === 'user:leader' && r.entityId === 'POST /api/incidents/:id/grade')).toBe(true);
    expect(refused.some((r) => r.actor === 'user:unit-housing' && r.entity === 'incident' && r.entityId === ids.incB)).toBe(true);
  });
});
