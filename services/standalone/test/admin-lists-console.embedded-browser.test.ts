/**
 * The administration lists page in real headless Chromium on the embedded default: with 25
 * units the 单位管理 table shows the first 20 and 共 25 条, page 2 the other five; a search
 * narrows the list (and its total) and starts again at page 1; clearing it shows every unit
 * again. The 用户管理 list searches and filters by role and unit the same way, on the server.
 */
import { FakeClock } from '@huiying/clock';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type ConsoleBrowser, openConsole } from '../../web/test/browser.ts';
import { type EmbeddedHarness, startEmbedded } from './embedded-harness.ts';

const T0 = Date.parse('2026-10-14T10:00:00+08:00');
const clock = new FakeClock(T0);
const two = (n: number) => String(n).padStart(2, '0');
const UNITS = Array.from({ length: 25 }, (_, i) => ({
  id: `u${two(i + 1)}`,
  name: `测试单位${two(i + 1)}`,
  email: `u${two(i + 1)}@example.test`,
}));
let env: EmbeddedHarness;
let ui: ConsoleBrowser;

/** The first column of the table's rows (the unit id, the username). */
async function firstColumn(page: Page, testid: string): Promise<string[]> {
  const cells = page.getByTestId(testid).locator('.el-table__body tbody tr td:first-child');
  return (await cells.allTextContents()).map((t) => t.trim());
}

beforeAll(async () => {
  env = await startEmbedded({ clock, listen: true, units: UNITS });
  ui = await openConsole(env.url);
});
afterAll(async () => {
  await ui?.close();
  await env?.stop();
});

it('an administrator pages through 25 units, searches them, and clears the search', async () => {
  const page = await ui.loginAs('admin');
  await page.getByTestId('nav-admin-units').click();
  const pager = page.getByTestId('admin-units-pager');
  await expect.poll(() => pager.locator('.el-pagination__total').textContent()).toMatch(/共\s*25\s*条/);
  await expect.poll(() => firstColumn(page, 'admin-units')).toEqual(UNITS.slice(0, 20).map((u) => u.id));

  await pager.locator('.el-pager li', { hasText: /^2$/ }).click();
  await expect.poll(() => firstColumn(page, 'admin-units')).toEqual(['u21', 'u22', 'u23', 'u24', 'u25']);
  await ui.shot(page, 'admin-units-page2');

  // The search runs on the server: the total is that of the matches, and the list starts at page 1.
  await page.getByTestId('admin-units-q').fill('测试单位1');
  await page.getByTestId('admin-units-search').click();
  await expect.poll(() => firstColumn(page, 'admin-units')).toEqual(['u10', 'u11', 'u12', 'u13', 'u14', 'u15', 'u16', 'u17', 'u18', 'u19']);
  expect(await pager.locator('.el-pagination__total').textContent()).toMatch(/共\s*10\s*条/);
  expect((await pager.locator('.el-pager li.is-active').textContent())?.trim()).toBe('1');

  // Enter searches too; a search that matches nothing shows an empty table and 共 0 条.
  await page.getByTestId('admin-units-q').fill('不存在的单位');
  await page.getByTestId('admin-units-q').press('Enter');
  await expect.poll(() => pager.locator('.el-pagination__total').textContent()).toMatch(/共\s*0\s*条/);
  expect(await firstColumn(page, 'admin-units')).toEqual([]);

  // Clearing the box shows every unit again.
  await page.getByTestId('admin-units-q').fill('');
  await page.getByTestId('admin-units-search').click();
  await expect.poll(() => pager.locator('.el-pagination__total').textContent()).toMatch(/共\s*25\s*条/);

  // A larger page size holds them all.
  await pager.locator('.el-pagination__sizes .el-select').click();
  await page.locator('.el-select-dropdown__item', { hasText: '50条/页' }).click();
  await expect.poll(() => firstColumn(page, 'admin-units')).toHaveLength(25);
  expect(ui.pageErrors).toEqual([]);
});

it('the users list searches and filters by role and unit on the server', async () => {
  const page = await ui.loginAs('admin');
  await page.getByTestId('nav-admin-users').click();
  const pager = page.getByTestId('admin-users-pager');
  // duty, leader, admin and unit-u01 … unit-u25.
  await expect.poll(() => pager.locator('.el-pagination__total').textContent()).toMatch(/共\s*28\s*条/);
  await page.getByTestId('admin-users-q').fill('unit-u2');
  await page.getByTestId('admin-users-search').click();
  await expect
    .poll(() => firstColumn(page, 'admin-users'))
    .toEqual(['unit-u20', 'unit-u21', 'unit-u22', 'unit-u23', 'unit-u24', 'unit-u25']);

  await page.getByTestId('admin-users-q').fill('');
  await page.getByTestId('admin-users-role').click();
  await page.locator('.el-select-dropdown__item', { hasText: '领导' }).click();
  await expect.poll(() => firstColumn(page, 'admin-users')).toEqual(['leader']);
  // Role and unit together: the unit users of 测试单位07.
  await page.getByTestId('admin-users-role').click();
  await page.locator('.el-select-dropdown__item:visible', { hasText: '责任单位' }).click();
  await page.getByTestId('admin-users-unit').click();
  await page.locator('.el-select-dropdown__item:visible', { hasText: '测试单位07' }).click();
  await expect.poll(() => firstColumn(page, 'admin-users')).toEqual(['unit-u07']);
  await ui.shot(page, 'admin-users-filtered');
  expect(ui.pageErrors).toEqual([]);
});
