/**
 * Feed administration and official channels over HTTP, on the real PostgreSQL, against feeds
 * served by a local HTTP server, with a fake clock: an administrator's feed is polled by the
 * running poller without a restart, loopback is refused until the feed allows it, pausing stops
 * polling, a feed failing for an hour raises an alert its recovery withdraws, and an official
 * channel's items become candidate responses (proposed, or applied above the threshold) that a
 * duty officer accepts through the one response path.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventMessage, parseMessage, TOPICS } from '@huiying/bus';
import { FakeClock } from '@huiying/clock';
import { alerts, auditLog, eq, feeds, monitoringRules, responseCandidates, rowsOf, sql } from '@huiying/db';
import { eventually, freshDatabase, type SessionClient } from '@huiying/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedHarness, startEmbedded } from '../../standalone/test/embedded-harness.ts';

const MIN = 60_000;
// A Monday.
const T0 = Date.parse('2026-11-30T09:00:00+08:00');
const clock = new FakeClock(T0);
const rfc = (ms: number) => new Date(ms).toUTCString();

let db: Awaited<ReturnType<typeof freshDatabase>>;
let env: EmbeddedHarness;
let server: Server;
let base: string;
let admin: SessionClient;
let duty: SessionClient;
let leader: SessionClient;
let unit: SessionClient;
const docs = new Map<string, { body: string; status?: number; location?: string; etag?: string; hold?: Promise<void> }>();
const hits = new Map<string, number>();
/** What dashboards hear on the events topic (LiveFeed turns an alertId into an SSE `alert`). */
const events: { event: string; alertId?: string }[] = [];

const rss = (items: string) => `<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>${items}</channel></rss>`;
const item = (guid: string, title: string, link: string, published: number, description = '') =>
  `<item><guid isPermaLink="false">${guid}</guid><title>${title}</title><link>${link}</link><pubDate>${rfc(published)}</pubDate>` +
  `${description ? `<description><![CDATA[${description}]]></description>` : ''}</item>`;

interface FeedJson {
  id: string;
  enabled: boolean;
  allowCidrs: string[];
  health: {
    status: string;
    lastSuccessAt: string | null;
    lastError: string | null;
    failingSince: string | null;
    itemsSeen: number;
    nextPollAt: string | null;
    alerts: string[];
  };
}
interface CandidateJson {
  id: string;
  feedId: string;
  incidentId: string;
  title: string;
  original: boolean;
  originReason: string;
  confidence: number;
  matchReason: string;
  status: string;
  decidedBy: string | null;
  decisionReason: string | null;
  responseId: string | null;
}

const poll = () => env.hy.poller.pollDue();
const getFeed = async (id: string) => (await duty.inject({ method: 'GET', url: `/api/feeds/${id}` })).json<FeedJson>();
async function addFeed(body: Record<string, unknown>): Promise<FeedJson> {
  const res = await admin.inject({ method: 'POST', url: '/api/feeds', payload: body });
  expect(res.statusCode, res.body).toBe(201);
  return res.json<FeedJson>();
}

beforeAll(async () => {
  db = await freshDatabase();
  env = await startEmbedded({
    clock,
    handle: db,
    units: [
      { id: 'housing', name: '市住房和城乡建设局', email: 'zjj@example.test' },
      { id: 'environment', name: '市生态环境局', email: 'sthjj@example.test' },
    ],
  });
  // The news items below are 政务舆情 under this 监测方案 (a feed item opens an incident only if a rule takes it).
  await db.db.insert(monitoringRules).values({
    id: 'mr_housing',
    name: '住建',
    expression: '电梯 OR 河道 OR 小区',
    sources: ['feed'],
    createdBy: 'test',
    createdAt: new Date(clock.now()),
    updatedAt: new Date(clock.now()),
  });
  server = createServer(async (req, res) => {
    const path = req.url!;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const doc = docs.get(path);
    await doc?.hold;
    res.writeHead(doc?.status ?? (doc ? 200 : 404), {
      'content-type': 'application/rss+xml; charset=utf-8',
      ...(doc?.location ? { location: doc.location } : {}),
      ...(doc?.etag ? { etag: doc.etag } : {}),
    });
    res.end(doc?.body ?? '');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await env.bus.subscribe({
    topic: TOPICS.events,
    groupId: 'feeds-test',
    fromBeginning: true,
    handler: async (m) => {
      events.push(parseMessage(EventMessage, m.value));
    },
  });
  admin = await env.as('admin');
  duty = await env.as('duty');
  leader = await env.as('leader');
  unit = await env.as('unit-housing');
});

afterAll(async () => {
  await env?.stop();
  await db?.drop();
  server?.close();
});

describe('feed administration', () => {
  it('an added feed is polled by the running poller; loopback is refused until the feed allows it', async () => {
    docs.set('/news.xml', { body: rss(item('n0', '市政府召开常务会议', 'https://news.example.com/n0', T0 + MIN)) });
    const added = await addFeed({ id: 'news', name: '本地新闻', url: `${base}/news.xml`, kind: 'news' });
    expect(added.health.status).toBe('pending');
    await clock.advanceBy(5 * MIN);

    const [refused] = (await poll()).filter((r) => r.feedId === 'news');
    expect(refused).toMatchObject({ status: 'error' });
    expect(hits.get('/news.xml') ?? 0).toBe(0);
    let feed = await getFeed('news');
    expect(feed.health.status).toBe('failing');
    expect(feed.health.lastError).toMatch(/127\.0\.0\.1 \(loopback\).*not allowed/);
    expect(feed.health.failingSince).toBe(new Date(T0 + 5 * MIN).toISOString());

    const patched = await admin.inject({ method: 'PATCH', url: '/api/feeds/news', payload: { allowCidrs: ['127.0.0.1'] } });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json<FeedJson>().allowCidrs).toEqual(['127.0.0.1/32']);
    const [polled] = (await poll()).filter((r) => r.feedId === 'news');
    expect(polled).toMatchObject({ status: 'updated', items: 1, accepted: 1 });
    feed = await getFeed('news');
    expect(feed.health).toMatchObject({
      status: 'ok',
      lastError: null,
      failingSince: null,
      itemsSeen: 1,
      lastSuccessAt: new Date(clock.now()).toISOString(),
      nextPollAt: new Date(clock.now() + 300_000).toISOString(),
    });
  });

  it('the allowance is per feed and per range, checked at every hop: a redirect to another private range is refused', async () => {
    docs.set('/moved.xml', { body: '', status: 302, location: 'http://10.20.0.5/feed.xml' });
    await addFeed({ id: 'moved', name: '已迁移', url: `${base}/moved.xml`, kind: 'news', allowCidrs: ['127.0.0.1/32'] });
    const [result] = (await poll()).filter((r) => r.feedId === 'moved');
    expect(result!.error).toMatch(/10\.20\.0\.5 \(private\).*not allowed/);
    expect(hits.get('/moved.xml')).toBe(1);
    expect((await admin.inject({ method: 'DELETE', url: '/api/feeds/moved' })).statusCode).toBe(204);
  });

  it('a URL changed while its poll is in flight: one poller still, the old validators are not kept, the new URL is due at once', async () => {
    let release!: () => void;
    docs.set('/old.xml', { body: rss(''), etag: '"old"', hold: new Promise<void>((r) => (release = r)) });
    docs.set('/new.xml', { body: rss('') });
    await addFeed({ id: 'moving', name: '改址', url: `${base}/old.xml`, kind: 'news', allowCidrs: ['127.0.0.1/32'] });
    const inFlight = poll();
    await eventually(async () => (hits.get('/old.xml') ?? 0) > 0, 'the old URL requested');
    expect((await admin.inject({ method: 'PATCH', url: '/api/feeds/moving', payload: { url: `${base}/new.xml` } })).statusCode).toBe(200);
    // The lease still holds: nobody else polls the feed meanwhile.
    expect((await env.hy.poller.pollAll()).map((r) => r.feedId)).not.toContain('moving');
    release();
    await inFlight;
    const [row] = await db.db.select().from(feeds).where(eq(feeds.id, 'moving'));
    expect(row).toMatchObject({ url: `${base}/new.xml`, etag: null, nextPollAt: null, leaseOwner: null });
    expect((await poll()).filter((r) => r.feedId === 'moving')).toMatchObject([{ status: 'updated' }]);
    expect(hits.get('/new.xml')).toBe(1);
    expect((await admin.inject({ method: 'DELETE', url: '/api/feeds/moving' })).statusCode).toBe(204);
  });

  it('refuses bad input with a reason, and nothing is stored', async () => {
    const bad = [
      { name: 'x', url: 'file:///etc/passwd', kind: 'news' },
      { name: 'x', url: 'http://user:pw@example.com/feed', kind: 'news' },
      { name: 'x', url: 'https://example.com/feed', kind: 'news', allowCidrs: ['0.0.0.0/0'] },
      { name: 'x', url: 'https://example.com/feed', kind: 'news', allowCidrs: ['not-a-range'] },
      { name: 'x', url: 'https://example.com/feed', kind: 'official', unitId: 'nope' },
      { name: 'x', url: 'https://example.com/feed', kind: 'news', silenceRule: 'working_day' },
      { name: 'x', url: 'https://example.com/feed', kind: 'blog' },
    ];
    for (const payload of bad) {
      const res = await admin.inject({ method: 'POST', url: '/api/feeds', payload });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json<{ code: string }>().code).toBe('HY_VALIDATION');
    }
    const dup = await admin.inject({
      method: 'POST',
      url: '/api/feeds',
      payload: { id: 'news', name: 'x', url: `${base}/x`, kind: 'news' },
    });
    expect(dup.statusCode).toBe(409);
    const rows = await db.db.select({ id: feeds.id }).from(feeds);
    expect(rows.map((r) => r.id)).toEqual(['news']);
  });

  it('pausing stops polling; resuming polls at once; removing stops it for good', async () => {
    docs.set('/paused.xml', { body: rss(item('p1', '暂停测试', 'https://news.example.com/p1', clock.now())) });
    await addFeed({ id: 'paused', name: '暂停源', url: `${base}/paused.xml`, kind: 'media', allowCidrs: ['127.0.0.1/32'] });
    await poll();
    expect(hits.get('/paused.xml')).toBe(1);
    expect((await admin.inject({ method: 'POST', url: '/api/feeds/paused/pause' })).json<FeedJson>()).toMatchObject({
      enabled: false,
      health: { status: 'paused' },
    });
    await clock.advanceBy(20 * MIN);
    await poll();
    await env.hy.poller.pollAll();
    expect(hits.get('/paused.xml')).toBe(1);
    expect((await admin.inject({ method: 'POST', url: '/api/feeds/paused/resume' })).statusCode).toBe(200);
    await poll();
    expect(hits.get('/paused.xml')).toBe(2);
    expect((await admin.inject({ method: 'DELETE', url: '/api/feeds/paused' })).statusCode).toBe(204);
    await clock.advanceBy(20 * MIN);
    await env.hy.poller.pollAll();
    expect(hits.get('/paused.xml')).toBe(2);
    expect((await duty.inject({ method: 'GET', url: '/api/feeds/paused' })).statusCode).toBe(404);

    const trail = await db.db.select().from(auditLog).where(eq(auditLog.entityId, 'paused')).orderBy(auditLog.id);
    expect(trail.filter((a) => a.entity === 'feed').map((a) => [a.action, a.actor])).toEqual([
      ['feed.added', 'user:admin'],
      ['feed.paused', 'user:admin'],
      ['feed.resumed', 'user:admin'],
      ['feed.removed', 'user:admin'],
    ]);
  });

  it('duty officers and leaders read feeds but may not change them; a unit sees only its own official channels', async () => {
    await addFeed({
      id: 'housing-site',
      name: '市住建局网站 通知公告',
      url: `${base}/housing.xml`,
      kind: 'official',
      unitId: 'housing',
      allowCidrs: ['127.0.0.1/32'],
      silenceRule: 'working_day',
    });
    docs.set('/housing.xml', { body: rss('') });
    await addFeed({ id: 'env-site', name: '市生态环境局 政务微博', url: `${base}/env.xml`, kind: 'official', unitId: 'environment' });
    for (const who of [duty, leader]) {
      expect((await who.inject({ method: 'GET', url: '/api/feeds' })).json<{ items: FeedJson[] }>().items.length).toBe(3);
      expect(
        (await who.inject({ method: 'POST', url: '/api/feeds', payload: { name: 'x', url: 'https://e.com/f', kind: 'news' } })).statusCode,
      ).toBe(403);
      expect((await who.inject({ method: 'POST', url: '/api/feeds/news/pause' })).statusCode).toBe(403);
      expect((await who.inject({ method: 'DELETE', url: '/api/feeds/news' })).statusCode).toBe(403);
    }
    const own = (await unit.inject({ method: 'GET', url: '/api/feeds' })).json<{ items: FeedJson[] }>();
    expect(own.items.map((f) => f.id)).toEqual(['housing-site']);
    expect((await unit.inject({ method: 'GET', url: '/api/feeds/env-site' })).statusCode).toBe(404);
    expect((await unit.inject({ method: 'GET', url: '/api/feeds/news' })).statusCode).toBe(404);
    expect((await unit.inject({ method: 'PATCH', url: '/api/feeds/housing-site', payload: { name: 'x' } })).statusCode).toBe(403);
    // The environment channel is not served and not allowed loopback: it fails from here on; pause it.
    expect((await admin.inject({ method: 'POST', url: '/api/feeds/env-site/pause' })).statusCode).toBe(200);
  });

  it('a feed failing for an hour raises an alert on the duty board; its recovery withdraws it', async () => {
    await addFeed({ id: 'flaky', name: '不稳定的源', url: `${base}/flaky.xml`, kind: 'news', allowCidrs: ['127.0.0.1/32'] });
    const start = clock.now();
    await poll();
    expect((await getFeed('flaky')).health.failingSince).toBe(new Date(start).toISOString());
    const open = async () =>
      (await duty.inject({ method: 'GET', url: '/api/alerts?kind=feed_failing&open=true' })).json<{
        items: { id: string; incidentTitle: string; retractedAt: string | null }[];
      }>().items;
    await clock.advanceBy(30 * MIN);
    await poll();
    expect(await open()).toEqual([]);
    await clock.advanceBy(31 * MIN);
    await poll();
    const raised = await open();
    expect(raised).toMatchObject([{ id: 'feed_failing:flaky', incidentTitle: '不稳定的源' }]);
    expect((await getFeed('flaky')).health.alerts).toEqual(['feed_failing']);
    env.hy.relay.wake();
    await eventually(async () => events.some((e) => e.alertId === 'feed_failing:flaky' && e.event === 'feed_failing'), 'the live event');
    // A second round raises nothing more.
    await poll();
    expect(await db.db.select().from(auditLog).where(eq(auditLog.entityId, 'feed_failing:flaky'))).toHaveLength(1);

    docs.set('/flaky.xml', { body: rss('') });
    await env.hy.poller.pollAll();
    expect(await open()).toEqual([]);
    const [alert] = await db.db.select().from(alerts).where(eq(alerts.id, 'feed_failing:flaky'));
    expect(alert!.retractedAt).not.toBeNull();
    expect((await getFeed('flaky')).health).toMatchObject({ status: 'ok', failingSince: null, alerts: [] });
    const trail = await db.db.select().from(auditLog).where(eq(auditLog.entityId, 'feed_failing:flaky')).orderBy(auditLog.id);
    expect(trail.map((a) => a.action)).toEqual(['alert.raised', 'alert.withdrawn']);
    env.hy.relay.wake();
    await eventually(
      async () => events.some((e) => e.alertId === 'feed_failing:flaky' && e.event === 'feed_recovered'),
      'the live withdrawal',
    );
  });
  it('a failed mail about a source alert shows its stored title on the duty board (it has no incident, duty or feed to name it)', async () => {
    const title = '邮件未送达：信息源“不稳定的源”抓取故障通知，收件人 值班员';
    await db.db.insert(alerts).values({ id: 'delivery_failed:n-src-1', kind: 'delivery_failed', title, at: new Date(clock.now()) });
    const listed = (
      await duty.inject({ method: 'GET', url: `/api/alerts?kind=delivery_failed&q=${encodeURIComponent('不稳定的源')}` })
    ).json<{ items: { id: string; incidentTitle: string }[] }>().items;
    expect(listed).toEqual([expect.objectContaining({ id: 'delivery_failed:n-src-1', incidentTitle: title })]);
  });
});

describe('official channels', () => {
  const incidentIds: Record<string, string> = {};
  const incidentOf = async (title: string) =>
    eventually(
      async () =>
        (await duty.inject({ method: 'GET', url: `/api/incidents?q=${encodeURIComponent(title)}` })).json<{ items: { id: string }[] }>()
          .items[0]?.id,
      title,
    );
  const clocksOf = async (id: string) =>
    (await duty.inject({ method: 'GET', url: `/api/incidents/${id}` })).json<{ clocks: { state: string }[] }>().clocks;

  it('news items open incidents assigned to the housing bureau', async () => {
    const at = clock.now();
    docs.set('/news.xml', {
      body: rss(
        [
          item('n1', '锦华小区电梯频繁故障 居民出行困难', 'https://news.example.com/n1', at - 2 * MIN),
          item('n2', '城西河道黑臭无人管', 'https://news.example.com/n2', at - 2 * MIN),
          item('n3', '老旧小区加装电梯补贴迟迟未发', 'https://news.example.com/n3', at - 2 * MIN),
        ].join(''),
      ),
    });
    await env.hy.poller.pollAll();
    env.hy.relay.wake();
    for (const [key, title] of [
      ['lift', '锦华小区电梯频繁故障'],
      ['river', '城西河道黑臭无人管'],
      ['subsidy', '老旧小区加装电梯补贴'],
    ] as const) {
      incidentIds[key] = await incidentOf(title);
      const res = await duty.inject({ method: 'POST', url: `/api/incidents/${incidentIds[key]}/assign`, payload: { unit: 'housing' } });
      expect(res.statusCode, res.body).toBe(200);
    }
  });

  it('an official channel’s items become candidates with reasons: proposed, repost, or applied above the threshold', async () => {
    const at = clock.now();
    const incidents = async () => (await duty.inject({ method: 'GET', url: '/api/incidents' })).json<{ total: number }>().total;
    const before = await incidents();
    docs.set('/housing.xml', {
      body: rss(
        [
          item(
            'h1',
            '关于锦华小区电梯频繁故障问题的情况通报',
            'https://zjj.example.gov.cn/t/1',
            at - MIN,
            '经核查，已组织维保单位全面检修。',
          ),
          item('h2', '城西河道黑臭问题追踪', 'https://zjj.example.gov.cn/t/2', at - MIN, '来源：新华网'),
          item(
            'h3',
            '关于加装电梯补贴发放的说明',
            'https://zjj.example.gov.cn/t/3',
            at - MIN,
            '针对 https://news.example.com/n3 反映的问题说明如下。',
          ),
          item('h4', '市住建局召开安全生产工作会议', 'https://zjj.example.gov.cn/t/4', at - MIN),
        ].join(''),
      ),
    });
    const [polled] = (await env.hy.poller.pollAll()).filter((r) => r.feedId === 'housing-site');
    expect(polled).toMatchObject({ status: 'updated', items: 4, official: 4, accepted: 0 });
    // Official items open no incident of their own.
    // Official items are kept (searchable) but never go to the engine: no incident of their own.
    const stored = rowsOf<{ id: string; processed: boolean; queued: boolean }>(
      await db.db.execute(sql`select s.id, s.processed_at is not null as processed,
        exists (select 1 from audit_log a where a.entity_id = s.id and a.action = 'signal.accepted') as queued
        from signals s where s.source = 'official'`),
    );
    expect(stored).toHaveLength(4);
    expect(stored.every((r) => r.processed && !r.queued)).toBe(true);
    expect(await incidents()).toBe(before);

    const list = (await duty.inject({ method: 'GET', url: '/api/response-candidates' })).json<{ items: CandidateJson[] }>().items;
    const byIncident = (key: string) => list.filter((c) => c.incidentId === incidentIds[key]);
    expect(list.some((c) => c.title === '市住建局召开安全生产工作会议')).toBe(false);

    const [lift] = byIncident('lift').filter((c) => c.title!.startsWith('关于锦华'));
    expect(lift).toMatchObject({ status: 'proposed', original: true });
    expect(lift!.confidence).toBeGreaterThanOrEqual(0.35);
    expect(lift!.confidence).toBeLessThan(0.9);
    expect(lift!.matchReason).toMatch(/锦华小区电梯/);

    const [river] = byIncident('river');
    expect(river).toMatchObject({ status: 'proposed', original: false });
    expect(river!.originReason).toMatch(/新华网/);

    const [subsidy] = byIncident('subsidy').filter((c) => c.title === '关于加装电梯补贴发放的说明');
    expect(subsidy).toMatchObject({ status: 'accepted', decidedBy: 'auto:response-candidates', confidence: 0.95 });
    expect(subsidy!.decisionReason).toMatch(/threshold 0\.9.*shared link/);
    expect(subsidy!.responseId).not.toBeNull();
    expect((await clocksOf(incidentIds.subsidy!)).some((c) => c.state === 'met')).toBe(true);
  });

  it('the duty officer accepts: the response is recorded through the response path and the clock is met — not for a repost', async () => {
    const list = (await duty.inject({ method: 'GET', url: '/api/response-candidates?status=proposed' })).json<{ items: CandidateJson[] }>()
      .items;
    const lift = list.find((c) => c.incidentId === incidentIds.lift && c.title!.startsWith('关于锦华'))!;
    const river = list.find((c) => c.incidentId === incidentIds.river)!;
    expect((await clocksOf(incidentIds.lift!)).some((c) => c.state === 'met')).toBe(false);

    expect((await leader.inject({ method: 'POST', url: `/api/response-candidates/${lift.id}/accept`, payload: {} })).statusCode).toBe(403);
    const accepted = await duty.inject({
      method: 'POST',
      url: `/api/response-candidates/${lift.id}/accept`,
      payload: { reason: '核对原文无误' },
    });
    expect(accepted.statusCode, accepted.body).toBe(200);
    expect(accepted.json<CandidateJson>()).toMatchObject({ status: 'accepted', decidedBy: 'user:duty', decisionReason: '核对原文无误' });
    expect((await clocksOf(incidentIds.lift!)).some((c) => c.state === 'met')).toBe(true);
    const again = await duty.inject({ method: 'POST', url: `/api/response-candidates/${lift.id}/accept`, payload: {} });
    expect(again.statusCode).toBe(409);

    expect((await duty.inject({ method: 'POST', url: `/api/response-candidates/${river.id}/accept`, payload: {} })).statusCode).toBe(200);
    expect((await clocksOf(incidentIds.river!)).some((c) => c.state === 'met')).toBe(false);

    const timeline = (await duty.inject({ method: 'GET', url: `/api/incidents/${incidentIds.river}/timeline` })).json<{
      responses: { original: boolean; qualifies: boolean }[];
    }>();
    expect(timeline.responses).toMatchObject([{ original: false, qualifies: false }]);
    const recorded = await db.db.select().from(auditLog).where(eq(auditLog.action, 'response.recorded'));
    expect(recorded.map((r) => r.actor).sort()).toEqual(['auto:response-candidates', 'user:duty', 'user:duty']);
  });

  it('a rejection keeps its reason and records no response', async () => {
    const rest = (await duty.inject({ method: 'GET', url: '/api/response-candidates?status=proposed' })).json<{ items: CandidateJson[] }>()
      .items;
    for (const c of rest) {
      const res = await duty.inject({
        method: 'POST',
        url: `/api/response-candidates/${c.id}/reject`,
        payload: { reason: '非针对本事件' },
      });
      expect(res.json<CandidateJson>()).toMatchObject({ status: 'rejected', decisionReason: '非针对本事件', responseId: null });
    }
    const rows = await db.db
      .select()
      .from(responseCandidates)
      .where(sql`status = 'proposed'`);
    expect(rows).toEqual([]);
  });

  it('a district channel silent for a whole working day raises an alert to its unit; its next item withdraws it', async () => {
    const silent = async (who: SessionClient) =>
      (await who.inject({ method: 'GET', url: '/api/alerts?kind=channel_silent&open=true' })).json<{
        items: { id: string; unitId: string | null }[];
      }>().items;
    await poll();
    expect(await silent(duty)).toEqual([]);
    // Items came on Monday; Tuesday passes without one.
    await clock.advanceTo(Date.parse('2026-12-02T00:30:00+08:00'));
    await poll();
    expect(await silent(unit)).toMatchObject([{ id: 'channel_silent:housing-site', unitId: 'housing' }]);
    docs.set('/housing.xml', {
      body: rss(item('h5', '住建局关于冬季供暖的提示', 'https://zjj.example.gov.cn/t/5', clock.now() - MIN)),
    });
    await env.hy.poller.pollAll();
    expect(await silent(duty)).toEqual([]);
  });
});

describe('jurisdictions', () => {
  it('a feed’s jurisdiction: set by administrators (audited), carried by its signals, which meet that jurisdiction’s rules only', async () => {
    const added = await addFeed({
      id: 'east-news',
      name: '东区新闻',
      url: `${base}/east.xml`,
      kind: 'news',
      allowCidrs: ['127.0.0.1/32'],
      jurisdiction: 'east',
    });
    expect(added).toMatchObject({ jurisdiction: 'east' });
    expect((await duty.inject({ method: 'PATCH', url: '/api/feeds/east-news', payload: { jurisdiction: 'west' } })).statusCode).toBe(403);
    expect((await admin.inject({ method: 'PATCH', url: '/api/feeds/east-news', payload: { jurisdiction: '' } })).statusCode).toBe(400);
    // Published after the feed was added (not its archive). It matches the default jurisdiction's
    // 监测方案 (电梯), but east has none: stored, unmatched.
    await clock.advanceBy(5 * MIN);
    docs.set('/east.xml', { body: rss(item('e1', '东区某小区电梯故障困人', 'https://news.example.com/e1', clock.now() - MIN)) });
    await env.hy.poller.pollAll();
    const decided = async (ref: string) =>
      eventually(
        async () =>
          rowsOf<{ jurisdiction: string; decision: string | null }>(
            await db.db.execute(
              sql`select jurisdiction, decision from signals where feed_id = 'east-news' and source_ref like ${`%${ref}%`}`,
            ),
          ).find((r) => r.decision !== null),
        `decision on ${ref}`,
      );
    expect(await decided('e1')).toEqual({ jurisdiction: 'east', decision: 'unmatched' });

    const moved = await admin.inject({ method: 'PATCH', url: '/api/feeds/east-news', payload: { jurisdiction: 'default' } });
    expect(moved.statusCode).toBe(200);
    expect(moved.json()).toMatchObject({ jurisdiction: 'default' });
    const [change] = await db.db
      .select()
      .from(auditLog)
      .where(sql`${auditLog.entityId} = 'east-news' and ${auditLog.action} = 'feed.changed'`);
    expect(change).toMatchObject({ input: { jurisdiction: 'default' }, result: { before: { jurisdiction: 'east' } } });
    docs.set('/east.xml', { body: rss(item('e2', '东区另一小区电梯停运', 'https://news.example.com/e2', clock.now() - MIN)) });
    await env.hy.poller.pollAll();
    // Now the default jurisdiction's rule takes it (into an incident about a lift, new or open).
    expect(await decided('e2')).toEqual({ jurisdiction: 'default', decision: expect.stringMatching(/^(opened|joined)$/) });
    expect((await admin.inject({ method: 'POST', url: '/api/feeds/east-news/pause' })).statusCode).toBe(200);
  });

  it('an official channel answers only its own jurisdiction: another jurisdiction’s matter gets no candidate from it', async () => {
    await addFeed({
      id: 'east-housing',
      name: '东区住建局 政务微博',
      url: `${base}/east-housing.xml`,
      kind: 'official',
      unitId: 'housing',
      allowCidrs: ['127.0.0.1/32'],
      jurisdiction: 'east',
    });
    await clock.advanceBy(5 * MIN);
    // The same words and the same link as the lift matter (default jurisdiction), from the east's channel.
    docs.set('/east-housing.xml', {
      body: rss(
        item('x1', '关于锦华小区电梯频繁故障问题的情况通报', 'https://news.example.com/n1', clock.now() - MIN, '经核查，已全面检修。'),
      ),
    });
    const [polled] = (await env.hy.poller.pollAll()).filter((r) => r.feedId === 'east-housing');
    expect(polled).toMatchObject({ status: 'updated', official: 1 });
    await eventually(
      async () =>
        rowsOf<{ n: number }>(
          await db.db.execute(
            sql`select count(*)::int as n from official_items where feed_id = 'east-housing' and proposed_at is not null`,
          ),
        )[0]!.n === 1,
      'the item looked at',
    );
    const list = (await duty.inject({ method: 'GET', url: '/api/response-candidates' })).json<{ items: CandidateJson[] }>().items;
    expect(list.filter((c) => c.feedId === 'east-housing')).toEqual([]);
  });
});
