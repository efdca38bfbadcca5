import { createHash } from 'node:crypto';
import type { DbHandle } from '@huiying/db';
import type { Logger } from 'pino';

/** A page as it goes out: the serialized JSON's bytes and their entity tag, both made once per page. */
export interface SentPage {
  body: Buffer;
  etag: string;
}

export function sentPage(json: string): SentPage {
  const body = Buffer.from(json);
  return { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 32)}"` };
}

/** Whether an If-None-Match header names `etag` (a list, or `*`; weak tags compare equal, RFC 9110 13.1.2). */
export function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  if (ifNoneMatch.trim() === '*') return true;
  return ifNoneMatch.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

/**
 * A cache of serialized list pages (T: the page as it is sent) (the duty board's first page, asked for by every open
 * console, every few seconds), invalidated by PostgreSQL itself: migration 0014 notifies
 * `huiying_board` after every committed change to incidents or units, from whichever process
 * made it. A page is kept under the generation it was computed in; a notification starts a new
 * generation, so a page computed from a snapshot older than a commit is never served after that
 * commit's notification has arrived.
 *
 * The notification travels asynchronously, so two more sources invalidate at once in this
 * process: every write request it answers (`invalidate()` after a non-GET response: a duty
 * officer who grades an incident sees it graded on the next list), and every engine event the
 * live feed receives (the console hears of a change over SSE only after this process has).
 *
 * Without a working LISTEN (not started, or its connection lost) nothing is cached: every
 * request reads the database until listening works again.
 */
export class ListCache<T = string> {
  private generation = 0;
  private listening = false;
  private stopped = false;
  private unlisten: (() => Promise<void>) | undefined;
  private retry: NodeJS.Timeout | undefined;
  private readonly pages = new Map<string, { generation: number; body: T }>();
  private readonly inFlight = new Map<string, { generation: number; body: Promise<T> }>();
  hits = 0;
  misses = 0;

  constructor(
    private readonly o: {
      listen?: DbHandle['listen'] | undefined;
      logger: Logger;
      channel?: string;
      /** Pages kept (least recently used dropped first). */
      max?: number;
      /** Also told of every notification (the statistics rollup's prompt runs: one LISTEN per process). */
      onNotify?: () => void;
      retryMs?: number;
    },
  ) {}

  get enabled(): boolean {
    return this.listening;
  }

  async start(): Promise<void> {
    if (!this.o.listen || this.stopped) return;
    try {
      this.unlisten = await this.o.listen(
        this.o.channel ?? 'huiying_board',
        () => {
          this.invalidate();
          this.o.onNotify?.();
        },
        (error) => {
          this.listening = false;
          this.invalidate();
          this.o.logger.warn({ err: String(error) }, 'list cache: LISTEN lost, serving from the database until it is back');
          this.scheduleRetry();
        },
      );
      // Anything cached before (nothing, or pages from before the loss) may have missed a notification.
      this.invalidate();
      this.listening = true;
    } catch (error) {
      this.o.logger.warn({ err: String(error) }, 'list cache: cannot LISTEN, not caching');
      this.scheduleRetry();
    }
  }

  private scheduleRetry(): void {
    if (this.stopped || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.start();
    }, this.o.retryMs ?? 5_000);
    this.retry.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.listening = false;
    if (this.retry) clearTimeout(this.retry);
    await this.unlisten?.();
  }

  invalidate(): void {
    this.generation++;
    this.pages.clear();
    this.inFlight.clear();
  }

  /** The page under `key`: cached, being computed by another request, or computed now. */
  async get(key: string, compute: () => Promise<T>): Promise<T> {
    if (!this.listening) return compute();
    const generation = this.generation;
    const page = this.pages.get(key);
    if (page && page.generation === generation) {
      this.hits++;
      // Map order is insertion order: re-insert to mark as recently used.
      this.pages.delete(key);
      this.pages.set(key, page);
      return page.body;
    }
    const running = this.inFlight.get(key);
    if (running && running.generation === generation) {
      this.hits++;
      return running.body;
    }
    this.misses++;
    const body = compute();
    this.inFlight.set(key, { generation, body });
    try {
      const text = await body;
      if (this.generation === generation && this.listening) {
        this.pages.set(key, { generation, body: text });
        if (this.pages.size > (this.o.max ?? 500)) this.pages.delete(this.pages.keys().next().value!);
      }
      return text;
    } finally {
      if (this.inFlight.get(key)?.body === body) this.inFlight.delete(key);
    }
  }
}
