import chineseDays from 'chinese-days';
import { describe, expect, it } from 'vitest';
import { CN_CALENDAR_DATA, chinaCalendar } from '../src/calendar-cn.ts';
import { createCalendar, extendWorkingDayDue, parseCalendarData, provisionalCalendar, workingDayDue } from '../src/calendar.ts';
import { CalendarYearMissing, DomainError } from '../src/errors.ts';
import { daysFromCivil, formatDay, formatIsoInstant, parseIsoInstant } from '../src/time.ts';

const cal = chinaCalendar();

describe('working days (PRC, with 调休)', () => {
  it.each([
    ['ordinary Monday', '2026-03-02', true],
    ['ordinary Saturday', '2026-03-07', false],
    ['National Day on a Wednesday', '2025-10-01', false],
    ['National Day extra day (Oct 8, Wednesday)', '2025-10-08', false],
    ['调休 Sunday before National Day 2025', '2025-09-28', true],
    ['调休 Saturday after National Day 2025', '2025-10-11', true],
    ['New Year 2026 on a Friday', '2026-01-02', false],
    ['调休 Sunday 2026-01-04', '2026-01-04', true],
    ['调休 Saturday before Spring Festival 2026', '2026-02-14', true],
    ['Spring Festival 2026 Monday', '2026-02-23', false],
    ['调休 Saturday after Spring Festival 2026', '2026-02-28', true],
    ['leap day 2024 (Thursday)', '2024-02-29', true],
  ])('%s: %s → %s', (_, date, working) => {
    expect(cal.isWorkingDay(date)).toBe(working);
  });

  it.each([
    // [why, issued (Shanghai wall time), working days, last working day]
    ['day before the 8-day National Day 2025: 3 days end on the 调休 Saturday', '2025-09-30T10:00:00+08:00', 3, '2025-10-11'],
    ['day before National Day 2025, 1 day', '2025-09-30T10:00:00+08:00', 1, '2025-10-09'],
    ['issued 23:59:59 Shanghai still counts from that day', '2025-09-30T23:59:59.999+08:00', 1, '2025-10-09'],
    ['issued 16:00Z is already Oct 1 in Shanghai (holiday); 1 day → Oct 9', '2025-09-30T16:00:00Z', 1, '2025-10-09'],
    ['issued on a Saturday, next day a 调休 Sunday', '2025-09-27T15:00:00+08:00', 1, '2025-09-28'],
    ['Friday before Spring Festival 2026: the 调休 Saturday counts', '2026-02-13T09:00:00+08:00', 1, '2026-02-14'],
    ['Friday before Spring Festival 2026, 2 days: after the 9-day break', '2026-02-13T09:00:00+08:00', 2, '2026-02-24'],
    ['issued on the 调休 Saturday itself (the issue day never counts)', '2026-02-14T09:00:00+08:00', 1, '2026-02-24'],
    ['proposal reply 10 days across Spring Festival 2026', '2026-02-12T09:00:00+08:00', 10, '2026-03-04'],
    ['leap day: Feb 28 2024 + 1', '2024-02-28T09:00:00+08:00', 1, '2024-02-29'],
    ['leap day: Feb 29 2024 + 1', '2024-02-29T09:00:00+08:00', 1, '2024-03-01'],
    ['year boundary: New Year 2026 holiday, then the 调休 Sunday', '2025-12-31T16:00:00+08:00', 1, '2026-01-04'],
    ['year boundary: 20 days', '2025-12-31T16:00:00+08:00', 20, '2026-01-29'],
    ['0 working days: end of the issue day', '2026-03-02T10:00:00+08:00', 0, '2026-03-02'],
  ])('%s', (_, issued, days, last) => {
    const due = workingDayDue(parseIsoInstant(issued)!, days, cal);
    expect(due.dueDate).toBe(last);
    expect(due.provisional).toBe(false);
    // "the end (24:00, Asia/Shanghai, printed as the next day's 00:00)"
    const next = formatDay(daysFromCivil(Number(last.slice(0, 4)), Number(last.slice(5, 7)), Number(last.slice(8))) + 1);
    expect(formatIsoInstant(due.dueAt)).toBe(`${next}T00:00:00.000+08:00`);
  });

  it('extension counts from the current due date, across 清明 2026', () => {
    expect(extendWorkingDayDue('2026-03-30', 20, cal).dueDate).toBe('2026-04-28');
  });

  it('agrees with chinese-days on every day of every year in the data file', () => {
    for (const year of cal.years) {
      for (let d = daysFromCivil(year, 1, 1); d < daysFromCivil(year + 1, 1, 1); d++) {
        const date = formatDay(d);
        if (cal.isWorkingDay(date) !== chineseDays.isWorkday(date)) throw new Error(`disagreement on ${date}`);
      }
    }
    expect(cal.years[0]).toBe(2004);
    expect(cal.years).toContain(2026);
  });
});

describe('unknown years', () => {
  it.each([
    ['a later year', () => cal.isWorkingDay('2027-03-01'), 2027],
    ['an earlier year', () => cal.isWorkingDay('2003-06-02'), 2003],
    ['a deadline running into the next year', () => workingDayDue(parseIsoInstant('2026-12-31T10:00:00+08:00')!, 1, cal), 2027],
  ])('%s throws CalendarYearMissing naming the year', (_, fn, year) => {
    expect(fn).toThrow(CalendarYearMissing);
    expect(fn).toThrow(`calendar has no data for year ${year}`);
    try {
      fn();
    } catch (e) {
      expect((e as CalendarYearMissing).year).toBe(year);
      expect((e as CalendarYearMissing).code).toBe('CALENDAR_YEAR_MISSING');
    }
  });

  it('does not consult the year of the issue day itself', () => {
    // Issued on the last day of 2003 (no data): only days of 2004 are counted.
    expect(workingDayDue(parseIsoInstant('2003-12-31T10:00:00+08:00')!, 1, cal).dueDate).toBe('2004-01-02');
  });

  it('a provisional calendar counts Monday–Friday and says so', () => {
    const p = provisionalCalendar(cal);
    const due = workingDayDue(parseIsoInstant('2026-12-31T10:00:00+08:00')!, 2, p);
    expect(due).toMatchObject({ dueDate: '2027-01-04', provisional: true });
    expect(workingDayDue(parseIsoInstant('2026-03-02T10:00:00+08:00')!, 2, p).provisional).toBe(false);
    expect(createCalendar(CN_CALENDAR_DATA, [], { provisional: true }).isWorkingDay('2030-01-05')).toBe(false);
  });
});

describe('calendar data', () => {
  it('overrides replace whole years and add new ones', () => {
    const c = createCalendar(CN_CALENDAR_DATA, [
      { years: { '2026': { holidays: [], workdays: [] } } },
      { years: { '2027': { holidays: ['2027-01-01'], workdays: ['2027-01-02'] } } },
    ]);
    expect(c.isWorkingDay('2026-10-01')).toBe(true); // plain Thursday now
    expect(c.isWorkingDay('2026-02-14')).toBe(false); // no more 调休 Saturday
    expect(c.isWorkingDay('2027-01-01')).toBe(false);
    expect(c.isWorkingDay('2027-01-02')).toBe(true);
    expect(c.isWorkingDay('2025-10-01')).toBe(false); // other years untouched
    expect(c.years.at(-1)).toBe(2027);
  });

  it.each([
    ['not an object', 42, '/'],
    ['unknown top-level key', { years: {}, extra: 1 }, '/extra'],
    ['year key not 4 digits', { years: { '27': { holidays: [], workdays: [] } } }, '27'],
    ['missing workdays', { years: { '2027': { holidays: [] } } }, '/years/2027/workdays'],
    ['malformed date', { years: { '2027': { holidays: ['2027-1-1'], workdays: [] } } }, '/years/2027/holidays/0'],
    ['impossible date', { years: { '2027': { holidays: ['2027-02-30'], workdays: [] } } }, '/years/2027/holidays/0'],
    [
      'date in another year',
      { years: { '2027': { holidays: ['2026-10-01'], workdays: [] } } },
      '/years/2027/holidays/0: 2026-10-01 is not in year 2027',
    ],
    ['both holiday and workday', { years: { '2027': { holidays: ['2027-01-01'], workdays: ['2027-01-01'] } } }, '/years/2027/workdays/0'],
  ])('rejects %s, naming the path', (_, data, path) => {
    expect(() => parseCalendarData(data, 'extra.json')).toThrow(DomainError);
    expect(() => parseCalendarData(data, 'extra.json')).toThrow(path);
  });
});
