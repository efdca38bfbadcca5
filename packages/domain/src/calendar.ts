/**
 * PRC working days: statutory holidays and 调休 make-up working days, by Asia/Shanghai
 * calendar date, from data only.
 *
 * A year without data is an error (`CalendarYearMissing`), never a silent Monday–Friday
 * guess: the State Council publishes each year's arrangement in the preceding autumn, and
 * a guessed deadline across an unpublished Spring Festival would be wrong by a week. A
 * caller that must answer anyway asks a provisional calendar, whose answers say so.
 */
import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { CalendarYearMissing, DomainError } from './errors.ts';
import { type DayNumber, daysFromCivil, formatDay, parseDay, shanghaiDay, shanghaiDayStart, weekdayOf, yearOfDay } from './time.ts';
import type { Instant } from './types.ts';

const DateText = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'YYYY-MM-DD (Asia/Shanghai calendar date)' });

export const CalendarYearSchema = Type.Object(
  {
    /** Days off (statutory holiday periods, weekend days inside them included or not). */
    holidays: Type.Array(DateText),
    /** 调休: Saturdays or Sundays that are working days. */
    workdays: Type.Array(DateText),
  },
  { additionalProperties: false },
);

/** The calendar file shape (`data/calendar-cn.json`, and `--calendar` files). */
export const CalendarDataSchema = Type.Object(
  {
    source: Type.Optional(Type.String()),
    years: Type.Record(Type.String({ pattern: '^\\d{4}$' }), CalendarYearSchema),
  },
  { additionalProperties: false },
);

export type CalendarYearData = Static<typeof CalendarYearSchema>;
export type CalendarData = Static<typeof CalendarDataSchema>;

/** Validate calendar data from unknown JSON; errors name the path. */
export function parseCalendarData(data: unknown, label = 'calendar data'): CalendarData {
  if (!Value.Check(CalendarDataSchema, data)) {
    const problems = [...Value.Errors(CalendarDataSchema, data)].slice(0, 5).map((e) => `${e.path || '/'}: ${e.message}`);
    throw new DomainError('CALENDAR_DATA_INVALID', `${label} invalid: ${problems.join('; ')}`);
  }
  for (const [yearKey, year] of Object.entries(data.years)) {
    if (!/^\d{4}$/.test(yearKey))
      throw new DomainError('CALENDAR_DATA_INVALID', `${label} invalid: /years/${yearKey}: a year key is 4 digits`);
    const holidays = new Set(year.holidays);
    for (const list of ['holidays', 'workdays'] as const) {
      year[list].forEach((date, i) => {
        const path = `/years/${yearKey}/${list}/${i}`;
        const bad = (why: string) => new DomainError('CALENDAR_DATA_INVALID', `${label} invalid: ${path}: ${date} ${why}`);
        if (parseDay(date) === null) throw bad('is not a calendar date');
        if (date.slice(0, 4) !== yearKey) throw bad(`is not in year ${yearKey}`);
        if (list === 'workdays' && holidays.has(date)) throw bad('is listed both as holiday and as workday');
      });
    }
  }
  return data;
}

export interface WorkingDaysResult {
  /** The resulting day, 'YYYY-MM-DD'. */
  date: string;
  /** true when a year without data was counted as plain Monday–Friday. */
  provisional: boolean;
}

export interface WorkingDayCalendar {
  /** Unknown years count as Monday–Friday (answers flagged provisional) instead of throwing. */
  readonly provisional: boolean;
  /** Years with data, ascending. */
  readonly years: readonly number[];
  hasYear(year: number): boolean;
  /** Is 'YYYY-MM-DD' a working day? Throws CalendarYearMissing for a year without data. */
  isWorkingDay(date: string): boolean;
  /** The n-th working day after `date` (`date` itself does not count; n = 0 gives `date`). */
  addWorkingDays(date: string, n: number): WorkingDaysResult;
  /** Day-number forms of the above (days since 1970-01-01), for hot loops. */
  isWorkingDayNumber(day: DayNumber): boolean;
  addWorkingDaysNumber(day: DayNumber, n: number): { day: DayNumber; provisional: boolean };
  /** The same data with the Monday–Friday fallback for unknown years. */
  withProvisional(): WorkingDayCalendar;
}

interface YearTable {
  first: DayNumber;
  /** 1 = working day, indexed by day - first. */
  flags: Uint8Array;
}

function isWeekday(day: DayNumber): boolean {
  const wd = weekdayOf(day);
  return wd !== 0 && wd !== 6;
}

function buildYear(year: number, data: CalendarYearData): YearTable {
  const first = daysFromCivil(year, 1, 1);
  const length = daysFromCivil(year + 1, 1, 1) - first;
  const flags = new Uint8Array(length);
  for (let i = 0; i < length; i++) flags[i] = isWeekday(first + i) ? 1 : 0;
  for (const date of data.holidays) flags[(parseDay(date) as number) - first] = 0;
  for (const date of data.workdays) flags[(parseDay(date) as number) - first] = 1;
  return { first, flags };
}

class DataCalendar implements WorkingDayCalendar {
  readonly years: readonly number[];
  // One-entry cache: deadline loops walk consecutive days of one year.
  private lastFirst = 0;
  private lastFlags: Uint8Array | null = null;

  constructor(
    private readonly tables: ReadonlyMap<number, YearTable>,
    readonly provisional: boolean,
  ) {
    this.years = Object.freeze([...tables.keys()].sort((a, b) => a - b));
  }

  hasYear(year: number): boolean {
    return this.tables.has(year);
  }

  isWorkingDay(date: string): boolean {
    return this.isWorkingDayNumber(toDay(date));
  }

  addWorkingDays(date: string, n: number): WorkingDaysResult {
    const r = this.addWorkingDaysNumber(toDay(date), n);
    return { date: formatDay(r.day), provisional: r.provisional };
  }

  isWorkingDayNumber(day: DayNumber): boolean {
    return this.lookup(day) ?? this.fallback(day);
  }

  addWorkingDaysNumber(day: DayNumber, n: number): { day: DayNumber; provisional: boolean } {
    if (!Number.isInteger(n) || n < 0) throw new DomainError('INVALID_INPUT', `working days must be a non-negative integer, got ${n}`);
    let d = day;
    let provisional = false;
    for (let count = 0; count < n;) {
      d++;
      let working = this.lookup(d);
      if (working === null) {
        working = this.fallback(d);
        provisional = true;
      }
      if (working) count++;
    }
    return { day: d, provisional };
  }

  withProvisional(): WorkingDayCalendar {
    return this.provisional ? this : new DataCalendar(this.tables, true);
  }

  /** null when the day's year has no data. */
  private lookup(day: DayNumber): boolean | null {
    const flags = this.lastFlags;
    if (flags !== null) {
      const i = day - this.lastFirst;
      if (i >= 0 && i < flags.length) return flags[i] === 1;
    }
    const table = this.tables.get(yearOfDay(day));
    if (table === undefined) return null;
    this.lastFirst = table.first;
    this.lastFlags = table.flags;
    return table.flags[day - table.first] === 1;
  }

  private fallback(day: DayNumber): boolean {
    if (!this.provisional) throw new CalendarYearMissing(yearOfDay(day));
    return isWeekday(day);
  }
}

function toDay(date: string): DayNumber {
  const day = parseDay(date);
  if (day === null) throw new DomainError('INVALID_INPUT', `not a calendar date (YYYY-MM-DD): ${JSON.stringify(date)}`);
  return day;
}

export interface CalendarOptions {
  /** Count years without data as Monday–Friday (results flagged provisional) instead of throwing. */
  provisional?: boolean;
}

/**
 * Build a calendar from data (validated here, so `unknown` JSON is fine). Each override
 * replaces whole years, later ones winning — the `--calendar` semantics.
 */
export function createCalendar(
  data: unknown,
  overrides: unknown | readonly unknown[] = [],
  options: CalendarOptions = {},
): WorkingDayCalendar {
  const sources = [
    parseCalendarData(data),
    ...(Array.isArray(overrides) ? overrides : [overrides]).map((o, i) => parseCalendarData(o, `calendar override ${i + 1}`)),
  ];
  const years = new Map<number, CalendarYearData>();
  for (const source of sources) for (const [year, yearData] of Object.entries(source.years)) years.set(Number(year), yearData);
  const tables = new Map<number, YearTable>();
  for (const [year, yearData] of years) tables.set(year, buildYear(year, yearData));
  return new DataCalendar(tables, options.provisional ?? false);
}

/** The same calendar, answering unknown years with Monday–Friday (flagged provisional). */
export function provisionalCalendar(calendar: WorkingDayCalendar): WorkingDayCalendar {
  return calendar.withProvisional();
}

export interface WorkingDayDue {
  /** The last working day, 'YYYY-MM-DD'. */
  dueDate: string;
  /** End of that day in Asia/Shanghai: the next day's 00:00 +08:00. */
  dueAt: Instant;
  provisional: boolean;
}

/**
 * replay.md: the issue day does not count; the deadline is the end (24:00 Asia/Shanghai)
 * of the N-th working day after it.
 */
export function workingDayDue(issuedAt: Instant, workingDays: number, calendar: WorkingDayCalendar): WorkingDayDue {
  if (!Number.isSafeInteger(issuedAt)) throw new DomainError('INVALID_INPUT', `issuedAt is not an instant (integer epoch ms): ${issuedAt}`);
  return dueAfter(shanghaiDay(issuedAt), workingDays, calendar);
}

/** N more working days counted from an existing due date (the `extend` rule). */
export function extendWorkingDayDue(dueDate: string, workingDays: number, calendar: WorkingDayCalendar): WorkingDayDue {
  return dueAfter(toDay(dueDate), workingDays, calendar);
}

/**
 * The working days after `from` up to and including `until` ('YYYY-MM-DD'; 0 when `until`
 * is not after `from`): what is left of a count when it is suspended on `from`. Throws
 * CalendarYearMissing like the rest unless the calendar is provisional; `provisional` says
 * a year without data was counted Monday–Friday.
 */
export function countWorkingDays(from: string, until: string, calendar: WorkingDayCalendar): { count: number; provisional: boolean } {
  return countWorkingDaysNumber(toDay(from), toDay(until), calendar);
}

/** countWorkingDays on day numbers. @internal */
export function countWorkingDaysNumber(
  from: DayNumber,
  until: DayNumber,
  calendar: WorkingDayCalendar,
): { count: number; provisional: boolean } {
  let count = 0;
  let provisional = false;
  for (let d = from + 1; d <= until; d++) {
    if (calendar.isWorkingDayNumber(d)) count++;
    if (!calendar.hasYear(yearOfDay(d))) provisional = true;
  }
  return { count, provisional };
}

/** The due N working days after `day` (which does not count). @internal */
export function dueAfterDay(day: DayNumber, workingDays: number, calendar: WorkingDayCalendar): WorkingDayDue {
  return dueAfter(day, workingDays, calendar);
}

function dueAfter(day: DayNumber, workingDays: number, calendar: WorkingDayCalendar): WorkingDayDue {
  const r = calendar.addWorkingDaysNumber(day, workingDays);
  return { dueDate: formatDay(r.day), dueAt: shanghaiDayStart(r.day + 1), provisional: r.provisional };
}
