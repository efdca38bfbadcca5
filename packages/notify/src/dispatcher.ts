/**
 * The dispatcher: sends notification rows through the channel adapters, outside any consumer
 * handler. Each pass claims due rows under a lease (packages/db notifications.ts), sends them
 * outside any transaction, and marks them fenced by the lease token: the sent ones together once
 * the pass's sends are over (one statement, one audit row each), a retry or failure at once. Business time
 * (backoff, lease expiry) comes from the injected clock; only the per-send I/O timeout is real
 * time, because it bounds a socket, not a deadline.
 *
 * Why the lease must be longer than every send: a send still running when its lease expires
 * can be claimed by another dispatcher and sent again. The constructor refuses a lease that
 * does not exceed every adapter's maxSendMs (plus a margin for the claim and the mark).
 */
import type { Clock } from '@huiying/clock';
import {
  type ClaimedNotification,
  claimNotifications,
  type Db,
  markNotificationFailed,
  markNotificationRetry,
  markNotificationsSent,
} from '@huiying/db';
import type { Logger } from 'pino';
import { type Channel, type ChannelAdapter, DeliveryError, type OutboundMessage } from './channels/port.ts';

export interface Backoff {
  /** First retry after this long; doubling each attempt … */
  baseMs: number;
  /** … up to this. */
  capMs: number;
  /** Transient failures give up (failed, alert) after this many attempts. */
  maxAttempts: number;
}

/** 30 s, 1, 2, 4 … min, capped at 30 min: an SMTP relay down for an hour loses nothing (≈ 5 h of tries). */
export const DEFAULT_BACKOFF: Backoff = { baseMs: 30_000, capMs: 30 * 60_000, maxAttempts: 15 };

export function backoffDelay(attempts: number, b: Backoff = DEFAULT_BACKOFF): number {
  return Math.min(b.capMs, b.baseMs * 2 ** Math.max(0, attempts - 1));
}

/** Points a test can stop the process at (a SIGKILL test kills the child there). */
export interface DispatchHooks {
  beforeSend?(n: ClaimedNotification): Promise<void> | void;
  afterSend?(n: ClaimedNotification): Promise<void> | void;
}

export interface DispatcherOptions {
  db: Db;
  clock: Clock;
  adapters: Partial<Record<Channel, ChannelAdapter>>;
  logger: Logger;
  /** Default 5 minutes; must exceed every adapter's maxSendMs. */
  leaseMs?: number;
  /** Rows claimed per pass (sent concurrently: at most one per matter and channel). */
  batch?: number;
  backoff?: Backoff;
  /** Without a nudge (wake), look for due rows this often (clock time). */
  pollMs?: number;
  /** Message-ID domain: `<notification-id@domain>`. */
  messageIdDomain?: string;
  hooks?: DispatchHooks;
}

export interface PassResult {
  sent: number;
  retried: number;
  failed: number;
  /** Marks refused because the lease had been lost (see the constructor comment). */
  fenced: number;
}

/** Margin for the claim and mark round trips on top of the slowest send. */
const LEASE_MARGIN_MS = 30_000;

export class Dispatcher {
  private readonly leaseMs: number;
  private readonly backoff: Backoff;
  private cancelTimer: (() => void) | undefined;
  private running: Promise<PassResult> | undefined;
  private again = false;
  private stopped = true;
  /** Aborted by stop(): sends in flight are abandoned and the pass in progress ends. */
  private abort = new AbortController();

  constructor(private readonly o: DispatcherOptions) {
    this.leaseMs = o.leaseMs ?? 5 * 60_000;
    this.backoff = o.backoff ?? DEFAULT_BACKOFF;
    for (const adapter of Object.values(o.adapters)) {
      if (adapter && adapter.maxSendMs + LEASE_MARGIN_MS > this.leaseMs) {
        throw new Error(
          `dispatcher lease ${this.leaseMs} ms must exceed the ${adapter.channel} adapter's longest send (${adapter.maxSendMs} ms) plus ${LEASE_MARGIN_MS} ms`,
        );
      }
    }
  }

  messageIdOf(id: string): string {
    return `<${id}@${this.o.messageIdDomain ?? 'huiying.local'}>`;
  }

  /** Poll on the clock and send what is due until stop(). */
  start(): void {
    this.stopped = false;
    if (this.abort.signal.aborted) this.abort = new AbortController();
    this.schedule(0);
  }

  /** Something was just queued (in this process): look now rather than at the next poll. */
  wake(): void {
    if (!this.stopped) this.schedule(0);
  }

  /**
   * Stops promptly, whatever the relays do: the pass in progress claims nothing more (a relay
   * refusing connections under a fast clock would otherwise be retried pass after pass), and a
   * send in flight is not waited for (a relay that accepts and never answers holds it for the
   * adapter's whole timeout, up to maxSendMs): it is abandoned, its row put back as due now for
   * the next dispatcher, and the adapters are closed, which drops their connections. If the
   * relay accepted the message in that instant, the next dispatcher sends it again with the same
   * Message-ID — the window packages/notify/README.md documents for a crash after acceptance.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelTimer?.();
    this.abort.abort();
    const closing = Promise.all(Object.values(this.o.adapters).map((a) => a?.close()));
    await this.running?.catch(() => undefined);
    await closing;
  }

  private schedule(delayMs: number): void {
    this.cancelTimer?.();
    const run = () => {
      if (this.stopped) return;
      if (this.running) {
        this.again = true;
        return;
      }
      const p = this.drain()
        .catch((error: unknown) => {
          this.o.logger.error({ err: String(error) }, 'notification dispatch pass failed');
          return { sent: 0, retried: 0, failed: 0, fenced: 0 };
        })
        .finally(() => {
          this.running = undefined;
          if (this.stopped) return;
          const again = this.again;
          this.again = false;
          this.schedule(again ? 0 : (this.o.pollMs ?? 15_000));
        });
      this.running = p;
      void this.o.clock.track?.(p);
    };
    if (delayMs > 0) {
      this.cancelTimer = this.o.clock.at(this.o.clock.now() + delayMs, run);
      return;
    }
    // "Look now" needs no clock timer: a fake or scaled clock would only fire it at its next
    // step, and a nudge after a commit must not wait for simulated time to move.
    const immediate = setImmediate(run);
    this.cancelTimer = () => clearImmediate(immediate);
  }

  /** Passes until nothing is due at the clock's now. */
  async drain(): Promise<PassResult> {
    const total: PassResult = { sent: 0, retried: 0, failed: 0, fenced: 0 };
    for (;;) {
      if (this.abort.signal.aborted) return total;
      const r = await this.runOnce();
      total.sent += r.sent;
      total.retried += r.retried;
      total.failed += r.failed;
      total.fenced += r.fenced;
      if (r.sent + r.retried + r.failed + r.fenced === 0) return total;
    }
  }

  /**
   * One pass: claim due rows, send them concurrently, mark each retry or failure as it comes, and
   * the sent ones together at the end — one statement for the pass (markNotificationsSent), as
   * queueing writes a batch and its audit rows in one. The next pass claims only after this one
   * anyway, so waiting for the pass's slowest send delays no mail; a crash before the mark
   * resends what was accepted, with the same Message-ID (README, "The one duplicate window").
   */
  async runOnce(): Promise<PassResult> {
    const { db, clock, logger } = this.o;
    const claimed = await claimNotifications(db, { now: new Date(clock.now()), leaseMs: this.leaseMs, limit: this.o.batch ?? 20 });
    const result: PassResult = { sent: 0, retried: 0, failed: 0, fenced: 0 };
    const delivered: ClaimedNotification[] = [];
    await Promise.all(
      claimed.map(async (n) => {
        const outcome = await this.deliver(n);
        if (outcome === 'delivered') delivered.push(n);
        else result[outcome]++;
      }),
    );
    if (delivered.length > 0) {
      delivered.sort((a, b) => claimed.indexOf(a) - claimed.indexOf(b));
      const marked = await markNotificationsSent(
        db,
        delivered.map((n) => ({ id: n.id, leaseToken: n.leaseToken, messageId: this.messageIdOf(n.id) })),
        new Date(clock.now()),
      );
      for (const n of delivered) {
        if (marked.has(n.id)) result.sent++;
        else {
          result.fenced++;
          logger.warn({ notification: n.id }, 'sent, but the lease had been lost: another dispatcher may send it again');
        }
      }
    }
    return result;
  }

  /** Sends one row: 'delivered' (marked sent by the pass, with the others), or marked retry / failed here. */
  private async deliver(n: ClaimedNotification): Promise<Exclude<keyof PassResult, 'sent'> | 'delivered'> {
    const { db, clock, logger } = this.o;
    const adapter = this.o.adapters[n.channel as Channel];
    const message: OutboundMessage = {
      id: n.id,
      channel: n.channel as Channel,
      recipient: n.recipient,
      subject: n.subject,
      text: n.text,
      html: n.html,
      messageId: this.messageIdOf(n.id),
    };
    let error: DeliveryError | undefined;
    try {
      if (!adapter) throw new DeliveryError(`no adapter configured for channel ${n.channel}`, false);
      await this.o.hooks?.beforeSend?.(n);
      // A little past the adapter's own timeouts, which should fire first and classify the error.
      await withTimeout(adapter.send(message), adapter.maxSendMs + 1_000, n.channel, this.abort.signal);
      await this.o.hooks?.afterSend?.(n);
    } catch (e) {
      error = e instanceof DeliveryError ? e : new DeliveryError(e instanceof Error ? e.message : String(e), false);
    }
    if (!error) return 'delivered';
    const now = new Date(clock.now());
    // Abandoned by stop(): due again at once for whoever runs next; not a failure of the relay.
    const abandoned = error instanceof StopError;
    const giveUp = !abandoned && (!error.transient || n.attempts >= this.backoff.maxAttempts);
    logger.warn(
      { notification: n.id, channel: n.channel, attempts: n.attempts, transient: error.transient, err: error.message },
      giveUp
        ? 'notification failed for good'
        : abandoned
          ? 'send abandoned: the dispatcher is stopping'
          : 'notification failed; will retry',
    );
    const retryAt = abandoned ? now : new Date(now.getTime() + backoffDelay(n.attempts, this.backoff));
    const ok = giveUp
      ? await markNotificationFailed(db, n, now, error.message)
      : await markNotificationRetry(db, n, now, retryAt, error.message);
    if (!ok) return 'fenced';
    return giveUp ? 'failed' : 'retried';
  }
}

class StopError extends DeliveryError {
  constructor(channel: string) {
    super(`${channel} send abandoned: the dispatcher stopped`, true);
  }
}

/** A hard bound on one send (real time: it bounds a socket), cut short by stop(). */
function withTimeout<T>(p: Promise<T>, ms: number, channel: string, signal: AbortSignal): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeliveryError(`${channel} send exceeded ${ms} ms`, true)), ms);
    onAbort = () => reject(new StopError(channel));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  // The send itself may still settle after it was abandoned: nobody listens then.
  p.catch(() => undefined);
  return Promise.race([p, timeout]).finally(() => {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
  });
}
