/** Notification rows on real PostgreSQL and on PGlite: unique per step, ordered, leased and fenced. */
import { bothDatabases, closeTestDatabase, type TestDatabase } from '@huiying/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import {
  alerts,
  auditLog,
  cancelNotifications,
  claimNotifications,
  clockKey,
  eq,
  enqueueNotifications,
  feeds,
  markNotificationFailed,
  markNotificationRetry,
  markNotificationSent,
  markNotificationsSent,
  type NewNotification,
  notifications,
  notificationsFor,
  retryNotification,
  rowsOf,
  sql,
  units,
} from '../src/index.ts';

const T0 = new Date('2026-05-06T02:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const LEASE = 5 * 60_000;

const row = (incident: string, step: string, recipient = 'a@example.test', channel = 'email'): NewNotification => ({
  clockKey: clockKey({ incidentId: incident, clockSeq: 1 }),
  step,
  stepKind: step.startsWith('urge') ? 'urge' : 'notice',
  role: 'unit',
  recipient,
  channel,
  groupKey: incident,
  incidentId: incident,
  clockKind: 'response',
  clockSeq: 1,
  subject: `${incident} ${step}`,
  text: 'body',
});

describe.each(bothDatabases)('$name', ({ open }) => {
  let h: TestDatabase;
  afterAll(() => closeTestDatabase(h));

  it('a step queued twice for the same recipient and channel is one row', async () => {
    h = await open();
    const first = await h.db.transaction((tx) =>
      enqueueNotifications(tx, T0, [row('i1', 'notice#0'), row('i1', 'notice#0', 'a@example.test', 'sms')]),
    );
    const again = await h.db.transaction((tx) => enqueueNotifications(tx, T0, [row('i1', 'notice#0')]));
    expect(first).toHaveLength(2);
    expect(again).toEqual([]);
  });

  it('a rolled-back clock change queues nothing', async () => {
    await expect(
      h.db.transaction(async (tx) => {
        await enqueueNotifications(tx, T0, [row('i9', 'urge#0')]);
        throw new Error('clock change failed');
      }),
    ).rejects.toThrow('clock change failed');
    expect(await h.db.select().from(notifications).where(eq(notifications.incidentId, 'i9'))).toEqual([]);
  });

  it('only the head of one matter’s queue is claimable; a retrying head holds the rest back', async () => {
    await h.db.transaction((tx) => enqueueNotifications(tx, T0, [row('i2', 'urge#0'), row('i2', 'urge#1'), row('i3', 'urge#0')]));
    const claimed = await claimNotifications(h.db, { now: T0, leaseMs: LEASE, limit: 10 });
    // i1's email and sms, i2's first, i3's first.
    expect(claimed.map((c) => c.subject)).toEqual(['i1 notice#0', 'i1 notice#0', 'i2 urge#0', 'i3 urge#0']);
    const head = claimed.find((c) => c.subject === 'i2 urge#0')!;
    expect(await markNotificationRetry(h.db, head, T0, at(60_000), 'SMTP 421')).toBe(true);
    for (const c of claimed.filter((c) => c !== head)) expect(await markNotificationSent(h.db, c, T0, `<${c.id}@huiying>`)).toBe(true);
    expect(await claimNotifications(h.db, { now: at(59_999), leaseMs: LEASE, limit: 10 })).toEqual([]);
    const retried = await claimNotifications(h.db, { now: at(60_000), leaseMs: LEASE, limit: 10 });
    expect(retried.map((c) => [c.subject, c.attempts])).toEqual([['i2 urge#0', 2]]);
    await markNotificationSent(h.db, retried[0]!, at(60_000), 'x');
    expect((await claimNotifications(h.db, { now: at(60_000), leaseMs: LEASE, limit: 10 })).map((c) => c.subject)).toEqual(['i2 urge#1']);
  });

  it('a lost lease fences the mark: the dispatcher that took over owns the row', async () => {
    await h.db.transaction((tx) => enqueueNotifications(tx, T0, [row('i4', 'urge#0')]));
    const [mine, ...others] = await claimNotifications(h.db, { now: T0, leaseMs: LEASE, limit: 10 });
    expect([mine!.subject, others]).toEqual(['i4 urge#0', []]);
    expect(await claimNotifications(h.db, { now: at(LEASE - 1), leaseMs: LEASE, limit: 10 })).toEqual([]);
    const [takeover] = await claimNotifications(h.db, { now: at(LEASE + 1), leaseMs: LEASE, limit: 10 });
    expect(takeover).toMatchObject({ id: mine!.id, attempts: 2 });
    expect(takeover!.leaseToken).not.toBe(mine!.leaseToken);
    expect(await markNotificationSent(h.db, mine!, at(LEASE + 2), 'late')).toBe(false);
    expect(await markNotificationSent(h.db, takeover!, at(LEASE + 2), 'mine')).toBe(true);
  });

  it('a batch of marks is fenced row by row: a lost lease leaves that row, and only that row, unmarked and unaudited', async () => {
    await h.db.transaction((tx) => enqueueNotifications(tx, T0, [row('b1', 'urge#0'), row('b2', 'urge#0'), row('b3', 'urge#0')]));
    const now = at(LEASE * 2);
    const claimed = (await claimNotifications(h.db, { now, leaseMs: LEASE, limit: 10 })).filter((c) =>
      ['b1', 'b2', 'b3'].includes(c.groupKey),
    );
    expect(claimed.map((c) => c.groupKey)).toEqual(['b1', 'b2', 'b3']);
    const [, lost] = claimed;
    const marked = await markNotificationsSent(
      h.db,
      claimed.map((c) => ({ id: c.id, leaseToken: c === lost ? 'another-dispatcher' : c.leaseToken, messageId: `<${c.id}@huiying>` })),
      now,
    );
    expect([...marked].sort()).toEqual([claimed[0]!.id, claimed[2]!.id].sort());
    const states = await h.db
      .select()
      .from(notifications)
      .where(sql`${notifications.incidentId} in ('b1', 'b2', 'b3')`);
    expect(Object.fromEntries(states.map((n) => [n.incidentId, [n.status, n.messageId]]))).toEqual({
      b1: ['sent', `<${claimed[0]!.id}@huiying>`],
      b2: ['sending', null],
      b3: ['sent', `<${claimed[2]!.id}@huiying>`],
    });
    const audited = rowsOf<{ entity_id: string; result: unknown }>(
      await h.db.execute(sql`select entity_id, result from audit_log where action = 'notification.sent'
        and entity_id in (${claimed[0]!.id}, ${claimed[1]!.id}, ${claimed[2]!.id}) order by id`),
    );
    expect(audited).toEqual([
      { entity_id: claimed[0]!.id, result: { messageId: `<${claimed[0]!.id}@huiying>` } },
      { entity_id: claimed[2]!.id, result: { messageId: `<${claimed[2]!.id}@huiying>` } },
    ]);
    expect(await markNotificationsSent(h.db, [], now)).toEqual(new Set());
  });

  it('a permanent failure raises a delivery_failed alert; an administrator retries it and the alert is withdrawn', async () => {
    await h.db.transaction((tx) => enqueueNotifications(tx, T0, [row('i5', 'urge#0', 'nobody@example.test')]));
    const [c] = (await claimNotifications(h.db, { now: at(LEASE * 3), leaseMs: LEASE, limit: 10 })).filter((r) => r.groupKey === 'i5');
    expect(await markNotificationFailed(h.db, c!, at(LEASE * 3), '550 mailbox unavailable')).toBe(true);
    const [alert] = await h.db
      .select()
      .from(alerts)
      .where(eq(alerts.id, `delivery_failed:${c!.id}`));
    expect(alert).toMatchObject({ kind: 'delivery_failed', incidentId: 'i5', clock: 'response', clockSeq: 1, retractedAt: null });
    expect(await retryNotification(h.db, c!.id, 'admin', at(LEASE * 4))).toBe(true);
    expect(await retryNotification(h.db, c!.id, 'admin', at(LEASE * 4))).toBe(false);
    const [after] = await h.db
      .select()
      .from(alerts)
      .where(eq(alerts.id, `delivery_failed:${c!.id}`));
    expect(after!.retractedAt).not.toBeNull();
    const [again] = (await claimNotifications(h.db, { now: at(LEASE * 4), leaseMs: LEASE, limit: 10 })).filter((r) => r.groupKey === 'i5');
    expect(again!.attempts).toBe(1);
  });

  it('a failed mail about a source alert gets a title for the duty board: which feed, which alert, which recipient by role', async () => {
    await h.db.insert(units).values({ id: 'u-housing', name: '市住建局' });
    await h.db.insert(feeds).values([
      { id: 'flaky', name: '不稳定的源', url: 'https://news.example.test/rss' },
      { id: 'housing-site', name: '市住建局网站 通知公告', url: 'https://zjj.example.test/rss', kind: 'official' },
    ]);
    // As source-alerts.ts queues them: keyed by the alert, about no incident or duty.
    const mail = (alertId: string, role: string, recipient: string, unit: string | null): NewNotification => ({
      clockKey: `alert:${alertId}`,
      step: `raised@${T0.toISOString()}`,
      stepKind: alertId.split(':')[0]!,
      role,
      recipient,
      recipientUnitId: unit,
      channel: 'email',
      groupKey: alertId,
      subject: 's',
      text: 'body',
    });
    await h.db.transaction((tx) =>
      enqueueNotifications(tx, T0, [
        mail('feed_failing:flaky', 'admin', 'zhang.san@example.test', null),
        mail('channel_silent:housing-site', 'unit', 'li.si@example.test', 'u-housing'),
      ]),
    );
    const claimed = (await claimNotifications(h.db, { now: at(LEASE * 3), leaseMs: LEASE, limit: 50 })).filter((r) =>
      r.groupKey.includes(':'),
    );
    expect(claimed).toHaveLength(2);
    for (const c of claimed) expect(await markNotificationFailed(h.db, c, at(LEASE * 3), '550 mailbox unavailable')).toBe(true);
    const titles = await Promise.all(
      claimed.map(
        async (c) =>
          (
            await h.db
              .select()
              .from(alerts)
              .where(eq(alerts.id, `delivery_failed:${c.id}`))
          )[0]!.title,
      ),
    );
    expect(titles.sort()).toEqual([
      '邮件未送达：信息源“不稳定的源”抓取故障通知，收件人 系统管理员',
      '邮件未送达：官方渠道“市住建局网站 通知公告”未按时更新提醒，收件人 市住建局（责任单位）',
    ]);
    // No address, no name.
    for (const t of titles) expect(t).not.toMatch(/zhang|li\.si|@/);
  });

  it('a stopped clock cancels what is pending for it, and the incident page lists every row', async () => {
    await h.db.transaction((tx) => enqueueNotifications(tx, T0, [row('i6', 'urge#0'), row('i6', 'leaders#0', 'leader@example.test')]));
    const n = await h.db.transaction((tx) => cancelNotifications(tx, clockKey({ incidentId: 'i6', clockSeq: 1 }), T0, 'met'));
    expect(n).toBe(2);
    expect((await claimNotifications(h.db, { now: at(LEASE * 10), leaseMs: LEASE, limit: 50 })).filter((r) => r.groupKey === 'i6')).toEqual(
      [],
    );
    const list = await notificationsFor(h.db, { incidentId: 'i6' });
    expect(list.map((l) => [l.step, l.recipient, l.status])).toEqual([
      ['urge#0', 'a@example.test', 'cancelled'],
      ['leaders#0', 'leader@example.test', 'cancelled'],
    ]);
  });

  it('queues a batch in the order given, every column as given, and audits each row it queued (not the ones already there)', async () => {
    const batch = [
      { ...row('q1', 'urge#0'), recipientUnitId: 'u-1', html: '<p>正文 “引号”</p>', subject: '催办：城东高架桥裂缝' },
      row('i1', 'notice#0'), // already queued by the test above: left as it is
      {
        ...row('q2', 'notice#0', 'duty', 'webhook'),
        incidentId: null,
        obligationId: 'o-1',
        clockKind: null,
        clockSeq: null,
        clockKey: 'obligation:o-1',
      },
      row('q1', 'urge#1'),
    ];
    const ids = await h.db.transaction((tx) => enqueueNotifications(tx, at(1000), batch));
    expect(ids).toHaveLength(3);
    const stored = rowsOf<Record<string, unknown>>(
      await h.db.execute(sql`
        select id, clock_key, step, step_kind, role, recipient, recipient_unit_id, channel, group_key, incident_id, obligation_id,
          clock_kind, clock_seq, subject, text, html, status, attempts, created_at
        from notifications where id in (${sql.join(
          ids.map((id) => sql`${id}`),
          sql`, `,
        )}) order by seq`),
    );
    expect(stored.map((r) => r.id)).toEqual(ids);
    expect(stored.map((r) => ({ ...r, id: undefined, created_at: new Date(r.created_at as string).toISOString() }))).toEqual(
      [batch[0]!, batch[2]!, batch[3]!].map((n) => ({
        id: undefined,
        clock_key: n.clockKey,
        step: n.step,
        step_kind: n.stepKind,
        role: n.role,
        recipient: n.recipient,
        recipient_unit_id: n.recipientUnitId ?? null,
        channel: n.channel,
        group_key: n.groupKey,
        incident_id: n.incidentId ?? null,
        obligation_id: n.obligationId ?? null,
        clock_kind: n.clockKind ?? null,
        clock_seq: n.clockSeq ?? null,
        subject: n.subject,
        text: n.text,
        html: n.html ?? null,
        status: 'pending',
        attempts: 0,
        created_at: at(1000).toISOString(),
      })),
    );
    const audited = await h.db
      .select({ at: auditLog.at, actor: auditLog.actor, entityId: auditLog.entityId, input: auditLog.input, result: auditLog.result })
      .from(auditLog)
      .where(eq(auditLog.action, 'notification.queued'));
    expect(audited.filter((a) => ids.includes(a.entityId))).toEqual(
      ids.map((id, i) => ({
        at: at(1000),
        actor: 'notify',
        entityId: id,
        input: null,
        result: { channel: stored[i]!.channel, recipient: stored[i]!.recipient, step: stored[i]!.step },
      })),
    );
    // Audited once each, here and by the tests above; nothing for the row already there.
    expect(new Set(audited.map((x) => x.entityId)).size).toBe(audited.length);
  });
});
