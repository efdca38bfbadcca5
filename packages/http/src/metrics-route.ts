import type { Access } from './auth.ts';
import type { AnyFastify } from './types.ts';

/**
 * Who may scrape `/metrics`, in every process: an administrator's session, or an API token with
 * the `metrics:read` scope (what a Prometheus server is given), checked by the auth plugin as on
 * any `/api/` route. Metrics carry counts and durations only, never a citizen's data.
 */
export const METRICS_ACCESS: Access = { roles: ['admin'], scope: 'metrics:read' };

/** `GET /metrics` in Prometheus text from a registry (prom-client's Registry), behind METRICS_ACCESS. */
export function registerMetricsRoute(app: AnyFastify, registry: { contentType: string; metrics(): Promise<string> }): void {
  app.get('/metrics', { config: { access: METRICS_ACCESS }, schema: { hide: true } }, async (_request, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  );
}
