/**
 * Alerts about sources, as notifications: a feed failing for an hour (`feed_failing`) reaches the
 * administrators and the duty officer on shift (the duty mailbox when nobody is); an official
 * channel silent past its rule (`channel_silent`) reaches its unit, copied to the unit's
 * supervising office. Rows are queued in the transaction that raises the alert, keyed by the
 * alert and the instant it was raised, so one raise mails each recipient once however many
 * processes look; a withdrawal (recovery) mails nothing and cancels what is still unsent.
 */
import { cancelNotifications, type DbOrTx, enqueueNotifications, type NewNotification, sql } from '@huiying/db';
import { type DirectoryOptions, loadAdmins, loadDirectory } from './directory.ts';
import { type Contact, contactsFor, type Directory } from './ladder-notifications.ts';
import { durationText, shanghaiTime } from './step-templates.ts';

export type SourceAlertKind = 'feed_failing' | 'channel_silent';

export interface SourceAlert {
  /** The alert's id (`feed_failing:<feed>`, `channel_silent:<feed>`). */
  alertId: string;
  kind: SourceAlertKind;
  /** When this raise happened: a later raise of the same alert (a new run of failures) mails again. */
  raisedAt: number;
  feed: { id: string; name: string; url: string | null };
  /** The channel's (or feed's) unit. */
  unitId: string | null;
  /** feed_failing: failing since; channel_silent: the last item (or when the channel was added). */
  since: number | null;
  /** feed_failing: the last error; channel_silent: the verdict's reason. */
  detail: string | null;
}

export interface SourceAlertWiring {
  dashboardUrl: string;
  /** The duty mailbox; without it a `duty` recipient with nobody on shift has no address. */
  dutyEmail: string | null;
}

/** The clock part of the notifications' unique key for an alert. */
export const alertNotificationKey = (alertId: string): string => `alert:${alertId}`;

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const FOOTER = '—— 回应 · 政务舆情回应时效监督系统（自动发送，请勿直接回复）';

/** The message about one source alert to one recipient (zh-CN, text and HTML). */
export function renderSourceAlertMessage(i: { alert: SourceAlert; recipientName: string; unitName: string | null; dashboardUrl: string }): {
  subject: string;
  text: string;
  html: string;
} {
  const a = i.alert;
  const link = `${i.dashboardUrl.endsWith('/') ? i.dashboardUrl : `${i.dashboardUrl}/`}#/feeds`;
  let subject: string;
  let lead: string;
  let ask: string;
  const facts: string[] = [];
  if (a.kind === 'feed_failing') {
    subject = `【信息源故障】${a.feed.name}：连续抓取失败`;
    lead =
      a.since === null
        ? `信息源“${a.feed.name}”抓取持续失败，期间的舆情线索可能漏采。`
        : `信息源“${a.feed.name}”自 ${shanghaiTime(a.since)}（北京时间）起抓取持续失败（已 ${durationText(a.raisedAt - a.since)}），期间的舆情线索可能漏采。`;
    ask = '请检查信息源地址与网络，必要时暂停该信息源并安排人工监测。恢复后告警自动撤销，不再另行通知。';
    if (a.detail) facts.push(`最近错误：${a.detail}`);
  } else {
    subject = `【官方渠道未按时更新】${a.feed.name}`;
    lead = `${i.unitName ?? '（未指定单位）'}的官方发布渠道“${a.feed.name}”未按规定频次更新${
      a.since === null ? '' : `（最近一次更新：${shanghaiTime(a.since)}，北京时间）`
    }。`;
    ask = '按照政务新媒体管理要求，区县政府渠道应每个工作日更新，市级部门渠道每周至少更新两次。请及时更新；更新后告警自动撤销。';
    if (a.detail) facts.push(`判定依据：${a.detail}`);
  }
  if (a.feed.url) facts.push(`地址：${a.feed.url}`);
  if (i.unitName) facts.push(`所属单位：${i.unitName}`);
  facts.push(`告警时间：${shanghaiTime(a.raisedAt)}（北京时间）`, `编号：${a.alertId}`);
  const text = [`${i.recipientName}：`, '', lead, '', ask, '', ...facts, `查看详情：${link}`, '', FOOTER].join('\n');
  const html = [
    '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"></head><body style="font-family:sans-serif;line-height:1.6">',
    `<p>${escapeHtml(i.recipientName)}：</p>`,
    `<p>${escapeHtml(lead)}</p>`,
    `<p>${escapeHtml(ask)}</p>`,
    `<p style="color:#555">${facts.map(escapeHtml).join('<br>')}</p>`,
    `<p><a href="${escapeHtml(link)}">查看详情</a></p>`,
    `<p style="color:#888;font-size:12px">${FOOTER}</p>`,
    '</body></html>',
  ].join('\n');
  return { subject, text, html };
}

/**
 * The rows for one raise (email only: these are not deadlines, so no SMS or robots at night).
 * channel_silent: the unit, copied to its supervising office (the duty office stands in for
 * either when missing, as on the ladder). feed_failing: the administrators and the duty officer
 * on shift at the raise (the duty mailbox when nobody is).
 */
export function planSourceAlertNotifications(
  alert: SourceAlert,
  o: { directory: Directory; admins: readonly Contact[]; dashboardUrl: string },
): NewNotification[] {
  const dir = o.directory;
  const unitName = alert.unitId === null ? null : (dir.units.get(alert.unitId)?.name ?? null);
  const recipients: { role: string; contact: Contact; cc: boolean }[] =
    alert.kind === 'channel_silent'
      ? [
          ...contactsFor('unit', alert.unitId, dir).map((contact) => ({ role: 'unit', contact, cc: false })),
          ...contactsFor('supervisor', alert.unitId, dir).map((contact) => ({ role: 'supervisor', contact, cc: true })),
        ]
      : [
          ...o.admins.map((contact) => ({ role: 'admin', contact, cc: false })),
          ...contactsFor('duty', null, dir, alert.raisedAt).map((contact) => ({ role: 'duty', contact, cc: false })),
        ];
  const out: NewNotification[] = [];
  const seen = new Set<string>();
  for (const { role, contact, cc } of recipients) {
    const recipient = contact.addresses.email;
    // The same address through two roles (an administrator on duty, a unit without a parent) gets one.
    if (!recipient || seen.has(recipient)) continue;
    seen.add(recipient);
    const m = renderSourceAlertMessage({
      alert,
      recipientName: cc ? `${contact.name}（抄送）` : contact.name,
      unitName,
      dashboardUrl: o.dashboardUrl,
    });
    out.push({
      clockKey: alertNotificationKey(alert.alertId),
      step: `raised@${new Date(alert.raisedAt).toISOString()}`,
      stepKind: alert.kind,
      role,
      recipient,
      recipientUnitId: contact.unitId,
      channel: 'email',
      groupKey: alert.alertId,
      subject: m.subject,
      text: m.text,
      html: m.html,
    });
  }
  return out;
}

/**
 * Queue the notifications for alerts just raised, inside the raising transaction, and announce
 * them to every listening dispatcher at commit. Returns the rows queued per alert and whether the
 * duty role fell back to the duty mailbox (for the audit).
 */
export async function queueSourceAlertNotifications(
  tx: DbOrTx,
  raised: readonly SourceAlert[],
  wiring: SourceAlertWiring,
  now: number,
): Promise<Map<string, { queued: number; recipients: string[]; dutyFallback: boolean }>> {
  const out = new Map<string, { queued: number; recipients: string[]; dutyFallback: boolean }>();
  if (raised.length === 0) return out;
  const options: DirectoryOptions = { dutyEmail: wiring.dutyEmail, rosterAt: now };
  const directory = await loadDirectory(tx, options);
  const admins = raised.some((a) => a.kind === 'feed_failing') ? await loadAdmins(tx) : [];
  let total = 0;
  for (const alert of raised) {
    const rows = planSourceAlertNotifications(alert, { directory, admins, dashboardUrl: wiring.dashboardUrl });
    const ids = await enqueueNotifications(tx, new Date(now), rows);
    total += ids.length;
    const duty = alert.kind === 'feed_failing' ? contactsFor('duty', null, directory, alert.raisedAt) : [];
    out.set(alert.alertId, {
      queued: ids.length,
      recipients: rows.map((r) => r.recipient),
      dutyFallback: duty.some((c) => c.fallback === true),
    });
  }
  if (total > 0) await tx.execute(sql`select pg_notify('huiying_notify', ${String(total)})`);
  return out;
}

/** A withdrawn alert (the feed recovered, the channel updated) mails nothing; what is still unsent for it is cancelled. */
export function cancelSourceAlertNotifications(tx: DbOrTx, alertId: string, now: number, reason: string): Promise<number> {
  return cancelNotifications(tx, alertNotificationKey(alertId), new Date(now), reason);
}
