/**
 * The duty roster, handover summaries, routing by urgency and hour, and the weekly digest,
 * through two real engines (their timers, digest and handover schedulers) on the real
 * PostgreSQL with a fake clock; mail to a real SMTP server, SMS and robots to a local HTTP
 * receiver, all through the dispatcher with the adapters built from process-style settings.
 *
 * One Monday (Asia/Shanghai), 2026-03-02: 张 on shift 08:00–13:30, nobody 13:30–15:00, 李
 * 15:00–23:00, 王 23:00–08:00. A 重大 matter graded at 09:00 (5 h clock) is warned at 11:30 and
 * 13:00 (张), urged at 14:00 (nobody: the duty mailbox) and 15:00 (李). A 特别重大 matter graded
 * at 21:00 is warned at 23:30, at night: SMS and robots to the unit, SMS to 王.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SignalMessage } from '@huiying/bus';
import { FakeClock } from '@huiying/clock';
import { auditLog, dutyShifts, eq, rowsOf, signals, sql } from '@huiying/db';
import { channelsFromSettings, type Dispatcher } from '@huiying/notify';
import type { TestSmtp } from '@huiying/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningEngine } from '../src/engine.ts';
import { handleSignal } from '../src/signals.ts';
import { applyCommand, type EngineDeps } from '../src/store.ts';
import { type FreshDatabase, type NotifyFixture, startNotifyFixture } from './fixtures/notify-postgres.ts';

const H = 3_600_000;
const at = (hhmm: string, day = '2026-03-02') => Date.parse(`${day}T${hhmm}:00+08:00`);
const T0 = at('09:00');

let fixture: NotifyFixture;
let db: FreshDatabase;
let smtp: TestSmtp;
let receiver: Server;
const received: { path: string; body: Record<string, unknown> }[] = [];
const clock = new FakeClock(T0);
const engines: RunningEngine[] = [];
let dispatcher: Dispatcher;
const incidents = { day: '', night: '' };

beforeAll(async () => {
  receiver = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        path: new URL(req.url ?? '/', 'http://x').pathname,
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"errcode":0,"errmsg":"ok"}');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

  const t = new Date(T0 - 7 * 24 * H);
  const user = (id: string, displayName: string, role: 'duty' | 'leader', email: string, phone: string | null = null) => ({
    id,
    username: id,
    displayName,
    role,
    email,
    phone,
    createdAt: t,
    updatedAt: t,
  });
  fixture = await startNotifyFixture({
    units: [
      { id: 'office', name: '市政府办公室（政务公开办）', email: 'office@example.test' },
      {
        id: 'water',
        name: '市水务局',
        email: 'water@example.test',
        parentId: 'office',
        phone: '13800000001',
        wecomRobot: 'water-group',
        dingtalkRobot: 'water-ding',
      },
    ],
    users: [
      user('d-zhang', '张', 'duty', 'zhang@example.test', '13900000001'),
      user('d-li', '李', 'duty', 'li@example.test'),
      user('d-wang', '王', 'duty', 'wang@example.test', '13900000003'),
      user('l1', '分管副市长', 'leader', 'l1@example.test'),
    ],
  });
  ({ db, smtp } = fixture);
  const shift = (id: string, userId: string, from: number, to: number) => ({
    id,
    userId,
    startsAt: new Date(from),
    endsAt: new Date(to),
    createdBy: 'user:admin',
    createdAt: t,
    updatedAt: t,
  });
  await db.db
    .insert(dutyShifts)
    .values([
      shift('s1', 'd-zhang', at('08:00'), at('13:30')),
      shift('s2', 'd-li', at('15:00'), at('23:00')),
      shift('s3', 'd-wang', at('23:00'), at('08:00', '2026-03-03')),
    ]);

  dispatcher = fixture.dispatcher(clock, {
    // The same settings the processes read from the environment.
    adapters: channelsFromSettings({
      SMTP_URL: smtp.url,
      MAIL_FROM: 'huiying@example.test',
      SMS_GATEWAY_URL: `${base}/sms`,
      WECOM_ROBOTS: JSON.stringify({ 'water-group': `${base}/wecom?key=k1` }),
      DINGTALK_ROBOTS: JSON.stringify({ 'water-ding': { url: `${base}/ding?access_token=t1`, secret: 'SEC-test' } }),
    }),
  });
  // Two engines, each with its timer, digests (weekly on Monday 08:00) and handover scheduler.
  for (let i = 0; i < 2; i++) engines.push(await fixture.engine({ clock, digest: { hour: 8, weekly: { day: 1, hour: 8 } }, handover: {} }));
}, 60_000);

afterAll(async () => {
  await fixture?.stop();
  await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
});

const deps = (): EngineDeps => engines[0]!.deps;

async function to(instant: number) {
  await clock.advanceTo(instant);
  await dispatcher.drain();
}

async function open(id: string, title: string, level: 'I' | 'II') {
  const now = clock.now();
  const msg: SignalMessage = {
    v: 1,
    type: 'signal',
    id,
    source: 'hotline',
    sourceRef: id,
    publishedAt: new Date(now).toISOString(),
    receivedAt: new Date(now).toISOString(),
  };
  await db.db
    .insert(signals)
    .values({ id, source: 'hotline', sourceRef: id, title, publishedAt: new Date(now), receivedAt: new Date(now) });
  const { incidentId } = await handleSignal(deps(), msg);
  await applyCommand(deps(), incidentId!, { type: 'grade', at: now, incident: incidentId!, level, unit: 'water' }, 'user:duty');
  return incidentId!;
}

async function respond(incidentId: string) {
  await applyCommand(
    deps(),
    incidentId,
    { type: 'response', at: clock.now(), incident: incidentId, kind: 'press_conference', original: true },
    'unit:water',
  );
}

type Row = {
  id: string;
  step: string;
  role: string;
  recipient: string;
  channel: string;
  status: string;
  text: string;
  created_at: Date | string;
};
const rowsWhere = async (where: ReturnType<typeof sql>) =>
  rowsOf<Row>(
    await db.db.execute(
      sql`select id, step, role, recipient, channel, status, text, created_at from notifications where ${where} order by seq`,
    ),
  );
const mailFor = (id: string) => smtp.mails.find((m) => m.messageId === `<${id}@huiying.local>`);

describe('the duty roster, handovers, routing and the weekly digest', () => {
  it('walks one Monday and the week after', async () => {
    await to(T0);
    // Started on a Monday after 08:00: this week's weekly digest (for the week before) was queued at once, once for two engines.
    const weekly1 = await rowsWhere(sql`clock_key = 'digest-weekly:2026-02-23'`);
    expect(weekly1.map((r) => r.recipient)).toEqual(['l1@example.test']);

    incidents.day = await open('sig-day', '城区大面积停水', 'II');
    await to(at('15:30'));
    const day = await rowsWhere(sql`incident_id = ${incidents.day} and role = 'duty'`);
    // The officer on shift at each step's instant: 张 for the warnings, nobody at 14:00 (the duty mailbox), 李 at 15:00.
    expect(day.map((r) => `${r.step} ${r.channel} ${r.recipient}`)).toEqual([
      'warning#0 email zhang@example.test',
      'warning#1 email zhang@example.test',
      'urge#0 email duty@example.test',
      'urge#1 email li@example.test',
    ]);
    expect(day.every((r) => r.status === 'sent' && mailFor(r.id))).toBe(true);
    expect(mailFor(day[0]!.id)!.text).toMatch(/^值班员张（抄送）：/);
    expect(mailFor(day[2]!.id)!.text).toContain('值班表此时无人在班');
    const fallback = await db.db.select().from(auditLog).where(eq(auditLog.action, 'clock.escalated'));
    expect(
      fallback.filter((a) => (a.result as { dutyFallback?: string }).dutyFallback).map((a) => (a.result as { step: string }).step),
    ).toEqual(['urge#0']);

    // Daytime (11:30, 10:00–22:00): a 5 h clock's step goes by email and to the unit's robots, never by SMS.
    const warning = await rowsWhere(sql`incident_id = ${incidents.day} and step = 'warning#0'`);
    expect(warning.map((r) => `${r.channel} ${r.recipient}`).sort()).toEqual([
      'dingtalk water-ding',
      'email water@example.test',
      'email zhang@example.test',
      'wecom water-group',
    ]);

    // 13:30: 张 goes off shift, nobody comes on — a handover to 张 alone; 15:00: 李 comes on.
    const handovers1 = await rowsWhere(sql`step_kind = 'handover'`);
    expect(handovers1.map((r) => `${new Date(r.created_at).toISOString()} ${r.recipient}`)).toEqual([
      `${new Date(at('13:30')).toISOString()} zhang@example.test`,
      `${new Date(at('15:00')).toISOString()} li@example.test`,
    ]);
    const toLi = mailFor(handovers1[1]!.id)!;
    expect(toLi.subject).toBe('【交接班】2026-03-02 15:00 超时 1 项，本班次内到期 0 项');
    expect(toLi.text).toContain('交班 （无人在班），接班 值班员李');
    expect(toLi.text).toContain('城区大面积停水（市水务局，权威信息发布，2026-03-02 14:00 到期，已超时 1小时）');

    await to(at('21:00'));
    incidents.night = await open('sig-night', '化工厂爆燃', 'I');
    // The handover at 23:00: 李 off, 王 on; the breached matter first, then what falls due before 08:00.
    await to(at('23:00'));
    const shiftChange = await rowsWhere(sql`clock_key = ${`handover:${new Date(at('23:00')).toISOString()}`}`);
    expect(shiftChange.map((r) => r.recipient).sort()).toEqual(['li@example.test', 'wang@example.test']);
    const toWang = mailFor(shiftChange.find((r) => r.recipient === 'wang@example.test')!.id)!;
    expect(toWang.subject).toBe('【交接班】2026-03-02 23:00 超时 1 项，本班次内到期 1 项');
    expect(toWang.text).toContain('交班 值班员李，接班 值班员王');
    const text = toWang.text!;
    const breachedAt = text.indexOf('已超时未办结（1项）');
    const dueAt = text.indexOf('本班次内到期（至 2026-03-03 08:00，1项）');
    expect(breachedAt).toBeGreaterThan(0);
    expect(dueAt).toBeGreaterThan(breachedAt);
    expect(text.indexOf('城区大面积停水')).toBeGreaterThan(breachedAt);
    expect(text.indexOf('城区大面积停水')).toBeLessThan(dueAt);
    expect(text.indexOf('化工厂爆燃（市水务局，权威信息发布，2026-03-03 02:00 到期，剩余 3小时）')).toBeGreaterThan(dueAt);

    await respond(incidents.day);
    // 23:30, night: the 5 h clock's warning also goes by SMS to the unit and to 王 on shift, and to the robots.
    await to(at('23:35'));
    const night = await rowsWhere(sql`incident_id = ${incidents.night} and step = 'warning#0'`);
    expect(night.map((r) => `${r.channel} ${r.recipient}`).sort()).toEqual([
      'dingtalk water-ding',
      'email wang@example.test',
      'email water@example.test',
      'sms 13800000001',
      'sms 13900000003',
      'wecom water-group',
    ]);
    expect(night.every((r) => r.status === 'sent')).toBe(true);
    const sms = received.filter((r) => r.path === '/sms' && String(r.body.content).includes('化工厂爆燃')).map((r) => r.body);
    expect(sms.map((b) => b.phone).sort()).toEqual(['13800000001', '13900000003']);
    // The day matter's hourly 催办 went by SMS too once night fell (22:00, 23:00; 王 on shift at 23:00), not before.
    const urgesBySms = await rowsWhere(sql`incident_id = ${incidents.day} and channel = 'sms'`);
    expect(urgesBySms.map((r) => `${r.step} ${r.recipient}`)).toEqual(['urge#8 13800000001', 'urge#9 13800000001', 'urge#9 13900000003']);
    expect(String(sms[0]!.content)).toContain('化工厂爆燃');
    expect(String(sms[0]!.content)).toContain('http://console.test/');
    // No SMS was sent for anything in the daytime.
    expect(await rowsWhere(sql`channel = 'sms' and created_at < ${new Date(at('22:00')).toISOString()}::timestamptz`)).toEqual([]);
    expect(received.filter((r) => r.path === '/wecom').length).toBeGreaterThanOrEqual(2);
    expect(received.filter((r) => r.path === '/ding').length).toBeGreaterThanOrEqual(2);
    await respond(incidents.night);

    // Every handover once, though two engines scheduled them.
    const handovers = await rowsWhere(sql`step_kind = 'handover'`);
    expect(new Set(handovers.map((r) => `${new Date(r.created_at).toISOString()} ${r.recipient}`)).size).toBe(handovers.length);
    expect(smtp.mails.filter((m) => m.subject?.startsWith('【交接班】')).length).toBe(handovers.length);

    // The next Monday 08:00: the weekly digest for 03-02 … 03-08, once.
    await to(at('08:05', '2026-03-09'));
    const weekly2 = await rowsWhere(sql`clock_key = 'digest-weekly:2026-03-02'`);
    expect(weekly2).toHaveLength(1);
    const digest = mailFor(weekly2[0]!.id)!;
    expect(digest.subject).toBe('【每周汇总】2026-03-02 至 2026-03-08 政务舆情回应时效：按时率 75.0%，超时 1 次');
    expect(digest.text).toContain('到期时限 4 个，按时回应 3 个');
    expect(digest.text).toContain('市水务局：超时 1 次');
    expect(smtp.mails.filter((m) => m.subject?.startsWith('【每周汇总】')).length).toBe(2);
  }, 120_000);
});
