/**
 * How the deadline timer is hosted. One function sets it up — the DeadlineTimer and its LISTEN
 * on `huiying_wake` — whichever thread runs it: the engine's own event loop (`inline`: the
 * embedded default on PGlite, whose one connection lives in this thread, and every test on a
 * fake clock) or a worker thread of the production engine (timer-thread.ts), so that firing a
 * due clock never waits behind a batch of signals on the same event loop.
 */
import type { DbHandle } from '@huiying/db';
import type { Logger } from 'pino';
import type { OnCommitted } from './deadlines.ts';
import type { EngineDeps } from './store.ts';
import { DeadlineTimer } from './timer.ts';

/** What the engine holds of its timer, wherever it runs. */
export interface TimerControl {
  /** Something may now be due earlier than the timer armed for. */
  nudge(at: number): void;
  /** Look up the next due instant in the database and arm for it (tests, after writing rows directly). */
  rearm(): Promise<void>;
  /** Stop firing; resolves when a pass in progress has committed or rolled back. */
  stop(): Promise<void>;
}

export interface TimerHostOptions {
  resyncMs: number;
  /** Told after a pass that fired something (the dispatcher's wake-up when nothing LISTENs). */
  onFired?: (count: number) => void;
  onCommitted?: OnCommitted;
}

/** Start a DeadlineTimer on this thread, hearing other processes' earlier wakes through `listen`. */
export async function hostDeadlineTimer(
  deps: EngineDeps & { logger: Logger },
  listen: DbHandle['listen'] | undefined,
  options: TimerHostOptions,
): Promise<TimerControl & { timer: DeadlineTimer }> {
  const timer = new DeadlineTimer(deps, {
    resyncMs: options.resyncMs,
    ...(options.onFired ? { onFired: options.onFired } : {}),
    ...(options.onCommitted ? { onCommitted: options.onCommitted } : {}),
  });
  await timer.start();
  const unlisten = listen
    ? await listen('huiying_wake', (payload) => {
        const at = Date.parse(payload);
        if (!Number.isNaN(at)) timer.nudge(at);
      })
    : undefined;
  return {
    timer,
    nudge: (at) => timer.nudge(at),
    rearm: () => timer.rearm(),
    async stop() {
      await unlisten?.();
      await timer.stop();
    },
  };
}
