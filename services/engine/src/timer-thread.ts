/**
 * The production engine's deadline timer on a worker thread (ENGINE_TIMER=thread, the default of
 * `pnpm start:engine`). On the engine's event loop every round trip of a firing transaction
 * waited behind the signal batches' CPU work (≈ 0.45 ms per signal, a batch yielding every 5 ms),
 * so during a flood due clocks became visible 180–200 ms late at p99 (bench/README.md,
 * isolation). The thread runs the same DeadlineTimer through the same host (timer-host.ts) with
 * its own small PostgreSQL pool, its own LISTEN on `huiying_wake` and the system clock; it is as
 * safe beside the engine's own transactions as a second engine is (SKIP LOCKED claims, version
 * fences). The main thread forwards its in-process nudges by message and hears back the
 * committed lateness of every batch for the `timer lateness` log.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { OnCommitted } from './deadlines.ts';
import type { LadderWiring } from './ladder-writer.ts';
import type { TimerControl } from './timer-host.ts';

/** What the thread is started with (structured-cloned: data only). */
export interface TimerThreadData {
  /** The module the boot file (timer-thread-boot.mjs) loads: timer-thread-entry.ts. */
  entry: string;
  databaseUrl: string;
  ladder?: LadderWiring | undefined;
  resyncMs: number;
  /** Connections of the thread's pool: the firing transactions in flight plus the look-ups between them. */
  poolSize: number;
  /** Without LISTEN on huiying_notify in the main thread, a pass that fired is the dispatcher's cue. */
  reportFired: boolean;
  logLevel: string;
  logName: string;
}

export type ToTimerThread = { type: 'nudge'; at: number } | { type: 'rearm'; id: number } | { type: 'stop' };

export type FromTimerThread =
  | { type: 'ready' }
  | { type: 'committed'; lateness: number[] }
  | { type: 'fired'; count: number }
  | { type: 'rearmed'; id: number; error?: string }
  | { type: 'stopped' };

export interface TimerThreadOptions {
  databaseUrl: string;
  ladder?: LadderWiring | undefined;
  resyncMs: number;
  logger: Logger;
  logLevel: string;
  logName: string;
  onCommitted?: OnCommitted;
  onFired?: (count: number) => void;
  /** The thread ended without being stopped: the engine no longer fires deadlines. */
  onFailed: (error: unknown) => void;
  /** How long `stop` waits for a pass in progress before terminating the thread (default 10 s). */
  stopTimeoutMs?: number;
}

const BOOT = new URL('./timer-thread-boot.mjs', import.meta.url);
const ENTRY = new URL('./timer-thread-entry.ts', import.meta.url).href;

/** Start the timer thread; resolves once it has armed for the first due instant. */
export async function startTimerThread(o: TimerThreadOptions): Promise<TimerControl> {
  const data: TimerThreadData = {
    entry: ENTRY,
    databaseUrl: o.databaseUrl,
    ladder: o.ladder,
    resyncMs: o.resyncMs,
    // Two firing transactions (timer.ts, fireDueOf's workers), the re-arm and the queue's vacuum.
    poolSize: 5,
    reportFired: o.onFired !== undefined,
    logLevel: o.logLevel,
    logName: o.logName,
  };
  const worker = new Worker(BOOT, { workerData: data, name: 'deadline-timer' });
  let stopping = false;
  let rearmId = 0;
  const rearms = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));

  await new Promise<void>((resolve, reject) => {
    const early = (error: unknown) => reject(error instanceof Error ? error : new Error(String(error)));
    const earlyExit = (code: number) => reject(new Error(`the timer thread exited with ${code} while starting`));
    worker.once('error', early);
    worker.once('exit', earlyExit);
    worker.on('message', function ready(m: FromTimerThread) {
      if (m.type !== 'ready') return;
      worker.off('message', ready);
      worker.off('error', early);
      worker.off('exit', earlyExit);
      resolve();
    });
  });

  worker.on('message', (m: FromTimerThread) => {
    switch (m.type) {
      case 'committed':
        o.onCommitted?.(m.lateness);
        return;
      case 'fired':
        o.onFired?.(m.count);
        return;
      case 'rearmed': {
        const waiting = rearms.get(m.id);
        rearms.delete(m.id);
        if (m.error === undefined) waiting?.resolve();
        else waiting?.reject(new Error(m.error));
        return;
      }
      case 'ready':
      case 'stopped':
        return;
    }
  });
  let failure: unknown;
  worker.on('error', (error) => {
    failure = error;
  });
  void exited.then((code) => {
    for (const w of rearms.values()) w.reject(new Error('the timer thread has ended'));
    rearms.clear();
    if (!stopping) o.onFailed(failure ?? new Error(`the timer thread exited with ${code}`));
  });

  // Nudges come in bursts (one per incident of a signal batch); the timer only cares about the
  // earliest, so one message per burst carries it.
  let pending: number | null = null;
  const flush = () => {
    const at = pending;
    pending = null;
    if (at !== null && !stopping) worker.postMessage({ type: 'nudge', at } satisfies ToTimerThread);
  };

  return {
    nudge(at) {
      if (pending === null) queueMicrotask(flush);
      pending = pending === null ? at : Math.min(pending, at);
    },
    rearm() {
      if (stopping) return Promise.resolve();
      const id = ++rearmId;
      return new Promise<void>((resolve, reject) => {
        rearms.set(id, { resolve, reject });
        worker.postMessage({ type: 'rearm', id } satisfies ToTimerThread);
      });
    },
    async stop() {
      if (stopping) {
        await exited;
        return;
      }
      stopping = true;
      worker.postMessage({ type: 'stop' } satisfies ToTimerThread);
      const timeout = setTimeout(() => {
        o.logger.warn('the timer thread did not stop in time; terminating it');
        void worker.terminate();
      }, o.stopTimeoutMs ?? 10_000);
      await exited;
      clearTimeout(timeout);
    },
  };
}
