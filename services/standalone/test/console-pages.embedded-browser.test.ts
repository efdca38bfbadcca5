/**
 * More of the console in real headless Chromium on the embedded default (PGlite + the
 * in-process bus): a unit user on a phone records the 办结 of its own unit's working-day duty
 * from the 工作日事项 tab (the API lets a unit fulfil its own duty; 延期/暂停 stay with the
 * office) and sees it take effect; an administrator imports a year's holiday arrangement through
 * the 节假日安排 page and a provisional due is recomputed on it; the 监测方案, 线索研判 and 候选回应
 * pages with something on them. Screenshots of each go to test-artifacts/.
 */
import { FakeClock } from '@huiying/clock';
import { auditLog, feeds, monitoringRules, responseCandidates, signals } from '@huiying/db';
import { eventually } from '@huiying/testkit';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type ConsoleBrowser, openConsole } from '../../web/test/browser.ts';
import { type EmbeddedHarness, startEmbedded } from './embedded-harness.ts';

/** A Monday in December: a 依申请公开 request's 20 working days run into 2027, which the calendar file lacks. */
const T0 = Date.parse('2026-12-14T10:00:00+08:00');

let env: EmbeddedHarness;
let ui: ConsoleBrowser;
const clock = new FakeClock(T0);
let incidentId = '';

type Duty = { id: string; state: string; provisional: boolean; dueDate: string };

async function duty(id: string): Promise<Duty> {
  const res = await (await env.as('duty')).inject({ method: 'GET', url: `/api/obligations/${id}` });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<Duty>();
}

const dutyRow = (page: Page, id: string, attrs = '') => page.locator(`[data-testid="duty-item"][data-duty-id="${id}"]${attrs}`);
const scrollWidth = (page: Page) => page.evaluate<number>('document.documentElement.scrollWidth');

beforeAll(async () => {
  env = await startEmbedded({
    clock,
    units: [
      { id: 'housing', name: '市住房和城乡建设局', email: 'zjj@example.test' },
      { id: 'environment', name: '市生态环境局', email: 'sthj@example.test' },
    ],
    listen: true,
  });
  ui = await openConsole(env.url);
  const officer = await env.as('duty');
  for (const [id, kind, unit, title] of [
    ['UD-1', 'policy_interpretation', 'housing', '《城镇老旧小区改造实施方案》政策解读'],
    ['UD-2', 'disclosure_request', 'housing', '依申请公开：保障性租赁住房筹集情况'],
    ['UD-3', 'penalty_disclosure', 'environment', '行政处罚决定公开：某化工企业超标排放'],
  ] as const) {
    const res = await officer.inject({
      method: 'POST',
      url: '/api/obligations',
      payload: { id, kind, unit, title, issuedAt: new Date(T0).toISOString() },
    });
    expect(res.statusCode, res.body).toBe(201);
  }
  expect(await duty('UD-2')).toMatchObject({ provisional: true, dueDate: '2027-01-11' });

  // An open incident for the housing bureau, with a candidate response from its official channel.
  const ticket = await officer.inject({
    method: 'POST',
    url: '/api/tickets',
    payload: {
      id: 'P-1',
      receivedAt: new Date(T0 - 3_600_000).toISOString(),
      title: '锦华小区电梯频繁停运',
      content: '锦华小区电梯频繁停运，市民反映',
      unit: 'housing',
    },
  });
  expect(ticket.statusCode, ticket.body).toBe(201);
  incidentId = await eventually(
    async () =>
      (await officer.inject({ method: 'GET', url: '/api/incidents?status=open' }))
        .json<{ items: { id: string; title: string }[] }>()
        .items.find((i) => i.title === '锦华小区电梯频繁停运')?.id,
    'the incident',
  );
  const db = env.handle.db;
  await db
    .insert(feeds)
    .values({ id: 'feed-zjj', name: '市住建局门户', url: 'https://zjj.example.gov.cn/rss.xml', kind: 'official', unitId: 'housing' });
  await db.insert(responseCandidates).values({
    id: 'rc-1',
    signalId: 'sig-rc-1',
    feedId: 'feed-zjj',
    incidentId,
    unitId: 'housing',
    title: '关于锦华小区电梯停运问题的情况通报',
    url: 'https://zjj.example.gov.cn/t/1',
    publishedAt: new Date(T0 - 600_000),
    original: true,
    originReason: '官方渠道发布，未注明转载来源',
    confidence: 0.82,
    matchReason: '标题与事件相近',
    createdAt: new Date(T0),
  });
  // 监测方案, and stored signals no 方案 took (for 线索研判).
  const at = new Date(T0);
  await db.insert(monitoringRules).values([
    {
      id: 'mr-housing',
      name: '住建民生',
      expression: '(小区 OR 物业) AND (电梯 OR 停水)',
      sources: ['feed', 'hotline'],
      createdBy: 'test',
      createdAt: at,
      updatedAt: at,
    },
    {
      id: 'mr-env',
      name: '生态环境',
      expression: '异味 OR 排放 OR 黑臭',
      sources: ['feed'],
      createdBy: 'test',
      createdAt: at,
      updatedAt: at,
    },
  ]);
  await db.insert(signals).values(
    ['市图书馆延长周末开放时间', '某商场周年庆促销活动引发排队', '地铁三号线试运行安排'].map((title, i) => ({
      id: `sig-intake-${i}`,
      source: 'feed',
      sourceRef: `sig-intake-${i}`,
      title,
      receivedAt: new Date(T0 - (i + 1) * 600_000),
      processedAt: new Date(T0 - (i + 1) * 600_000),
      decision: 'unmatched',
      decisionReason: 'no_rule',
    })),
  );
});

afterAll(async () => {
  await ui?.close();
  await env?.stop();
});

it('a unit user on a phone records the 办结 of its own duty from the 工作日事项 tab and sees it take effect', async () => {
  const phone = await ui.loginAs('unit-housing', { width: 390, height: 844 });
  await phone.waitForURL(/#\/unit$/);
  await phone
    .getByTestId('unit-tabs')
    .getByText(/^工作日事项/)
    .click();
  const policy = dutyRow(phone, 'UD-1');
  await policy.waitFor();
  await dutyRow(phone, 'UD-2').waitFor();
  // Only its own unit's duties; 办结 is offered, moving the count (延期/暂停) is not.
  expect(await dutyRow(phone, 'UD-3').count()).toBe(0);
  expect(await phone.getByTestId('duty-extend').count()).toBe(0);
  expect(await phone.getByTestId('duty-suspend').count()).toBe(0);
  expect(await phone.getByTestId('duty-fulfil').count()).toBe(2);
  expect(await scrollWidth(phone)).toBeLessThanOrEqual(390);
  await ui.shot(phone, 'unit-duties-390');

  await policy.getByTestId('duty-fulfil').click();
  await dutyRow(phone, 'UD-1', '[data-state="met"]').waitFor();
  await expect(policy.getByTestId('duty-state').textContent()).resolves.toBe('已办结');
  await expect(policy.getByTestId('duty-countdown').textContent()).resolves.toMatch(/^办结于 12-14 10:0\d$/);
  expect(await policy.getByTestId('duty-fulfil').count()).toBe(0);
  // The server has it, recorded by the unit's own account; the tab's count went down.
  expect((await duty('UD-1')).state).toBe('met');
  const audited = await env.handle.db.select({ actor: auditLog.actor, entityId: auditLog.entityId }).from(auditLog);
  expect(audited).toContainEqual({ actor: 'user:unit-housing', entityId: 'UD-1' });
  await phone.getByTestId('unit-tabs').getByText('工作日事项 1').waitFor();
  expect(await scrollWidth(phone)).toBeLessThanOrEqual(390);
  await ui.shot(phone, 'unit-duties-done-390');
  expect(ui.pageErrors).toEqual([]);
});

it('an administrator imports a holiday year through the 节假日安排 page; a provisional due is recomputed on it', async () => {
  const page = await ui.loginAs('admin', { width: 1366, height: 768 });
  await page.getByTestId('nav-admin-calendar').click();
  await page.getByTestId('calendar-years').waitFor();
  expect(await page.getByTestId('calendar-years').textContent()).not.toContain('2027');
  const field = (label: string) => page.locator('.el-form-item').filter({ hasText: label });
  await field('年份').locator('input').fill('2027');
  await field('年份').locator('input').press('Tab');
  await field('放假日期')
    .locator('textarea')
    .fill('2027-01-01 2027-02-06 2027-02-07 2027-02-08 2027-02-09 2027-02-10 2027-02-11 2027-02-12');
  await field('调休上班日期').locator('textarea').fill('2027-02-14 2027-02-20');
  await field('依据').locator('input').fill('国务院办公厅关于2027年部分节假日安排的通知（测试数据）');
  await page.getByRole('button', { name: '导入', exact: true }).click();
  await page.getByText('已导入 2027 年节假日安排，相关截止日已重算').waitFor();
  await page.getByTestId('calendar-years').filter({ hasText: '2027' }).waitFor();
  // The request counted Monday–Friday into 2027 (20 working days: 2027-01-11) is now counted on
  // the imported year, where New Year's Day is no working day: a day later.
  const recomputed = await duty('UD-2');
  expect(recomputed).toMatchObject({ provisional: false, dueDate: '2027-01-12' });
  await ui.shot(page, 'admin-calendar-imported');
  expect(ui.pageErrors).toEqual([]);
});

it('the 监测方案, 线索研判 and 候选回应 pages show what they hold', async () => {
  const admin = await ui.loginAs('admin', { width: 1366, height: 768 });
  await admin.getByTestId('nav-admin-monitoring').click();
  await admin.getByTestId('admin-monitoring').getByText('住建民生').waitFor();
  await admin.getByTestId('admin-monitoring').getByText('生态环境').waitFor();
  await ui.shot(admin, 'admin-monitoring');

  const officer = await ui.loginAs('duty', { width: 1366, height: 768 });
  await officer.getByTestId('nav-intake').click();
  await officer.getByTestId('intake-signals').getByText('市图书馆延长周末开放时间').waitFor();
  expect(await officer.getByTestId('intake-promote').count()).toBe(3);
  await ui.shot(officer, 'intake');

  await officer.getByTestId('nav-candidates').click();
  const row = officer.locator('.el-table__row').filter({ hasText: '关于锦华小区电梯停运问题的情况通报' });
  await row.waitFor();
  await expect(row.getByTestId('candidate-origin').textContent()).resolves.toBe('原创');
  await row.getByTestId('candidate-accept').waitFor();
  await ui.shot(officer, 'candidates');
  expect(ui.pageErrors).toEqual([]);
});
