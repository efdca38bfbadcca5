/**
 * 信息源管理 and 候选回应 in real headless Chromium on the embedded default: an administrator
 * adds a feed served by a local HTTP server (allowing loopback for it), the running poller
 * polls it and the table shows its health; a duty officer sees the table read-only, and
 * accepts an official channel's candidate response from its page.
 */
import { createServer, type Server } from 'node:http';
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { FakeClock } from '@huiying/clock';
import { monitoringRules } from '@huiying/db';
import { eventually } from '@huiying/testkit';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchChromium, logIn } from '../../web/test/browser.ts';
import { type EmbeddedHarness, startEmbedded } from './embedded-harness.ts';

const T0 = Date.parse('2026-11-30T09:00:00+08:00');
const MIN = 60_000;
const artifacts = new URL('../../../test-artifacts/', import.meta.url);
const clock = new FakeClock(T0);
const rfc = (ms: number) => new Date(ms).toUTCString();
const rss = (items: [string, string, string, number, string?][]) =>
  `<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>${items
    .map(
      ([guid, title, link, at, description]) =>
        `<item><guid isPermaLink="false">${guid}</guid><title>${title}</title><link>${link}</link><pubDate>${rfc(at)}</pubDate>${
          description ? `<description>${description}</description>` : ''
        }</item>`,
    )
    .join('')}</channel></rss>`;

let env: EmbeddedHarness;
let browser: Browser;
let server: Server;
let base: string;
const docs = new Map<string, string>();

beforeAll(async () => {
  env = await startEmbedded({ clock, units: [{ id: 'housing', name: '市住房和城乡建设局', email: 'zjj@example.test' }], listen: true });
  // A feed item opens an incident only if a 监测方案 takes it.
  await env.handle.db.insert(monitoringRules).values({
    id: 'mr_housing',
    name: '住建',
    expression: '小区 OR 电梯',
    sources: ['feed'],
    createdBy: 'test',
    createdAt: new Date(clock.now()),
    updatedAt: new Date(clock.now()),
  });
  server = createServer((req, res) => {
    const body = docs.get(req.url!);
    res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/rss+xml; charset=utf-8' });
    res.end(body ?? '');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchChromium();
  await mkdir(artifacts, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await env?.stop();
  server?.close();
});

it('an administrator adds a feed and sees it listed with its health; a duty officer sees it read-only', async () => {
  docs.set('/news.xml', rss([['n1', '锦华小区电梯频繁故障 居民出行困难', 'https://news.example.com/n1', T0 + MIN]]));
  const page = await browser.newPage({ locale: 'zh-CN', viewport: { width: 1400, height: 900 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await logIn(page, env.url, 'admin');
  await page.getByTestId('nav-feeds').click();
  await page.waitForURL(/#\/feeds$/);

  await page.getByTestId('feed-create').click();
  await page.getByTestId('feed-form-name').fill('本地新闻网');
  await page.getByTestId('feed-form-url').fill(`${base}/news.xml`);
  await page.getByTestId('feed-form-cidrs').fill('127.0.0.1');
  await page.getByTestId('feed-form-save').click();
  const row = page.locator('.el-table__row').filter({ hasText: '本地新闻网' });
  await row.waitFor();
  await expect(row.getByTestId('feed-status').textContent()).resolves.toBe('待抓取');

  // The running poller picks the new feed up on its next round: no restart.
  await clock.advanceBy(5 * MIN);
  const results = await env.hy.poller.pollDue();
  expect(results.map((r) => [r.status, r.accepted])).toEqual([['updated', 1]]);
  await page.getByTestId('feeds-refresh').click();
  await row.getByTestId('feed-status').filter({ hasText: '正常' }).waitFor();
  await expect(row.getByTestId('feed-items').textContent()).resolves.toBe('1');
  await expect(row.getByTestId('feed-last-success').textContent()).resolves.toMatch(/^11-30 09:0\d$/);
  await page.screenshot({ path: new URL('console-feeds.png', artifacts).pathname, fullPage: true });

  // Pausing from the table.
  await row.getByTestId('feed-toggle').click();
  await row.getByTestId('feed-status').filter({ hasText: '已暂停' }).waitFor();
  await row.getByTestId('feed-toggle').click();
  await row
    .getByTestId('feed-status')
    .filter({ hasText: '待抓取' })
    .or(row.getByTestId('feed-status').filter({ hasText: '正常' }))
    .waitFor();
  expect(pageErrors).toEqual([]);
  await page.close();

  const dutyPage = await browser.newPage({ locale: 'zh-CN', viewport: { width: 1400, height: 900 } });
  await logIn(dutyPage, env.url, 'duty');
  await dutyPage.goto(`${env.url}#/feeds`);
  await dutyPage.locator('.el-table__row').filter({ hasText: '本地新闻网' }).waitFor();
  expect(await dutyPage.getByTestId('feed-create').count()).toBe(0);
  expect(await dutyPage.getByTestId('feed-edit').count()).toBe(0);
  await dutyPage.close();
});

it('a duty officer accepts an official channel’s candidate response from its page', async () => {
  const incidentId = await eventually(async () => {
    const res = await (await env.as('duty')).inject({ method: 'GET', url: `/api/incidents?q=${encodeURIComponent('锦华小区')}` });
    return res.json<{ items: { id: string }[] }>().items[0]?.id;
  }, 'the incident from the news item');
  const duty = await env.as('duty');
  expect((await duty.inject({ method: 'POST', url: `/api/incidents/${incidentId}/assign`, payload: { unit: 'housing' } })).statusCode).toBe(
    200,
  );
  const admin = await env.as('admin');
  const added = await admin.inject({
    method: 'POST',
    url: '/api/feeds',
    payload: { name: '市住建局 通知公告', url: `${base}/zjj.xml`, kind: 'official', unitId: 'housing', allowCidrs: ['127.0.0.1/32'] },
  });
  expect(added.statusCode, added.body).toBe(201);
  await clock.advanceBy(5 * MIN);
  docs.set(
    '/zjj.xml',
    rss([['z1', '关于锦华小区电梯频繁故障问题的情况通报', 'https://zjj.example.gov.cn/t/1', clock.now() - MIN, '经核查，已全面检修。']]),
  );
  await env.hy.poller.pollDue();

  const page = await browser.newPage({ locale: 'zh-CN', viewport: { width: 1400, height: 900 } });
  await logIn(page, env.url, 'duty');
  await page.getByTestId('nav-candidates').click();
  const row = page.locator('.el-table__row').filter({ hasText: '关于锦华小区电梯频繁故障问题的情况通报' });
  await row.waitFor();
  await expect(row.getByTestId('candidate-origin').textContent()).resolves.toBe('原创');
  await row.getByTestId('candidate-accept').click();
  await row.waitFor({ state: 'detached' });
  const clocks = (await duty.inject({ method: 'GET', url: `/api/incidents/${incidentId}` })).json<{ clocks: { state: string }[] }>().clocks;
  expect(clocks.some((c) => c.state === 'met')).toBe(true);
  await page.close();
});

it('an administrator edits a feed and removes it from the table; the signals it brought stay', async () => {
  const admin = await env.as('admin');
  const listed = async () =>
    (await admin.inject({ method: 'GET', url: '/api/feeds' })).json<{ items: { id: string; name: string; jurisdiction: string }[] }>()
      .items;
  const before = (await listed()).find((f) => f.name === '本地新闻网')!;
  const page = await browser.newPage({ locale: 'zh-CN', viewport: { width: 1400, height: 900 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await logIn(page, env.url, 'admin');
  await page.getByTestId('nav-feeds').click();
  await page.waitForURL(/#\/feeds$/);

  // Edit: the form opens with the feed's values; the table and the API show the change.
  await page.locator('.el-table__row').filter({ hasText: '本地新闻网' }).getByTestId('feed-edit').click();
  const name = page.getByTestId('feed-form-name');
  await expect(name.inputValue()).resolves.toBe('本地新闻网');
  await name.fill('本地新闻网（东区）');
  await page.getByTestId('feed-form-jurisdiction').fill('east');
  await page.getByTestId('feed-form-save').click();
  const row = page.locator('.el-table__row').filter({ hasText: '本地新闻网（东区）' });
  await row.waitFor();
  await expect(row.getByTestId('feed-jurisdiction').textContent()).resolves.toBe('east');
  expect((await listed()).find((f) => f.id === before.id)).toMatchObject({ name: '本地新闻网（东区）', jurisdiction: 'east' });

  // Remove: confirmed in a dialog; cancelling keeps it.
  await row.getByTestId('feed-remove').click();
  await page.locator('.el-message-box').getByRole('button', { name: '取消' }).click();
  await page.locator('.el-message-box').waitFor({ state: 'detached' });
  await expect(row.count()).resolves.toBe(1);
  await row.getByTestId('feed-remove').click();
  await page.locator('.el-message-box').getByRole('button', { name: '删除' }).click();
  await row.waitFor({ state: 'detached' });
  expect((await listed()).some((f) => f.id === before.id)).toBe(false);
  expect((await admin.inject({ method: 'GET', url: `/api/feeds/${before.id}` })).statusCode).toBe(404);
  // What it brought stays searchable.
  const duty = await env.as('duty');
  const found = await duty.inject({ method: 'GET', url: `/api/incidents?q=${encodeURIComponent('锦华小区')}` });
  expect(found.json<{ items: unknown[] }>().items.length).toBeGreaterThan(0);
  expect(pageErrors).toEqual([]);
  await page.close();
});
