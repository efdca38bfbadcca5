import { describe, expect, it } from 'vitest';
import type { Clock } from '../src/app/api-types.ts';
import {
  alertKindLabel,
  clockCountdownText,
  clockLabel,
  clockStateLabel,
  compareIncidents,
  cstLocalInputToIso,
  formatCountdown,
  formatDuration,
  formatFullInstant,
  formatInstant,
  levelLabel,
  scaleBadge,
  simulatedNow,
  toCstLocalInput,
  urgency,
  worseUrgency,
} from '../src/app/logic.ts';

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

  it('alert kinds', () => {
    expect(alertKindLabel({ kind: 'warning', elapsed: 0.5 })).toBe('预警 50%');
    expect(alertKindLabel({ kind: 'warning', elapsed: 0.8 })).toBe('预警 80%');
    expect(alertKindLabel({ kind: 'warning', elapsed: null })).toBe('预警');
    expect(alertKindLabel({ kind: 'breached', elapsed: null })).toBe('超时');
    expect(alertKindLabel({ kind: 'nonqualifying_response', elapsed: null })).toBe('内容敷衍');
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
