import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { sql, units } from '@huiying/db';
import { ANY_USER, ERROR_CATALOGUE } from '@huiying/http';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { RouteDeps } from './deps.ts';

export const systemRoutes: FastifyPluginAsync<RouteDeps> = async (fastify, deps) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { db, clock, live } = deps;

  app.get(
    '/api/health',
    {
      config: { access: 'public' },
      schema: {
        tags: ['system'],
        summary: '健康检查：数据库、实时连接、节假日日历',
        response: {
          200: Type.Object({
            status: Type.Union([Type.Literal('ok'), Type.Literal('warn')]),
            database: Type.String(),
            liveClients: Type.Integer(),
            warnings: Type.Array(Type.String()),
          }),
        },
      },
    },
    async () => {
      await db.execute(sql`select 1`);
      const calendar = deps.calendars.health(clock.now());
      const warnings = calendar.warning ? [calendar.warning] : [];
      return { status: warnings.length > 0 ? ('warn' as const) : ('ok' as const), database: 'ok', liveClients: live.size, warnings };
    },
  );

  app.get(
    '/api/time',
    {
      config: { access: ANY_USER },
      schema: {
        tags: ['system'],
        summary: '系统时间（演练时为模拟时间）',
        response: { 200: Type.Object({ now: Type.String(), scale: Type.Number() }) },
      },
    },
    async () => ({ now: new Date(clock.now()).toISOString(), scale: clock.scale ?? 1 }),
  );

  app.get(
    '/api/error-codes',
    // Like every /api/ route but the health check and the log-in: for callers who are logged in.
    { config: { access: ANY_USER }, schema: { tags: ['system'], summary: '错误码目录' } },
    async () => ERROR_CATALOGUE,
  );

  app.get(
    '/api/units',
    {
      config: { access: ANY_USER },
      schema: {
        tags: ['system'],
        summary: '单位列表（名称）',
        description:
          'Every unit, id and name only, unpaged: the look-up behind the console’s unit pickers and filters. The administration list (all fields, paged, searchable) is GET /api/admin/units.',
        response: {
          200: Type.Object({
            items: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), parentId: Type.Union([Type.String(), Type.Null()]) })),
          }),
        },
      },
    },
    async () => ({
      items: await db.select({ id: units.id, name: units.name, parentId: units.parentId }).from(units).orderBy(units.id),
    }),
  );
};
