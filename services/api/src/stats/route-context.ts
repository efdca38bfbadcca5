/**
 * What every 领导统计 route starts from: the caller's scope and the filter of its query, and the
 * figures several routes show (totals, the monthly trend), for routes/candidate-routes/document-routes.
 */
import type { Clock } from '@huiying/clock';
import type { Db } from '@huiying/db';
import type { InterviewRule, InterviewRules } from '@huiying/domain';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '@huiying/http';
import { callerOf, scopeOf } from './caller.ts';
import { type Period, periodLabel, resolvePeriod } from './period.ts';
import { emptyRow, groupStats, monthLabel, monthsOf, type StatsFilter, type StatsScope, unitExists } from './queries.ts';
import type { FiltersQuery } from './views.ts';

export interface StatsRoutesOptions {
  db: Db;
  clock: Clock;
  /** The rule pack's 约谈 rule, per jurisdiction (default: 3 breaches in a quarter everywhere). */
  interview?: InterviewRule | InterviewRules | (() => InterviewRules);
}

/** Rows of items an export holds at most. */
export const EXPORT_ITEMS_MAX = 50_000;

/** The routes' shared steps, on one database and clock. */
export function statsHelpers(db: Db, clock: Clock) {
  /** The caller's scope and the filter; a unit it may not see (or that does not exist) is a 404. */
  const context = async (request: FastifyRequest, q: FiltersQuery, period?: Period) => {
    const scope: StatsScope = scopeOf(callerOf(request));
    if (q.unit !== undefined) {
      const foreign = scope.unitId !== undefined && q.unit !== scope.unitId;
      if (foreign || (q.unit !== 'none' && (await unitExists(db, q.unit)) === null))
        throw new ApiError('HY_NOT_FOUND', `unit ${q.unit} not found`);
    }
    const p = period ?? resolvePeriod(q);
    const filter: StatsFilter = {
      ...p,
      ...(q.unit !== undefined ? { unit: q.unit } : {}),
      ...(q.level !== undefined ? { level: q.level } : {}),
      ...(q.kind !== undefined ? { kind: q.kind } : {}),
      ...(q.source !== undefined ? { source: q.source } : {}),
    };
    const now = new Date(clock.now());
    return { scope, filter, now, period: { from: p.from?.toISOString() ?? null, to: p.to?.toISOString() ?? null, label: periodLabel(p) } };
  };

  type Ctx = Awaited<ReturnType<typeof context>>;

  const totalsOf = async (c: Ctx, source?: 'incident' | 'duty') => {
    if (source && c.filter.source && c.filter.source !== source) return emptyRow('all', '合计');
    const f = source ? { ...c.filter, source } : c.filter;
    return (await groupStats(db, c.now, c.scope, f, 'all'))[0] ?? emptyRow('all', '合计');
  };

  /** Every month of the period, empty ones included; without bounds, the 12 months up to now. */
  const trend = async (c: Ctx) => {
    const rows = await groupStats(db, c.now, c.scope, c.filter, 'month');
    const months = monthsOf(c.filter.from, c.filter.to);
    if (months.length === 0) return rows;
    const byKey = new Map(rows.map((r) => [r.key, r]));
    return months.map((m) => byKey.get(m) ?? emptyRow(m, monthLabel(m)));
  };

  const trendContext = async (request: FastifyRequest, q: FiltersQuery) => {
    if (q.from !== undefined || q.to !== undefined || q.month !== undefined) return context(request, q);
    const today = new Date(clock.now() + 8 * 3_600_000);
    const [y, m] = [today.getUTCFullYear(), today.getUTCMonth()];
    return context(request, q, { from: shanghaiMonthStart(y, m - 11), to: shanghaiMonthStart(y, m + 1) });
  };

  return { context, totalsOf, trend, trendContext };
}

/** A download: its type, a file name in Chinese (RFC 5987) with an ASCII fallback, never cached. */
export const attachment = (reply: FastifyReply, type: string, name: string, ascii: string) =>
  reply
    .type(type)
    .header('content-disposition', `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`)
    .header('cache-control', 'no-store');

/** 00:00 Asia/Shanghai on the first of month `month0` (0-based; may run outside 0–11) of `year`. */
function shanghaiMonthStart(year: number, month0: number): Date {
  return new Date(Date.UTC(year, month0, 1) - 8 * 3_600_000);
}
