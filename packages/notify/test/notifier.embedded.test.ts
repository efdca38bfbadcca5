/**
 * Escalation mail against a real SMTP server: a mailbox that refuses mail does not hold up the
 * others and is retried later; a breach whose event never arrived is swept up; nothing is sent twice.
 */
import { EmbeddedBus } from '@huiying/bus';
import { FakeClock } from '@huiying/clock';
import { alerts, type DbHandle, emails, eq, openPglite, sql, units } from '@huiying/db';
import { startSmtp, type TestSmtp, testLogger } from '@huiying/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { smtpMailer } from '../src/mailer.ts';
import { Notifier } from '../src/notifier.ts';

const T0 = Date.parse('2026-05-06T10:00:00+08:00');
let handle: DbHandle;
let smtp: TestSmtp;
let notifier: Notifier;
const clock = new FakeClock(T0);
let refuse = true;

beforeAll(async () => {
  handle = await openPglite();
  await handle.migrate();
  await handle.db.insert(units).values([
    { id: 'a', name: '甲单位', email: 'a@example.test' },
    { id: 'b', name: '乙单位', email: 'full@example.test' },
  ]);
  smtp = await startSmtp({ reject: (address) => refuse && address === 'full@example.test' });
  const bus = new EmbeddedBus();
  await bus.ensureTopics();
  notifier = new Notifier({
    db: handle.db,
    bus,
    mailer: smtpMailer({ url: smtp.url, from: 'huiying@example.test' }),
    clock,
    logger: testLogger,
    dutyEmail: 'duty@example.test',
    dashboardUrl: 'http://localhost/',
  });
});

afterAll(async () => {
  await smtp?.close();
  await handle?.close();
});

const breach = (n: number, unitId: string) => ({
  v: 1 as const,
  type: 'event' as const,
  id: `evt-${n}`,
  event: 'breached',
  at: new Date(T0).toISOString(),
  incidentId: `inc-${n}`,
  alertId: `alr-${n}`,
  clock: 'response',
  due: new Date(T0).toISOString(),
  unitId,
  title: `事件${n}`,
});

it('a refused mailbox is retried later without blocking the mail behind it', async () => {
  await notifier.handle(breach(1, 'b'));
  await notifier.handle(breach(2, 'a'));
  expect(smtp.mails.map((m) => JSON.stringify(m.to))).toEqual([expect.stringContaining('a@example.test')]);
  const [refused] = await handle.db.select().from(emails).where(eq(emails.to, 'full@example.test'));
  expect(refused).toMatchObject({ status: 'pending', attempts: 1 });
  expect(refused!.lastError).toContain('550');
  expect(refused!.nextAttemptAt!.getTime()).toBeGreaterThan(Date.now());

  // Not yet due for another attempt: nothing is sent.
  expect(await notifier.sendPending()).toBe(0);
  refuse = false;
  await handle.db.execute(sql`update emails set next_attempt_at = now() - interval '1 second' where "to" = 'full@example.test'`);
  expect(await notifier.sendPending()).toBe(1);
  expect(smtp.mails).toHaveLength(2);
  const all = await handle.db.select().from(emails);
  expect(all.every((e) => e.status === 'sent' && e.messageId === `<${e.id}@huiying>`)).toBe(true);
  // The same breach delivered again adds nothing.
  await notifier.handle(breach(1, 'b'));
  expect(smtp.mails).toHaveLength(2);
});

it('sweeps up a breach whose event never reached the notifier, once', async () => {
  await handle.db.insert(alerts).values({
    id: 'alr-lost',
    incidentId: 'inc-lost',
    kind: 'breached',
    clock: 'response',
    dueAt: new Date(T0),
    unitId: 'a',
    at: new Date(T0),
  });
  expect(await notifier.sweep()).toBe(0); // younger than a minute: its event may still be on the way
  await clock.advanceBy(120_000);
  expect(await notifier.sweep()).toBe(1);
  expect(await notifier.sendPending()).toBe(1);
  expect(await notifier.sweep()).toBe(0);
  expect(smtp.mails).toHaveLength(3);
  expect(smtp.mails[2]!.subject).toContain('超时');
});

it('a breach retracted while its mail waits for a retry is not mailed', async () => {
  refuse = true;
  await notifier.handle(breach(3, 'b'));
  const [waiting] = await handle.db.select().from(emails).where(eq(emails.alertId, 'alr-3'));
  expect(waiting).toMatchObject({ status: 'pending', attempts: 1 });
  await handle.db.insert(alerts).values({
    id: 'alr-3',
    incidentId: 'inc-3',
    kind: 'breached',
    clock: 'response',
    dueAt: new Date(T0),
    unitId: 'b',
    at: new Date(T0),
    retractedAt: new Date(T0 + 60_000),
  });
  refuse = false;
  await handle.db.execute(sql`update emails set next_attempt_at = now() - interval '1 second' where alert_id = 'alr-3'`);
  const before = smtp.mails.length;
  expect(await notifier.sendPending()).toBe(0);
  expect(smtp.mails).toHaveLength(before);
  const [cancelled] = await handle.db.select().from(emails).where(eq(emails.alertId, 'alr-3'));
  expect(cancelled).toMatchObject({ status: 'cancelled', lastError: 'breach retracted' });
});
