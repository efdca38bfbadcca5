/**
 * Fuzzing the feed reader from the corpus (issue 9): every real-world fixture, mutated the way
 * hostile or broken servers do — truncated, random bytes spliced in or written over, entity
 * bombs in a DTD, thousands of nested elements, a megabyte-long attribute, NUL and other control
 * characters raw and as character references, the wrong charset declared — goes through the
 * same readFeed the poller and feed-check use. It returns items or rejects with FeedParseError
 * (nothing else escapes), within a bounded time per document, and no item carries a control
 * character or a lone surrogate (PostgreSQL would refuse it, and one bad item once failed its
 * whole feed every minute).
 */
import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FeedParseError } from '../src/feed/parse.ts';
import { readFeed } from '../src/feed/read.ts';
import { DEFAULT_FETCH_POLICY } from '../src/fetch/index.ts';

const dir = new URL('./fixtures/feeds/', import.meta.url);
const corpus = readdirSync(dir)
  .sort()
  .map((name) => ({ name, bytes: new Uint8Array(readFileSync(new URL(name, dir))) }));

const ctx = {
  feedId: 'fuzz',
  feedUrl: 'http://feeds.example.cn/feed.xml',
  fetchedAt: Date.parse('2026-11-28T12:00:00Z'),
  feedAddedAt: Date.parse('2026-11-01T00:00:00Z'),
  firstPoll: false,
  maxItems: 100,
};
/** What the poller can be handed at most: a larger body is refused while streaming (safeFetch). */
const MAX_BYTES = DEFAULT_FETCH_POLICY.maxBytes;
/**
 * Time per document, linear in its size and generous for a loaded 2-core machine: the corpus
 * documents take milliseconds and a 5 MB one of nested elements about a second; an exponential
 * blow-up (entities, backtracking) or a hang takes far longer or never ends.
 */
const maxMs = (bytes: number) => 2_000 + (2_000 * bytes) / 1_048_576;
const BAD =
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/u;

const ascii = (s: string) => new TextEncoder().encode(s);
const splice = (doc: Uint8Array, at: number, remove: number, insert: Uint8Array): Uint8Array => {
  const p = Math.min(at, doc.length);
  const out = new Uint8Array(doc.length - Math.min(remove, doc.length - p) + insert.length);
  out.set(doc.subarray(0, p));
  out.set(insert, p);
  out.set(doc.subarray(Math.min(doc.length, p + remove)), p + insert.length);
  return out;
};
/** Where an item's title starts (a spot inside the markup that matters), else anywhere. */
const titleAt = (doc: Uint8Array, fallback: number) => {
  const i = Buffer.from(doc).indexOf('<title>', Math.floor(doc.length / 3));
  return i >= 0 ? i + 7 : fallback;
};

const CONTROLS = ['\u0000', '\u0001', '\u0008', '\u000B', '\u000C', '\u001B', '\u001F', '\u007F', '\uFFFE', '\uFFFF', '\uD800', '\uDFFF'];
const REFERENCES = ['&#0;', '&#x1;', '&#x1F;', '&#127;', '&#xFFFE;', '&#xD800;', '&#x110000;', '&#99999999999;'];

type Mutation = { what: string; apply: (doc: Uint8Array) => Uint8Array; contentType?: string };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.nat().map((n) => ({ what: `truncated at ${n}`, apply: (d: Uint8Array) => d.subarray(0, n % (d.length + 1)) })),
  fc
    .tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 64 }))
    .map(([n, bytes]) => ({ what: `bytes inserted at ${n}`, apply: (d: Uint8Array) => splice(d, n % (d.length + 1), 0, bytes) })),
  fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 256 })).map(([n, bytes]) => ({
    what: `bytes written over at ${n}`,
    apply: (d: Uint8Array) => splice(d, n % (d.length + 1), bytes.length, bytes),
  })),
  fc.tuple(fc.nat(), fc.array(fc.constantFrom(...CONTROLS, ...REFERENCES), { minLength: 1, maxLength: 8 })).map(([n, parts]) => ({
    what: `control characters ${JSON.stringify(parts)} in a title`,
    // Raw controls as UTF-8 (a lone surrogate encodes as U+FFFD), references as text.
    apply: (d: Uint8Array) => splice(d, titleAt(d, n % (d.length + 1)), 0, ascii(parts.join(''))),
  })),
  fc.integer({ min: 2, max: 12 }).map((depth) => ({
    what: `entity bomb ${depth} levels deep`,
    apply: (d: Uint8Array) => {
      const entities = Array.from({ length: depth }, (_, k) =>
        k === 0 ? '<!ENTITY e0 "lol">' : `<!ENTITY e${k} "${`&e${k - 1};`.repeat(10)}">`,
      ).join('');
      const text = Buffer.from(d).toString('latin1');
      const decl = /^\s*(?:\uFEFF|\u00EF\u00BB\u00BF)?<\?xml[^>]*\?>/.exec(text)?.[0] ?? '';
      const bomb = Buffer.concat([
        Buffer.from(decl, 'latin1'),
        ascii(`<!DOCTYPE rss [${entities}]>`),
        Buffer.from(text.slice(decl.length), 'latin1'),
      ]);
      return splice(bomb, titleAt(bomb, bomb.length), 0, ascii(`&e${depth - 1};`));
    },
  })),
  fc.integer({ min: 100, max: 10_000 }).map((depth) => ({
    what: `${depth} nested elements`,
    apply: (d: Uint8Array) => splice(d, titleAt(d, d.length), 0, ascii(`${'<x>'.repeat(depth)}深${'</x>'.repeat(depth)}`)),
  })),
  fc.integer({ min: 10_000, max: 300_000 }).map((length) => ({
    what: `an attribute ${length} characters long`,
    apply: (d: Uint8Array) => {
      const at = Buffer.from(d).indexOf('<item');
      return splice(
        d,
        at >= 0 ? at : d.length,
        0,
        ascii(`<item><guid isPermaLink="${'a'.repeat(length)}">g</guid><title>t</title></item>`),
      );
    },
  })),
  fc.integer({ min: 1, max: 2_100 }).map((n) => ({
    what: `a title of ${n} four-byte characters`,
    // Cut to a bounded length, a title must not end in half a surrogate pair.
    apply: (d: Uint8Array) => splice(d, titleAt(d, d.length), 0, ascii('\u{20000}'.repeat(n))),
  })),
  fc.integer({ min: 2, max: 200 }).map((times) => ({
    what: `an item repeated ${times} times`,
    apply: (d: Uint8Array) => {
      const b = Buffer.from(d);
      const start = b.indexOf('<item');
      const end = b.indexOf('</item>', start);
      if (start < 0 || end < 0) return d;
      const one = b.subarray(start, end + 7);
      return new Uint8Array(Buffer.concat([b.subarray(0, start), ...Array.from({ length: times }, () => one), b.subarray(start)]));
    },
  })),
  fc
    .constantFrom(
      'text/xml; charset=gbk',
      'text/xml; charset=big5',
      'text/xml; charset=utf-16le',
      'text/xml; charset=shift_jis',
      'text/xml; charset=iso-8859-1',
      'text/xml; charset=no-such-charset',
      'application/rss+xml; charset="utf-8',
    )
    .map((contentType) => ({ what: `served as ${contentType}`, apply: (d: Uint8Array) => d, contentType })),
);

async function check(doc: Uint8Array, contentType: string | null): Promise<void> {
  const t0 = performance.now();
  try {
    const read = await readFeed(doc, contentType, ctx);
    for (const item of read.items) {
      for (const field of [item.title, item.link, item.guid, item.content, item.itemKey, item.signalKey]) {
        if (field !== undefined) expect(field, `a returned item field: ${JSON.stringify(field.slice(0, 80))}`).not.toMatch(BAD);
      }
      expect(Number.isFinite(item.time.at)).toBe(true);
    }
    expect(read.items.length).toBeLessThanOrEqual(ctx.maxItems);
  } catch (error) {
    if (!(error instanceof FeedParseError)) throw error;
    expect(error.message).not.toBe('');
  }
  expect(performance.now() - t0).toBeLessThan(maxMs(doc.length));
}

describe('the feed reader under mutated corpus documents (property)', () => {
  it.each(corpus.map((c) => [c.name, c]))(
    '%s: one or two mutations at a time',
    async (_name, c) => {
      await fc.assert(
        fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 2 }), async (mutations) => {
          let doc: Uint8Array = c.bytes;
          let contentType: string | null = null;
          for (const m of mutations) {
            doc = m.apply(doc);
            contentType = m.contentType ?? contentType;
          }
          fc.pre(doc.length <= MAX_BYTES);
          await check(doc, contentType);
        }),
        { numRuns: 25 },
      );
    },
    120_000,
  );

  it('the mutations are not harmless by construction: some documents are refused, some still give items', async () => {
    const outcomes = { items: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...corpus), mutation, async (c, m) => {
        try {
          const read = await readFeed(m.apply(c.bytes), m.contentType ?? null, ctx);
          if (read.items.length > 0) outcomes.items++;
        } catch (error) {
          if (error instanceof FeedParseError) outcomes.refused++;
          else throw error;
        }
      }),
      { numRuns: 200, seed: 2026 },
    );
    expect(outcomes.items).toBeGreaterThan(0);
    expect(outcomes.refused).toBeGreaterThan(0);
  }, 120_000);
});

describe('what the fuzzing found', () => {
  it('character references to control characters and lone surrogates decode to nothing; a cut title keeps whole characters', async () => {
    const long = '\u{20000}'.repeat(300);
    const doc = ascii(
      '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>' +
        '<item><guid isPermaLink="false">g&#x1F;1</guid><title>通报&#127;&#x1B;[31m</title><link>http://a.example.cn/1&#0;</link>' +
        '<description>&lt;p&gt;内容&amp;#x1F;&lt;/p&gt;</description></item>' +
        `<item><title>${long}</title></item></channel></rss>`,
    );
    const read = await readFeed(doc, null, ctx);
    expect(read.items[0]).toMatchObject({ title: '通报[31m', guid: 'g1', content: '内容' });
    expect(read.items[1]!.title).toBe('\u{20000}'.repeat(250));
  });
});
