import type { Clock } from '@huiying/clock';
import type { Logger } from 'pino';
import { type DeadlineKind, fireDueOf, nextWakeOf, type OnCommitted } from './deadlines.ts';
import { obligationDeadlines } from './obligations.ts';
import { type EngineDeps, incidentDeadlines } from './store.ts';

/** Every aggregate with deadlines: one claim/advance/persist pipeline serves them all. */
const KINDS: readonly DeadlineKind[] = [incidentDeadlines, obligationDeadlines];

/**
 * Wakes at the earliest `next_wake_at` in the database, not on a polling tick: the deadline
 * lives in Postgres, the in-process timer is only a cache of "the next one". After a restart
 * `start()` finds due work again (anything already overdue fires at once). Another engine's
 * changes arrive through `nudge` (LISTEN/NOTIFY or in-process) and a slow `resyncMs` safety net.
 */
export class DeadlineTimer {
  private cancel: (() => void) | undefined;
  private armedAt: number | null = null;
  private running: Promise<void> | undefined;
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
    } = {},
  ) {
    this.fireDeps = options.onCommitted ? { ...deps, onCommitted: options.onCommitted } : deps;
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
    return this.running ?? Promise.resolve();
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

  /** Fire what is due, then re-arm; concurrent wake-ups collapse into one more pass. */
  private fire(): Promise<void> {
    if (this.running) {
      this.rerun = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        let n = 0;
        do {
          this.rerun = false;
          const now = this.clock.now();
          n = 0;
          for (const kind of KINDS) n += await fireDueOf(kind, this.fireDeps, now, 200, this.options.workers ?? 2);
          if (n > 0) this.options.onFired?.(n);
        } while (this.rerun && !this.stopped);
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
        this.deps.logger.error(error, 'firing due clocks failed; retrying');
        if (!this.stopped) this.arm(this.clock.now() + 1000);
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }
}
