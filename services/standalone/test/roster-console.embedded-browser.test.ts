/**
 * The 值班表 page in real headless Chromium on the embedded default: an administrator sees the
 * week's shifts (the server's week, on the fake clock) with who is on shift and the gaps, and
 * may edit them; a duty officer reads the same page without the editing controls.
 */
import { FakeClock } from '@huiying/clock';
import { dutyShifts, eq, users } from '@huiying/db';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type ConsoleBrowser, openConsole } from '../../web/test/browser.ts';
import { type EmbeddedHarness, startEmbedded } from './embedded-harness.ts';

const H = 3_600_000;
const T0 = Date.parse('2026-10-14T10:00:00+08:00'); // a Wednesday
const clock = new FakeClock(T0);
let env: EmbeddedHarness;
let ui: ConsoleBrowser;

beforeAll(async () => {
  env = await startEmbedded({ clock, listen: true });
  const [duty] = await env.handle.db.select({ id: users.id }).from(users).where(eq(users.username, 'duty'));
  const at = new Date(T0);
  await env.handle.db.insert(dutyShifts).values([
    {
      id: 'sh-1',
      userId: duty!.id,
      startsAt: new Date(T0 - 2 * H),
      endsAt: new Date(T0 + 6 * H),
      note: '白班',
      createdBy: 'test',
      createdAt: at,
      updatedAt: at,
    },
  ]);
  ui = await openConsole(env.url);
});
afterAll(async () => {
  await ui?.close();
  await env?.stop();
});

it('an administrator sees the week with the officer on shift and the gaps; a duty officer reads it without editing', async () => {
  const admin = await ui.loginAs('admin');
  await admin.getByTestId('nav-roster').click();
  const table = admin.getByTestId('roster-table');
  await table.getByText('白班').waitFor();
  const row = (await table.textContent()) ?? '';
  expect(row).toContain('10/14');
  expect(row).toContain('08:00');
  expect(row).toContain('16:00');
  expect(row).toContain('8小时');
  await expect(admin.getByTestId('roster-on-shift').textContent()).resolves.toContain('值班员');
  // Before 08:00 and after 16:00 nobody is on shift: urgent alerts would go to the duty mailbox.
  await expect(admin.getByTestId('roster-gaps').textContent()).resolves.toMatch(/16:00/);
  expect(await admin.getByTestId('roster-add').count()).toBe(1);
  await ui.shot(admin, 'roster');
  // The next week is empty.
  await admin.getByTestId('roster-next').click();
  await table.getByText('本周尚未排班').waitFor();

  const duty = await ui.loginAs('duty');
  await duty.getByTestId('nav-roster').click();
  await duty.getByTestId('roster-table').getByText('白班').waitFor();
  expect(await duty.getByTestId('roster-add').count()).toBe(0);
  expect(await duty.getByTestId('roster-table').getByText('编辑').count()).toBe(0);
  expect(ui.pageErrors).toEqual([]);
}, 120_000);
