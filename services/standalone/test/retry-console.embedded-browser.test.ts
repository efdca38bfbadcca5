/**
 * 投递失败 → 重新发送 in real headless Chromium on the embedded default, against a real SMTP
 * server in this process: a unit's mailbox refuses the assignment notice (550, a permanent
 * failure), the duty board shows the 投递失败 alert; a duty officer sees no 重新发送 and the
 * API refuses them (403); an administrator confirms 重新发送 once the mailbox takes mail, the
 * alert leaves the board and the notice arrives.
 */
import { FakeClock } from '@huiying/clock';
import { alerts, eq, notifications } from '@huiying/db';
import { emailChannel } from '@huiying/notify';
import { eventually, startSmtp, type TestSmtp } from '@huiying/testkit';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type ConsoleBrowser, openConsole } from '../../web/test/browser.ts';
import { type EmbeddedHarness, startEmbedded } from './embedded-harness.ts';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-06-01T10:00:00+08:00');
const UNIT_MAIL = 'zjj@example.test';
const TITLE = '老旧小区外墙脱落砸伤行人';
const clock = new FakeClock(T0);
let env: EmbeddedHarness;
let smtp: TestSmtp;
let ui: ConsoleBrowser;
let refuse = true;
let notificationId = '';

const failedAlert = (page: Page) => page.locator('[data-testid="alert-item"][data-kind="delivery_failed"]').filter({ hasText: TITLE });

beforeAll(async () => {
  smtp = await startSmtp({ reject: (address) => refuse && address === UNIT_MAIL });
  env = await startEmbedded({
    clock,
    units: [{ id: 'housing', name: '市住房和城乡建设局', email: UNIT_MAIL }],
    listen: true,
    channels: { email: emailChannel({ url: smtp.url, from: 'huiying@example.test' }) },
  });
  ui = await openConsole(env.url);
  const res = await (
    await env.as('duty')
  ).inject({
    method: 'POST',
    url: '/api/tickets',
    payload: { id: 'R-1', receivedAt: new Date(T0 - HOUR).toISOString(), title: TITLE, content: `${TITLE}，市民反映`, unit: 'housing' },
  });
  expect(res.statusCode, res.body).toBe(201);
  // The assignment notice to the unit is refused for good: a failed row and its alert.
  notificationId = await eventually(async () => {
    const [n] = await env.handle.db.select().from(notifications).where(eq(notifications.recipient, UNIT_MAIL));
    return n?.status === 'failed' ? n.id : undefined;
  }, 'the refused notice to fail for good');
  const [alert] = await env.handle.db
    .select()
    .from(alerts)
    .where(eq(alerts.id, `delivery_failed:${notificationId}`));
  expect(alert).toMatchObject({ kind: 'delivery_failed', retractedAt: null });
});

afterAll(async () => {
  await ui?.close();
  await env?.stop();
  await smtp?.close();
});

it('a duty officer sees the 投递失败 alert without 重新发送, and the API refuses them the retry', async () => {
  const page = await ui.loginAs('duty');
  await page.waitForURL(/#\/board$/);
  const alert = failedAlert(page);
  await alert.waitFor();
  await expect(alert.textContent()).resolves.toContain('投递失败');
  expect(await alert.getByTestId('retry-button').count()).toBe(0);
  const res = await (await env.as('duty')).inject({ method: 'POST', url: `/api/admin/notifications/${notificationId}/retry`, payload: {} });
  expect(res.statusCode, res.body).toBe(403);
  const [n] = await env.handle.db.select().from(notifications).where(eq(notifications.id, notificationId));
  expect(n?.status).toBe('failed');
  expect(smtp.mails).toHaveLength(0);
  expect(ui.pageErrors).toEqual([]);
});

it('an administrator confirms 重新发送: the alert leaves the board and the notice reaches the unit once', async () => {
  refuse = false; // the mailbox was fixed
  const page = await ui.loginAs('admin');
  await page.goto(`${env.url}#/board`);
  const alert = failedAlert(page);
  await alert.waitFor();

  // Cancelling the confirmation sends nothing.
  await alert.getByTestId('retry-button').click();
  const box = page.locator('.el-message-box');
  await box.getByText('重新发送这条投递失败的通知').waitFor();
  await box.getByRole('button', { name: '取消' }).click();
  await box.waitFor({ state: 'hidden' });
  const [still] = await env.handle.db.select().from(notifications).where(eq(notifications.id, notificationId));
  expect(still?.status).toBe('failed');

  await alert.getByTestId('retry-button').click();
  await box.getByRole('button', { name: '重新发送' }).click();
  await page.locator('.el-message--success').filter({ hasText: '已重新排队发送' }).waitFor();
  await alert.waitFor({ state: 'detached' });
  await ui.shot(page, 'retry-delivery');

  const mail = await eventually(
    async () => smtp.mails.find((m) => JSON.stringify(m.to).includes(UNIT_MAIL)),
    'the notice at the SMTP server',
  );
  expect(mail.messageId).toBe(`<${notificationId}@huiying.local>`);
  expect(mail.subject).toContain(TITLE);
  const [sent] = await env.handle.db.select().from(notifications).where(eq(notifications.id, notificationId));
  expect(sent).toMatchObject({ status: 'sent' });
  const [retracted] = await env.handle.db
    .select()
    .from(alerts)
    .where(eq(alerts.id, `delivery_failed:${notificationId}`));
  expect(retracted?.retractedAt).not.toBeNull();
  expect(smtp.mails).toHaveLength(1);

  // Reloaded, the board does not bring it back.
  await page.reload();
  await page.getByTestId('incident-card').first().waitFor();
  await page.getByTestId('alert-empty').waitFor();
  expect(await failedAlert(page).count()).toBe(0);
  expect(ui.pageErrors).toEqual([]);
}, 120_000);
