/**
 * The demo's past quarter (PGlite, in-process bus, the whole composition on a fake clock): the
 * leader of a fresh embedded demo has statistics — on-time rates that differ by unit, late
 * answers, a monthly trend — and every matter of the past is answered, so the live board is not
 * cluttered with it. A second start on the same data directory does not live through it again.
 */
import { FakeClock } from '@huiying/clock';
import { type DbHandle, rowsOf, sql, units } from '@huiying/db';
import { ensureDemoAccounts } from '@huiying/identity';
import { freshPglite, testLogger } from '@huiying/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DEMO_UNITS } from '../src/demo.ts';
import { type HistoryResult, seedDemoHistory } from '../src/demo-history.ts';
import { type EmbeddedHarness, startEmbedded } from './embedded-harness.ts';

const NOW = Date.parse('2026-11-30T10:00:00+08:00');
let handle: DbHandle;
let env: EmbeddedHarness;
let result: HistoryResult;

beforeAll(async () => {
  handle = await freshPglite();
  await handle.db.insert(units).values(DEMO_UNITS);
  await ensureDemoAccounts(handle.db, new Date(NOW));
  result = await seedDemoHistory({ handle, now: NOW, logger: testLogger, dutyEmail: 'zwgk@demo.huiying.local' });
  env = await startEmbedded({ clock: new FakeClock(NOW), handle });
}, 300_000);

afterAll(async () => {
  await env?.stop();
  await handle?.close();
});

type Row = { key: string | null; counted: number; onTime: number; late: number; breached: number; onTimeRate: number | null };

it('gives the leader a quarter of figures: on time, late, by unit, by month', async () => {
  expect(result).toEqual({ incidents: 50, duties: 15, skipped: false });
  const leader = await env.as('leader');
  const period = 'from=2026-08-31&to=2026-11-30';
  const overview = (await leader.inject({ method: 'GET', url: `/api/stats/overview?${period}` })).json<{
    totals: Row & { firstResponse: { incidents: number } };
  }>();
  // 50 matters: 40 with one 48 h clock, about 10 graded II with two clocks; 15 duties.
  expect(overview.totals.counted).toBeGreaterThanOrEqual(60);
  expect(overview.totals.onTime).toBeGreaterThan(overview.totals.late);
  expect(overview.totals.late).toBeGreaterThan(0);
  expect(overview.totals.breached).toBe(0); // everything of the past was answered, some of it late
  const matters = rowsOf<{ n: number }>(
    await handle.db.execute(sql`select count(distinct incident_id)::int as n from signals where source_ref like 'HIST-%'`),
  );
  expect(matters[0]!.n).toBe(50); // one incident per matter: grouping kept them apart
  // First responses of the matters whose deadlines fell in the period (the earliest may fall just before it).
  expect(overview.totals.firstResponse.incidents).toBeGreaterThanOrEqual(45);

  const byUnit = (await leader.inject({ method: 'GET', url: `/api/stats/breakdown?by=unit&${period}` })).json<{ items: Row[] }>().items;
  const rate = (id: string) => byUnit.find((r) => r.key === id)!.onTimeRate!;
  expect(
    byUnit
      .filter((r) => r.counted > 0)
      .map((r) => r.key)
      .sort(),
  ).toEqual(['environment', 'health', 'housing', 'market', 'transport']);
  // Habits differ: the health commission answers in time far more often than transport.
  expect(rate('health')).toBeGreaterThan(rate('transport'));
  const months = (await leader.inject({ method: 'GET', url: `/api/stats/breakdown?by=month&${period}` })).json<{ items: Row[] }>().items;
  expect(months.filter((m) => m.counted > 0).length).toBeGreaterThanOrEqual(3);
});

it('leaves nothing of the past running, and its incidents show their whole story', async () => {
  const open = rowsOf<{ n: number }>(
    await handle.db.execute(sql`select count(*)::int as n from clocks c join signals s on s.incident_id = c.incident_id
      where s.source_ref like 'HIST-%' and c.state in ('running', 'breached')`),
  );
  expect(open[0]!.n).toBe(0);
  const late = rowsOf<{ incident_id: string }>(
    await handle.db.execute(sql`select c.incident_id from clocks c join signals s on s.incident_id = c.incident_id
      where s.source_ref like 'HIST-%' and c.late limit 1`),
  )[0]!;
  const duty = await env.as('duty');
  const res = await duty.inject({ method: 'GET', url: `/api/incidents/${late.incident_id}/timeline` });
  expect(res.statusCode, res.body).toBe(200);
  const timeline = res.json<{ responses: unknown[]; alerts: { kind: string }[]; mails: { status: string }[] }>();
  expect(timeline.responses.length).toBeGreaterThan(0);
  expect(timeline.alerts.map((a) => a.kind)).toContain('breached');
  // The ladder ran in the past too: its mail is recorded on the incident (to a recording adapter).
  expect(timeline.mails.length).toBeGreaterThan(0);
});

it('does not live through the quarter twice on the same data', async () => {
  expect(await seedDemoHistory({ handle, now: NOW, logger: testLogger, dutyEmail: 'zwgk@demo.huiying.local' })).toEqual({
    incidents: 0,
    duties: 0,
    skipped: true,
  });
});
