/**
 * The ingest process's `/metrics` (Prometheus text), on its own port beside POST /api/tickets,
 * protected as the API's is (an administrator's session or a `metrics:read` token,
 * METRICS_ACCESS). Counts and durations only: no ticket ids, callers or text in labels.
 * With INGEST_WORKERS > 1 each worker counts its own requests, and a scrape reaches one of them.
 */
import type { Db } from '@huiying/db';
import { type AnyFastify, registerMetricsRoute, registerOutboxPendingGauge } from '@huiying/http';
import { Counter, Histogram, Registry } from 'prom-client';

export class IngestMetrics {
  readonly registry = new Registry();
  private readonly latency = new Histogram({
    name: 'huiying_http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  private readonly tickets = new Counter({
    name: 'huiying_ingest_tickets_total',
    help: '12345 tickets by outcome: accepted (new), history (accepted as a back-fill), duplicate (already held), refused (invalid or out of the receivedAt bound)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  private readonly batches = new Histogram({
    name: 'huiying_ingest_group_commit_batch_size',
    help: 'Tickets written per statement: a batch request’s tickets, or the single-ticket requests answered after one group commit',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
    registers: [this.registry],
  });
  /** Since the last look: single tickets answered, statements written, and those of them that were batch requests. */
  private answered = 0;
  private writes = 0;
  private batchWrites = 0;
  private flushing = false;

  constructor(db: Db) {
    registerOutboxPendingGauge(this.registry, db);
  }

  /**
   * For ticketRoutes' `onWritten` (once per statement, before its requests are answered). A group
   * commit's requests are answered in the microtasks after it, before the next I/O callback: the
   * single tickets answered until the next turn make its batch. Two statements finishing in the
   * same turn are recorded as two batches of their mean size.
   */
  written(): void {
    this.writes++;
    if (this.flushing) return;
    this.flushing = true;
    setImmediate(() => {
      const statements = this.writes - this.batchWrites;
      if (statements > 0 && this.answered > 0) for (let i = 0; i < statements; i++) this.batches.observe(this.answered / statements);
      this.answered = 0;
      this.writes = 0;
      this.batchWrites = 0;
      this.flushing = false;
    });
  }

  /** Request latency on every route, and the tickets' outcomes read from POST /api/tickets' answers. */
  register(app: AnyFastify): void {
    app.addHook('onSend', (request, reply, payload, done) => {
      if (request.method === 'POST' && request.routeOptions.url === '/api/tickets')
        this.countTickets(request.body, reply.statusCode, payload);
      done(null, payload);
    });
    app.addHook('onResponse', (request, reply, done) => {
      const route = request.routeOptions.url ?? 'unmatched';
      this.latency.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
      done();
    });
    registerMetricsRoute(app, this.registry);
  }

  private countTickets(body: unknown, status: number, payload: unknown): void {
    if (!Array.isArray(body)) {
      // 401/403/413 refuse the request, not a ticket (the request latency counts them).
      if (status === 400) {
        this.tickets.inc({ outcome: 'refused' });
        // Refused by the statement (its receivedAt out of bounds: tickets.ts decides, ticket-writes.ts answers), not by the schema before it: one of its batch.
        if (typeof payload === 'string' && payload.includes('"message":"body/receivedAt: ')) this.answered++;
      }
      if ((status !== 200 && status !== 201) || typeof payload !== 'string') return;
      const r = JSON.parse(payload) as { duplicate: boolean; history: boolean };
      this.tickets.inc({ outcome: r.duplicate ? 'duplicate' : r.history ? 'history' : 'accepted' });
      this.answered++;
      return;
    }
    if (status !== 200 || typeof payload !== 'string') return;
    const r = JSON.parse(payload) as { accepted: number; history: number; duplicates: number; refused: number };
    this.tickets.inc({ outcome: 'accepted' }, r.accepted - r.history);
    this.tickets.inc({ outcome: 'history' }, r.history);
    this.tickets.inc({ outcome: 'duplicate' }, r.duplicates);
    this.tickets.inc({ outcome: 'refused' }, r.refused);
    this.batches.observe(body.length);
    this.batchWrites++;
  }
}
