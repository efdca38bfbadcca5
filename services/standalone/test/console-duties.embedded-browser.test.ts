/**
 * The duty board's 工作日时限事项 panel in real headless Chromium, logged in as the duty officer, on the embedded default (PGlite +
 * the in-process bus): a duty due on the 调休 Saturday after National Day, 延期 and 办结
 * from the page, a breach refreshing the list live, and a duty counted into a year whose
 * holiday arrangement is not loaded, shown as provisional.
 */
import { mkdir } from 'node:fs/promises';
import { FakeClock } from '@huiying/clock';
import { eventually } from '@huiying/testkit';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchChromium, logIn } from '../../web/test/browser.ts';
import type { Huiying } from '../src/compose.ts';
import { type EmbeddedHarness, startEmbedded } from './embedded-harness.ts';

/** Tuesday before the National Day holiday (10-01…10-08); 10-11 (Saturday) is a 调休 working day. */
const T0 = Date.parse('2025-09-30T10:00:00+08:00');
/** A Sunday: 20 working days from here run into 2027, which the calendar file does not have. */
const T1 = Date.parse('2026-12-20T10:00:00+08:00');
const artifacts = new URL('../../../test-artifacts/', import.meta.url);

let env: EmbeddedHarness;
let hy: Huiying;
let browser: Browser;
let url: string;
const clock = new FakeClock(T0);

beforeAll(async () => {
  env = await startEmbedded({
    clock,
    units: [{ id: 'housing', name: '市住房和城乡建设局', email: 'zjj@example.test' }],
    listen: true,
  });
  ({ hy, url } = env);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await env?.stop();
});

async function createDuty(body: Record<string, string>) {
  const res = await (await env.as('duty')).inject({ method: 'POST', url: '/api/obligations', payload: { unit: 'housing', ...body } });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; dueDate: string; provisional: boolean };
}

const dutyRow = (page: Page, id: string, attrs = '') => page.locator(`[data-testid="duty-item"][data-duty-id="${id}"]${attrs}`);

it('lists working-day duties with due weekday and countdown; 延期, 办结 and a provisional due from the page', async () => {
  const policy = await createDuty({
    id: 'POL-1',
    kind: 'policy_interpretation',
    issuedAt: new Date(T0).toISOString(),
    title: '《关于进一步优化营商环境的若干措施》政策解读',
  });
  expect(policy.dueDate).toBe('2025-10-11');
  await createDuty({
    id: 'REQ-1',
    kind: 'disclosure_request',
    issuedAt: new Date(T0).toISOString(),
    title: '依申请公开：老旧小区改造资金使用情况',
  });

  const page = await browser.newPage({ locale: 'zh-CN', viewport: { width: 1400, height: 900 } });

  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  // The page's own timers (the one-minute list refresh) are moved on by hand below.
  await page.clock.install();
  await logIn(page, url, 'duty');
  await page.getByTestId('connection-status').filter({ hasText: '实时' }).waitFor();

  const policyRow = dutyRow(page, 'POL-1');
  await policyRow.waitFor();
  await expect(policyRow.getByTestId('duty-due').textContent()).resolves.toBe('截止 2025-10-11 周六');
  // Due at the end of 10-11 (Beijing): 11 days and 14 hours after 09-30 10:00.
  await expect(policyRow.getByTestId('duty-countdown').textContent()).resolves.toMatch(/^剩余 11天 1[34]:\d\d:\d\d$/);
  await expect(policyRow.getAttribute('data-state')).resolves.toBe('running');
  await expect(policyRow.getAttribute('data-provisional')).resolves.toBe('false');
  // 延期 and 暂停 are for disclosure requests only.
  expect(await policyRow.getByTestId('duty-extend').count()).toBe(0);
  expect(await policyRow.getByTestId('duty-suspend').count()).toBe(0);
  // Running duties first, by due: the policy duty (10-11) before the request (20 working days).
  await expect(page.getByTestId('duty-item').first().getAttribute('data-duty-id')).resolves.toBe('POL-1');

  const requestRow = dutyRow(page, 'REQ-1');
  const dueBefore = await requestRow.getByTestId('duty-due').textContent();
  await requestRow.getByTestId('duty-extend').click();
  await requestRow.getByText('已延期').waitFor();
  expect(await requestRow.getByTestId('duty-extend').count()).toBe(0);
  expect(await requestRow.getByTestId('duty-due').textContent()).not.toBe(dueBefore);

  await policyRow.getByTestId('duty-fulfil').click();
  await dutyRow(page, 'POL-1', '[data-state="met"]').waitFor();
  await expect(policyRow.getByTestId('duty-state').textContent()).resolves.toBe('已办结');
  await expect(policyRow.getByTestId('duty-countdown').textContent()).resolves.toMatch(/^办结于 09-30 10:0\d$/);
  expect(await policyRow.getByTestId('duty-fulfil').count()).toBe(0);
  expect(pageErrors).toEqual([]);

  // More than a year later: the extended request has long breached. Its breach alert comes
  // over the stream, and the board re-reads the duties because of it.
  await hy.engine.timer.rearm();
  await clock.advanceTo(T1);
  await dutyRow(page, 'REQ-1', '[data-state="breached"]').waitFor({ timeout: 15_000 });
  await page.locator('[data-testid="alert-item"][data-kind="breached"]').filter({ hasText: '老旧小区改造资金' }).waitFor();

  // A penalty decision issued 2026-12-20: 9 working days left in 2026, the rest in 2027.
  const penalty = await createDuty({
    id: 'PEN-1',
    kind: 'penalty_disclosure',
    issuedAt: new Date(T1).toISOString(),
    title: '行政处罚决定公开：某建筑公司违规施工',
  });
  expect(penalty.provisional).toBe(true);
  expect(penalty.dueDate.startsWith('2027-')).toBe(true);
  await createDuty({
    id: 'REQ-2',
    kind: 'disclosure_request',
    issuedAt: new Date(T1).toISOString(),
    title: '依申请公开：某地块征收补偿方案',
  });
  await eventually(
    async () =>
      (
        (await (await env.as('duty')).inject({ method: 'GET', url: '/api/alerts?open=true' })).json().items as {
          kind: string;
          obligationId: string;
        }[]
      ).some((a) => a.kind === 'calendar_missing' && a.obligationId === 'PEN-1'),
    'the calendar_missing alert',
  );
  // Neither a new duty nor its calendar_missing alert is streamed (the engine links only
  // warning/breach alerts to stream events): the board's one-minute re-read brings both.
  await page.clock.fastForward('01:00');
  const penaltyRow = dutyRow(page, 'PEN-1', '[data-provisional="true"]');
  await penaltyRow.waitFor();
  await expect(penaltyRow.getByTestId('duty-provisional').textContent()).resolves.toBe('临时（按周一至周五估算）');
  await expect(penaltyRow.getByTestId('duty-due').textContent()).resolves.toMatch(/^截止 2027-\d\d-\d\d 周[一二三四五]$/);
  await expect(penaltyRow.getByTestId('duty-countdown').textContent()).resolves.toMatch(/^剩余 \d+天 /);
  await page.locator('[data-testid="alert-item"][data-kind="calendar_missing"]').filter({ hasText: '某建筑公司违规施工' }).waitFor();
  // The met policy duty (over a year ago) has left the list; the breach leads it.
  await expect(page.getByTestId('duty-item').first().getAttribute('data-duty-id')).resolves.toBe('REQ-1');
  expect(await dutyRow(page, 'POL-1').count()).toBe(0);

  // 暂停 asks for the reason; while suspended there is no countdown and no 延期, only 恢复.
  const request2 = dutyRow(page, 'REQ-2');
  await request2.getByTestId('duty-suspend').click();
  await request2.getByTestId('duty-suspend-third-party').click();
  await request2.getByText('暂停中（征求第三方意见）').waitFor();
  await expect(request2.getByTestId('duty-countdown').textContent()).resolves.toBe('暂停计时');
  expect(await request2.getByTestId('duty-extend').count()).toBe(0);
  await request2.getByTestId('duty-resume').click();
  await request2.getByTestId('duty-extend').waitFor();
  await expect(request2.getByTestId('duty-countdown').textContent()).resolves.toMatch(/^剩余 /);
  // …and suspended again for the picture.
  await request2.getByTestId('duty-suspend').click();
  await request2.getByTestId('duty-suspend-correction').click();
  await request2.getByText('暂停中（补正）').waitFor();

  // The breached request is still owed: 办结 now is 逾期办结.
  await dutyRow(page, 'REQ-1').getByTestId('duty-fulfil').click();
  await dutyRow(page, 'REQ-1', '[data-state="met"]').waitFor();
  await expect(dutyRow(page, 'REQ-1').getByTestId('duty-state').textContent()).resolves.toBe('逾期办结');
  await expect(dutyRow(page, 'REQ-1').getByTestId('duty-countdown').textContent()).resolves.toBe('办结于 12-20 10:00');

  await mkdir(artifacts, { recursive: true });
  // Finished animations (a row's flash after an action), so the picture shows the resting state.
  await page.screenshot({ path: new URL('console-duties.png', artifacts).pathname, fullPage: true, animations: 'disabled' });
  await page.setViewportSize({ width: 1024, height: 768 });
  await page.screenshot({ path: new URL('console-duties-1024.png', artifacts).pathname, fullPage: true, animations: 'disabled' });
  expect(pageErrors).toEqual([]);
  // A year of simulated time with a breached duty: the ladder urges it daily, and the fake
  // clock walks every one of those wakes (each a transaction and a delivery) — tens of seconds.
}, 180_000);
