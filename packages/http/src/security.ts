import helmet, { type FastifyHelmetOptions } from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import Fastify from 'fastify';

import type { AnyFastify } from './types.ts';

const HELMET: FastifyHelmetOptions = {
  contentSecurityPolicy: {
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      fontSrc: ["'self'", 'data:'],
      objectSrc: ["'none'"],
      frameAncestors: ["'none'"],
      baseUri: ["'self'"],
      formAction: ["'self'"],
      upgradeInsecureRequests: null,
    },
  },
  // The console is served over plain HTTP on 127.0.0.1 in the embedded default.
  hsts: false,
};

let staticHeaders: Promise<Record<string, string>> | undefined;

/**
 * The headers @fastify/helmet sets with HELMET, asked of it once. Registered as it is, it builds
 * helmet's middleware chain and parses the CSP again on every request (a twentieth of the board's
 * cost per request in a profile); with no nonces and no per-route options they are the same
 * headers every time.
 */
export function securityHeaders(): Promise<Record<string, string>> {
  staticHeaders ??= (async () => {
    const probe = Fastify();
    await probe.register(helmet, HELMET);
    probe.get('/', async () => '');
    const res = await probe.inject({ method: 'GET', url: '/' });
    await probe.close();
    const skip = new Set(['content-type', 'content-length', 'date', 'connection', 'keep-alive']);
    return Object.fromEntries(Object.entries(res.headers).flatMap(([k, v]) => (skip.has(k) || v === undefined ? [] : [[k, String(v)]])));
  })();
  return staticHeaders;
}

/**
 * Security headers with a CSP for the console (scripts only from us; Element Plus sets
 * inline styles), the same on every response, and the rate limiter, off by default and
 * switched on per route (log-in).
 */
export async function registerSecurity(app: AnyFastify): Promise<void> {
  const headers = await securityHeaders();
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(headers);
    done();
  });
  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_request, context) => ({
      statusCode: 429,
      code: 'HY_RATE_LIMITED',
      message: `尝试次数过多，请 ${Math.ceil(context.ttl / 1000)} 秒后重试 (too many attempts; retry in ${Math.ceil(context.ttl / 1000)} s)`,
    }),
  });
}

/**
 * TRUST_PROXY as Fastify's `trustProxy`: unset or `false` trusts no proxy (the client is the
 * socket's peer); `true` trusts every hop; anything else is a comma-separated list of the
 * proxies' addresses or CIDR ranges (the safer choice). Behind a trusted TLS proxy,
 * X-Forwarded-Proto makes the session cookie Secure and X-Forwarded-For is the client address
 * (audit, log-in rate limits).
 */
export function trustProxyOf(value: string | undefined): boolean | string {
  const v = value?.trim() ?? '';
  if (v === '' || v === 'false') return false;
  if (v === 'true') return true;
  return v;
}
