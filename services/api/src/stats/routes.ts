/**
 * 领导统计 routes under /api/stats: figures as JSON (this file), 通报候选 and 约谈候选
 * (candidate-routes.ts), CSV and XLSX exports and the 通报 draft as DOCX (document-routes.ts).
 * Every route takes the same filters (period, unit, level, kind, source) and the caller's scope
 * (caller.ts): a unit user sees its own unit only, and naming another unit is a 404 like any
 * record it may not see.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { READERS } from '@huiying/http';
import type { FastifyPluginAsync } from 'fastify';
import { candidateRoutes } from './candidate-routes.ts';
import { documentRoutes } from './document-routes.ts';
import { DIMENSIONS, groupStats, listItems, rankUnits } from './queries.ts';
import { statsHelpers, type StatsRoutesOptions } from './route-context.ts';
import { errors, Figures, FilterQuery, Filters, ItemView, oneOf, Outcomes, PeriodView, RankedView, StatsRowView, Iso } from './views.ts';

export type { StatsRoutesOptions } from './route-context.ts';

export const statsRoutes: FastifyPluginAsync<StatsRoutesOptions> = async (fastify, options) => {
  const { db, clock } = options;
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { context, totalsOf, trend, trendContext } = statsHelpers(db, clock);

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

  await fastify.register(candidateRoutes, options);
  await fastify.register(documentRoutes, options);
};
