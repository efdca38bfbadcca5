import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, type ErrorCode } from './errors.ts';
import type { AnyFastify } from './types.ts';

/** Turns an error a service knows (its domain's) into a catalogued one; undefined = not mine. */
export type ErrorMapper = (error: unknown) => ApiError | undefined;

const BY_STATUS: Partial<Record<number, ErrorCode>> = {
  401: 'HY_UNAUTHENTICATED',
  403: 'HY_FORBIDDEN',
  404: 'HY_NOT_FOUND',
  413: 'HY_TOO_LARGE',
  429: 'HY_RATE_LIMITED',
};

/**
 * The one error handler of every HTTP process: catalogued codes, 4xx with the reason, 5xx
 * without internal detail (that goes to the log).
 */
export function installErrorHandler(app: AnyFastify, map: ErrorMapper = () => undefined): void {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const known = error instanceof ApiError ? error : map(error);
    if (known) return reply.code(known.status).send({ code: known.code, message: known.message, ...known.details });
    if (error.validation) return reply.code(400).send({ code: 'HY_VALIDATION', message: error.message });
    const status = error.statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      const code = (error as { code?: string }).code;
      const catalogued = code?.startsWith('HY_') ? (code as ErrorCode) : (BY_STATUS[status] ?? 'HY_VALIDATION');
      return reply.code(status).send({ code: catalogued, message: error.message });
    }
    request.log.error(error, 'unhandled error');
    return reply.code(500).send({ code: 'HY_INTERNAL', message: '内部错误 internal error' });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ code: 'HY_NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` }),
  );
}
