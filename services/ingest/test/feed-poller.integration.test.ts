/**
 * The feed poller on the real PostgreSQL, against feeds served by a local HTTP server (allowed
 * explicitly: loopback is refused by default).
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeClock } from '@huiying/clock';
import { auditLog, eq, feeds, incidents, monitoringRules, outbox, signalSources, signals, sql } from '@huiying/db';
import { DEFAULT_RULE_PACK } from '@huiying/domain';
import { sweepSignals } from '@huiying/engine';
import { freshDatabase, testLogger } from '@huiying/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_POLLER_OPTIONS, FeedPoller, type FeedPollerOptions } from '../src/feeds.ts';
import { AddressPolicy, DEFAULT_FETCH_POLICY } from '../src/fetch/index.ts';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-11-28T12:00:00+08:00');
const rfc = (ms: number) => new Date(ms).toUTCString();

let db: Awaited<ReturnType<typeof freshDatabase>>;
let server: Server;
let base: string;
const docs = new Map<string, { body: string | Buffer; status?: number; etag?: string; lastModified?: string }>();
const requests: { path: string; ifNoneMatch?: string; ifModifiedSince?: string }[] = [];

const rss = (items: string) => `<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>${items}</channel></rss>`;
const item = (guid: string, title: string, link: string, published?: number) =>
  `<item><guid isPermaLink="false">${guid}</guid><title>${title}</title><link>${link}</link>${published ? `<pubDate>${rfc(published)}</pubDate>` : ''}</item>`;

const options: Partial<FeedPollerOptions> = {
  fetch: { ...DEFAULT_FETCH_POLICY, addresses: new AddressPolicy(['127.0.0.1/32']), retries: 0, readTimeoutMs: 2_000 },
};
const poller = (clock: FakeClock, owner: string, over: Partial<FeedPollerOptions> = {}) =>
  new FeedPoller({
    db: db.db,
    clock,
    logger: testLogger,
    owner,
    options: { ...options, ...over },
    fetchDeps: { sleep: async () => undefined },
  });

async function addFeed(id: string, path: string, addedAt = T0 - 24 * HOUR) {
  await db.db.insert(feeds).values({ id, url: `${base}${path}`, name: id, addedAt: new Date(addedAt) });
}

beforeAll(async () => {
  db = await freshDatabase();
  server = createServer((req, res) => {
    const path = req.url!;
    requests.push({
      path,
      ...(req.headers['if-none-match'] ? { ifNoneMatch: String(req.headers['if-none-match']) } : {}),
      ...(req.headers['if-modified-since'] ? { ifModifiedSince: String(req.headers['if-modified-since']) } : {}),
    });
    const doc = docs.get(path);
    if (!doc) {
      res.writeHead(404);
      res.end();
      return;
    }
    if (
      (doc.etag && req.headers['if-none-match'] === doc.etag) ||
      (doc.lastModified && req.headers['if-modified-since'] === doc.lastModified)
    ) {
      res.writeHead(304);
      res.end();
      return;
    }
    res.writeHead(doc.status ?? 200, {
      'content-type': 'application/rss+xml; charset=utf-8',
      ...(doc.etag ? { etag: doc.etag } : {}),
      ...(doc.lastModified ? { 'last-modified': doc.lastModified } : {}),
    });
    res.end(doc.body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await db.drop();
});

beforeEach(async () => {
  requests.length = 0;
  docs.clear();
  await db.db.execute(sql`truncate feeds, signals, signal_sources, outbox, incidents, incident_wakes, clocks, alerts`);
});

describe('FeedPoller', () => {
  it('first poll: the archive is history (no bus message), news since the feed was added opens the way to a clock', async () => {
    const clock = new FakeClock(T0);
    await addFeed('gov', '/gov.xml', T0 - 3 * HOUR);
    docs.set('/gov.xml', {
      body: rss(
        item('a', '新通知', 'http://gov.example.cn/a', T0 - 1 * HOUR) +
          item('b', '上月旧闻', 'http://gov.example.cn/b', T0 - 30 * 24 * HOUR) +
          item('c', '添加前一小时', 'http://gov.example.cn/c', T0 - 4 * HOUR),
      ),
    });
    const [r] = await poller(clock, 'p1').pollAll();
    expect(r).toMatchObject({ status: 'updated', items: 3, accepted: 1, history: 2, encoding: 'utf-8' });

    const rows = await db.db.select().from(signals).orderBy(signals.title);
    expect(rows.map((s) => [s.title, s.timeDecision, s.timeReason, s.processedAt !== null])).toEqual([
      ['上月旧闻', 'history', 'published_before_feed_added', true],
      ['新通知', 'published', 'publish_time', false],
      ['添加前一小时', 'history', 'published_before_feed_added', true],
    ]);
    const messages = await db.db.select().from(outbox);
    expect(messages).toHaveLength(1);
    expect(messages[0]!.payload).toMatchObject({ publishedAt: new Date(T0 - HOUR).toISOString() });
    // Ids and times on the bus; the text stays in the signals row.
    expect(messages[0]!.payload).not.toHaveProperty('title');
    const audits = await db.db.select().from(auditLog).where(eq(auditLog.entity, 'signal'));
    expect(audits.map((a) => a.action).sort()).toEqual(['signal.accepted', 'signal.stored_as_history', 'signal.stored_as_history']);
    expect(audits.find((a) => a.action === 'signal.accepted')!.result).toMatchObject({ decision: 'published', reason: 'publish_time' });

    const [feed] = await db.db.select().from(feeds).where(eq(feeds.id, 'gov'));
    expect(feed).toMatchObject({ itemsSeen: 3, lastError: null, consecutiveFailures: 0, lastEncoding: 'utf-8', leaseOwner: null });
    expect(feed!.lastSuccessAt?.getTime()).toBe(T0);
    expect(feed!.nextPollAt?.getTime()).toBe(T0 + 300_000);

    // The engine's sweep for unconsumed signals opens an incident for the news item only (a monitoring rule takes every feed item).
    await db.db
      .insert(monitoringRules)
      .values({
        id: 'mr_all_feeds',
        name: '全部',
        expression: '',
        sources: ['feed'],
        createdBy: 'test',
        createdAt: new Date(T0),
        updatedAt: new Date(T0),
      })
      .onConflictDoNothing();
    await clock.advanceTo(T0 + 2 * 60_000);
    expect(await sweepSignals({ db: db.db, clock, pack: () => DEFAULT_RULE_PACK })).toBe(1);
    expect((await db.db.select().from(incidents)).map((i) => i.title)).toEqual(['新通知']);
  });

  it('a first poll without credible dates stores a baseline; later new items without dates take the fetch time', async () => {
    const clock = new FakeClock(T0);
    await addFeed('nodates', '/nodates.xml', T0);
    docs.set('/nodates.xml', { body: rss(item('x', '无日期一', 'http://n.example.cn/1')) });
    const p = poller(clock, 'p1');
    expect((await p.pollAll())[0]).toMatchObject({ accepted: 0, history: 1 });
    await clock.advanceTo(T0 + HOUR);
    docs.set('/nodates.xml', {
      body: rss(item('y', '无日期二', 'http://n.example.cn/2') + item('x', '无日期一', 'http://n.example.cn/1')),
    });
    expect((await p.pollAll())[0]).toMatchObject({ items: 2, accepted: 1, history: 0 });
    const [second] = await db.db.select().from(signals).where(eq(signals.title, '无日期二'));
    expect(second).toMatchObject({ timeDecision: 'fetch_time', timeReason: 'no_publish_time' });
    expect(second!.publishedAt?.getTime()).toBe(T0 + HOUR);
  });

  it('one item in two feeds is one signal with two sources and one bus message', async () => {
    const clock = new FakeClock(T0);
    await addFeed('news-a', '/a.xml');
    await addFeed('news-b', '/b.xml');
    docs.set('/a.xml', { body: rss(item('a-77', '高架桥裂缝', 'http://news.example.cn/bridge?utm_source=a', T0 - HOUR)) });
    docs.set('/b.xml', { body: rss(item('b-1', '高架桥裂缝（转）', 'https://news.example.cn/bridge', T0 - HOUR)) });
    const results = await poller(clock, 'p1').pollAll();
    expect(results.map((r) => [r.feedId, r.accepted, r.sourcesAdded])).toEqual([
      ['news-a', 1, 0],
      ['news-b', 0, 1],
    ]);
    expect(await db.db.select().from(signals)).toHaveLength(1);
    const sources = await db.db.select().from(signalSources).orderBy(signalSources.feedId);
    expect(sources.map((s) => [s.feedId, s.itemKey])).toEqual([
      ['news-a', 'guid:a-77'],
      ['news-b', 'guid:b-1'],
    ]);
    expect(new Set(sources.map((s) => s.signalId)).size).toBe(1);
    expect(await db.db.select().from(outbox)).toHaveLength(1);
  });

  it('one item in feeds of two jurisdictions is one signal in each (both desks see it); within one, one signal with two sources', async () => {
    const clock = new FakeClock(T0);
    const at = new Date(T0 - 24 * HOUR);
    await db.db.insert(feeds).values([
      { id: 'east-a', url: `${base}/ea.xml`, name: 'east-a', addedAt: at, jurisdiction: 'east' },
      { id: 'east-b', url: `${base}/eb.xml`, name: 'east-b', addedAt: at, jurisdiction: 'east' },
      { id: 'west-a', url: `${base}/wa.xml`, name: 'west-a', addedAt: at, jurisdiction: 'west' },
    ]);
    docs.set('/ea.xml', { body: rss(item('ea-1', '跨区河道污染', 'http://news.example.cn/river?utm_source=ea', T0 - HOUR)) });
    docs.set('/eb.xml', { body: rss(item('eb-1', '跨区河道污染（转）', 'https://news.example.cn/river', T0 - HOUR)) });
    docs.set('/wa.xml', { body: rss(item('wa-1', '跨区河道污染', 'http://news.example.cn/river', T0 - HOUR)) });
    const results = await poller(clock, 'p1').pollAll();
    // The feeds are polled concurrently: either east feed may store the item first, the other adds its source.
    const counts = new Map(results.map((r) => [r.feedId, [r.accepted, r.sourcesAdded]]));
    expect(counts.get('west-a')).toEqual([1, 0]);
    expect([counts.get('east-a'), counts.get('east-b')].sort()).toEqual([
      [0, 1],
      [1, 0],
    ]);
    const firstEast = counts.get('east-a')![0] === 1 ? 'east-a' : 'east-b';
    const rows = await db.db.select().from(signals).orderBy(signals.jurisdiction);
    expect(rows.map((r) => [r.jurisdiction, r.feedId])).toEqual([
      ['east', firstEast],
      ['west', 'west-a'],
    ]);
    const sources = await db.db.select().from(signalSources).orderBy(signalSources.feedId);
    const signalOf = new Map(rows.map((r) => [r.id, r.jurisdiction]));
    expect(sources.map((s) => [s.feedId, signalOf.get(s.signalId)])).toEqual([
      ['east-a', 'east'],
      ['east-b', 'east'],
      ['west-a', 'west'],
    ]);
    // One bus message per jurisdiction's signal.
    expect((await db.db.select().from(outbox)).map((m) => (m.payload as { id: string }).id).sort()).toEqual(rows.map((r) => r.id).sort());
    // Polled again: nothing new anywhere.
    await clock.advanceTo(T0 + HOUR);
    const again = await poller(clock, 'p1').pollAll();
    expect(again.map((r) => r.accepted + r.sourcesAdded)).toEqual([0, 0, 0]);
  });

  it('a feed item’s title is stored with phone and ID numbers masked, as a ticket’s is; one with nothing personal as published', async () => {
    const clock = new FakeClock(T0);
    await addFeed('forum', '/forum.xml');
    docs.set('/forum.xml', {
      body: rss(
        item('f-1', '求助！小区停电一天，物业电话１３９１２３４５６７８打不通', 'http://bbs.example.cn/t/1', T0 - HOUR) +
          item('f-2', '捡到身份证110101199003071234，失主请联系0851-86612345', 'http://bbs.example.cn/t/2', T0 - HOUR) +
          item('f-3', '高架桥裂缝（转）2026年第3期', 'http://bbs.example.cn/t/3', T0 - HOUR),
      ),
    });
    await poller(clock, 'p1').pollAll();
    const rows = await db.db.select().from(signals).orderBy(signals.url);
    expect(rows.map((r) => r.title)).toEqual([
      '求助！小区停电一天，物业电话139****5678打不通',
      '捡到身份证[身份证号已隐去]，失主请联系0851-****2345',
      '高架桥裂缝（转）2026年第3期',
    ]);
    const trail = JSON.stringify(await db.db.select().from(auditLog).where(eq(auditLog.entity, 'signal')));
    expect(trail).not.toMatch(/１３９１２３４５６７８|13912345678|110101199003071234|86612345/);
  });

  it('the poller keeps at most perHost requests in flight to one host, while another host is polled alongside', async () => {
    const clock = new FakeClock(T0);
    const inFlight = new Map<string, number>();
    const most = new Map<string, number>();
    // Two hosts (both loopback, both allowed): each answers after a short latency, counting what is open at once.
    const slow = createServer((req, res) => {
      const host = req.socket.localAddress!;
      inFlight.set(host, (inFlight.get(host) ?? 0) + 1);
      most.set(host, Math.max(most.get(host) ?? 0, inFlight.get(host)!));
      setTimeout(() => {
        inFlight.set(host, inFlight.get(host)! - 1);
        res.writeHead(200, { 'content-type': 'application/rss+xml; charset=utf-8' });
        res.end(rss(''));
      }, 80);
    });
    await new Promise<void>((r) => slow.listen(0, '0.0.0.0', r));
    const port = (slow.address() as AddressInfo).port;
    try {
      const at = new Date(T0 - 24 * HOUR);
      await db.db.insert(feeds).values([
        ...[1, 2, 3, 4, 5, 6].map((n) => ({
          id: `portal-${n}`,
          url: `http://127.0.0.1:${port}/col${n}.xml`,
          name: `p${n}`,
          addedAt: at,
        })),
        ...[1, 2].map((n) => ({ id: `other-${n}`, url: `http://127.0.0.2:${port}/o${n}.xml`, name: `o${n}`, addedAt: at })),
      ]);
      const results = await poller(clock, 'p1', {
        concurrency: 8,
        perHost: 2,
        fetch: { ...DEFAULT_FETCH_POLICY, addresses: new AddressPolicy(['127.0.0.0/8']), retries: 0, readTimeoutMs: 5_000 },
      }).pollAll();
      expect(results.every((r) => r.status === 'updated')).toBe(true);
      expect(results).toHaveLength(8);
      expect(most.get('127.0.0.1')).toBe(2);
      expect(most.get('127.0.0.2')).toBe(2);
    } finally {
      slow.closeAllConnections();
      await new Promise((r) => slow.close(r));
    }
  });

  it('signals carry their feed’s jurisdiction (an official channel’s items too); the bus message still names ids only', async () => {
    const clock = new FakeClock(T0);
    await db.db.insert(feeds).values([
      { id: 'east-news', url: `${base}/east.xml`, name: 'east-news', addedAt: new Date(T0 - 24 * HOUR), jurisdiction: 'east' },
      {
        id: 'east-site',
        url: `${base}/east-site.xml`,
        name: 'east-site',
        kind: 'official',
        addedAt: new Date(T0 - 24 * HOUR),
        jurisdiction: 'east',
      },
      { id: 'plain', url: `${base}/plain.xml`, name: 'plain', addedAt: new Date(T0 - 24 * HOUR) },
    ]);
    docs.set('/east.xml', { body: rss(item('e-1', '东区高架桥裂缝', 'http://news.example.cn/east-bridge', T0 - HOUR)) });
    docs.set('/east-site.xml', { body: rss(item('s-1', '东区关于高架桥检测的通报', 'http://east.example.gov.cn/1', T0 - HOUR)) });
    docs.set('/plain.xml', { body: rss(item('p-1', '西门停水', 'http://news.example.cn/water', T0 - HOUR)) });
    await poller(clock, 'p1').pollAll();
    const rows = await db.db.select({ feedId: signals.feedId, jurisdiction: signals.jurisdiction }).from(signals).orderBy(signals.feedId);
    expect(rows).toEqual([
      { feedId: 'east-news', jurisdiction: 'east' },
      { feedId: 'east-site', jurisdiction: 'east' },
      { feedId: 'plain', jurisdiction: 'default' },
    ]);
    const messages = await db.db.select().from(outbox);
    expect(messages).toHaveLength(2);
    for (const m of messages) expect(Object.keys(m.payload as object).sort()).not.toContain('jurisdiction');
  });

  it('conditional GET: validators survive a restart (a new poller) and a 304 stores nothing', async () => {
    const clock = new FakeClock(T0);
    await addFeed('etag', '/etag.xml');
    docs.set('/etag.xml', { body: rss(item('e', '标题', 'http://e.example.cn/1', T0 - HOUR)), etag: '"v1"' });
    expect((await poller(clock, 'before-restart').pollAll())[0]).toMatchObject({ status: 'updated', accepted: 1 });
    const [row] = await db.db.select().from(feeds).where(eq(feeds.id, 'etag'));
    expect(row!.etag).toBe('"v1"');
    const restarted = poller(clock, 'after-restart');
    expect((await restarted.pollAll())[0]).toMatchObject({ status: 'not_modified', items: 0 });
    expect(requests.map((r) => r.ifNoneMatch)).toEqual([undefined, '"v1"']);
  });

  it('conditional GET by Last-Modified when the server sends no ETag', async () => {
    const clock = new FakeClock(T0);
    await addFeed('lm', '/lm.xml');
    docs.set('/lm.xml', { body: rss(item('m', '标题', 'http://m.example.cn/1', T0 - HOUR)), lastModified: rfc(T0 - HOUR) });
    expect((await poller(clock, 'p1').pollAll())[0]).toMatchObject({ status: 'updated' });
    expect((await poller(clock, 'p2').pollAll())[0]).toMatchObject({ status: 'not_modified' });
    expect(requests.map((r) => r.ifModifiedSince)).toEqual([undefined, rfc(T0 - HOUR)]);
    const [row] = await db.db.select().from(feeds).where(eq(feeds.id, 'lm'));
    expect(row).toMatchObject({ etag: null, lastModified: rfc(T0 - HOUR) });
  });

  it('exactly one poller per feed: two pollers racing split the feeds, none polled twice', async () => {
    const clock = new FakeClock(T0);
    for (let i = 0; i < 12; i++) {
      await addFeed(`f${String(i).padStart(2, '0')}`, `/f${i}.xml`);
      docs.set(`/f${i}.xml`, { body: rss(item(`g${i}`, `条目${i}`, `http://f.example.cn/${i}`, T0 - HOUR)) });
    }
    const [a, b] = await Promise.all([poller(clock, 'A', { batch: 3 }).pollDue(), poller(clock, 'B', { batch: 3 }).pollDue()]);
    const polled = [...a!, ...b!].map((r) => r.feedId).sort();
    expect(polled).toHaveLength(12);
    expect(new Set(polled).size).toBe(12);
    expect(requests).toHaveLength(12);
    // Not due again until the interval has passed.
    expect(await poller(clock, 'C').pollDue()).toEqual([]);
    await clock.advanceTo(T0 + 300_000);
    expect(await poller(clock, 'C').pollDue()).toHaveLength(12);
  });

  it('pollAll in batches smaller than the feeds: every feed once, and no lease left behind for the next round', async () => {
    const clock = new FakeClock(T0);
    for (let i = 0; i < 5; i++) {
      await addFeed(`b${i}`, `/b${i}.xml`);
      docs.set(`/b${i}.xml`, { body: rss(item(`b${i}`, `批次${i}`, `http://b.example.cn/${i}`, T0 - HOUR)) });
    }
    const p = poller(clock, 'batched', { batch: 2 });
    expect((await p.pollAll()).map((r) => r.feedId).sort()).toEqual(['b0', 'b1', 'b2', 'b3', 'b4']);
    const leased = await db.db
      .select({ id: feeds.id })
      .from(feeds)
      .where(sql`${feeds.leaseOwner} is not null`);
    expect(leased).toEqual([]);
    expect((await p.pollAll()).map((r) => r.feedId).sort()).toEqual(['b0', 'b1', 'b2', 'b3', 'b4']);
  });

  it("a round that outlasts a feed's interval polls it once and does not keep it leased", async () => {
    const clock = new FakeClock(T0);
    for (const id of ['fast-a', 'fast-b']) {
      await addFeed(id, `/${id}.xml`);
      docs.set(`/${id}.xml`, { body: rss(item(id, id, `http://fast.example.cn/${id}`, T0 - HOUR)) });
    }
    await db.db.update(feeds).set({ pollIntervalSeconds: 1 });
    // Each fetch takes two seconds of clock time (a drill's scaled clock): fast-a is due again while fast-b is polled.
    const slow = new FeedPoller({
      db: db.db,
      clock,
      logger: testLogger,
      owner: 'slow',
      options: { ...options, batch: 1 },
      fetchDeps: {
        sleep: async () => undefined,
        resolve: async () => {
          await clock.advanceBy(2_000);
          return [{ address: '127.0.0.1', family: 4 }];
        },
      },
    });
    expect((await slow.pollDue()).map((r) => r.feedId)).toEqual(['fast-a', 'fast-b']);
    expect(
      await db.db
        .select({ id: feeds.id })
        .from(feeds)
        .where(sql`${feeds.leaseOwner} is not null`),
    ).toEqual([]);
  });

  it('a feed leased by another live process is skipped; an expired lease is taken over', async () => {
    const clock = new FakeClock(T0);
    await addFeed('leased', '/leased.xml');
    docs.set('/leased.xml', { body: rss(item('l', '租约', 'http://l.example.cn/1', T0 - HOUR)) });
    await db.db
      .update(feeds)
      .set({ leaseOwner: 'crashed', leaseUntil: new Date(T0 + 60_000) })
      .where(eq(feeds.id, 'leased'));
    expect(await poller(clock, 'p1').pollAll()).toEqual([]);
    await clock.advanceTo(T0 + 60_001);
    expect(await poller(clock, 'p1').pollAll()).toHaveLength(1);
  });

  it('failures: health recorded, backoff grows, audited once; recovery clears it', async () => {
    const clock = new FakeClock(T0);
    await addFeed('flaky', '/flaky.xml');
    docs.set('/flaky.xml', { body: 'oops', status: 500 });
    const p = poller(clock, 'p1');
    expect((await p.pollDue())[0]).toMatchObject({ status: 'error', error: expect.stringContaining('HTTP 500') });
    let [row] = await db.db.select().from(feeds).where(eq(feeds.id, 'flaky'));
    expect(row).toMatchObject({ consecutiveFailures: 1, leaseOwner: null });
    expect(row!.nextPollAt?.getTime()).toBe(T0 + 600_000);
    await clock.advanceTo(T0 + 600_000);
    await p.pollDue();
    [row] = await db.db.select().from(feeds).where(eq(feeds.id, 'flaky'));
    expect(row!.consecutiveFailures).toBe(2);
    expect(row!.nextPollAt?.getTime()).toBe(T0 + 600_000 + 1_200_000);

    docs.set('/flaky.xml', { body: rss(item('ok', '恢复', 'http://k.example.cn/1', T0)) });
    await clock.advanceTo(T0 + 1_800_000);
    expect((await p.pollDue())[0]).toMatchObject({ status: 'updated', accepted: 1 });
    [row] = await db.db.select().from(feeds).where(eq(feeds.id, 'flaky'));
    expect(row).toMatchObject({ consecutiveFailures: 0, lastError: null });
    const audits = await db.db.select().from(auditLog).where(eq(auditLog.entityId, 'flaky'));
    expect(audits.map((a) => a.action)).toEqual(['feed.failing', 'feed.recovered']);
  });

  it('a NUL in one item does not fail the feed; an unparsable body is one clear error and keeps what was stored', async () => {
    const clock = new FakeClock(T0);
    await addFeed('nul', '/nul.xml');
    docs.set('/nul.xml', {
      body: rss(
        item('n1', '含\u0000空字符', 'http://nul.example.cn/1', T0 - HOUR) + item('n2', '正常', 'http://nul.example.cn/2', T0 - HOUR),
      ),
    });
    const p = poller(clock, 'p1');
    expect((await p.pollAll())[0]).toMatchObject({ status: 'updated', accepted: 2, warnings: ['1 control characters stripped'] });
    docs.set('/nul.xml', { body: '<html><body>维护中</body></html>' });
    expect((await p.pollAll())[0]).toMatchObject({ status: 'error', error: 'not an RSS or Atom feed (root element <html>)' });
    expect(await db.db.select().from(signals)).toHaveLength(2);
  });

  it('refuses a feed on a loopback address unless allowed', async () => {
    const clock = new FakeClock(T0);
    await addFeed('local', '/local.xml');
    docs.set('/local.xml', { body: rss(item('x', 'x', 'http://x.example.cn/', T0)) });
    const strict = new FeedPoller({ db: db.db, clock, logger: testLogger, owner: 'strict' });
    const [r] = await strict.pollAll();
    expect(r).toMatchObject({ status: 'error', error: expect.stringMatching(/127\.0\.0\.1 \(loopback\), which is not allowed/) });
    expect(requests).toHaveLength(0);
  });

  it('takes at most maxItemsPerPoll items from one document', async () => {
    const clock = new FakeClock(T0);
    await addFeed('big', '/big.xml');
    docs.set('/big.xml', {
      body: rss(Array.from({ length: 30 }, (_, i) => item(`i${i}`, `条${i}`, `http://b.example.cn/${i}`, T0 - HOUR)).join('')),
    });
    const [r] = await poller(clock, 'p1', { maxItemsPerPoll: 10 }).pollAll();
    expect(r).toMatchObject({ items: 10, accepted: 10, skipped: 20 });
    expect(DEFAULT_POLLER_OPTIONS.maxItemsPerPoll).toBeGreaterThan(0);
  });

  it('items stored before migration 0005 (keyed "<feed>:<guid or link>") are not taken for new ones after it', async () => {
    const clock = new FakeClock(T0);
    await addFeed('legacy', '/legacy.xml');
    await db.db.insert(signals).values([
      { id: 'sig_old_1', source: 'feed', sourceRef: 'legacy:old-guid', feedId: 'legacy', title: '旧一', receivedAt: new Date(T0 - HOUR) },
      {
        id: 'sig_old_2',
        source: 'feed',
        sourceRef: 'legacy:http://l.example.cn/2',
        feedId: 'legacy',
        title: '旧二',
        receivedAt: new Date(T0 - HOUR),
      },
    ]);
    // The migration's back-fill statement, as written in the migration file.
    const migration = readFileSync(new URL('../../../packages/db/migrations/0005_feed_intake.sql', import.meta.url), 'utf8');
    const backfill = migration.slice(migration.indexOf('INSERT INTO "signal_sources"'));
    await db.db.execute(sql.raw(backfill));
    docs.set('/legacy.xml', {
      body: rss(
        item('old-guid', '旧一', 'http://l.example.cn/1', T0 - HOUR) +
          `<item><title>旧二</title><link>http://l.example.cn/2</link><pubDate>${rfc(T0 - HOUR)}</pubDate></item>` +
          item('new-guid', '新', 'http://l.example.cn/3', T0 - HOUR),
      ),
    });
    expect((await poller(clock, 'p1').pollAll())[0]).toMatchObject({ items: 3, accepted: 1 });
    expect(await db.db.select().from(signals)).toHaveLength(3);
  });
});
