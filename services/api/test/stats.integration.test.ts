/**
 * 领导统计 on the real PostgreSQL: a small data set written by hand into the read model
 * (units, incidents, clocks, breach alerts, working-day duties), every figure checked against
 * values computed by hand below, and the CSV/XLSX/DOCX exports read back.
 *
 * Now is 2026-12-01 10:00 (+08:00); the period under test is November 2026, (11-01 00:00, 12-01 00:00].
 *
 *   fact          unit(attributed)  level  kind                 due (+08)        responded         outcome   overdue
 *   inc-a/1       housing           III    response             11-04 08:00      11-03 20:00       on_time
 *   inc-b/2       env               I      release              11-05 15:00      11-05 14:00       on_time
 *   inc-b/3       env               I      press_conference     11-06 10:00      11-06 16:00       late      6 h
 *   inc-b/1       (cancelled: superseded — not counted)
 *   inc-c/1       env               IV     response             11-12 09:00      —                 breached  19 d 1 h = 457 h
 *   inc-d/1       health            III    response             11-17 12:00      11-17 11:00       on_time   (breach retracted)
 *   inc-e/1       env (breach alert; now housing) ungraded response 11-22 00:00  11-22 06:00       late      6 h
 *   inc-f/1       (waived: dismissed — not counted)
 *   inc-g/1       health            II     release              11-30 01:00      11-30 00:30       on_time
 *   inc-g/2       health            II     press_conference     11-30 20:00      —                 breached  14 h
 *   duty-1        env               —      policy_interpretation 11-06 00:00     11-04 15:00       on_time
 *   duty-2        housing           —      disclosure_request   12-01 00:00 (end of 11-30) 12-01 09:00 late 9 h
 *   duty-3        health            —      service_change       11-11 00:00      —                 breached  20 d 10 h = 490 h
 *   duty-4        traffic           —      proposal_reply       11-20 00:00 (suspended)            pending
 * Outside November: inc-h (due 12-02, running → pending in December), inc-i (due 10-20, late 3 h),
 * inc-j (due exactly 11-01 00:00 → October's, on time), inc-k (August, still `running` past its due).
 */
import swagger from '@fastify/swagger';
import type { Clock } from '@huiying/clock';
import { type DbHandle, sql } from '@huiying/db';
import { freshDatabase, type Injectable, loginAs } from '@huiying/testkit';
import ExcelJS from 'exceljs';
import Fastify, { type FastifyInstance } from 'fastify';
import JSZip from 'jszip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authPlugin, installErrorHandler, registerSecurity } from '@huiying/http';
import { createToken, ensureDemoAccounts } from '@huiying/identity';
import { type AuthRouteOptions, authRoutes } from '../src/routes/auth.ts';
import { rollupStats, runRollup } from '../src/stats/rollup.ts';
import { statsRoutes } from '../src/stats/routes.ts';

const H = 3_600_000;
const at = (local: string) => new Date(`2026-${local}:00+08:00`);
const NOW = at('12-01T10:00');
const clock: Clock = { now: () => NOW.getTime() } as Clock;

let handle: DbHandle & { drop(): Promise<void> };
let app: FastifyInstance;

async function seed(db: DbHandle['db']) {
  await db.execute(sql`insert into units (id, name) values
    ('env', '市生态环境局'), ('housing', '市住房和城乡建设局'), ('health', '市卫生健康委员会'), ('traffic', '市交通运输局')`);
  const incident = (id: string, title: string, level: string | null, unit: string | null, start: string) =>
    db.execute(sql`insert into incidents (id, title, level, unit_id, status, start_at, state, created_at, updated_at)
      values (${id}, ${title}, ${level}, ${unit}, 'open', ${at(start).toISOString()}, '{}'::jsonb, now(), now())`);
  const clockRow = (
    id: string,
    seq: number,
    kind: string,
    state: string,
    start: string,
    due: string,
    responded: string | null,
    late: boolean | null,
    unit: string | null,
  ) =>
    db.execute(sql`insert into clocks (incident_id, seq, kind, state, start_at, due_at, responded_at, late, unit_id, updated_at)
      values (${id}, ${seq}, ${kind}, ${state}, ${at(start).toISOString()}, ${at(due).toISOString()},
        ${responded === null ? null : at(responded).toISOString()}, ${late}, ${unit}, now())`);
  const breach = (id: string, kind: string, due: string, unit: string | null, retracted: string | null = null) =>
    db.execute(sql`insert into alerts (id, incident_id, kind, clock, due_at, unit_id, at, retracted_at)
      values (${`alr_${id}_${kind}`}, ${id}, 'breached', ${kind}, ${at(due).toISOString()}, ${unit}, ${at(due).toISOString()},
        ${retracted === null ? null : at(retracted).toISOString()})`);

  await incident('inc-a', '某小区加装电梯补贴发放争议', 'III', 'housing', '11-02T08:00');
  await clockRow('inc-a', 1, 'response', 'met', '11-02T08:00', '11-04T08:00', '11-03T20:00', false, 'housing');

  await incident('inc-b', '化工园区异味投诉', 'I', 'env', '11-05T10:00');
  await clockRow('inc-b', 1, 'response', 'cancelled', '11-05T10:00', '11-07T10:00', null, null, 'env');
  await clockRow('inc-b', 2, 'release', 'met', '11-05T10:00', '11-05T15:00', '11-05T14:00', false, 'env');
  await clockRow('inc-b', 3, 'press_conference', 'met', '11-05T10:00', '11-06T10:00', '11-06T16:00', true, 'env');
  await breach('inc-b', 'press_conference', '11-06T10:00', 'env');

  await incident('inc-c', '河道黑臭水体反映', 'IV', 'env', '11-10T09:00');
  await clockRow('inc-c', 1, 'response', 'breached', '11-10T09:00', '11-12T09:00', null, null, 'env');
  await breach('inc-c', 'response', '11-12T09:00', 'env');

  await incident('inc-d', '医院挂号难', 'III', 'health', '11-15T12:00');
  await clockRow('inc-d', 1, 'response', 'met', '11-15T12:00', '11-17T12:00', '11-17T11:00', false, 'health');
  await breach('inc-d', 'response', '11-17T12:00', 'health', '11-17T15:00');

  // Breached while env was responsible, then reassigned (转办) to housing: the breach stays env's.
  await incident('inc-e', '老旧管网漏水', null, 'housing', '11-20T00:00');
  await clockRow('inc-e', 1, 'response', 'met', '11-20T00:00', '11-22T00:00', '11-22T06:00', true, 'housing');
  await breach('inc-e', 'response', '11-22T00:00', 'env');

  await incident('inc-f', '重复线索', 'IV', 'env', '11-23T00:00');
  await clockRow('inc-f', 1, 'response', 'waived', '11-23T00:00', '11-25T00:00', null, null, 'env');

  await incident('inc-g', '流感疫苗供应紧张', 'II', 'health', '11-29T20:00');
  await clockRow('inc-g', 1, 'release', 'met', '11-29T20:00', '11-30T01:00', '11-30T00:30', false, 'health');
  await clockRow('inc-g', 2, 'press_conference', 'breached', '11-29T20:00', '11-30T20:00', null, null, 'health');
  await breach('inc-g', 'press_conference', '11-30T20:00', 'health');

  await incident('inc-h', '公交线路调整', 'III', 'housing', '11-30T12:00');
  await clockRow('inc-h', 1, 'response', 'running', '11-30T12:00', '12-02T12:00', null, null, 'housing');

  await incident('inc-i', '十月旧案', 'IV', 'env', '10-18T09:00');
  await clockRow('inc-i', 1, 'response', 'met', '10-18T09:00', '10-20T09:00', '10-20T12:00', true, 'env');
  await breach('inc-i', 'response', '10-20T09:00', 'env');

  await incident('inc-j', '月末零点到期', 'III', 'housing', '10-30T00:00');
  await clockRow('inc-j', 1, 'response', 'met', '10-30T00:00', '11-01T00:00', '10-31T12:00', false, 'housing');

  // The timer has not written this breach yet (engine down, or catching up): past due is breached all the same.
  await incident('inc-k', '八月未处理', 'IV', 'traffic', '08-01T00:00');
  await clockRow('inc-k', 1, 'response', 'running', '08-01T00:00', '08-03T00:00', null, null, 'traffic');

  const duty = (
    id: string,
    kind: string,
    title: string,
    unit: string,
    status: string,
    issued: string,
    due: string,
    responded: string | null,
    late: boolean | null,
    suspended = false,
  ) => {
    const state = {
      v: 1,
      id,
      kind,
      startAt: at(issued).getTime(),
      dueAt: at(due).getTime(),
      state: status,
      respondedAt: responded === null ? null : at(responded).getTime(),
      late,
      suspension: suspended ? { since: at('11-18T10:00').getTime(), reason: 'third_party', remainingWorkingDays: 2 } : null,
    };
    return db.execute(sql`insert into obligations (id, kind, title, unit_id, state, status, due_at, created_at, updated_at)
      values (${id}, ${kind}, ${title}, ${unit}, ${JSON.stringify(state)}::jsonb, ${status}, ${at(due).toISOString()}, now(), now())`);
  };
  await duty(
    'duty-1',
    'policy_interpretation',
    '《大气污染防治办法》政策解读',
    'env',
    'met',
    '11-02T10:00',
    '11-06T00:00',
    '11-04T15:00',
    false,
  );
  await duty(
    'duty-2',
    'disclosure_request',
    '依申请公开：拆迁补偿标准',
    'housing',
    'met',
    '11-03T09:00',
    '12-01T00:00',
    '12-01T09:00',
    true,
  );
  await duty('duty-3', 'service_change', '预约挂号服务变更公开', 'health', 'breached', '11-10T09:00', '11-11T00:00', null, null);
  await duty('duty-4', 'proposal_reply', '建议提案复文：公交专用道', 'traffic', 'running', '11-06T09:00', '11-20T00:00', null, null, true);
}

/** The callers, logged in through the real auth plugin: a leader, a unit user, a machine token. */
const USERS: Record<string, Injectable> = {};
beforeAll(async () => {
  handle = await freshDatabase();
  await seed(handle.db);
  app = Fastify();
  await app.register(swagger, { openapi: { info: { title: 't', version: '0' } } });
  installErrorHandler(app);
  await app.register(authPlugin, { db: handle.db, clock });
  await registerSecurity(app);
  await app.register(authRoutes, { db: handle.db, realClock: clock } as unknown as AuthRouteOptions);
  await app.register(statsRoutes, { db: handle.db, clock });
  await app.ready();
  await ensureDemoAccounts(handle.db, new Date(clock.now()));
  USERS.leader = await loginAs(app, 'leader');
  USERS.housing = await loginAs(app, 'unit-housing');
  const { token } = await createToken(handle.db, { name: 'hotline', scopes: ['tickets:write'] }, 'test', new Date(clock.now()));
  USERS.token = { inject: (o) => app.inject({ ...o, headers: { authorization: `Bearer ${token}` } } as never) as never };
});

afterAll(async () => {
  await app?.close();
  await handle?.drop();
});

const get = (url: string, user = 'leader') => (user ? USERS[user]! : (app as unknown as Injectable)).inject({ method: 'GET', url });
const json = async <T = Record<string, unknown>>(url: string, user = 'leader') => {
  const res = await get(url, user);
  expect(res.statusCode, res.body).toBe(200);
  return res.json<T>();
};

type Row = {
  key: string | null;
  label: string;
  counted: number;
  onTime: number;
  late: number;
  breached: number;
  pending: number;
  retracted: number;
  onTimeRate: number | null;
  overdue: { count: number; totalMs: number; maxMs: number | null; medianMs: number | null };
  firstResponse: { incidents: number; medianMs: number | null; p90Ms: number | null };
  rank?: number;
};

// Every figure twice: from the live tables (before any rollup run), then from the rollup (run
// once after the seed, nothing changed since its watermark): both must give the hand-computed values.
describe.each(['the live tables', 'the rollup'] as const)('from %s', (mode) => {
  beforeAll(async () => {
    if (mode === 'the live tables') await handle.db.execute(sql`delete from stats_rollup_state`);
    else expect((await runRollup(handle.db, { full: true, marginMs: 0 }))?.full).toBe(true);
  });

  it('the figures come from where they should', async () => {
    const november = { from: at('11-01T00:00'), to: at('12-01T00:00') };
    const rolled = await rollupStats(handle.db, NOW, {}, november, 'unit');
    if (mode === 'the rollup') expect(rolled?.map((r) => r.key)).toEqual(['env', 'health', 'housing', 'traffic']);
    else expect(rolled).toBeNull();
  });

  describe('figures for November 2026', () => {
    it('totals: counts, on-time rate, overdue, first response (median, p90)', async () => {
      const { totals, period } = await json<{ totals: Row; period: { from: string; to: string; label: string } }>(
        '/api/stats/overview?month=2026-11',
      );
      expect(period).toEqual({ from: '2026-10-31T16:00:00.000Z', to: '2026-11-30T16:00:00.000Z', label: '2026年11月' });
      expect(totals).toMatchObject({
        // counted = 5 on time (a, b/2, d, g/1, duty-1) + 3 late (b/3, e, duty-2) + 3 breached (c, g/2, duty-3)
        counted: 11,
        onTime: 5,
        late: 3,
        breached: 3,
        pending: 1, // duty-4, suspended past its frozen due
        retracted: 1, // inc-d
        overdue: {
          count: 6,
          // 6 h + 6 h + 9 h + 14 h + 457 h + 490 h = 982 h
          totalMs: 982 * H,
          maxMs: 490 * H,
          // sorted 6, 6, 9, 14, 457, 490 h → (9 + 14) / 2 = 11.5 h
          medianMs: 11.5 * H,
        },
        firstResponse: {
          incidents: 5,
          // a 36 h, b 4 h (release 14:00 − start 10:00), d 47 h, e 54 h, g 4.5 h → sorted 4, 4.5, 36, 47, 54: median 36 h
          medianMs: 36 * H,
          // p90 position 0.9 × (5 − 1) = 3.6 → 47 + 0.6 × (54 − 47) = 51.2 h
          p90Ms: 184_320_000,
        },
      });
      expect(totals.onTimeRate).toBeCloseTo(5 / 11, 12);
    });

    it('by unit: a breach stays with the unit responsible when it happened', async () => {
      const { items } = await json<{ items: Row[] }>('/api/stats/breakdown?by=unit&month=2026-11');
      expect(items.map((r) => r.key)).toEqual(['env', 'health', 'housing', 'traffic']);
      const [env, health, housing, traffic] = items as [Row, Row, Row, Row];
      // env: b/2 on time, b/3 late 6 h, c breached 457 h, e late 6 h (breach alert says env), duty-1 on time
      expect(env).toMatchObject({ label: '市生态环境局', counted: 5, onTime: 2, late: 2, breached: 1, onTimeRate: 0.4 });
      expect(env.overdue).toEqual({ count: 3, totalMs: 469 * H, maxMs: 457 * H, medianMs: 6 * H });
      // first responses b 4 h, e 54 h: median (4 + 54) / 2 = 29 h; p90 4 + 0.9 × 50 = 49 h
      expect(env.firstResponse).toEqual({ incidents: 2, medianMs: 29 * H, p90Ms: 49 * H });
      // health: d on time (retracted), g/1 on time, g/2 breached 14 h, duty-3 breached 490 h
      expect(health).toMatchObject({ counted: 4, onTime: 2, late: 0, breached: 2, retracted: 1, onTimeRate: 0.5 });
      expect(health.overdue).toEqual({ count: 2, totalMs: 504 * H, maxMs: 490 * H, medianMs: 252 * H });
      // d 47 h, g 4.5 h: median 25.75 h; p90 4.5 + 0.9 × 42.5 = 42.75 h
      expect(health.firstResponse).toEqual({ incidents: 2, medianMs: 25.75 * H, p90Ms: 42.75 * H });
      // housing: a on time, duty-2 late 9 h (due at the end of 30 November = 12-01 00:00 belongs to November)
      expect(housing).toMatchObject({ counted: 2, onTime: 1, late: 1, breached: 0, onTimeRate: 0.5 });
      expect(housing.overdue).toEqual({ count: 1, totalMs: 9 * H, maxMs: 9 * H, medianMs: 9 * H });
      expect(housing.firstResponse).toEqual({ incidents: 1, medianMs: 36 * H, p90Ms: 36 * H });
      expect(traffic).toMatchObject({ counted: 0, pending: 1, onTimeRate: null });
    });

    it('ranking: rate, then fewer missed, units with nothing due last', async () => {
      const { items } = await json<{ items: Row[] }>('/api/stats/ranking?month=2026-11');
      // housing 50 % with 1 missed, health 50 % with 2 missed, env 40 %, traffic nothing due
      expect(items.map((r) => [r.key, r.rank])).toEqual([
        ['housing', 1],
        ['health', 2],
        ['env', 3],
        ['traffic', 4],
      ]);
    });

    it('by level (duties have none) and by clock kind (duty kinds included)', async () => {
      const byLevel = (await json<{ items: Row[] }>('/api/stats/breakdown?by=level&month=2026-11')).items;
      const counts = (rows: Row[]) =>
        Object.fromEntries(rows.map((r) => [String(r.key), [r.counted, r.onTime, r.late, r.breached, r.pending]]));
      expect(counts(byLevel)).toEqual({
        I: [2, 1, 1, 0, 0], // b/2, b/3
        II: [2, 1, 0, 1, 0], // g/1, g/2
        III: [2, 2, 0, 0, 0], // a, d
        IV: [1, 0, 0, 1, 0], // c
        ungraded: [1, 0, 1, 0, 0], // e
        null: [3, 1, 1, 1, 1], // duty-1..4
      });
      expect(byLevel.find((r) => r.key === 'I')?.label).toBe('特别重大（Ⅰ级）');
      const byKind = (await json<{ items: Row[] }>('/api/stats/breakdown?by=kind&month=2026-11')).items;
      expect(counts(byKind)).toEqual({
        response: [4, 2, 1, 1, 0], // a, d on time; e late; c breached
        release: [2, 2, 0, 0, 0],
        press_conference: [2, 0, 1, 1, 0],
        policy_interpretation: [1, 1, 0, 0, 0],
        disclosure_request: [1, 0, 1, 0, 0],
        service_change: [1, 0, 0, 1, 0],
        proposal_reply: [0, 0, 0, 0, 1],
      });
    });

    it('filters: level + kind, duties only, a month with only a pending clock', async () => {
      const r1 = (await json<{ totals: Row }>('/api/stats/overview?month=2026-11&level=III&kind=response')).totals;
      expect([r1.counted, r1.onTime]).toEqual([2, 2]); // a, d
      const r2 = (await json<{ totals: Row }>('/api/stats/overview?from=2026-11-01&to=2026-11-30&source=duty')).totals;
      expect([r2.counted, r2.onTime, r2.late, r2.breached, r2.pending]).toEqual([3, 1, 1, 1, 1]);
      const r3 = (await json<{ totals: Row }>('/api/stats/overview?month=2026-12')).totals;
      expect([r3.counted, r3.pending, r3.onTimeRate]).toEqual([0, 1, null]); // inc-h, due 12-02
    });

    it('a clock still running past its due (the timer has not written the breach yet) counts as breached', async () => {
      const { totals } = await json<{ totals: Row }>('/api/stats/overview?month=2026-08');
      // now − due = 12-01 10:00 − 08-03 00:00 = 120 days + 10 h = 2890 h
      expect(totals).toMatchObject({
        counted: 1,
        breached: 1,
        pending: 0,
        overdue: { count: 1, totalMs: 2890 * H, maxMs: 2890 * H, medianMs: 2890 * H },
      });
    });

    it('monthly trend fills empty months; a due at exactly 00:00 on the 1st belongs to the month before', async () => {
      const { items } = await json<{ items: Row[] }>('/api/stats/trend?from=2026-09-01&to=2026-11-30');
      expect(items.map((r) => [r.key, r.label, r.counted, r.onTime, r.late, r.breached])).toEqual([
        ['2026-09', '2026年9月', 0, 0, 0, 0],
        ['2026-10', '2026年10月', 2, 1, 1, 0], // inc-i late 3 h, inc-j due 11-01 00:00 on time
        ['2026-11', '2026年11月', 11, 5, 3, 3],
      ]);
      expect(items[1]!.overdue.totalMs).toBe(3 * H);
    });

    it('drill-down lists the deadlines behind a figure', async () => {
      const r = await json<{
        items: { id: string; seq: number; outcome: string; overdueMs: number; unit: { id: string } | null; source: string }[];
        total: number;
      }>('/api/stats/items?month=2026-11&outcome=breached');
      expect(r.total).toBe(3);
      // latest due first: g/2 11-30 20:00, c 11-12 09:00, duty-3 11-11 00:00
      expect(r.items.map((i) => [i.id, i.seq, i.source, i.unit?.id, i.overdueMs])).toEqual([
        ['inc-g', 2, 'incident', 'health', 14 * H],
        ['inc-c', 1, 'incident', 'env', 457 * H],
        ['duty-3', 0, 'duty', 'health', 490 * H],
      ]);
      const page2 = await json<{ items: { id: string }[]; total: number; page: number }>(
        '/api/stats/items?month=2026-11&unit=env&page=2&pageSize=3',
      );
      // env's 5 deadlines by due desc: e (11-22), c (11-12), b/3 (11-06), duty-1 (11-06 00:00), b/2 (11-05) → page 2 = duty-1, b/2
      expect(page2.total).toBe(5);
      expect(page2.items.map((i) => i.id)).toEqual(['duty-1', 'inc-b']);
    });
  });

  describe('drill-down from every figure', () => {
    type Item = { id: string; seq: number; outcome: string };
    const items = (q: string) => json<{ items: Item[]; total: number }>(`/api/stats/items?month=2026-11&pageSize=500&${q}`);

    it('到期 (several outcomes), 未到期, overdue and first response list as many items as the figure counts', async () => {
      const { totals } = await json<{ totals: Row }>('/api/stats/overview?month=2026-11');
      const rowsBy = async (by: string) => (await json<{ items: Row[] }>(`/api/stats/breakdown?by=${by}&month=2026-11`)).items;
      const figures: [string, Row][] = [
        ['', totals],
        ...(await rowsBy('unit')).map((r): [string, Row] => [`unit=${r.key ?? 'none'}`, r]),
        // Duties have no level: their row's key is null.
        ...(await rowsBy('level')).map((r): [string, Row] => [r.key === null ? 'source=duty' : `level=${r.key}`, r]),
        ...(await rowsBy('kind')).map((r): [string, Row] => [`kind=${r.key}`, r]),
      ];
      expect(figures).toHaveLength(1 + 4 + 6 + 7);
      for (const [q, row] of figures) {
        expect((await items(`${q}&outcome=on_time&outcome=late&outcome=breached`)).total, `${q} 到期`).toBe(row.counted);
        expect((await items(`${q}&outcome=on_time`)).total, `${q} 按时`).toBe(row.onTime);
        expect((await items(`${q}&outcome=pending`)).total, `${q} 未到期`).toBe(row.pending);
        expect((await items(`${q}&outcome=late&outcome=breached`)).total, `${q} 超时`).toBe(row.overdue.count);
        expect((await items(`${q}&firstResponse=true`)).total, `${q} 首次回应`).toBe(row.firstResponse.incidents);
      }
    });

    it('first response: one row per incident, its earliest met clock', async () => {
      const first = await items('firstResponse=true');
      // b's release (11-05 14:00) came before its late press conference; g's release before its breach.
      expect(first.items.map((i) => `${i.id}/${i.seq} ${i.outcome}`).sort()).toEqual([
        'inc-a/1 on_time',
        'inc-b/2 on_time',
        'inc-d/1 on_time',
        'inc-e/1 late',
        'inc-g/1 on_time',
      ]);
      expect((await items('firstResponse=true&source=duty')).total).toBe(0);
      expect((await get('/api/stats/items?outcome=soon')).statusCode).toBe(400);
      expect((await get('/api/stats/items?outcome=late&outcome=late&outcome=late&outcome=late&outcome=late')).statusCode).toBe(400);
    });
  });

  describe('access', () => {
    it('a unit user sees its own unit only; another unit is a 404, like an unknown one', async () => {
      const { totals } = await json<{ totals: Row }>('/api/stats/overview?month=2026-11', 'housing');
      expect([totals.counted, totals.onTime, totals.late]).toEqual([2, 1, 1]);
      const units = (await json<{ items: Row[] }>('/api/stats/breakdown?by=unit&month=2026-11', 'housing')).items;
      expect(units.map((u) => u.key)).toEqual(['housing']);
      expect((await get('/api/stats/overview?unit=env', 'housing')).statusCode).toBe(404);
      expect((await get('/api/stats/items?unit=env&outcome=breached', 'housing')).statusCode).toBe(404);
      expect((await get('/api/stats/overview?unit=housing', 'housing')).statusCode).toBe(200);
      expect((await get('/api/stats/overview?unit=nowhere')).statusCode).toBe(404);
    });

    it('no user is a 401, a token without a role a 403', async () => {
      expect((await get('/api/stats/overview', '')).json()).toMatchObject({ code: 'HY_UNAUTHENTICATED' });
      expect((await get('/api/stats/overview', '')).statusCode).toBe(401);
      expect((await get('/api/stats/overview', 'token')).statusCode).toBe(403);
    });

    it('bad periods are 400s; the routes are in the OpenAPI document', async () => {
      expect((await get('/api/stats/overview?month=2026-11&from=2026-11-01')).statusCode).toBe(400);
      expect((await get('/api/stats/overview?from=2026-12-01&to=2026-11-01')).statusCode).toBe(400);
      expect((await get('/api/stats/breakdown?by=weekday')).statusCode).toBe(400);
      const doc = app.swagger() as { paths: Record<string, unknown> };
      expect(Object.keys(doc.paths).filter((p) => p.startsWith('/api/stats/'))).toEqual(
        expect.arrayContaining([
          '/api/stats/overview',
          '/api/stats/breakdown',
          '/api/stats/ranking',
          '/api/stats/trend',
          '/api/stats/items',
          '/api/stats/export.csv',
          '/api/stats/export.xlsx',
          '/api/stats/notice.docx',
        ]),
      );
    });
  });

  describe('exports', () => {
    it('CSV by unit, with a BOM and Chinese headers', async () => {
      const res = await get('/api/stats/export.csv?view=unit&month=2026-11');
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toContain('text/csv');
      expect(res.headers['content-disposition']).toContain("filename*=UTF-8''");
      const lines = res.body
        .replace(/^\ufeff/, '')
        .trim()
        .split('\r\n');
      expect(lines[0]).toMatch(/^名称,到期事项数,按时,超时回应,超时未回应,未到期/);
      // env: 5 counted, 2/2/1, 0 pending, 0 retracted, 0.4, 3 overdue totalling 469 h, max 457, median 6; fr 2, 29 h, 49 h
      expect(lines[1]).toBe('市生态环境局,5,2,2,1,0,0,0.4,3,469,457,6,2,29,49');
      const items = (await get('/api/stats/export.csv?view=items&month=2026-11&outcome=late')).body.split('\r\n');
      expect(items).toHaveLength(1 + 3 + 1); // header, e, duty-2, b/3, trailing empty
      expect(items[1]).toContain('依申请公开：拆迁补偿标准');
      expect(items[1]).toContain('2026-12-01 00:00'); // due, Asia/Shanghai
    });

    it('CSV of the items takes several outcomes as the drill-down does, and lists the same deadlines', async () => {
      const q = 'month=2026-11&outcome=late&outcome=breached';
      const drill = (await get(`/api/stats/items?${q}&pageSize=500`)).json<{ total: number; items: { title: string }[] }>();
      expect(drill.total).toBe(6); // November's 超时: 3 late + 3 breached (the trend above)
      const res = await get(`/api/stats/export.csv?view=items&${q}`);
      expect(res.statusCode).toBe(200);
      const rows = res.body
        .replace(/^\ufeff/, '')
        .trim()
        .split('\r\n')
        .slice(1);
      expect(rows).toHaveLength(drill.total);
      expect(rows.map((r) => drill.items.some((i) => r.includes(i.title)))).toEqual(rows.map(() => true));
      // One outcome still works; the drill-down's validation holds: an unknown outcome, more than four, or outcomes on a table of figures.
      expect((await get('/api/stats/export.csv?view=items&month=2026-11&outcome=breached')).body.trim().split('\r\n')).toHaveLength(1 + 3);
      for (const bad of [
        'view=items&outcome=soon',
        'view=items&outcome=late&outcome=late&outcome=late&outcome=late&outcome=late',
        'view=unit&outcome=late',
      ]) {
        const refused = await get(`/api/stats/export.csv?${bad}`);
        expect(refused.statusCode, bad).toBe(400);
        expect(refused.json<{ code: string; message: string }>().message, bad).toMatch(/^querystring\/outcome/);
      }
    });

    it('XLSX read back with exceljs', async () => {
      const res = await get('/api/stats/export.xlsx?month=2026-11');
      expect(res.statusCode).toBe(200);
      const book = new ExcelJS.Workbook();
      await book.xlsx.load(res.rawPayload as unknown as ArrayBuffer);
      expect(book.worksheets.map((s) => s.name)).toEqual(['汇总', '单位排名', '按级别', '按时限类型', '按月趋势', '明细']);
      const totals = book.getWorksheet('汇总')!.getRow(3).values as unknown[];
      // [empty, label, counted, onTime, late, breached, pending, retracted, rate (5/11 to 4 places), overdue count, total 982 h]
      expect(totals.slice(1, 12)).toEqual(['合计', 11, 5, 3, 3, 1, 1, 0.4545, 6, 982, 490]);
      const ranking = book.getWorksheet('单位排名')!;
      expect([3, 4, 5, 6].map((r) => [ranking.getRow(r).getCell(1).value, ranking.getRow(r).getCell(2).value])).toEqual([
        [1, '市住房和城乡建设局'],
        [2, '市卫生健康委员会'],
        [3, '市生态环境局'],
        [4, '市交通运输局'],
      ]);
      expect(book.getWorksheet('明细')!.rowCount).toBe(2 + 12); // title, header, 12 November deadlines (11 + pending duty-4)
    });

    it('the 通报 DOCX: title, 主送, figures, units that breached, the 附件 table', async () => {
      const res = await get('/api/stats/notice.docx?month=2026-11&issuer=' + encodeURIComponent('某市人民政府办公室'));
      expect(res.statusCode).toBe(200);
      const zip = await JSZip.loadAsync(res.rawPayload);
      const xml = await zip.file('word/document.xml')!.async('string');
      const text = xml.replace(/<[^>]+>/g, '');
      expect(text).toContain('关于2026年11月政务舆情回应超时情况的通报');
      expect(text).toContain('各区人民政府，市政府各部门、各直属机构：');
      expect(text).toContain(
        '2026年11月，共有11项回应时限到期，其中舆情事件回应时限8项、工作日时限公开事项3项。按时回应5项，超时回应3项，超时未回应3项，按时回应率为45.5%。',
      );
      // first responses: median 36 h, p90 51.2 h = 51 h 12 min
      expect(text).toContain('已作出权威回应的舆情事件5件，首次权威回应用时中位数为1天12小时，90%的事件在2天3小时内作出首次回应。');
      // worst first: env 3 missed, health 2, housing 1
      expect(text).toContain(
        '本期共有3个单位存在超时情况：市生态环境局（超时回应2项、超时未回应1项，最长超时19天1小时）；市卫生健康委员会（超时未回应2项，最长超时20天10小时）；市住房和城乡建设局（超时回应1项，最长超时9小时）。',
      );
      expect(text).toContain('附件：2026年11月政务舆情回应超时事项清单');
      expect(text).toContain('某市人民政府办公室');
      expect(text).toContain('2026年12月1日');
      // the 附件 table: header + 6 late/breached deadlines
      expect(xml.match(/<w:tr>|<w:tr /g)).toHaveLength(7);
      expect(text).toContain('河道黑臭水体反映');
      expect(xml).toContain('w:eastAsia="仿宋_GB2312"');
    });

    it('the 通报 defaults to the previous month', async () => {
      const res = await get('/api/stats/notice.docx');
      expect(res.statusCode).toBe(200);
      expect(decodeURIComponent(String(res.headers['content-disposition']))).toContain('关于2026年11月政务舆情回应超时情况的通报.docx');
    });
  });
});
