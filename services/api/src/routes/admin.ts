import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  and,
  apiTokens,
  audit,
  deliveryFailedAlertId,
  desc,
  eq,
  isNotNull,
  isNull,
  or,
  retryNotification,
  rowsOf,
  sql,
  units,
  users,
} from '@huiying/db';
import { DEFAULT_JURISDICTION } from '@huiying/domain';
import { ApiError, principal } from '@huiying/http';
import {
  actorOf,
  createToken,
  createUser,
  IdentityError,
  revokeToken,
  revokeUserSessions,
  TOKEN_SCOPES,
  updateUser,
} from '@huiying/identity';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { getAlert } from '../read.ts';
import * as S from '../schemas.ts';
import type { RouteDeps } from './deps.ts';

const ADMIN = { roles: ['admin'] } as const;
const errors = { 400: S.ErrorBody, 401: S.ErrorBody, 403: S.ErrorBody, 404: S.ErrorBody, 409: S.ErrorBody };
const Iso = Type.String({ format: 'date-time' });
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

const Phone = Type.String({ pattern: '^\\+?[0-9][0-9 -]{4,19}$', description: '手机号（短信）' });
const TargetName = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$', description: '引擎配置中的目标名称' });
const UnitAdminView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  email: Nullable(Type.String()),
  parentId: Nullable(Type.String({ description: '督办上级：政府办/政务公开办、网信办' })),
  phone: Nullable(Type.String({ description: '短信号码：夜间紧急时限的催办短信' })),
  wecomRobot: Nullable(Type.String({ description: '企业微信/政务微信群机器人名称（WECOM_ROBOTS 中的键）' })),
  dingtalkRobot: Nullable(Type.String({ description: '钉钉/政务钉钉群机器人名称（DINGTALK_ROBOTS 中的键）' })),
  webhookTarget: Nullable(Type.String({ description: 'Webhook 目标名称（WEBHOOK_TARGETS 中的键）' })),
  jurisdiction: Type.String({ description: '辖区：约谈规则及其工作日事项的升级阶梯按此辖区（规则包可按辖区覆盖）' }),
});
const unitColumns = {
  id: units.id,
  name: units.name,
  email: units.email,
  parentId: units.parentId,
  phone: units.phone,
  wecomRobot: units.wecomRobot,
  dingtalkRobot: units.dingtalkRobot,
  webhookTarget: units.webhookTarget,
  jurisdiction: units.jurisdiction,
};
const UnitBody = Type.Object(
  {
    id: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,63}$', description: 'short stable id, e.g. housing' }),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    email: Type.Optional(Type.Union([Type.String({ format: 'email' }), Type.Null()])),
    parentId: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    phone: Type.Optional(Type.Union([Phone, Type.Null()])),
    wecomRobot: Type.Optional(Type.Union([TargetName, Type.Null()])),
    dingtalkRobot: Type.Optional(Type.Union([TargetName, Type.Null()])),
    webhookTarget: Type.Optional(Type.Union([TargetName, Type.Null()])),
    jurisdiction: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 100,
        pattern: '^\\S(.*\\S)?$',
        description: '辖区 (default "default"): the 约谈 rule and its duties’ ladder follow this jurisdiction’s rule pack overrides',
      }),
    ),
  },
  { additionalProperties: false },
);
const UnitPatch = Type.Partial(Type.Omit(UnitBody, ['id']), { additionalProperties: false });

const UserAdminView = Type.Object({
  id: Type.String(),
  username: Type.String(),
  displayName: Type.String(),
  role: S.Role,
  unitId: Nullable(Type.String()),
  email: Nullable(Type.String()),
  phone: Nullable(Type.String({ description: '值班员手机号：在班时的紧急短信' })),
  disabled: Type.Boolean(),
  createdAt: Iso,
});
const UserBody = Type.Object(
  {
    username: Type.String({ minLength: 2, maxLength: 64 }),
    displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    role: S.Role,
    unitId: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    password: Type.String({ minLength: 1, maxLength: 200 }),
    email: Type.Optional(Type.Union([Type.String({ format: 'email' }), Type.Null()])),
    phone: Type.Optional(Type.Union([Phone, Type.Null()])),
  },
  { additionalProperties: false },
);
const UserPatch = Type.Object(
  {
    displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    role: Type.Optional(S.Role),
    unitId: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    password: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    email: Type.Optional(Type.Union([Type.String({ format: 'email' }), Type.Null()])),
    phone: Type.Optional(Type.Union([Phone, Type.Null()])),
    disabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
const TokenView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  prefix: Type.String(),
  scopes: Type.Array(Type.String()),
  createdBy: Type.String(),
  createdAt: Iso,
  lastUsedAt: Nullable(Iso),
  revokedAt: Nullable(Iso),
});
const TokenBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    scopes: Type.Array(Type.Union(TOKEN_SCOPES.map((s) => Type.Literal(s))), { minItems: 1 }),
  },
  { additionalProperties: false },
);

const UnitQuery = Type.Object({ ...S.TextQuery('text in the name, or in the id'), ...S.LongPageQuery }, { additionalProperties: false });
const UserQuery = Type.Object(
  {
    ...S.TextQuery('text in the username or the name, or the user id'),
    role: Type.Optional(S.Role),
    unit: Type.Optional(Type.String({ maxLength: 100, description: 'users of this unit' })),
    disabled: Type.Optional(Type.Boolean()),
    ...S.LongPageQuery,
  },
  { additionalProperties: false },
);
const TokenQuery = Type.Object(
  {
    ...S.TextQuery('text in the name, or the token id or prefix'),
    scope: Type.Optional(Type.Union(TOKEN_SCOPES.map((s) => Type.Literal(s)))),
    revoked: Type.Optional(Type.Boolean({ description: 'false: the tokens in use' })),
    ...S.LongPageQuery,
  },
  { additionalProperties: false },
);

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function identityError(error: unknown): never {
  if (error instanceof IdentityError) throw new ApiError(error.code, error.message);
  throw error;
}

/** 管理员: units (with mail and supervising office), users, API tokens (rule packs: rule-packs.ts). */
export const adminRoutes: FastifyPluginAsync<RouteDeps> = async (fastify, deps) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { db, realClock } = deps;
  const now = () => new Date(realClock.now());

  /** The dispatcher here sends it now; every board in this process drops the withdrawn alert. */
  async function afterRetry(notificationId: string): Promise<void> {
    deps.onNotificationsQueued?.();
    const alert = await getAlert(db, deliveryFailedAlertId(notificationId));
    if (alert) deps.live.broadcast('alert', alert, alert.unitId);
  }

  app.get(
    '/api/admin/units',
    {
      config: { access: ADMIN },
      schema: {
        tags: ['admin'],
        summary: '单位管理（按编码排序，分页）',
        description: 'Pickers that need every unit read GET /api/units (id and name only, unpaged).',
        querystring: UnitQuery,
        response: { 200: S.Paged(UnitAdminView), ...errors },
      },
    },
    async (request) => {
      const q = request.query.q?.trim();
      const where = q ? or(sql`${units.name} ilike ${S.likeOf(q)}`, sql`${units.id} ilike ${S.likeOf(q)}`) : undefined;
      const { page, pageSize, offset } = S.pageOf(request.query);
      const [items, [count]] = await Promise.all([
        db.select(unitColumns).from(units).where(where).orderBy(units.id).limit(pageSize).offset(offset),
        db
          .select({ n: sql<number>`count(*)::int` })
          .from(units)
          .where(where),
      ]);
      return { items, total: count?.n ?? 0, page, pageSize };
    },
  );

  const checkParent = async (id: string, parentId: string | null | undefined) => {
    if (!parentId) return;
    if (parentId === id) throw new ApiError('HY_VALIDATION', 'body/parentId: a unit cannot supervise itself');
    const [p] = await db.select({ id: units.id }).from(units).where(eq(units.id, parentId));
    if (!p) throw new ApiError('HY_VALIDATION', `body/parentId: unknown unit ${parentId}`);
  };

  app.post(
    '/api/admin/units',
    {
      config: { access: ADMIN },
      schema: { tags: ['admin'], summary: '新增单位', body: UnitBody, response: { 201: UnitAdminView, ...errors } },
    },
    async (request, reply) => {
      const b = request.body;
      await checkParent(b.id, b.parentId);
      const at = now();
      const row = await db.transaction(async (tx) => {
        const [created] = await tx
          .insert(units)
          .values({
            id: b.id,
            name: b.name,
            email: b.email ?? null,
            parentId: b.parentId ?? null,
            phone: b.phone ?? null,
            wecomRobot: b.wecomRobot ?? null,
            dingtalkRobot: b.dingtalkRobot ?? null,
            webhookTarget: b.webhookTarget ?? null,
            jurisdiction: b.jurisdiction ?? DEFAULT_JURISDICTION,
            createdAt: at,
          })
          .onConflictDoNothing()
          .returning(unitColumns);
        if (!created) throw new ApiError('HY_CONFLICT', `unit ${b.id} exists`);
        await audit(tx, { at, actor: actorOf(principal(request)), action: 'unit.created', entity: 'unit', entityId: b.id, input: b });
        return created;
      });
      return reply.code(201).send(row);
    },
  );

  app.patch(
    '/api/admin/units/:id',
    {
      config: { access: ADMIN },
      schema: { tags: ['admin'], summary: '修改单位', params: S.IdParams, body: UnitPatch, response: { 200: UnitAdminView, ...errors } },
    },
    async (request) => {
      const { id } = request.params;
      await checkParent(id, request.body.parentId);
      const at = now();
      return db.transaction(async (tx) => {
        const [row] = await tx.update(units).set(request.body).where(eq(units.id, id)).returning(unitColumns);
        if (!row) throw new ApiError('HY_NOT_FOUND', `unit ${id} not found`);
        await audit(tx, {
          at,
          actor: actorOf(principal(request)),
          action: 'unit.updated',
          entity: 'unit',
          entityId: id,
          input: request.body,
        });
        return row;
      });
    },
  );

  const toUser = (u: typeof users.$inferSelect) => ({
    id: u.id,
    username: u.username,
    displayName: u.displayName,
    role: u.role,
    unitId: u.unitId,
    email: u.email,
    phone: u.phone,
    disabled: u.disabledAt !== null,
    createdAt: u.createdAt.toISOString(),
  });

  app.get(
    '/api/admin/users',
    {
      config: { access: ADMIN },
      schema: {
        tags: ['admin'],
        summary: '用户管理',
        querystring: UserQuery,
        response: { 200: S.Paged(UserAdminView), ...errors },
      },
    },
    async (request) => {
      const { role, unit, disabled } = request.query;
      const q = request.query.q?.trim();
      const where = and(
        q ? or(sql`${users.username} ilike ${S.likeOf(q)}`, sql`${users.displayName} ilike ${S.likeOf(q)}`, eq(users.id, q)) : undefined,
        role ? eq(users.role, role) : undefined,
        unit ? eq(users.unitId, unit) : undefined,
        disabled === undefined ? undefined : disabled ? isNotNull(users.disabledAt) : isNull(users.disabledAt),
      );
      const { page, pageSize, offset } = S.pageOf(request.query);
      const [rows, [count]] = await Promise.all([
        db.select().from(users).where(where).orderBy(users.username).limit(pageSize).offset(offset),
        db
          .select({ n: sql<number>`count(*)::int` })
          .from(users)
          .where(where),
      ]);
      return { items: rows.map(toUser), total: count?.n ?? 0, page, pageSize };
    },
  );

  app.post(
    '/api/admin/users',
    {
      config: { access: ADMIN },
      schema: { tags: ['admin'], summary: '新增用户', body: UserBody, response: { 201: UserAdminView, ...errors } },
    },
    async (request, reply) => {
      const row = await createUser(db, request.body, actorOf(principal(request)), now()).catch(identityError);
      return reply.code(201).send(toUser(row));
    },
  );

  app.patch(
    '/api/admin/users/:id',
    {
      config: { access: ADMIN },
      schema: {
        tags: ['admin'],
        summary: '修改用户（改角色、单位、密码或停用会结束其会话）',
        params: S.IdParams,
        body: UserPatch,
        response: { 200: UserAdminView, ...errors },
      },
    },
    async (request) => {
      const me = principal(request);
      if (request.params.id === me.id && (request.body.disabled === true || (request.body.role && request.body.role !== 'admin')))
        throw new ApiError('HY_CONFLICT', '不能停用自己或撤销自己的管理员角色 (you cannot disable or demote yourself)');
      return toUser(await updateUser(db, request.params.id, request.body, actorOf(me), now()).catch(identityError));
    },
  );

  app.delete(
    '/api/admin/users/:id/sessions',
    {
      config: { access: ADMIN },
      schema: {
        tags: ['admin'],
        summary: '强制下线（撤销该用户全部会话）',
        params: S.IdParams,
        response: { 200: Type.Object({ revoked: Type.Integer() }), ...errors },
      },
    },
    async (request) => {
      const at = now();
      const revoked = await revokeUserSessions(db, request.params.id, at);
      await audit(db, {
        at,
        actor: actorOf(principal(request)),
        action: 'sessions.revoked',
        entity: 'user',
        entityId: request.params.id,
        result: { revoked },
      });
      return { revoked };
    },
  );

  app.get(
    '/api/admin/tokens',
    {
      config: { access: ADMIN },
      schema: {
        tags: ['admin'],
        summary: 'API 令牌',
        querystring: TokenQuery,
        response: { 200: S.Paged(TokenView), ...errors },
      },
    },
    async (request) => {
      const { scope, revoked } = request.query;
      const q = request.query.q?.trim();
      const where = and(
        q ? or(sql`${apiTokens.name} ilike ${S.likeOf(q)}`, eq(apiTokens.prefix, q), eq(apiTokens.id, q)) : undefined,
        scope ? sql`${apiTokens.scopes} @> ${JSON.stringify([scope])}::jsonb` : undefined,
        revoked === undefined ? undefined : revoked ? isNotNull(apiTokens.revokedAt) : isNull(apiTokens.revokedAt),
      );
      const { page, pageSize, offset } = S.pageOf(request.query);
      const [rows, [count]] = await Promise.all([
        db.select().from(apiTokens).where(where).orderBy(desc(apiTokens.createdAt), apiTokens.id).limit(pageSize).offset(offset),
        db
          .select({ n: sql<number>`count(*)::int` })
          .from(apiTokens)
          .where(where),
      ]);
      return {
        items: rows.map((t) => ({
          id: t.id,
          name: t.name,
          prefix: t.prefix,
          scopes: t.scopes,
          createdBy: t.createdBy,
          createdAt: t.createdAt.toISOString(),
          lastUsedAt: iso(t.lastUsedAt),
          revokedAt: iso(t.revokedAt),
        })),
        total: count?.n ?? 0,
        page,
        pageSize,
      };
    },
  );

  app.post(
    '/api/admin/tokens',
    {
      config: { access: ADMIN },
      schema: {
        tags: ['admin'],
        summary: '新建 API 令牌（令牌只显示这一次）',
        body: TokenBody,
        response: {
          201: Type.Object({ id: Type.String(), token: Type.String(), name: Type.String(), scopes: Type.Array(Type.String()) }),
          ...errors,
        },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await createToken(db, request.body, actorOf(principal(request)), now()).catch(identityError)),
  );

  app.delete(
    '/api/admin/tokens/:id',
    {
      config: { access: ADMIN },
      schema: { tags: ['admin'], summary: '吊销 API 令牌', params: S.IdParams, response: { 204: Type.Null(), ...errors } },
    },
    async (request, reply) => {
      await revokeToken(db, request.params.id, actorOf(principal(request)), now()).catch(identityError);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/admin/notifications/:id/retry',
    {
      config: { access: ADMIN },
      schema: {
        tags: ['admin'],
        summary: '重发投递失败的通知（撤回其“投递失败”告警）',
        params: S.IdParams,
        response: { 200: Type.Object({ retried: Type.Boolean() }), ...errors },
      },
    },
    async (request) => {
      const [row] = rowsOf<{ status: string }>(await db.execute(sql`select status from notifications where id = ${request.params.id}`));
      if (!row) throw new ApiError('HY_NOT_FOUND', `notification ${request.params.id} not found`);
      if (row.status !== 'failed') throw new ApiError('HY_CONFLICT', `only a failed notification is retried (this one is ${row.status})`);
      const retried = await retryNotification(db, request.params.id, actorOf(principal(request)), now());
      if (retried) await afterRetry(request.params.id);
      return { retried };
    },
  );
};
