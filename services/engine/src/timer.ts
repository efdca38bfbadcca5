import type { Clock } from '@huiying/clock';
import type { Logger } from 'pino';
import { type DeadlineKind, fireDueOf, nextWakeAfter, nextWakeOf, type OnCommitted } from './deadlines.ts';
import { obligationDeadlines } from './obligations.ts';
import { DEFAULT_QUEUE_VACUUM, QueueVacuum, type QueueVacuumOptions } from './queue-vacuum.ts';
import { type EngineDeps, incidentDeadlines } from './store.ts';

/** Every aggregate with deadlines: one claim/advance/persist pipeline serves them all. */
const KINDS: readonly DeadlineKind[] = [incidentDeadlines, obligationDeadlines];

/**
 * Wakes at the earliest `next_wake_at` in the database, not on a polling tick: the deadline
 * lives in Postgres, the in-process timer is only a cache of "the next one". After a restart
 * `start()` finds due work again (anything already overdue fires at once). Another engine's
 * changes arrive through `nudge` (LISTEN/NOTIFY or in-process) and a slow `resyncMs` safety net.
 *
 * With `passes` > 1, passes overlap: while one pass claims and commits, it looks up the next wake
 * after its own `now` and arms for it, so a clock falling due meanwhile starts a second pass at
 * once (up to `passes` in flight; SKIP LOCKED keeps them apart) instead of waiting for the first
 * to commit and re-arm. That lowers the typical wait (p50 14–19 against 21–30 ms at 3 333 dues/s)
 * but splits the same dues into 2.4× as many transactions, each with its fixed cost: PostgreSQL's
 * CPU per fired clock rose 187 → 285 µs and the engine's 118 → 139 µs, and p99 did not improve
 * reliably (49–122 against 63–99 ms; bench/README.md). So the default is one pass at a time; what
 * did cut the lateness is the queue's vacuum (queue-vacuum.ts): one pass at a time with it, p99
 * 33 / 36 ms and max 52 / 72 ms against 43 / 56 and 134 / 93 ms without, at the same CPU.
 */
export class DeadlineTimer {
  private cancel: (() => void) | undefined;
  private armedAt: number | null = null;
  /** Passes in flight (each claims, advances and commits what is due at its own `now`). */
  private readonly inFlight = new Set<Promise<void>>();
  /** Passes that have not yet decided whether they re-arm (the last one to finish does). */
  private active = 0;
  private rerun = false;
  private stopped = true;
  private resync: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: EngineDeps & { logger: Logger },
    private readonly options: {
      resyncMs?: number;
      onFired?: (count: number) => void;
      onCommitted?: OnCommitted;
      /** Transactions in flight while a backlog lasts (deadlines.ts fireDueOf; default 2). */
      workers?: number;
      /** Passes in flight when wakes fall due while one is still committing (default 1: see above). */
      passes?: number;
      /** When the timer vacuums its queues (queue-vacuum.ts). */
      vacuum?: QueueVacuumOptions;
    } = {},
  ) {
    this.fireDeps = options.onCommitted ? { ...deps, onCommitted: options.onCommitted } : deps;
    this.vacuum = new QueueVacuum(deps, options.vacuum ?? DEFAULT_QUEUE_VACUUM);
  }

  private readonly vacuum: QueueVacuum;

  private get maxPasses(): number {
    return Math.max(1, this.options.passes ?? 1);
  }

  private readonly fireDeps: EngineDeps & { onCommitted?: OnCommitted };

  private get clock(): Clock {
    return this.deps.clock;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.rearm();
    const resyncMs = this.options.resyncMs ?? 10_000;
    if (resyncMs > 0) {
      this.resync = setInterval(() => void this.rearm().catch((e) => this.deps.logger.error(e, 'timer resync failed')), resyncMs);
      this.resync.unref();
    }
  }

  stop(): Promise<void> {
    this.stopped = true;
    this.cancel?.();
    this.cancel = undefined;
    this.armedAt = null;
    if (this.resync) clearInterval(this.resync);
    return this.settled();
  }

  /** Resolves when every pass in flight has committed or rolled back. */
  private async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
    await this.vacuum.settled();
  }

  /** Something may now be due earlier than what we armed for. */
  nudge(at: number): void {
    if (this.stopped) return;
    if (this.armedAt === null || at < this.armedAt) this.arm(at);
  }

  /** Look up the next due instant in the database and arm for it. */
  async rearm(): Promise<void> {
    if (this.stopped) return;
    const nudged = this.armedAt;
    const next = await nextWakeOf(this.deps.db, KINDS);
    // A nudge that arrived while the query ran may be earlier than its (older) answer.
    const at = next === null ? nudged : nudged === null ? next : Math.min(next, nudged);
    if (at === null) {
      this.cancel?.();
      this.cancel = undefined;
      this.armedAt = null;
    } else {
      this.arm(at);
    }
  }

  private arm(at: number): void {
    this.cancel?.();
    this.armedAt = at;
    this.cancel = this.clock.at(at, () => {
      this.armedAt = null;
      this.cancel = undefined;
      const work = this.fire();
      this.clock.track?.(work);
    });
  }

  /**
   * Start a pass for what is due; with `passes` already in flight, a wake-up collapses into one
   * more round of a running pass instead.
   */
  private fire(): Promise<void> {
    if (this.active >= this.maxPasses) {
      this.rerun = true;
      return this.settled();
    }
    this.active++;
    const pass = this.pass();
    this.inFlight.add(pass);
    void pass.finally(() => this.inFlight.delete(pass));
    return pass;
  }

  /** Fire what is due, then re-arm (the last pass to finish does). Never rejects. */
  private async pass(): Promise<void> {
    let counted = true;
    // Synchronous, so two passes ending together cannot both leave the re-arm to the other.
    const leave = (): number => {
      if (counted) {
        counted = false;
        this.active--;
      }
      return this.active;
    };
    try {
      let n = 0;
      do {
        this.rerun = false;
        const now = this.clock.now();
        // Arm for the next wake after `now` while this pass works: if it falls due before this
        // pass commits, another pass takes it (rows due by `now` are this pass's to claim).
        const ahead = this.maxPasses > 1 ? this.lookAhead(now) : undefined;
        n = 0;
        for (const kind of KINDS) {
          const fired = await fireDueOf(kind, this.fireDeps, now, 200, this.options.workers ?? 2);
          this.vacuum.noteFired(kind.queue.table, fired);
          n += fired;
        }
        await ahead;
        if (n > 0) this.options.onFired?.(n);
      } while (this.rerun && !this.stopped);
      // Another pass still in flight re-arms when it ends; its rows may be the ones due now.
      if (leave() > 0) return;
      if (n === 0 && this.rerun === false) {
        // Nothing claimable although something was due: another engine holds those rows. Look
        // again shortly instead of spinning on a wake-up that is already in the past.
        const next = await nextWakeOf(this.deps.db, KINDS);
        if (next !== null && next <= this.clock.now()) {
          this.arm(this.clock.now() + 100);
          return;
        }
      }
      await this.rearm();
    } catch (error) {
      leave();
      this.deps.logger.error(error, 'firing due clocks failed; retrying');
      if (!this.stopped) this.arm(this.clock.now() + 1000);
    }
  }

  /** Arm for the earliest wake after `now`, unless armed for an earlier one already. */
  private async lookAhead(now: number): Promise<void> {
    try {
      const next = await nextWakeAfter(this.deps.db, KINDS, now);
      if (next !== null) this.nudge(next);
    } catch (error) {
      // The pass re-arms from the database when it ends; only the overlap is lost.
      this.deps.logger.warn(error, 'timer look-ahead failed');
    }
  }
}
