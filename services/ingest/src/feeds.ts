import { createHash } from 'node:crypto';
import type { Clock } from '@huiying/clock';
import { type Db, eq, feeds } from '@huiying/db';
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from 'pino';
import Parser from 'rss-parser';
import { acceptSignal } from './signals.ts';

const parser = new Parser();

export interface FeedRow {
  id: string;
  url: string;
  name: string;
  etag: string | null;
  lastModified: string | null;
}

export interface PollResult {
  feedId: string;
  status: 'updated' | 'not_modified' | 'error';
  items: number;
  accepted: number;
  error?: string;
}

/**
 * Decode a feed body by its declared charset. rss-parser's own fetch only knows Node's
 * built-in encodings, so GBK/GB18030 feeds (common on government sites) are decoded here.
 */
export function decodeFeed(body: Uint8Array, contentType: string | null): string {
  const fromHeader = /charset=([\w-]+)/i.exec(contentType ?? '')?.[1];
  const head = new TextDecoder('latin1').decode(body.subarray(0, 200));
  const fromXml = /encoding=["']([\w-]+)["']/i.exec(head)?.[1];
  const charset = (fromHeader ?? fromXml ?? 'utf-8').toLowerCase();
  try {
    return new TextDecoder(charset).decode(body);
  } catch {
    return new TextDecoder('utf-8').decode(body);
  }
}

/**
 * A feed item's date as an instant, or undefined when it cannot be read (the item is still
 * taken, with our receive time). Dates without a zone are Beijing time, as Chinese sites mean.
 */
export function parseFeedDate(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const trimmed = text.trim();
  const zoneless = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(trimmed);
  const ms = Date.parse(zoneless ? `${trimmed.replace(' ', 'T')}+08:00` : trimmed);
  return Number.isFinite(ms) ? ms : undefined;
}

/** Feeds poll on a cron schedule; each poll is conditional (ETag/Last-Modified kept in the database). */
export class FeedPoller {
  private task: ScheduledTask | undefined;

  constructor(private readonly deps: { db: Db; clock: Clock; logger: Logger; fetch?: typeof fetch }) {}

  start(schedule = '* * * * *'): void {
    this.task = cron.schedule(schedule, () => void this.pollAll(), { noOverlap: true });
  }

  async stop(): Promise<void> {
    await this.task?.stop();
  }

  async pollAll(): Promise<PollResult[]> {
    const rows = await this.deps.db.select().from(feeds).where(eq(feeds.enabled, true));
    const results: PollResult[] = [];
    for (const feed of rows) results.push(await this.pollOnce(feed));
    return results;
  }

  async pollOnce(feed: FeedRow): Promise<PollResult> {
    const { db, clock, logger } = this.deps;
    const doFetch = this.deps.fetch ?? fetch;
    const now = new Date(clock.now());
    try {
      const headers: Record<string, string> = { 'user-agent': 'Huiying/0.1 (government public-opinion response monitor)' };
      if (feed.etag) headers['if-none-match'] = feed.etag;
      if (feed.lastModified) headers['if-modified-since'] = feed.lastModified;
      const res = await doFetch(feed.url, { headers, signal: AbortSignal.timeout(15_000) });
      if (res.status === 304) {
        await db.update(feeds).set({ lastPolledAt: now, lastError: null }).where(eq(feeds.id, feed.id));
        return { feedId: feed.id, status: 'not_modified', items: 0, accepted: 0 };
      }
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const xml = decodeFeed(new Uint8Array(await res.arrayBuffer()), res.headers.get('content-type'));
      const parsed = await parser.parseString(xml);
      let accepted = 0;
      for (const item of parsed.items) {
        const ref =
          item.guid ??
          item.link ??
          createHash('sha256')
            .update(`${item.title ?? ''}|${item.pubDate ?? ''}`)
            .digest('hex');
        const published = parseFeedDate(item.isoDate ?? item.pubDate ?? (item as { date?: string }).date);
        // A publish time in the future is not credible; the clock starts no later than we saw it.
        const publishedAt = published === undefined ? undefined : new Date(Math.min(published, now.getTime())).toISOString();
        const result = await acceptSignal(
          db,
          {
            source: 'feed',
            sourceRef: `${feed.id}:${ref}`,
            feedId: feed.id,
            title: item.title ?? '(无标题)',
            ...(item.contentSnippet ? { content: item.contentSnippet } : {}),
            ...(item.link ? { url: item.link } : {}),
            ...(publishedAt ? { publishedAt } : {}),
            receivedAt: now.toISOString(),
          },
          `feed:${feed.id}`,
          now,
        );
        if (!result.duplicate) accepted++;
      }
      await db
        .update(feeds)
        .set({ etag: res.headers.get('etag'), lastModified: res.headers.get('last-modified'), lastPolledAt: now, lastError: null })
        .where(eq(feeds.id, feed.id));
      return { feedId: feed.id, status: 'updated', items: parsed.items.length, accepted };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      logger.warn({ feed: feed.id, err: message }, 'feed poll failed');
      await db.update(feeds).set({ lastPolledAt: now, lastError: message }).where(eq(feeds.id, feed.id));
      return { feedId: feed.id, status: 'error', items: 0, accepted: 0, error: message };
    }
  }
}
