/**
 * Query-string period → instants, and Asia/Shanghai formatting for exports and the 通报.
 * A period is (from, to] on the due instant (see facts.ts); a date alone means that whole
 * Asia/Shanghai day, a month the whole month.
 */
import { ApiError } from '@huiying/http';

const SHANGHAI_MS = 8 * 3_600_000;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

export interface Period {
  from?: Date;
  to?: Date;
}

function dayStart(day: string): number {
  return Date.parse(`${day}T00:00:00+08:00`);
}

function bound(field: string, value: string, end: boolean): Date {
  const ms = DATE.test(value) ? dayStart(value) + (end ? 86_400_000 : 0) : Date.parse(value);
  if (!Number.isFinite(ms)) throw new ApiError('HY_VALIDATION', `querystring/${field} is not a valid date or instant`);
  return new Date(ms);
}

export function monthPeriod(month: string): { from: Date; to: Date } {
  const [y, m] = month.split('-').map(Number) as [number, number];
  const next = m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
  return { from: new Date(dayStart(`${month}-01`)), to: new Date(dayStart(`${next}-01`)) };
}

export function resolvePeriod(q: { from?: string; to?: string; month?: string }): Period {
  if (q.month !== undefined) {
    if (q.from !== undefined || q.to !== undefined) throw new ApiError('HY_VALIDATION', 'querystring: give month, or from/to, not both');
    return monthPeriod(q.month);
  }
  const p: Period = {};
  if (q.from !== undefined) p.from = bound('from', q.from, false);
  if (q.to !== undefined) p.to = bound('to', q.to, true);
  if (p.from && p.to && p.from >= p.to) throw new ApiError('HY_VALIDATION', 'querystring/from must be before to');
  return p;
}

/** The calendar month before `now`'s, Asia/Shanghai: the default period of a 通报. */
export function previousMonth(now: number): string {
  const d = new Date(now + SHANGHAI_MS);
  const y = d.getUTCMonth() === 0 ? d.getUTCFullYear() - 1 : d.getUTCFullYear();
  const m = d.getUTCMonth() === 0 ? 12 : d.getUTCMonth();
  return `${y}-${String(m).padStart(2, '0')}`;
}

/** 'YYYY-MM-DD HH:mm' in Asia/Shanghai. */
export function shanghaiTime(value: string | Date | null): string {
  if (value === null) return '';
  const d = new Date(new Date(value).getTime() + SHANGHAI_MS);
  return d.toISOString().slice(0, 16).replace('T', ' ');
}

/** 2026年11月30日 (成文日期: Arabic numerals, GB/T 9704-2012). */
export function chineseDate(ms: number): string {
  const d = new Date(ms + SHANGHAI_MS);
  return `${d.getUTCFullYear()}年${d.getUTCMonth() + 1}月${d.getUTCDate()}日`;
}

/**
 * The period in words: 2026年11月 for a whole month, else 2026年11月3日至2026年11月20日
 * (the last day is the one holding to − 1 ms, since to is exclusive of the next day's start).
 */
export function periodLabel(p: Period): string {
  if (p.from && p.to) {
    const f = new Date(p.from.getTime() + SHANGHAI_MS);
    const month = `${f.getUTCFullYear()}-${String(f.getUTCMonth() + 1).padStart(2, '0')}`;
    const whole = monthPeriod(month);
    if (whole.from.getTime() === p.from.getTime() && whole.to.getTime() === p.to.getTime())
      return `${f.getUTCFullYear()}年${f.getUTCMonth() + 1}月`;
    return `${chineseDate(p.from.getTime())}至${chineseDate(p.to.getTime() - 1)}`;
  }
  if (p.from) return `${chineseDate(p.from.getTime())}以来`;
  if (p.to) return `截至${chineseDate(p.to.getTime() - 1)}`;
  return '全部时段';
}

/** Hours with two decimals, for people (exports, the 通报). */
export function hours(ms: number | null): string {
  return ms === null ? '' : (ms / 3_600_000).toFixed(2);
}

/** 3天4小时 / 5小时20分 / 40分钟: how long overdue, in words. */
export function durationCn(ms: number | null): string {
  if (ms === null) return '';
  const minutes = Math.floor(ms / 60_000);
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  if (d > 0) return `${d}天${h}小时`;
  if (h > 0) return m > 0 ? `${h}小时${m}分` : `${h}小时`;
  return `${m}分钟`;
}

export function percent(rate: number | null): string {
  return rate === null ? '—' : `${(rate * 100).toFixed(1)}%`;
}
