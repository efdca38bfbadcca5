import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { type DbHandle, KeptListen } from '@huiying/db';
import type { Logger } from 'pino';

/**
 * A page as it goes out, made once per page (not per request): the serialized JSON's bytes and
 * their entity tag, and the same gzip-encoded with its own tag (another representation, so
 * another strong validator: RFC 9110 8.8.3). The board's first page is ≈ 26 kB of JSON and ≈ 3 kB
 * gzipped; writing the 26 kB to the socket was a third of a cached request's CPU.
 */
export interface SentPage {
  body: Buffer;
  etag: string;
  gzip: Buffer;
  gzipEtag: string;
}

export function sentPage(json: string): SentPage {
  const body = Buffer.from(json);
  const tag = createHash('sha256').update(body).digest('base64url').slice(0, 32);
  return { body, etag: `"${tag}"`, gzip: gzipSync(body), gzipEtag: `"${tag}-gz"` };
}

/**
 * Whether an Accept-Encoding header accepts gzip (RFC 9110 12.5.3): `gzip` (or `x-gzip`, or `*`
 * when gzip is not named) with a q-value above 0. Absent or unparsable: no.
 */
export function acceptsGzip(acceptEncoding: string | undefined): boolean {
  if (!acceptEncoding) return false;
  let star: boolean | undefined;
  for (const part of acceptEncoding.split(',')) {
    const [name = '', ...params] = part.split(';');
    const coding = name.trim().toLowerCase();
    const q = params.map((p) => /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(p)?.[1]).find((v) => v !== undefined);
    const accepted = q === undefined || Number(q) > 0;
    if (coding === 'gzip' || coding === 'x-gzip') return accepted;
    if (coding === '*') star = accepted;
  }
  return star === true;
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
 * generation.
 *
 * Rebuilt off the request path, with bounded staleness: after a notification (or a live engine
 * event) a page of an older generation is still served for at most `maxStaleMs` after the first
 * change it misses, while ONE rebuild of it runs in the background (started by the first request
 * that finds it stale); a request that finds it staler than that waits for the rebuild. So a
 * burst of changes costs each page one rebuild at a time, not a stalled request per change. A
 * page is never served more than `maxStaleMs` after a change this process has been told of.
 * With `maxStaleMs` 0 (the default) a notification makes every later request wait for a page
 * read after it.
 *
 * Writes this process answers invalidate at once and completely (`invalidate()` after a non-GET
 * response: a duty officer who grades an incident sees it graded on the next list, never a
 * stale page). The cache key carries the caller's scope (a unit user's pages are their unit's
 * alone), so a stale page is only ever served to whom it was computed for.
 *
 * Without a working LISTEN (not started, or its connection lost) nothing is cached: every
 * request reads the database until listening works again.
 */
export class ListCache<T = string> {
  private generation = 0;
  private readonly kept: KeptListen;
  private readonly pages = new Map<string, Kept<T>>();
  private readonly inFlight = new Map<string, Building<T>>();
  hits = 0;
  /** Changes told of (notifications, live events) since start. */
  changes = 0;
  /** Requests answered with a page of an older generation (within `maxStaleMs`) while it was rebuilt. */
  staleHits = 0;
  misses = 0;
  /** Rebuilds started by a stale hit (not waited for by that request). */
  rebuilds = 0;

  constructor(
    private readonly o: {
      listen?: DbHandle['listen'] | undefined;
      logger: Logger;
      channel?: string;
      /** Pages kept (least recently used dropped first). */
      max?: number;
      /** How long after a change a page that misses it may still be served (default 0: never). */
      maxStaleMs?: number;
      /** Milliseconds, for the staleness bound (default `Date.now`). */
      now?: () => number;
      /** Also told of every notification (the statistics rollup's prompt runs: one LISTEN per process). */
      onNotify?: () => void;
      retryMs?: number;
    },
  ) {
    this.kept = new KeptListen({
      listen: o.listen,
      channel: o.channel ?? 'huiying_board',
      onNotify: () => {
        this.changed();
        this.o.onNotify?.();
      },
      // Anything cached before (nothing, or pages from before the loss) may have missed a notification.
      onUp: () => this.invalidate(),
      onDown: () => this.invalidate(),
      logger: o.logger,
      label: 'list cache',
      whileDown: 'serving from the database',
      ...(o.retryMs !== undefined ? { retryMs: o.retryMs } : {}),
    });
  }

  /** Pages are cached only while the process LISTENs. */
  private get listening(): boolean {
    return this.kept.listening;
  }

  get enabled(): boolean {
    return this.listening;
  }

  async start(): Promise<void> {
    await this.kept.start();
  }

  async stop(): Promise<void> {
    await this.kept.stop();
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  /** Forget every page: nothing computed before now is served again (this process's own writes, LISTEN lost). */
  invalidate(): void {
    this.generation++;
    this.pages.clear();
    this.inFlight.clear();
  }

  /**
   * Something changed elsewhere (a notification, a live engine event): pages computed before are
   * stale from now on; served for at most `maxStaleMs` more while they are rebuilt.
   */
  changed(): void {
    this.changes++;
    if (!(this.o.maxStaleMs! > 0)) return this.invalidate();
    this.generation++;
    const at = this.now();
    for (const page of this.pages.values()) page.staleSince ??= at;
    for (const build of this.inFlight.values()) build.staleSince ??= at;
  }

  /**
   * The page under `key`: cached, being computed by another request, or computed now. With
   * `stale`, a page that misses changes of the last `maxStaleMs` may be served while it is
   * rebuilt; only for pages whose readers' visibility no change can narrow (everything in the
   * jurisdiction: duty officers, leaders) — a unit user's page waits, so an incident reassigned
   * away from their unit is not on their board after the change is known here.
   */
  async get(key: string, compute: () => Promise<T>, o: { stale?: boolean } = {}): Promise<T> {
    if (!this.listening) return compute();
    const generation = this.generation;
    const page = this.pages.get(key);
    if (page && page.generation === generation) {
      this.hits++;
      this.touch(key, page);
      return page.body;
    }
    const running = this.inFlight.get(key);
    if (o.stale && page && this.servable(page)) {
      // The previous page meanwhile; one rebuild at a time (a rebuild under way, even of an
      // older generation, is kept when it ends and the next request starts the next).
      if (!running) {
        this.rebuilds++;
        this.build(key, generation, compute).catch((error: unknown) =>
          this.o.logger.warn({ err: String(error) }, 'list cache: background rebuild failed'),
        );
      }
      this.staleHits++;
      this.touch(key, page);
      return page.body;
    }
    if (running && running.generation === generation) {
      this.hits++;
      return running.body;
    }
    this.misses++;
    return this.build(key, generation, compute);
  }

  private servable(page: Kept<T>): boolean {
    return page.staleSince !== undefined && this.now() - page.staleSince <= this.o.maxStaleMs!;
  }

  /** Map order is insertion order: re-insert to mark as recently used. */
  private touch(key: string, page: Kept<T>): void {
    this.pages.delete(key);
    this.pages.set(key, page);
  }

  /** One computation of `key` under `generation`, kept when it ends unless an invalidation dropped it meanwhile. */
  private async build(key: string, generation: number, compute: () => Promise<T>): Promise<T> {
    const built: Building<T> = { generation, body: compute(), staleSince: undefined };
    this.inFlight.set(key, built);
    try {
      const body = await built.body;
      if (this.inFlight.get(key) === built && this.listening) this.keep(key, { generation, body, staleSince: built.staleSince });
      return body;
    } finally {
      if (this.inFlight.get(key) === built) this.inFlight.delete(key);
    }
  }

  private keep(key: string, page: Kept<T>): void {
    // An older rebuild finishing after a newer page was kept must not replace it.
    const kept = this.pages.get(key);
    if (kept && kept.generation > page.generation) return;
    this.pages.delete(key);
    this.pages.set(key, page);
    if (this.pages.size > (this.o.max ?? 500)) this.pages.delete(this.pages.keys().next().value!);
  }
}

/** A page kept: the generation it was computed under, and since when it misses a change (undefined: current). */
interface Kept<T> {
  generation: number;
  body: T;
  staleSince: number | undefined;
}

/** A computation under way, marked stale if a change arrives before it ends. */
interface Building<T> {
  generation: number;
  body: Promise<T>;
  staleSince: number | undefined;
}
