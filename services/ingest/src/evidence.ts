import { createHash, randomUUID } from 'node:crypto';
import type { Clock } from '@huiying/clock';
import { type Db, evidence, evidenceRefs, rowsOf, sql } from '@huiying/db';
import type { Logger } from 'pino';
import { decodeFeedBody } from './feed/decode.ts';
import { oneLine } from './feed/one-line.ts';
import {
  AddressPolicy,
  DEFAULT_FETCH_POLICY,
  type FetchDeps,
  FetchError,
  type FetchPolicy,
  HostLimiter,
  safeFetch,
} from './fetch/index.ts';
import { headerText, mapLimit, parseTextArray } from './poller-helpers.ts';

/**
 * 证据留存: the page behind each incident's signals and each recorded response, archived once.
 *
 * A page may be deleted or edited hours after it was reported; the duty officer's evidence must
 * not go with it. The archiver runs on its own loop (never inside a request or a bus handler):
 * each sweep finds incident signals and responses whose link has no archive reference yet,
 * records one `evidence` row per canonical URL (shared by every signal or response pointing at
 * it), then claims pending rows with a lease and fetches them under the feed policy — every hop's
 * address checked, the body bounded while streaming, polite per host. A transient failure (a
 * timeout, a 5xx) is retried a bounded number of times with backoff across sweeps; anything
 * else, or the last attempt, is recorded as failed with its reason.
 */

export interface EvidenceOptions {
  /** The fetch policy (addresses, timeouts); its `retries` are ignored: retries are spaced across sweeps. */
  fetch: FetchPolicy;
  /** Bodies above this are not archived (recorded as `too_large`, nothing stored). */
  maxBytes: number;
  /** Attempts per page before giving up on transient failures. */
  maxAttempts: number;
  /** Backoff after the first transient failure, doubled after each further one (clock time). */
  backoffMs: number;
  /** Signals and responses looked at per sweep for new links. */
  discoverBatch: number;
  /** Pages fetched per sweep. */
  batch: number;
  concurrency: number;
  perHost: number;
  leaseMs: number;
  /** Real time between sweeps of the background loop. */
  intervalMs: number;
}

export const DEFAULT_EVIDENCE_OPTIONS: EvidenceOptions = {
  fetch: DEFAULT_FETCH_POLICY,
  maxBytes: 2 * 1024 * 1024,
  maxAttempts: 4,
  backoffMs: 60_000,
  discoverBatch: 500,
  batch: 20,
  concurrency: 4,
  perHost: 2,
  leaseMs: 5 * 60_000,
  intervalMs: 30_000,
};

export type EvidenceState = 'pending' | 'archived' | 'failed';

export interface ArchiveOutcome {
  id: string;
  url: string;
  state: EvidenceState;
  errorCode?: string;
}

const TRACKING = /^(utm_[a-z]+|spm|share_?(from|source|token)|wfr|isappinstalled|scene|clicktime|enterid|fbclid|gclid)$/i;

/**
 * The URL a page is archived under: http(s) only, host in lower case, default port, fragment
 * and tracking parameters dropped (the fetch still works; the same page shared with different
 * tracking is one archive). Null for what cannot be fetched.
 */
export function archiveUrl(raw: string): string | null {
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    return null;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
  u.hash = '';
  for (const key of [...u.searchParams.keys()]) if (TRACKING.test(key)) u.searchParams.delete(key);
  return u.href;
}

/** The archive row's id: derived from the URL, so two processes discovering one page agree. */
export const evidenceId = (url: string): string => `ev_${createHash('sha256').update(url).digest('hex').slice(0, 24)}`;

/** Types whose body is text a reader can be shown (decoded and kept beside the bytes). */
export function isTextType(contentType: string | null): boolean {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  return (
    type === '' ||
    type.startsWith('text/') ||
    type === 'application/xhtml+xml' ||
    type === 'application/xml' ||
    type === 'application/json' ||
    type.endsWith('+xml') ||
    type.endsWith('+json')
  );
}

/** A page's text: the BOM, the HTTP charset, else `<meta charset>` (what Chinese sites declare), else UTF-8 or a GB18030 guess. */
export function decodePage(body: Buffer, contentType: string | null): { text: string; encoding: string } {
  let declared = contentType ?? '';
  if (!/charset\s*=/i.test(declared)) {
    const head = new TextDecoder('latin1').decode(body.subarray(0, 4096));
    const meta = /<meta[^>]+charset\s*=\s*["']?([\w.:-]+)/i.exec(head)?.[1];
    if (meta) declared = `${declared || 'text/html'}; charset=${meta}`;
  }
  const decoded = decodeFeedBody(body, declared);
  // PostgreSQL text cannot hold NUL.
  return { text: decoded.text.replaceAll('\u0000', ''), encoding: decoded.encoding };
}

export interface EvidenceArchiverDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
  options?: Partial<EvidenceOptions>;
  /** DNS for the fetch; injected in tests. */
  fetchDeps?: Pick<FetchDeps, 'resolve'>;
  owner?: string;
}

export class EvidenceArchiver {
  readonly options: EvidenceOptions;
  readonly owner: string;
  private readonly limiter: HostLimiter;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = true;

  constructor(private readonly deps: EvidenceArchiverDeps) {
    this.options = { ...DEFAULT_EVIDENCE_OPTIONS, ...deps.options };
    this.owner = deps.owner ?? `archiver-${randomUUID().slice(0, 8)}`;
    this.limiter = new HostLimiter(this.options.perHost);
  }

  /** Sweep now and then every `intervalMs` of real time, until stopped. */
  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** Sweep soon (e.g. after a feed round brought new signals). */
  wake(): void {
    if (!this.stopped && !this.running) this.schedule(0);
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.running = this.sweep()
        .catch((error: unknown) => this.deps.logger.error({ err: error }, 'evidence sweep failed'))
        .finally(() => {
          this.running = undefined;
          if (!this.stopped) this.schedule(this.options.intervalMs);
        });
    }, ms);
    this.timer.unref();
  }

  /** One pass: record new links, then fetch what is due. */
  async sweep(): Promise<ArchiveOutcome[]> {
    await this.discover();
    const claimed = await this.claim();
    return mapLimit(claimed, this.options.concurrency, (row) => this.archive(row));
  }

  /**
   * Links of incidents' signals and of responses that have no archive reference yet: one
   * evidence row per canonical URL (kept if it exists), one reference per signal or response.
   * A link that is not an http(s) URL is recorded as failed at once, so it is not looked at again.
   */
  async discover(): Promise<number> {
    const { db } = this.deps;
    const now = new Date(this.deps.clock.now());
    const limit = this.options.discoverBatch;
    const found = rowsOf<{ kind: 'signal' | 'response'; id: string; url: string; allow_cidrs: unknown }>(
      await db.execute(sql`
        (select 'signal' as kind, s.id, s.url, coalesce(f.allow_cidrs, '{}') as allow_cidrs
         from signals s left join feeds f on f.id = s.feed_id
         where s.url is not null and s.incident_id is not null
           and not exists (select 1 from evidence_refs r where r.kind = 'signal' and r.ref_id = s.id)
         limit ${limit})
        union all
        (select 'response' as kind, p.id, p.url, '{}'::text[] as allow_cidrs
         from responses p
         where p.url is not null and p.url <> ''
           and not exists (select 1 from evidence_refs r where r.kind = 'response' and r.ref_id = p.id)
         limit ${limit})`),
    );
    if (found.length === 0) return 0;
    const pages = new Map<string, typeof evidence.$inferInsert>();
    const refs: (typeof evidenceRefs.$inferInsert)[] = [];
    for (const f of found) {
      const url = archiveUrl(f.url);
      const key = url ?? f.url.trim().slice(0, 2000);
      const id = evidenceId(key);
      const page = pages.get(key) ?? {
        id,
        url: key,
        firstSeenAt: now,
        state: url ? 'pending' : 'failed',
        allowCidrs: [] as string[],
        ...(url ? {} : { errorCode: 'bad_url', error: 'not an http(s) URL', fetchedAt: now }),
      };
      page.allowCidrs = [...new Set([...(page.allowCidrs ?? []), ...parseTextArray(f.allow_cidrs)])];
      pages.set(key, page);
      refs.push({ kind: f.kind, refId: f.id, evidenceId: id, createdAt: now });
    }
    await db.transaction(async (tx) => {
      await tx
        .insert(evidence)
        .values([...pages.values()])
        .onConflictDoNothing({ target: evidence.url });
      await tx.insert(evidenceRefs).values(refs).onConflictDoNothing();
    });
    return refs.length;
  }

  private async claim(): Promise<{ id: string; url: string; attempts: number; allowCidrs: string[] }[]> {
    const now = new Date(this.deps.clock.now());
    const until = new Date(now.getTime() + this.options.leaseMs);
    const rows = rowsOf<{ id: string; url: string; attempts: number; allow_cidrs: unknown }>(
      await this.deps.db.execute(sql`
        update evidence set lease_owner = ${this.owner}, lease_until = ${until.toISOString()}
        where id in (
          select id from evidence
          where state = 'pending'
            and (next_attempt_at is null or next_attempt_at <= ${now.toISOString()})
            and (lease_until is null or lease_until < ${now.toISOString()})
          order by next_attempt_at nulls first, first_seen_at, id
          limit ${this.options.batch}
          for update skip locked)
        returning id, url, attempts, allow_cidrs`),
    );
    return rows.map((r) => ({ id: r.id, url: r.url, attempts: Number(r.attempts), allowCidrs: parseTextArray(r.allow_cidrs) }));
  }

  private async archive(row: { id: string; url: string; attempts: number; allowCidrs: string[] }): Promise<ArchiveOutcome> {
    const { db, clock } = this.deps;
    const attempts = row.attempts + 1;
    const fenced = sql`${evidence.id} = ${row.id} and ${evidence.leaseOwner} = ${this.owner}`;
    const base = this.options.fetch;
    const policy: FetchPolicy = {
      ...base,
      maxBytes: this.options.maxBytes,
      retries: 0,
      addresses: row.allowCidrs.length === 0 ? base.addresses : new AddressPolicy([...base.addresses.allowCidrs, ...row.allowCidrs]),
    };
    try {
      const res = await safeFetch(
        { url: row.url, headers: { accept: 'text/html, application/xhtml+xml, text/plain;q=0.9, */*;q=0.5' } },
        policy,
        { ...this.deps.fetchDeps, limiter: this.limiter },
      );
      const now = new Date(clock.now());
      const contentType = headerText(res.headers['content-type']);
      const page = isTextType(contentType) ? decodePage(res.body, contentType) : undefined;
      await db
        .update(evidence)
        .set({
          state: 'archived',
          attempts,
          fetchedAt: now,
          finalUrl: res.url,
          httpStatus: res.status,
          contentType,
          size: res.body.length,
          sha256: createHash('sha256').update(res.body).digest('hex'),
          body: res.body,
          text: page?.text ?? null,
          encoding: page?.encoding ?? null,
          errorCode: null,
          error: null,
          nextAttemptAt: null,
          leaseOwner: null,
          leaseUntil: null,
        })
        .where(fenced);
      return { id: row.id, url: row.url, state: 'archived' };
    } catch (error) {
      const now = new Date(clock.now());
      const e = error instanceof FetchError ? error : new FetchError('network', oneLine(error), true);
      const retry = e.transient && attempts < this.options.maxAttempts;
      const status = e.code === 'http_status' ? Number(/HTTP (\d{3})/.exec(e.message)?.[1] ?? NaN) : NaN;
      this.deps.logger.info({ evidence: row.id, code: e.code, attempts, retry }, 'evidence not archived');
      await db
        .update(evidence)
        .set({
          state: retry ? 'pending' : 'failed',
          attempts,
          fetchedAt: now,
          httpStatus: Number.isFinite(status) ? status : null,
          errorCode: e.code,
          error: oneLine(e.message).slice(0, 500),
          nextAttemptAt: retry ? new Date(now.getTime() + this.options.backoffMs * 2 ** (attempts - 1)) : null,
          leaseOwner: null,
          leaseUntil: null,
        })
        .where(fenced);
      return { id: row.id, url: row.url, state: retry ? 'pending' : 'failed', errorCode: e.code };
    }
  }
}
