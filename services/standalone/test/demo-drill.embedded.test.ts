/**
 * The demo drill (演练) on the embedded composition `pnpm start` runs — PGlite, the in-process
 * bus, the demo's units, supervising office, leader and duty officer with their addresses, the
 * email channel built from SMTP_URL as main.ts builds it — against a real SMTP server in this
 * process, on a fake clock moved past each ladder step: the demo ticket due soonest is urged
 * (催办) to its unit with a copy (抄送) to the 政务公开办, and 12 hours later its leaders' step
 * reaches the demo leader. No sleeps: only bounded polls for delivery.
 */
import { FakeClock } from '@huiying/clock';
import type { DbHandle } from '@huiying/db';
import { ensureDemoAccounts } from '@huiying/identity';
import { channelsFromSettings, nullAdapter } from '@huiying/notify';
import { eventually, freshPglite, startSmtp, type TestSmtp } from '@huiying/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { addressDemoLeader, DEMO_LEADER_EMAIL, DEMO_UNITS, demoTickets, rosterDemoDuty, seedDemo } from '../src/demo.ts';
import { type EmbeddedHarness, startEmbedded } from './embedded-harness.ts';

const H = 3_600_000;
const NOW = Date.parse('2026-11-30T10:00:00+08:00');
const clock = new FakeClock(NOW);
const [ticket] = demoTickets(NOW); // 垃圾中转站异味: received 46.5 h ago, the 48 h clock is due in 1.5 h
const unit = DEMO_UNITS.find((u) => u.id === ticket!.unit)!;
const office = DEMO_UNITS.find((u) => u.id === unit.parentId)!;
let handle: DbHandle;
let smtp: TestSmtp;
let env: EmbeddedHarness;
/** The 催办 step's subject: 【超时督办】<title>：<clock>已超时. */
const URGE = /【超时督办】/;

type ParsedMail = TestSmtp['mails'][number];
const to = (m: ParsedMail): string => JSON.stringify(m.to);
const mailsTo = (address: string): ParsedMail[] => smtp.mails.filter((m) => to(m).includes(address));

async function mailTo(address: string, subject: RegExp, what: string): Promise<ParsedMail> {
  return eventually(async () => mailsTo(address).find((m) => subject.test(m.subject ?? '')), what, 20_000);
}

beforeAll(async () => {
  smtp = await startSmtp();
  handle = await freshPglite();
  // What main.ts does before composing, without the demo feed's server and the 90 days of history.
  await seedDemo(handle.db, 'http://127.0.0.1:9/demo-feed.xml', NOW);
  await ensureDemoAccounts(handle.db, new Date(NOW));
  await addressDemoLeader(handle.db);
  await rosterDemoDuty(handle.db, NOW);
  env = await startEmbedded({
    clock,
    handle,
    channels: {
      email: nullAdapter('email'),
      sms: nullAdapter('sms'),
      wecom: nullAdapter('wecom'),
      dingtalk: nullAdapter('dingtalk'),
      webhook: nullAdapter('webhook'),
      ...channelsFromSettings({ SMTP_URL: smtp.url, MAIL_FROM: 'huiying@demo.huiying.local' }),
    },
  });
  const duty = await env.as('duty');
  for (const t of demoTickets(NOW)) {
    const res = await duty.inject({ method: 'POST', url: '/api/tickets', payload: t });
    expect(res.statusCode, res.body).toBe(201);
  }
}, 120_000);

afterAll(async () => {
  await env?.stop();
  await smtp?.close();
  await handle?.close();
});

it('a drill shows the ladder arriving: notice, 催办 with the supervising office copied, then the leaders', async () => {
  expect(unit.email).toMatch(/@demo\.huiying\.local$/);
  expect(office.id).toBe('gov-office');
  // 1. Assigned: the unit's notice arrives at once.
  const notice = await mailTo(unit.email, /垃圾中转站/, 'the assignment notice');
  expect(mailsTo(office.email).some((m) => m.messageId === notice.messageId)).toBe(false);

  // 3. The 48 h clock breaches: 催办 to the unit, a copy to the 政务公开办.
  await env.hy.engine.timer.rearm();
  await clock.advanceTo(NOW + 1.5 * H + 60_000);
  const urge = await mailTo(unit.email, URGE, 'the 催办 to the unit');
  expect(urge.subject).toContain('垃圾中转站');
  const copy = await mailTo(office.email, URGE, 'the 催办 copy to the supervising office');
  expect(copy.subject).toContain('垃圾中转站');
  expect(copy.text).toContain('抄送');
  expect(copy.messageId).not.toBe(urge.messageId);
  expect(mailsTo(DEMO_LEADER_EMAIL).filter((m) => /垃圾中转站/.test(m.subject ?? ''))).toEqual([]);

  // 4. Still not met 12 h after the breach (the 48 h clock's default): the leaders in charge.
  await clock.advanceTo(NOW + 13.5 * H + 60_000);
  const leaders = await mailTo(DEMO_LEADER_EMAIL, /垃圾中转站/, 'the leaders’ step at the demo leader');
  expect(leaders.text).toContain(unit.name);
  // Each step reached each address once.
  for (const address of [unit.email, office.email, DEMO_LEADER_EMAIL]) {
    const ids = mailsTo(address).map((m) => m.messageId);
    expect(new Set(ids).size, address).toBe(ids.length);
  }
});
