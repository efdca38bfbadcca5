/**
 * Who is asking, on every request: a session cookie (people, with CSRF protection) or a
 * bearer token (machine clients). Every `/api/` route declares who may call it in
 * `config.access`; a route that forgets fails at start-up instead of serving everyone.
 */
import { timingSafeEqual } from 'node:crypto';
import cookie from '@fastify/cookie';
import type { Clock } from '@huiying/clock';
import { audit, type Db, type DbHandle } from '@huiying/db';
import {
  actorOf,
  DEFAULT_SESSION_POLICY,
  type Principal,
  type Role,
  type SessionPolicy,
  type TokenCheck,
  TokenResolver,
} from '@huiying/identity';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ApiError } from './errors.ts';
import { SessionCache } from './session-cache.ts';

/** `public`: anyone; otherwise a user whose role is listed, or a token holding the scope. */
export type Access =
  | 'public'
  | {
      roles?: readonly Role[];
      scope?: string;
      /**
       * A header that marks a request signed by a machine client (e.g. `x-huiying-signature`):
       * such a request without session or token passes on unauthenticated, and the route must
       * verify the signature itself before doing anything.
       */
      signedBy?: string;
      /**
       * The route's write statement checks the API token itself (TokenCheck in the same statement
       * as the write, nothing written if it fails): a token this process read before is taken from
       * memory here and verified by the write, one round trip instead of two. The route must pass
       * `request.tokenCheck` to its write, call `recheckToken` when that check fails, and call it
       * before answering anything else (an error, a read) while `request.tokenCheck` is set.
       */
      tokenCheckedInWrite?: boolean;
    };

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
  interface FastifyRequest {
    /** The authenticated caller; null only on public routes. */
    user: Principal | null;
    /** The cookie session behind `user`, when there is one. */
    session: { id: string; csrfToken: string; unitName: string | null } | null;
    /**
     * Set when `user` is an API token taken from memory for a route with `tokenCheckedInWrite`:
     * what the route's write must verify. Null once verified (or when read from the database).
     */
    tokenCheck: TokenCheck | null;
  }
  interface FastifyInstance {
    /** Resolved cookie sessions kept in this process (session-cache.ts). */
    sessionCache: SessionCache;
    /** Every `/api/` route with who may call it, as registered (tests check that none is public by accident). */
    apiRoutes: { method: string; url: string; access: Access }[];
    /**
     * Read the request's API token from the database now (its `tokenCheck` failed, or the route
     * answers without writing): sets `user` afresh and clears `tokenCheck`, or refuses with 401 as
     * the first look-up would have (audited). No-op when `tokenCheck` is null.
     */
    recheckToken(request: FastifyRequest): Promise<void>;
  }
}

export const SESSION_COOKIE = 'hy_session';
export const CSRF_HEADER = 'x-csrf-token';

/** Anyone logged in (any role); tokens are for machine routes only. */
export const ANY_USER: Access = { roles: ['duty', 'unit', 'leader', 'admin'] };
/** Readers of the whole jurisdiction and of their own unit. */
export const READERS = ANY_USER;

export interface AuthOptions {
  db: Db;
  /** Real time for sessions: a drill's scaled clock must not expire a session in seconds. */
  clock: Clock;
  policy?: SessionPolicy;
  /** LISTEN on the database (DbHandle.listen): with it, resolved sessions are kept until a change is notified. */
  listen?: DbHandle['listen'];
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The token of `Authorization: Bearer <token>`, or undefined for any other form. */
function bearerOf(authorization: string): string | undefined {
  const [scheme, token] = authorization.split(' ');
  return scheme?.toLowerCase() === 'bearer' && token ? token : undefined;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export const authPlugin = fp<AuthOptions>(
  async (app, { db, clock, policy = DEFAULT_SESSION_POLICY, listen }) => {
    await app.register(cookie);
    app.decorateRequest('user', null);
    app.decorateRequest('session', null);
    app.decorateRequest('tokenCheck', null);
    // Concurrent requests' tokens are looked up together (one query per turn of the event loop).
    const tokens = new TokenResolver(db);
    const sessions = new SessionCache({ db, policy, listen, logger: app.log });
    const anonymousRefusals = new RefusalThrottle();
    app.decorate('sessionCache', sessions);
    app.addHook('onReady', () => sessions.start());
    app.addHook('onClose', () => sessions.stop());
    // A change made through this process (log-out, a user disabled) holds for the next request it
    // answers, before the database's notification comes back: onSend is before the client can
    // have the answer. Only people change people and sessions: refused requests, log-ins and
    // machine clients' writes (tickets) leave the cache alone.
    app.addHook('onSend', (request, reply, payload, done) => {
      if (request.session !== null && !SAFE.has(request.method) && reply.statusCode < 400) sessions.clear();
      done(null, payload);
    });

    const apiRoutes: { method: string; url: string; access: Access }[] = [];
    app.decorate('apiRoutes', apiRoutes);
    app.addHook('onRoute', (route) => {
      if (!route.url.startsWith('/api/')) return;
      const access = route.config?.access;
      if (access === undefined) throw new Error(`route ${String(route.method)} ${route.url} declares no config.access`);
      for (const method of [route.method].flat()) apiRoutes.push({ method, url: route.url, access });
    });

    app.decorate('recheckToken', async (request: FastifyRequest) => {
      const check = request.tokenCheck;
      if (check === null) return;
      tokens.forget(check.digest);
      request.tokenCheck = null;
      const now = new Date(clock.now());
      const token = bearerOf(request.headers.authorization ?? '');
      const principal = token ? await tokens.resolve(token, now) : undefined;
      if (!principal) {
        request.user = null;
        await auditAnonymous(db, anonymousRefusals, request, now, 'token');
        throw new ApiError('HY_UNAUTHENTICATED', 'invalid, expired or revoked API token');
      }
      // Scopes never change after a token is made: the route's access held for the claim and holds now.
      request.user = principal;
    });

    app.addHook('onRequest', async (request, reply) => {
      const access = request.routeOptions.config?.access;
      if (access === undefined) return; // static files, /docs, unknown routes (404)
      const now = new Date(clock.now());
      const authorization = request.headers.authorization;
      if (authorization !== undefined) {
        const token = bearerOf(authorization);
        let principal: Principal | undefined;
        if (token && access !== 'public' && access.tokenCheckedInWrite === true) {
          const claim = await tokens.claim(token, now);
          principal = claim?.principal;
          request.tokenCheck = claim?.check ?? null;
        } else if (token) principal = await tokens.resolve(token, now);
        if (!principal) {
          await auditAnonymous(db, anonymousRefusals, request, now, 'token');
          throw new ApiError('HY_UNAUTHENTICATED', 'invalid, expired or revoked API token');
        }
        request.user = principal;
      } else {
        const secret = request.cookies[SESSION_COOKIE];
        if (secret) {
          const resolved = await sessions.resolve(secret, now);
          if (resolved) {
            request.user = resolved.principal;
            request.session = { id: resolved.sessionId, csrfToken: resolved.csrfToken, unitName: resolved.unitName };
          } else {
            clearSessionCookie(reply);
            if (access !== 'public') await auditAnonymous(db, anonymousRefusals, request, now, 'session');
          }
        }
      }
      if (access === 'public') return;
      const user = request.user;
      if (!user && access.signedBy !== undefined && request.headers[access.signedBy] !== undefined) return;
      if (!user) throw new ApiError('HY_UNAUTHENTICATED', '请先登录 log in first');
      if (request.session && !SAFE.has(request.method)) {
        const sent = request.headers[CSRF_HEADER];
        if (typeof sent !== 'string' || !sameSecret(sent, request.session.csrfToken)) {
          await refuse(db, request, now, 'csrf');
          throw new ApiError('HY_CSRF', `missing or wrong ${CSRF_HEADER} header`);
        }
      }
      const allowed =
        (user.role !== null && access.roles?.includes(user.role) === true) ||
        (access.scope !== undefined && user.scopes.includes(access.scope));
      if (!allowed) {
        // A refusal is never answered from memory: a token revoked since answers 401 (scopes never change).
        await app.recheckToken(request);
        await refuse(db, request, now, 'role');
        throw new ApiError(
          'HY_FORBIDDEN',
          user.role ? `角色「${user.role}」无权执行此操作 (not allowed for role ${user.role})` : 'token scope does not allow this',
        );
      }
    });
  },
  { name: 'huiying-auth' },
);

/**
 * Anonymous refusals that say something — a bearer token that is wrong, revoked or expired, a
 * session cookie that is over — are audited, at most one entry a minute per address and kind
 * (the entry counts the ones left out since the last), so unauthenticated traffic cannot flood
 * the append-only audit table. A request with no credentials at all is not audited: it is the
 * console's log-in page and scanners, counted by huiying_http_refused_total in /metrics.
 */
export class RefusalThrottle {
  private readonly last = new Map<string, { at: number; skipped: number }>();
  constructor(
    private readonly everyMs = 60_000,
    private readonly max = 10_000,
  ) {}

  /** Whether to audit now, and how many were left out before this one. */
  take(key: string, now: number): { audit: boolean; skipped: number } {
    const seen = this.last.get(key);
    if (seen && now - seen.at < this.everyMs) {
      seen.skipped++;
      return { audit: false, skipped: 0 };
    }
    if (this.last.size >= this.max) this.last.clear();
    this.last.set(key, { at: now, skipped: 0 });
    return { audit: true, skipped: seen?.skipped ?? 0 };
  }
}

async function auditAnonymous(
  db: Db,
  throttle: RefusalThrottle,
  request: FastifyRequest,
  now: Date,
  why: 'token' | 'session',
): Promise<void> {
  const { audit: due, skipped } = throttle.take(`${why}|${request.ip}`, now.getTime());
  if (!due) return;
  await audit(db, {
    at: now,
    actor: 'anonymous',
    action: 'access.refused',
    entity: 'route',
    entityId: `${request.method} ${request.routeOptions.url ?? ''}`,
    input: { why, ip: request.ip, ...(skipped > 0 ? { alsoRefusedSinceLastEntry: skipped } : {}) },
  });
}

async function refuse(db: Db, request: FastifyRequest, now: Date, why: 'role' | 'csrf' | 'scope'): Promise<void> {
  await audit(db, {
    at: now,
    actor: request.user ? actorOf(request.user) : 'anonymous',
    action: 'access.refused',
    entity: 'route',
    entityId: `${request.method} ${request.routeOptions.url ?? ''}`,
    input: { why, ip: request.ip },
  });
}

/**
 * A record outside the caller's unit: audited, and answered exactly like a record that does
 * not exist, so its title (or existence) does not leak.
 */
export async function notVisible(db: Db, request: FastifyRequest, clock: Clock, entity: string, id: string): Promise<ApiError> {
  await audit(db, {
    at: new Date(clock.now()),
    actor: request.user ? actorOf(request.user) : 'anonymous',
    action: 'access.refused',
    entity,
    entityId: id,
    input: { why: 'scope', ip: request.ip },
  });
  return new ApiError('HY_NOT_FOUND', `${entity} ${id} not found`);
}

/** The caller; only for routes whose access is not public. */
export function principal(request: FastifyRequest): Principal {
  if (!request.user) throw new ApiError('HY_UNAUTHENTICATED', '请先登录 log in first');
  return request.user;
}

export function setSessionCookie(request: FastifyRequest, reply: FastifyReply, secret: string, expiresAt: Date): void {
  reply.setCookie(SESSION_COOKIE, secret, {
    httpOnly: true,
    sameSite: 'lax',
    secure: request.protocol === 'https',
    path: '/',
    expires: expiresAt,
  });
}

export function clearSessionCookie(reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, { path: '/' });
}
