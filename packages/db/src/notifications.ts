/**
 * Notification rows: the queue between the ladder (which decides) and the dispatcher (which
 * delivers). Every function takes `now` from the caller's clock, so backoff and leases run on
 * the same (possibly fake or scaled) time as the clocks that caused them.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { Db, DbOrTx } from './index.ts';
import { audit, rowsOf } from './index.ts';
import { alerts } from './schema.ts';

export type NotificationStatus = 'pending' | 'sending' | 'sent' | 'failed' | 'cancelled';

export interface NewNotification {
  clockKey: string;
  /** The ladder firing key (`urge#0`). */
  step: string;
  stepKind: string;
  role: string;
  recipient: string;
  recipientUnitId?: string | null;
  channel: string;
  /** Orders delivery: one matter's notifications go out in enqueue order per channel. */
  groupKey: string;
  incidentId?: string | null;
  obligationId?: string | null;
  clockKind?: string | null;
  clockSeq?: number | null;
  subject: string;
  text: string;
  html?: string | null;
}

/** The clock part of a notification's unique key. */
export function clockKey(ref: { incidentId: string; clockSeq: number } | { obligationId: string }): string {
  return 'obligationId' in ref ? `obligation:${ref.obligationId}` : `incident:${ref.incidentId}:${ref.clockSeq}`;
}

/**
 * Queue notifications. Call it inside the transaction of the clock change that caused them,
 * so a rolled-back change queues nothing and a committed one cannot lose its notifications.
 * A row already queued for the same (clock, step, recipient, channel) is left as it is.
 * Returns the ids of the rows actually inserted.
 */
export async function enqueueNotifications(tx: DbOrTx, at: Date, rows: readonly NewNotification[]): Promise<string[]> {
  if (rows.length === 0) return [];
  // One JSON parameter, not the query builder's ~20 per row: a batch of signals opening hundreds
  // of incidents queues hundreds of rows, and building their parameters one by one cost the
  // engine more CPU than PostgreSQL spent inserting them. In the given order (their seq).
  const given = JSON.stringify(
    rows.map((r, ord) => ({
      ord,
      id: randomUUID(),
      clockKey: r.clockKey,
      step: r.step,
      stepKind: r.stepKind,
      role: r.role,
      recipient: r.recipient,
      recipientUnitId: r.recipientUnitId ?? null,
      channel: r.channel,
      groupKey: r.groupKey,
      incidentId: r.incidentId ?? null,
      obligationId: r.obligationId ?? null,
      clockKind: r.clockKind ?? null,
      clockSeq: r.clockSeq ?? null,
      subject: r.subject,
      text: r.text,
      html: r.html ?? null,
    })),
  );
  const stamp = at.toISOString();
  // One audit row per notification actually queued, in the same statement.
  const inserted = rowsOf<{ id: string }>(
    await tx.execute(sql`
      with ins as (
        insert into notifications (id, clock_key, step, step_kind, role, recipient, recipient_unit_id, channel, group_key,
          incident_id, obligation_id, clock_kind, clock_seq, subject, text, html, status, created_at)
        select r.id, r."clockKey", r.step, r."stepKind", r.role, r.recipient, r."recipientUnitId", r.channel, r."groupKey",
          r."incidentId", r."obligationId", r."clockKind", r."clockSeq", r.subject, r.text, r.html, 'pending', ${stamp}::timestamptz
        from jsonb_to_recordset(${given}::jsonb) as r(ord integer, id text, "clockKey" text, step text, "stepKind" text,
          role text, recipient text, "recipientUnitId" text, channel text, "groupKey" text, "incidentId" text,
          "obligationId" text, "clockKind" text, "clockSeq" integer, subject text, text text, html text)
        order by r.ord
        on conflict do nothing
        returning id, recipient, channel, step, seq
      ),
      audited as (
        insert into audit_log (at, actor, action, entity, entity_id, input, result)
        select ${stamp}::timestamptz, 'notify', 'notification.queued', 'notification', ins.id, null,
          jsonb_build_object('channel', ins.channel, 'recipient', ins.recipient, 'step', ins.step)
        from ins order by ins.seq
      )
      select id from ins order by seq`),
  );
  return inserted.map((r) => r.id);
}

/**
 * A met, cancelled or waived clock (or a retracted breach) cancels what is still pending for
 * it. A row already being sent cannot be recalled; it is sent.
 */
export async function cancelNotifications(tx: DbOrTx, key: string, at: Date, reason: string): Promise<number> {
  const rows = rowsOf<{ id: string }>(
    await tx.execute(sql`
      update notifications set status = 'cancelled', cancelled_at = ${at.toISOString()}, last_error = ${reason}
      where clock_key = ${key} and status = 'pending'
      returning id`),
  );
  if (rows.length > 0) {
    await audit(tx, {
      at,
      actor: 'notify',
      action: 'notification.cancelled',
      entity: 'clock',
      entityId: key,
      result: { reason, ids: rows.map((r) => r.id) },
    });
  }
  return rows.length;
}

export interface ClaimedNotification {
  id: string;
  leaseToken: string;
  channel: string;
  recipient: string;
  role: string;
  step: string;
  stepKind: string;
  groupKey: string;
  incidentId: string | null;
  obligationId: string | null;
  subject: string;
  text: string;
  html: string | null;
  attempts: number;
}

/**
 * Claim due rows under a lease: pending rows whose backoff has passed, and rows whose sender
 * died (lease expired). Only the head of each (matter, channel) queue is claimable, so one
 * matter's notifications go out in order even while its head is retrying.
 */
export async function claimNotifications(db: Db, o: { now: Date; leaseMs: number; limit: number }): Promise<ClaimedNotification[]> {
  const token = randomUUID();
  const now = o.now.toISOString();
  const until = new Date(o.now.getTime() + o.leaseMs).toISOString();
  const rows = rowsOf<{
    id: string;
    seq: number | string;
    channel: string;
    recipient: string;
    role: string;
    step: string;
    step_kind: string;
    group_key: string;
    incident_id: string | null;
    obligation_id: string | null;
    subject: string;
    text: string;
    html: string | null;
    attempts: number;
  }>(
    await db.execute(sql`
      update notifications set status = 'sending', lease_token = ${token}, lease_until = ${until}, attempts = attempts + 1
      where id in (
        select c.id from notifications c
        where ((c.status = 'pending' and (c.next_attempt_at is null or c.next_attempt_at <= ${now}))
            or (c.status = 'sending' and c.lease_until < ${now}))
          and not exists (
            select 1 from notifications p
            where p.group_key = c.group_key and p.channel = c.channel and p.seq < c.seq and p.status in ('pending', 'sending'))
        order by c.seq
        limit ${o.limit}
        for update skip locked)
      returning id, seq, channel, recipient, role, step, step_kind, group_key, incident_id, obligation_id, subject, text, html, attempts`),
  );
  return rows
    .sort((a, b) => Number(a.seq) - Number(b.seq))
    .map((r) => ({
      id: r.id,
      leaseToken: token,
      channel: r.channel,
      recipient: r.recipient,
      role: r.role,
      step: r.step,
      stepKind: r.step_kind,
      groupKey: r.group_key,
      incidentId: r.incident_id,
      obligationId: r.obligation_id,
      subject: r.subject,
      text: r.text,
      html: r.html,
      attempts: r.attempts,
    }));
}

/**
 * Fenced: marks the row sent only while this sender still holds the lease. false means the
 * lease was lost (it expired and another dispatcher took the row over).
 */
export async function markNotificationSent(
  db: DbOrTx,
  n: { id: string; leaseToken: string },
  at: Date,
  messageId: string,
): Promise<boolean> {
  return (await markNotificationsSent(db, [{ id: n.id, leaseToken: n.leaseToken, messageId }], at)).has(n.id);
}

/**
 * markNotificationSent for a dispatcher pass's sent rows at once, in one statement (atomic on its
 * own): each row is marked sent only while this sender still holds its lease, and each row marked
 * gets its audit row (`notification.sent`, result `{ messageId }`) in the same statement, in the
 * order given — as enqueueNotifications queues and audits. A mail used to cost a transaction of
 * its own (begin, update, the query builder's insert, commit: four round trips); a pass of twenty
 * now costs one. Returns the ids marked: one missing had lost its lease.
 */
export async function markNotificationsSent(
  db: DbOrTx,
  sent: readonly { id: string; leaseToken: string; messageId: string }[],
  at: Date,
): Promise<Set<string>> {
  if (sent.length === 0) return new Set();
  const given = JSON.stringify(sent.map((s, ord) => ({ ord, id: s.id, leaseToken: s.leaseToken, messageId: s.messageId })));
  const stamp = at.toISOString();
  const marked = rowsOf<{ id: string }>(
    await db.execute(sql`
      with given as (
        select * from jsonb_to_recordset(${given}::jsonb) as g(ord integer, id text, "leaseToken" text, "messageId" text)
      ),
      upd as (
        update notifications n set status = 'sent', sent_at = ${stamp}::timestamptz, message_id = g."messageId",
          lease_token = null, lease_until = null, last_error = null
        from given g
        where n.id = g.id and n.lease_token = g."leaseToken" and n.status = 'sending'
        returning n.id, g.ord, g."messageId"
      ),
      audited as (
        insert into audit_log (at, actor, action, entity, entity_id, input, result)
        select ${stamp}::timestamptz, 'notify', 'notification.sent', 'notification', upd.id, null,
          jsonb_build_object('messageId', upd."messageId")
        from upd order by upd.ord
      )
      select id from upd`),
  );
  return new Set(marked.map((r) => r.id));
}

/** Fenced like markNotificationSent: back to pending, tried again from `retryAt`. */
export async function markNotificationRetry(
  db: Db,
  n: { id: string; leaseToken: string },
  at: Date,
  retryAt: Date,
  error: string,
): Promise<boolean> {
  return db.transaction(async (tx) => {
    const rows = rowsOf<{ id: string; attempts: number }>(
      await tx.execute(sql`
        update notifications set status = 'pending', next_attempt_at = ${retryAt.toISOString()}, last_error = ${error},
          lease_token = null, lease_until = null
        where id = ${n.id} and lease_token = ${n.leaseToken} and status = 'sending'
        returning id, attempts`),
    );
    if (rows.length === 0) return false;
    await audit(tx, {
      at,
      actor: 'notify',
      action: 'notification.retry_scheduled',
      entity: 'notification',
      entityId: n.id,
      result: { error, attempts: rows[0]!.attempts, retryAt: retryAt.toISOString() },
    });
    return true;
  });
}

/**
 * Fenced: gives the row up and raises a `delivery_failed` alert on the duty board (the same
 * alert comes back, unacknowledged, if a retried row fails again).
 */
export async function markNotificationFailed(db: Db, n: { id: string; leaseToken: string }, at: Date, error: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    const rows = rowsOf<{
      id: string;
      incident_id: string | null;
      obligation_id: string | null;
      clock_kind: string | null;
      clock_seq: number | null;
      recipient_unit_id: string | null;
      attempts: number;
      clock_key: string;
      role: string;
      subject: string;
    }>(
      await tx.execute(sql`
        update notifications set status = 'failed', failed_at = ${at.toISOString()}, last_error = ${error},
          lease_token = null, lease_until = null
        where id = ${n.id} and lease_token = ${n.leaseToken} and status = 'sending'
        returning id, incident_id, obligation_id, clock_kind, clock_seq, recipient_unit_id, attempts, clock_key, role, subject`),
    );
    const row = rows[0];
    if (!row) return false;
    const title = row.incident_id === null && row.obligation_id === null ? await sourceAlertDeliveryTitle(tx, row) : null;
    await tx
      .insert(alerts)
      .values({
        id: deliveryFailedAlertId(row.id),
        incidentId: row.incident_id,
        obligationId: row.obligation_id,
        kind: 'delivery_failed',
        clock: row.clock_kind,
        clockSeq: row.clock_seq,
        unitId: row.recipient_unit_id,
        at,
        title,
      })
      .onConflictDoUpdate({ target: alerts.id, set: { at, acknowledgedAt: null, acknowledgedBy: null, retractedAt: null, title } });
    await audit(tx, {
      at,
      actor: 'notify',
      action: 'notification.failed',
      entity: 'notification',
      entityId: row.id,
      result: { error, attempts: row.attempts },
    });
    return true;
  });
}

/** Who a notification was for, by role (never the address or the person's name). */
const ROLE_LABELS: Record<string, string> = { admin: '系统管理员', duty: '值班员', unit: '责任单位', supervisor: '主管单位' };

/**
 * The duty board's title for a failed mail about a source alert (`alert:feed_failing:<feed>`,
 * `alert:channel_silent:<feed>`; see packages/notify source-alerts.ts): which feed or channel,
 * which alert, and which recipient by role and unit — no address, no name. Null for other mails
 * (those about incidents and duties take their title from them).
 */
async function sourceAlertDeliveryTitle(
  tx: DbOrTx,
  row: { clock_key: string; role: string; recipient_unit_id: string | null; subject: string },
): Promise<string | null> {
  const m = /^alert:(feed_failing|channel_silent):(.+)$/.exec(row.clock_key);
  if (!m) return null;
  const [, kind, feedId] = m;
  const [names] = rowsOf<{ feed: string | null; unit: string | null }>(
    await tx.execute(sql`
      select (select name from feeds where id = ${feedId!}) as feed,
             (select name from units where id = ${row.recipient_unit_id}) as unit`),
  );
  const role = ROLE_LABELS[row.role] ?? row.role;
  const recipient = names?.unit ? `${names.unit}（${role}）` : role;
  const feed = names?.feed ?? feedId!;
  const what = kind === 'feed_failing' ? `信息源“${feed}”抓取故障通知` : `官方渠道“${feed}”未按时更新提醒`;
  return `邮件未送达：${what}，收件人 ${recipient}`;
}

export const deliveryFailedAlertId = (notificationId: string): string => `delivery_failed:${notificationId}`;

/**
 * An administrator sends a failed notification again (after fixing an address, say): it is
 * pending at once with fresh attempts, and its `delivery_failed` alert is withdrawn.
 */
export async function retryNotification(db: Db, id: string, actor: string, at: Date): Promise<boolean> {
  return db.transaction(async (tx) => {
    const rows = rowsOf<{ id: string }>(
      await tx.execute(sql`
        update notifications set status = 'pending', attempts = 0, next_attempt_at = null, failed_at = null
        where id = ${id} and status = 'failed'
        returning id`),
    );
    if (rows.length === 0) return false;
    await tx.execute(sql`update alerts set retracted_at = ${at.toISOString()} where id = ${deliveryFailedAlertId(id)}`);
    await audit(tx, { at, actor, action: 'notification.retried', entity: 'notification', entityId: id });
    return true;
  });
}

export interface NotificationView {
  id: string;
  step: string;
  stepKind: string;
  role: string;
  recipient: string;
  channel: string;
  subject: string;
  status: NotificationStatus;
  attempts: number;
  createdAt: string;
  sentAt: string | null;
  messageId: string | null;
  lastError: string | null;
}

/** What the incident page lists: every notification for one incident or duty, in order. */
export async function notificationsFor(db: DbOrTx, ref: { incidentId: string } | { obligationId: string }): Promise<NotificationView[]> {
  const where = 'incidentId' in ref ? sql`incident_id = ${ref.incidentId}` : sql`obligation_id = ${ref.obligationId}`;
  const rows = rowsOf<{
    id: string;
    step: string;
    step_kind: string;
    role: string;
    recipient: string;
    channel: string;
    subject: string;
    status: NotificationStatus;
    attempts: number;
    created_at: Date | string;
    sent_at: Date | string | null;
    message_id: string | null;
    last_error: string | null;
  }>(
    await db.execute(
      sql`select id, step, step_kind, role, recipient, channel, subject, status, attempts, created_at, sent_at, message_id, last_error
          from notifications where ${where} order by seq`,
    ),
  );
  const iso = (d: Date | string) => new Date(d).toISOString();
  return rows.map((r) => ({
    id: r.id,
    step: r.step,
    stepKind: r.step_kind,
    role: r.role,
    recipient: r.recipient,
    channel: r.channel,
    subject: r.subject,
    status: r.status,
    attempts: r.attempts,
    createdAt: iso(r.created_at),
    sentAt: r.sent_at === null ? null : iso(r.sent_at),
    messageId: r.message_id,
    lastError: r.last_error,
  }));
}
