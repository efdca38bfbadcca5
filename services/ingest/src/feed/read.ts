import type { SignalTimePolicy } from '@huiying/domain/signal-time';
import { decodeFeedBody } from './decode.ts';
import { type NormalisedItem, normaliseItem } from './normalise.ts';
import type { FeedFormat } from './parse.ts';
import { type FeedParserPath, parseFeed } from './primary.ts';

/** Feeds list newest first; a poll takes this many at most (FEED_MAX_ITEMS). */
export const DEFAULT_MAX_ITEMS_PER_POLL = 100;

export interface FeedReadContext {
  feedId: string;
  feedUrl: string;
  fetchedAt: number;
  feedAddedAt: number;
  firstPoll: boolean;
  /** At most this many items are taken from one document (feeds list newest first). */
  maxItems: number;
  timePolicy?: SignalTimePolicy;
}

export interface FeedRead {
  encoding: string;
  format: FeedFormat;
  /** rss-parser, or the tolerant htmlparser2 reader for a document rss-parser refused. */
  parser: FeedParserPath;
  title?: string;
  items: NormalisedItem[];
  /** Items in the document beyond `maxItems`, not taken. */
  skipped: number;
  warnings: string[];
}

/** Bytes to normalised items: decode, parse, normalise — the same for the poller and feed-check. Rejects with FeedParseError. */
export async function readFeed(body: Uint8Array, contentType: string | null | undefined, ctx: FeedReadContext): Promise<FeedRead> {
  const decoded = decodeFeedBody(body, contentType);
  const parsed = await parseFeed(decoded.text);
  const taken = parsed.items.slice(0, ctx.maxItems);
  return {
    encoding: decoded.encoding,
    format: parsed.format,
    parser: parsed.parser,
    ...(parsed.title ? { title: parsed.title } : {}),
    items: taken.map((raw) =>
      normaliseItem(raw, {
        feedId: ctx.feedId,
        feedUrl: ctx.feedUrl,
        fetchedAt: ctx.fetchedAt,
        feedAddedAt: ctx.feedAddedAt,
        firstPoll: ctx.firstPoll,
        ...(ctx.timePolicy ? { policy: ctx.timePolicy } : {}),
      }),
    ),
    skipped: parsed.items.length - taken.length,
    warnings: [...decoded.warnings, ...parsed.warnings],
  };
}
