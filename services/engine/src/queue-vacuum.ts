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
 * VACUUM runs outside a transaction on a pooled connection; a failure is logged and the timer
 * goes on. Only the table's owner (or a member of its role, or a superuser) may vacuum it: a service
 * login that only belongs to huiying_app, with migrations run as the owner, would get PostgreSQL's
 * warning and nothing would happen. So the first time, the timer asks; if it may not, it says so
 * once and leaves the queue to autovacuum, which migration 0040 sets to take it after 5 000
 * changed rows.
 */
import type { Clock } from '@huiying/clock';
import { type Db, rowsOf, sql } from '@huiying/db';
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
  /** Per table: whether this connection's role may vacuum it (asked once). */
  private readonly permitted = new Map<string, Promise<boolean>>();

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
    const run = (async () => {
      if (!(await this.mayVacuum(table))) return;
      const started = Date.now();
      await this.deps.db.execute(sql.raw(`vacuum ${table}`));
      this.deps.logger.debug({ table, fired, ms: Date.now() - started }, 'timer queue vacuumed');
    })()
      .catch((error: unknown) => this.deps.logger.warn({ err: error, table }, 'timer queue vacuum failed'))
      .finally(() => {
        this.running = undefined;
      });
    this.running = run;
    this.deps.clock.track?.(run);
  }

  /** Whether this connection's role owns `table` (or belongs to its owner's role, or is a superuser); warns once if not. */
  private mayVacuum(table: string): Promise<boolean> {
    let answer = this.permitted.get(table);
    if (!answer) {
      answer = (async () => {
        const [row] = rowsOf<{ may: boolean; owner: string; role: string }>(
          await this.deps.db.execute(sql`select pg_has_role(current_user, c.relowner, 'USAGE') as may,
              pg_get_userbyid(c.relowner) as owner, current_user as role
            from pg_class c where c.oid = to_regclass(${table})`),
        );
        const may = row?.may === true;
        if (!may)
          this.deps.logger.warn(
            { table, role: row?.role, owner: row?.owner },
            'the timer may not vacuum its queue (its role does not own the table): left to autovacuum (migration 0040)',
          );
        return may;
      })();
      answer.catch(() => this.permitted.delete(table));
      this.permitted.set(table, answer);
    }
    return answer;
  }

  /** Resolves when a vacuum in progress has finished. */
  settled(): Promise<void> {
    return this.running ?? Promise.resolve();
  }
}
