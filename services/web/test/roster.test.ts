import { describe, expect, it } from 'vitest';
import { rosterGaps, shanghaiWeekStart, shiftLength, shiftTime } from '../console/src/logic/roster.ts';

const at = (s: string) => Date.parse(s);

describe('值班表 page logic', () => {
  it.each([
    ['2026-03-02T00:00:00+08:00', '2026-03-02T00:00:00+08:00'], // Monday 00:00 is its own week
    ['2026-03-08T23:59:59+08:00', '2026-03-02T00:00:00+08:00'], // Sunday night still the same week
    ['2026-03-08T16:00:00Z', '2026-03-09T00:00:00+08:00'], // already Monday in Shanghai
    ['2026-03-04T12:00:00+08:00', '2026-03-02T00:00:00+08:00'],
  ])('the Shanghai week of %s starts %s', (instant, monday) => {
    expect(shanghaiWeekStart(at(instant))).toBe(at(monday));
  });

  it('labels a shift in Asia/Shanghai with its length', () => {
    expect(shiftTime('2026-03-02T00:00:00Z')).toContain('08:00');
    expect(shiftLength('2026-03-02T08:00:00+08:00', '2026-03-02T20:30:00+08:00')).toBe('12小时30分');
    expect(shiftLength('2026-03-02T08:00:00+08:00', '2026-03-02T16:00:00+08:00')).toBe('8小时');
  });

  it('finds the gaps nobody covers, overlapping shifts counted once', () => {
    const from = at('2026-03-02T00:00:00+08:00');
    const to = at('2026-03-03T00:00:00+08:00');
    const shifts = [
      { startsAt: '2026-03-02T08:00:00+08:00', endsAt: '2026-03-02T13:30:00+08:00' },
      { startsAt: '2026-03-02T12:00:00+08:00', endsAt: '2026-03-02T14:00:00+08:00' },
      { startsAt: '2026-03-02T15:00:00+08:00', endsAt: '2026-03-03T08:00:00+08:00' },
    ];
    expect(rosterGaps(shifts, from, to)).toEqual([
      { from, to: at('2026-03-02T08:00:00+08:00') },
      { from: at('2026-03-02T14:00:00+08:00'), to: at('2026-03-02T15:00:00+08:00') },
    ]);
    expect(rosterGaps([], from, to)).toEqual([{ from, to }]);
  });
});
