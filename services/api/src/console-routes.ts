/**
 * Serves the console bundle (services/web, built by `buildDashboard`) from memory: `/` is
 * index.html (never cached: it names the current assets), `/assets/*` are content-hashed and
 * cached for a year. The bundle is loaded on first request, so a test app that never serves a
 * page never builds it. Pages are hash routes (`/#/board`), so there is no per-page fallback.
 */
import type { ConsoleBundle } from '@huiying/web';
import type { FastifyInstance, FastifyReply } from 'fastify';

export function registerConsole(app: FastifyInstance, load: () => Promise<ConsoleBundle>): void {
  let bundle: Promise<ConsoleBundle> | undefined;
  const get = () => {
    bundle ??= load().catch((e: unknown) => {
      bundle = undefined; // try again on the next request
      throw e;
    });
    return bundle;
  };
  const serve = (path: string) => async (_req: unknown, reply: FastifyReply) => {
    const file = (await get()).files.get(path);
    if (file === undefined) return reply.code(404).send({ code: 'HY_NOT_FOUND', message: `no such file ${path}` });
    return reply
      .type(file.contentType)
      .header('cache-control', file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
      .send(file.body);
  };
  app.get('/', { schema: { hide: true } }, serve('/'));
  app.get('/assets/*', { schema: { hide: true } }, async (req, reply) =>
    serve(`/assets/${(req.params as { '*': string })['*']}`)(req, reply),
  );
}
