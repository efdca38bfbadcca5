/**
 * 通报候选 / 约谈候选 on the leaders' statistics (issue 10 steps 4 and 5), on the real PostgreSQL:
 * incidents with their clocks' ladder snapshots (the default pack: leaders 4 h after the due of
 * the 5 h and 24 h clocks, 12 h for the 48 h clock and working-day duties), breach alerts and
 * duties written by hand; the candidates checked against values worked out below. The 约谈 rule
 * is the default, 3 breaches in a quarter. Now is 2026-12-01 10:00 (+08:00), a fixed clock.
 *
 *   matter  unit (breach alert)  clock / ladder step      due (+08)     responded     candidate since   why
 *   inc-a   env                  release / leaders +4 h   11-05 15:00   —             11-05 19:00       open; overdue 619 h
 *   inc-b   env                  response / +12 h         11-10 09:00   11-10 20:00   —                 answered 11 h late, before the step
 *   inc-c   env (now housing)    response / +12 h         11-12 09:00   11-13 09:00   11-12 21:00       answered 24 h late, after the step
 *   inc-d   health               press_conference / +4 h  11-30 20:00   —             12-01 00:00       open; overdue 14 h
 *   inc-e   health               release / +4 h           12-01 08:00   —             (12-01 12:00)     not yet: after now
 *   inc-f   traffic              response / +12 h         09-29 09:00   —             09-29 21:00       Q3; overdue 1513 h
 *   inc-g   env                  response, waived         11-14 09:00   —             —                 nobody owes it
 *   inc-h   health               response, breach retracted 11-17 12:00 11-17 11:00   —                 on time after all
 *   inc-i   housing              release, ladder from 11-20 10:00, due 11-20 01:00 — 11-20 10:00       born past its step: clamped
 *   inc-j   env                  response, no ladder (stored before it) 11-02 09:00 —  —                 left alone
 *   duty-1  health               policy_interpretation +12 h 11-11 00:00 —            11-11 12:00       open; overdue 490 h
 *   duty-2  housing              disclosure_request +12 h 11-20 00:00  11-21 09:00   11-20 12:00       answered 33 h late
 *
 * 约谈, 2026-Q4 (breach alerts not retracted): env a, b, c (3) and health duty-1, d, e (3; h's
 * retracted breach does not count) are candidates; housing i, duty-2 (2) is not; traffic f is in Q3.
 */
import swagger from '@fastify/swagger';
import type { Clock } from '@huiying/clock';
import { type DbHandle, sql } from '@huiying/db';
import { type ClockKind, DEFAULT_LADDER_PACK, interviewRulesOf, ladderSnapshot, parseRulePack } from '@huiying/domain';
import { freshDatabase, type Injectable, loginAs } from '@huiying/testkit';
import Fastify, { type FastifyInstance } from 'fastify';
import JSZip from 'jszip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authPlugin, installErrorHandler, registerSecurity } from '@huiying/http';
import { createToken, ensureDemoAccounts } from '@huiying/identity';
import { type AuthRouteOptions, authRoutes } from '../src/routes/auth.ts';
import { statsRoutes } from '../src/stats/routes.ts';

const H = 3_600_000;
const at = (local: string) => new Date(`2026-${local}:00+08:00`);
const iso = (local: string) => at(local).toISOString();
const NOW = at('12-01T10:00');
const clock: Clock = { now: () => NOW.getTime() } as Clock;

let handle: DbHandle & { drop(): Promise<void> };
let app: FastifyInstance;
const USERS: Record<string, Injectable> = {};

async function seed(db: DbHandle['db']) {
  await db.execute(sql`insert into units (id, name) values
    ('env', '市生态环境局'), ('housing', '市住房和城乡建设局'), ('health', '市卫生健康委员会'), ('traffic', '市交通运输局')`);
  const incident = async (
    id: string,
    o: { kind: ClockKind; state: string; start: string; due: string; responded?: string; unit: string; since?: string; ladder?: false },
  ) => {
    const ladder =
      o.ladder === false
        ? null
        : {
            ladder: ladderSnapshot(DEFAULT_LADDER_PACK, o.kind),
            progress: { since: at(o.since ?? o.start).getTime(), through: NOW.getTime() },
            unit: o.unit,
            assignedAt: at(o.start).getTime(),
            done: o.state !== 'running' && o.state !== 'breached',
          };
    const state = { id, clocks: [{ seq: 1, kind: o.kind, state: o.state, dueAt: at(o.due).getTime(), ...(ladder ? { ladder } : {}) }] };
    await db.execute(sql`insert into incidents (id, title, level, unit_id, status, start_at, state, created_at, updated_at)
      values (${id}, ${`事件 ${id}`}, 'III', ${o.unit}, 'open', ${iso(o.start)}, ${JSON.stringify(state)}::jsonb, now(), now())`);
    const late = o.state === 'met' ? at(o.responded!).getTime() > at(o.due).getTime() : null;
    await db.execute(sql`insert into clocks (incident_id, seq, kind, state, start_at, due_at, responded_at, late, unit_id, updated_at)
      values (${id}, 1, ${o.kind}, ${o.state}, ${iso(o.start)}, ${iso(o.due)}, ${o.responded ? iso(o.responded) : null}, ${late}, ${o.unit}, now())`);
  };
  const breach = (ref: { incident?: string; duty?: string }, kind: string, due: string, unit: string, retracted: string | null = null) =>
    db.execute(sql`insert into alerts (id, incident_id, obligation_id, kind, clock, due_at, unit_id, at, retracted_at)
      values (${`alr_${ref.incident ?? ref.duty}`}, ${ref.incident ?? null}, ${ref.duty ?? null}, 'breached', ${kind}, ${iso(due)}, ${unit},
        ${iso(due)}, ${retracted === null ? null : iso(retracted)})`);

  await incident('inc-a', { kind: 'release', state: 'breached', start: '11-05T10:00', due: '11-05T15:00', unit: 'env' });
  await breach({ incident: 'inc-a' }, 'release', '11-05T15:00', 'env');
  await incident('inc-b', {
    kind: 'response',
    state: 'met',
    start: '11-08T09:00',
    due: '11-10T09:00',
    responded: '11-10T20:00',
    unit: 'env',
  });
  await breach({ incident: 'inc-b' }, 'response', '11-10T09:00', 'env');
  // Breached while env was responsible, reassigned to housing since: the candidate stays env's.
  await incident('inc-c', {
    kind: 'response',
    state: 'met',
    start: '11-10T09:00',
    due: '11-12T09:00',
    responded: '11-13T09:00',
    unit: 'housing',
  });
  await breach({ incident: 'inc-c' }, 'response', '11-12T09:00', 'env');
  await incident('inc-d', { kind: 'press_conference', state: 'breached', start: '11-29T20:00', due: '11-30T20:00', unit: 'health' });
  await breach({ incident: 'inc-d' }, 'press_conference', '11-30T20:00', 'health');
  await incident('inc-e', { kind: 'release', state: 'breached', start: '12-01T03:00', due: '12-01T08:00', unit: 'health' });
  await breach({ incident: 'inc-e' }, 'release', '12-01T08:00', 'health');
  await incident('inc-f', { kind: 'response', state: 'breached', start: '09-27T09:00', due: '09-29T09:00', unit: 'traffic' });
  await breach({ incident: 'inc-f' }, 'response', '09-29T09:00', 'traffic');
  await incident('inc-g', { kind: 'response', state: 'waived', start: '11-12T09:00', due: '11-14T09:00', unit: 'env' });
  await incident('inc-h', {
    kind: 'response',
    state: 'met',
    start: '11-15T12:00',
    due: '11-17T12:00',
    responded: '11-17T11:00',
    unit: 'health',
  });
  await breach({ incident: 'inc-h' }, 'response', '11-17T12:00', 'health', '11-17T15:00');
  await incident('inc-i', {
    kind: 'release',
    state: 'breached',
    start: '11-19T20:00',
    due: '11-20T01:00',
    since: '11-20T10:00',
    unit: 'housing',
  });
  await breach({ incident: 'inc-i' }, 'release', '11-20T01:00', 'housing');
  await incident('inc-j', { kind: 'response', state: 'breached', start: '10-31T09:00', due: '11-02T09:00', unit: 'env', ladder: false });

  const duty = async (id: string, kind: ClockKind, unit: string, status: string, start: string, due: string, responded: string | null) => {
    const state = {
      v: 1,
      id,
      kind,
      startAt: at(start).getTime(),
      dueAt: at(due).getTime(),
      state: status,
      respondedAt: responded === null ? null : at(responded).getTime(),
      late: responded === null ? null : at(responded) > at(due),
      suspension: null,
      ladder: {
        ladder: ladderSnapshot(DEFAULT_LADDER_PACK, kind),
        progress: { since: at(start).getTime(), through: NOW.getTime() },
        unit: null,
        assignedAt: at(start).getTime(),
        done: status === 'met',
      },
    };
    await db.execute(sql`insert into obligations (id, kind, title, unit_id, state, status, due_at, created_at, updated_at)
      values (${id}, ${kind}, ${`事项 ${id}`}, ${unit}, ${JSON.stringify(state)}::jsonb, ${status}, ${iso(due)}, now(), now())`);
  };
  await duty('duty-1', 'policy_interpretation', 'health', 'breached', '11-06T09:00', '11-11T00:00', null);
  await breach({ duty: 'duty-1' }, 'policy_interpretation', '11-11T00:00', 'health');
  await duty('duty-2', 'disclosure_request', 'housing', 'met', '10-23T09:00', '11-20T00:00', '11-21T09:00');
  await breach({ duty: 'duty-2' }, 'disclosure_request', '11-20T00:00', 'housing');
}

beforeAll(async () => {
  handle = await freshDatabase();
  await seed(handle.db);
  app = Fastify();
  await app.register(swagger, { openapi: { info: { title: 't', version: '0' } } });
  installErrorHandler(app);
  await app.register(authPlugin, { db: handle.db, clock });
  await registerSecurity(app);
  await app.register(authRoutes, { db: handle.db, realClock: clock } as unknown as AuthRouteOptions);
  await app.register(statsRoutes, { db: handle.db, clock, interview: DEFAULT_LADDER_PACK.interview });
  await app.ready();
  await ensureDemoAccounts(handle.db, new Date(clock.now()));
  for (const user of ['leader', 'duty', 'admin', 'unit-housing', 'unit-env']) USERS[user] = await loginAs(app, user);
  const { token } = await createToken(handle.db, { name: 'hotline', scopes: ['tickets:write'] }, 'test', new Date(clock.now()));
  USERS.token = { inject: (o) => app.inject({ ...o, headers: { authorization: `Bearer ${token}` } } as never) as never };
});

afterAll(async () => {
  await app?.close();
  await handle?.drop();
});

const get = (url: string, user = 'leader') => (user ? USERS[user]! : (app as unknown as Injectable)).inject({ method: 'GET', url });
interface Candidates {
  period: { key: string; from: string; to: string; label: string };
  rule: { breaches: number; period: string };
  reportTotal: number;
  reportsByUnit: { unit: { id: string; name: string } | null; count: number }[];
  reports: {
    source: string;
    id: string;
    seq: number;
    unit: { id: string; name: string } | null;
    kind: string;
    dueAt: string;
    state: string;
    respondedAt: string | null;
    overdueMs: number;
    step: string;
    candidateAt: string;
  }[];
  interviews: {
    unit: { id: string; name: string };
    period: string;
    rule: { breaches: number; period: string };
    breachCount: number;
    breaches: { id: string; at: string }[];
  }[];
}
const candidates = async (url: string, user = 'leader') => {
  const res = await get(url, user);
  expect(res.statusCode, res.body).toBe(200);
  return res.json<Candidates>();
};

describe('通报候选', () => {
  it('the current quarter by default: every candidate with its unit, clock, due, overdue, step and since when', async () => {
    const r = await candidates('/api/stats/candidates');
    expect(r.period).toEqual({ key: '2026-Q4', from: iso('10-01T00:00'), to: '2026-12-31T16:00:00.000Z', label: '2026年第四季度' });
    expect(r.rule).toEqual({ breaches: 3, period: 'quarter' });
    expect(r.reports.map((c) => [c.id, c.unit?.id ?? null, c.kind, c.state, c.overdueMs / H, c.step, c.candidateAt])).toEqual([
      // 11-05 15:00 → 12-01 10:00 = 26 days − 5 h = 619 h
      ['inc-a', 'env', 'release', 'breached', 619, 'leaders', iso('11-05T19:00')],
      // 11-11 00:00 → 12-01 10:00 = 20 d 10 h
      ['duty-1', 'health', 'policy_interpretation', 'breached', 490, 'leaders', iso('11-11T12:00')],
      ['inc-c', 'env', 'response', 'met', 24, 'leaders', iso('11-12T21:00')],
      // 11-20 01:00 → 12-01 10:00 = 11 d 9 h; its ladder started at 10:00, after the 05:00 step
      ['inc-i', 'housing', 'release', 'breached', 273, 'leaders', iso('11-20T10:00')],
      ['duty-2', 'housing', 'disclosure_request', 'met', 33, 'leaders', iso('11-20T12:00')],
      ['inc-d', 'health', 'press_conference', 'breached', 14, 'leaders', iso('12-01T00:00')],
    ]);
    const c = r.reports.find((x) => x.id === 'inc-c')!;
    expect(c).toMatchObject({ source: 'incident', seq: 1, dueAt: iso('11-12T09:00'), respondedAt: iso('11-13T09:00') });
    expect(c.unit).toEqual({ id: 'env', name: '市生态环境局' });
  });

  it('a month, and a quarter long past', async () => {
    const nov = await candidates('/api/stats/candidates?period=2026-11');
    expect(nov.period.label).toBe('2026年11月');
    // inc-d became one at 12-01 00:00: December's.
    expect(nov.reports.map((c) => c.id)).toEqual(['inc-a', 'duty-1', 'inc-c', 'inc-i', 'duty-2']);
    const q3 = await candidates('/api/stats/candidates?period=2026-Q3');
    // 09-29 09:00 → 12-01 10:00 = 63 days + 1 h
    expect(q3.reports.map((c) => [c.id, c.overdueMs / H, c.candidateAt])).toEqual([['inc-f', 63 * 24 + 1, iso('09-29T21:00')]]);
    expect(q3.interviews).toEqual([]);
    expect((await candidates('/api/stats/candidates?period=2026')).reports).toHaveLength(7);
  });

  it('a large period is capped: the earliest `limit` candidates, with every one counted in the total and per unit', async () => {
    const r = await candidates('/api/stats/candidates?limit=2');
    expect(r.reports.map((c) => c.id)).toEqual(['inc-a', 'duty-1']);
    expect(r.reportTotal).toBe(6);
    expect(r.reportsByUnit).toEqual([
      { unit: { id: 'env', name: '市生态环境局' }, count: 2 },
      { unit: expect.objectContaining({ id: 'health' }), count: 2 },
      { unit: expect.objectContaining({ id: 'housing' }), count: 2 },
    ]);
    for (const i of r.interviews) {
      expect(i.breaches.length).toBeLessThanOrEqual(2);
      expect(i.breachCount).toBeGreaterThanOrEqual(i.breaches.length);
    }
    expect((await get('/api/stats/candidates?limit=0', 'leader')).statusCode).toBe(400);
  });

  it('pages: `offset` skips that many in the same order, the totals unchanged', async () => {
    const all = (await candidates('/api/stats/candidates')).reports.map((c) => c.id);
    const pages = [];
    for (let offset = 0; offset < all.length + 2; offset += 2) {
      const r = await candidates(`/api/stats/candidates?limit=2&offset=${offset}`);
      expect(r.reportTotal).toBe(all.length);
      pages.push(...r.reports.map((c) => c.id));
    }
    expect(pages).toEqual(all);
    expect((await candidates(`/api/stats/candidates?limit=2&offset=${all.length}`)).reports).toEqual([]);
    expect((await get('/api/stats/candidates?offset=-1', 'leader')).statusCode).toBe(400);
  });
});

describe('约谈候选', () => {
  it('units with 3 breaches in the quarter, with the breaches; a retracted breach does not count', async () => {
    const r = await candidates('/api/stats/candidates?period=2026-Q4');
    expect(r.interviews.map((i) => [i.unit.id, i.period, i.breachCount, i.breaches.map((b) => b.id)])).toEqual([
      ['env', '2026-Q4', 3, ['inc-a', 'inc-b', 'inc-c']],
      ['health', '2026-Q4', 3, ['duty-1', 'inc-d', 'inc-e']],
    ]);
    expect(r.interviews[1]!.breaches[0]).toEqual({
      source: 'duty',
      id: 'duty-1',
      title: '事项 duty-1',
      kind: 'policy_interpretation',
      dueAt: iso('11-11T00:00'),
      at: iso('11-11T00:00'),
    });
    // A month shows the rule's quarter holding it, counted so far.
    expect((await candidates('/api/stats/candidates?period=2026-11')).interviews.map((i) => i.unit.id)).toEqual(['env', 'health']);
  });

  it('a stricter rule from the rule pack: 2 in a month', async () => {
    const strict = Fastify();
    installErrorHandler(strict);
    await strict.register(authPlugin, { db: handle.db, clock });
    await registerSecurity(strict);
    await strict.register(authRoutes, { db: handle.db, realClock: clock } as unknown as AuthRouteOptions);
    await strict.register(statsRoutes, { db: handle.db, clock, interview: { breaches: 2, period: 'month' } });
    await strict.ready();
    try {
      const leader = await loginAs(strict, 'leader');
      const r = (await leader.inject({ method: 'GET', url: '/api/stats/candidates?period=2026-Q4' })).json<Candidates>();
      // November: env 3 (a, b, c), housing 2 (duty-2, i), health 2 (duty-1, d); December: health e only (1).
      expect(r.interviews.map((i) => [i.unit.id, i.period, i.breachCount])).toEqual([
        ['env', '2026-11', 3],
        ['health', '2026-11', 2],
        ['housing', '2026-11', 2],
      ]);
    } finally {
      await strict.close();
    }
  });
});

describe('约谈候选 per jurisdiction', () => {
  it('each unit is judged by its own jurisdiction’s rule: housing, in a county whose pack says 2 in a month, is a candidate beside the default 3 in a quarter', async () => {
    const pack = parseRulePack({ jurisdictions: { county: { ladder: { interview: { breaches: 2, period: 'month' } } } } });
    const mixed = Fastify();
    installErrorHandler(mixed);
    await mixed.register(authPlugin, { db: handle.db, clock });
    await registerSecurity(mixed);
    await mixed.register(authRoutes, { db: handle.db, realClock: clock } as unknown as AuthRouteOptions);
    await mixed.register(statsRoutes, { db: handle.db, clock, interview: interviewRulesOf(pack) });
    await mixed.ready();
    await handle.db.execute(sql`update units set jurisdiction = 'county' where id = 'housing'`);
    try {
      const leader = await loginAs(mixed, 'leader');
      const r = (await leader.inject({ method: 'GET', url: '/api/stats/candidates?period=2026-Q4' })).json<Candidates>();
      // The deployment's own rule is still the one the report states; each candidate names its unit's.
      expect(r.rule).toEqual({ breaches: 3, period: 'quarter' });
      expect(r.interviews.map((i) => [i.unit.id, i.period, i.breachCount, i.rule])).toEqual([
        ['env', '2026-Q4', 3, { breaches: 3, period: 'quarter' }],
        ['health', '2026-Q4', 3, { breaches: 3, period: 'quarter' }],
        ['housing', '2026-11', 2, { breaches: 2, period: 'month' }],
      ]);
      // December alone: housing's month has no breach; the quarters of env and health overlap it.
      const dec = (await leader.inject({ method: 'GET', url: '/api/stats/candidates?period=2026-12' })).json<Candidates>();
      expect(dec.interviews.map((i) => [i.unit.id, i.period])).toEqual([
        ['env', '2026-Q4'],
        ['health', '2026-Q4'],
      ]);
    } finally {
      await handle.db.execute(sql`update units set jurisdiction = 'default' where id = 'housing'`);
      await mixed.close();
    }
  });
});

describe('who sees what', () => {
  it.each(['leader', 'duty', 'admin'])('%s sees the whole jurisdiction', async (user) => {
    const r = await candidates('/api/stats/candidates?period=2026-Q4', user);
    expect(r.reports).toHaveLength(6);
    expect(r.interviews).toHaveLength(2);
  });

  it('a unit user sees its own unit only; naming another unit is a 404', async () => {
    const housing = await candidates('/api/stats/candidates?period=2026-Q4', 'unit-housing');
    expect(housing.reports.map((c) => c.id)).toEqual(['inc-i', 'duty-2']);
    expect(housing.interviews).toEqual([]);
    const env = await candidates('/api/stats/candidates?period=2026-Q4', 'unit-env');
    expect(env.reports.map((c) => c.id)).toEqual(['inc-a', 'inc-c']);
    expect(env.interviews.map((i) => i.unit.id)).toEqual(['env']);
    expect((await get('/api/stats/candidates?unit=env', 'unit-housing')).statusCode).toBe(404);
    expect((await get('/api/stats/candidates?unit=housing', 'unit-housing')).statusCode).toBe(200);
    expect((await get('/api/stats/candidates?unit=nowhere')).statusCode).toBe(404);
    const leaderEnv = await candidates('/api/stats/candidates?period=2026-Q4&unit=env');
    expect(leaderEnv.reports.map((c) => c.id)).toEqual(['inc-a', 'inc-c']);
  });

  it('no user is a 401, a token without a role a 403, a malformed period a 400', async () => {
    expect((await get('/api/stats/candidates', '')).statusCode).toBe(401);
    expect((await get('/api/stats/candidates', 'token')).statusCode).toBe(403);
    expect((await get('/api/stats/candidates?period=2026-Q5')).statusCode).toBe(400);
  });
});

it('the 通报 draft names the candidates of its period and marks them in the 附件', async () => {
  const res = await get('/api/stats/notice.docx?month=2026-11');
  expect(res.statusCode, res.body).toBe(200);
  const xml = await (await JSZip.loadAsync(res.rawPayload)).file('word/document.xml')!.async('string');
  const text = xml.replace(/<[^>]+>/g, '');
  expect(text).toContain('列为通报事项');
  expect(text).toContain('市生态环境局“事件 inc-a”（已超时25天19小时，仍未回应）');
  expect(text).toContain('市住房和城乡建设局“事项 duty-2”（超时1天9小时后回应）');
  expect(text).toContain('超时未回应（通报）');
});
