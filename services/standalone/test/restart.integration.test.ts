/**
 * A deadline survives an engine restart: the clock is in PostgreSQL, not in the process.
 * Stop the engine with a clock running, let the due pass while it is down, start a new one:
 * the breach fires exactly once and exactly one mail goes out.
 */
import type { KafkaBus } from '@huiying/bus/kafka';
import { FakeClock } from '@huiying/clock';
import { alerts, notifications } from '@huiying/db';
import { emailChannel } from '@huiying/notify';
import { ensureDemoAccounts } from '@huiying/identity';
import { eventually, freshDatabase, kafkaBus, loginAs, startSmtp, type TestSmtp, testLogger, uniqueName } from '@huiying/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createHuiying, type Huiying } from '../src/compose.ts';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-05-04T09:30:00+08:00');

let db: Awaited<ReturnType<typeof freshDatabase>>;
let bus: KafkaBus;
let smtp: TestSmtp;
const running: Huiying[] = [];

beforeAll(async () => {
  db = await freshDatabase();
  bus = await kafkaBus();
  smtp = await startSmtp();
});

afterAll(async () => {
  for (const hy of running) await hy.stop();
  await bus?.close();
  await smtp?.close();
  await db?.drop();
});

async function boot(clock: FakeClock, groupSuffix: string): Promise<Huiying> {
  const hy = await createHuiying({
    handle: db,
    bus,
    clock,
    channels: { email: emailChannel({ url: smtp.url, from: 'huiying@example.test' }) },
    logger: testLogger,
    dutyEmail: 'duty@example.test',
    publicUrl: 'http://localhost/',
    groupSuffix,
    relayPollMs: 50,
    timerResyncMs: 0,
    dispatchPollMs: 24 * HOUR,
  });
  await hy.app.ready();
  running.push(hy);
  return hy;
}

it('fires a breach that fell due while the engine was down, once', async () => {
  const clock = new FakeClock(T0);
  const group = uniqueName('-g');
  const first = await boot(clock, group);
  await ensureDemoAccounts(db.db, new Date());
  const duty = await loginAs(first.app, 'duty');
  const res = await duty.inject({
    method: 'POST',
    url: '/api/tickets',
    payload: { id: 'R-1', receivedAt: new Date(T0).toISOString(), content: '道路塌陷无人处理' },
  });
  expect(res.statusCode).toBe(201);
  await eventually(
    async () =>
      (await db.db.select().from(alerts)).length === 0 &&
      (await duty.inject({ method: 'GET', url: '/api/incidents' })).json().items.length === 1,
    'the incident',
  );

  await first.stop();
  running.splice(running.indexOf(first), 1);
  // Due passes while no engine runs: nothing can fire.
  await clock.advanceTo(T0 + 50 * HOUR);
  expect((await db.db.select().from(alerts)).filter((a) => a.kind === 'breached')).toHaveLength(0);

  const second = await boot(clock, group);
  await clock.advanceBy(0);
  const breached = (await db.db.select().from(alerts)).filter((a) => a.kind === 'breached');
  expect(breached).toHaveLength(1);
  expect(breached[0]!.dueAt?.toISOString()).toBe(new Date(T0 + 48 * HOUR).toISOString());
  // Both warnings were missed while down and are reported late rather than lost.
  expect((await db.db.select().from(alerts)).filter((a) => a.kind === 'warning')).toHaveLength(2);

  // The ladder does not send warnings late for a clock already breached: one urge, to the duty
  // office (unassigned), whose copy to the supervising office is the same address.
  await eventually(
    async () => smtp.mails.length === 1 && (await db.db.select().from(notifications)).every((e) => e.status === 'sent'),
    'the breach mail',
  );
  expect(smtp.mails[0]!.subject).toMatch(/^【超时督办】/);
  expect(JSON.stringify(smtp.mails[0]!.to)).toContain('duty@example.test');
  // Until the next ladder step (12 h after the due) nothing more is sent.
  await clock.advanceBy(9 * HOUR);
  await second.dispatcher.drain();
  expect(smtp.mails).toHaveLength(1);
  expect((await db.db.select().from(alerts)).filter((a) => a.kind === 'breached')).toHaveLength(1);
});
