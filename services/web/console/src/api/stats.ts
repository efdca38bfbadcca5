/**
 * The leaders' statistics endpoints, in one place so their names are easy to adjust while
 * the stats backend is being written. Every call resolves to `null` when the endpoint does
 * not exist yet (404 / HY_NOT_FOUND), so the page can show an empty state instead of an error.
 *
 * Assumed contract (all GET, leader/duty/admin; a unit user gets its own unit only):
 *   /api/stats/summary?from&to[&unit&level&clock]        → StatsSummary
 *   /api/stats/breakdown?by=unit|level|clock|month&from&to → { items: StatsRow[] }
 *   /api/stats/incidents?from&to[&unit&level&clock&month&outcome] → { items: StatsIncident[], total }
 *   /api/stats/export.csv|export.xlsx?by&from&to            → file download
 *   /api/stats/report.docx?from&to                          → 通报 draft download
 */
import { ApiRequestError, query, request } from './client.ts';

export type StatsDimension = 'unit' | 'level' | 'clock' | 'month';

export interface StatsFilter {
  /** 'YYYY-MM-DD', Beijing days, inclusive. */
  from: string;
  to: string;
  unit?: string;
  level?: string;
  clock?: string;
  month?: string;
  /** Drill-down: 'on_time' | 'late' | 'overdue' (breached and still unanswered). */
  outcome?: string;
}

export interface StatsSummary {
  /** Clocks that fell due in the period. */
  clocks: number;
  onTime: number;
  late: number;
  /** Breached and still unanswered. */
  overdue: number;
  /** onTime / (onTime + late + overdue); null when nothing fell due. */
  onTimeRate: number | null;
  /** Time from an incident's start to its first authoritative (original) response. */
  firstResponse: { medianMinutes: number | null; p90Minutes: number | null };
  /** Longest overdue among unanswered breaches, in minutes. */
  maxOverdueMinutes?: number | null;
}

export interface StatsRow {
  /** Unit id, level, clock kind or 'YYYY-MM'. */
  key: string;
  label: string;
  clocks: number;
  onTime: number;
  late: number;
  overdue: number;
  onTimeRate: number | null;
  medianMinutes: number | null;
  p90Minutes: number | null;
}

export interface StatsIncident {
  incidentId: string;
  title: string;
  unit: { id: string; name: string } | null;
  level: string | null;
  clock: string;
  dueAt: string;
  respondedAt: string | null;
  outcome: 'on_time' | 'late' | 'overdue';
  /** Minutes past due (late answers and unanswered breaches); 0 when on time. */
  overdueMinutes: number;
}

async function orNull<T>(p: Promise<T>): Promise<T | null> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof ApiRequestError && e.status === 404) return null;
    throw e;
  }
}

const q = (f: StatsFilter, extra: Record<string, string> = {}): string => query({ ...f, ...extra });

export const statsApi = {
  summary: (f: StatsFilter) => orNull(request<StatsSummary>('GET', `/api/stats/summary${q(f)}`)),
  breakdown: (by: StatsDimension, f: StatsFilter) => orNull(request<{ items: StatsRow[] }>('GET', `/api/stats/breakdown${q(f, { by })}`)),
  incidents: (f: StatsFilter) => orNull(request<{ items: StatsIncident[]; total?: number }>('GET', `/api/stats/incidents${q(f)}`)),
  /** Plain links: a GET with the session cookie downloads the file. */
  exportUrl: (format: 'csv' | 'xlsx', by: StatsDimension, f: StatsFilter) => `/api/stats/export.${format}${q(f, { by })}`,
  reportUrl: (f: StatsFilter) => `/api/stats/report.docx${q({ from: f.from, to: f.to })}`,
};
