/**
 * The API over the real composition on PGlite and the in-process bus (fast; the same code
 * paths run on PostgreSQL and Kafka in the standalone pipeline tests). Fake clock throughout.
 */
import { readdir, readFile } from 'node:fs/promises';
import { FakeClock } from '@huiying/clock';
import { auditLog, type DbHandle, eq, incidentWakes, incidents, signals } from '@huiying/db';
import { sweepSignals } from '@huiying/engine';
import { eventually, type SessionClient } from '@huiying/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Huiying } from '../../standalone/src/compose.ts';
import { type EmbeddedHarness, startEmbedded } from '../../standalone/test/embedded-harness.ts';
import { ERROR_CATALOGUE } from '@huiying/http';

const HOUR = 3_600_000;
const repoRoot = new URL('../../../', import.meta.url);
const T0 = Date.parse('2026-07-06T09:00:00+08:00');

type Incident = {
  id: string;
  title: string;
  level: string | null;
  unit: { id: string; name: string } | null;
  status: string;
  clocks: { seq: number; kind: string; state: string; dueAt: string; respondedAt: string | null; late: boolean | null }[];
};

let env: EmbeddedHarness;
let hy: Huiying;
let handle: DbHandle;
let duty: SessionClient;
const clock = new FakeClock(T0);

beforeAll(async () => {
  env = await startEmbedded({ clock, units: [{ id: 'transport', name: '市交通运输局', email: 'jtj@example.test' }] });
  ({ hy, handle } = env);
  duty = await env.as('duty');
});

afterAll(async () => {
  await env?.stop();
});

async function newIncident(ref: string, title: string): Promise<Incident> {
  const res = await duty.inject({
    method: 'POST',
    url: '/api/tickets',
    payload: { id: ref, receivedAt: new Date(clock.now()).toISOString(), title, content: title },
  });
  expect(res.statusCode).toBe(201);
  return eventually(
    async () =>
      (await duty.inject({ method: 'GET', url: '/api/incidents' })).json<{ items: Incident[] }>().items.find((i) => i.title === title),
    `incident ${title}`,
  );
}

describe('incident commands', () => {
  it('grading II starts the 5 h release and 24 h press-conference clocks and supersedes the 48 h one', async () => {
    const inc = await newIncident('A-1', '地铁站台积水停运');
    const res = await duty.inject({
      method: 'POST',
      url: `/api/incidents/${inc.id}/grade`,
      payload: { level: 'II', unit: 'transport' },
    });
    expect(res.statusCode).toBe(200);
    const graded = res.json<Incident>();
    expect(graded.level).toBe('II');
    expect(graded.unit).toEqual({ id: 'transport', name: '市交通运输局' });
    const byKind = Object.fromEntries(graded.clocks.map((c) => [c.kind, c]));
    expect(byKind.response?.state).toBe('cancelled');
    expect(byKind.release).toMatchObject({ state: 'running', dueAt: new Date(T0 + 5 * HOUR).toISOString() });
    expect(byKind.press_conference).toMatchObject({ state: 'running', dueAt: new Date(T0 + 24 * HOUR).toISOString() });
    const trail = (await handle.db.select().from(auditLog)).filter((a) => a.entityId === inc.id).map((a) => a.action);
    expect(trail).toEqual(expect.arrayContaining(['incident.created', 'clock.started', 'clock.cancelled']));
    expect((await handle.db.select().from(auditLog)).some((a) => a.actor === 'user:duty')).toBe(true);
  });

  it('a repost meets nothing and raises a non-qualifying alert; an original release meets the release clock', async () => {
    const inc = await newIncident('A-2', '化工厂异味');
    await duty.inject({ method: 'POST', url: `/api/incidents/${inc.id}/grade`, payload: { level: 'I' } });
    await clock.advanceBy(HOUR);
    const repost = await duty.inject({
      method: 'POST',
      url: `/api/incidents/${inc.id}/responses`,
      payload: { kind: 'release', original: false, url: 'https://example.test/repost' },
    });
    expect(repost.statusCode).toBe(201);
    expect(repost.json<Incident>().clocks.every((c) => c.state !== 'met')).toBe(true);
    const alerts = (await duty.inject({ method: 'GET', url: '/api/alerts?open=true' })).json<{
      items: { kind: string; incidentId: string }[];
    }>().items;
    expect(alerts).toContainEqual(expect.objectContaining({ kind: 'nonqualifying_response', incidentId: inc.id }));

    const release = await duty.inject({
      method: 'POST',
      url: `/api/incidents/${inc.id}/responses`,
      payload: { kind: 'release', original: true, channel: '市政府网站' },
    });
    const clocks = Object.fromEntries(release.json<Incident>().clocks.map((c) => [c.kind, c]));
    expect(clocks.release).toMatchObject({ state: 'met', late: false, respondedAt: new Date(clock.now()).toISOString() });
    expect(clocks.press_conference?.state).toBe('running');
  });

  it("the timeline's audit entries say which command caused them: the level graded, the unit assigned, the warned clock", async () => {
    const res = await duty.inject({
      method: 'POST',
      url: '/api/tickets',
      payload: {
        id: 'A-7',
        receivedAt: new Date(clock.now()).toISOString(),
        title: '路灯不亮',
        content: '市民反映路灯不亮',
        unit: 'transport',
      },
    });
    expect(res.statusCode).toBe(201);
    const inc = await eventually(
      async () =>
        (await duty.inject({ method: 'GET', url: '/api/incidents' }))
          .json<{ items: Incident[] }>()
          .items.find((i) => i.title === '路灯不亮'),
      'the incident',
    );
    expect((await duty.inject({ method: 'POST', url: `/api/incidents/${inc.id}/grade`, payload: { level: 'II' } })).statusCode).toBe(200);
    await hy.engine.timer.rearm();
    // Half of the 5 h release clock: its first warning.
    await clock.advanceBy(3 * HOUR);
    expect((await duty.inject({ method: 'POST', url: `/api/incidents/${inc.id}/assign`, payload: { unit: 'transport' } })).statusCode).toBe(
      200,
    );
    type Entry = { action: string; actor: string; clock: string | null; commands: { type: string; level: string | null; unit: unknown }[] };
    const audit = await eventually(async () => {
      const t = (await duty.inject({ method: 'GET', url: `/api/incidents/${inc.id}/timeline` })).json<{ audit: Entry[] }>();
      return t.audit.some((a) => a.action === 'clock.warning') ? t.audit : undefined;
    }, 'the warning on the timeline');
    const transport = { id: 'transport', name: '市交通运输局' };
    // The ticket named its unit: the incident was created assigned (the signal's own input shows only its type).
    expect(audit.find((a) => a.action === 'incident.created')?.commands).toEqual([
      { type: 'signal', level: null, unit: null },
      { type: 'assign', level: null, unit: transport },
    ]);
    const graded = audit.filter((a) => a.commands.some((c) => c.type === 'grade'));
    expect(graded.map((a) => `${a.action} ${a.clock}`).sort()).toEqual([
      'clock.cancelled response',
      'clock.started press_conference',
      'clock.started release',
    ]);
    expect(graded[0]!.commands).toEqual([{ type: 'grade', level: 'II', unit: null }]);
    expect(graded[0]!.actor).toBe('user:duty');
    expect(audit.find((a) => a.action === 'clock.warning')).toMatchObject({
      clock: 'release',
      commands: [{ type: 'timer', level: null, unit: null }],
    });
    expect(audit.find((a) => a.action === 'incident.updated')).toMatchObject({
      commands: [{ type: 'assign', level: null, unit: transport }],
    });
    // Nothing of the signal's text.
    const raw = (await duty.inject({ method: 'GET', url: `/api/incidents/${inc.id}/timeline` })).json<{ audit: unknown }>();
    expect(JSON.stringify(raw.audit)).not.toContain('路灯');
  });

  it('acknowledges an alert once, with who and when, and it leaves the open list', async () => {
    const open = (await duty.inject({ method: 'GET', url: '/api/alerts?open=true' })).json<{ items: { id: string }[] }>().items;
    const id = open[0]!.id;
    const ack = await duty.inject({ method: 'POST', url: `/api/alerts/${id}/ack` });
    expect(ack.statusCode).toBe(200);
    expect(ack.json()).toMatchObject({ id, acknowledgedBy: '值班员', acknowledgedAt: new Date(clock.now()).toISOString() });
    const again = await duty.inject({ method: 'POST', url: `/api/alerts/${id}/ack` });
    expect(again.json()).toMatchObject({ acknowledgedBy: '值班员' });
    const after = (await duty.inject({ method: 'GET', url: '/api/alerts?open=true' })).json<{ items: { id: string }[] }>().items;
    expect(after.map((a) => a.id)).not.toContain(id);
  });
});

describe('start time and dismissal', () => {
  it('an earlier occurrence time moves the running clock earlier; dismissing waives it and closes the incident', async () => {
    const inc = await newIncident('A-3', '桥梁限行引发拥堵');
    const occurredAt = new Date(clock.now() - 6 * HOUR).toISOString();
    const moved = await duty.inject({ method: 'POST', url: `/api/incidents/${inc.id}/occurred`, payload: { occurredAt } });
    expect(moved.statusCode).toBe(200);
    expect(moved.json<Incident>().clocks[0]).toMatchObject({
      kind: 'response',
      state: 'running',
      dueAt: new Date(Date.parse(occurredAt) + 48 * HOUR).toISOString(),
    });
    const future = await duty.inject({
      method: 'POST',
      url: `/api/incidents/${inc.id}/occurred`,
      payload: { occurredAt: new Date(clock.now() + HOUR).toISOString() },
    });
    expect(future.statusCode).toBe(400);

    const dismissed = await duty.inject({
      method: 'POST',
      url: `/api/incidents/${inc.id}/dismiss`,
      payload: { reason: '经核实为不实信息' },
    });
    expect(dismissed.json<Incident>()).toMatchObject({ status: 'closed', clocks: [expect.objectContaining({ state: 'waived' })] });
    const open = (await duty.inject({ method: 'GET', url: '/api/incidents?status=open' })).json<{ items: Incident[] }>().items;
    expect(open.map((i) => i.id)).not.toContain(inc.id);
  });
});

describe('signals attached by hand', () => {
  it('an earlier report moves the start and the running clock; a later one changes nothing', async () => {
    const inc = await newIncident('A-4', '网传水库泄洪');
    const earlier = new Date(clock.now() - 3 * HOUR).toISOString();
    const res = await duty.inject({
      method: 'POST',
      url: `/api/incidents/${inc.id}/signals`,
      payload: { title: '论坛最早帖子', url: 'https://forum.example.test/1', publishedAt: earlier },
    });
    expect(res.statusCode).toBe(201);
    expect(res.json<Incident & { startAt: string }>()).toMatchObject({
      startAt: earlier,
      clocks: [expect.objectContaining({ state: 'running', dueAt: new Date(Date.parse(earlier) + 48 * HOUR).toISOString() })],
    });
    const later = await duty.inject({ method: 'POST', url: `/api/incidents/${inc.id}/signals`, payload: { title: '后续转发' } });
    expect(later.json<Incident & { startAt: string }>().startAt).toBe(earlier);
    const missing = await duty.inject({ method: 'POST', url: `/api/incidents/${inc.id}/signals`, payload: { url: 'x' } });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().message).toContain('title');
  });
});

describe('recovery', () => {
  it('turns a signal whose bus message was lost into an incident, once', async () => {
    // As if the message had been dead-lettered: the signal is stored, nothing consumed it.
    await handle.db
      .insert(signals)
      .values({ id: 'sig_lost_1', source: 'hotline', sourceRef: 'LOST-1', title: '丢失的工单', receivedAt: new Date(clock.now()) });
    expect(await sweepSignals(hy.engine.deps)).toBe(0);
    await clock.advanceBy(2 * 60_000);
    expect(await sweepSignals(hy.engine.deps)).toBe(1);
    expect(await sweepSignals(hy.engine.deps)).toBe(0);
    const found = (await duty.inject({ method: 'GET', url: '/api/incidents' }))
      .json<{ items: Incident[] }>()
      .items.filter((i) => i.title === '丢失的工单');
    expect(found).toHaveLength(1);
  });
});

describe('a broken incident', () => {
  it('is set aside with an audit entry while every other deadline still fires', async () => {
    const due = clock.now() + 60_000;
    await handle.db.insert(incidents).values({
      id: 'inc_broken',
      title: '损坏的记录',
      status: 'open',
      startAt: new Date(clock.now()),
      state: { v: 1, id: 'inc_broken', clocks: 'not-a-list' },
      nextWakeAt: new Date(due - 1_000),
      createdAt: new Date(clock.now()),
      updatedAt: new Date(clock.now()),
    });
    // The timer's queue, as the incident writer keeps it (migration 0033).
    await handle.db.insert(incidentWakes).values({ incidentId: 'inc_broken', wakeAt: new Date(due - 1_000) });
    const ok = await newIncident('A-9', '正常的事件');
    await duty.inject({
      method: 'POST',
      url: `/api/incidents/${ok.id}/occurred`,
      payload: { occurredAt: new Date(due - 48 * HOUR).toISOString() },
    });
    await hy.engine.timer.rearm();
    await clock.advanceTo(due);
    const after = (await duty.inject({ method: 'GET', url: `/api/incidents/${ok.id}` })).json<Incident>();
    expect(after.clocks[0]!.state).toBe('breached');
    const [broken] = await handle.db.select().from(incidents).where(eq(incidents.id, 'inc_broken'));
    expect(broken!.nextWakeAt).toBeNull();
    expect(await handle.db.select().from(incidentWakes).where(eq(incidentWakes.incidentId, 'inc_broken'))).toEqual([]);
    const trail = await handle.db.select().from(auditLog).where(eq(auditLog.entityId, 'inc_broken'));
    expect(trail.map((a) => a.action)).toEqual(['incident.quarantined']);
    const open = (await duty.inject({ method: 'GET', url: '/api/alerts?open=true' })).json<{
      items: { kind: string; incidentId: string | null }[];
    }>().items;
    expect(open).toContainEqual(expect.objectContaining({ kind: 'engine_error', incidentId: 'inc_broken' }));
  });
});

describe('errors', () => {
  it.each([
    ['POST', '/api/incidents/inc_nope/grade', { level: 'II' }, 404, 'HY_NOT_FOUND', 'inc_nope'],
    ['POST', '/api/incidents/x/grade', { level: 'V' }, 400, 'HY_VALIDATION', 'level'],
    ['POST', '/api/incidents/x/grade', { level: 'I', unit: 'nobody' }, 400, 'HY_VALIDATION', 'unit'],
    ['POST', '/api/incidents/x/responses', { kind: 'release' }, 400, 'HY_VALIDATION', 'original'],
    ['POST', '/api/alerts/none/ack', undefined, 404, 'HY_NOT_FOUND', 'none'],
    ['GET', '/api/nowhere', undefined, 404, 'HY_NOT_FOUND', 'nowhere'],
  ])('%s %s → %s %s', async (method, url, payload, status, code, mentions) => {
    const res = await duty.inject({ method: method as 'GET' | 'POST', url, ...(payload ? { payload } : {}) });
    expect(res.statusCode).toBe(status);
    expect(res.json()).toMatchObject({ code });
    expect(res.json().message).toContain(mentions);
  });

  it('every error code used in the services is documented in the catalogue', async () => {
    const used = new Set<string>();
    for (const service of await readdir(new URL('services/', repoRoot))) {
      const src = new URL(`services/${service}/src/`, repoRoot);
      const files = (await readdir(src, { recursive: true }).catch(() => [])).filter((f) => f.endsWith('.ts'));
      for (const f of files) for (const m of (await readFile(new URL(f, src), 'utf8')).matchAll(/'(HY_[A-Z_]+)'/g)) used.add(m[1]!);
    }
    expect(used.size).toBeGreaterThanOrEqual(4);
    for (const code of used) expect(ERROR_CATALOGUE, `${code} is used but not in the catalogue`).toHaveProperty(code);
  });
});

describe('documentation and health', () => {
  it('serves an OpenAPI document describing the routes, and a docs page', async () => {
    const doc = (await duty.inject({ method: 'GET', url: '/docs/json' })).json<{ openapi: string; paths: Record<string, unknown> }>();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/tickets',
        '/api/incidents',
        '/api/incidents/{id}/grade',
        '/api/incidents/{id}/responses',
        '/api/alerts',
        '/api/alerts/{id}/ack',
        '/api/stream',
      ]),
    );
    expect((await duty.inject({ method: 'GET', url: '/docs' })).statusCode).toBeLessThan(400);
    expect((await duty.inject({ method: 'GET', url: '/api/health' })).json()).toMatchObject({ status: 'ok' });
    expect((await duty.inject({ method: 'GET', url: '/api/time' })).json()).toEqual({
      now: new Date(clock.now()).toISOString(),
      scale: 1,
    });
  });
});
