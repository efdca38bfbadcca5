/**
 * The whole ladder in simulated time, for each incident clock kind and a working-day duty:
 * the pure ladder (packages/domain) decides at each wake, planLadderNotifications resolves and
 * renders, the rows are queued in a transaction on the real PostgreSQL, and the dispatcher
 * delivers them to a real SMTP server (plus recording adapters for SMS and robots). Recipients
 * and content of each message asserted. The engine does not drive this yet (see README): the
 * clock's state is scripted here (running until due, breached after).
 */
import { FakeClock } from '@huiying/clock';
import { enqueueNotifications } from '@huiying/db';
import { type ClockKind, DEFAULT_LADDER_PACK, ladderAt, type LadderClock, ladderSnapshot, startLadder } from '@huiying/domain';
import { type ControllableSmtp, freshDatabase, startControllableSmtp, testLogger } from '@huiying/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emailChannel } from '../src/channels/email.ts';
import { nullAdapter } from '../src/channels/null.ts';
import { Dispatcher } from '../src/dispatcher.ts';
import { type Directory, planLadderNotifications } from '../src/ladder-notifications.ts';

const H = 3_600_000;
let h: Awaited<ReturnType<typeof freshDatabase>>;
let smtp: ControllableSmtp;

const directory: Directory = {
  units: new Map([
    ['water', { id: 'water', name: '市水务局', email: 'water@example.test', parentId: 'office' }],
    ['office', { id: 'office', name: '市政府办公室（政务公开办）', email: 'office@example.test', parentId: null }],
  ]),
  dutyOffice: { name: '政务公开办值班室', unitId: null, addresses: { email: 'duty@example.test' } },
  leaders: [{ name: '市政府分管领导', unitId: null, addresses: { email: 'leader@example.test', wecom: 'leaders', dingtalk: 'leaders' } }],
  unitChannels: { water: { sms: '13800000001', wecom: 'water-group' } },
};

beforeAll(async () => {
  h = await freshDatabase();
  smtp = await startControllableSmtp();
});

afterAll(async () => {
  await smtp?.close();
  await h?.drop();
});

/** Walk one clock's ladder wake by wake until `until`, queueing and dispatching at each. */
async function runLadder(o: {
  id: string;
  type: 'incident' | 'obligation';
  kind: ClockKind;
  startAt: number;
  dueAt: number;
  spanMs?: number;
  workingDays?: number;
  until: number;
}) {
  const clock = new FakeClock(o.startAt);
  const sms = nullAdapter('sms');
  const wecom = nullAdapter('wecom');
  const dingtalk = nullAdapter('dingtalk');
  const dispatcher = new Dispatcher({
    db: h.db,
    clock,
    adapters: { email: emailChannel({ url: smtp.url, from: 'huiying@example.test' }), sms, wecom, dingtalk },
    logger: testLogger,
  });
  const snapshot = ladderSnapshot(DEFAULT_LADDER_PACK, o.kind);
  const facts = {
    kind: o.kind,
    startAt: o.startAt,
    dueAt: o.dueAt,
    seq: 1,
    ...(o.spanMs ? { spanMs: o.spanMs } : {}),
    ...(o.workingDays ? { workingDays: o.workingDays } : {}),
  };
  const view = (now: number): LadderClock => ({
    state: now >= o.dueAt ? 'breached' : 'running',
    startAt: o.startAt,
    dueAt: o.dueAt,
    warnings: [0.5, 0.8],
    assignedAt: o.startAt,
    acknowledgedAt: null,
  });
  const before = smtp.mails.length;
  let progress = startLadder(o.startAt);
  for (let now = o.startAt; now <= o.until;) {
    await clock.advanceTo(now);
    const d = ladderAt(view(now), snapshot, progress, now);
    progress = d.progress;
    const rows = d.firings.flatMap((firing) =>
      planLadderNotifications({
        firing,
        subject: { type: o.type, id: o.id, title: `测试${o.kind}`, level: o.type === 'incident' ? 'II' : null },
        unitId: 'water',
        clock: facts,
        ...(firing.kind === 'warning' ? { elapsed: view(now).warnings[firing.occurrence]! } : {}),
        now,
        dashboardUrl: 'http://127.0.0.1:8080/',
        directory,
      }),
    );
    await h.db.transaction((tx) => enqueueNotifications(tx, new Date(now), rows));
    await dispatcher.drain();
    if (d.nextWake === null) break;
    now = d.nextWake;
  }
  await dispatcher.stop();
  const mails = smtp.mails.slice(before).map((m) => {
    const to = (Array.isArray(m.to) ? m.to : [m.to]).flatMap((a) => a?.value.map((v) => v.address) ?? []).join(',');
    return { tag: /^【(.+?)】/.exec(m.subject ?? '')?.[1], to, at: m.date, mail: m };
  });
  return { mails, sms: sms.sent, wecom: wecom.sent, dingtalk: dingtalk.sent };
}

describe('the whole ladder in simulated time', () => {
  it('5 h 权威信息发布 started 20:00: warnings at 22:30 and 00:00, 催办 from 01:00 hourly cc the supervising office, leaders at 05:00; at night SMS and the robot too', async () => {
    const startAt = Date.parse('2026-03-02T20:00:00+08:00');
    const r = await runLadder({
      id: 'inc-rel',
      type: 'incident',
      kind: 'release',
      startAt,
      dueAt: startAt + 5 * H,
      spanMs: 5 * H,
      until: startAt + 9 * H,
    });
    expect(r.mails.map((m) => `${m.tag} → ${m.to}`)).toEqual([
      '交办 → water@example.test',
      // The 5 h clock copies the duty officer (no roster here: the duty office) on warnings and 催办.
      '预警 → water@example.test',
      '预警 → duty@example.test',
      '预警 → water@example.test',
      '预警 → duty@example.test',
      '超时督办 → water@example.test',
      '超时督办 → office@example.test',
      '超时督办 → duty@example.test',
      '超时督办 → water@example.test',
      '超时督办 → office@example.test',
      '超时督办 → duty@example.test',
      '超时督办 → water@example.test',
      '超时督办 → office@example.test',
      '超时督办 → duty@example.test',
      '超时督办 → water@example.test',
      '超时督办 → office@example.test',
      '超时督办 → duty@example.test',
      '超时督办 → water@example.test',
      '超时督办 → office@example.test',
      '超时督办 → duty@example.test',
      '超时通报 → leader@example.test',
      '超时通报 → office@example.test',
    ]);
    const urge = r.mails.find((m) => m.tag === '超时督办' && m.to === 'water@example.test')!.mail;
    expect(urge.subject).toBe('【超时督办】测试release：权威信息发布已超时');
    expect(urge.text).toMatch(/^市水务局：/);
    expect(urge.text).toContain('权威信息发布（时限5小时）：2026-03-03 01:00 前（北京时间），已超时 不足1分钟');
    expect(urge.html).toContain('http://127.0.0.1:8080/#/incidents/inc-rel');
    const cc = r.mails.find((m) => m.tag === '超时督办' && m.to === 'office@example.test')!.mail;
    expect(cc.text).toMatch(/^市政府办公室（政务公开办）（抄送）：/);
    const report = r.mails.find((m) => m.to === 'leader@example.test')!.mail;
    expect(report.subject).toBe('【超时通报】测试release：市水务局权威信息发布已超时 4小时');
    expect(report.text).toContain('该事件已列入通报候选');
    // Night (22:00–08:00 Shanghai) on a 5 h clock: the unit's phone gets the warnings and every 催办.
    expect(r.sms.map((m) => `${m.recipient} ${m.subject.slice(0, 6)}`)).toEqual([
      '13800000001 【预警】测试',
      '13800000001 【预警】测试',
      '13800000001 【超时督办】',
      '13800000001 【超时督办】',
      '13800000001 【超时督办】',
      '13800000001 【超时督办】',
      '13800000001 【超时督办】',
    ]);
    // 2 warnings + 5 催办 to the unit's group, the report to the leaders' group.
    expect(r.wecom.map((m) => m.recipient)).toEqual([
      'water-group',
      'water-group',
      'water-group',
      'water-group',
      'water-group',
      'water-group',
      'water-group',
      'leaders',
    ]);
    expect(r.dingtalk.map((m) => m.recipient)).toEqual(['leaders']);
  });

  it.each([
    ['press_conference', 24 * H, 4 * H],
    ['response', 48 * H, 12 * H],
  ] as const)('%s (span %d ms): 催办 at the due cc the supervising office, leaders %d ms later', async (kind, span, leadersAfter) => {
    const startAt = Date.parse('2026-03-02T10:00:00+08:00');
    const r = await runLadder({
      id: `inc-${kind}`,
      type: 'incident',
      kind,
      startAt,
      dueAt: startAt + span,
      spanMs: span,
      until: startAt + span + leadersAfter,
    });
    const email = r.mails.map((m) => m.tag);
    expect(email.slice(0, 5)).toEqual(['交办', '预警', '预警', '超时督办', '超时督办']);
    expect(email.at(-2)).toBe('超时通报');
    const report = r.mails.find((m) => m.to === 'leader@example.test')!;
    expect(report.mail.text).toContain(`（时限${span / H}小时）`);
    expect(report.mail.subject).toContain(`已超时 ${leadersAfter / H}小时`);
    expect(r.sms).toEqual([]); // not urgent: no SMS even at night
  });

  it('a working-day duty (政策解读 3 working days): leaders 12 h after the breach, the span in working days', async () => {
    const startAt = Date.parse('2026-03-02T09:00:00+08:00');
    const dueAt = Date.parse('2026-03-05T23:59:59.999+08:00');
    const r = await runLadder({
      id: 'obl-1',
      type: 'obligation',
      kind: 'policy_interpretation',
      startAt,
      dueAt,
      workingDays: 3,
      until: dueAt + 12 * H + 1,
    });
    expect(r.mails.map((m) => `${m.tag} → ${m.to}`)).toEqual([
      '交办 → water@example.test',
      '预警 → water@example.test',
      '预警 → water@example.test',
      '超时督办 → water@example.test',
      '超时督办 → office@example.test',
      '超时通报 → leader@example.test',
      '超时通报 → office@example.test',
    ]);
    const urge = r.mails.find((m) => m.tag === '超时督办')!.mail;
    expect(urge.subject).toBe('【超时督办】测试policy_interpretation：政策解读材料发布已超时');
    expect(urge.text).toContain('事项“测试policy_interpretation”');
    expect(urge.text).toContain('政策解读材料发布（时限3个工作日）：2026-03-05 23:59 前（北京时间）');
    expect(urge.text).toContain('http://127.0.0.1:8080/#/duties/obl-1');
  });
});
