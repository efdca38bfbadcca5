/**
 * 领导统计 routes under /api/stats: figures as JSON, CSV and XLSX exports, and the 通报 draft
 * as DOCX. Every route takes the same filters (period, unit, level, kind, source) and the
 * caller's scope (caller.ts): a unit user sees its own unit only, and naming another unit is
 * a 404 like any record it may not see.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Clock } from '@huiying/clock';
import type { Db } from '@huiying/db';
import {
  DEFAULT_JURISDICTION,
  DEFAULT_LADDER_PACK,
  type InterviewRule,
  interviewRuleFor,
  type InterviewRules,
  periodOf,
  periodRange,
} from '@huiying/domain';
import { loadInterviewCandidates, loadReportCandidates } from '@huiying/engine';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, READERS } from '@huiying/http';
import { callerOf, scopeOf } from './caller.ts';
import { ITEM_HEADERS, itemCells, ROW_HEADERS, rowCells, toCsv, toXlsx } from './exports.ts';
import { noticeDocx, noticeTitle } from './notice.ts';
import { type Period, periodLabel, previousMonth, resolvePeriod } from './period.ts';
import {
  DIMENSIONS,
  emptyRow,
  groupStats,
  listItems,
  monthLabel,
  monthsOf,
  rankUnits,
  type StatsFilter,
  type StatsRow,
  type StatsScope,
  unitExists,
} from './queries.ts';
import {
  binary,
  DOCX,
  errors,
  Figures,
  FilterQuery,
  Filters,
  type FiltersQuery,
  InterviewCandidateView,
  Iso,
  ItemView,
  oneOf,
  Outcomes,
  PeriodView,
  RankedView,
  ReportCandidateView,
  StatsRowView,
  XLSX,
} from './views.ts';

/** 通报候选 returned by default (candidates longest first); the totals count all. */
const CANDIDATES_LIMIT = 200;

export interface StatsRoutesOptions {
  db: Db;
  clock: Clock;
  /** The rule pack's 约谈 rule, per jurisdiction (default: 3 breaches in a quarter everywhere). */
  interview?: InterviewRule | InterviewRules | (() => InterviewRules);
}

const EXPORT_ITEMS_MAX = 50_000;

export const statsRoutes: FastifyPluginAsync<StatsRoutesOptions> = async (
  fastify,
  { db, clock, interview = DEFAULT_LADDER_PACK.interview },
) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  /** The 约谈 rules now: those of the rule pack in force when `interview` asks the pack. */
  const rulesNow = () => (typeof interview === 'function' ? interview() : interview);

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

  const totalsOf = async (c: Awaited<ReturnType<typeof context>>, source?: 'incident' | 'duty') => {
    if (source && c.filter.source && c.filter.source !== source) return emptyRow('all', '合计');
    const f = source ? { ...c.filter, source } : c.filter;
    return (await groupStats(db, c.now, c.scope, f, 'all'))[0] ?? emptyRow('all', '合计');
  };

  /** Every month of the period, empty ones included; without bounds, the 12 months up to now. */
  const trend = async (c: Awaited<ReturnType<typeof context>>) => {
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

  const attachment = (reply: FastifyReply, type: string, name: string, ascii: string) =>
    reply
      .type(type)
      .header('content-disposition', `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`)
      .header('cache-control', 'no-store');

  app.get(
    '/api/stats/overview',
    {
      config: { access: READERS },
      schema: {
        tags: ['stats'],
        summary: '统计总览：到期、按时、超时、按时回应率、首次回应用时（默认全部时段）',
        querystring: Filters,
        response: { 200: Type.Object({ period: PeriodView, generatedAt: Iso, totals: StatsRowView }), ...errors },
      },
    },
    async (request) => {
      const c = await context(request, request.query);
      return { period: c.period, generatedAt: c.now.toISOString(), totals: await totalsOf(c) };
    },
  );

  app.get(
    '/api/stats/breakdown',
    {
      config: { access: READERS },
      schema: {
        tags: ['stats'],
        summary: '分组统计：按单位 / 级别 / 时限类型 / 月份',
        querystring: Type.Object({ ...FilterQuery, by: oneOf(DIMENSIONS) }, { additionalProperties: false }),
        response: {
          200: Type.Object({ period: PeriodView, generatedAt: Iso, by: Type.String(), items: Type.Array(StatsRowView) }),
          ...errors,
        },
      },
    },
    async (request) => {
      const { by, ...q } = request.query;
      const c = await context(request, q);
      return { period: c.period, generatedAt: c.now.toISOString(), by, items: await groupStats(db, c.now, c.scope, c.filter, by) };
    },
  );

  app.get(
    '/api/stats/ranking',
    {
      config: { access: READERS },
      schema: {
        tags: ['stats'],
        summary: '单位排名：按时回应率高者在前，其次超时少者、办理多者；并列同名次',
        querystring: Filters,
        response: { 200: Figures(Type.Array(RankedView)), ...errors },
      },
    },
    async (request) => {
      const c = await context(request, request.query);
      return {
        period: c.period,
        generatedAt: c.now.toISOString(),
        items: rankUnits(await groupStats(db, c.now, c.scope, c.filter, 'unit')),
      };
    },
  );

  app.get(
    '/api/stats/trend',
    {
      config: { access: READERS },
      schema: {
        tags: ['stats'],
        summary: '月度趋势（含无到期事项的月份；默认最近12个月）',
        querystring: Filters,
        response: { 200: Figures(Type.Array(StatsRowView)), ...errors },
      },
    },
    async (request) => {
      const c = await trendContext(request, request.query);
      return { period: c.period, generatedAt: c.now.toISOString(), items: await trend(c) };
    },
  );

  app.get(
    '/api/stats/items',
    {
      config: { access: READERS },
      schema: {
        tags: ['stats'],
        summary: '明细（下钻）：某一数字背后的事件与工作日时限事项，截止时间新者在前',
        querystring: Type.Object(
          {
            ...FilterQuery,
            outcome: Outcomes,
            firstResponse: Type.Optional(
              Type.Boolean({
                description: "the incidents behind the first-response figure: each incident's earliest met clock, one row per incident",
              }),
            ),
            page: Type.Optional(Type.Integer({ minimum: 1, default: 1 })),
            pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            period: PeriodView,
            items: Type.Array(ItemView),
            total: Type.Integer(),
            page: Type.Integer(),
            pageSize: Type.Integer(),
          }),
          ...errors,
        },
      },
    },
    async (request) => {
      const { outcome, firstResponse, page = 1, pageSize = 50, ...q } = request.query;
      const c = await context(request, q);
      const r = await listItems(db, c.now, c.scope, c.filter, {
        ...(outcome ? { outcome } : {}),
        ...(firstResponse ? { firstResponse } : {}),
        limit: pageSize,
        offset: (page - 1) * pageSize,
      });
      return { period: c.period, ...r, page, pageSize };
    },
  );

  app.get(
    '/api/stats/candidates',
    {
      config: { access: READERS },
      schema: {
        tags: ['stats'],
        summary: '通报候选与约谈候选：超时后仍未回应、已提请领导的事项；一个周期内多次超时的单位',
        description:
          '通报候选: incidents and duties whose ladder step marked as a 通报 candidate (the leaders’ step) fell due in the period ' +
          'while still without a qualifying response. 约谈候选: units with at least the rule’s number of breaches in one of ' +
          'the rule’s periods overlapping the period. A unit user sees its own unit only.',
        querystring: Type.Object(
          {
            period: Type.Optional(
              Type.String({
                pattern: '^\\d{4}(-(0[1-9]|1[0-2])|-Q[1-4])?$',
                description: "YYYY-MM, YYYY-Qn or YYYY (Asia/Shanghai); default: the 约谈 rule's period holding now",
              }),
            ),
            unit: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'unit id' })),
            limit: Type.Optional(
              Type.Integer({
                minimum: 1,
                maximum: 1000,
                description: `通报候选 returned at most (candidates longest first; default ${CANDIDATES_LIMIT}); each 约谈候选 lists at most this many of its breaches`,
              }),
            ),
            offset: Type.Optional(
              Type.Integer({
                minimum: 0,
                maximum: 10_000_000,
                description: '通报候选 skipped before the first returned (a page of the list, in the same order; default 0)',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            period: Type.Object({ key: Type.String(), from: Iso, to: Iso, label: Type.String() }),
            generatedAt: Iso,
            rule: Type.Object({ breaches: Type.Integer(), period: Type.String() }),
            /** All 通报候选 of the period, also when `reports` holds only the first `limit`. */
            reportTotal: Type.Integer(),
            /** 通报候选 per unit, most first (every candidate counted). */
            reportsByUnit: Type.Array(
              Type.Object({
                unit: Type.Union([Type.Object({ id: Type.String(), name: Type.String() }), Type.Null()]),
                count: Type.Integer(),
              }),
            ),
            reports: Type.Array(ReportCandidateView),
            interviews: Type.Array(InterviewCandidateView),
          }),
          ...errors,
        },
      },
    },
    async (request) => {
      // One reading of the pack in force for the whole answer; the deployment's own jurisdiction's
      // rule gives the period's default granularity and the rule shown.
      const rules = rulesNow();
      const rule = interviewRuleFor(rules, DEFAULT_JURISDICTION);
      const { period: key = periodOf(clock.now(), rule.period), unit, limit = CANDIDATES_LIMIT, offset = 0 } = request.query;
      const c = await context(request, unit === undefined ? {} : { unit });
      if (unit === 'none') throw new ApiError('HY_NOT_FOUND', 'unit none not found');
      const range = periodRange(key);
      if (range === null) throw new ApiError('HY_VALIDATION', 'querystring/period is not a month, quarter or year');
      const now = clock.now();
      const unitId = c.scope.unitId ?? unit;
      const q = { now, from: range.from, to: range.to, ...(unitId !== undefined ? { unitId } : {}) };
      const [reports, interviews] = [await loadReportCandidates(db, q), await loadInterviewCandidates(db, rules, q)];
      const iso = (ms: number) => new Date(ms).toISOString();
      return {
        period: { key, from: iso(range.from), to: iso(range.to), label: candidatePeriodLabel(key) },
        generatedAt: iso(now),
        rule: { breaches: rule.breaches, period: rule.period },
        reportTotal: reports.length,
        reportsByUnit: [
          ...reports
            .reduce((m, r) => {
              const k = r.unit?.id ?? '';
              const e = m.get(k) ?? { unit: r.unit, count: 0 };
              e.count++;
              return m.set(k, e);
            }, new Map<string, { unit: (typeof reports)[number]['unit']; count: number }>())
            .values(),
        ].sort((a, b) => b.count - a.count || (a.unit?.id ?? '').localeCompare(b.unit?.id ?? '')),
        // A year of a large jurisdiction can hold hundreds of thousands: `limit` of them from `offset` (candidates since longest first).
        reports: reports.slice(offset, offset + limit).map((r) => ({
          ...r,
          dueAt: iso(r.dueAt),
          respondedAt: r.respondedAt === null ? null : iso(r.respondedAt),
          candidateAt: iso(r.candidateAt),
        })),
        interviews: interviews.map((i) => ({
          unit: i.unit,
          period: i.period,
          rule: { breaches: i.rule.breaches, period: i.rule.period },
          breachCount: i.breaches.length,
          breaches: i.breaches.slice(0, limit).map((b) => ({ ...b, dueAt: b.dueAt === null ? null : iso(b.dueAt), at: iso(b.at) })),
        })),
      };
    },
  );

  app.get(
    '/api/stats/export.csv',
    {
      config: { access: READERS },
      schema: {
        tags: ['stats'],
        summary: '导出 CSV（UTF-8 BOM）：合计、分组或明细',
        querystring: Type.Object(
          {
            ...FilterQuery,
            view: oneOf(['totals', ...DIMENSIONS, 'ranking', 'items'] as const),
            outcome: Outcomes,
          },
          { additionalProperties: false },
        ),
        response: { 200: binary('text/csv', 'CSV'), ...errors },
      },
    },
    async (request, reply) => {
      const { view, outcome, ...q } = request.query;
      // Outcomes choose rows of the items; on a table of figures they would be ignored, as if applied.
      if (outcome !== undefined && view !== 'items') throw new ApiError('HY_VALIDATION', 'querystring/outcome: only with view=items');
      const c = view === 'month' ? await trendContext(request, q) : await context(request, q);
      let csv: string;
      if (view === 'items') {
        const r = await listItems(db, c.now, c.scope, c.filter, { ...(outcome ? { outcome } : {}), limit: EXPORT_ITEMS_MAX, offset: 0 });
        csv = toCsv(ITEM_HEADERS, r.items.map(itemCells));
      } else if (view === 'ranking') {
        const rows = rankUnits(await groupStats(db, c.now, c.scope, c.filter, 'unit'));
        csv = toCsv(
          ['排名', ...ROW_HEADERS],
          rows.map((r) => [r.rank, ...rowCells(r)]),
        );
      } else {
        const rows: StatsRow[] =
          view === 'totals'
            ? [await totalsOf(c)]
            : view === 'month'
              ? await trend(c)
              : await groupStats(db, c.now, c.scope, c.filter, view);
        csv = toCsv(ROW_HEADERS, rows.map(rowCells));
      }
      return attachment(
        reply,
        'text/csv; charset=utf-8',
        `政务舆情回应统计-${c.period.label}-${view}.csv`,
        `huiying-stats-${view}.csv`,
      ).send(Buffer.from(csv));
    },
  );

  app.get(
    '/api/stats/export.xlsx',
    {
      config: { access: READERS },
      schema: {
        tags: ['stats'],
        summary: '导出 Excel：汇总、单位排名、按级别、按时限类型、按月趋势、明细',
        querystring: Filters,
        response: { 200: binary(XLSX, 'XLSX workbook'), ...errors },
      },
    },
    async (request, reply) => {
      const c = await context(request, request.query);
      const [totals, units, byLevel, byKind, byMonth, items] = [
        await totalsOf(c),
        await groupStats(db, c.now, c.scope, c.filter, 'unit'),
        await groupStats(db, c.now, c.scope, c.filter, 'level'),
        await groupStats(db, c.now, c.scope, c.filter, 'kind'),
        await trend(c),
        await listItems(db, c.now, c.scope, c.filter, { limit: EXPORT_ITEMS_MAX, offset: 0 }),
      ];
      const xlsx = await toXlsx({
        title: `政务舆情回应时效统计（${c.period.label}）`,
        generatedAt: c.now.toISOString(),
        totals,
        ranking: rankUnits(units),
        byLevel,
        byKind,
        byMonth,
        items: items.items,
        itemsTotal: items.total,
      });
      return attachment(reply, XLSX, `政务舆情回应统计-${c.period.label}.xlsx`, 'huiying-stats.xlsx').send(xlsx);
    },
  );

  app.get(
    '/api/stats/notice.docx',
    {
      config: { access: READERS },
      schema: {
        tags: ['stats'],
        summary: '通报（草稿，DOCX）：默认上一个自然月；可在 WPS / Word 中编辑',
        querystring: Type.Object(
          {
            ...FilterQuery,
            recipients: Type.Optional(Type.String({ minLength: 1, maxLength: 200, default: '各区人民政府，市政府各部门、各直属机构' })),
            issuer: Type.Optional(Type.String({ minLength: 1, maxLength: 100, default: '市人民政府办公室' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: binary(DOCX, 'DOCX document'), ...errors },
      },
    },
    async (request, reply) => {
      const { recipients = '各区人民政府，市政府各部门、各直属机构', issuer = '市人民政府办公室', ...q } = request.query;
      const explicit = q.month !== undefined || q.from !== undefined || q.to !== undefined;
      const c = await context(request, explicit ? q : { ...q, month: previousMonth(clock.now()) });
      const units = (await groupStats(db, c.now, c.scope, c.filter, 'unit'))
        .filter((u) => u.late + u.breached > 0)
        .sort(
          (a, b) =>
            b.late + b.breached - (a.late + a.breached) ||
            (a.onTimeRate ?? 0) - (b.onTimeRate ?? 0) ||
            String(a.key).localeCompare(String(b.key)),
        );
      const order = new Map(units.map((u, i) => [u.key, i]));
      const items = (
        await listItems(db, c.now, c.scope, c.filter, { outcome: ['late', 'breached'], limit: EXPORT_ITEMS_MAX, offset: 0 })
      ).items.sort((a, b) => (order.get(a.unit?.id ?? null) ?? 0) - (order.get(b.unit?.id ?? null) ?? 0) || a.dueAt.localeCompare(b.dueAt));
      const unitId = c.scope.unitId ?? c.filter.unit;
      const reports =
        unitId === 'none'
          ? []
          : (
              await loadReportCandidates(db, {
                now: clock.now(),
                ...(c.filter.from ? { from: c.filter.from.getTime() } : {}),
                ...(c.filter.to ? { to: c.filter.to.getTime() } : {}),
                ...(unitId !== undefined ? { unitId } : {}),
              })
            ).filter(
              (r) =>
                (c.filter.source === undefined || (r.source === 'duty') === (c.filter.source === 'duty')) &&
                (c.filter.kind === undefined || r.kind === c.filter.kind) &&
                (c.filter.level === undefined || (r.source === 'incident' && (r.level ?? 'ungraded') === c.filter.level)),
            );
      const docx = await noticeDocx({
        periodLabel: c.period.label,
        recipients,
        issuer,
        issuedAt: clock.now(),
        totals: await totalsOf(c),
        incidentTotals: await totalsOf(c, 'incident'),
        dutyTotals: await totalsOf(c, 'duty'),
        units,
        items,
        reports: reports.map((r) => ({ ...r, unitName: r.unit?.name ?? null })),
      });
      return attachment(reply, DOCX, `${noticeTitle(c.period.label)}.docx`, 'huiying-notice.docx').send(docx);
    },
  );
};

/** 2026年第四季度 / 2026年11月 / 2026年. */
function candidatePeriodLabel(key: string): string {
  const [y, rest] = key.split('-');
  if (rest === undefined) return `${y}年`;
  if (rest.startsWith('Q')) return `${y}年第${'一二三四'[Number(rest.slice(1)) - 1]}季度`;
  return `${y}年${Number(rest)}月`;
}

/** 00:00 Asia/Shanghai on the first of month `month0` (0-based; may run outside 0–11) of `year`. */
function shanghaiMonthStart(year: number, month0: number): Date {
  return new Date(Date.UTC(year, month0, 1) - 8 * 3_600_000);
}
