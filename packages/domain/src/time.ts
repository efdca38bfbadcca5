/**
 * Instants, Asia/Shanghai calendar days and ISO-8601 text, computed arithmetically.
 *
 * Why not Date methods: the host's time zone must never leak into a deadline, and
 * Asia/Shanghai has had a fixed UTC+8 offset with no DST since 1992, so a calendar day is
 * plain integer arithmetic on epoch milliseconds. No `Date` object is involved, so every
 * conversion here is pure and independent of the process's TZ.
 */
import type { Instant } from './types.ts';

export const MS_PER_HOUR = 3_600_000;
export const MS_PER_DAY = 86_400_000;
export const SHANGHAI_OFFSET_MS = 8 * MS_PER_HOUR;

/** A calendar day as a day number: days since 1970-01-01 (of the Shanghai calendar). */
export type DayNumber = number;

/** Days since 1970-01-01 of the proleptic Gregorian date y-m-d (H. Hinnant's algorithm). */
export function daysFromCivil(y: number, m: number, d: number): DayNumber {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** Inverse of daysFromCivil: [year, month 1-12, day 1-31]. */
export function civilFromDays(day: DayNumber): [number, number, number] {
  const z = day + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

export function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

export function daysInMonth(y: number, m: number): number {
  if (m === 2) return isLeapYear(y) ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/** 0 = Sunday … 6 = Saturday. 1970-01-01 was a Thursday. */
export function weekdayOf(day: DayNumber): number {
  return (((day + 4) % 7) + 7) % 7;
}

/** The Asia/Shanghai calendar day containing the instant. */
export function shanghaiDay(at: Instant): DayNumber {
  return Math.floor((at + SHANGHAI_OFFSET_MS) / MS_PER_DAY);
}

/** The instant a Shanghai calendar day begins (00:00 +08:00). */
export function shanghaiDayStart(day: DayNumber): Instant {
  return day * MS_PER_DAY - SHANGHAI_OFFSET_MS;
}

const PAD2: string[] = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));
const PAD3: string[] = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

function formatYear(y: number): string {
  if (y >= 0 && y <= 9999) return String(y).padStart(4, '0');
  return (y < 0 ? '-' : '+') + String(Math.abs(y)).padStart(6, '0');
}

/** 'YYYY-MM-DD' of a day number. */
export function formatDay(day: DayNumber): string {
  const [y, m, d] = civilFromDays(day);
  return `${formatYear(y)}-${PAD2[m]}-${PAD2[d]}`;
}

const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Day number of a strict 'YYYY-MM-DD' string, or null when it is not a real date. */
export function parseDay(text: string): DayNumber | null {
  const m = DAY_RE.exec(text);
  if (m === null) return null;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) return null;
  return daysFromCivil(y, mo, d);
}

/** Year of a day number (Gregorian). */
export function yearOfDay(day: DayNumber): number {
  return civilFromDays(day)[0];
}

// Date and time are required, seconds and fraction optional, and the offset is mandatory:
// a timestamp without an offset is ambiguous, and guessing one is exactly the bug to avoid.
const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)$/;

/**
 * Parse an ISO-8601 instant that carries an offset (`Z`, `±HH:MM`, `±HHMM` or `±HH`).
 * Fractions beyond milliseconds are floored. Returns null when the text is not such an
 * instant or names an impossible date or time.
 */
export function parseIsoInstant(text: string): Instant | null {
  const fast = parseCommonIso(text);
  if (fast !== undefined) return fast;
  const m = ISO_RE.exec(text);
  if (m === null) return null;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  const h = Number(m[4]);
  const mi = Number(m[5]);
  const s = m[6] === undefined ? 0 : Number(m[6]);
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || s > 59) return null;
  const frac = m[7];
  const ms = frac === undefined ? 0 : Number((frac + '00').slice(0, 3));
  let offset = 0;
  if (m[8] === undefined) {
    const oh = Number(m[10]);
    const om = m[11] === undefined ? 0 : Number(m[11]);
    if (oh > 23 || om > 59) return null;
    offset = (oh * 60 + om) * 60_000 * (m[9] === '-' ? -1 : 1);
  }
  return daysFromCivil(y, mo, d) * MS_PER_DAY + ((h * 60 + mi) * 60 + s) * 1000 + ms - offset;
}

/** Two ASCII digits at i as a number, or -1. */
function digits2(text: string, i: number): number {
  const a = text.charCodeAt(i) - 48;
  const b = text.charCodeAt(i + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/**
 * Fast path for the shapes timelines actually carry — `YYYY-MM-DDTHH:MM:SS[.mmm]` then `Z`
 * or `±HH:MM` — without a regex (replay parses millions). undefined: use the general parser.
 */
function parseCommonIso(text: string): Instant | null | undefined {
  const n = text.length;
  if (n < 20 || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45 || text.charCodeAt(10) !== 84) return undefined;
  if (text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58) return undefined;
  let i = 19;
  let ms = 0;
  if (text.charCodeAt(19) === 46) {
    const m = digits2(text, 20);
    const last = text.charCodeAt(22) - 48;
    if (m < 0 || last < 0 || last > 9) return undefined;
    ms = m * 10 + last;
    i = 23;
  }
  let offset: number;
  if (i === n - 1 && text.charCodeAt(i) === 90) offset = 0;
  else if (i === n - 6 && text.charCodeAt(i + 3) === 58) {
    const sign = text.charCodeAt(i);
    const oh = digits2(text, i + 1);
    const om = digits2(text, i + 4);
    if ((sign !== 43 && sign !== 45) || oh < 0 || om < 0 || oh > 23 || om > 59) return undefined;
    offset = (oh * 60 + om) * 60_000 * (sign === 45 ? -1 : 1);
  } else return undefined;
  const y = digits2(text, 0) * 100 + digits2(text, 2);
  const mo = digits2(text, 5);
  const d = digits2(text, 8);
  const h = digits2(text, 11);
  const mi = digits2(text, 14);
  const sec = digits2(text, 17);
  if (digits2(text, 0) < 0 || digits2(text, 2) < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || sec < 0) return undefined;
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || sec > 59) return null;
  return daysFromCivil(y, mo, d) * MS_PER_DAY + ((h * 60 + mi) * 60 + sec) * 1000 + ms - offset;
}

/** 'YYYY-MM-DDT' by day number: a memo (pure), since events cluster on few days. */
const dayPrefixes = new Map<number, string>();

/**
 * An instant as ISO-8601 with millisecond precision at +08:00, e.g.
 * `2026-03-02T08:00:00.000+08:00`. Shanghai time is what duty officers read, and it makes
 * a working-day deadline print as the next day's 00:00 as replay.md says.
 */
export function formatIsoInstant(at: Instant): string {
  // Consecutive events often share an instant (at and due of one event, ties).
  if (at === lastInstant) return lastText;
  lastInstant = at;
  lastText = formatUncached(at);
  return lastText;
}

let lastInstant = Number.NaN;
let lastText = '';

function formatUncached(at: Instant): string {
  const t = Math.floor(at) + SHANGHAI_OFFSET_MS;
  const day = Math.floor(t / MS_PER_DAY);
  let rem = t - day * MS_PER_DAY;
  let prefix = dayPrefixes.get(day);
  if (prefix === undefined) {
    prefix = formatDay(day) + 'T';
    if (dayPrefixes.size > 100_000) dayPrefixes.clear();
    dayPrefixes.set(day, prefix);
  }
  const h = Math.floor(rem / MS_PER_HOUR);
  rem -= h * MS_PER_HOUR;
  const mi = Math.floor(rem / 60_000);
  rem -= mi * 60_000;
  const s = Math.floor(rem / 1000);
  const ms = rem - s * 1000;
  return `${prefix}${PAD2[h]}:${PAD2[mi]}:${PAD2[s]}.${PAD3[ms]}+08:00`;
}
