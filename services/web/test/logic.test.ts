import { describe, expect, it } from 'vitest';
import type { Clock, Obligation } from '../console/src/api/types.ts';
import {
  alertKindLabel,
  arrangeDuties,
  clockCountdownText,
  clockLabel,
  clockStateLabel,
  compareIncidents,
  cstLocalInputToIso,
  dueDayOf,
  dutyActions,
  dutyCountdownText,
  dutyStateLabel,
  dutyUrgency,
  failedNotificationOf,
  formatDueDate,
  formatCountdown,
  formatDuration,
  formatFullInstant,
  formatInstant,
  isDutyOwed,
  isDutySuspended,
  levelLabel,
  RECENT_DUTY_MAX,
  scaleBadge,
  simulatedNow,
  suspendReasonLabel,
  toCstLocalInput,
  urgency,
  weekdayLabel,
  worseUrgency,
} from '../console/src/logic/logic.ts';

const H = 3_600_000;
const T0 = Date.parse('2024-05-01T00:00:00.000Z');
const iso = (ms: number): string => new Date(ms).toISOString();

/** A 10-hour running clock from T0, so 1 % of its span is 6 minutes. */
function clock(over: Partial<Clock> = {}): Clock {
  return {
    seq: 1,
    kind: 'response',
    state: 'running',
    startAt: iso(T0),
    dueAt: iso(T0 + 10 * H),
    respondedAt: null,
    late: null,
    ...over,
  };
}

describe('urgency', () => {
  it.each([
    ['just started', 0, 'calm'],
    ['49.9 % elapsed', 0.499 * 10 * H, 'calm'],
    ['50 % elapsed', 0.5 * 10 * H, 'warn'],
    ['79.9 % elapsed', 0.799 * 10 * H, 'warn'],
    ['80 % elapsed', 0.8 * 10 * H, 'danger'],
    ['1 ms before due', 10 * H - 1, 'danger'],
    ['at due', 10 * H, 'breached'],
    ['past due', 11 * H, 'breached'],
  ] as const)('running, %s → %s', (_name, offset, expected) => {
    expect(urgency(clock(), T0 + offset)).toBe(expected);
  });

  it('breached state is breached even if the local clock is behind', () => {
    expect(urgency(clock({ state: 'breached' }), T0 + H)).toBe('breached');
  });

  it.each(['met', 'cancelled', 'waived'] as const)('%s → done, whatever the time', (state) => {
    expect(urgency(clock({ state }), T0 + 20 * H)).toBe('done');
    expect(urgency(clock({ state }), T0 + H)).toBe('done');
  });

  it('a card takes its worst clock', () => {
    expect(worseUrgency('done', 'calm')).toBe('calm');
    expect(worseUrgency('breached', 'danger')).toBe('breached');
    expect(worseUrgency('warn', 'done')).toBe('warn');
  });
});

describe('countdown formatting', () => {
  it.each([
    [0, '00:00:00'],
    [59, '00:00:59'],
    [3723, '01:02:03'],
    [86_399, '23:59:59'],
    [86_400, '1天 00:00:00'],
    [93_784, '1天 02:03:04'],
    [2 * 86_400 + 5, '2天 00:00:05'],
    [-3723, '-01:02:03'],
  ])('formatDuration(%i) = %s', (s, text) => {
    expect(formatDuration(s)).toBe(text);
  });

  it('counts down what is left, rounding up', () => {
    expect(formatCountdown(93_784_000)).toBe('剩余 1天 02:03:04');
    expect(formatCountdown(5 * H)).toBe('剩余 05:00:00');
    expect(formatCountdown(1)).toBe('剩余 00:00:01');
  });

  it('past due it counts how late, rounding down', () => {
    expect(formatCountdown(0)).toBe('已超时 00:00:00');
    expect(formatCountdown(-999)).toBe('已超时 00:00:00');
    expect(formatCountdown(-3_723_000)).toBe('已超时 01:02:03');
    expect(formatCountdown(-93_784_000)).toBe('已超时 1天 02:03:04');
  });

  it('per clock state', () => {
    const now = T0 + 12 * H;
    expect(clockCountdownText(clock(), T0 + 5 * H)).toBe('剩余 05:00:00');
    expect(clockCountdownText(clock(), now)).toBe('已超时 02:00:00');
    expect(clockCountdownText(clock({ state: 'breached' }), now)).toBe('已超时 02:00:00');
    expect(clockCountdownText(clock({ state: 'met', respondedAt: iso(T0 + H), late: false }), now)).toBe('回应于 05-01 09:00');
    expect(clockCountdownText(clock({ state: 'met', respondedAt: iso(T0 + 11 * H), late: true }), now)).toBe('逾期回应 05-01 19:00');
    expect(clockCountdownText(clock({ state: 'cancelled' }), now)).toBe('—');
    expect(clockCountdownText(clock({ state: 'waived' }), now)).toBe('—');
  });
});

describe('labels', () => {
  it('levels', () => {
    expect(levelLabel(null)).toBe('待研判');
    expect(levelLabel('I')).toBe('特别重大 I');
    expect(levelLabel('II')).toBe('重大 II');
    expect(levelLabel('III')).toBe('较大 III');
    expect(levelLabel('IV')).toBe('一般 IV');
  });

  it('clocks', () => {
    expect(clockLabel('response')).toBe('权威回应 48小时');
    expect(clockLabel('release')).toBe('权威信息发布 5小时');
    expect(clockLabel('press_conference')).toBe('新闻发布会 24小时');
    expect(clockLabel('policy_interpretation')).toBe('政策解读 3个工作日');
    expect(clockLabel('some_future_kind')).toBe('some_future_kind');
    expect(clockLabel('toString')).toBe('toString');
    expect(clockLabel(null)).toBe('—');
  });

  it('clock states', () => {
    expect(clockStateLabel('running')).toBe('进行中');
    expect(clockStateLabel('met')).toBe('已回应');
    expect(clockStateLabel('breached')).toBe('已超时');
    expect(clockStateLabel('cancelled')).toBe('已取消');
    expect(clockStateLabel('waived')).toBe('已豁免');
  });

  it('the notification a 投递失败 alert is about (only that kind carries one)', () => {
    expect(failedNotificationOf({ id: 'delivery_failed:n-42', kind: 'delivery_failed' })).toBe('n-42');
    expect(failedNotificationOf({ id: 'delivery_failed:', kind: 'delivery_failed' })).toBeNull();
    expect(failedNotificationOf({ id: 'delivery_failed:n-42', kind: 'breached' })).toBeNull();
    expect(failedNotificationOf({ id: 'breach:x', kind: 'delivery_failed' })).toBeNull();
  });

  it('alert kinds', () => {
    expect(alertKindLabel({ kind: 'warning', elapsed: 0.5 })).toBe('预警 50%');
    expect(alertKindLabel({ kind: 'warning', elapsed: 0.8 })).toBe('预警 80%');
    expect(alertKindLabel({ kind: 'warning', elapsed: null })).toBe('预警');
    expect(alertKindLabel({ kind: 'breached', elapsed: null })).toBe('超时');
    expect(alertKindLabel({ kind: 'nonqualifying_response', elapsed: null })).toBe('内容敷衍');
    expect(alertKindLabel({ kind: 'calendar_missing', elapsed: null })).toBe('日历缺失');
    expect(alertKindLabel({ kind: 'engine_error', elapsed: null })).toBe('记录异常');
    expect(alertKindLabel({ kind: 'feed_failing', elapsed: null })).toBe('信息源故障');
    expect(alertKindLabel({ kind: 'channel_silent', elapsed: null })).toBe('官方渠道未更新');
    expect(alertKindLabel({ kind: 'delivery_failed', elapsed: null })).toBe('投递失败');
    // A kind the server added later is shown as sent, not a crash.
    expect(alertKindLabel({ kind: 'escalated' as never, elapsed: null })).toBe('escalated');
  });

  it('drill badge only when time is scaled', () => {
    expect(scaleBadge(1)).toBeNull();
    expect(scaleBadge(600)).toBe('演练 ×600');
    expect(scaleBadge(0.5)).toBe('演练 ×0.5');
  });
});

describe('Beijing time', () => {
  it('formats instants in UTC+8, across midnight', () => {
    expect(formatInstant(Date.parse('2024-05-01T16:30:00Z'))).toBe('05-02 00:30');
    expect(formatFullInstant(Date.parse('2024-12-31T16:00:05Z'))).toBe('2025-01-01 00:00:05');
  });

  it('reads datetime-local values as Beijing time', () => {
    expect(cstLocalInputToIso('2024-05-02T00:30')).toBe('2024-05-01T16:30:00.000Z');
    expect(cstLocalInputToIso('2024-05-02T00:30:15')).toBe('2024-05-01T16:30:15.000Z');
    expect(cstLocalInputToIso('')).toBeNull();
    expect(cstLocalInputToIso('yesterday')).toBeNull();
    expect(toCstLocalInput(Date.parse('2024-05-01T16:30:00Z'))).toBe('2024-05-02T00:30');
  });
});

describe('simulated time', () => {
  it('advances at the server scale from the sync point', () => {
    const sync = { serverMs: T0, perfAt: 1000, scale: 600 };
    expect(simulatedNow(sync, 1000)).toBe(T0);
    expect(simulatedNow(sync, 2000)).toBe(T0 + 600_000);
    expect(simulatedNow({ ...sync, scale: 1 }, 2000)).toBe(T0 + 1000);
  });
});

describe('incident order', () => {
  const inc = (id: string, clocks: Clock[], startAt = iso(T0)) => ({
    id,
    title: id,
    level: null,
    unit: null,
    status: 'open' as const,
    startAt,
    clocks,
    updatedAt: iso(T0),
  });

  it('nearest pending due first; overdue leads; nothing owed goes last', () => {
    const a = inc('a', [clock({ dueAt: iso(T0 + 48 * H) })]);
    const b = inc('b', [clock({ dueAt: iso(T0 + 5 * H) }), clock({ seq: 2, dueAt: iso(T0 + 24 * H) })]);
    const c = inc('c', [clock({ state: 'breached', dueAt: iso(T0 + 1 * H) })]);
    const d = inc('d', [clock({ state: 'met', dueAt: iso(T0) })]);
    const e = inc('e', [clock({ state: 'cancelled', dueAt: iso(T0) }), clock({ seq: 2, dueAt: iso(T0 + 6 * H) })]);
    expect([a, b, c, d, e].sort(compareIncidents).map((i) => i.id)).toEqual(['c', 'b', 'e', 'a', 'd']);
  });
});

describe('working-day duties', () => {
  const D = 24 * H;
  /** A 10-day duty from T0 (so 1 % of its span is 2.4 hours). */
  const duty = (over: Partial<Obligation> = {}): Obligation => ({
    id: 'd1',
    kind: 'policy_interpretation',
    title: '关于优化营商环境的若干措施',
    unit: null,
    state: 'running',
    issuedAt: iso(T0),
    dueDate: '2024-05-10',
    dueAt: iso(T0 + 10 * D),
    provisional: false,
    extended: false,
    suspended: null,
    respondedAt: null,
    late: null,
    ...over,
  });

  it('weekdays in Chinese, for real days only', () => {
    expect(weekdayLabel('2025-10-11')).toBe('周六'); // the 调休 Saturday after National Day
    expect(weekdayLabel('2025-10-12')).toBe('周日');
    expect(weekdayLabel('2025-10-13')).toBe('周一');
    expect(weekdayLabel('2024-02-29')).toBe('周四');
    expect(weekdayLabel('2025-02-29')).toBeNull();
    expect(weekdayLabel('2025-13-01')).toBeNull();
    expect(weekdayLabel('2025-10-11T00:00')).toBeNull();
    expect(weekdayLabel('toString')).toBeNull();
    expect(formatDueDate('2025-10-11')).toBe('2025-10-11 周六');
    expect(formatDueDate('someday')).toBe('someday');
  });

  it('the due day is the Beijing day the due instant (24:00) closes', () => {
    expect(dueDayOf(Date.parse('2025-10-12T00:00:00+08:00'))).toBe('2025-10-11');
    expect(dueDayOf(Date.parse('2025-10-11T23:00:00+08:00'))).toBe('2025-10-11');
    expect(dueDayOf(Number.NaN)).toBeNull();
  });

  it('suspension reasons, with unknown ones shown as sent', () => {
    expect(suspendReasonLabel('correction')).toBe('补正');
    expect(suspendReasonLabel('third_party')).toBe('征求第三方意见');
    expect(suspendReasonLabel('toString')).toBe('toString');
    expect(suspendReasonLabel('constructor')).toBe('constructor');
  });

  it('state badges; a late reply is 逾期办结', () => {
    expect(dutyStateLabel({ state: 'running', late: null })).toBe('进行中');
    expect(dutyStateLabel({ state: 'met', late: false })).toBe('已办结');
    expect(dutyStateLabel({ state: 'met', late: true })).toBe('逾期办结');
    expect(dutyStateLabel({ state: 'breached', late: null })).toBe('已超时');
    expect(dutyStateLabel({ state: 'toString', late: null })).toBe('toString');
    expect(dutyStateLabel({ state: 'hasOwnProperty', late: null })).toBe('hasOwnProperty');
  });

  it.each([
    ['just issued', 0, 'calm'],
    ['49 % elapsed', 0.49 * 10 * D, 'calm'],
    ['50 % elapsed', 0.5 * 10 * D, 'warn'],
    ['80 % elapsed', 0.8 * 10 * D, 'danger'],
    ['at due', 10 * D, 'breached'],
  ] as const)('urgency from issue to due: %s → %s', (_name, offset, expected) => {
    expect(dutyUrgency(duty(), T0 + offset)).toBe(expected);
  });

  it('urgency by state; a suspended count is paused, however late', () => {
    const suspended = { since: iso(T0 + D), reason: 'third_party' };
    expect(dutyUrgency(duty({ suspended }), T0 + 20 * D)).toBe('paused');
    expect(dutyUrgency(duty({ state: 'met', suspended }), T0 + 20 * D)).toBe('done');
    expect(dutyUrgency(duty({ state: 'met' }), T0 + 9 * D)).toBe('done');
    expect(dutyUrgency(duty({ state: 'breached' }), T0)).toBe('breached');
    expect(dutyUrgency(duty({ state: 'toString' }), T0)).toBe('done');
  });

  it('countdown text: none while suspended, how late once breached, when replied once met', () => {
    expect(dutyCountdownText(duty(), T0 + 1000)).toBe('剩余 9天 23:59:59');
    expect(dutyCountdownText(duty(), T0 + 11 * D)).toBe('已超时 1天 00:00:00');
    expect(dutyCountdownText(duty({ suspended: { since: iso(T0), reason: 'correction' } }), T0)).toBe('暂停计时');
    expect(dutyCountdownText(duty({ state: 'breached' }), T0 + 10 * D + H)).toBe('已超时 01:00:00');
    expect(dutyCountdownText(duty({ state: 'met', respondedAt: iso(T0 + H), late: false }), T0 + 2 * H)).toBe('办结于 05-01 09:00');
    expect(dutyCountdownText(duty({ state: 'met', respondedAt: iso(T0 + 11 * D), late: true }), T0 + 12 * D)).toBe('办结于 05-12 08:00');
    expect(dutyCountdownText(duty({ state: 'met' }), T0)).toBe('已办结');
    expect(dutyCountdownText(duty({ state: 'toString' }), T0)).toBe('—');
  });

  it('owed and suspended', () => {
    expect(isDutyOwed(duty())).toBe(true);
    expect(isDutyOwed(duty({ state: 'breached' }))).toBe(true);
    expect(isDutyOwed(duty({ state: 'met' }))).toBe(false);
    const suspended = { since: iso(T0), reason: 'correction' };
    expect(isDutySuspended(duty({ suspended }))).toBe(true);
    expect(isDutySuspended(duty({ state: 'met', suspended }))).toBe(false);
  });

  it('actions follow the API rules: 延期 once and 暂停/恢复 for disclosure requests only', () => {
    const request = (over: Partial<Obligation> = {}) => duty({ kind: 'disclosure_request', ...over });
    const suspended = { since: iso(T0), reason: 'third_party' };
    expect(dutyActions(duty())).toEqual({ fulfil: true, extend: false, suspend: false, resume: false });
    expect(dutyActions(request())).toEqual({ fulfil: true, extend: true, suspend: true, resume: false });
    expect(dutyActions(request({ extended: true }))).toEqual({ fulfil: true, extend: false, suspend: true, resume: false });
    expect(dutyActions(request({ suspended }))).toEqual({ fulfil: true, extend: false, suspend: false, resume: true });
    expect(dutyActions(request({ state: 'breached' }))).toEqual({ fulfil: true, extend: false, suspend: false, resume: false });
    expect(dutyActions(request({ state: 'met', suspended }))).toEqual({ fulfil: false, extend: false, suspend: false, resume: false });
  });

  it('order: counting by due (overdue lead), then suspended, then recently met, newest first', () => {
    const now = T0 + 30 * D;
    const list = [
      duty({ id: 'later', dueAt: iso(now + 5 * D) }),
      duty({ id: 'sooner', dueAt: iso(now + D) }),
      duty({ id: 'overdue', state: 'breached', dueAt: iso(now - D) }),
      duty({ id: 'paused', kind: 'disclosure_request', dueAt: iso(now), suspended: { since: iso(now - D), reason: 'correction' } }),
      duty({ id: 'met-old', state: 'met', respondedAt: iso(now - 8 * D), late: false }),
      duty({ id: 'met-1', state: 'met', respondedAt: iso(now - 2 * D), late: false }),
      duty({ id: 'met-2', state: 'met', respondedAt: iso(now - H), late: true }),
    ];
    expect(arrangeDuties(list, now).map((d) => d.id)).toEqual(['overdue', 'sooner', 'later', 'paused', 'met-2', 'met-1']);
  });

  it('keeps at most RECENT_DUTY_MAX met duties', () => {
    const met = Array.from({ length: RECENT_DUTY_MAX + 3 }, (_, i) =>
      duty({ id: `m${String(i).padStart(2, '0')}`, state: 'met', respondedAt: iso(T0 + i * H) }),
    );
    const shown = arrangeDuties(met, T0 + D).map((d) => d.id);
    expect(shown).toHaveLength(RECENT_DUTY_MAX);
    expect(shown[0]).toBe(`m${RECENT_DUTY_MAX + 2}`);
  });
});
