import RssParser from 'rss-parser';
import { type FeedFormat, FeedParseError, type ParsedFeed, parseFeedXml, type RawItem, stripControl } from './parse.ts';

/** Which reader produced a feed: rss-parser (the design's parser), or the tolerant htmlparser2 fallback. */
export type FeedParserPath = 'rss-parser' | 'tolerant';

export interface ReadFeedDocument extends ParsedFeed {
  parser: FeedParserPath;
  /** Why rss-parser refused the document, when the fallback read it. */
  primaryError?: string;
}

/**
 * Remove every `<!DOCTYPE …>` declaration, internal subset (`[ … ]`) included, quoted strings and
 * comments inside it respected. What rss-parser (xml2js/sax) is given never declares an entity,
 * so no entity can be expanded and no external one fetched. An unterminated declaration takes
 * the rest of the document with it (rss-parser then refuses, and the fallback reads it).
 */
export function stripDoctype(text: string): string {
  const open = /<!DOCTYPE/gi;
  let out = '';
  let from = 0;
  for (let m = open.exec(text); m !== null; m = open.exec(text)) {
    if (m.index < from) continue;
    out += text.slice(from, m.index);
    let i = m.index + m[0].length;
    let inSubset = false;
    let end = -1;
    while (i < text.length) {
      const c = text[i]!;
      if (c === '"' || c === "'") {
        const close = text.indexOf(c, i + 1);
        if (close < 0) break;
        i = close + 1;
        continue;
      }
      if (inSubset && text.startsWith('<!--', i)) {
        const close = text.indexOf('-->', i + 4);
        if (close < 0) break;
        i = close + 3;
        continue;
      }
      if (c === '[') inSubset = true;
      else if (c === ']') inSubset = false;
      else if (c === '>' && !inSubset) {
        end = i + 1;
        break;
      }
      i++;
    }
    if (end < 0) return out;
    from = end;
    open.lastIndex = end;
  }
  return out + text.slice(from);
}

/** Date elements in the order the tolerant reader prefers them (its DATE_FIELDS), kept raw under `_d<i>`. */
const DATE_ELEMENTS = [
  'pubDate',
  'dc:date',
  'published',
  'issued',
  'created',
  'updated',
  'modified',
  'dcterms:created',
  'dcterms:modified',
];

const TEXT_ELEMENTS = ['title', 'description', 'summary', 'content', 'content:encoded'];

const CUSTOM_ITEM_FIELDS: [string, string, { keepArray: boolean }][] = [
  // Kept as the xml2js node (an array of them): a plain field would lose the isPermaLink attribute.
  ['guid', '_guid', { keepArray: true }],
  ['link', '_links', { keepArray: true }],
  // Raw nodes of the text fields, only to notice mixed content (below).
  ...TEXT_ELEMENTS.map((name): [string, string, { keepArray: boolean }] => [name, `_raw:${name}`, { keepArray: true }]),
  ...DATE_ELEMENTS.map((name, i): [string, string, { keepArray: boolean }] => [name, `_d${i}`, { keepArray: false }]),
];

type RssItem = Record<string, unknown>;

function text(node: unknown): string | undefined {
  if (typeof node === 'string') return node;
  if (node && typeof node === 'object' && typeof (node as { _?: unknown })._ === 'string') return (node as { _: string })._;
  return undefined;
}

function attrs(node: unknown): Record<string, string> {
  return node && typeof node === 'object' && '$' in node ? ((node as { $?: Record<string, string> }).$ ?? {}) : {};
}

/** rss-parser's content fields are strings (xhtml children rendered as markup); anything else is not content. */
function content(node: unknown): string | undefined {
  return typeof node === 'string' ? node : text(node);
}

const nonEmpty = (s: string | undefined) => (s !== undefined && s.trim() !== '' ? s.trim() : undefined);

/** The document's root element decides the format name, as the tolerant reader names it. */
function formatOf(xml: string): FeedFormat | undefined {
  const m = /^(?:\s|<\?[\s\S]*?\?>|<!--[\s\S]*?-->)*<([\w:.-]+)([^>]*)>/.exec(xml);
  if (!m) return undefined;
  const root = m[1]!.toLowerCase();
  const attrText = m[2] ?? '';
  if (root === 'feed') return 'atom';
  if (root === 'rss') return /\bversion\s*=\s*["']0\.9/.test(attrText) ? 'rss0.9x' : 'rss2.0';
  if (root === 'rdf:rdf') return /purl\.org\/rss\/1\.0/.test(attrText) ? 'rss1.0' : 'rss0.9x';
  return undefined;
}

/** rss-parser could not represent an item faithfully: the tolerant reader reads the document instead. */
class Unrepresentable extends Error {}

/**
 * Text and elements side by side (`a <b>x</b> c` not escaped nor in CDATA): xml2js keeps the text
 * apart from the elements, and rss-parser then gives only the text, so words would be lost.
 */
function isMixed(nodes: unknown): boolean {
  if (!Array.isArray(nodes)) return false;
  return nodes.some((n: unknown) => {
    if (!n || typeof n !== 'object') return false;
    const { _: t, $: _a, ...children } = n as Record<string, unknown>;
    return typeof t === 'string' && t.trim() !== '' && Object.keys(children).length > 0;
  });
}

/** A guard: strict sax refuses `&#0;`-style references today, but no control character may reach the store from this path. */
function clean(raw: RawItem): RawItem {
  const out: RawItem = { ...raw };
  for (const key of ['title', 'link', 'guid', 'date', 'summary'] as const) {
    const v = out[key];
    if (v !== undefined) {
      const t = stripControl(v).trim();
      if (t === '') delete out[key];
      else out[key] = t;
    }
  }
  return out;
}

function toRawItem(item: RssItem, format: FeedFormat): RawItem {
  for (const name of TEXT_ELEMENTS) if (isMixed(item[`_raw:${name}`])) throw new Unrepresentable(`mixed text and markup in <${name}>`);
  const raw: RawItem = {};
  const title = nonEmpty(text(item.title));
  if (title) raw.title = title;
  if (format === 'atom') {
    // The alternate link among several (rel absent means alternate), as the tolerant reader picks.
    const links = (Array.isArray(item._links) ? item._links : []) as unknown[];
    const alternate = links.map(attrs).find((a) => (a.rel ?? 'alternate') === 'alternate' && a.href);
    if (alternate?.href) raw.link = alternate.href.trim();
    const id = nonEmpty(text(item.id));
    if (id) {
      raw.guid = id;
      raw.guidIsPermaLink = false;
    }
    const summary = nonEmpty(content(item.summary)) ?? nonEmpty(content(item.content));
    if (summary) raw.summary = summary;
  } else {
    const links = (Array.isArray(item._links) ? item._links : []) as unknown[];
    // <link>text</link>, or an Atom-style <link href> that is the alternate one, as the tolerant reader takes.
    const link = links
      .map((l) => {
        const a = attrs(l);
        return a.href ? ((a.rel ?? 'alternate') === 'alternate' ? nonEmpty(a.href) : undefined) : nonEmpty(text(l));
      })
      .find((l) => l !== undefined);
    if (link) raw.link = link;
    const guidNode: unknown = Array.isArray(item._guid) ? item._guid[0] : undefined;
    const guid = text(guidNode);
    if (guid !== undefined && guid.trim() !== '') {
      raw.guid = guid.trim();
      const a = attrs(guidNode);
      raw.guidIsPermaLink = (a.isPermaLink ?? a.ispermalink ?? 'true').toLowerCase() !== 'false';
    }
    // rss-parser's `content` is the description; content:encoded only when there is none.
    const summary = nonEmpty(content(item.content)) ?? nonEmpty(content(item.summary)) ?? nonEmpty(content(item['content:encoded']));
    if (summary) raw.summary = summary;
  }
  const date = DATE_ELEMENTS.map((_, i) => nonEmpty(text(item[`_d${i}`]))).find((d) => d !== undefined);
  if (date) raw.date = date;
  return clean(raw);
}

/**
 * Read a decoded feed document. rss-parser (RSS 0.9x/1.0/2.0 and Atom, strict XML) reads it first,
 * from text with control characters and any DOCTYPE removed; a document it refuses — unescaped
 * `&`, HTML entities, unclosed or cut-off elements, the broken feeds common on Chinese sites — is
 * read by the tolerant htmlparser2 reader instead. Neither ever expands a DTD entity.
 * Throws FeedParseError when neither can read it.
 */
export async function parseFeed(input: string): Promise<ReadFeedDocument> {
  const warnings: string[] = [];
  const cleaned = stripControl(input);
  if (cleaned.length !== input.length) warnings.push(`${input.length - cleaned.length} control characters stripped`);
  if (cleaned.trim() === '') throw new FeedParseError('empty document');
  const xml = stripDoctype(cleaned);
  const format = formatOf(xml);

  let primaryError: string;
  if (format !== undefined) {
    try {
      const parser = new RssParser<Record<string, unknown>, RssItem>({
        defaultRSS: 2,
        xml2js: { async: false, strict: true },
        customFields: { item: CUSTOM_ITEM_FIELDS },
      });
      const feed = await parser.parseString(xml);
      const items: RawItem[] = [];
      for (const item of feed.items ?? []) {
        const raw = toRawItem(item as RssItem, format);
        if (raw.title || raw.link || raw.guid || raw.summary) items.push(raw);
        else warnings.push('an empty item was skipped');
      }
      const title = nonEmpty(stripControl(text(feed.title as unknown) ?? ''));
      const link = nonEmpty(stripControl(text(feed.link as unknown) ?? ''));
      if (items.length > 0 || title !== undefined) {
        return { parser: 'rss-parser', format, ...(title ? { title } : {}), ...(link ? { link } : {}), items, warnings };
      }
      primaryError = 'no channel title and no items';
    } catch (error) {
      primaryError = error instanceof Error ? error.message.replace(/\s+/g, ' ').trim() : String(error);
    }
  } else {
    primaryError = 'no RSS or Atom root element';
  }
  // The original text: the tolerant reader counts control characters itself and never reads a DTD.
  const tolerant = parseFeedXml(input);
  return { ...tolerant, parser: 'tolerant', primaryError: primaryError.slice(0, 200) };
}
