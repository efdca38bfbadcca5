/**
 * Keeps the head of the timer's queues clean. The claim (`wake_at <= now order by wake_at`) and the
 * re-arm (`min(wake_at)`) start at the earliest entry of a queue's index, and every fired wake
 * moves its row to a later instant, leaving a dead entry at that head which each scan walks until
 * VACUUM removes it. Autovacuum may be off (it is on this machine kind's PostgreSQL), and when on it
 * looks at a database once a minute and vacuums a table only after a fifth of it changed: in a
 * 1 000 000-over-300 s run the claim grew from 1.3 to 4.5 ms and the re-arm from 0.5 to 3.2 ms,
 * reading 2 000 index pages for no row. So the timer vacuums a queue itself once it has fired
 * `everyFired` of its wakes, at most every `minIntervalMs`, one at a time, beside its passes.
 *
 * VACUUM runs outside a transaction on a pooled connection. A role that does not own the table
 * gets PostgreSQL's warning and nothing happens; a failure is logged and the timer goes on.
 */
import type { Clock } from '@huiying/clock';
import { type Db, sql } from '@huiying/db';
import type { Logger } from 'pino';

export interface QueueVacuumOptions {
  /** Fired wakes of one queue between two vacuums of it (0: never vacuum). */
  everyFired: number;
  /** Least time between two vacuums of one queue. */
  minIntervalMs: number;
}

export const DEFAULT_QUEUE_VACUUM: QueueVacuumOptions = { everyFired: 20_000, minIntervalMs: 10_000 };

export class QueueVacuum {
  private readonly fired = new Map<string, number>();
  private readonly lastAt = new Map<string, number>();
  private running: Promise<void> | undefined;

  constructor(
    private readonly deps: { db: Db; clock: Clock; logger: Logger },
    private readonly options: QueueVacuumOptions = DEFAULT_QUEUE_VACUUM,
  ) {}

  /** `n` wakes of `table` fired; vacuum it now if it is time and no vacuum is running. */
  noteFired(table: string, n: number): void {
    if (n <= 0 || this.options.everyFired <= 0) return;
    const fired = (this.fired.get(table) ?? 0) + n;
    this.fired.set(table, fired);
    const now = this.deps.clock.now();
    if (this.running || fired < this.options.everyFired || now - (this.lastAt.get(table) ?? -Infinity) < this.options.minIntervalMs) return;
    this.fired.set(table, 0);
    this.lastAt.set(table, now);
    const started = Date.now();
    const run = this.deps.db
      .execute(sql.raw(`vacuum ${table}`))
      .then(() => this.deps.logger.debug({ table, fired, ms: Date.now() - started }, 'timer queue vacuumed'))
      .catch((error: unknown) => this.deps.logger.warn({ err: error, table }, 'timer queue vacuum failed'))
      .finally(() => {
        this.running = undefined;
      });
    this.running = run;
    this.deps.clock.track?.(run);
  }

  /** Resolves when a vacuum in progress has finished. */
  settled(): Promise<void> {
    return this.running ?? Promise.resolve();
  }
}
