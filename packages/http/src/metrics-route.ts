import { type Db, rowsOf, sql } from '@huiying/db';
import { Gauge, type Registry } from 'prom-client';
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

/**
 * `huiying_outbox_pending` on `registry`: the unpublished outbox messages, counted at scrape time
 * (one small query). Every process that writes the outbox shows it: API, engine, ingest.
 */
export function registerOutboxPendingGauge(registry: Registry, db: Db): Gauge {
  return new Gauge({
    name: 'huiying_outbox_pending',
    help: 'Unpublished outbox messages (what the relays have still to publish)',
    registers: [registry],
    async collect() {
      const [r] = rowsOf<{ n: number }>(await db.execute(sql`select count(*)::int as n from outbox where published_at is null`));
      this.set(r?.n ?? 0);
    },
  });
}
