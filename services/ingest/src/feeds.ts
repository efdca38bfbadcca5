import { randomUUID } from 'node:crypto';
import type { Clock } from '@huiying/clock';
import { TOPICS } from '@huiying/bus';
import { alerts, and, audit, type Db, enqueue, eq, feeds, inArray, rowsOf, sql } from '@huiying/db';
import { DEFAULT_SIGNAL_TIME_POLICY, type SignalTimePolicy } from '@huiying/domain';
import { cancelSourceAlertNotifications, queueSourceAlertNotifications, type SourceAlertWiring } from '@huiying/notify';
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from 'pino';
import { storeFeedItem, type StoreOutcome } from './feed-store.ts';
import { oneLine } from './feed/one-line.ts';
import type { FeedParserPath } from './feed/primary.ts';
import { DEFAULT_MAX_ITEMS_PER_POLL, readFeed } from './feed/read.ts';
import { AddressPolicy, DEFAULT_FETCH_POLICY, type FetchDeps, type FetchPolicy, HostLimiter, safeFetch } from './fetch/index.ts';
import { headerText, mapLimit, parseTextArray } from './poller-helpers.ts';

export { decodeFeedBody } from './feed/decode.ts';
export { parseFeedDate } from './feed/normalise.ts';

export interface FeedRow {
  id: string;
  url: string;
  name: string;
  etag: string | null;
  lastModified: string | null;
  addedAt: Date;
  lastSuccessAt: Date | null;
  pollIntervalSeconds: number;
  consecutiveFailures: number;
  kind: string;
  unitId: string | null;
  /** Ranges an administrator allowed this feed beyond the process-wide policy (政务外网). */
  allowCidrs: string[];
  /** Whose monitoring rules its items are matched against (0020); read when the poll claims it. */
  jurisdiction: string;
}

/** The alert a feed raises when it has been failing for `failingAlertAfterMs`; withdrawn when it recovers. */
export const feedFailingAlertId = (feedId: string): string => `feed_failing:${feedId}`;

/** The events-topic message that refreshes dashboards when a feed's alert is raised or withdrawn (nothing mails on it). */
export function feedAlertEvent(alertId: string, event: string, at: Date, unitId: string | null) {
  return {
    topic: TOPICS.events,
    key: alertId,
    payload: { v: 1, type: 'event', id: `evt_${alertId}_${event}_${at.getTime()}`, event, at: at.toISOString(), alertId, unitId },
  };
}

export interface PollResult {
  feedId: string;
  status: 'updated' | 'not_modified' | 'error';
  /** Items read from the document (at most maxItemsPerPoll). */
  items: number;
  /** New signals that may open a clock. */
  accepted: number;
  /** New signals stored as history. */
  history: number;
  /** Items already stored from another feed: one more source. */
  sourcesAdded: number;
  /** Items beyond maxItemsPerPoll, left for a later poll. */
  skipped: number;
  /** New items of an official channel, waiting to be matched as candidate responses. */
  official?: number;
  encoding?: string;
  /** rss-parser, or the tolerant fallback for a document rss-parser refused. */
  parser?: FeedParserPath;
  warnings?: string[];
  error?: string;
}

export interface FeedPollerOptions {
  fetch: FetchPolicy;
  time: SignalTimePolicy;
  maxItemsPerPoll: number;
  /** Feeds claimed per round. */
  batch: number;
  /** Polls in flight at once in this process (per host, the fetch policy's limiter applies too). */
  concurrency: number;
  perHost: number;
  /** Long enough for a whole poll with its retries; a crashed poller's feeds are free again after it. */
  leaseMs: number;
  /** Failing feeds back off exponentially up to this. */
  maxBackoffMs: number;
  /** A feed failing this long raises a `feed_failing` alert on the duty board. */
  failingAlertAfterMs: number;
}

export const DEFAULT_POLLER_OPTIONS: FeedPollerOptions = {
  fetch: DEFAULT_FETCH_POLICY,
  time: DEFAULT_SIGNAL_TIME_POLICY,
  maxItemsPerPoll: DEFAULT_MAX_ITEMS_PER_POLL,
  batch: 50,
  concurrency: 8,
  perHost: 2,
  leaseMs: 5 * 60_000,
  maxBackoffMs: 6 * 3_600_000,
  failingAlertAfterMs: 3_600_000,
};

export interface FeedPollerDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
  options?: Partial<FeedPollerOptions>;
  /** DNS and sleep for the fetch; injected in tests. */
  fetchDeps?: Omit<FetchDeps, 'limiter'>;
  /** This process's name on the lease (default: a random id). */
  owner?: string;
  /**
   * Called after every round with its results: the composition matches official channels' new
   * items to incidents and checks channels' silence here.
   */
  afterRound?: (results: PollResult[]) => Promise<void>;
  /**
   * Mail a `feed_failing` alert to the administrators and the duty officer, queued in the raising
   * transaction (packages/notify source-alerts.ts). Without it the alert is on the board only.
   */
  alertNotices?: SourceAlertWiring;
}

/**
 * Polls due feeds. Each round claims due feeds with a lease row update (`FOR UPDATE SKIP
 * LOCKED`), so however many ingest processes run, one feed is polled by one of them at a time.
 * Conditional GET validators, health and the next poll are written back fenced by the lease.
 */
export class FeedPoller {
  private task: ScheduledTask | undefined;
  readonly options: FeedPollerOptions;
  readonly owner: string;
  private readonly limiter: HostLimiter;

  constructor(private readonly deps: FeedPollerDeps) {
    this.options = { ...DEFAULT_POLLER_OPTIONS, ...deps.options };
    this.owner = deps.owner ?? `ingest-${randomUUID().slice(0, 8)}`;
    this.limiter = new HostLimiter(this.options.perHost);
  }

  start(schedule = '* * * * *'): void {
    this.task = cron.schedule(
      schedule,
      () => void this.pollDue().catch((error: unknown) => this.deps.logger.error({ err: error }, 'feed poll round failed')),
      { noOverlap: true },
    );
  }

  async stop(): Promise<void> {
    await this.task?.stop();
  }

  /** Poll the feeds whose next poll is due (the scheduled path). */
  async pollDue(): Promise<PollResult[]> {
    return this.round(true);
  }

  /** Poll every enabled feed not leased by another process, due or not (start-up, tests). */
  async pollAll(): Promise<PollResult[]> {
    return this.round(false);
  }

  /**
   * Feeds are read from the database every round, so a feed an administrator adds is polled in
   * the next round, a paused or removed one is not claimed again — no restart, and the lease
   * still gives each feed one poller.
   */
  private async round(dueOnly: boolean): Promise<PollResult[]> {
    const results: PollResult[] = [];
    const done = new Set<string>();
    let after: string | undefined;
    for (;;) {
      const leased = await this.claim(dueOnly, after);
      // pollAll walks the feeds in id order (a cursor, so none is claimed twice however many there
      // are). The scheduled path claims by due time: a feed polled earlier in this round can be due
      // again only if the round outlasted its interval (a drill's scaled clock); it is not polled
      // twice, and its lease is given back at once rather than held for leaseMs.
      if (!dueOnly) after = leased.reduce((max, f) => (f.id > max ? f.id : max), after ?? '');
      const claimed = leased.filter((f) => !done.has(f.id));
      const again = leased.filter((f) => done.has(f.id)).map((f) => f.id);
      if (again.length > 0)
        await this.deps.db
          .update(feeds)
          .set({ leaseOwner: null, leaseUntil: null })
          .where(and(eq(feeds.leaseOwner, this.owner), inArray(feeds.id, again)));
      if (claimed.length === 0) break;
      claimed.forEach((f) => done.add(f.id));
      results.push(...(await mapLimit(claimed, this.options.concurrency, (feed) => this.pollClaimed(feed))));
      if (claimed.length < this.options.batch) break;
    }
    await this.raiseFailingAlerts();
    await this.deps.afterRound?.(results);
    return results;
  }

  /**
   * A feed failing for an hour (however its backoff spaced the attempts) raises a `feed_failing`
   * alert on the duty board, once per run of failures; its recovery withdraws it (recordSuccess).
   * Idempotent across processes: the alert id is the feed's, and only a missing or withdrawn
   * alert is (re)raised.
   */
  async raiseFailingAlerts(): Promise<number> {
    const now = new Date(this.deps.clock.now());
    const threshold = new Date(now.getTime() - this.options.failingAlertAfterMs);
    return this.deps.db.transaction(async (tx) => {
      const raised = rowsOf<{
        id: string;
        feed_id: string;
        unit_id: string | null;
        failing_since: string | Date;
        last_error: string | null;
        name: string;
        url: string;
      }>(
        await tx.execute(sql`
          insert into alerts (id, feed_id, kind, unit_id, due_at, at)
          select 'feed_failing:' || f.id, f.id, 'feed_failing', f.unit_id, f.failing_since, ${now.toISOString()}
          from feeds f
          where f.enabled and f.failing_since is not null and f.failing_since <= ${threshold.toISOString()}
          on conflict (id) do update set at = excluded.at, due_at = excluded.due_at,
            acknowledged_at = null, acknowledged_by = null, retracted_at = null
            where alerts.retracted_at is not null
          returning alerts.id, alerts.feed_id, alerts.unit_id, alerts.due_at as failing_since,
            (select last_error from feeds where id = alerts.feed_id) as last_error,
            (select name from feeds where id = alerts.feed_id) as name,
            (select url from feeds where id = alerts.feed_id) as url`),
      );
      if (raised.length > 0)
        await enqueue(
          tx,
          now,
          raised.map((r) => feedAlertEvent(r.id, 'feed_failing', now, r.unit_id)),
        );
      const mailed = this.deps.alertNotices
        ? await queueSourceAlertNotifications(
            tx,
            raised.map((r) => ({
              alertId: r.id,
              kind: 'feed_failing' as const,
              raisedAt: now.getTime(),
              feed: { id: r.feed_id, name: r.name, url: r.url },
              unitId: r.unit_id,
              since: new Date(r.failing_since).getTime(),
              detail: r.last_error,
            })),
            this.deps.alertNotices,
            now.getTime(),
          )
        : undefined;
      for (const r of raised)
        await audit(tx, {
          at: now,
          actor: this.owner,
          action: 'alert.raised',
          entity: 'alert',
          entityId: r.id,
          result: {
            kind: 'feed_failing',
            feedId: r.feed_id,
            failingSince: new Date(r.failing_since).toISOString(),
            lastError: r.last_error,
            notified: mailed?.get(r.id) ?? null,
          },
        });
      return raised.length;
    });
  }

  /** Due feeds by due time; or (pollAll) every feed in id order after the cursor, compared bytewise like the cursor is kept. */
  private async claim(dueOnly: boolean, after: string | undefined): Promise<FeedRow[]> {
    const now = new Date(this.deps.clock.now());
    const until = new Date(now.getTime() + this.options.leaseMs);
    const which = dueOnly
      ? sql`and (next_poll_at is null or next_poll_at <= ${now.toISOString()}) order by next_poll_at nulls first, id`
      : after === undefined
        ? sql`order by id collate "C"`
        : sql`and id collate "C" > ${after} order by id collate "C"`;
    const rows = rowsOf<Record<string, unknown>>(
      await this.deps.db.execute(sql`
        update feeds set lease_owner = ${this.owner}, lease_until = ${until.toISOString()}
        where id in (
          select id from feeds
          where enabled and (lease_until is null or lease_until < ${now.toISOString()}) ${which}
          limit ${this.options.batch}
          for update skip locked)
        returning id, url, name, etag, last_modified, added_at, last_success_at, poll_interval_seconds, consecutive_failures,
          kind, unit_id, allow_cidrs, jurisdiction`),
    );
    return rows.map((r) => ({
      id: String(r.id),
      url: String(r.url),
      name: String(r.name),
      etag: (r.etag as string | null) ?? null,
      lastModified: (r.last_modified as string | null) ?? null,
      addedAt: new Date(r.added_at as string),
      lastSuccessAt: r.last_success_at ? new Date(r.last_success_at as string) : null,
      pollIntervalSeconds: Number(r.poll_interval_seconds),
      consecutiveFailures: Number(r.consecutive_failures),
      kind: String(r.kind),
      unitId: (r.unit_id as string | null) ?? null,
      allowCidrs: parseTextArray(r.allow_cidrs),
      jurisdiction: typeof r.jurisdiction === 'string' ? r.jurisdiction : 'default',
    }));
  }

  /** Poll one feed this process holds the lease on. */
  private async pollClaimed(feed: FeedRow): Promise<PollResult> {
    const { db, clock, logger } = this.deps;
    const now = new Date(clock.now());
    const empty = { feedId: feed.id, items: 0, accepted: 0, history: 0, sourcesAdded: 0, skipped: 0 };
    const fenced = sql`id = ${feed.id} and lease_owner = ${this.owner}`;
    try {
      const headers: Record<string, string> = {};
      if (feed.etag) headers['if-none-match'] = feed.etag;
      if (feed.lastModified) headers['if-modified-since'] = feed.lastModified;
      const res = await safeFetch({ url: feed.url, headers }, this.fetchPolicyFor(feed), {
        ...this.deps.fetchDeps,
        limiter: this.limiter,
      });
      const next = new Date(clock.now() + feed.pollIntervalSeconds * 1000);
      if (res.status === 304) {
        await this.recordSuccess(feed, now, next, fenced, {});
        return { ...empty, status: 'not_modified' };
      }
      const read = await readFeed(res.body, headerText(res.headers['content-type']), {
        feedId: feed.id,
        feedUrl: res.url,
        fetchedAt: now.getTime(),
        feedAddedAt: feed.addedAt.getTime(),
        firstPoll: feed.lastSuccessAt === null,
        maxItems: this.options.maxItemsPerPoll,
        timePolicy: this.options.time,
      });
      const counts: Record<StoreOutcome, number> = { accepted: 0, history: 0, source_added: 0, seen: 0, official: 0 };
      const official = feed.kind === 'official' ? { unitId: feed.unitId } : undefined;
      // One item per transaction: an item that cannot be stored loses nothing already stored.
      for (const item of read.items) {
        try {
          counts[(await storeFeedItem(db, feed, item, now, official)).outcome]++;
        } catch (error) {
          read.warnings.push(`an item could not be stored: ${oneLine(error)}`);
          logger.warn({ feed: feed.id, err: error }, 'feed item not stored');
        }
      }
      await this.recordSuccess(feed, now, next, fenced, {
        etag: headerText(res.headers.etag),
        lastModified: headerText(res.headers['last-modified']),
        items: read.items.length,
        encoding: read.encoding,
      });
      return {
        ...empty,
        status: 'updated',
        items: read.items.length,
        accepted: counts.accepted,
        history: counts.history,
        sourcesAdded: counts.source_added,
        official: counts.official,
        skipped: read.skipped,
        encoding: read.encoding,
        parser: read.parser,
        warnings: read.warnings,
      };
    } catch (error) {
      const message = oneLine(error);
      logger.warn({ feed: feed.id, reason: message }, 'feed poll failed');
      const failures = feed.consecutiveFailures + 1;
      const backoff = Math.min(this.options.maxBackoffMs, feed.pollIntervalSeconds * 1000 * 2 ** Math.min(failures, 20));
      const next = new Date(clock.now() + backoff);
      await db.transaction(async (tx) => {
        const updated = await tx
          .update(feeds)
          .set({
            lastPolledAt: now,
            lastError: message,
            lastErrorAt: now,
            failingSince: sql`coalesce(${feeds.failingSince}, ${now.toISOString()}::timestamptz)`,
            consecutiveFailures: failures,
            nextPollAt: sql`case when ${feeds.url} = ${feed.url} then ${next.toISOString()}::timestamptz end`,
            leaseOwner: null,
            leaseUntil: null,
          })
          .where(fenced)
          .returning({ id: feeds.id });
        // The first failure in a row is a state change worth the audit log; repeats are health, not news.
        if (updated.length > 0 && failures === 1)
          await audit(tx, {
            at: now,
            actor: this.owner,
            action: 'feed.failing',
            entity: 'feed',
            entityId: feed.id,
            result: { error: message },
          });
      });
      return { ...empty, status: 'error', error: message };
    }
  }

  private async recordSuccess(
    feed: FeedRow,
    now: Date,
    next: Date,
    fenced: ReturnType<typeof sql>,
    got: { etag?: string | null; lastModified?: string | null; items?: number; encoding?: string },
  ): Promise<void> {
    await this.deps.db.transaction(async (tx) => {
      const updated = await tx
        .update(feeds)
        .set({
          // An administrator changed the URL while this poll ran: the old document's validators
          // are not the new one's, and the new URL is due at once.
          ...(got.etag !== undefined
            ? {
                etag: sql`case when ${feeds.url} = ${feed.url} then ${got.etag} else ${feeds.etag} end`,
                lastModified: sql`case when ${feeds.url} = ${feed.url} then ${got.lastModified ?? null} else ${feeds.lastModified} end`,
              }
            : {}),
          ...(got.encoding ? { lastEncoding: got.encoding } : {}),
          itemsSeen: sql`${feeds.itemsSeen} + ${got.items ?? 0}`,
          lastPolledAt: now,
          lastSuccessAt: now,
          lastError: null,
          failingSince: null,
          consecutiveFailures: 0,
          nextPollAt: sql`case when ${feeds.url} = ${feed.url} then ${next.toISOString()}::timestamptz end`,
          leaseOwner: null,
          leaseUntil: null,
        })
        .where(fenced)
        .returning({ id: feeds.id });
      if (updated.length === 0) return;
      const withdrawn = await tx
        .update(alerts)
        .set({ retractedAt: now })
        .where(sql`${alerts.id} = ${feedFailingAlertId(feed.id)} and ${alerts.retractedAt} is null`)
        .returning({ id: alerts.id });
      if (withdrawn.length > 0) await enqueue(tx, now, [feedAlertEvent(withdrawn[0]!.id, 'feed_recovered', now, feed.unitId)]);
      // A recovery mails nobody; mail about the failure not yet sent is no longer news.
      const cancelled =
        withdrawn.length > 0 ? await cancelSourceAlertNotifications(tx, withdrawn[0]!.id, now.getTime(), 'feed recovered') : 0;
      if (withdrawn.length > 0)
        await audit(tx, {
          at: now,
          actor: this.owner,
          action: 'alert.withdrawn',
          entity: 'alert',
          entityId: withdrawn[0]!.id,
          result: { reason: 'feed recovered', feedId: feed.id, ...(cancelled > 0 ? { notificationsCancelled: cancelled } : {}) },
        });
      if (feed.consecutiveFailures > 0)
        await audit(tx, {
          at: now,
          actor: this.owner,
          action: 'feed.recovered',
          entity: 'feed',
          entityId: feed.id,
          result: { after: feed.consecutiveFailures },
        });
    });
  }

  /** The process-wide policy plus the ranges an administrator allowed this one feed, checked at every hop. */
  private fetchPolicyFor(feed: FeedRow): FetchPolicy {
    if (feed.allowCidrs.length === 0) return this.options.fetch;
    return { ...this.options.fetch, addresses: new AddressPolicy([...this.options.fetch.addresses.allowCidrs, ...feed.allowCidrs]) };
  }
}
