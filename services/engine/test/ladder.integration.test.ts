/**
 * The escalation ladder through the real engine on the real PostgreSQL, in simulated time:
 * signals and commands go through the engine's writers, the engine's own DeadlineTimer fires
 * the clocks and the ladder's steps on a fake clock, the rows are queued in the clock change's
 * transaction, and the dispatcher delivers them to a real SMTP server (parsed with mailparser).
 * For each clock kind (48 h, 5 h, 24 h) and a working-day duty: who gets what, when, and what
 * it says (the span from the clock's snapshot, the due in Asia/Shanghai); a qualifying
 * response cancels what is still queued and nothing follows it.
 */
import type { SignalMessage } from '@huiying/bus';
import { FakeClock } from '@huiying/clock';
import { rowsOf, sql } from '@huiying/db';
import { DEFAULT_RULE_PACK, type IncidentState, parseRulePack, type RulePack } from '@huiying/domain';
import { type ControllableSmtp, startControllableSmtp, testLogger } from '@huiying/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CalendarService } from '../src/calendar.ts';
import { hydrateIncidentStates } from '../src/ladder-refs.ts';
import { applyObligationCommand } from '../src/obligations.ts';
import { type FreshDatabase, LADDER, type NotifyFixture, startNotifyFixture } from './fixtures/notify-postgres.ts';
import { signalIn } from './signal-in.ts';
import { applyCommand, type EngineDeps, incidentIdFor } from '../src/store.ts';
import { DeadlineTimer } from '../src/timer.ts';

const H = 3_600_000;

let fixture: NotifyFixture<ControllableSmtp>;
let db: FreshDatabase;
let smtp: ControllableSmtp;

beforeAll(async () => {
  const at = new Date('2026-01-01T00:00:00Z');
  fixture = await startNotifyFixture({
    smtp: startControllableSmtp,
    units: [
      { id: 'office', name: '市政府办公室（政务公开办）', email: 'office@example.test' },
      { id: 'water', name: '市水务局', email: 'water@example.test', parentId: 'office' },
    ],
    users: [
      {
        id: 'u-l1',
        username: 'leader1',
        displayName: '分管副市长',
        role: 'leader',
        email: 'leader1@example.test',
        createdAt: at,
        updatedAt: at,
      },
      {
        id: 'u-l2',
        username: 'leader2',
        displayName: '秘书长',
        role: 'leader',
        email: 'leader2@example.test',
        createdAt: at,
        updatedAt: at,
      },
      // Neither a leader without an address nor a disabled one is mailed; nor a unit user with one.
      { id: 'u-l3', username: 'leader3', displayName: '无邮箱领导', role: 'leader', createdAt: at, updatedAt: at },
      {
        id: 'u-l4',
        username: 'leader4',
        displayName: '已停用领导',
        role: 'leader',
        email: 'gone@example.test',
        disabledAt: at,
        createdAt: at,
        updatedAt: at,
      },
      {
        id: 'u-w',
        username: 'water',
        displayName: '水务局',
        role: 'unit',
        unitId: 'water',
        email: 'w-user@example.test',
        createdAt: at,
        updatedAt: at,
      },
    ],
  });
  ({ db, smtp } = fixture);
});

afterAll(() => fixture?.stop());

/** One engine (its deps and its timer) and one dispatcher on a fake clock. */
async function engineAt(start: string, pack: RulePack = DEFAULT_RULE_PACK) {
  const clock = new FakeClock(start);
  const deps: EngineDeps = { db: db.db, clock, pack: () => pack, ladder: LADDER };
  const timer = new DeadlineTimer({ ...deps, logger: testLogger }, { resyncMs: 0 });
  await timer.start();
  const calendars = new CalendarService(db.db);
  await calendars.load();
  deps.onWake = (at) => timer.nudge(at);
  const dispatcher = fixture.dispatcher(clock);
  return {
    clock,
    deps,
    timer,
    obligations: { ...deps, calendars },
    dispatcher,
    /** Move the clock (the timer fires every clock and ladder wake on the way), then deliver. */
    async to(at: string | number) {
      await clock.advanceTo(at);
      await dispatcher.drain();
    },
    async stop() {
      await timer.stop();
      await dispatcher.stop();
    },
  };
}

const shanghai = (at: Date) =>
  new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Shanghai', dateStyle: 'short', timeStyle: 'short' }).format(at);

interface Delivered {
  /** When the step was queued (its wake), Asia/Shanghai. */
  at: string;
  tag: string;
  to: string;
  status: string;
  mail: ControllableSmtp['mails'][number] | undefined;
}

/** Every email notification of one matter, in queue order, with the mail the SMTP server received for it. */
async function delivered(ref: { incidentId: string } | { obligationId: string }): Promise<Delivered[]> {
  const where = 'incidentId' in ref ? sql`incident_id = ${ref.incidentId}` : sql`obligation_id = ${ref.obligationId}`;
  const rows = rowsOf<{ id: string; created_at: string | Date; recipient: string; subject: string; status: string }>(
    await db.db.execute(
      sql`select id, created_at, recipient, subject, status from notifications where ${where} and channel = 'email' order by seq`,
    ),
  );
  return rows.map((r) => ({
    at: shanghai(new Date(r.created_at)),
    tag: /^【(.+?)】/.exec(r.subject)?.[1] ?? r.subject,
    to: r.recipient,
    status: r.status,
    mail: smtp.mails.find((m) => m.messageId === `<${r.id}@huiying.local>`),
  }));
}

const line = (d: Delivered) => `${d.at} ${d.tag} → ${d.to}${d.status === 'sent' ? '' : ` (${d.status})`}`;

/** One matter per signal: texts far apart, so grouping keeps them apart. */
const TITLES: Record<string, string> = {
  'sig-48': '二次供水水质浑浊',
  'sig-hi': '化工园区爆炸事故',
  'sig-repost': '学校食堂食材过期',
  'sig-pack': '地铁施工路面塌陷',
  'sig-api': '公园改造砍伐古树',
  'sig-ack': '河道垃圾堆积发臭',
};

const signal = (id: string, at: number, extra: Partial<SignalMessage> = {}): SignalMessage & { title: string } => ({
  v: 1,
  type: 'signal',
  id,
  source: 'hotline',
  sourceRef: id,
  title: TITLES[id] ?? `测试事件${id}`,
  publishedAt: new Date(at).toISOString(),
  receivedAt: new Date(at).toISOString(),
  ...extra,
});

describe('the ladder through the engine, in simulated time', () => {
  it('48 h 权威回应: notice on assignment, warnings, 催办 cc the supervising office twice a day, leaders after 12 h; a reply stops it', async () => {
    const T0 = Date.parse('2026-03-02T09:00:00+08:00');
    const e = await engineAt(new Date(T0).toISOString());
    // A ticket that names its handling unit arrives assigned: the notice goes out with the signal's transaction.
    const { incidentId } = await signalIn(e.deps, signal('sig-48', T0, { unitHint: 'water' }));
    expect(incidentId).toBe(incidentIdFor('sig-48'));
    await e.to(T0);
    await e.to(T0 + 60 * H + 30 * 60_000);
    // The reply at 21:30 on day 3 meets the clock: nothing after it.
    await applyCommand(
      e.deps,
      incidentId,
      { type: 'response', at: e.clock.now(), incident: incidentId, kind: 'reply', original: true, unit: 'water' },
      'unit:water',
    );
    await e.to(T0 + 120 * H);
    const mails = await delivered({ incidentId });
    expect(mails.map(line)).toEqual([
      '2026-03-02 09:00 交办 → water@example.test',
      '2026-03-03 09:00 预警 → water@example.test',
      '2026-03-03 23:24 预警 → water@example.test',
      '2026-03-04 09:00 超时督办 → water@example.test',
      '2026-03-04 09:00 超时督办 → office@example.test',
      '2026-03-04 21:00 超时督办 → water@example.test',
      '2026-03-04 21:00 超时督办 → office@example.test',
      '2026-03-04 21:00 超时通报 → leader1@example.test',
      '2026-03-04 21:00 超时通报 → leader2@example.test',
      '2026-03-04 21:00 超时通报 → office@example.test',
    ]);
    // Each row reached the server once, as its own message.
    expect(mails.every((m) => m.mail !== undefined)).toBe(true);
    expect(new Set(mails.map((m) => m.mail!.messageId)).size).toBe(mails.length);

    const notice = mails[0]!.mail!;
    expect(notice.subject).toBe('【交办】二次供水水质浑浊');
    expect(notice.text).toMatch(/^市水务局：/);
    expect(notice.text).toContain('权威回应（时限48小时）：2026-03-04 09:00 前（北京时间），剩余 2天');
    expect(notice.text).toContain('查看详情：http://console.test/#/incidents/');
    const warning = mails[2]!.mail!;
    expect(warning.subject).toBe('【预警】二次供水水质浑浊：权威回应剩余 9小时36分钟');
    expect(warning.text).toContain('时限已过 80%');
    const urge = mails[4]!.mail!;
    expect(urge.text).toMatch(/^市政府办公室（政务公开办）（抄送）：/);
    expect(urge.text).toContain('权威回应（时限48小时）：2026-03-04 09:00 前（北京时间），已超时 不足1分钟');
    const report = mails[7]!.mail!;
    expect(report.subject).toBe('【超时通报】二次供水水质浑浊：市水务局权威回应已超时 12小时');
    expect(report.text).toMatch(/^分管副市长：/);
    expect(report.text).toContain('该事件已列入通报候选');
    expect(report.html).toContain('<a href="http://console.test/#/incidents/');
    await e.stop();
  });

  it('5 h 权威信息发布 and 24 h 新闻发布会 after a grade to I: one notice with both dues; a response of each kind stops its own ladder, cancelling what is queued', async () => {
    const T0 = Date.parse('2026-03-09T08:00:00+08:00');
    const e = await engineAt(new Date(T0).toISOString());
    const { incidentId } = await signalIn(e.deps, signal('sig-hi', T0));
    // Unassigned for 30 minutes: nothing is noticed (the 48 h clock is superseded at the grade).
    await e.to(T0 + 30 * 60_000);
    await applyCommand(
      e.deps,
      incidentId,
      { type: 'grade', at: e.clock.now(), incident: incidentId, level: 'I', unit: 'water' },
      'duty:zhang',
    );
    await e.to(T0 + 9 * H + 30 * 60_000);
    // The release (published at 17:30) meets the 5 h clock; the 24 h clock runs on.
    await applyCommand(
      e.deps,
      incidentId,
      { type: 'response', at: e.clock.now(), incident: incidentId, kind: 'release', original: true },
      'unit:water',
    );
    // At 08:00 next day the 24 h clock breaches and is urged; at 12:00 the leaders' step and the
    // second urge are queued, and the press conference is recorded before the dispatcher runs.
    await e.to(T0 + 24 * H);
    await e.clock.advanceTo(T0 + 28 * H);
    await applyCommand(
      e.deps,
      incidentId,
      { type: 'response', at: e.clock.now(), incident: incidentId, kind: 'press_conference', original: true },
      'unit:water',
    );
    await e.to(T0 + 72 * H);

    const mails = await delivered({ incidentId });
    expect(mails.map(line)).toEqual([
      '2026-03-09 08:30 交办 → water@example.test',
      // 5 h clock (08:00–13:00)
      '2026-03-09 10:30 预警 → water@example.test',
      '2026-03-09 10:30 预警 → duty@example.test',
      '2026-03-09 12:00 预警 → water@example.test',
      '2026-03-09 12:00 预警 → duty@example.test',
      // (the duty officer is copied on the 5 h clock's warnings and urgings: nobody is on shift, so the duty mailbox)
      '2026-03-09 13:00 超时督办 → water@example.test',
      '2026-03-09 13:00 超时督办 → office@example.test',
      '2026-03-09 13:00 超时督办 → duty@example.test',
      '2026-03-09 14:00 超时督办 → water@example.test',
      '2026-03-09 14:00 超时督办 → office@example.test',
      '2026-03-09 14:00 超时督办 → duty@example.test',
      '2026-03-09 15:00 超时督办 → water@example.test',
      '2026-03-09 15:00 超时督办 → office@example.test',
      '2026-03-09 15:00 超时督办 → duty@example.test',
      '2026-03-09 16:00 超时督办 → water@example.test',
      '2026-03-09 16:00 超时督办 → office@example.test',
      '2026-03-09 16:00 超时督办 → duty@example.test',
      '2026-03-09 17:00 超时督办 → water@example.test',
      '2026-03-09 17:00 超时督办 → office@example.test',
      '2026-03-09 17:00 超时督办 → duty@example.test',
      '2026-03-09 17:00 超时通报 → leader1@example.test',
      '2026-03-09 17:00 超时通报 → leader2@example.test',
      '2026-03-09 17:00 超时通报 → office@example.test',
      // 24 h clock (to 08:00 next day)
      '2026-03-09 20:00 预警 → water@example.test',
      '2026-03-10 03:12 预警 → water@example.test',
      '2026-03-10 08:00 超时督办 → water@example.test',
      '2026-03-10 08:00 超时督办 → office@example.test',
      '2026-03-10 12:00 超时督办 → water@example.test (cancelled)',
      '2026-03-10 12:00 超时督办 → office@example.test (cancelled)',
      '2026-03-10 12:00 超时通报 → leader1@example.test (cancelled)',
      '2026-03-10 12:00 超时通报 → leader2@example.test (cancelled)',
      '2026-03-10 12:00 超时通报 → office@example.test (cancelled)',
    ]);
    expect(mails.filter((m) => m.status === 'cancelled').every((m) => m.mail === undefined)).toBe(true);
    expect(mails.filter((m) => m.status === 'sent').every((m) => m.mail !== undefined)).toBe(true);

    const notice = mails[0]!.mail!.text!;
    expect(notice).toContain('权威信息发布（时限5小时）：2026-03-09 13:00 前（北京时间），剩余 4小时30分钟');
    expect(notice).toContain('新闻发布会（时限24小时）：2026-03-10 08:00 前（北京时间），剩余 23小时30分钟');
    expect(notice).not.toContain('权威回应（');
    const urge5 = mails[5]!.mail!;
    expect(urge5.subject).toBe('【超时督办】化工园区爆炸事故：权威信息发布已超时');
    expect(urge5.text).toContain('级别：特别重大（I级）');
    // Nobody on the roster: the duty officer's copy goes to the duty mailbox, and says so.
    const dutyCopy = mails[7]!;
    expect(dutyCopy.to).toBe('duty@example.test');
    expect(dutyCopy.mail!.text).toContain('值班表此时无人在班');
    const urge24 = mails[25]!.mail!;
    expect(urge24.subject).toBe('【超时督办】化工园区爆炸事故：新闻发布会已超时');
    expect(urge24.text).toContain('新闻发布会（时限24小时）：2026-03-10 08:00 前（北京时间），已超时 不足1分钟');
    // The cancellation is audited with the clock that stopped.
    const cancelled = rowsOf<{ entity_id: string }>(
      await db.db.execute(sql`select entity_id from audit_log where action = 'notification.cancelled'`),
    ).map((r) => r.entity_id);
    expect(cancelled).toContain(`incident:${incidentId}:3`);
    await e.stop();
  });

  it('a repost tells the unit why it does not count, and the clock runs on', async () => {
    const T0 = Date.parse('2026-03-16T10:00:00+08:00');
    const e = await engineAt(new Date(T0).toISOString());
    const { incidentId } = await signalIn(e.deps, signal('sig-repost', T0, { unitHint: 'water' }));
    await e.to(T0 + H);
    await applyCommand(
      e.deps,
      incidentId,
      { type: 'response', at: e.clock.now(), incident: incidentId, kind: 'reply', original: false },
      'unit:water',
    );
    await e.to(T0 + H);
    const mails = await delivered({ incidentId });
    expect(mails.map(line)).toEqual(['2026-03-16 10:00 交办 → water@example.test', '2026-03-16 11:00 回应不计入 → water@example.test']);
    const repost = mails[1]!.mail!.text!;
    expect(repost).toContain('登记的回应是转载内容，不计为权威回应');
    expect(repost).toContain('转载工作动态、新闻报道、评论文章等不得充当回应内容');
    expect(repost).toContain('权威回应（时限48小时）：2026-03-18 10:00 前（北京时间），剩余 1天23小时');
    await e.stop();
  });

  it('a working-day duty (政策解读, 3 working days): notice at issue, warnings, 催办 daily, leaders 12 h after; fulfilment stops it', async () => {
    const T0 = Date.parse('2026-03-02T10:00:00+08:00'); // a Monday
    const e = await engineAt(new Date(T0).toISOString());
    await applyObligationCommand(
      e.obligations,
      { type: 'obligation', at: T0, id: 'duty-1', kind: 'policy_interpretation', issuedAt: T0 },
      'duty:zhang',
      { title: '关于优化营商环境若干措施', unit: 'water' },
    );
    await e.to(T0);
    await e.to(Date.parse('2026-03-07T12:00:00+08:00'));
    await applyObligationCommand(e.obligations, { type: 'fulfil', at: e.clock.now(), id: 'duty-1' }, 'unit:water');
    await e.to(Date.parse('2026-03-20T00:00:00+08:00'));
    const mails = await delivered({ obligationId: 'duty-1' });
    expect(mails.map(line)).toEqual([
      '2026-03-02 10:00 交办 → water@example.test',
      '2026-03-04 05:00 预警 → water@example.test',
      '2026-03-05 06:48 预警 → water@example.test',
      '2026-03-06 00:00 超时督办 → water@example.test',
      '2026-03-06 00:00 超时督办 → office@example.test',
      '2026-03-06 12:00 超时通报 → leader1@example.test',
      '2026-03-06 12:00 超时通报 → leader2@example.test',
      '2026-03-06 12:00 超时通报 → office@example.test',
      '2026-03-07 00:00 超时督办 → water@example.test',
      '2026-03-07 00:00 超时督办 → office@example.test',
    ]);
    const notice = mails[0]!.mail!;
    expect(notice.subject).toBe('【交办】关于优化营商环境若干措施');
    expect(notice.text).toContain('政策解读材料发布（时限3个工作日）：2026-03-06 00:00 前（北京时间）');
    expect(notice.text).toContain('查看详情：http://console.test/#/duties/duty-1');
    const report = mails[5]!.mail!;
    expect(report.subject).toBe('【超时通报】关于优化营商环境若干措施：市水务局政策解读材料发布已超时 12小时');
    await e.stop();
  });

  it('a rule pack that makes the 5 h clock 3 h: the mails carry the span and due from the clock’s snapshot', async () => {
    const pack = parseRulePack({ name: 'short-release', clocks: { release: { spanHours: 3 } } });
    const T0 = Date.parse('2026-03-23T09:00:00+08:00');
    const e = await engineAt(new Date(T0).toISOString(), pack);
    const { incidentId } = await signalIn(e.deps, signal('sig-pack', T0));
    await applyCommand(e.deps, incidentId, { type: 'grade', at: T0, incident: incidentId, level: 'II', unit: 'water' }, 'duty:zhang');
    await e.to(T0 + 3 * H);
    const mails = await delivered({ incidentId });
    expect(mails.map(line)).toEqual([
      '2026-03-23 09:00 交办 → water@example.test',
      '2026-03-23 10:30 预警 → water@example.test',
      '2026-03-23 10:30 预警 → duty@example.test',
      '2026-03-23 11:24 预警 → water@example.test',
      '2026-03-23 11:24 预警 → duty@example.test',
      '2026-03-23 12:00 超时督办 → water@example.test',
      '2026-03-23 12:00 超时督办 → office@example.test',
      '2026-03-23 12:00 超时督办 → duty@example.test',
    ]);
    expect(mails[0]!.mail!.text).toContain('权威信息发布（时限3小时）：2026-03-23 12:00 前（北京时间），剩余 3小时');
    expect(mails[5]!.mail!.text).toContain('权威信息发布（时限3小时）：2026-03-23 12:00 前（北京时间），已超时 不足1分钟');
    // The stored clock state names its snapshot (ladder-refs.ts): a later pack does not change a running clock.
    const [row] = rowsOf<{ state: IncidentState }>(await db.db.execute(sql`select state from incidents where id = ${incidentId}`));
    await hydrateIncidentStates(db.db, [row!.state]);
    expect(row!.state.clocks.find((c) => c.kind === 'release')!.ladder!.ladder.steps.length).toBe(4);
    await e.stop();
  });

  it('a command in a process without the wiring (an API process) leaves the step to the engine’s timer, which queues it at once', async () => {
    const T0 = Date.parse('2026-03-30T09:00:00+08:00');
    const e = await engineAt(new Date(T0).toISOString());
    const { incidentId } = await signalIn(e.deps, signal('sig-api', T0));
    const { ladder: _wiring, ...api } = e.deps;
    await e.clock.advanceTo(T0 + 10 * 60_000);
    await applyCommand(api, incidentId, { type: 'assign', at: e.clock.now(), incident: incidentId, unit: 'water' }, 'duty:zhang');
    // Nothing queued by the command; the incident's wake is the notice's instant.
    expect(await delivered({ incidentId })).toEqual([]);
    const [row] = rowsOf<{ next_wake_at: string | Date }>(
      await db.db.execute(sql`select next_wake_at from incidents where id = ${incidentId}`),
    );
    expect(new Date(row!.next_wake_at).getTime()).toBe(T0 + 10 * 60_000);
    await e.timer.rearm();
    await e.to(T0 + 10 * 60_000);
    expect((await delivered({ incidentId })).map(line)).toEqual(['2026-03-30 09:10 交办 → water@example.test']);
    await e.stop();
  });

  it('an acknowledged breach stops the 催办 repeats the timer would fire next, not the leaders’ report (the writer reads acknowledgements for clocks breached earlier)', async () => {
    const T0 = Date.parse('2026-04-06T09:00:00+08:00');
    const e = await engineAt(new Date(T0).toISOString());
    const { incidentId } = await signalIn(e.deps, signal('sig-ack', T0, { unitHint: 'water' }));
    // Breached at 04-08 09:00 (the first 催办 goes out); the duty officer acknowledges at 10:00.
    await e.to(T0 + 49 * H);
    await db.db.execute(
      sql`update alerts set acknowledged_at = ${new Date(T0 + 49 * H).toISOString()}, acknowledged_by = 'duty:zhang'
          where incident_id = ${incidentId} and kind = 'breached'`,
    );
    await e.to(T0 + 72 * H);
    expect((await delivered({ incidentId })).map(line)).toEqual([
      '2026-04-06 09:00 交办 → water@example.test',
      '2026-04-07 09:00 预警 → water@example.test',
      '2026-04-07 23:24 预警 → water@example.test',
      '2026-04-08 09:00 超时督办 → water@example.test',
      '2026-04-08 09:00 超时督办 → office@example.test',
      // No 21:00 催办 repeat: acknowledged. The report to leaders is no repeat and still goes.
      '2026-04-08 21:00 超时通报 → leader1@example.test',
      '2026-04-08 21:00 超时通报 → leader2@example.test',
      '2026-04-08 21:00 超时通报 → office@example.test',
    ]);
    await e.stop();
  });
});
