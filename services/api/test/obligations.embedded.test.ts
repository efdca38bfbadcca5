/**
 * Working-day disclosure duties through the API on the real composition (PGlite + in-process
 * bus, fake clock): PRC holidays with 调休, the one extension, breaches fired by the timer,
 * provisional dues where a holiday year is missing, and the administrators' calendar.
 */
import { FakeClock } from '@huiying/clock';
import { eventually, type SessionClient } from '@huiying/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Huiying } from '../../standalone/src/compose.ts';
import { type EmbeddedHarness, startEmbedded } from '../../standalone/test/embedded-harness.ts';

// The day before the 2025 National Day holiday (1–8 October off; Sunday 28 September and
// Saturday 11 October are 调休 working days).
const T0 = Date.parse('2025-09-30T10:00:00+08:00');

type Obligation = {
  id: string;
  kind: string;
  state: string;
  dueDate: string;
  dueAt: string;
  provisional: boolean;
  extended: boolean;
  late: boolean | null;
};

let env: EmbeddedHarness;
let hy: Huiying;
let mailer: EmbeddedHarness['mailer'];
let duty: SessionClient;
let admin: SessionClient;
const clock = new FakeClock(T0);

beforeAll(async () => {
  env = await startEmbedded({ clock, units: [{ id: 'ndrc', name: '市发展和改革委员会', email: 'fgw@example.test' }] });
  ({ hy, mailer } = env);
  duty = await env.as('duty');
  admin = await env.as('admin');
});

afterAll(async () => {
  await env?.stop();
});

const post = async (url: string, payload: object) => duty.inject({ method: 'POST', url, payload });

describe('working-day duties', () => {
  it('counts 3 working days across the National Day holiday, landing on the 调休 Saturday', async () => {
    const res = await post('/api/obligations', {
      id: 'policy-1',
      kind: 'policy_interpretation',
      issuedAt: new Date(T0).toISOString(),
      title: '《关于促进民营经济发展的若干措施》政策解读',
      unit: 'ndrc',
    });
    expect(res.statusCode).toBe(201);
    expect(res.json<Obligation>()).toMatchObject({
      state: 'running',
      dueDate: '2025-10-11',
      dueAt: '2025-10-11T16:00:00.000Z',
      provisional: false,
    });
    const dup = await post('/api/obligations', { id: 'policy-1', kind: 'policy_interpretation', issuedAt: new Date(T0).toISOString() });
    expect(dup.statusCode).toBe(409);
  });

  it('breaches at the end of the last working day, mails the unit, and a late fulfilment is met late', async () => {
    await hy.engine.timer.rearm();
    await clock.advanceTo(Date.parse('2025-10-12T00:00:00+08:00') - 1);
    expect((await duty.inject({ method: 'GET', url: '/api/obligations/policy-1' })).json<Obligation>().state).toBe('running');
    await clock.advanceTo(Date.parse('2025-10-12T00:00:00+08:00'));
    expect((await duty.inject({ method: 'GET', url: '/api/obligations/policy-1' })).json<Obligation>().state).toBe('breached');
    const alerts = (await duty.inject({ method: 'GET', url: '/api/alerts?open=true' })).json<{
      items: { kind: string; obligationId: string | null; incidentTitle: string }[];
    }>().items;
    expect(alerts).toContainEqual(
      expect.objectContaining({ kind: 'breached', obligationId: 'policy-1', incidentTitle: expect.stringContaining('政策解读') }),
    );
    await eventually(
      async () => mailer.sent.find((m) => m.recipient === 'fgw@example.test' && m.subject.startsWith('【超时督办】')),
      'the breach mail to the unit',
    );

    await clock.advanceBy(3_600_000);
    const met = await post('/api/obligations/policy-1/fulfil', {});
    expect(met.json<Obligation>()).toMatchObject({ state: 'met', late: true });
  });

  it('extends a disclosure request once by 20 working days and refuses a second extension', async () => {
    await post('/api/obligations', {
      id: 'ysq-1',
      kind: 'disclosure_request',
      issuedAt: new Date(clock.now()).toISOString(),
      title: '依申请公开：某路段改造工程资金使用情况',
    });
    const before = (await duty.inject({ method: 'GET', url: '/api/obligations/ysq-1' })).json<Obligation>();
    const extended = await post('/api/obligations/ysq-1/extend', {});
    expect(extended.statusCode).toBe(200);
    expect(extended.json<Obligation>().extended).toBe(true);
    expect(Date.parse(extended.json<Obligation>().dueAt)).toBeGreaterThan(Date.parse(before.dueAt) + 20 * 86_400_000);
    const again = await post('/api/obligations/ysq-1/extend', {});
    expect(again.statusCode).toBe(409);
    expect(again.json().message).toContain('already_extended');
    const other = await post('/api/obligations/policy-1/extend', {});
    expect(other.statusCode).toBe(409);
  });

  it('pauses a disclosure request while a third party is consulted, and refuses to pause other duties', async () => {
    await clock.advanceTo(Date.parse('2025-10-20T09:00:00+08:00'));
    await post('/api/obligations', { id: 'ysq-2', kind: 'disclosure_request', issuedAt: new Date(clock.now()).toISOString() });
    const before = (await duty.inject({ method: 'GET', url: '/api/obligations/ysq-2' })).json<Obligation & { suspended: unknown }>();
    const paused = await post('/api/obligations/ysq-2/suspend', { reason: 'third_party' });
    expect(paused.statusCode).toBe(200);
    expect(paused.json()).toMatchObject({ suspended: { reason: 'third_party' } });
    expect((await post('/api/obligations/ysq-2/suspend', { reason: 'third_party' })).statusCode).toBe(409);
    // Two weeks consulting (ten working days) do not count.
    await clock.advanceTo(Date.parse('2025-11-03T09:00:00+08:00'));
    const resumed = await post('/api/obligations/ysq-2/resume', {});
    expect(resumed.json()).toMatchObject({ suspended: null, state: 'running' });
    expect(Date.parse(resumed.json<Obligation>().dueAt) - Date.parse(before.dueAt)).toBe(14 * 86_400_000);
    expect((await post('/api/obligations/ysq-2/resume', {})).statusCode).toBe(409);
    const other = await post('/api/obligations', { id: 'svc-1', kind: 'service_change', issuedAt: new Date(clock.now()).toISOString() });
    expect(other.statusCode).toBe(201);
    expect((await post('/api/obligations/svc-1/suspend', { reason: 'correction' })).json().message).toContain('not_suspendable');
  });

  it('a fulfilment recorded after the breach but dated before the due withdraws the breach alert', async () => {
    await post('/api/obligations', { id: 'svc-late-record', kind: 'service_change', issuedAt: new Date(clock.now()).toISOString() });
    const record = (await duty.inject({ method: 'GET', url: '/api/obligations/svc-late-record' })).json<Obligation>();
    await hy.engine.timer.rearm();
    await clock.advanceTo(Date.parse(record.dueAt) + 3_600_000);
    const openBreaches = async () =>
      (await duty.inject({ method: 'GET', url: '/api/alerts?open=true' }))
        .json<{ items: { kind: string; obligationId: string | null }[] }>()
        .items.filter((a) => a.kind === 'breached' && a.obligationId === 'svc-late-record');
    expect(await openBreaches()).toHaveLength(1);
    const met = await post('/api/obligations/svc-late-record/fulfil', {
      fulfilledAt: new Date(Date.parse(record.dueAt) - 3_600_000).toISOString(),
    });
    expect(met.json<Obligation>()).toMatchObject({ state: 'met', late: false });
    expect(await openBreaches()).toHaveLength(0);
  });

  it('rejects bad input with the field named', async () => {
    const bad = await post('/api/obligations', { kind: 'unknown_kind', issuedAt: new Date(T0).toISOString() });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toContain('kind');
    const future = await post('/api/obligations', { kind: 'service_change', issuedAt: new Date(clock.now() + 86_400_000).toISOString() });
    expect(future.statusCode).toBe(400);
    expect(future.json().message).toContain('issuedAt');
    expect((await post('/api/obligations/nope/fulfil', {})).statusCode).toBe(404);
  });
});

describe('the calendar beyond its data', () => {
  it('counts into a year without data Monday–Friday, flags it provisional and alerts administrators', async () => {
    // 20 working days from 20 December run into 2027, which the calendar file does not have.
    await clock.advanceTo(Date.parse('2026-12-20T09:00:00+08:00'));
    const res = await post('/api/obligations', {
      id: 'penalty-1',
      kind: 'penalty_disclosure',
      issuedAt: new Date(clock.now()).toISOString(),
      title: '行政处罚结果公开',
    });
    expect(res.statusCode).toBe(201);
    expect(res.json<Obligation>()).toMatchObject({ provisional: true, dueDate: '2027-01-15' });
    const alerts = (await duty.inject({ method: 'GET', url: '/api/alerts?open=true' })).json<{
      items: { kind: string; obligationId: string | null }[];
    }>().items;
    expect(alerts).toContainEqual(expect.objectContaining({ kind: 'calendar_missing', obligationId: 'penalty-1' }));
  });

  it('warns in the health check from 1 December until next year is loaded', async () => {
    const health = (await duty.inject({ method: 'GET', url: '/api/health' })).json<{ status: string; warnings: string[] }>();
    expect(health.status).toBe('warn');
    expect(health.warnings[0]).toContain('2027');
    const bad = await admin.inject({
      method: 'PUT',
      url: '/api/calendar/years/2027',
      payload: { holidays: ['2028-01-01'], workdays: [] },
    });
    expect(bad.statusCode).toBe(400);
    const put = await admin.inject({
      method: 'PUT',
      url: '/api/calendar/years/2027',
      payload: {
        holidays: ['2027-01-01', '2027-02-05', '2027-02-08', '2027-02-09', '2027-02-10', '2027-02-11'],
        workdays: ['2027-02-13'],
        source: '测试用安排',
      },
    });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toEqual({ year: 2027, recomputed: 1 });
    const penalty = (await duty.inject({ method: 'GET', url: '/api/obligations/penalty-1' })).json<Obligation>();
    expect(penalty.provisional).toBe(false);
    // 20 working days after Sunday 20 December 2026: 9 in December; counted Monday–Friday the
    // 20th was Friday 15 January 2027, but 1 January is a holiday, so it is Monday 18 January.
    expect(penalty.dueDate).toBe('2027-01-18');
    const open = (await duty.inject({ method: 'GET', url: '/api/alerts?open=true' })).json<{
      items: { kind: string; obligationId: string | null }[];
    }>().items;
    expect(open.filter((a) => a.kind === 'calendar_missing' && a.obligationId === 'penalty-1')).toHaveLength(0);
    const after = (await duty.inject({ method: 'GET', url: '/api/health' })).json<{ status: string; warnings: string[] }>();
    expect(after).toMatchObject({ status: 'ok', warnings: [] });
    expect((await duty.inject({ method: 'GET', url: '/api/calendar' })).json()).toMatchObject({ nextYear: 2027, nextYearLoaded: true });
  });
});
