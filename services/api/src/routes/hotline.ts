import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { audit, rowsOf, sql } from '@huiying/db';
import { ApiError, notVisible, principal } from '@huiying/http';
import { actorOf, scopeOf } from '@huiying/identity';
import {
  createHotlineSource,
  disableHotlineSource,
  findHotlineSource,
  HotlineSourceError,
  ImportFileError,
  importTicketFile,
  listHotlineSources,
  setHotlineSourceJurisdiction,
  SOURCE_NAME_PATTERN,
  signalKeyOf,
  type TicketTimePolicy,
} from '@huiying/ingest';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { visible } from '../read.ts';
import * as S from '../schemas.ts';
import type { RouteDeps } from './deps.ts';

const ADMIN = { roles: ['admin'] } as const;
const errors = { 400: S.ErrorBody, 401: S.ErrorBody, 403: S.ErrorBody, 404: S.ErrorBody, 409: S.ErrorBody, 413: S.ErrorBody };
const Iso = Type.String({ format: 'date-time' });

const Jurisdiction = Type.String({
  minLength: 1,
  maxLength: 100,
  description: '辖区 (default "default"): its tickets match this jurisdiction’s monitoring rules and group only with its own',
});
const HotlineSourceView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  active: Type.Boolean(),
  tokenId: Type.Union([Type.String(), Type.Null()], { description: 'the API token that posts as this source' }),
  jurisdiction: Type.String({ description: '辖区: its tickets are matched against this jurisdiction’s monitoring rules' }),
  createdAt: Iso,
  disabledAt: Type.Union([Iso, Type.Null()]),
});
const HotlineSourceBody = Type.Object(
  {
    name: Type.String({ pattern: SOURCE_NAME_PATTERN, description: 'sent as X-Huiying-Source, e.g. hotline-city' }),
    tokenId: Type.Optional(
      Type.Union([Type.String(), Type.Null()], { description: 'bind an API token (scope tickets:write) to this source' }),
    ),
    jurisdiction: Type.Optional(Jurisdiction),
  },
  { additionalProperties: false },
);
const HotlineSourceQuery = Type.Object({ ...S.TextQuery('text in the source name'), ...S.LongPageQuery }, { additionalProperties: false });
const HotlineSourcePatch = Type.Object({ jurisdiction: Jurisdiction }, { additionalProperties: false });
const ImportReport = Type.Object({
  format: Type.Union([Type.Literal('csv'), Type.Literal('xlsx')]),
  encoding: Type.String(),
  rows: Type.Integer({ description: 'data rows in the file' }),
  accepted: Type.Integer({ description: 'tickets stored now (history included)' }),
  history: Type.Integer(),
  duplicates: Type.Integer({ description: 'tickets stored before (a re-import)' }),
  errors: Type.Array(
    Type.Object({
      row: Type.Integer({ description: 'CSV line / sheet row; 1 is the header' }),
      column: Type.String(),
      reason: Type.String(),
    }),
  ),
});
const ImportQuery = Type.Object(
  {
    source: Type.String({ pattern: SOURCE_NAME_PATTERN, description: 'the hotline source the export comes from' }),
    backfill: Type.Optional(Type.Boolean({ description: 'import every row as history (an archive: opens no clock)' })),
  },
  { additionalProperties: false },
);

const CallerView = Type.Object({
  signalId: Type.String(),
  ticketId: Type.String({ description: '工单编号' }),
  source: Type.Union([Type.String(), Type.Null()], { description: 'the hotline source it came from' }),
  callerName: Type.Union([Type.String(), Type.Null()], { description: '来电人' }),
  callerPhone: Type.Union([Type.String(), Type.Null()], { description: '联系电话' }),
});

/** Upload types: the file is the request body (no multipart), so a script can `curl --data-binary @export.csv`. */
const FILE_TYPES = ['text/csv', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', 'application/octet-stream'];
/** A year of one city's tickets as XLSX stays well below this. */
const IMPORT_BODY_LIMIT = 64 * 1024 * 1024;

function sourceError(error: unknown): never {
  if (error instanceof HotlineSourceError) throw new ApiError(error.code, error.message);
  throw error;
}

/** 12345 热线接入: hotline sources (administrators) and the import of exported ticket files (administrators, duty officers). */
export const hotlineRoutes: FastifyPluginAsync<RouteDeps & { ticketPolicy?: TicketTimePolicy }> = async (fastify, deps) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { db, clock, realClock } = deps;
  const now = () => new Date(realClock.now());
  app.addContentTypeParser(FILE_TYPES, { parseAs: 'buffer', bodyLimit: IMPORT_BODY_LIMIT }, (_request, body, done) => done(null, body));

  app.get(
    '/api/admin/hotline-sources',
    {
      config: { access: ADMIN },
      schema: {
        tags: ['admin'],
        summary: '12345 热线接入来源（按名称排序，分页）',
        querystring: HotlineSourceQuery,
        response: { 200: S.Paged(HotlineSourceView), ...errors },
      },
    },
    async (request) => {
      const q = request.query.q?.trim();
      const { page, pageSize, offset } = S.pageOf(request.query);
      const found = await listHotlineSources(db, { like: q ? S.likeOf(q) : undefined, limit: pageSize, offset });
      return { ...found, page, pageSize };
    },
  );

  app.post(
    '/api/admin/hotline-sources',
    {
      config: { access: ADMIN },
      schema: {
        tags: ['admin'],
        summary: '新增热线接入来源（签名密钥只显示这一次）',
        body: HotlineSourceBody,
        response: { 201: Type.Intersect([HotlineSourceView, Type.Object({ secret: Type.String() })]), ...errors },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await createHotlineSource(db, request.body, actorOf(principal(request)), now()).catch(sourceError)),
  );

  app.patch(
    '/api/admin/hotline-sources/:id',
    {
      config: { access: ADMIN },
      schema: {
        tags: ['admin'],
        summary: '修改热线接入来源的辖区',
        params: S.IdParams,
        body: HotlineSourcePatch,
        response: { 200: HotlineSourceView, ...errors },
      },
    },
    async (request) =>
      setHotlineSourceJurisdiction(db, request.params.id, request.body.jurisdiction, actorOf(principal(request)), now()).catch(sourceError),
  );

  app.post(
    '/api/admin/hotline-sources/:id/disable',
    {
      config: { access: ADMIN },
      schema: { tags: ['admin'], summary: '停用热线接入来源', params: S.IdParams, response: { 200: HotlineSourceView, ...errors } },
    },
    async (request) => disableHotlineSource(db, request.params.id, actorOf(principal(request)), now()).catch(sourceError),
  );

  app.get(
    '/api/hotline/callers/:id',
    {
      // Who calls the citizen back: the duty officer, and the unit the matter is assigned to.
      config: { access: { roles: ['duty', 'unit'] } },
      schema: {
        tags: ['ingest'],
        summary: '查看工单来电人及联系电话（留痕）',
        description: 'The caller of the ticket behind a signal. Every reading is audited (caller.viewed).',
        params: S.IdParams,
        response: { 200: CallerView, ...errors },
      },
    },
    async (request) => {
      const id = request.params.id;
      const [row] = rowsOf<{
        ticket_id: string;
        source: string | null;
        caller_name: string | null;
        caller_phone: string | null;
        unit_id: string | null;
      }>(
        await db.execute(sql`
          select h.ticket_id, hs.name as source, h.caller_name, h.caller_phone, i.unit_id
          from hotline_tickets h
          left join hotline_sources hs on hs.id = h.source_id
          left join signals s on s.id = h.signal_id
          left join incidents i on i.id = s.incident_id
          where h.signal_id = ${id}`),
      );
      if (!row) throw new ApiError('HY_NOT_FOUND', `hotline ticket ${id} not found`);
      const caller = principal(request);
      if (!visible(scopeOf(caller), row.unit_id)) throw await notVisible(db, request, realClock, 'hotline_ticket', id);
      await audit(db, { at: now(), actor: actorOf(caller), action: 'caller.viewed', entity: 'signal', entityId: id, input: {} });
      return { signalId: id, ticketId: row.ticket_id, source: row.source, callerName: row.caller_name, callerPhone: row.caller_phone };
    },
  );

  app.post(
    '/api/hotline/imports',
    {
      config: { access: { roles: ['admin', 'duty'] } },
      bodyLimit: IMPORT_BODY_LIMIT,
      schema: {
        tags: ['ingest'],
        summary: '导入12345工单导出文件 (CSV/XLSX as the request body)',
        description:
          'The file is the body: Content-Type text/csv, application/vnd.openxmlformats-officedocument.spreadsheetml.sheet or application/octet-stream. CSV in UTF-8 (BOM or not) or GBK. Columns by name, any order: 工单编号, 受理时间, 诉求内容 required; 诉求类型, 所属区域, 承办单位, 来电人, 联系电话, 标题 optional. Answers a row report; re-importing stores nothing twice.',
        querystring: ImportQuery,
        response: { 200: ImportReport, ...errors },
      },
    },
    async (request) => {
      const body = request.body;
      if (!Buffer.isBuffer(body) || body.length === 0)
        throw new ApiError('HY_VALIDATION', 'body: send the export file as the request body');
      const source = await findHotlineSource(db, request.query.source);
      if (!source) throw new ApiError('HY_VALIDATION', `querystring/source: unknown hotline source ${request.query.source}`);
      if (!source.active) throw new ApiError('HY_VALIDATION', `querystring/source: hotline source ${source.name} is disabled`);
      const actor = actorOf(principal(request));
      try {
        const report = await importTicketFile(db, body, {
          origin: { source: { id: source.id, name: source.name }, actor, signalKey: await signalKeyOf(db, actor) },
          now: new Date(clock.now()),
          backfill: request.query.backfill === true,
          ...(deps.ticketPolicy ? { policy: deps.ticketPolicy } : {}),
        });
        const { errors: rowErrors, ...counts } = report;
        await audit(db, {
          at: now(),
          actor,
          action: 'hotline_import.completed',
          entity: 'hotline_source',
          entityId: source.id,
          input: { source: source.name, bytes: body.length, backfill: request.query.backfill === true },
          result: { ...counts, refused: rowErrors.length },
        });
        return report;
      } catch (error) {
        if (error instanceof ImportFileError) throw new ApiError('HY_VALIDATION', `body: row ${error.row}: ${error.message}`);
        throw error;
      }
    },
  );
};
