/**
 * 管理 → 规则包 in real headless Chromium on the embedded default: an administrator enters a
 * pack with a bad field, reads the reason naming its path, fixes it and activates it; the page
 * then shows the database version in force, the engine takes it, and an older version can be
 * activated again through its confirm dialog.
 */
import { FakeClock } from '@huiying/clock';
import { rulePacks } from '@huiying/db';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type ConsoleBrowser, openConsole } from '../../web/test/browser.ts';
import { type EmbeddedHarness, startEmbedded } from './embedded-harness.ts';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-10-14T10:00:00+08:00');
const clock = new FakeClock(T0);
let env: EmbeddedHarness;
let ui: ConsoleBrowser;

beforeAll(async () => {
  env = await startEmbedded({ clock, listen: true });
  ui = await openConsole(env.url);
});
afterAll(async () => {
  await ui?.close();
  await env?.stop();
});

const pack = (spanHours: unknown) => JSON.stringify({ name: '某市 2026', clocks: { release: { spanHours } } }, null, 2);

it('an administrator enters a pack with a bad field, sees why, fixes it and activates it; then rolls back to it from the history', async () => {
  const page = await ui.loginAs('admin');
  await page.getByTestId('nav-admin-rules').click();
  await expect.poll(() => page.getByTestId('rule-pack-source').textContent()).toBe('系统默认');

  const editor = page.getByTestId('rule-pack-editor');
  await editor.fill(pack(-3));
  await page.getByTestId('rule-pack-activate').click();
  const refusal = page.getByTestId('rule-pack-refusal');
  await refusal.waitFor();
  expect(await refusal.textContent()).toContain('/clocks/release/spanHours');
  await ui.shot(page, 'admin-rules-refused');
  expect(await env.handle.db.select().from(rulePacks)).toEqual([]);

  await editor.fill(pack(3));
  await page.getByTestId('rule-pack-activate').click();
  await expect.poll(() => page.getByTestId('rule-pack-version').textContent()).toBe('1');
  expect(await page.getByTestId('rule-pack-source').textContent()).toBe('管理员启用的版本');
  expect(await refusal.count()).toBe(0);
  expect(env.hy.engine.deps.pack().clocks.release.spanMs).toBe(3 * HOUR);
  await page.getByTestId('rule-pack-versions').getByText('某市 2026').waitFor();

  // A second version, then back to the first through 「启用此版本」 and its confirm dialog.
  await editor.fill(pack(2));
  await page.getByTestId('rule-pack-activate').click();
  await expect.poll(() => page.getByTestId('rule-pack-version').textContent()).toBe('2');
  await page.getByTestId('rule-pack-versions').getByRole('button', { name: '启用此版本' }).click();
  await page.locator('.el-message-box').getByRole('button', { name: '启用' }).click();
  await expect.poll(() => page.getByTestId('rule-pack-version').textContent()).toBe('1');
  expect(env.hy.engine.deps.pack().clocks.release.spanMs).toBe(3 * HOUR);
  await ui.shot(page, 'admin-rules');
  expect(ui.pageErrors).toEqual([]);
});
