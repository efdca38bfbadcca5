import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';

import type { AnyFastify } from './types.ts';

/**
 * Security headers with a CSP for the console (scripts only from us; Element Plus sets
 * inline styles) and the rate limiter, off by default and switched on per route (log-in).
 */
export async function registerSecurity(app: AnyFastify): Promise<void> {
  await app.register(helmet, {
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
