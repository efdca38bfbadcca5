/**
 * The board's order (PGlite + in-process bus, fake clock): breached first, longest overdue
 * first; then the soonest due; closed last — and the total counts what the page leaves out.
 */
import { FakeClock } from '@huiying/clock';
import { eventually, type SessionClient } from '@huiying/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type EmbeddedHarness, startEmbedded } from '../../standalone/test/embedded-harness.ts';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-10-12T08:00:00+08:00');
const clock = new FakeClock(T0);
let env: EmbeddedHarness;
let duty: SessionClient;

beforeAll(async () => {
  env = await startEmbedded({ clock });
  duty = await env.as('duty');
});
afterAll(async () => {
  await env?.stop();
});

async function incident(ref: string, hoursAgo: number): Promise<string> {
  const receivedAt = new Date(clock.now() - hoursAgo * HOUR).toISOString();
  await duty.inject({ method: 'POST', url: '/api/tickets', payload: { id: ref, receivedAt, title: ref, content: ref } });
  return eventually(
    async () => (await duty.inject({ method: 'GET', url: `/api/incidents?q=${ref}` })).json().items[0]?.id as string | undefined,
    ref,
  );
}

const board = async (query = 'status=open') =>
  (await duty.inject({ method: 'GET', url: `/api/incidents?${query}` })).json<{ items: { title: string }[]; total: number }>();

it('orders breached first by how long overdue, then the soonest due, and pages with a total', async () => {
  await incident('A', 0); // 48 h clock due T0+48h
  await incident('B', 10); // due T0+38h
  await incident('C', 50); // due T0-2h: breached on arrival
  await incident('D', 60); // due T0-12h: breached longest
  const e = await incident('E', 0);
  await duty.inject({ method: 'POST', url: `/api/incidents/${e}/grade`, payload: { level: 'II' } }); // release due T0+5h
  const f = await incident('F', 1);
  await duty.inject({ method: 'POST', url: `/api/incidents/${f}/dismiss`, payload: { reason: '不属于政务舆情' } });

  await eventually(async () => (await board()).total === 5, 'five open');
  expect((await board()).items.map((i) => i.title)).toEqual(['D', 'C', 'E', 'B', 'A']);
  expect((await board('status=open&page=2&pageSize=2')).items.map((i) => i.title)).toEqual(['E', 'B']);
  expect((await board('status=open&page=2&pageSize=2')).total).toBe(5);
  expect((await board('')).items.map((i) => i.title)).toEqual(['D', 'C', 'E', 'B', 'A', 'F']);
  expect((await board('state=breached')).items.map((i) => i.title)).toEqual(['D', 'C']);
  expect((await board('level=II')).items.map((i) => i.title)).toEqual(['E']);
  expect((await board('level=ungraded&status=open')).total).toBe(4);

  // Six hours on, E's 5 h release is overdue too — by less than C and D.
  await env.hy.engine.timer.rearm();
  await clock.advanceBy(6 * HOUR);
  await eventually(async () => (await board('state=breached')).total === 3, 'E breached');
  expect((await board()).items.map((i) => i.title)).toEqual(['D', 'C', 'E', 'B', 'A']);
});
