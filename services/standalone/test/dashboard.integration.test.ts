/**
 * The duty officers' board in real headless Chromium, on the embedded default (PGlite + the
 * in-process bus, the same composition `pnpm start` runs): an incident appears with its live
 * countdown, and a breach appears live (over SSE) when the fake clock reaches the due time.
 */
import { mkdir } from 'node:fs/promises';
import { FakeClock } from '@huiying/clock';
import { eventually } from '@huiying/testkit';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchChromium } from '../../web/test/browser.ts';
import type { Huiying } from '../src/compose.ts';
import { type EmbeddedHarness, startEmbedded } from './embedded-harness.ts';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-06-01T10:00:00+08:00');
const artifacts = new URL('../../../test-artifacts/', import.meta.url);

let env: EmbeddedHarness;
let hy: Huiying;
let browser: Browser;
let url: string;
let mailer: EmbeddedHarness['mailer'];
const clock = new FakeClock(T0);

beforeAll(async () => {
  env = await startEmbedded({ clock, units: [{ id: 'housing', name: '市住房和城乡建设局', email: 'zjj@example.test' }], listen: true });
  ({ hy, mailer, url } = env);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await env?.stop();
});

it('shows an incident with a live countdown and the breach alert as it happens', async () => {
  const ticket = {
    id: 'B-1',
    receivedAt: new Date(T0 - 47 * HOUR).toISOString(),
    title: '老旧小区外墙脱落砸伤行人',
    content: '外墙瓷砖脱落，居民担心安全',
    unit: 'housing',
  };
  expect((await (await env.as('duty')).inject({ method: 'POST', url: '/api/tickets', payload: ticket })).statusCode).toBe(201);
  await eventually(
    async () => (await (await env.as('duty')).inject({ method: 'GET', url: '/api/incidents' })).json().items.length === 1,
    'the incident',
  );

  const page = await browser.newPage({ locale: 'zh-CN', viewport: { width: 1400, height: 900 } });

  // The board is a duty officer's: log in (the context keeps the session cookie).

  expect((await page.request.post(`${url}api/auth/login`, { data: { username: 'duty', password: 'huiying-demo' } })).status()).toBe(200);
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(url);
  const card = page.getByTestId('incident-card').filter({ hasText: '老旧小区外墙脱落砸伤行人' });
  await card.waitFor();
  await expect(card.getByTestId('clock').first().getAttribute('data-urgency')).resolves.toBe('danger');
  await expect(card.getByTestId('countdown').first().textContent()).resolves.toMatch(/0?0:59:\d\d|01:00:00/);
  await page.getByTestId('connection-status').filter({ hasText: '实时' }).waitFor();
  // Both warning points were already past when the clock started: skipped, not reported (replay.md).
  expect(await page.getByTestId('alert-item').count()).toBe(0);

  await hy.engine.timer.rearm();
  await clock.advanceTo(T0 + HOUR);
  const breach = page.locator('[data-testid="alert-item"][data-kind="breached"]');
  await breach.waitFor({ timeout: 15_000 });
  expect(await breach.textContent()).toContain('老旧小区外墙脱落砸伤行人');
  await card.locator('[data-testid="clock"][data-urgency="breached"]').waitFor();

  await mkdir(artifacts, { recursive: true });
  await page.screenshot({ path: new URL('dashboard-breach.png', artifacts).pathname, fullPage: true });
  await eventually(async () => mailer.sent.length === 1, 'the breach mail');
  expect(pageErrors).toEqual([]);
});
