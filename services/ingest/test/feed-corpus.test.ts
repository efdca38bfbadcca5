import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeFeedBody } from '../src/feed/decode.ts';
import { parseFeedDate } from '../src/feed/normalise.ts';
import { FeedParseError, parseFeedXml } from '../src/feed/parse.ts';
import { type FeedRead, readFeed } from '../src/feed/read.ts';

const FETCHED = Date.parse('2026-11-28T12:00:00Z');
const ADDED = Date.parse('2026-11-01T00:00:00Z');

function read(name: string, contentType: string | null = null, over: { firstPoll?: boolean; maxItems?: number } = {}): FeedRead {
  const body = readFileSync(new URL(`./fixtures/feeds/${name}`, import.meta.url));
  return readFeed(body, contentType, {
    feedId: 'feed-1',
    feedUrl: 'http://feeds.example.cn/feed.xml',
    fetchedAt: FETCHED,
    feedAddedAt: ADDED,
    firstPoll: over.firstPoll ?? false,
    maxItems: over.maxItems ?? 50,
  });
}
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

describe('feed corpus', () => {
  it('TRS-style 政府网站 column: GBK from the XML prolog, zone-less Beijing dates, CDATA HTML, relative links', () => {
    const r = read('trs-gov-column-gbk.xml');
    expect(r).toMatchObject({ encoding: 'gb18030', format: 'rss2.0', title: '某市人民政府 - 政务公开 - 通知公告', warnings: [] });
    expect(r.items.map((i) => i.title)).toEqual([
      '关于城东片区临时停水的通知',
      '2026年第三季度政府信息公开工作报告',
      '关于征求《某市生活垃圾分类管理办法（征求意见稿）》意见的公告',
    ]);
    const [first, second, third] = r.items;
    expect(first!.content).toBe('因供水管网改造，城东片区将于11月29日临时停水。 咨询电话：0851-12345678。');
    expect(iso(first!.publishedAt)).toBe('2026-11-28T01:30:00.000Z');
    expect(first!.time).toMatchObject({ decision: 'published', reason: 'publish_time' });
    expect(second!.link).toBe('http://feeds.example.cn/202611/t20261120_123001.html');
    expect(second!.time).toMatchObject({ decision: 'history', reason: 'older_than_backfill_window' });
    expect(third!.time).toMatchObject({ decision: 'history', reason: 'published_before_feed_added' });
  });

  it('GBK body served as charset=utf-8: the prolog wins, with a warning', () => {
    const r = read('gbk-served-as-utf8.xml', 'text/xml; charset=utf-8');
    expect(r.encoding).toBe('gb18030');
    expect(r.warnings).toEqual(['body is not valid utf-8 as the HTTP charset says']);
    expect(r.items[0]).toMatchObject({
      title: '区长接待日：回应群众关切的停车难问题',
      guid: 'http://www.qu.example.gov.cn/xwdt/1001.html',
    });
  });

  it('Big5 from the HTTP charset', () => {
    const r = read('big5-news-http-charset.xml', 'application/rss+xml; charset=big5');
    expect(r.encoding).toBe('big5');
    expect(r.items[0]).toMatchObject({ title: '市府回應颱風停班停課爭議', content: '記者報導：市政府今日說明。' });
    expect(iso(r.items[0]!.publishedAt)).toBe('2026-11-28T02:15:00.000Z');
  });

  it('RSS 1.0 (RDF) in GB18030 with a four-byte character and dc:date', () => {
    const r = read('rdf-rss10-gb18030.xml');
    expect(r).toMatchObject({ format: 'rss1.0', encoding: 'gb18030', title: '某论坛 民生热帖', warnings: [] });
    expect(r.items.map((i) => i.title)).toEqual(['𠮷野家门口的井盖又丢了', '幼儿园收费问题']);
    expect(iso(r.items[1]!.publishedAt)).toBe('2026-11-28T04:30:00.000Z');
  });

  it('WordPress with a UTF-8 BOM: non-permalink guid as item key, link without utm_* as signal key, scripts dropped', () => {
    const r = read('wordpress-utf8-bom.xml');
    expect(r).toMatchObject({ encoding: 'utf-8', format: 'rss2.0', title: '城市观察', warnings: [] });
    expect(r.items[0]).toMatchObject({
      link: 'https://blog.example.cn/2026/11/elevator/',
      guid: 'https://blog.example.cn/?p=4711',
      itemKey: 'guid:https://blog.example.cn/?p=4711',
      signalKey: 'url://blog.example.cn/2026/11/elevator/',
      content: '加装电梯涉及全体业主意见…',
    });
    expect(r.items[1]!.content).toBe('多个小区反映暖气不热。');
  });

  it('Atom: the alternate link among several, html titles, xhtml content, published before updated', () => {
    const r = read('atom-hugo.xml');
    expect(r).toMatchObject({ format: 'atom', title: '市民热线观察', warnings: [] });
    expect(r.items[0]).toMatchObject({
      title: '夜间施工噪声 持续 一周',
      link: 'https://watch.example.org/posts/noise/',
      guid: 'tag:watch.example.org,2026:posts/noise',
      content: '居民反映夜间施工噪声。',
    });
    expect(iso(r.items[1]!.publishedAt)).toBe('2026-11-27T01:00:00.000Z');
  });

  it('RSS 0.91 with the Netscape DOCTYPE, Latin-1, no dates: fetch time; on a first poll, baseline history', () => {
    const r = read('rss091-netscape.xml');
    expect(r).toMatchObject({ format: 'rss0.9x', encoding: 'windows-1252' });
    expect(r.items[0]).toMatchObject({
      title: 'Café licence notice',
      time: { at: FETCHED, decision: 'fetch_time', reason: 'no_publish_time' },
    });
    expect(read('rss091-netscape.xml', null, { firstPoll: true }).items[0]!.time).toEqual({
      at: FETCHED,
      decision: 'history',
      reason: 'baseline_without_credible_time',
    });
  });

  it('broken but common: unescaped &, &nbsp;, NUL and other controls, an unclosed item — every item read', () => {
    const r = read('broken-unescaped.xml');
    expect(r.warnings).toEqual(['2 control characters stripped', '1 items not closed']);
    expect(r.items.map((i) => i.title)).toEqual(['县城区道路改造 & 交通管制公告', '乡镇卫生院医保报销窗口调整', '第三条']);
    expect(r.items[0]).toMatchObject({ link: 'http://rmt.example.cn/a?id=1&type=2', content: '管制时间 两周' });
  });

  it('a document cut off mid-item keeps what came before, with a warning', () => {
    const r = read('truncated.xml');
    expect(r.warnings).toContain('document ends before </rss> (cut off)');
    expect(r.items[0]).toMatchObject({ title: '完整的一条', guid: 'cut-1', itemKey: 'guid:cut-1', signalKey: 'url://cut.example.cn/1' });
    expect(r.items).toHaveLength(2);
  });

  it('an RSSHub Weibo bridge: tracking parameter dropped, an item without link or guid keyed by its content hash', () => {
    const r = read('rsshub-weibo-bridge.xml');
    expect(r.items[0]).toMatchObject({ title: '【权威发布】关于网传高架桥裂缝的情况说明', link: 'https://weibo.com/1234567890/Nabc123' });
    expect(r.items[1]!.link).toBeUndefined();
    expect(r.items[1]!.itemKey).toMatch(/^hash:[0-9a-f]{32}$/);
    expect(r.items[1]!.signalKey).toBe(r.items[1]!.itemKey);
  });

  it('odd dates: future and epoch fall back to the fetch time, Chinese and CST dates are Beijing time', () => {
    const r = read('odd-dates.xml');
    expect(r.items.map((i) => [i.title, i.time.decision, i.time.reason, iso(i.time.at)])).toEqual([
      ['未来', 'fetch_time', 'publish_time_in_future', iso(FETCHED)],
      ['纪元零点', 'fetch_time', 'publish_time_implausibly_old', iso(FETCHED)],
      ['中文日期', 'published', 'publish_time', '2026-11-28T02:20:00.000Z'],
      ['CST 时区', 'published', 'publish_time', '2026-11-28T02:20:00.000Z'],
      ['看不懂', 'fetch_time', 'unreadable_publish_time', iso(FETCHED)],
    ]);
  });

  it('takes at most maxItems items and says how many were left', () => {
    const r = read('odd-dates.xml', null, { maxItems: 2 });
    expect(r.items).toHaveLength(2);
    expect(r.skipped).toBe(3);
  });

  it('never expands DTD entities: billion laughs and external entities stay literal', () => {
    const bomb = read('billion-laughs.xml');
    expect(bomb.items[0]!.title).toBe('a&lol3;b');
    const xxe = read('xxe.xml');
    expect(JSON.stringify(xxe)).not.toMatch(/root:|ami-id|lollol/);
    expect(xxe.items[0]!.title).toBe('x&file;');
  });

  it.each([['html-error-page.html', 'not an RSS or Atom feed (root element <html>)']])(
    '%s is refused with one clear error',
    (name, message) => {
      expect(() => read(name)).toThrow(new FeedParseError(message));
    },
  );

  it.each([
    ['', 'empty document'],
    ['   \n', 'empty document'],
    ['just text', 'no XML element found'],
    ['{"items":[]}', 'no XML element found'],
    ['<rss version="2.0"></rss>', 'no channel and no items in the rss2.0 document'],
  ])('refuses %j', (text, message) => {
    expect(() => parseFeedXml(text)).toThrow(new FeedParseError(message));
  });
});

describe('decodeFeedBody', () => {
  const gbk = new Uint8Array([0xd5, 0xfe, 0xce, 0xf1, 0xb9, 0xab, 0xbf, 0xaa]); // 政务公开
  it.each([
    ['text/xml; charset=gbk', 'gb18030'],
    ['text/xml; charset="GB2312"', 'gb18030'],
    ['text/xml;charset=GB18030', 'gb18030'],
  ])('decodes GBK bytes declared as %s', (ct, encoding) => {
    expect(decodeFeedBody(gbk, ct)).toMatchObject({ text: '政务公开', encoding, source: 'http' });
  });
  it('guesses GB18030 for undeclared bytes that are not UTF-8', () => {
    expect(decodeFeedBody(gbk, null)).toMatchObject({ text: '政务公开', source: 'sniffed' });
  });
  it('an unknown label is a warning, not a failure', () => {
    expect(decodeFeedBody(new TextEncoder().encode('回应'), 'text/xml; charset=x-klingon')).toMatchObject({
      text: '回应',
      warnings: ['unknown encoding x-klingon (HTTP charset)'],
    });
  });
  it('UTF-16 with a BOM', () => {
    const body = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('<rss/>', 'utf16le')]);
    expect(decodeFeedBody(body, null)).toMatchObject({ text: '<rss/>', encoding: 'utf-16le', source: 'bom' });
  });
});

describe('parseFeedDate', () => {
  it.each([
    ['Mon, 02 Mar 2026 00:00:00 GMT', '2026-03-02T00:00:00.000Z'],
    ['2026-03-02T08:00:00+08:00', '2026-03-02T00:00:00.000Z'],
    ['2026-03-02 08:00:00', '2026-03-02T00:00:00.000Z'],
    ['2026-03-02T08:00', '2026-03-02T00:00:00.000Z'],
    ['2026-03-02', '2026-03-01T16:00:00.000Z'],
    ['2026年3月2日', '2026-03-01T16:00:00.000Z'],
    ['2026年3月2日 8:05', '2026-03-02T00:05:00.000Z'],
    ['2026/03/02 08:00:00', '2026-03-02T00:00:00.000Z'],
    ['Mon, 02 Mar 2026 08:00:00 CST', '2026-03-02T00:00:00.000Z'],
  ])('reads %s (zone-less as Beijing time)', (text, expected) => {
    expect(iso(parseFeedDate(text))).toBe(expected);
  });
  it.each([['yesterday'], ['昨天'], [''], [undefined]])('gives up on %s without throwing', (text) => {
    expect(parseFeedDate(text)).toBeUndefined();
  });
});

describe('the feed reader never crashes (property)', () => {
  const ctx = { feedId: 'f', feedUrl: 'http://f.example.cn/', fetchedAt: FETCHED, feedAddedAt: ADDED, firstPoll: false, maxItems: 20 };
  const fragments = fc.constantFrom(
    '<rss version="2.0">',
    '<channel>',
    '<item>',
    '</item>',
    '<title>',
    '</title>',
    '<link>',
    '</link>',
    '<guid isPermaLink="false">',
    '</guid>',
    '<pubDate>',
    '</pubDate>',
    '<![CDATA[',
    ']]>',
    '<feed xmlns="http://www.w3.org/2005/Atom">',
    '<entry>',
    '</entry>',
    '<link href="x"/>',
    '<!DOCTYPE rss [<!ENTITY a "b">]>',
    '&a;',
    '&amp;',
    '&#0;',
    '&#xD800;',
    '<?xml version="1.0" encoding="gbk"?>',
    '\u0000',
    '\uFFFF',
    '政务',
    '2026-13-45 99:99',
    'Mon, 02 Mar 2026',
    '<',
    '>',
    '&',
    '"',
    'http://',
    'javascript:alert(1)',
  );
  it('returns a feed or throws FeedParseError for any mix of feed fragments', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fragments, fc.string()), { maxLength: 60 }), (parts) => {
        const body = new TextEncoder().encode(parts.join(''));
        try {
          const r = readFeed(body, null, ctx);
          for (const item of r.items) {
            expect(typeof item.title).toBe('string');
            expect(item.title).not.toMatch(/\u0000/);
            expect(Number.isFinite(item.time.at)).toBe(true);
          }
        } catch (error) {
          expect(error).toBeInstanceOf(FeedParseError);
        }
      }),
      { numRuns: 400 },
    );
  });
  it('survives arbitrary bytes under any declared charset', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 400 }),
        fc.constantFrom(null, 'text/xml; charset=gbk', 'text/xml; charset=big5', 'text/xml; charset=utf-8'),
        (bytes, ct) => {
          try {
            readFeed(bytes, ct, ctx);
          } catch (error) {
            expect(error).toBeInstanceOf(FeedParseError);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
