import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import RssParser from 'rss-parser';
import { describe, expect, it, vi } from 'vitest';
import { decodeFeedBody } from '../src/feed/decode.ts';
import { parseFeedDate } from '../src/feed/normalise.ts';
import { FeedParseError, parseFeedXml } from '../src/feed/parse.ts';
import { parseFeed, stripDoctype } from '../src/feed/primary.ts';
import { type FeedRead, readFeed } from '../src/feed/read.ts';

const FETCHED = Date.parse('2026-11-28T12:00:00Z');
const ADDED = Date.parse('2026-11-01T00:00:00Z');

async function read(
  name: string,
  contentType: string | null = null,
  over: { firstPoll?: boolean; maxItems?: number } = {},
): Promise<FeedRead> {
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
  it('TRS-style 政府网站 column: GBK from the XML prolog, zone-less Beijing dates, CDATA HTML, relative links', async () => {
    const r = await read('trs-gov-column-gbk.xml');
    expect(r).toMatchObject({
      parser: 'rss-parser',
      encoding: 'gb18030',
      format: 'rss2.0',
      title: '某市人民政府 - 政务公开 - 通知公告',
      warnings: [],
    });
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

  it('GBK body served as charset=utf-8: the prolog wins, with a warning', async () => {
    const r = await read('gbk-served-as-utf8.xml', 'text/xml; charset=utf-8');
    expect(r.encoding).toBe('gb18030');
    expect(r.warnings).toEqual(['body is not valid utf-8 as the HTTP charset says']);
    expect(r.items[0]).toMatchObject({
      title: '区长接待日：回应群众关切的停车难问题',
      guid: 'http://www.qu.example.gov.cn/xwdt/1001.html',
    });
  });

  it('Big5 from the HTTP charset', async () => {
    const r = await read('big5-news-http-charset.xml', 'application/rss+xml; charset=big5');
    expect(r.encoding).toBe('big5');
    expect(r.items[0]).toMatchObject({ title: '市府回應颱風停班停課爭議', content: '記者報導：市政府今日說明。' });
    expect(iso(r.items[0]!.publishedAt)).toBe('2026-11-28T02:15:00.000Z');
  });

  it.each([
    ['no Content-Type', null],
    ['a Content-Type without charset', 'application/xml'],
  ])('Big5 declared only in the XML prolog (%s)', async (_, contentType) => {
    const r = await read('big5-prolog-only.xml', contentType);
    expect(r).toMatchObject({ encoding: 'big5', title: '區議會 最新消息', warnings: [] });
    expect(r.items.map((i) => i.title)).toEqual(['關於公屋電梯停用的回應', '颱風後清理工作進度']);
    expect(r.items[0]).toMatchObject({ content: '房屋署表示：維修將於兩週內完成。', guid: 'council-20261128-2' });
    expect(iso(r.items[0]!.publishedAt)).toBe('2026-11-28T08:40:00.000Z');
    const body = readFileSync(new URL('./fixtures/feeds/big5-prolog-only.xml', import.meta.url));
    expect(decodeFeedBody(body, contentType)).toMatchObject({ encoding: 'big5', source: 'xml' });
  });

  it('RSS 1.0 (RDF) in GB18030 with a four-byte character and dc:date', async () => {
    const r = await read('rdf-rss10-gb18030.xml');
    expect(r).toMatchObject({ parser: 'rss-parser', format: 'rss1.0', encoding: 'gb18030', title: '某论坛 民生热帖', warnings: [] });
    expect(r.items.map((i) => i.title)).toEqual(['𠮷野家门口的井盖又丢了', '幼儿园收费问题']);
    expect(iso(r.items[1]!.publishedAt)).toBe('2026-11-28T04:30:00.000Z');
  });

  it('WordPress with a UTF-8 BOM: non-permalink guid as item key, link without utm_* as signal key, scripts dropped', async () => {
    const r = await read('wordpress-utf8-bom.xml');
    expect(r).toMatchObject({ parser: 'rss-parser', encoding: 'utf-8', format: 'rss2.0', title: '城市观察', warnings: [] });
    expect(r.items[0]).toMatchObject({
      link: 'https://blog.example.cn/2026/11/elevator/',
      guid: 'https://blog.example.cn/?p=4711',
      itemKey: 'guid:https://blog.example.cn/?p=4711',
      signalKey: 'url://blog.example.cn/2026/11/elevator/',
      content: '加装电梯涉及全体业主意见…',
    });
    expect(r.items[1]!.content).toBe('多个小区反映暖气不热。');
  });

  it('Atom: the alternate link among several, html titles, xhtml content, published before updated', async () => {
    const r = await read('atom-hugo.xml');
    expect(r).toMatchObject({ parser: 'rss-parser', format: 'atom', title: '市民热线观察', warnings: [] });
    expect(r.items[0]).toMatchObject({
      title: '夜间施工噪声 持续 一周',
      link: 'https://watch.example.org/posts/noise/',
      guid: 'tag:watch.example.org,2026:posts/noise',
      content: '居民反映夜间施工噪声。',
    });
    expect(iso(r.items[1]!.publishedAt)).toBe('2026-11-27T01:00:00.000Z');
  });

  it('RSS 0.91 with the Netscape DOCTYPE, Latin-1, no dates: fetch time; on a first poll, baseline history', async () => {
    const r = await read('rss091-netscape.xml');
    expect(r).toMatchObject({ parser: 'rss-parser', format: 'rss0.9x', encoding: 'windows-1252' });
    expect(r.items[0]).toMatchObject({
      title: 'Café licence notice',
      time: { at: FETCHED, decision: 'fetch_time', reason: 'no_publish_time' },
    });
    expect((await read('rss091-netscape.xml', null, { firstPoll: true })).items[0]!.time).toEqual({
      at: FETCHED,
      decision: 'history',
      reason: 'baseline_without_credible_time',
    });
  });

  it('broken but common: unescaped &, &nbsp;, NUL and other controls, an unclosed item — every item read', async () => {
    const r = await read('broken-unescaped.xml');
    expect(r.parser).toBe('tolerant');
    expect(r.warnings).toEqual(['2 control characters stripped', '1 items not closed']);
    expect(r.items.map((i) => i.title)).toEqual(['县城区道路改造 & 交通管制公告', '乡镇卫生院医保报销窗口调整', '第三条']);
    expect(r.items[0]).toMatchObject({ link: 'http://rmt.example.cn/a?id=1&type=2', content: '管制时间 两周' });
  });

  it('a document cut off mid-item keeps what came before, with a warning', async () => {
    const r = await read('truncated.xml');
    expect(r.parser).toBe('tolerant');
    expect(r.warnings).toContain('document ends before </rss> (cut off)');
    expect(r.items[0]).toMatchObject({ title: '完整的一条', guid: 'cut-1', itemKey: 'guid:cut-1', signalKey: 'url://cut.example.cn/1' });
    expect(r.items).toHaveLength(2);
  });

  it('an RSSHub Weibo bridge: tracking parameter dropped, an item without link or guid keyed by its content hash', async () => {
    const r = await read('rsshub-weibo-bridge.xml');
    expect(r.items[0]).toMatchObject({ title: '【权威发布】关于网传高架桥裂缝的情况说明', link: 'https://weibo.com/1234567890/Nabc123' });
    expect(r.items[1]!.link).toBeUndefined();
    expect(r.items[1]!.itemKey).toMatch(/^hash:[0-9a-f]{32}$/);
    expect(r.items[1]!.signalKey).toBe(r.items[1]!.itemKey);
  });

  it('odd dates: future and epoch fall back to the fetch time, Chinese and CST dates are Beijing time', async () => {
    const r = await read('odd-dates.xml');
    expect(r.items.map((i) => [i.title, i.time.decision, i.time.reason, iso(i.time.at)])).toEqual([
      ['未来', 'fetch_time', 'publish_time_in_future', iso(FETCHED)],
      ['纪元零点', 'fetch_time', 'publish_time_implausibly_old', iso(FETCHED)],
      ['中文日期', 'published', 'publish_time', '2026-11-28T02:20:00.000Z'],
      ['CST 时区', 'published', 'publish_time', '2026-11-28T02:20:00.000Z'],
      ['看不懂', 'fetch_time', 'unreadable_publish_time', iso(FETCHED)],
    ]);
  });

  it('takes at most maxItems items and says how many were left', async () => {
    const r = await read('odd-dates.xml', null, { maxItems: 2 });
    expect(r.items).toHaveLength(2);
    expect(r.skipped).toBe(3);
  });

  it('never expands DTD entities: billion laughs and external entities stay literal, and rss-parser never sees a DTD', async () => {
    const seen = vi.spyOn(RssParser.prototype, 'parseString');
    try {
      const bomb = await read('billion-laughs.xml');
      expect(bomb.items[0]!.title).toBe('a&lol3;b');
      // rss-parser is given the document without its DOCTYPE, refuses the undeclared &lol3;, the fallback keeps it literal.
      expect(bomb.parser).toBe('tolerant');
      const xxe = await read('xxe.xml');
      expect(JSON.stringify(xxe)).not.toMatch(/root:|ami-id|lollol/);
      expect(xxe.items[0]!.title).toBe('x&file;');
      expect(xxe.parser).toBe('tolerant');
      // A declared entity that rss-parser could read is not expanded either: the declaration never reaches it.
      const declared = await parseFeed(
        '<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY x "EXPANDED"> <!-- ]> --> <!ENTITY y "a]>b">]>\n' +
          '<rss version="2.0"><channel><title>t</title><item><title>plain</title><description>&x;</description></item></channel></rss>',
      );
      expect(JSON.stringify(declared)).not.toMatch(/EXPANDED/);
      expect(declared.items[0]!.title).toBe('plain');
      const unused = await parseFeed(
        '<!DOCTYPE rss [<!ENTITY x "EXPANDED"> <!-- ]> --> <!ENTITY y "a]>b">]><rss version="2.0"><channel><title>t</title><item><title>ok</title></item></channel></rss>',
      );
      expect(unused).toMatchObject({ parser: 'rss-parser', items: [{ title: 'ok' }] });
      expect(seen).toHaveBeenCalled();
      for (const [xml] of seen.mock.calls) expect(xml).not.toMatch(/<!DOCTYPE|<!ENTITY|EXPANDED|\/etc\/passwd/i);
    } finally {
      seen.mockRestore();
    }
  });

  it('what strict rss-parser refuses goes to the fallback: character references to controls, mixed text and markup', async () => {
    const nul = await parseFeed(
      '<rss version="2.0"><channel><title>t</title><item><title>a&#0;b</title><guid>g</guid></item></channel></rss>',
    );
    expect(nul).toMatchObject({ parser: 'tolerant', items: [{ guid: 'g' }] });
    expect(nul.items[0]!.title).not.toMatch(/\u0000/);
    const mixed = await parseFeed(
      '<rss version="2.0"><channel><title>t</title><item><title>x</title><description>停水 <b>两天</b> 通知</description></item></channel></rss>',
    );
    expect(mixed).toMatchObject({ parser: 'tolerant', items: [{ title: 'x' }] });
    expect(mixed.items[0]!.summary).toContain('两天');
  });

  it('stripDoctype removes the declaration and its internal subset, quoted ] and > and comments included', () => {
    expect(stripDoctype('<?xml version="1.0"?><!DOCTYPE rss PUBLIC "-//x//EN" "http://x/rss.dtd"><rss/>')).toBe(
      '<?xml version="1.0"?><rss/>',
    );
    expect(stripDoctype('<!doctype rss [<!ENTITY a "]>"><!-- ]> --><!ENTITY b \'>\'>]>\n<rss/>')).toBe('\n<rss/>');
    expect(stripDoctype('<rss><title>no dtd</title></rss>')).toBe('<rss><title>no dtd</title></rss>');
    expect(stripDoctype('<!DOCTYPE rss [<!ENTITY a "unterminated')).toBe('');
  });

  it.each([['html-error-page.html', 'not an RSS or Atom feed (root element <html>)']])(
    '%s is refused with one clear error',
    async (name, message) => {
      await expect(read(name)).rejects.toThrow(new FeedParseError(message));
    },
  );

  it.each([
    ['', 'empty document'],
    ['   \n', 'empty document'],
    ['just text', 'no XML element found'],
    ['{"items":[]}', 'no XML element found'],
    ['<rss version="2.0"></rss>', 'no channel and no items in the rss2.0 document'],
  ])('refuses %j', async (text, message) => {
    expect(() => parseFeedXml(text)).toThrow(new FeedParseError(message));
    await expect(parseFeed(text)).rejects.toThrow(new FeedParseError(message));
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
  it('guesses GB18030 for undeclared bytes that are not UTF-8', async () => {
    expect(decodeFeedBody(gbk, null)).toMatchObject({ text: '政务公开', source: 'sniffed' });
  });
  it('an unknown label is a warning, not a failure', async () => {
    expect(decodeFeedBody(new TextEncoder().encode('回应'), 'text/xml; charset=x-klingon')).toMatchObject({
      text: '回应',
      warnings: ['unknown encoding x-klingon (HTTP charset)'],
    });
  });
  it('UTF-16 with a BOM', async () => {
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
  it('returns a feed or throws FeedParseError for any mix of feed fragments', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(fragments, fc.string()), { maxLength: 60 }), async (parts) => {
        const body = new TextEncoder().encode(parts.join(''));
        try {
          const r = await readFeed(body, null, ctx);
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
  it('survives arbitrary bytes under any declared charset', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 400 }),
        fc.constantFrom(null, 'text/xml; charset=gbk', 'text/xml; charset=big5', 'text/xml; charset=utf-8'),
        async (bytes, ct) => {
          try {
            await readFeed(bytes, ct, ctx);
          } catch (error) {
            expect(error).toBeInstanceOf(FeedParseError);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
