/**
 * The ladder's mail in the embedded default (PGlite) against a real SMTP server — what the
 * retired breach mailer's test covered, on the new path: a mailbox that refuses mail fails on
 * its own (an alert for the duty board, re-tryable by an administrator) without holding up
 * the others; the same step evaluated again queues nothing; nothing is sent twice.
 */
import type { SignalMessage } from '@huiying/bus';
import { FakeClock } from '@huiying/clock';
import { alerts, type DbHandle, eq, notifications, retryNotification, units } from '@huiying/db';
import { DEFAULT_RULE_PACK } from '@huiying/domain';
import { Dispatcher, emailChannel } from '@huiying/notify';
import { freshPglite, startSmtp, type TestSmtp, testLogger } from '@huiying/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { signalIn } from './signal-in.ts';
import { type EngineDeps, fireDue } from '../src/store.ts';

const T0 = Date.parse('2026-05-06T10:00:00+08:00');
const H = 3_600_000;
let handle: DbHandle;
let smtp: TestSmtp;
let refuse = true;
const clock = new FakeClock(T0);
let deps: EngineDeps;
let dispatcher: Dispatcher;

beforeAll(async () => {
  handle = await freshPglite();
  await handle.db.insert(units).values([
    { id: 'a', name: '甲单位', email: 'a@example.test' },
    { id: 'b', name: '乙单位', email: 'full@example.test' },
  ]);
  smtp = await startSmtp({ reject: (address) => refuse && address === 'full@example.test' });
  deps = {
    db: handle.db,
    clock,
    pack: () => DEFAULT_RULE_PACK,
    ladder: { dashboardUrl: 'http://localhost/', dutyEmail: 'duty@example.test' },
  };
  dispatcher = new Dispatcher({
    db: handle.db,
    clock,
    adapters: { email: emailChannel({ url: smtp.url, from: 'huiying@example.test' }) },
    logger: testLogger,
  });
});

afterAll(async () => {
  await dispatcher?.stop();
  await smtp?.close();
  await handle?.close();
});

const MATTERS: Record<string, string> = { 's-a': '小区电梯频繁故障', 's-b': '河道垃圾堆积发臭' };

const signal = (id: string, unitHint: string): SignalMessage & { title: string } => ({
  v: 1,
  type: 'signal',
  id,
  source: 'hotline',
  sourceRef: id,
  title: MATTERS[id] ?? `事件${id}`,
  unitHint,
  receivedAt: new Date(T0).toISOString(),
});

it('a refused mailbox fails on its own, on the duty board, without holding up the mail behind it; a retry delivers it', async () => {
  const b = await signalIn(deps, signal('s-b', 'b'));
  const a = await signalIn(deps, signal('s-a', 'a'));
  const result = await dispatcher.drain();
  expect(result).toMatchObject({ sent: 1, failed: 1 });
  expect(smtp.mails.map((m) => JSON.stringify(m.to))).toEqual([expect.stringContaining('a@example.test')]);
  const [refused] = await handle.db.select().from(notifications).where(eq(notifications.incidentId, b.incidentId));
  expect(refused).toMatchObject({ status: 'failed', recipient: 'full@example.test', stepKind: 'notice' });
  expect(refused!.lastError).toContain('550');
  const [alert] = await handle.db
    .select()
    .from(alerts)
    .where(eq(alerts.id, `delivery_failed:${refused!.id}`));
  expect(alert).toMatchObject({ kind: 'delivery_failed', incidentId: b.incidentId, unitId: 'b' });

  refuse = false;
  expect(await retryNotification(handle.db, refused!.id, 'admin:li', new Date(clock.now()))).toBe(true);
  expect(await dispatcher.drain()).toMatchObject({ sent: 1 });
  expect(smtp.mails).toHaveLength(2);
  const sent = await handle.db.select().from(notifications);
  expect(sent.every((n) => n.status === 'sent' && n.messageId === `<${n.id}@huiying.local>`)).toBe(true);
  expect(sent.map((n) => n.incidentId).sort()).toEqual([a.incidentId, b.incidentId].sort());
});

it('the same step evaluated again (a redelivered signal, a second timer pass) queues and sends nothing more', async () => {
  await signalIn(deps, signal('s-a', 'a'));
  await fireDue(deps, clock.now());
  await clock.advanceTo(T0 + 24 * H);
  expect(await fireDue(deps, clock.now())).toBe(2);
  expect(await fireDue(deps, clock.now())).toBe(0);
  expect(await dispatcher.drain()).toMatchObject({ sent: 2, failed: 0 });
  const rows = await handle.db.select().from(notifications);
  // Two notices, then one warning each at 50 %.
  expect(rows.map((r) => `${r.step} ${r.recipient}`).sort()).toEqual([
    'notice#0 a@example.test',
    'notice#0 full@example.test',
    'warning#0 a@example.test',
    'warning#0 full@example.test',
  ]);
  expect(smtp.mails).toHaveLength(4);
  expect(await dispatcher.drain()).toMatchObject({ sent: 0 });
});
