/**
 * 证据留存 on the real PostgreSQL, against pages served by a local HTTP server, with a fake
 * clock: the page behind incidents' signals and responses is archived once per canonical URL,
 * under the feed address policy (loopback refused unless allowed, process-wide or by the feed
 * that brought the link), size-bounded, with transient failures retried a bounded number of
 * times; the API lists an incident's evidence and serves a copy that cannot act as our origin,
 * and a unit user sees only its own incidents' evidence.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeClock } from '@huiying/clock';
import { eq, evidence, evidenceRefs, feeds, signals } from '@huiying/db';
import { AddressPolicy, DEFAULT_FETCH_POLICY, EvidenceArchiver, evidenceId } from '@huiying/ingest';
import { eventually, freshDatabase, type SessionClient, testLogger } from '@huiying/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedHarness, startEmbedded } from '../../standalone/test/embedded-harness.ts';
import { ticketIncident as assignedIncident } from './fixtures/embedded-postgres.ts';

const MIN = 60_000;
const T0 = Date.parse('2026-11-30T09:00:00+08:00');
const clock = new FakeClock(T0);
const LIMIT = 4096;

let db: Awaited<ReturnType<typeof freshDatabase>>;
let env: EmbeddedHarness;
let server: Server;
let base: string;
let duty: SessionClient;
let unit: SessionClient;
const ids = { incA: '', incB: '', response: '' };
const hits = new Map<string, number>();
/** path → what the server answers: a status per call (the last one repeats), a body and a type. */
const pages = new Map<string, { statuses?: number[]; body: Buffer | string; type: string }>();

function gbk(text: string): Buffer {
  // Node has no GBK encoder: the few characters the page uses, in GBK (as 政务 sites still publish).
  const table: Record<string, number[]> = { 通: [0xcd, 0xa8], 报: [0xb1, 0xa8], 电: [0xb5, 0xe7], 梯: [0xcc, 0xdd] };
  return Buffer.from([...text].flatMap((c) => table[c] ?? [...Buffer.from(c, 'latin1')]));
}

// The archiver under test: loopback allowed process-wide (as FEED_ALLOW_CIDRS=127.0.0.1/32 would), small bound.
const archiver = () =>
  new EvidenceArchiver({
    db: db.db,
    clock,
    logger: testLogger,
    owner: 'test-archiver',
    options: {
      fetch: { ...DEFAULT_FETCH_POLICY, addresses: new AddressPolicy(['127.0.0.1/32']) },
      maxBytes: LIMIT,
      maxAttempts: 3,
      backoffMs: MIN,
    },
  });
// The default policy: loopback refused.
const strictArchiver = () => new EvidenceArchiver({ db: db.db, clock, logger: testLogger, owner: 'strict' });

const ticketIncident = (ref: string, title: string, unitId: string) => assignedIncident(duty, clock, ref, title, unitId);

async function attach(incidentId: string, title: string, url: string): Promise<void> {
  const res = await duty.inject({ method: 'POST', url: `/api/incidents/${incidentId}/signals`, payload: { title, url } });
  expect(res.statusCode, res.body).toBe(201);
}

const row = async (url: string) => (await db.db.select().from(evidence).where(eq(evidence.url, url)))[0];

interface EvidenceJson {
  id: string;
  url: string;
  state: string;
  fetchedAt: string | null;
  size: number | null;
  sha256: string | null;
  errorCode: string | null;
  httpStatus: number | null;
  attempts: number;
  signals: string[];
  responses: string[];
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
  server = createServer((req, res) => {
    const path = req.url!.split('?')[0]!;
    const n = (hits.get(path) ?? 0) + 1;
    hits.set(path, n);
    const page = pages.get(path);
    const statuses = page?.statuses ?? [200];
    const status = page ? statuses[Math.min(n, statuses.length) - 1]! : 404;
    res.writeHead(status, { 'content-type': page?.type ?? 'text/plain' });
    res.end(status === 200 ? page!.body : 'unavailable');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  duty = await env.as('duty');
  unit = await env.as('unit-housing');
  ids.incA = await ticketIncident('EV-A', '小区电梯困人', 'housing');
  ids.incB = await ticketIncident('EV-B', '河道漂浮垃圾', 'environment');
});

afterAll(async () => {
  await env?.stop();
  await db?.drop();
  server?.close();
});

describe('the evidence archiver', () => {
  it('refuses loopback under the default policy, fetching nothing; a feed that allows the range lets its links through', async () => {
    pages.set('/refused', { body: 'never fetched', type: 'text/plain' });
    pages.set('/intranet', { body: '政务外网页面', type: 'text/plain; charset=utf-8' });
    await attach(ids.incB, '外部报道', `${base}/refused`);
    await db.db.insert(feeds).values({ id: 'intranet', name: '内网栏目', url: `${base}/feed.xml`, allowCidrs: ['127.0.0.1/32'] });
    await db.db.insert(signals).values({
      id: 'sig-intranet',
      source: 'feed',
      sourceRef: 'sig-intranet',
      feedId: 'intranet',
      title: '内网通报',
      url: `${base}/intranet`,
      receivedAt: new Date(clock.now()),
      incidentId: ids.incB,
    });

    const outcomes = await strictArchiver().sweep();
    expect(outcomes.map((o) => [o.url, o.state, o.errorCode ?? null]).sort()).toEqual(
      [
        [`${base}/intranet`, 'archived', null],
        [`${base}/refused`, 'failed', 'blocked_address'],
      ].sort(),
    );
    expect(hits.get('/refused') ?? 0).toBe(0);
    expect(await row(`${base}/refused`)).toMatchObject({ state: 'failed', errorCode: 'blocked_address', body: null, attempts: 1 });
    expect((await row(`${base}/refused`))!.error).toMatch(/127\.0\.0\.1 \(loopback\)/);
    expect((await row(`${base}/intranet`))!.text).toBe('政务外网页面');
    // A refused page is not tried again by a later sweep.
    expect(await archiver().sweep()).toEqual([]);
  });

  it("archives a signal's page once even when two signals (one with tracking parameters) share it, and a response's page", async () => {
    const html = Buffer.concat([
      Buffer.from('<html><head><meta charset="gbk"><title>'),
      gbk('通报'),
      Buffer.from('</title><script>parent.document.cookie</script></head><body><p>'),
      gbk('电梯'),
      Buffer.from('</p><img src="https://tracker.example/pixel.gif"></body></html>'),
    ]);
    pages.set('/news/1.html', { body: html, type: 'text/html' });
    pages.set('/reply.txt', { body: '关于小区电梯困人的情况通报', type: 'text/plain; charset=utf-8' });
    await attach(ids.incA, '电梯困人报道', `${base}/news/1.html`);
    await attach(ids.incA, '电梯困人报道（转载）', `${base}/news/1.html?utm_source=weixin#comments`);
    const recorded = await duty.inject({
      method: 'POST',
      url: `/api/incidents/${ids.incA}/responses`,
      payload: { kind: 'release', original: true, url: `${base}/reply.txt`, channel: '官网' },
    });
    expect(recorded.statusCode, recorded.body).toBe(201);

    const outcomes = await archiver().sweep();
    expect(
      outcomes
        .filter((o) => o.state === 'archived')
        .map((o) => o.url)
        .sort(),
    ).toEqual([`${base}/news/1.html`, `${base}/reply.txt`]);
    expect(hits.get('/news/1.html')).toBe(1);
    const page = (await row(`${base}/news/1.html`))!;
    expect(page).toMatchObject({ state: 'archived', httpStatus: 200, contentType: 'text/html', size: html.length, encoding: 'gb18030' });
    expect(page.body!.equals(html)).toBe(true);
    expect(page.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(page.text).toContain('<title>通报</title>');
    const refs = await db.db.select().from(evidenceRefs).where(eq(evidenceRefs.evidenceId, page.id));
    expect(refs.map((r) => r.kind)).toEqual(['signal', 'signal']);

    // Nothing new: the next sweep fetches nothing again.
    expect(await archiver().sweep()).toEqual([]);
    expect(hits.get('/news/1.html')).toBe(1);
  });

  it('records a page over the bound as too large and stores nothing of it; a 404 as failed with its status', async () => {
    pages.set('/huge.html', { body: 'x'.repeat(LIMIT * 4), type: 'text/html' });
    await attach(ids.incA, '长页面', `${base}/huge.html`);
    await attach(ids.incB, '已删除的帖子', `${base}/deleted`);
    await archiver().sweep();
    expect(await row(`${base}/huge.html`)).toMatchObject({ state: 'failed', errorCode: 'too_large', body: null, text: null, size: null });
    expect(await row(`${base}/deleted`)).toMatchObject({ state: 'failed', errorCode: 'http_status', httpStatus: 404, body: null });
  });

  it('retries a transient 503 after a backoff (not before), then archives the page', async () => {
    pages.set('/busy', { statuses: [503, 503, 200], body: '稍后可见的回应', type: 'text/plain; charset=utf-8' });
    await attach(ids.incA, '服务器繁忙', `${base}/busy`);
    const a = archiver();
    await a.sweep();
    expect(await row(`${base}/busy`)).toMatchObject({ state: 'pending', attempts: 1, errorCode: 'http_status', httpStatus: 503 });
    expect((await row(`${base}/busy`))!.nextAttemptAt).toEqual(new Date(clock.now() + MIN));
    await a.sweep();
    expect(hits.get('/busy')).toBe(1);
    await clock.advanceBy(MIN);
    await a.sweep();
    expect(await row(`${base}/busy`)).toMatchObject({ state: 'pending', attempts: 2 });
    await clock.advanceBy(2 * MIN);
    await a.sweep();
    expect(await row(`${base}/busy`)).toMatchObject({ state: 'archived', attempts: 3, errorCode: null, text: '稍后可见的回应' });
    expect(hits.get('/busy')).toBe(3);
  });

  it('gives up on a page that stays unavailable after the bounded number of attempts', async () => {
    pages.set('/down', { statuses: [503], body: '', type: 'text/plain' });
    await attach(ids.incA, '一直不可用', `${base}/down`);
    const a = archiver();
    for (let i = 0; i < 5; i++) {
      await a.sweep();
      await clock.advanceBy(10 * MIN);
    }
    expect(await row(`${base}/down`)).toMatchObject({ state: 'failed', attempts: 3, httpStatus: 503 });
    expect(hits.get('/down')).toBe(3);
  });
});

describe('the archiver loop', () => {
  it('once started, archives a new link on its own (woken, then every interval) and stops cleanly', async () => {
    pages.set('/later.html', { body: '<p>后来的报道</p>', type: 'text/html; charset=utf-8' });
    const loop = new EvidenceArchiver({
      db: db.db,
      clock,
      logger: testLogger,
      owner: 'loop',
      options: { fetch: { ...DEFAULT_FETCH_POLICY, addresses: new AddressPolicy(['127.0.0.1/32']) }, intervalMs: 50 },
    });
    loop.start();
    try {
      await attach(ids.incB, '后来的报道', `${base}/later.html`);
      loop.wake();
      await eventually(async () => (await row(`${base}/later.html`))?.state === 'archived', 'the page archived by the loop');
    } finally {
      await loop.stop();
    }
    expect(hits.get('/later.html')).toBe(1);
  });
});

describe('evidence over HTTP', () => {
  it("lists an incident's evidence with who points at each page", async () => {
    const res = await duty.inject({ method: 'GET', url: `/api/incidents/${ids.incA}/evidence` });
    expect(res.statusCode, res.body).toBe(200);
    const items = res.json<{ items: EvidenceJson[] }>().items;
    const byUrl = new Map(items.map((i) => [i.url, i]));
    const news = byUrl.get(`${base}/news/1.html`)!;
    expect(news).toMatchObject({ state: 'archived', httpStatus: 200, errorCode: null });
    expect(news.signals).toHaveLength(2);
    expect(news.responses).toEqual([]);
    expect(news.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(news.fetchedAt).not.toBeNull();
    const reply = byUrl.get(`${base}/reply.txt`)!;
    expect(reply.responses).toHaveLength(1);
    expect(reply.signals).toEqual([]);
    expect(byUrl.get(`${base}/huge.html`)).toMatchObject({ state: 'failed', errorCode: 'too_large', size: null });
    // Incident B's pages are not on A's list.
    expect(byUrl.has(`${base}/deleted`)).toBe(false);
  });

  it('serves an HTML copy inert: sandboxed, nothing loadable, no sniffing, decoded to UTF-8', async () => {
    const id = evidenceId(`${base}/news/1.html`);
    const res = await duty.inject({ method: 'GET', url: `/api/evidence/${id}` });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    const csp = String(res.headers['content-security-policy']);
    expect(csp.split(';').map((d) => d.trim())).toEqual(expect.arrayContaining(['sandbox', "default-src 'none'"]));
    expect(csp).not.toMatch(/allow-scripts|allow-same-origin/);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-disposition']).toBe(`inline; filename="${id}.html"`);
    expect(res.body).toContain('<p>电梯</p>');

    const raw = await duty.inject({ method: 'GET', url: `/api/evidence/${id}?download=true` });
    expect(raw.headers['content-type']).toBe('application/octet-stream');
    expect(raw.headers['content-disposition']).toBe(`attachment; filename="${id}"`);
    expect(raw.rawPayload.equals((await row(`${base}/news/1.html`))!.body!)).toBe(true);

    const text = await duty.inject({ method: 'GET', url: `/api/evidence/${evidenceId(`${base}/reply.txt`)}` });
    expect(text.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(text.body).toBe('关于小区电梯困人的情况通报');
  });

  it('a page without a copy is a 404 saying why', async () => {
    const res = await duty.inject({ method: 'GET', url: `/api/evidence/${evidenceId(`${base}/huge.html`)}` });
    expect(res.statusCode).toBe(404);
    expect(res.json<{ message: string }>().message).toMatch(/failed: too_large/);
  });

  it("a unit user sees its own incident's evidence, and gets 404 for another unit's", async () => {
    expect((await unit.inject({ method: 'GET', url: `/api/incidents/${ids.incA}/evidence` })).statusCode).toBe(200);
    expect((await unit.inject({ method: 'GET', url: `/api/evidence/${evidenceId(`${base}/reply.txt`)}` })).statusCode).toBe(200);
    expect((await unit.inject({ method: 'GET', url: `/api/incidents/${ids.incB}/evidence` })).statusCode).toBe(404);
    const other = await unit.inject({ method: 'GET', url: `/api/evidence/${evidenceId(`${base}/intranet`)}` });
    expect(other.statusCode).toBe(404);
    expect(other.json<{ message: string }>().message).toBe(`evidence ${evidenceId(`${base}/intranet`)} not found`);
  });
});
