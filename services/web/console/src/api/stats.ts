/**
 * The leaders' statistics endpoints (services/api stats routes), in one place so their names
 * are easy to adjust. Shapes come from the generated OpenAPI types (`pnpm gen:api`).
 *
 *   GET /api/stats/overview?filters                 → { period, generatedAt, totals: StatsRow }
 *   GET /api/stats/breakdown?by=unit|level|kind|month&filters → { items: StatsRow[] }
 *   GET /api/stats/ranking?filters                  → { items: (StatsRow & { rank })[] }
 *   GET /api/stats/trend?filters                    → { items: StatsRow[] } (every month)
 *   GET /api/stats/items?filters&outcome…&firstResponse&page&pageSize → { items: StatsItem[], total }
 *   GET /api/stats/candidates?period=YYYY-Qn|YYYY-MM|YYYY&unit&limit&offset → { reports: 通报候选[], interviews: 约谈候选[] }
 *   GET /api/stats/export.csv?view=…&filters, /export.xlsx?filters, /notice.docx?filters
 * filters: from, to ('YYYY-MM-DD', Beijing days) or month ('YYYY-MM'), unit, level, kind, source.
 */
import { query, request } from './client.ts';
import type { paths } from './schema.gen.ts';
import type { JsonOf } from './types.ts';

type Overview = JsonOf<'/api/stats/overview', 'get'>;
type ItemsPage = JsonOf<'/api/stats/items', 'get'>;
type Query<P extends keyof paths> = paths[P] extends { get: { parameters: { query?: infer Q } } } ? NonNullable<Q> : never;

/** Every figure's row (a unit, a level, a kind, a month, or the totals): the server's shape. */
export type StatsRow = Overview['totals'];
export type StatsItem = ItemsPage['items'][number];
export type StatsPeriod = Overview['period'];
/** Level and kind come back from the rows as plain keys, so they are taken as strings (the server validates). */
export type StatsFilter = Omit<Query<'/api/stats/overview'>, 'kind' | 'level'> & { kind?: string; level?: string };
export type StatsDimension = NonNullable<Query<'/api/stats/breakdown'>['by']>;
export type StatsOutcome = NonNullable<Query<'/api/stats/items'>['outcome']>[number];
type RankedRow = JsonOf<'/api/stats/ranking', 'get'>['items'][number];
export type StatsCandidates = JsonOf<'/api/stats/candidates', 'get'>;
export type ReportCandidate = StatsCandidates['reports'][number];
export type InterviewCandidate = StatsCandidates['interviews'][number];

const q = (f: StatsFilter, extra: Record<string, string | number | undefined> = {}): string => query({ ...f, ...extra });

export const statsApi = {
  overview: (f: StatsFilter) => request<Overview>('GET', `/api/stats/overview${q(f)}`),
  breakdown: (by: StatsDimension, f: StatsFilter) =>
    request<JsonOf<'/api/stats/breakdown', 'get'>>('GET', `/api/stats/breakdown${q(f, { by })}`),
  ranking: (f: StatsFilter) => request<{ items: RankedRow[] }>('GET', `/api/stats/ranking${q(f)}`),
  trend: (f: StatsFilter) => request<JsonOf<'/api/stats/trend', 'get'>>('GET', `/api/stats/trend${q(f)}`),
  /** The deadlines behind a figure: those with one of `outcome` (all when empty), or the incidents behind the first-response figure. */
  items: (f: StatsFilter, o: { outcome?: readonly StatsOutcome[]; firstResponse?: boolean; page?: number; pageSize?: number } = {}) =>
    request<ItemsPage>(
      'GET',
      `/api/stats/items${query({ ...f, outcome: o.outcome ?? [], firstResponse: o.firstResponse || undefined, page: o.page ?? 1, pageSize: o.pageSize ?? 50 })}`,
    ),
  /** A page of the 通报候选 (`limit` from `offset`; the totals count all); each 约谈候选 lists at most `limit` breaches. */
  candidates: (period?: string, page: { limit?: number; offset?: number } = {}) =>
    request<StatsCandidates>('GET', `/api/stats/candidates${query({ period, ...page })}`),
  /** Plain links: a GET with the session cookie downloads the file. */
  csvUrl: (view: StatsDimension | 'totals' | 'ranking' | 'items', f: StatsFilter) => `/api/stats/export.csv${q(f, { view })}`,
  xlsxUrl: (f: StatsFilter) => `/api/stats/export.xlsx${q(f)}`,
  noticeUrl: (f: StatsFilter) => `/api/stats/notice.docx${q(f)}`,
};
