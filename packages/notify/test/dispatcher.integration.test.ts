/**
 * The dispatcher against the real PostgreSQL and a real SMTP server (smtp-server, parsed with
 * mailparser), on a fake clock: the relay refuses connections, answers 421, then 451, for a
 * simulated hour; then it is up and every mail arrives once, in order per incident. Two
 * dispatchers at once send nothing twice.
 */
import { FakeClock } from '@huiying/clock';
import {
  alerts,
  and,
  auditLog,
  clockKey,
  type Db,
  enqueueNotifications,
  eq,
  inArray,
  type NewNotification,
  notifications,
  rowsOf,
  sql,
} from '@huiying/db';
import { type ControllableSmtp, freshDatabase, startControllableSmtp, testLogger } from '@huiying/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emailChannel } from '../src/channels/email.ts';
import { Dispatcher } from '../src/dispatcher.ts';
import { renderStepMessage } from '../src/step-templates.ts';

const T0 = Date.parse('2026-05-06T02:00:00+08:00');
const H = 3_600_000;
let h: Awaited<ReturnType<typeof freshDatabase>>;
let smtp: ControllableSmtp;

beforeAll(async () => {
  h = await freshDatabase();
  smtp = await startControllableSmtp();
});

afterAll(async () => {
  await smtp?.close();
  await h?.drop();
});

function rows(incident: string, steps: string[], to = `${incident}@example.test`): NewNotification[] {
  return steps.map((step) => {
    const kind = step.split('#')[0] === 'leaders' ? 'report' : (step.split('#')[0] as 'notice' | 'warning' | 'urge');
    const m = renderStepMessage({
      step: kind,
      subject: { type: 'incident', id: incident, title: `事件${incident}`, level: 'II' },
      recipientName: '甲单位',
      unitName: '甲单位',
      clock: { kind: 'release', startAt: T0 - 5 * H, dueAt: T0, spanMs: 5 * H },
      now: T0,
      dashboardUrl: 'http://127.0.0.1:8080/',
    });
    return {
      clockKey: clockKey({ incidentId: incident, clockSeq: 1 }),
      step,
      stepKind: kind,
      role: 'unit',
      recipient: to,
      channel: 'email',
      groupKey: incident,
      incidentId: incident,
      clockKind: 'release',
      clockSeq: 1,
      subject: `${incident} ${step} ${m.subject}`,
      text: m.text,
      html: m.html,
    };
  });
}

async function queue(db: Db, at: number, r: NewNotification[]): Promise<void> {
  await db.transaction((tx) => enqueueNotifications(tx, new Date(at), r));
}

const fastEmail = () =>
  emailChannel({
    url: smtp.url,
    from: 'huiying@example.test',
    connectionTimeoutMs: 2_000,
    greetingTimeoutMs: 2_000,
    socketTimeoutMs: 5_000,
    maxConnections: 2,
  });

describe('SMTP down for over an hour of simulated time (refused 20 min, 421 20 min, 451 40 min), then up', () => {
  it('every mail arrives once, in order per incident, with its stable Message-ID', async () => {
    const clock = new FakeClock(T0);
    const dispatcher = new Dispatcher({ db: h.db, clock, adapters: { email: fastEmail() }, logger: testLogger });
    const steps = ['notice#0', 'warning#0', 'urge#0', 'urge#1', 'leaders#0'];
    for (const i of ['a', 'b', 'c']) await queue(h.db, T0, rows(i, steps));

    await smtp.down(); // connection refused
    const phases: [number, () => Promise<void> | void][] = [
      [20 * 60_000, () => smtp.up().then(() => void (smtp.mode = '421'))],
      [40 * 60_000, () => void (smtp.mode = '451')],
      [80 * 60_000, () => void (smtp.mode = 'accept')],
    ];
    for (let minute = 0; minute <= 4 * 60; minute++) {
      const phase = phases.find(([at]) => at === minute * 60_000);
      if (phase) await phase[1]();
      await dispatcher.drain();
      if (minute < 80) expect(smtp.mails).toHaveLength(0);
      if (smtp.mails.length === 15) break;
      await clock.advanceBy(60_000);
    }
    await dispatcher.stop();
    // What the retries met, from the audit log: refused, 421 and 451, all retried.
    const retried = await h.db
      .select({ result: auditLog.result })
      .from(auditLog)
      .where(eq(auditLog.action, 'notification.retry_scheduled'));
    const errors = retried.map((r) => (r.result as { error: string }).error);
    expect(errors.some((e) => /ECONNREFUSED/.test(e))).toBe(true);
    expect(errors.some((e) => e.startsWith('SMTP 421'))).toBe(true);
    expect(errors.some((e) => e.startsWith('SMTP 451'))).toBe(true);
    expect(smtp.mails).toHaveLength(15);
    for (const i of ['a', 'b', 'c']) {
      expect(smtp.mails.filter((m) => m.subject?.startsWith(`${i} `)).map((m) => m.subject!.split(' ')[1])).toEqual(steps);
    }
    const sent = await h.db.select().from(notifications);
    expect(sent.every((r) => r.status === 'sent')).toBe(true);
    expect(new Set(smtp.mails.map((m) => m.messageId)).size).toBe(15);
    for (const m of smtp.mails) {
      const row = sent.find((r) => r.subject === m.subject)!;
      expect(m.messageId).toBe(`<${row.id}@huiying.local>`);
      expect(row.messageId).toBe(m.messageId);
    }
    // The mail itself: zh-CN text and HTML, the real span and the Shanghai due time.
    const urge = smtp.mails.find((m) => m.subject?.startsWith('a urge#0'))!;
    expect(urge.subject).toContain('【超时督办】事件a：权威信息发布已超时');
    expect(urge.text).toContain('权威信息发布（时限5小时）：2026-05-06 02:00 前（北京时间），已超时 不足1分钟');
    expect(urge.html).toContain('<a href="http://127.0.0.1:8080/#/incidents/a">');
  });

  it('a mailbox that does not exist fails for good at once, raises delivery_failed, and holds nothing else back', async () => {
    const clock = new FakeClock(T0 + 10 * H);
    smtp.mode = 'accept';
    smtp.rejectRecipients.add('nobody@example.test');
    const before = smtp.mails.length;
    const dispatcher = new Dispatcher({
      db: h.db,
      clock,
      adapters: { email: fastEmail() },
      logger: testLogger,
    });
    await queue(h.db, clock.now(), [...rows('d', ['urge#0'], 'nobody@example.test'), ...rows('d', ['urge#1'])]);
    const r = await dispatcher.drain();
    await dispatcher.stop();
    expect(r).toMatchObject({ sent: 1, failed: 1 });
    expect(smtp.mails.slice(before).map((m) => m.subject?.split(' ')[1])).toEqual(['urge#1']);
    const [failed] = await h.db.select().from(notifications).where(eq(notifications.recipient, 'nobody@example.test'));
    expect(failed!.status).toBe('failed');
    const [alert] = await h.db
      .select()
      .from(alerts)
      .where(eq(alerts.id, `delivery_failed:${failed!.id}`));
    expect(alert).toMatchObject({ kind: 'delivery_failed', incidentId: 'd' });
  });
});

describe('two dispatchers at once', () => {
  it('send every notification exactly once', async () => {
    const clock = new FakeClock(T0 + 20 * H);
    smtp.mode = 'accept';
    const before = smtp.mails.length;
    for (let i = 0; i < 12; i++) await queue(h.db, clock.now(), rows(`p${i}`, ['notice#0', 'urge#0', 'leaders#0']));
    const one = new Dispatcher({ db: h.db, clock, adapters: { email: fastEmail() }, logger: testLogger, batch: 5 });
    const two = new Dispatcher({ db: h.db, clock, adapters: { email: fastEmail() }, logger: testLogger, batch: 5 });
    const [a, b] = await Promise.all([one.drain(), two.drain()]);
    // Each drains until nothing is claimable; the other may still hold leased heads, so go again.
    const [c, d] = await Promise.all([one.drain(), two.drain()]);
    await Promise.all([one.stop(), two.stop()]);
    expect(a.sent + b.sent + c.sent + d.sent).toBe(36);
    expect(a.sent).toBeGreaterThan(0);
    expect(b.sent).toBeGreaterThan(0);
    const mails = smtp.mails.slice(before);
    expect(mails).toHaveLength(36);
    expect(new Set(mails.map((m) => m.messageId)).size).toBe(36);
    for (let i = 0; i < 12; i++) {
      expect(mails.filter((m) => m.subject?.startsWith(`p${i} `)).map((m) => m.subject!.split(' ')[1])).toEqual([
        'notice#0',
        'urge#0',
        'leaders#0',
      ]);
    }
  });
});

describe('the mails of one pass', () => {
  it('are marked sent and audited in one statement: one notification.sent row each, as when each had its own', async () => {
    const clock = new FakeClock(T0 + 30 * H);
    smtp.mode = 'accept';
    smtp.rejectRecipients.add('nobody@example.test');
    const matters = ['s0', 's1', 's2', 's3', 's4', 's5'];
    for (const m of matters) await queue(h.db, clock.now(), rows(m, ['notice#0']));
    // A mailbox that does not exist, in the same pass: marked failed on its own, as before.
    await queue(h.db, clock.now(), rows('s-nobody', ['notice#0'], 'nobody@example.test'));
    const dispatcher = new Dispatcher({ db: h.db, clock, adapters: { email: fastEmail() }, logger: testLogger });
    const pass = await dispatcher.runOnce();
    await dispatcher.stop();
    expect(pass).toEqual({ sent: 6, retried: 0, failed: 1, fenced: 0 });

    const sent = await h.db.select().from(notifications).where(inArray(notifications.incidentId, matters));
    expect(sent).toHaveLength(6);
    const at = new Date(clock.now());
    for (const n of sent) expect(n).toMatchObject({ status: 'sent', sentAt: at, messageId: `<${n.id}@huiying.local>`, leaseToken: null });
    const audited = await h.db
      .select()
      .from(auditLog)
      .where(
        and(
          eq(auditLog.action, 'notification.sent'),
          inArray(
            auditLog.entityId,
            sent.map((n) => n.id),
          ),
        ),
      );
    // What markNotificationSent wrote for each mail in its own transaction, field for field.
    expect(audited.map(({ id: _id, ...entry }) => entry).sort((a, b) => a.entityId.localeCompare(b.entityId))).toEqual(
      sent
        .map((n) => ({
          at,
          actor: 'notify',
          action: 'notification.sent',
          entity: 'notification',
          entityId: n.id,
          input: null,
          result: { messageId: `<${n.id}@huiying.local>` },
        }))
        .sort((a, b) => a.entityId.localeCompare(b.entityId)),
    );
    // One statement: the six marks and their six audit rows were written by one transaction.
    const ids = JSON.stringify(sent.map((n) => n.id));
    const [written] = rowsOf<{ marks: number; audits: number; together: number }>(
      await h.db.execute(sql`
        with n as (select xmin::text as x from notifications where id in (select jsonb_array_elements_text(${ids}::jsonb))),
          a as (select xmin::text as x from audit_log
            where action = 'notification.sent' and entity_id in (select jsonb_array_elements_text(${ids}::jsonb)))
        select (select count(distinct x) from n)::int as marks, (select count(distinct x) from a)::int as audits,
          (select count(distinct x) from (select x from n union select x from a) u)::int as together`),
    );
    expect(written).toEqual({ marks: 1, audits: 1, together: 1 });
  });
});

it('refuses a lease shorter than an adapter’s longest send', () => {
  expect(
    () => new Dispatcher({ db: h.db, clock: new FakeClock(T0), adapters: { email: fastEmail() }, logger: testLogger, leaseMs: 10_000 }),
  ).toThrow(/lease 10000 ms must exceed the email adapter/);
});
