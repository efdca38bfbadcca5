import { describe, expect, it } from 'vitest';
import { durationText, leftOrOverdue, renderStepMessage, shanghaiTime, spanText, type StepMessageInput } from '../src/step-templates.ts';

const H = 3_600_000;
const M = 60_000;
const due = Date.parse('2026-03-02T13:00:00+08:00');

const input = (over: Partial<StepMessageInput> = {}): StepMessageInput => ({
  step: 'urge',
  subject: { type: 'incident', id: 'i-1', title: '某小区供水水质浑浊', level: 'II' },
  recipientName: '市水务局',
  unitName: '市水务局',
  clock: { kind: 'release', startAt: due - 5 * H, dueAt: due, spanMs: 5 * H },
  now: due + 65 * M,
  dashboardUrl: 'https://huiying.example.gov.cn/',
  ...over,
});

describe('spans come from the clock, not from a label', () => {
  it.each([
    [{ kind: 'release', startAt: 0, dueAt: 5 * H, spanMs: 5 * H }, '5小时'],
    [{ kind: 'release', startAt: 0, dueAt: 3 * H, spanMs: 3 * H }, '3小时'],
    [{ kind: 'release', startAt: 0, dueAt: 3.5 * H, spanMs: 3.5 * H }, '3.5小时'],
    [{ kind: 'release', startAt: 0, dueAt: 30 * M, spanMs: 30 * M }, '30分钟'],
    [{ kind: 'policy_interpretation', startAt: 0, dueAt: 5 * 24 * H, workingDays: 3 }, '3个工作日'],
  ])('%j → %s', (clock, text) => {
    expect(spanText(clock)).toBe(text);
  });

  it('a pack that makes the release clock 3 h says 3 h in the mail', () => {
    const m = renderStepMessage(input({ clock: { kind: 'release', startAt: due - 3 * H, dueAt: due, spanMs: 3 * H } }));
    expect(m.text).toContain('权威信息发布（时限3小时）');
    expect(m.text).not.toContain('5小时');
  });
});

describe('times in Asia/Shanghai, left or overdue', () => {
  it.each([
    ['2026-03-02T05:00:00Z', '2026-03-02 13:00'],
    ['2026-03-01T16:30:00Z', '2026-03-02 00:30'], // across midnight in Shanghai
    ['2026-12-31T16:00:00Z', '2027-01-01 00:00'],
  ])('%s → %s', (iso, text) => {
    expect(shanghaiTime(Date.parse(iso))).toBe(text);
  });

  it.each([
    [-1, '剩余 不足1分钟'],
    [-(4 * H + 59 * M), '剩余 4小时59分钟'],
    [0, '已超时 不足1分钟'],
    [65 * M, '已超时 1小时5分钟'],
    [2 * 24 * H + 3 * H + 7 * M, '已超时 2天3小时'],
    [3 * 24 * H, '已超时 3天'],
  ])('now − due = %d ms → %s', (offset, text) => {
    expect(leftOrOverdue({ kind: 'release', startAt: due - 5 * H, dueAt: due }, due + offset)).toBe(text);
  });

  it('durations', () => {
    expect(durationText(59_999)).toBe('不足1分钟');
    expect(durationText(60_000)).toBe('1分钟');
  });
});

describe('each step', () => {
  it('催办: subject, due in Beijing time, overdue, the repost rule, deep link; HTML escaped', () => {
    const m = renderStepMessage(input({ subject: { type: 'incident', id: 'i-1', title: '<b>供水</b>', level: 'II' } }));
    expect(m.subject).toBe('【超时督办】<b>供水</b>：权威信息发布已超时');
    expect(m.text).toContain('权威信息发布（时限5小时）：2026-03-02 13:00 前（北京时间），已超时 1小时5分钟');
    expect(m.text).toContain('不得以转载工作动态、新闻报道、评论文章等充当回应内容');
    expect(m.text).toContain('级别：重大（II级）');
    expect(m.text).toContain('查看详情：https://huiying.example.gov.cn/#/incidents/i-1');
    expect(m.html).toContain('&lt;b&gt;供水&lt;/b&gt;');
    expect(m.html).not.toContain('<b>供水</b>');
    expect(m.html).toContain('<a href="https://huiying.example.gov.cn/#/incidents/i-1">');
  });

  it('交办 notice lists every due of the incident', () => {
    const m = renderStepMessage(
      input({
        step: 'notice',
        now: due - 5 * H,
        clocks: [
          { kind: 'release', startAt: due - 5 * H, dueAt: due, spanMs: 5 * H },
          { kind: 'press_conference', startAt: due - 5 * H, dueAt: due + 19 * H, spanMs: 24 * H },
        ],
      }),
    );
    expect(m.subject).toBe('【交办】某小区供水水质浑浊');
    expect(m.text).toContain('权威信息发布（时限5小时）：2026-03-02 13:00 前（北京时间），剩余 5小时');
    expect(m.text).toContain('新闻发布会（时限24小时）：2026-03-03 08:00 前（北京时间），剩余 1天');
  });

  it('预警 says how much of the span has gone', () => {
    const m = renderStepMessage(input({ step: 'warning', elapsed: 0.8, now: due - 1 * H }));
    expect(m.subject).toBe('【预警】某小区供水水质浑浊：权威信息发布剩余 1小时');
    expect(m.text).toContain('时限已过 80%');
  });

  it('通报 to leaders names the unit; a working-day duty speaks of 事项 and 公开', () => {
    const m = renderStepMessage(
      input({
        step: 'report',
        recipientName: '市政府领导',
        subject: { type: 'obligation', id: 'o-1', title: '关于某政策的解读' },
        clock: { kind: 'policy_interpretation', startAt: due - 5 * 24 * H, dueAt: due, workingDays: 3 },
        now: due + 12 * H,
      }),
    );
    expect(m.subject).toBe('【超时通报】关于某政策的解读：市水务局政策解读材料发布已超时 12小时');
    expect(m.text).toContain('政策解读材料发布（时限3个工作日）');
    expect(m.text).toContain('https://huiying.example.gov.cn/#/duties/o-1');
  });
});
