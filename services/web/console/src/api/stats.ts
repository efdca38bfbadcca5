/**
 * The leaders' statistics endpoints (services/api stats routes), in one place so their names
 * are easy to adjust. Every figure call resolves to `null` when the endpoint does not exist
 * (404 with no route), so the page shows an empty state instead of an error.
 *
 *   GET /api/stats/overview?filters                 → { period, generatedAt, totals: StatsRow }
 *   GET /api/stats/breakdown?by=unit|level|kind|month&filters → { items: StatsRow[] }
 *   GET /api/stats/ranking?filters                  → { items: (StatsRow & { rank })[] }
 *   GET /api/stats/trend?filters                    → { items: StatsRow[] } (every month)
 *   GET /api/stats/items?filters&outcome&page&pageSize → { items: StatsItem[], total }
 *   GET /api/stats/export.csv?view=…&filters, /export.xlsx?filters, /notice.docx?filters
 * filters: from, to ('YYYY-MM-DD', Beijing days) or month ('YYYY-MM'), unit, level, kind, source.
 */
import { ApiRequestError, query, request } from './client.ts';

export type StatsDimension = 'unit' | 'level' | 'kind' | 'month';
export type StatsOutcome = 'on_time' | 'late' | 'breached' | 'pending';

export interface StatsFilter {
  from?: string;
  to?: string;
  month?: string;
  unit?: string;
  level?: string;
  kind?: string;
  source?: 'incident' | 'duty';
}

export interface StatsRow {
  /** Unit id / level ('ungraded') / kind / 'YYYY-MM' / 'all'; null = no unit, or duties by level. */
  key: string | null;
  label: string;
  /** Deadlines that fell due: onTime + late + breached. */
  counted: number;
  onTime: number;
  /** Met after the due. */
  late: number;
  /** Past due, still without a qualifying response. */
  breached: number;
  pending: number;
  retracted: number;
  onTimeRate: number | null;
  overdue: { count: number; totalMs: number; maxMs: number | null; medianMs: number | null };
  firstResponse: { incidents: number; medianMs: number | null; p90Ms: number | null };
}

export interface StatsItem {
  source: 'incident' | 'duty';
  id: string;
  seq: number;
  title: string;
  kind: string;
  level: string | null;
  unit: { id: string; name: string } | null;
  startAt: string;
  dueAt: string;
  respondedAt: string | null;
  outcome: StatsOutcome;
  overdueMs: number | null;
  retracted: boolean;
}

export interface StatsPeriod {
  from: string | null;
  to: string | null;
  label: string;
}

async function orNull<T>(p: Promise<T>): Promise<T | null> {
  try {
    return await p;
  } catch (e) {
    // "No route" (the stats backend is not deployed) — not a unit the caller may not see.
    if (e instanceof ApiRequestError && e.status === 404 && !/unit/.test(e.message)) return null;
    throw e;
  }
}

const q = (f: StatsFilter, extra: Record<string, string | number | undefined> = {}): string => query({ ...f, ...extra });

export const statsApi = {
  overview: (f: StatsFilter) => orNull(request<{ period: StatsPeriod; totals: StatsRow }>('GET', `/api/stats/overview${q(f)}`)),
  breakdown: (by: StatsDimension, f: StatsFilter) => orNull(request<{ items: StatsRow[] }>('GET', `/api/stats/breakdown${q(f, { by })}`)),
  ranking: (f: StatsFilter) => orNull(request<{ items: (StatsRow & { rank: number })[] }>('GET', `/api/stats/ranking${q(f)}`)),
  trend: (f: StatsFilter) => orNull(request<{ items: StatsRow[] }>('GET', `/api/stats/trend${q(f)}`)),
  items: (f: StatsFilter, outcome?: StatsOutcome, page = 1, pageSize = 100) =>
    orNull(request<{ items: StatsItem[]; total: number }>('GET', `/api/stats/items${q(f, { outcome, page, pageSize })}`)),
  /** Plain links: a GET with the session cookie downloads the file. */
  csvUrl: (view: StatsDimension | 'totals' | 'ranking' | 'items', f: StatsFilter) => `/api/stats/export.csv${q(f, { view })}`,
  xlsxUrl: (f: StatsFilter) => `/api/stats/export.xlsx${q(f)}`,
  noticeUrl: (f: StatsFilter) => `/api/stats/notice.docx${q(f)}`,
};
