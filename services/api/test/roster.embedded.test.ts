/**
 * The duty roster over HTTP (PGlite): administrators keep it, duty officers and leaders read it
 * with who is on shift now; a shift is an enabled duty officer's, ends after it starts, never
 * overlaps the officer's own shifts, and never makes three officers on shift at once. Every
 * change is audited with the administrator as actor.
 */
import { FakeClock } from '@huiying/clock';
import { auditLog, like } from '@huiying/db';
import type { SessionClient } from '@huiying/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedHarness, startEmbedded } from '../../standalone/test/embedded-harness.ts';

const H = 3_600_000;
const T0 = Date.parse('2026-03-04T10:00:00+08:00'); // a Wednesday
const clock = new FakeClock(T0);
const iso = (ms: number) => new Date(ms).toISOString();
let env: EmbeddedHarness;
let admin: SessionClient;
let duty: SessionClient;
const officers: string[] = [];
let leaderId = '';

beforeAll(async () => {
  env = await startEmbedded({ clock });
  admin = await env.as('admin');
  duty = await env.as('duty');
  for (const name of ['zhang', 'li', 'wang']) {
    const res = await admin.inject({
      method: 'POST',
      url: '/api/admin/users',
      payload: { username: `duty-${name}`, displayName: name, role: 'duty', password: 'a-long-password-1', email: `${name}@example.test` },
    });
    expect(res.statusCode).toBe(201);
    officers.push(res.json<{ id: string }>().id);
  }
  const users = (await admin.inject({ method: 'GET', url: '/api/admin/users' })).json<{ items: { id: string; role: string }[] }>();
  leaderId = users.items.find((u) => u.role === 'leader')!.id;
});

afterAll(async () => {
  await env?.stop();
});

const add = (userId: string, from: number, to: number) =>
  admin.inject({ method: 'POST', url: '/api/admin/roster', payload: { userId, startsAt: iso(from), endsAt: iso(to) } });

describe('the duty roster', () => {
  it('is kept by administrators and read, with who is on shift now, by duty officers', async () => {
    const day = await add(officers[0]!, T0 - 2 * H, T0 + 6 * H);
    expect(day.statusCode).toBe(201);
    expect(day.json()).toMatchObject({ officer: 'zhang', hasEmail: true, hasPhone: false });
    // A second officer overlapping the first: two on shift at once is allowed.
    expect((await add(officers[1]!, T0 + 4 * H, T0 + 16 * H)).statusCode).toBe(201);
    const roster = (await duty.inject({ method: 'GET', url: '/api/roster' })).json<{
      from: string;
      items: { officer: string }[];
      onShift: { officer: string }[];
    }>();
    expect(roster.from).toBe(iso(Date.parse('2026-03-02T00:00:00+08:00'))); // Monday of this week
    expect(roster.items.map((s) => s.officer)).toEqual(['zhang', 'li']);
    expect(roster.onShift.map((s) => s.officer)).toEqual(['zhang']);
  });

  it.each([
    ['a third officer on shift at once', () => add(officers[2]!, T0 + 5 * H, T0 + 7 * H), 409],
    ["an overlap with the officer's own shift", () => add(officers[0]!, T0 + 5 * H, T0 + 8 * H), 409],
    ['a shift ending before it starts', () => add(officers[2]!, T0 + 30 * H, T0 + 29 * H), 400],
    ['a shift longer than 48 h', () => add(officers[2]!, T0 + 30 * H, T0 + 79 * H), 400],
    ['a leader put on duty', () => add(leaderId, T0 + 30 * H, T0 + 31 * H), 400],
    ['an unknown user', () => add('nobody', T0 + 30 * H, T0 + 31 * H), 400],
  ])('refuses %s', async (_what, call, status) => {
    const res = await call();
    expect(res.statusCode).toBe(status);
    expect(res.json<{ code: string }>().code).toBe(status === 409 ? 'HY_CONFLICT' : 'HY_VALIDATION');
  });

  it('a third officer fits once the overlap ends; a shift moved onto two others is refused; every change is audited', async () => {
    const third = await add(officers[2]!, T0 + 6 * H, T0 + 8 * H);
    expect(third.statusCode).toBe(201);
    const id = third.json<{ id: string }>().id;
    const moved = await admin.inject({ method: 'PATCH', url: `/api/admin/roster/${id}`, payload: { startsAt: iso(T0 + 5 * H) } });
    expect(moved.statusCode).toBe(409);
    const noted = await admin.inject({ method: 'PATCH', url: `/api/admin/roster/${id}`, payload: { note: '代班' } });
    expect(noted.json()).toMatchObject({ note: '代班', startsAt: iso(T0 + 6 * H) });
    expect((await admin.inject({ method: 'DELETE', url: `/api/admin/roster/${id}` })).statusCode).toBe(204);
    expect((await admin.inject({ method: 'DELETE', url: `/api/admin/roster/${id}` })).statusCode).toBe(404);
    const trail = await env.hy.db.select().from(auditLog).where(like(auditLog.action, 'roster.%'));
    expect(trail.map((a) => a.action)).toEqual([
      'roster.shift_added',
      'roster.shift_added',
      'roster.shift_added',
      'roster.shift_changed',
      'roster.shift_removed',
    ]);
    expect(new Set(trail.map((a) => a.actor))).toEqual(new Set(['user:admin']));
  });
});
