import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  civilFromDays,
  daysFromCivil,
  formatDay,
  formatIsoInstant,
  parseDay,
  parseIsoInstant,
  shanghaiDay,
  shanghaiDayStart,
  weekdayOf,
} from '../src/time.ts';

describe('parseIsoInstant', () => {
  it.each([
    ['2026-03-02T08:00:00+08:00', Date.UTC(2026, 2, 2, 0)],
    ['2026-03-02T00:00:00Z', Date.UTC(2026, 2, 2, 0)],
    ['2026-03-02T00:00:00z', Date.UTC(2026, 2, 2, 0)],
    ['2026-03-01T19:00:00-05:00', Date.UTC(2026, 2, 2, 0)],
    ['2026-03-02T08:00+08:00', Date.UTC(2026, 2, 2, 0)],
    ['2026-03-02T08:00:00+0800', Date.UTC(2026, 2, 2, 0)],
    ['2026-03-02T08:00:00+08', Date.UTC(2026, 2, 2, 0)],
    ['2026-03-02T08:00:00.5+08:00', Date.UTC(2026, 2, 2, 0) + 500],
    ['2026-03-02T08:00:00.123456+08:00', Date.UTC(2026, 2, 2, 0) + 123],
    ['2024-02-29T23:59:59.999+08:00', Date.UTC(2024, 1, 29, 15, 59, 59, 999)],
  ])('%s', (text, expected) => {
    expect(parseIsoInstant(text)).toBe(expected);
  });

  it.each([
    ['no offset', '2026-03-02T08:00:00'],
    ['space separator', '2026-03-02 08:00:00+08:00'],
    ['date only', '2026-03-02'],
    ['not a leap year', '2025-02-29T08:00:00+08:00'],
    ['month 13', '2026-13-01T08:00:00+08:00'],
    ['hour 24', '2026-03-02T24:00:00+08:00'],
    ['leap second', '2026-03-02T23:59:60+08:00'],
    ['offset hour 24', '2026-03-02T08:00:00+24:00'],
    ['epoch number as text', '1772409600000'],
    ['trailing junk', '2026-03-02T08:00:00+08:00x'],
  ])('rejects %s', (_, text) => {
    expect(parseIsoInstant(text)).toBeNull();
  });
});

describe('formatIsoInstant', () => {
  it('prints Asia/Shanghai with milliseconds', () => {
    expect(formatIsoInstant(Date.UTC(2026, 2, 2, 0))).toBe('2026-03-02T08:00:00.000+08:00');
    expect(formatIsoInstant(Date.UTC(2025, 9, 11, 16))).toBe('2025-10-12T00:00:00.000+08:00');
  });

  it('floors fractional milliseconds', () => {
    expect(formatIsoInstant(Date.UTC(2026, 0, 1) + 0.9)).toBe('2026-01-01T08:00:00.000+08:00');
  });

  it('round-trips with parseIsoInstant and agrees with Date', () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(1971, 0, 1), max: Date.UTC(2099, 11, 31) }), (ms) => {
        const text = formatIsoInstant(ms);
        expect(parseIsoInstant(text)).toBe(ms);
        expect(text).toBe(new Date(ms + 8 * 3_600_000).toISOString().replace('Z', '+08:00'));
      }),
    );
  });
});

describe('Shanghai calendar days', () => {
  it.each([
    ['midnight Shanghai starts the day', '2026-03-02T00:00:00+08:00', '2026-03-02'],
    ['one ms before is the previous day', '2026-03-01T23:59:59.999+08:00', '2026-03-01'],
    ['16:00Z is the next Shanghai day', '2026-03-01T16:00:00Z', '2026-03-02'],
    ['15:59:59.999Z is still the same day', '2026-03-01T15:59:59.999Z', '2026-03-01'],
    ['leap day', '2024-02-29T12:00:00+08:00', '2024-02-29'],
    ['year boundary', '2025-12-31T16:00:00Z', '2026-01-01'],
  ])('%s', (_, text, day) => {
    expect(formatDay(shanghaiDay(parseIsoInstant(text)!))).toBe(day);
  });

  it('day start is 00:00 +08:00', () => {
    expect(shanghaiDayStart(parseDay('2026-01-01')!)).toBe(Date.UTC(2025, 11, 31, 16));
  });

  it('civil conversion agrees with Date.UTC across centuries', () => {
    fc.assert(
      fc.property(fc.integer({ min: -200_000, max: 200_000 }), (day) => {
        const [y, m, d] = civilFromDays(day);
        expect(daysFromCivil(y, m, d)).toBe(day);
        expect(Date.UTC(y, m - 1, d)).toBe(day * 86_400_000);
        expect(weekdayOf(day)).toBe(new Date(day * 86_400_000).getUTCDay());
      }),
    );
  });

  it.each(['2025-02-29', '2026-04-31', '2026-1-01', '20260101', ''])('parseDay rejects %j', (text) => {
    expect(parseDay(text)).toBeNull();
  });
});
