/**
 * Two engines and two dispatchers at once over one PostgreSQL database: both timers fire the
 * same clocks and ladder steps (SKIP LOCKED), both dispatchers claim the same rows (leased,
 * fenced), and every notification reaches the real SMTP server exactly once.
 */
import type { SignalMessage } from '@huiying/bus';
import { FakeClock } from '@huiying/clock';
import { rowsOf, sql } from '@huiying/db';
import type { Dispatcher } from '@huiying/notify';
import type { TestSmtp } from '@huiying/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningEngine } from '../src/engine.ts';
import { handleSignals } from '../src/signals.ts';
import { type FreshDatabase, type NotifyFixture, startNotifyFixture } from './fixtures/notify-postgres.ts';

const H = 3_600_000;
const T0 = Date.parse('2026-04-08T09:00:00+08:00');
const N = 30;

let fixture: NotifyFixture;
let db: FreshDatabase;
let smtp: TestSmtp;
const clock = new FakeClock(T0);
const engines: RunningEngine[] = [];
const dispatchers: Dispatcher[] = [];

beforeAll(async () => {
  const at = new Date(T0);
  fixture = await startNotifyFixture({
    units: [
      { id: 'office', name: '市政府办公室', email: 'office@example.test' },
      { id: 'a', name: '甲局', email: 'a@example.test', parentId: 'office' },
      { id: 'b', name: '乙局', email: 'b@example.test', parentId: 'office' },
    ],
    users: [
      {
        id: 'l',
        username: 'leader',
        displayName: '领导',
        role: 'leader',
        email: 'leader@example.test',
        createdAt: at,
        updatedAt: at,
      },
    ],
  });
  ({ db, smtp } = fixture);
  for (const name of ['one', 'two']) {
    const dispatcher = fixture.dispatcher(clock, { batch: 7, pollMs: 24 * H });
    engines.push(await fixture.engine({ clock, handle: db, groupId: `engine-${name}`, onNotify: () => dispatcher.wake() }));
    dispatcher.start();
    dispatchers.push(dispatcher);
  }
});

afterAll(() => fixture?.stop());

it('every ladder step is queued once and mailed once with two engines and two dispatchers', async () => {
  // Tickets received over the last two days: their 48 h clocks fall due one after the other in the next hour.
  const signals: SignalMessage[] = Array.from({ length: N }, (_, i) => ({
    v: 1,
    type: 'signal',
    id: `sig-${i}`,
    source: 'hotline',
    sourceRef: `T-${i}`,
    title: `工单${i}`,
    unitHint: i % 2 === 0 ? 'a' : 'b',
    publishedAt: new Date(T0 - 47 * H + i * 120_000).toISOString(),
    receivedAt: new Date(T0).toISOString(),
  }));
  // Both engines take the same signals (a redelivery to the other one): one incident each.
  await Promise.all([handleSignals(engines[0]!.deps, signals), handleSignals(engines[1]!.deps, signals).catch(() => undefined)]);
  await handleSignals(engines[1]!.deps, signals);
  for (const e of engines) await e.timer.rearm();
  // Through the breaches, the urges (every 12 h) and the leaders' step, with both dispatchers racing at each step.
  for (let t = T0; t <= T0 + 14 * H; t += 20 * 60_000) {
    await clock.advanceTo(t);
    await Promise.all(dispatchers.map((d) => d.drain()));
  }
  const rows = rowsOf<{ id: string; step: string; recipient: string; status: string; message_id: string | null }>(
    await db.db.execute(sql`select id, step, recipient, status, message_id from notifications where channel = 'email' order by seq`),
  );
  // Per incident (its warning points were past at intake, so skipped): the notice to its unit; the
  // urge to the unit and its office at the due and again 12 h later; the leaders and the office then.
  const steps = new Set(rows.map((r) => r.step));
  expect([...steps].sort()).toEqual(['leaders#0', 'notice#0', 'urge#0', 'urge#1']);
  expect(rows).toHaveLength(7 * N);
  expect(rows.every((r) => r.status === 'sent')).toBe(true);
  // Exactly once: one mail per row, each with its row's Message-ID, none twice.
  const ids = smtp.mails.map((m) => m.messageId);
  expect(ids).toHaveLength(rows.length);
  expect(new Set(ids).size).toBe(rows.length);
  expect(new Set(ids)).toEqual(new Set(rows.map((r) => `<${r.id}@huiying.local>`)));
  // And per incident, one notice to its unit.
  const notices = rows.filter((r) => r.step === 'notice#0');
  expect(notices).toHaveLength(N);
});
