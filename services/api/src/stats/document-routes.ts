/** 领导统计 as documents: CSV and XLSX exports, and the 通报 draft as DOCX. */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { loadReportCandidates } from '@huiying/engine';
import { ApiError, READERS } from '@huiying/http';
import type { FastifyPluginAsync } from 'fastify';
import { ITEM_HEADERS, itemCells, ROW_HEADERS, rowCells, toCsv, toXlsx } from './exports.ts';
import { noticeDocx, noticeTitle } from './notice.ts';
import { previousMonth } from './period.ts';
import { DIMENSIONS, groupStats, listItems, rankUnits, type StatsRow } from './queries.ts';
import { attachment, EXPORT_ITEMS_MAX, statsHelpers, type StatsRoutesOptions } from './route-context.ts';
import { binary, DOCX, errors, FilterQuery, Filters, oneOf, Outcomes, XLSX } from './views.ts';

export const documentRoutes: FastifyPluginAsync<StatsRoutesOptions> = async (fastify, { db, clock }) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { context, totalsOf, trend, trendContext } = statsHelpers(db, clock);

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
