import { type Bus, parseMessage, SignalMessage, type Subscription, TOPICS } from '@huiying/bus';
import type { Clock } from '@huiying/clock';
import type { Db, DbHandle } from '@huiying/db';
import { interviewRulesOf, type RulePack } from '@huiying/domain';
import type { Logger } from 'pino';
import { handleSignals, sweepSignals } from './signals.ts';
import { type DigestOptions, DigestScheduler } from './digest.ts';
import { type HandoverOptions, HandoverScheduler } from './handover.ts';
import type { LadderWiring } from './ladder-writer.ts';
import type { OnCommitted } from './deadlines.ts';
import type { EngineDeps } from './store.ts';
import { hostDeadlineTimer, type TimerControl } from './timer-host.ts';
import { startTimerThread } from './timer-thread.ts';

export interface EngineOptions {
  db: Db;
  /** For LISTEN/NOTIFY: other engines and the API tell this one when a deadline moved earlier. */
  handle?: Pick<DbHandle, 'listen'>;
  bus: Bus;
  clock: Clock;
  /** The pack in force, asked at each use (a RulePackHolder's `current`): new clocks take the current one. */
  pack: () => RulePack;
  logger: Logger;
  groupId?: string;
  /** Signals applied per transaction (one partition's consecutive messages; default 500). */
  maxBatchSize?: number;
  resyncMs?: number;
  /** Also told when a transaction moved a deadline (the embedded relay uses it to relay at once). */
  onWake?: (at: number) => void;
  /** Renders the escalation ladder's notifications, queued in the clock change's transaction. */
  ladder?: LadderWiring;
  /**
   * Told after a commit that may have queued notifications (a timer pass, and every
   * `huiying_notify` from any process): wake the dispatcher. Never sends anything itself.
   */
  onNotify?: () => void;
  /** The leaders' daily digest (digest.ts), with the ladder's wiring; off when absent. */
  digest?: DigestOptions;
  /** Told after each committed timer batch how late each fired wake became visible (lateness.ts). */
  onTimerLateness?: OnCommitted;
  /** Handover summaries (交接班) at each shift change of the duty roster (handover.ts), with the ladder's wiring; off when absent. */
  handover?: HandoverOptions;
  /**
   * Run the deadline timer on a worker thread with its own pool on this database and the system
   * clock (timer-thread.ts), off the event loop the signal batches use. Absent: on this loop with
   * `db` and `clock` — the embedded default (PGlite is one connection in this thread) and tests.
   */
  timerThread?: {
    databaseUrl: string;
    logLevel: string;
    logName: string;
    /** The thread ended without being stopped (an error nothing caught): deadlines no longer fire. */
    onFailed: (error: unknown) => void;
  };
}

export interface RunningEngine {
  deps: EngineDeps;
  timer: TimerControl;
  stop(): Promise<void>;
}

/** The engine process: signals in from the bus, deadlines fired from the database. */
export async function startEngine(o: EngineOptions): Promise<RunningEngine> {
  const deps: EngineDeps = {
    db: o.db,
    clock: o.clock,
    pack: o.pack,
    ...(o.ladder ? { ladder: o.ladder } : {}),
    onWake: (at) => {
      o.onWake?.(at);
      timer.nudge(at);
    },
  };
  const resyncMs = o.resyncMs ?? 10_000;
  // A pass that queued notifications announced them with pg_notify('huiying_notify'), which
  // wakes the dispatcher below; only without LISTEN is every pass that fired a reason to look.
  const onFired = o.onNotify && !o.handle ? () => o.onNotify?.() : undefined;
  const timer: TimerControl = o.timerThread
    ? await startTimerThread({
        ...o.timerThread,
        ...(o.ladder ? { ladder: o.ladder } : {}),
        resyncMs,
        logger: o.logger,
        ...(onFired ? { onFired } : {}),
        ...(o.onTimerLateness ? { onCommitted: o.onTimerLateness } : {}),
      })
    : await hostDeadlineTimer({ ...deps, logger: o.logger }, o.handle?.listen, {
        resyncMs,
        ...(onFired ? { onFired } : {}),
        ...(o.onTimerLateness ? { onCommitted: o.onTimerLateness } : {}),
      });
  const digest =
    o.ladder && o.digest
      ? new DigestScheduler({
          db: o.db,
          clock: o.clock,
          logger: o.logger,
          wiring: o.ladder,
          interview: () => interviewRulesOf(o.pack()),
          options: o.digest,
          ...(o.onNotify ? { onQueued: o.onNotify } : {}),
        })
      : undefined;
  await digest?.start();
  const handover =
    o.ladder && o.handover
      ? new HandoverScheduler({
          db: o.db,
          clock: o.clock,
          logger: o.logger,
          wiring: o.ladder,
          options: o.handover,
          ...(o.onNotify ? { onQueued: o.onNotify } : {}),
        })
      : undefined;
  await handover?.start();
  // A roster edit (trigger 0019) is looked at now, not at the scheduler's next periodic resync.
  const unlistenRoster = o.handle && handover ? await o.handle.listen('huiying_roster', () => void handover.reload()) : undefined;
  // pg_notify is delivered at commit: the rows it announces are claimable by then.
  const unlistenNotify = o.handle && o.onNotify ? await o.handle.listen('huiying_notify', () => o.onNotify?.()) : undefined;
  const subscription: Subscription = await o.bus.subscribe({
    topic: TOPICS.signals,
    groupId: o.groupId ?? 'huiying-engine',
    fromBeginning: true,
    maxBatchSize: o.maxBatchSize ?? 500,
    // A batch of one partition in one transaction; partitions run in parallel. A message that
    // cannot be read fails its batch, which the bus then retries message by message, so only
    // that message is dead-lettered.
    batchHandler: async (batch) => {
      await handleSignals(
        deps,
        batch.messages.map((m) => parseMessage(SignalMessage, m.value)),
      );
    },
  });
  // Safety net for signals whose message never made it through the bus.
  const sweepMs = o.resyncMs ?? 10_000;
  let sweeping: Promise<unknown> | undefined;
  const sweeper =
    sweepMs > 0
      ? setInterval(() => {
          sweeping ??= sweepSignals(deps)
            .catch((e: unknown) => o.logger.error({ err: String(e) }, 'signal sweep failed'))
            .finally(() => (sweeping = undefined));
        }, sweepMs * 6)
      : undefined;
  sweeper?.unref();
  return {
    deps,
    timer,
    async stop() {
      if (sweeper) clearInterval(sweeper);
      await sweeping;
      await subscription.close();
      await unlistenNotify?.();
      await unlistenRoster?.();
      await digest?.stop();
      await handover?.stop();
      await timer.stop();
    },
  };
}
