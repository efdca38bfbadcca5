/**
 * The leaders' daily digest on the real PostgreSQL and a real SMTP server, in simulated time:
 * two engines schedule it, each leader gets one per day at the configured Asia/Shanghai hour,
 * an engine started after the hour queues the day's digest only if nobody did.
 */
import type { SignalMessage } from '@huiying/bus';
import { FakeClock } from '@huiying/clock';
import { rowsOf, sql } from '@huiying/db';
import type { Dispatcher } from '@huiying/notify';
import type { TestSmtp } from '@huiying/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { nextDigestAt } from '../src/digest.ts';
import type { RunningEngine } from '../src/engine.ts';
import { type FreshDatabase, type NotifyFixture, startNotifyFixture } from './fixtures/notify-postgres.ts';
import { signalIn } from './signal-in.ts';

const H = 3_600_000;
const T0 = Date.parse('2026-06-10T07:00:00+08:00');
let fixture: NotifyFixture;
let db: FreshDatabase;
let smtp: TestSmtp;
const clock = new FakeClock(T0);
let dispatcher: Dispatcher;

beforeAll(async () => {
  const at = new Date(T0);
  fixture = await startNotifyFixture({
    units: [
      { id: 'office', name: '市政府办公室', email: 'office@example.test' },
      { id: 'roads', name: '市交通运输局', email: 'roads@example.test', parentId: 'office' },
    ],
    users: [
      { id: 'l1', username: 'l1', displayName: '分管副市长', role: 'leader', email: 'l1@example.test', createdAt: at, updatedAt: at },
      { id: 'l2', username: 'l2', displayName: '秘书长', role: 'leader', email: 'l2@example.test', createdAt: at, updatedAt: at },
    ],
  });
  ({ db, smtp } = fixture);
  dispatcher = fixture.dispatcher(clock);
});

afterAll(() => fixture?.stop());

const engine = (): Promise<RunningEngine> => fixture.engine({ clock, digest: { hour: 8 } });

const digests = async () =>
  rowsOf<{ clock_key: string; recipient: string; status: string; subject: string; text: string; html: string | null }>(
    await db.db.execute(
      sql`select clock_key, recipient, status, subject, text, html from notifications where step_kind = 'digest' order by seq`,
    ),
  );

it('nextDigestAt: the next 08:00 Asia/Shanghai strictly after now', () => {
  expect(nextDigestAt(Date.parse('2026-06-10T07:59:59+08:00'), 8)).toBe(Date.parse('2026-06-10T08:00:00+08:00'));
  expect(nextDigestAt(Date.parse('2026-06-10T08:00:00+08:00'), 8)).toBe(Date.parse('2026-06-11T08:00:00+08:00'));
  expect(nextDigestAt(Date.parse('2026-06-10T23:30:00+08:00'), 0)).toBe(Date.parse('2026-06-11T00:00:00+08:00'));
});

it('each leader gets one digest a day, with the overdue matters, the 通报 candidates and the 约谈 candidates', async () => {
  const a = await engine();
  await engine();
  // A ticket published 62 h ago: born breached (48 h), urged and reported to the leaders at once.
  // A title cut from a ticket, with the citizen's name and phone: masked in every mail.
  const matter: Record<string, string> = { t1: '路灯长期不亮，市民张三反映，电话13812345678', t2: '公交站台破损', t3: '人行道井盖缺失' };
  const ticket = (id: string, hoursAgo: number): SignalMessage & { title: string } => ({
    v: 1,
    type: 'signal',
    id,
    source: 'hotline',
    sourceRef: id,
    title: matter[id]!,
    unitHint: 'roads',
    publishedAt: new Date(T0 - hoursAgo * H).toISOString(),
    receivedAt: new Date(T0).toISOString(),
  });
  for (const [id, hoursAgo] of [
    ['t1', 62],
    ['t2', 50],
    ['t3', 49],
  ] as const) {
    await signalIn(a.deps, ticket(id, hoursAgo));
  }
  await clock.advanceTo(T0 + H - 1);
  expect(await digests()).toEqual([]);
  await clock.advanceTo(T0 + H);
  await dispatcher.drain();
  let rows = await digests();
  expect(rows.map((r) => `${r.clock_key} ${r.recipient} ${r.status}`)).toEqual([
    'digest:2026-06-10 l1@example.test sent',
    'digest:2026-06-10 l2@example.test sent',
  ]);
  const d = rows[0]!;
  expect(d.subject).toBe('【每日汇总】2026-06-10 政务舆情回应时效：超时 3 项，通报候选 1 项');
  expect(d.text).toMatch(/^分管副市长：/);
  expect(d.text).toContain('当前超时未办结（3项）');
  expect(d.text).toContain('路灯长期不亮，市民张*反映，电话138****5678（市交通运输局，权威回应，2026-06-09 17:00 到期，已超时 15小时）');
  expect(d.text).toContain('近24小时列入通报候选（1项）');
  // Listed twice (overdue, and a 通报 candidate), masked both times, in the text and the HTML.
  expect(d.text.split('电话138****5678').length - 1).toBe(2);
  for (const body of [d.text, d.html ?? '', ...smtp.mails.map((m) => `${m.text ?? ''}${String(m.html ?? '')}`)]) {
    expect(body).not.toContain('13812345678');
    expect(body).not.toContain('张三');
  }
  // Three breaches by one unit this quarter: a 约谈 candidate.
  expect(d.text).toContain('市交通运输局：2026-Q2 超时 3 次');
  const mails = smtp.mails.filter((m) => m.subject?.startsWith('【每日汇总】'));
  expect(mails).toHaveLength(2);

  // An engine started later the same day finds the digest queued and adds nothing.
  await clock.advanceTo(T0 + 3 * H);
  await engine();
  expect(await digests()).toHaveLength(2);
  // The next morning: one more each.
  await clock.advanceTo(T0 + 25 * H);
  await dispatcher.drain();
  rows = await digests();
  expect(rows.map((r) => r.clock_key)).toEqual(['digest:2026-06-10', 'digest:2026-06-10', 'digest:2026-06-11', 'digest:2026-06-11']);
  expect(smtp.mails.filter((m) => m.subject?.startsWith('【每日汇总】'))).toHaveLength(4);
});
