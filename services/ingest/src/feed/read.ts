import type { SignalTimePolicy } from '@huiying/domain/signal-time';
import { decodeFeedBody } from './decode.ts';
import { type NormalisedItem, normaliseItem } from './normalise.ts';
import { type FeedFormat, parseFeedXml } from './parse.ts';

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
  title?: string;
  items: NormalisedItem[];
  /** Items in the document beyond `maxItems`, not taken. */
  skipped: number;
  warnings: string[];
}

/** Bytes to normalised items: decode, parse, normalise — the same for the poller and feed-check. Throws FeedParseError. */
export function readFeed(body: Uint8Array, contentType: string | null | undefined, ctx: FeedReadContext): FeedRead {
  const decoded = decodeFeedBody(body, contentType);
  const parsed = parseFeedXml(decoded.text);
  const taken = parsed.items.slice(0, ctx.maxItems);
  return {
    encoding: decoded.encoding,
    format: parsed.format,
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
