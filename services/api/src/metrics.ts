import { type Db, rowsOf, sql } from '@huiying/db';
import { registerOutboxPendingGauge } from '@huiying/http';
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { LiveFeed } from './live.ts';

/**
 * `/metrics` in Prometheus text. Gauges over the database are read at scrape time (one small
 * query each), so a scrape shows the state, not a sample of it. A registry per app: two apps
 * in one process (tests) do not share counters.
 */
export function registerMetrics(app: FastifyInstance, deps: { db: Db; live: LiveFeed }): Registry {
  const registry = new Registry();
  const latency = new Histogram({
    name: 'huiying_http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const refused = new Counter({
    name: 'huiying_http_refused_total',
    help: 'Requests refused: 401 unauthenticated, 403 forbidden',
    labelNames: ['status'] as const,
    registers: [registry],
  });
  const { db, live } = deps;
  new Gauge({
    name: 'huiying_clocks',
    help: 'Incident clocks by state',
    labelNames: ['kind', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const rows = rowsOf<{ kind: string; state: string; n: number }>(
        await db.execute(
          sql`select kind, state, count(*)::int as n from clocks where state in ('running', 'breached') group by kind, state`,
        ),
      );
      for (const r of rows) this.set({ kind: r.kind, state: r.state }, r.n);
    },
  });
  new Gauge({
    name: 'huiying_open_alerts',
    help: 'Alerts neither acknowledged nor retracted, by kind',
    labelNames: ['kind'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const rows = rowsOf<{ kind: string; n: number }>(
        await db.execute(
          sql`select kind, count(*)::int as n from alerts where acknowledged_at is null and retracted_at is null group by kind`,
        ),
      );
      for (const r of rows) this.set({ kind: r.kind }, r.n);
    },
  });
  new Gauge({
    name: 'huiying_outbox_lag_seconds',
    help: 'Age of the oldest unpublished outbox message (0 when none)',
    registers: [registry],
    async collect() {
      const [r] = rowsOf<{ age: number | null }>(
        await db.execute(sql`select extract(epoch from (now() - min(created_at)))::float8 as age from outbox where published_at is null`),
      );
      this.set(Math.max(0, r?.age ?? 0));
    },
  });
  registerOutboxPendingGauge(registry, db);
  new Gauge({
    name: 'huiying_mail_queue',
    help: 'Escalation notifications (and legacy mails) by status',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const rows = rowsOf<{ status: string; n: number }>(
        // The ladder's notifications and what the retired breach mailer left behind.
        await db.execute(
          sql`select status, count(*)::int as n from (select status from notifications union all select status from emails) q group by status`,
        ),
      );
      for (const r of rows) this.set({ status: r.status }, r.n);
    },
  });
  new Gauge({
    name: 'huiying_sse_clients',
    help: 'Connected live-board (SSE) clients',
    registers: [registry],
    collect() {
      this.set(live.size);
    },
  });

  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    latency.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    if (reply.statusCode === 401 || reply.statusCode === 403) refused.inc({ status: String(reply.statusCode) });
    done();
  });
  return registry;
}
