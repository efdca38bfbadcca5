import type { DbHandle } from './index.ts';

/**
 * A LISTEN that comes back: listens on `channel`; when LISTEN cannot start, or its connection is
 * lost, it tries again every `retryMs` (default 5 s) until stopped. What a process keeps because
 * it hears of every change (a cache, the rule pack in force) hangs on `onUp` and `onDown`:
 *
 * - `onUp` runs each time listening (re)starts, before `listening` turns true: anything derived
 *   before may have missed a notification;
 * - `onDown` runs when the connection is lost, after `listening` turned false.
 *
 * Without a `listen` (a process given no LISTEN connection) it never listens.
 */
export class KeptListen {
  private up = false;
  private stopped = false;
  private unlisten: (() => Promise<void>) | undefined;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly o: {
      listen: DbHandle['listen'] | undefined;
      channel: string;
      onNotify: (payload: string) => void;
      onUp?: () => void | Promise<void>;
      onDown?: () => void;
      logger: { warn(obj: object, msg: string): void };
      /** Names the owner in the log, e.g. "session cache". */
      label: string;
      /** What the owner does while not listening, for the log, e.g. "not caching sessions". */
      whileDown: string;
      retryMs?: number;
    },
  ) {}

  get listening(): boolean {
    return this.up;
  }

  async start(): Promise<void> {
    if (!this.o.listen || this.stopped) return;
    try {
      this.unlisten = await this.o.listen(this.o.channel, this.o.onNotify, (error) => {
        this.up = false;
        this.o.onDown?.();
        this.o.logger.warn({ err: String(error) }, `${this.o.label}: LISTEN lost, ${this.o.whileDown} until it is back`);
        this.scheduleRetry();
      });
      await this.o.onUp?.();
      this.up = true;
    } catch (error) {
      this.o.logger.warn({ err: String(error) }, `${this.o.label}: cannot LISTEN, ${this.o.whileDown}`);
      this.scheduleRetry();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.up = false;
    if (this.retry) clearTimeout(this.retry);
    await this.unlisten?.();
  }

  private scheduleRetry(): void {
    if (this.stopped || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.start();
    }, this.o.retryMs ?? 5_000);
    this.retry.unref();
  }
}
