/**
 * The 12345 接入 page in real headless Chromium on the embedded default: an administrator adds
 * a hotline source and sees its secret once; a duty officer uploads a GBK export and sees the
 * row report (line, column, reason) while the good rows are stored.
 */
import { fileURLToPath } from 'node:url';
import { FakeClock } from '@huiying/clock';
import { rowsOf, sql } from '@huiying/db';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type ConsoleBrowser, openConsole } from '../../web/test/browser.ts';
import { type EmbeddedHarness, startEmbedded } from './embedded-harness.ts';

const T0 = Date.parse('2026-10-01T09:00:00+08:00');
const clock = new FakeClock(T0);
const gbkExport = fileURLToPath(new URL('../../ingest/test/fixtures/tickets/export-gbk.csv', import.meta.url));
let env: EmbeddedHarness;
let ui: ConsoleBrowser;

beforeAll(async () => {
  env = await startEmbedded({
    clock,
    units: [{ id: 'housing', name: '市住房和城乡建设局', email: 'zjj@example.test' }],
    listen: true,
  });
  ui = await openConsole(env.url);
});
afterAll(async () => {
  await ui?.close();
  await env?.stop();
});

it('an administrator adds a source (secret shown once); a duty officer imports an export and reads the row report', async () => {
  const admin = await ui.loginAs('admin');
  await admin.getByTestId('nav-hotline').click();
  await admin.getByTestId('hotline-sources').waitFor();
  await admin.getByTestId('hotline-source-create').click();
  await admin.getByTestId('hotline-source-name').fill('hotline-city');
  await admin.getByTestId('hotline-source-submit').click();
  const secret = (await admin.getByTestId('hotline-secret').textContent())?.trim() ?? '';
  expect(secret).toMatch(/^hys_/);
  await admin.getByTestId('hotline-source-table').getByText('hotline-city').waitFor();
  // After a reload the secret is gone for good.
  await admin.reload();
  await admin.getByTestId('hotline-source-table').getByText('hotline-city').waitFor();
  expect(await admin.getByTestId('hotline-secret').count()).toBe(0);

  const duty = await ui.loginAs('duty');
  await duty.getByTestId('nav-hotline').click();
  await duty.getByTestId('hotline-import').waitFor();
  // Source administration is the administrators'.
  expect(await duty.getByTestId('hotline-sources').count()).toBe(0);
  await duty.getByTestId('hotline-import-source').fill('hotline-city');
  await duty.getByTestId('hotline-import-file').setInputFiles(gbkExport);
  await duty.getByTestId('hotline-import-submit').click();
  const report = duty.getByTestId('hotline-import-report');
  await report.waitFor();
  await expect(report.textContent()).resolves.toMatch(/新增\s*3/);
  const errors = duty.getByTestId('hotline-import-errors');
  await errors.getByText('受理时间').waitFor();
  const text = (await errors.textContent()) ?? '';
  expect(text).toContain('诉求内容');
  expect(text).toMatch(/5[\s\S]*受理时间[\s\S]*6[\s\S]*诉求内容/);
  await ui.shot(duty, 'hotline-import');
  const [stored] = rowsOf<{ n: number }>(
    await env.handle.db.execute(sql`select count(*)::int as n from signals where source_ref like 'hotline-city:GBK-%'`),
  );
  expect(stored!.n).toBe(3);
  expect(ui.pageErrors).toEqual([]);
}, 120_000);
