/**
 * The engine's `/metrics` (Prometheus text) on a listener of its own: the engine serves no HTTP
 * otherwise. Off unless METRICS_PORT is set; protected as the API's `/metrics` is (an
 * administrator's session or a `metrics:read` token, METRICS_ACCESS). Counts and durations only:
 * no incident titles, no ticket text, no ids in labels.
 */
import { systemClock } from '@huiying/clock';
import type { Db } from '@huiying/db';
import type { Bus, SubscribeOptions } from '@huiying/bus';
import { TOPICS } from '@huiying/bus';
import { authPlugin, installErrorHandler, registerMetricsRoute, registerOutboxPendingGauge, registerSecurity } from '@huiying/http';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Counter, Histogram, Registry } from 'prom-client';
import { candidatePoolStats } from './grouping.ts';
import { decidedAheadStats } from './signals.ts';

/** Seconds; the timer is judged at 50 ms (bench/README.md), so the fine buckets are below it. */
const LATENESS_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 60, 600];

export class EngineMetrics {
  readonly registry = new Registry();
  private readonly signals = new Counter({
    name: 'huiying_engine_signals_applied_total',
    help: 'Signal messages from the bus applied and committed by this process (the periodic sweep not included)',
    registers: [this.registry],
  });
  private readonly fired = new Counter({
    name: 'huiying_engine_timer_fired_total',
    help: "Deadline wakes (clock warnings, breaches, ladder steps) this process's timer fired and committed",
    registers: [this.registry],
  });
  private readonly lateness = new Histogram({
    name: 'huiying_engine_timer_lateness_seconds',
    help: 'How late each fired wake became visible: the clock at COMMIT’s return minus its due (lateness.ts)',
    buckets: LATENESS_BUCKETS,
    registers: [this.registry],
  });

  constructor(db: Db) {
    registerOutboxPendingGauge(this.registry, db);
    // Grouping's counters live where grouping runs (this process's batches); read at each scrape.
    new Counter({
      name: 'huiying_engine_grouping_candidates_total',
      help: 'Signal batches that found the kept grouping candidates current, and batches that read them all again (another process grouped in between)',
      labelNames: ['candidates'],
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc({ candidates: 'kept' }, candidatePoolStats.kept);
        this.inc({ candidates: 'reloaded' }, candidatePoolStats.reloaded);
      },
    });
    new Counter({
      name: 'huiying_engine_grouping_decided_ahead_total',
      help: 'Signal batches decided ahead of the grouping lock while the batch before wrote: decisions used, or not used (decided again under the lock, nothing left to decide, or the batch failed first)',
      labelNames: ['outcome'],
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc({ outcome: 'used' }, decidedAheadStats.used);
        this.inc({ outcome: 'not_used' }, decidedAheadStats.discarded);
      },
    });
  }

  /** For the engine's `onTimerLateness`: one committed timer batch. */
  timerCommitted(latenessMs: readonly number[]): void {
    this.fired.inc(latenessMs.length);
    for (const ms of latenessMs) this.lateness.observe(Math.max(0, ms) / 1000);
  }

  /** The bus the engine subscribes with, counting the signal messages whose handler committed. */
  countingBus(bus: Bus): Bus {
    const signals = this.signals;
    return {
      ensureTopics: (topics) => bus.ensureTopics(topics),
      publish: (topic, messages) => bus.publish(topic, messages),
      close: () => bus.close(),
      subscribe: (options: SubscribeOptions) => {
        if (options.topic !== TOPICS.signals || !options.batchHandler) return bus.subscribe(options);
        const handle = options.batchHandler;
        return bus.subscribe({
          ...options,
          batchHandler: async (batch) => {
            await handle(batch);
            signals.inc(batch.messages.length);
          },
        });
      },
    };
  }
}

/** The listener: `GET /metrics` only, behind the same authentication as the API's. */
export async function serveEngineMetrics(o: {
  db: Db;
  metrics: EngineMetrics;
  port: number;
  host: string;
  logger: Logger;
}): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: o.logger });
  installErrorHandler(app);
  await registerSecurity(app);
  await app.register(authPlugin, { db: o.db, clock: systemClock });
  registerMetricsRoute(app, o.metrics.registry);
  await app.listen({ port: o.port, host: o.host });
  return app as unknown as FastifyInstance;
}
