import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { audit, eq, units } from '@huiying/db';
import { ANY_USER, ApiError, clearSessionCookie, principal, setSessionCookie } from '@huiying/http';
import { actorOf, authenticate, createSession, type Principal, revokeSession } from '@huiying/identity';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import * as S from '../schemas.ts';
import type { RouteDeps } from './deps.ts';

export interface AuthRouteOptions extends RouteDeps {
  /**
   * Log-in attempts per (address, username) per window, and per address whatever the username
   * (`perAddress`: password spraying tries one password on many names).
   */
  loginRateLimit?: { max: number; windowMs: number; perAddress?: number };
}

const LoginBody = Type.Object(
  { username: Type.String({ minLength: 1, maxLength: 64 }), password: Type.String({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false },
);

const userView = (p: Principal, unitName: string | null) => ({
  id: p.id,
  username: p.username,
  displayName: p.displayName,
  role: p.role ?? ('duty' as const),
  unit: p.unitId ? { id: p.unitId, name: unitName ?? p.unitId } : null,
});

export const authRoutes: FastifyPluginAsync<AuthRouteOptions> = async (fastify, deps) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { db, realClock } = deps;
  const limit = deps.loginRateLimit ?? { max: 10, windowMs: 5 * 60_000 };
  const errors = { 400: S.ErrorBody, 401: S.ErrorBody, 429: S.ErrorBody };
  // Generous: a government office may log in from one NAT address. A checker, not a second
  // limiter hook: @fastify/rate-limit runs one limiter per request (the route's, below).
  const addressLimit = app.createRateLimit({
    max: limit.perAddress ?? 100,
    timeWindow: limit.windowMs,
    keyGenerator: (request) => `login-address|${request.ip}`,
  });
  const perAddress = async (request: FastifyRequest) => {
    const checked = await addressLimit(request);
    if (!checked.isAllowed && checked.isExceeded)
      throw new ApiError(
        'HY_RATE_LIMITED',
        `尝试次数过多，请 ${checked.ttlInSeconds} 秒后重试 (too many attempts from this address; retry in ${checked.ttlInSeconds} s)`,
      );
  };

  app.post(
    '/api/auth/login',
    {
      onRequest: perAddress,
      config: {
        access: 'public',
        rateLimit: {
          // After the body is parsed, so the key can hold the username.
          hook: 'preHandler',
          max: limit.max,
          timeWindow: limit.windowMs,
          keyGenerator: (request) =>
            `${request.ip}|${String((request.body as { username?: unknown } | undefined)?.username ?? '').toLowerCase()}`,
        },
      },
      schema: { tags: ['auth'], summary: '登录 log in (sets the hy_session cookie)', body: LoginBody, response: { 200: S.Me, ...errors } },
    },
    async (request, reply) => {
      const { username, password } = request.body;
      const now = new Date(realClock.now());
      const user = await authenticate(db, username, password);
      if (!user) {
        await audit(db, {
          at: now,
          actor: 'anonymous',
          action: 'auth.login_failed',
          entity: 'user',
          entityId: username.toLowerCase().slice(0, 64),
          input: { ip: request.ip },
        });
        throw new ApiError('HY_AUTH_FAILED', '用户名或密码错误 wrong username or password');
      }
      const session = await createSession(db, user.id, now, {
        ip: request.ip,
        ...(request.headers['user-agent'] ? { userAgent: request.headers['user-agent'] } : {}),
      });
      await audit(db, {
        at: now,
        actor: `user:${user.username}`,
        action: 'auth.login',
        entity: 'user',
        entityId: user.id,
        input: { ip: request.ip },
      });
      setSessionCookie(request, reply, session.secret, session.expiresAt);
      const p: Principal = {
        kind: 'user',
        id: user.id,
        username: user.username,
        displayName: user.displayName,
        role: user.role,
        unitId: user.unitId,
        scopes: [],
      };
      const [unit] = user.unitId ? await db.select({ name: units.name }).from(units).where(eq(units.id, user.unitId)) : [];
      return { user: userView(p, unit?.name ?? null), csrfToken: session.csrfToken };
    },
  );

  app.get(
    '/api/auth/me',
    { config: { access: ANY_USER }, schema: { tags: ['auth'], summary: '当前用户', response: { 200: S.Me, 401: S.ErrorBody } } },
    async (request) => {
      const session = request.session;
      if (!session) throw new ApiError('HY_UNAUTHENTICATED', 'no session');
      return { user: userView(principal(request), session.unitName), csrfToken: session.csrfToken };
    },
  );

  app.post(
    '/api/auth/logout',
    {
      config: { access: ANY_USER },
      schema: { tags: ['auth'], summary: '退出登录 log out (ends the session)', response: { 204: Type.Null(), 401: S.ErrorBody } },
    },
    async (request, reply) => {
      const now = new Date(realClock.now());
      if (request.session) {
        await revokeSession(db, request.session.id, now);
        await audit(db, {
          at: now,
          actor: actorOf(principal(request)),
          action: 'auth.logout',
          entity: 'user',
          entityId: principal(request).id,
        });
      }
      clearSessionCookie(reply);
      return reply.code(204).send(null);
    },
  );
};
