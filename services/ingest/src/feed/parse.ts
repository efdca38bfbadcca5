import { Parser } from 'htmlparser2';

export type FeedFormat = 'rss0.9x' | 'rss1.0' | 'rss2.0' | 'atom';

export interface RawItem {
  title?: string;
  link?: string;
  guid?: string;
  /** RSS `isPermaLink` (default true when absent, per RSS 2.0). */
  guidIsPermaLink?: boolean;
  /** The publish time as written (pubDate, dc:date, published, issued, updated…). */
  date?: string;
  summary?: string;
}

export interface ParsedFeed {
  format: FeedFormat;
  title?: string;
  link?: string;
  items: RawItem[];
  /** What was wrong but survivable: stripped control characters, unclosed elements, a truncated document. */
  warnings: string[];
}

/** A document that is not a feed at all, or has nothing in it that could be read. */
export class FeedParseError extends Error {
  override name = 'FeedParseError';
}

/** C0 controls except tab/CR/LF, DEL, and the non-characters U+FFFE/U+FFFF: never valid in XML, refused by PostgreSQL (NUL). */
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F\uFFFE\uFFFF]/g;

export function stripControl(text: string): string {
  return text.replace(CONTROL, '');
}

const DATE_FIELDS = ['pubdate', 'dc:date', 'published', 'issued', 'created', 'updated', 'modified', 'dcterms:created', 'dcterms:modified'];

/**
 * The fallback reader (primary.ts reads with rss-parser first): used for documents rss-parser
 * refuses. A tolerant RSS 0.9x/1.0/2.0 and Atom reader. htmlparser2 in XML mode reads broken markup
 * (unescaped `&`, unclosed or mismatched tags, a document cut off mid-way) as far as it goes,
 * knows only the XML predefined and numeric entities, and never reads a DTD — so no external
 * entity is fetched and no entity is expanded.
 */
export function parseFeedXml(input: string): ParsedFeed {
  const warnings: string[] = [];
  const cleaned = stripControl(input);
  if (cleaned.length !== input.length) warnings.push(`${input.length - cleaned.length} control characters stripped`);
  if (cleaned.trim() === '') throw new FeedParseError('empty document');

  let format: FeedFormat | undefined;
  let root: string | undefined;
  const stack: string[] = [];
  const items: RawItem[] = [];
  let feedTitle: string | undefined;
  let feedLink: string | undefined;
  let item: (RawItem & { dates: Record<string, string> }) | undefined;
  let itemDepth = -1;
  let containerDepth = -1;
  /** The item's (or channel's) child element being read, and its text so far. */
  let field: { name: string; depth: number; attrs: Record<string, string>; text: string } | undefined;
  let rootClosed = false;
  let unclosedItems = 0;

  const finishItem = () => {
    if (!item) return;
    if (field && field.depth > itemDepth) {
      assign(item, field.name, field.attrs, field.text.trim());
      field = undefined;
    }
    const date = DATE_FIELDS.map((f) => item!.dates[f]).find((d) => d !== undefined && d !== '');
    const { dates: _dates, ...rest } = item;
    const done: RawItem = { ...rest, ...(date ? { date } : {}) };
    if (done.title || done.link || done.guid || done.summary) items.push(done);
    else warnings.push('an empty item was skipped');
    item = undefined;
    itemDepth = -1;
  };

  const parser = new Parser(
    {
      onopentag(rawName, attrs) {
        const name = rawName.toLowerCase();
        stack.push(name);
        const depth = stack.length;
        if (root === undefined) {
          root = name;
          if (name === 'rss') format = attrs.version?.startsWith('0.9') ? 'rss0.9x' : 'rss2.0';
          else if (name === 'rdf:rdf' || name === 'rdf') format = /purl\.org\/rss\/1\.0/.test(attrs.xmlns ?? '') ? 'rss1.0' : 'rss0.9x';
          else if (name === 'feed') format = 'atom';
          else if (name === 'channel') format = 'rss2.0';
          if (format === 'atom' || name === 'channel') containerDepth = depth;
          return;
        }
        if (format === undefined) return;
        if (name === 'channel' && containerDepth < 0) containerDepth = depth;
        if (name === 'item' || name === 'entry') {
          // Items never nest: an item opening inside another means the previous one was not closed.
          if (item !== undefined) {
            unclosedItems++;
            finishItem();
          }
          item = { dates: {} };
          itemDepth = depth;
          return;
        }
        if (field === undefined && (depth === itemDepth + 1 || (item === undefined && depth === containerDepth + 1))) {
          field = { name, depth, attrs, text: '' };
        }
        // Atom links carry their target in href; several may be present (alternate wins).
        if (field?.depth === depth && name.endsWith('link') && attrs.href) {
          const rel = attrs.rel ?? 'alternate';
          if (rel === 'alternate') {
            if (item && !item.link) item.link = attrs.href.trim();
            else if (!item && !feedLink) feedLink = attrs.href.trim();
          }
        }
      },
      ontext(text) {
        if (field) field.text += text;
      },
      onclosetag(rawName, isImplied) {
        const name = rawName.toLowerCase();
        const depth = stack.length;
        stack.pop();
        if (depth === 1 && !isImplied) rootClosed = true;
        if (field && field.depth === depth) {
          const text = field.text.trim();
          if (item) assign(item, field.name, field.attrs, text);
          else if (field.name === 'title' && feedTitle === undefined) feedTitle = text;
          else if (field.name === 'link' && feedLink === undefined && text) feedLink = text;
          field = undefined;
        }
        if (item && depth === itemDepth && (name === 'item' || name === 'entry')) {
          if (isImplied && rootClosed === false && stack.length > 0) unclosedItems++;
          finishItem();
        }
      },
    },
    { xmlMode: true, decodeEntities: true, recognizeCDATA: true, lowerCaseTags: false },
  );
  parser.write(cleaned);
  parser.end();

  if (format === undefined) throw new FeedParseError(root ? `not an RSS or Atom feed (root element <${root}>)` : 'no XML element found');
  if (!rootClosed) warnings.push(`document ends before </${root}> (cut off)`);
  if (unclosedItems > 0) warnings.push(`${unclosedItems} items not closed`);
  if (items.length === 0 && feedTitle === undefined) throw new FeedParseError(`no channel and no items in the ${format} document`);
  return { format, ...(feedTitle ? { title: feedTitle } : {}), ...(feedLink ? { link: feedLink } : {}), items, warnings };
}

function assign(item: RawItem & { dates: Record<string, string> }, name: string, attrs: Record<string, string>, text: string): void {
  switch (name) {
    case 'title':
      item.title ??= text;
      break;
    case 'link':
    case 'atom:link':
      if (!item.link && text && !attrs.href) item.link = text;
      break;
    case 'guid':
      item.guid ??= text;
      item.guidIsPermaLink = (attrs.ispermalink ?? attrs.isPermaLink ?? 'true').toLowerCase() !== 'false';
      break;
    case 'id':
      item.guid ??= text;
      item.guidIsPermaLink = false;
      break;
    case 'description':
    case 'summary':
      if (text) item.summary = text;
      break;
    case 'content':
    case 'content:encoded':
      item.summary ??= text || undefined;
      break;
    default:
      if (DATE_FIELDS.includes(name) && text) item.dates[name] ??= text;
  }
}
