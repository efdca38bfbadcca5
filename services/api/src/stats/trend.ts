/** The trend: one row a month of the period, a month without any due included as an all-zero row. */
import type { StatsRow } from './model.ts';

/** Every month of the period, Asia/Shanghai, oldest first ('YYYY-MM'); empty without both bounds. */
export function monthsOf(from: Date | undefined, to: Date | undefined): string[] {
  if (!from || !to) return [];
  const shanghai = (d: Date) => new Date(d.getTime() + 8 * 3_600_000);
  // (from, to]: the first month is the one holding from + 1 ms, the last the one holding to − 1 ms.
  const a = shanghai(new Date(from.getTime() + 1));
  const b = shanghai(new Date(to.getTime() - 1));
  const out: string[] = [];
  for (let y = a.getUTCFullYear(), m = a.getUTCMonth(); y < b.getUTCFullYear() || (y === b.getUTCFullYear() && m <= b.getUTCMonth());) {
    out.push(`${y}-${String(m + 1).padStart(2, '0')}`);
    if (++m === 12) {
      m = 0;
      y++;
    }
    if (out.length > 1200) break;
  }
  return out;
}

/** An all-zero row, for months without any due in the trend. */
export function emptyRow(key: string | null, label: string): StatsRow {
  return {
    key,
    label,
    counted: 0,
    onTime: 0,
    late: 0,
    breached: 0,
    pending: 0,
    retracted: 0,
    onTimeRate: null,
    overdue: { count: 0, totalMs: 0, maxMs: null, medianMs: null },
    firstResponse: { incidents: 0, medianMs: null, p90Ms: null },
  };
}
