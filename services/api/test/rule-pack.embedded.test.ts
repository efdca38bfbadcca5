/**
 * Rule packs are data, and a clock keeps the policy it started with: after a local government
 * tightens the release clock to 3 h, clocks already running keep their 5 h; new ones get 3 h.
 */
import { FakeClock } from '@huiying/clock';
import { auditLog, type DbHandle, eq, sql } from '@huiying/db';
import { parseRulePack } from '@huiying/domain';
import { eventually, freshPglite, type SessionClient } from '@huiying/testkit';
import { afterAll, expect, it, onTestFinished } from 'vitest';
import type { Huiying } from '../../standalone/src/compose.ts';
import { startEmbedded } from '../../standalone/test/embedded-harness.ts';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-08-03T08:00:00+08:00');
const clock = new FakeClock(T0);
let handle: DbHandle;
const running: Huiying[] = [];

afterAll(async () => {
  for (const hy of running) await hy.stop();
  await handle?.close();
});

type Incident = { id: string; title: string; clocks: { kind: string; dueAt: string; state: string }[] };

async function boot(pack?: ReturnType<typeof parseRulePack>): Promise<Huiying & { duty: SessionClient }> {
  const env = await startEmbedded({ clock, handle, ...(pack ? { pack } : {}) });
  running.push(env.hy);
  return Object.assign(env.hy, { duty: await env.as('duty') });
}

async function gradedIncident(hy: { duty: SessionClient }, ref: string): Promise<Incident> {
  await hy.duty.inject({
    method: 'POST',
    url: '/api/tickets',
    payload: { id: ref, receivedAt: new Date(clock.now()).toISOString(), title: ref, content: ref },
  });
  const inc = await eventually(
    async () =>
      (await hy.duty.inject({ method: 'GET', url: '/api/incidents' })).json<{ items: Incident[] }>().items.find((i) => i.title === ref),
    ref,
  );
  return (await hy.duty.inject({ method: 'POST', url: `/api/incidents/${inc.id}/grade`, payload: { level: 'I' } })).json<Incident>();
}

const releaseDue = (i: Incident) => i.clocks.find((c) => c.kind === 'release')!.dueAt;

it('keeps running clocks on the pack they started with', async () => {
  handle = await freshPglite();
  const before = await boot();
  const old = await gradedIncident(before, 'OLD-1');
  expect(releaseDue(old)).toBe(new Date(T0 + 5 * HOUR).toISOString());
  await before.stop();
  running.splice(0);

  await clock.advanceBy(HOUR);
  const after = await boot(parseRulePack({ name: '某市 2026', clocks: { release: { spanHours: 3 } } }));
  const fresh = await gradedIncident(after, 'NEW-1');
  expect(releaseDue(fresh)).toBe(new Date(T0 + HOUR + 3 * HOUR).toISOString());
  await after.engine.timer.rearm();
  await clock.advanceTo(T0 + 4 * HOUR);
  const oldNow = (await after.duty.inject({ method: 'GET', url: `/api/incidents/${old.id}` })).json<Incident>();
  expect(releaseDue(oldNow)).toBe(new Date(T0 + 5 * HOUR).toISOString());
  expect(oldNow.clocks.find((c) => c.kind === 'release')!.state).toBe('running');
  const freshNow = (await after.duty.inject({ method: 'GET', url: `/api/incidents/${fresh.id}` })).json<Incident>();
  expect(freshNow.clocks.find((c) => c.kind === 'release')!.state).toBe('breached');
});

it('administrators see the jurisdictions’ overrides in the pack in force, and set a unit’s jurisdiction (audited)', async () => {
  const pack = parseRulePack({
    name: '某市 2026（分辖区）',
    jurisdictions: { east: { ladder: { clocks: { release: { leadersAfterHours: 2 } }, interview: { breaches: 2, period: 'month' } } } },
  });
  const env = await startEmbedded({ clock, handle, pack, units: [{ id: 'roads', name: '东区交通局', email: 'roads@example.test' }] });
  running.push(env.hy);
  const admin = await env.as('admin');
  const inForce = (await admin.inject({ method: 'GET', url: '/api/admin/rule-pack' })).json<{ source: string; pack: typeof pack }>();
  expect(inForce.source).toBe('file');
  const shown = inForce.pack;
  expect(shown.name).toBe('某市 2026（分辖区）');
  expect(shown.jurisdictions!.east!.ladder.interview).toEqual({ breaches: 2, period: 'month' });
  expect(shown.jurisdictions!.east!.ladder.clocks.release.steps.find((s) => s.id === 'leaders')!.afterMs).toBe(2 * HOUR);
  expect(shown.ladder.clocks.release.steps.find((s) => s.id === 'leaders')!.afterMs).toBe(4 * HOUR);

  const units = () =>
    admin.inject({ method: 'GET', url: '/api/admin/units' }).then((r) => r.json<{ items: { id: string; jurisdiction: string }[] }>());
  expect((await units()).items.find((u) => u.id === 'roads')!.jurisdiction).toBe('default');
  const patched = await admin.inject({ method: 'PATCH', url: '/api/admin/units/roads', payload: { jurisdiction: 'east' } });
  expect(patched.statusCode, patched.body).toBe(200);
  expect(patched.json()).toMatchObject({ id: 'roads', jurisdiction: 'east' });
  const created = await admin.inject({
    method: 'POST',
    url: '/api/admin/units',
    payload: { id: 'parks', name: '西区园林局', jurisdiction: 'west' },
  });
  expect(created.json()).toMatchObject({ id: 'parks', jurisdiction: 'west' });
  expect((await admin.inject({ method: 'PATCH', url: '/api/admin/units/roads', payload: { jurisdiction: ' ' } })).statusCode).toBe(400);
  const trail = await handle.db.select().from(auditLog).where(eq(auditLog.entityId, 'roads'));
  expect(trail.map((a) => [a.action, a.input])).toContainEqual(['unit.updated', { jurisdiction: 'east' }]);
});

it('an administrator’s activated pack reaches the embedded engine: a clock started afterwards takes it, one started before keeps its own', async () => {
  const env = await startEmbedded({ clock });
  onTestFinished(() => env.stop());
  const hy = Object.assign(env.hy, { duty: await env.as('duty') });
  const admin = await env.as('admin');
  const start = clock.now();
  const before = await gradedIncident(hy, '老旧小区电梯停运');
  expect(releaseDue(before)).toBe(new Date(start + 5 * HOUR).toISOString());

  const res = await admin.inject({
    method: 'POST',
    url: '/api/admin/rule-packs',
    payload: { document: { name: '某市 2026', clocks: { release: { spanHours: 3 } } }, note: '3 小时' },
  });
  expect(res.statusCode, res.body).toBe(201);
  // The embedded engine's deps ask the same holder at each use: no restart, no re-read needed.
  expect(env.hy.engine.deps.pack().clocks.release.spanMs).toBe(3 * HOUR);
  const inForce = (await admin.inject({ method: 'GET', url: '/api/admin/rule-pack' })).json<{ source: string; version: number }>();
  expect(inForce).toMatchObject({ source: 'database', version: 1 });

  await clock.advanceBy(HOUR);
  const after = await gradedIncident(hy, '地铁站台积水漫延');
  expect(releaseDue(after)).toBe(new Date(start + HOUR + 3 * HOUR).toISOString());
  const beforeNow = (await hy.duty.inject({ method: 'GET', url: `/api/incidents/${before.id}` })).json<Incident>();
  expect(releaseDue(beforeNow)).toBe(new Date(start + 5 * HOUR).toISOString());

  // A change made elsewhere (another process, psql) reaches it through PGlite's NOTIFY.
  await env.handle.db.execute(sql`update rule_packs set active = false`);
  await eventually(async () => env.hy.rulePacks.info().source === 'default', 'the holder to fall back to the default');
  expect(env.hy.engine.deps.pack().clocks.release.spanMs).toBe(5 * HOUR);
});
