import { createHash } from 'node:crypto';
import { decideSignalTime, type SignalTime, type SignalTimePolicy } from '@huiying/domain/signal-time';
import { Parser } from 'htmlparser2';
import type { RawItem } from './parse.ts';

/** One feed item as the poller stores it. */
export interface NormalisedItem {
  title: string;
  link?: string;
  guid?: string;
  /** Plain text of the description/content, tags removed, bounded. */
  content?: string;
  /** The item's own publish time, when it could be read (kept even when not credible). */
  publishedAt?: number;
  time: SignalTime;
  /** Identity within one feed: guid, else the link, else the content hash. */
  itemKey: string;
  /**
   * Identity across feeds: a permalink guid or the canonical link, else (no link) the feed's
   * own guid, else the content hash — one item seen in two feeds is one signal.
   */
  signalKey: string;
  contentHash: string;
}

export interface NormaliseContext {
  feedId: string;
  feedUrl: string;
  fetchedAt: number;
  feedAddedAt: number;
  firstPoll: boolean;
  policy?: SignalTimePolicy;
}

const MAX_TITLE = 500;
const MAX_CONTENT = 4_000;

/**
 * Control characters and unpaired surrogates. The document's own were stripped before parsing,
 * but character references (`&#x1F;`, `&#127;`, `&#xD800;`) decode to them afterwards; no signal
 * field may carry one (PostgreSQL refuses NUL and unpaired surrogates; one bad item once failed
 * its whole feed every minute). Found by test/feed-fuzz.test.ts.
 */
const UNSAFE =
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function clean(text: string | undefined): string | undefined {
  return text === undefined ? undefined : text.replace(UNSAFE, '');
}

/** The first `n` UTF-16 units, without splitting a surrogate pair (a four-byte GB18030 character). */
function cut(text: string, n: number): string {
  const head = text.slice(0, n);
  return /[\uD800-\uDBFF]$/.test(head) ? head.slice(0, -1) : head;
}

export function normaliseItem(dirty: RawItem, ctx: NormaliseContext): NormalisedItem {
  const raw: RawItem = { ...dirty };
  for (const key of ['title', 'link', 'guid', 'date', 'summary'] as const) {
    const value = clean(dirty[key]);
    if (value !== undefined) raw[key] = value;
  }
  const summary = raw.summary ? cut(htmlToText(raw.summary), MAX_CONTENT) : undefined;
  const titleText = raw.title ? cut(htmlToText(raw.title), MAX_TITLE) : '';
  const title = titleText || (summary ? cut(summary, 60) : '') || '(无标题)';
  const link = canonicalLink(raw.link, ctx.feedUrl);
  const guid = raw.guid?.trim() || undefined;
  const guidUrl = guid && raw.guidIsPermaLink !== false ? canonicalLink(guid, ctx.feedUrl, true) : undefined;
  const contentHash = createHash('sha256')
    .update(`${collapse(titleText)}\n${collapse(summary ?? '')}`)
    .digest('hex')
    .slice(0, 32);
  const published = parseFeedDate(raw.date);
  const time = decideSignalTime(
    {
      ...(published !== undefined ? { published } : {}),
      hadDateText: raw.date !== undefined && raw.date.trim() !== '',
      fetchedAt: ctx.fetchedAt,
      feedAddedAt: ctx.feedAddedAt,
      firstPoll: ctx.firstPoll,
    },
    ctx.policy,
  );
  const itemKey = guid ? `guid:${guid}` : raw.link?.trim() ? `link:${raw.link.trim()}` : `hash:${contentHash}`;
  const crossFeed = guidUrl ?? link;
  const signalKey = crossFeed ? `url:${urlKey(crossFeed)}` : guid ? `guid:${ctx.feedId}:${guid}` : `hash:${contentHash}`;
  return {
    title,
    ...(link ? { link } : {}),
    ...(guid ? { guid } : {}),
    ...(summary ? { content: summary } : {}),
    ...(published !== undefined ? { publishedAt: published } : {}),
    time,
    itemKey: cut(itemKey, 1000),
    signalKey: cut(signalKey, 1000),
    contentHash,
  };
}

function collapse(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

const TRACKING = /^(utm_\w+|spm|fbclid|gclid|from|share_token|timestamp)$/i;

/**
 * An absolute http(s) link, resolved against the feed URL, without fragment or tracking
 * parameters; `undefined` for anything else (javascript:, mailto:, garbage).
 */
export function canonicalLink(text: string | undefined, base: string, strict = false): string | undefined {
  const trimmed = text?.trim();
  if (!trimmed) return undefined;
  if (strict && !/^https?:\/\//i.test(trimmed)) return undefined;
  let url: URL;
  try {
    url = new URL(trimmed, base);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  url.hash = '';
  for (const key of [...url.searchParams.keys()]) if (TRACKING.test(key)) url.searchParams.delete(key);
  return url.href;
}

/** http and https of one page are one page (Chinese portals serve both). */
function urlKey(link: string): string {
  return link.replace(/^https?:\/\//i, '//');
}

/** Text of an HTML fragment: tags removed, HTML entities (&nbsp; …) decoded, whitespace collapsed. */
export function htmlToText(html: string): string {
  if (!/[<&]/.test(html)) return collapse(html);
  let text = '';
  let skip = 0;
  const p = new Parser(
    {
      onopentag(name) {
        if (name === 'script' || name === 'style') skip++;
        else if (name === 'br' || name === 'p' || name === 'div') text += ' ';
      },
      onclosetag(name) {
        if ((name === 'script' || name === 'style') && skip > 0) skip--;
      },
      ontext(t) {
        if (skip === 0) text += t;
      },
    },
    { decodeEntities: true },
  );
  p.write(html);
  p.end();
  return collapse(text.replace(/\u00a0/g, ' ').replace(UNSAFE, ''));
}

/**
 * A feed item's date as an instant, or undefined when it cannot be read. Dates without a zone
 * are Beijing time, as Chinese sites mean; `2026年3月2日 08:00` and `2026/03/02` are read too.
 */
export function parseFeedDate(text: string | undefined): number | undefined {
  if (!text) return undefined;
  let t = text.trim().replace(/\s+/g, ' ');
  const cn = /^(\d{4})[年/.-](\d{1,2})[月/.-](\d{1,2})日?(?:[ T]?(\d{1,2})[:时](\d{1,2})(?:[:分](\d{1,2})秒?)?)?$/.exec(t);
  if (cn) {
    const [, y, mo, d, h = '0', mi = '0', s = '0'] = cn;
    t = `${y}-${mo!.padStart(2, '0')}-${d!.padStart(2, '0')}T${h.padStart(2, '0')}:${mi.padStart(2, '0')}:${s.padStart(2, '0')}`;
  }
  const zoneless = /^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$/.test(t);
  if (zoneless) t = `${t.length === 10 ? `${t}T00:00:00` : t.replace(' ', 'T')}+08:00`;
  // RFC 822 zones Date.parse does not know, seen on Chinese sites.
  t = t.replace(/\b(CST|BJT)$/, '+0800');
  const ms = Date.parse(t);
  return Number.isFinite(ms) ? ms : undefined;
}
