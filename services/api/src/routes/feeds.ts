import { randomUUID } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { alerts, audit, type Db, enqueue, eq, feeds, rowsOf, sql, type Tx, units } from '@huiying/db';
import { ApiError, notVisible, principal, READERS } from '@huiying/http';
import { actorOf, scopeOf } from '@huiying/identity';
import { AddressPolicy, feedAlertEvent } from '@huiying/ingest';
import { cancelSourceAlertNotifications } from '@huiying/notify';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import * as S from '../schemas.ts';
import type { RouteDeps } from './deps.ts';

const ADMIN = { roles: ['admin'] } as const;
const errors = { 400: S.ErrorBody, 401: S.ErrorBody, 403: S.ErrorBody, 404: S.ErrorBody, 409: S.ErrorBody };
const Iso = Type.String({ format: 'date-time' });
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

const FeedKind = Type.Union([Type.Literal('news'), Type.Literal('media'), Type.Literal('forum'), Type.Literal('official')], {
  description: 'news 新闻 / media 自媒体 / forum 论坛 / official 官方渠道 (政务网站栏目、政务新媒体)',
});
const SilenceRule = Type.Union([Type.Literal('working_day'), Type.Literal('twice_weekly')], {
  description: '官方渠道更新要求: working_day 每个工作日 (区县政府) / twice_weekly 每周至少两次 (市级部门)',
});

const FeedHealth = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('failing'), Type.Literal('paused'), Type.Literal('pending')]),
  lastSuccessAt: Nullable(Iso),
  lastPolledAt: Nullable(Iso),
  lastError: Nullable(Type.String()),
  lastErrorAt: Nullable(Iso),
  failingSince: Nullable(Iso),
  consecutiveFailures: Type.Integer(),
  itemsSeen: Type.Integer(),
  nextPollAt: Nullable(Iso),
  lastEncoding: Nullable(Type.String()),
  lastItemAt: Nullable(Iso),
  /** Open feed_failing / channel_silent alerts. */
  alerts: Type.Array(Type.String()),
});

const FeedView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  url: Type.String(),
  kind: Type.String(),
  unitId: Nullable(Type.String()),
  unitName: Nullable(Type.String()),
  enabled: Type.Boolean(),
  pollIntervalSeconds: Type.Integer(),
  allowCidrs: Type.Array(Type.String()),
  silenceRule: Nullable(Type.String()),
  jurisdiction: Type.String({ description: '辖区: its items are matched against this jurisdiction’s monitoring rules' }),
  addedAt: Iso,
  updatedAt: Nullable(Iso),
  health: FeedHealth,
});

const FeedFields = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  url: Type.String({ minLength: 8, maxLength: 2000, description: 'http(s) RSS / Atom URL' }),
  kind: FeedKind,
  unitId: Type.Optional(Type.Union([Type.String({ maxLength: 100 }), Type.Null()], { description: '官方渠道所属单位' })),
  pollIntervalSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 86_400 })),
  allowCidrs: Type.Optional(
    Type.Array(Type.String({ maxLength: 64 }), {
      maxItems: 20,
      description: '允许的内网地址段 (政务外网), e.g. 10.20.0.0/16; loopback/private addresses are refused otherwise',
    }),
  ),
  silenceRule: Type.Optional(Type.Union([SilenceRule, Type.Null()])),
  jurisdiction: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 100,
      description: '辖区 (default "default"): its signals match this jurisdiction’s monitoring rules and group only with its own',
    }),
  ),
};
const FeedBody = Type.Object(
  {
    id: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' })),
    ...FeedFields,
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
const FeedPatch = Type.Partial(Type.Object(FeedFields), { additionalProperties: false });
const FeedQuery = Type.Object(
  { kind: Type.Optional(FeedKind), ...S.TextQuery('text in the name or the URL, or the feed id'), ...S.LongPageQuery },
  { additionalProperties: false },
);

const iso = (v: string | Date | null | undefined): string | null => (v ? new Date(v).toISOString() : null);

interface FeedRowSql {
  id: string;
  name: string;
  url: string;
  kind: string;
  unit_id: string | null;
  unit_name: string | null;
  enabled: boolean;
  poll_interval_seconds: number;
  allow_cidrs: string[] | string;
  silence_rule: string | null;
  jurisdiction: string;
  added_at: string | Date;
  updated_at: string | Date | null;
  last_success_at: string | Date | null;
  last_polled_at: string | Date | null;
  last_error: string | null;
  last_error_at: string | Date | null;
  failing_since: string | Date | null;
  consecutive_failures: number;
  items_seen: number | string;
  next_poll_at: string | Date | null;
  last_encoding: string | null;
  last_item_at: string | Date | null;
  open_alerts: string[] | string | null;
}

function textArray(v: string[] | string | null): string[] {
  if (v === null) return [];
  if (Array.isArray(v)) return v;
  const inner = v.replace(/^\{|\}$/g, '');
  return inner === '' ? [] : inner.split(',').map((s) => s.replace(/^"|"$/g, ''));
}

function toFeedView(r: FeedRowSql) {
  const status = !r.enabled ? 'paused' : r.failing_since ? 'failing' : r.last_success_at ? 'ok' : 'pending';
  return {
    id: r.id,
    name: r.name,
    url: r.url,
    kind: r.kind,
    unitId: r.unit_id,
    unitName: r.unit_name,
    enabled: r.enabled,
    pollIntervalSeconds: Number(r.poll_interval_seconds),
    allowCidrs: textArray(r.allow_cidrs),
    silenceRule: r.silence_rule,
    jurisdiction: r.jurisdiction,
    addedAt: iso(r.added_at)!,
    updatedAt: iso(r.updated_at),
    health: {
      status: status as 'ok' | 'failing' | 'paused' | 'pending',
      lastSuccessAt: iso(r.last_success_at),
      lastPolledAt: iso(r.last_polled_at),
      lastError: r.last_error,
      lastErrorAt: iso(r.last_error_at),
      failingSince: iso(r.failing_since),
      consecutiveFailures: Number(r.consecutive_failures),
      itemsSeen: Number(r.items_seen),
      nextPollAt: iso(r.next_poll_at),
      lastEncoding: r.last_encoding,
      lastItemAt: iso(r.last_item_at),
      alerts: textArray(r.open_alerts),
    },
  };
}
export type FeedDto = ReturnType<typeof toFeedView>;

async function listFeeds(db: Db, where: ReturnType<typeof sql>, limit = sql``): Promise<FeedDto[]> {
  const rows = rowsOf<FeedRowSql>(
    await db.execute(sql`
      select f.id, f.name, f.url, f.kind, f.unit_id, u.name as unit_name, f.enabled, f.poll_interval_seconds, f.allow_cidrs,
             f.silence_rule, f.jurisdiction, f.added_at, f.updated_at, f.last_success_at, f.last_polled_at, f.last_error, f.last_error_at,
             f.failing_since, f.consecutive_failures, f.items_seen, f.next_poll_at, f.last_encoding, f.last_item_at,
             array(select a.kind from alerts a where a.feed_id = f.id and a.retracted_at is null order by a.kind) as open_alerts
      from feeds f left join units u on u.id = f.unit_id
      where ${where}
      order by f.kind, f.name, f.id ${limit}`),
  );
  return rows.map(toFeedView);
}

/** A feed URL an administrator may enter: absolute http(s), no credentials. Addresses are checked when fetched, at every hop. */
function checkUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    throw new ApiError('HY_VALIDATION', 'body/url is not a URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ApiError('HY_VALIDATION', 'body/url must be http or https');
  if (parsed.username || parsed.password) throw new ApiError('HY_VALIDATION', 'body/url must not carry credentials');
  return parsed.href;
}

function checkRanges(ranges: readonly string[]): string[] {
  return [
    ...new Set(
      ranges.map((r, i) => {
        try {
          return AddressPolicy.checkRange(r);
        } catch (error) {
          throw new ApiError('HY_VALIDATION', `body/allowCidrs/${i}: ${(error as Error).message}`);
        }
      }),
    ),
  ];
}

async function checkUnit(db: Db, unitId: string | null | undefined): Promise<void> {
  if (!unitId) return;
  const [row] = await db.select({ id: units.id }).from(units).where(eq(units.id, unitId));
  if (!row) throw new ApiError('HY_VALIDATION', `body/unitId: unknown unit ${unitId}`);
}

/** Pausing or removing a feed withdraws what it raised: nobody is to chase a feed nobody polls. */
async function withdrawFeedAlerts(tx: Tx, feedId: string, now: Date, actor: string, why: string): Promise<void> {
  const rows = await tx
    .update(alerts)
    .set({ retractedAt: now })
    .where(sql`${alerts.feedId} = ${feedId} and ${alerts.retractedAt} is null`)
    .returning({ id: alerts.id, unitId: alerts.unitId });
  if (rows.length > 0)
    await enqueue(
      tx,
      now,
      rows.map((r) => feedAlertEvent(r.id, 'feed_alert_withdrawn', now, r.unitId)),
    );
  for (const r of rows) {
    // Mail about the alert not sent yet is no longer news (a withdrawal mails nobody).
    const cancelled = await cancelSourceAlertNotifications(tx, r.id, now.getTime(), why);
    await audit(tx, {
      at: now,
      actor,
      action: 'alert.withdrawn',
      entity: 'alert',
      entityId: r.id,
      result: { reason: why, ...(cancelled > 0 ? { notificationsCancelled: cancelled } : {}) },
    });
  }
}

/**
 * 信息源管理: administrators add, edit, pause, resume and remove feeds; duty officers and
 * leaders read them with their health; a unit user sees its own unit's official channels only.
 * Pollers read the table every round, so changes take effect without a restart.
 * (候选回应, the channels' items proposed as responses: response-candidates.ts.)
 */
export const feedRoutes: FastifyPluginAsync<RouteDeps> = async (fastify, deps) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { db, clock } = deps;

  const scopeWhere = (request: FastifyRequest) => {
    const scope = scopeOf(principal(request));
    return scope.unitId === null ? sql`true` : sql`f.kind = 'official' and f.unit_id = ${scope.unitId}`;
  };

  const load = async (request: FastifyRequest, id: string): Promise<FeedDto> => {
    const [found] = await listFeeds(db, sql`f.id = ${id}`);
    if (!found) throw new ApiError('HY_NOT_FOUND', `feed ${id} not found`);
    const scope = scopeOf(principal(request));
    if (scope.unitId !== null && !(found.kind === 'official' && found.unitId === scope.unitId))
      throw await notVisible(db, request, deps.realClock, 'feed', id);
    return found;
  };

  app.get(
    '/api/feeds',
    {
      config: { access: READERS },
      schema: {
        tags: ['feeds'],
        summary: '信息源列表及健康状况 feeds with their health',
        querystring: FeedQuery,
        response: { 200: S.Paged(FeedView), ...errors },
      },
    },
    async (request) => {
      const kind = request.query.kind;
      const q = request.query.q?.trim();
      const text = q ? sql`(f.name ilike ${S.likeOf(q)} or f.url ilike ${S.likeOf(q)} or f.id = ${q})` : sql`true`;
      const where = sql`${scopeWhere(request)} and ${kind ? sql`f.kind = ${kind}` : sql`true`} and ${text}`;
      const { page, pageSize, offset } = S.pageOf(request.query);
      const [items, [count]] = await Promise.all([
        listFeeds(db, where, sql`limit ${pageSize} offset ${offset}`),
        db.execute(sql`select count(*)::int as n from feeds f where ${where}`).then((r) => rowsOf<{ n: number }>(r)),
      ]);
      return { items, total: count?.n ?? 0, page, pageSize };
    },
  );

  app.get(
    '/api/feeds/:id',
    { config: { access: READERS }, schema: { tags: ['feeds'], params: S.IdParams, response: { 200: FeedView, ...errors } } },
    async (request) => load(request, request.params.id),
  );

  app.post(
    '/api/feeds',
    {
      config: { access: ADMIN },
      schema: { tags: ['feeds'], summary: '添加信息源 add a feed', body: FeedBody, response: { 201: FeedView, ...errors } },
    },
    async (request, reply) => {
      const b = request.body;
      const url = checkUrl(b.url);
      const allowCidrs = checkRanges(b.allowCidrs ?? []);
      if (b.kind !== 'official' && (b.silenceRule ?? null) !== null)
        throw new ApiError('HY_VALIDATION', 'body/silenceRule applies to official channels only');
      await checkUnit(db, b.unitId);
      const id = b.id ?? `feed_${randomUUID().slice(0, 8)}`;
      const now = new Date(clock.now());
      const actor = actorOf(principal(request));
      await db.transaction(async (tx) => {
        const inserted = await tx
          .insert(feeds)
          .values({
            id,
            name: b.name.trim(),
            url,
            kind: b.kind,
            unitId: b.unitId ?? null,
            enabled: b.enabled ?? true,
            pollIntervalSeconds: b.pollIntervalSeconds ?? 300,
            allowCidrs,
            silenceRule: b.silenceRule ?? null,
            jurisdiction: b.jurisdiction?.trim() || 'default',
            // Its archive (items published before now) is history: it opens no clock.
            addedAt: now,
            nextPollAt: null,
            updatedAt: now,
          })
          .onConflictDoNothing()
          .returning({ id: feeds.id });
        if (inserted.length === 0) throw new ApiError('HY_CONFLICT', `feed ${id} already exists`);
        await audit(tx, { at: now, actor, action: 'feed.added', entity: 'feed', entityId: id, input: { ...b, url, allowCidrs } });
      });
      return reply.code(201).send(await load(request, id));
    },
  );

  app.patch(
    '/api/feeds/:id',
    {
      config: { access: ADMIN },
      schema: {
        tags: ['feeds'],
        summary: '修改信息源 edit a feed',
        params: S.IdParams,
        body: FeedPatch,
        response: { 200: FeedView, ...errors },
      },
    },
    async (request) => {
      const { id } = request.params;
      const before = await load(request, id);
      const b = request.body;
      const url = b.url !== undefined ? checkUrl(b.url) : undefined;
      const allowCidrs = b.allowCidrs !== undefined ? checkRanges(b.allowCidrs) : undefined;
      const kind = b.kind ?? before.kind;
      const silenceRule = b.silenceRule !== undefined ? b.silenceRule : before.silenceRule;
      if (kind !== 'official' && silenceRule !== null)
        throw new ApiError('HY_VALIDATION', 'body/silenceRule applies to official channels only');
      if (b.unitId !== undefined) await checkUnit(db, b.unitId);
      const now = new Date(clock.now());
      const actor = actorOf(principal(request));
      const urlChanged = url !== undefined && url !== before.url;
      await db.transaction(async (tx) => {
        await tx
          .update(feeds)
          .set({
            ...(b.name !== undefined ? { name: b.name.trim() } : {}),
            ...(url !== undefined ? { url } : {}),
            ...(b.kind !== undefined ? { kind: b.kind } : {}),
            ...(b.unitId !== undefined ? { unitId: b.unitId } : {}),
            ...(b.pollIntervalSeconds !== undefined ? { pollIntervalSeconds: b.pollIntervalSeconds, nextPollAt: null } : {}),
            ...(allowCidrs !== undefined ? { allowCidrs, nextPollAt: null } : {}),
            ...(b.silenceRule !== undefined ? { silenceRule: b.silenceRule } : {}),
            // Signals stored from now on carry it; those stored before keep theirs.
            ...(b.jurisdiction !== undefined ? { jurisdiction: b.jurisdiction.trim() || 'default' } : {}),
            // A new address is a new document: forget the old validators and poll it now. A poll of
            // the old address in flight keeps its lease (one poller per feed) but writes back
            // neither validators nor a next poll for the new address (see FeedPoller).
            ...(urlChanged ? { etag: null, lastModified: null, nextPollAt: null } : {}),
            updatedAt: now,
          })
          .where(eq(feeds.id, id));
        await audit(tx, {
          at: now,
          actor,
          action: 'feed.changed',
          entity: 'feed',
          entityId: id,
          input: b,
          result: {
            before: {
              url: before.url,
              kind: before.kind,
              unitId: before.unitId,
              allowCidrs: before.allowCidrs,
              jurisdiction: before.jurisdiction,
            },
          },
        });
      });
      return load(request, id);
    },
  );

  const setEnabled = (enabled: boolean) => async (request: FastifyRequest<{ Params: { id: string } }>) => {
    const { id } = request.params;
    const before = await load(request, id);
    if (before.enabled === enabled) return before;
    const now = new Date(clock.now());
    const actor = actorOf(principal(request));
    await db.transaction(async (tx) => {
      // Resumed: due at once. Paused: the next round does not claim it (a poll in flight finishes).
      await tx
        .update(feeds)
        .set({ enabled, updatedAt: now, ...(enabled ? { nextPollAt: null } : {}) })
        .where(eq(feeds.id, id));
      await audit(tx, { at: now, actor, action: enabled ? 'feed.resumed' : 'feed.paused', entity: 'feed', entityId: id });
      if (!enabled) await withdrawFeedAlerts(tx, id, now, actor, 'feed paused');
    });
    return load(request, id);
  };

  app.post(
    '/api/feeds/:id/pause',
    {
      config: { access: ADMIN },
      schema: { tags: ['feeds'], summary: '暂停 pause polling', params: S.IdParams, response: { 200: FeedView, ...errors } },
    },
    setEnabled(false),
  );
  app.post(
    '/api/feeds/:id/resume',
    {
      config: { access: ADMIN },
      schema: { tags: ['feeds'], summary: '恢复 resume polling', params: S.IdParams, response: { 200: FeedView, ...errors } },
    },
    setEnabled(true),
  );

  app.delete(
    '/api/feeds/:id',
    {
      config: { access: ADMIN },
      schema: {
        tags: ['feeds'],
        summary: '删除信息源 remove a feed (its signals and their sources stay as evidence)',
        params: S.IdParams,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const before = await load(request, id);
      const now = new Date(clock.now());
      const actor = actorOf(principal(request));
      await db.transaction(async (tx) => {
        await tx.delete(feeds).where(eq(feeds.id, id));
        await withdrawFeedAlerts(tx, id, now, actor, 'feed removed');
        await audit(tx, {
          at: now,
          actor,
          action: 'feed.removed',
          entity: 'feed',
          entityId: id,
          input: { name: before.name, url: before.url },
        });
      });
      return reply.code(204).send(null);
    },
  );
};
