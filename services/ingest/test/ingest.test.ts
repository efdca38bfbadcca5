import { describe, expect, it } from 'vitest';
import { decodeFeed, parseFeedDate } from '../src/feeds.ts';
import { redact, signalId } from '../src/signals.ts';

describe('decodeFeed', () => {
  // "政务公开" in GBK.
  const gbk = new Uint8Array([0xd5, 0xfe, 0xce, 0xf1, 0xb9, 0xab, 0xbf, 0xaa]);
  it('decodes GBK declared in the XML prolog', () => {
    const prolog = new TextEncoder().encode('<?xml version="1.0" encoding="GBK"?><t>');
    const body = new Uint8Array([...prolog, ...gbk, ...new TextEncoder().encode('</t>')]);
    expect(decodeFeed(body, 'application/xml')).toContain('政务公开');
  });
  it('prefers the charset in Content-Type', () => {
    expect(decodeFeed(gbk, 'text/xml; charset=gb18030')).toBe('政务公开');
  });
  it('defaults to UTF-8', () => {
    expect(decodeFeed(new TextEncoder().encode('回应'), null)).toBe('回应');
  });
});

describe('signal identity and redaction', () => {
  it('maps the same (source, ref) to the same id, and different ones apart', () => {
    expect(signalId('hotline', 'T-1')).toBe(signalId('hotline', 'T-1'));
    expect(signalId('hotline', 'T-1')).not.toBe(signalId('feed', 'T-1'));
  });
  it('masks mobile numbers and ID numbers anywhere in a value', () => {
    const out = redact({ content: '联系13812345678，身份证11010519491231002X', nested: ['电话 15900001111'] });
    expect(JSON.stringify(out)).not.toMatch(/13812345678|15900001111|11010519491231002X/);
    expect(out.content).toContain('138****5678');
  });
});

describe('parseFeedDate', () => {
  it.each([
    ['Mon, 02 Mar 2026 00:00:00 GMT', '2026-03-02T00:00:00.000Z'],
    ['2026-03-02T08:00:00+08:00', '2026-03-02T00:00:00.000Z'],
    ['2026-03-02 08:00:00', '2026-03-02T00:00:00.000Z'],
    ['2026-03-02T08:00', '2026-03-02T00:00:00.000Z'],
  ])('reads %s (zone-less as Beijing time)', (text, iso) => {
    expect(new Date(parseFeedDate(text)!).toISOString()).toBe(iso);
  });
  it.each([['2026年3月2日'], ['yesterday'], [''], [undefined]])('gives up on %s without throwing', (text) => {
    expect(parseFeedDate(text)).toBeUndefined();
  });
});

describe('feed parsing safety', () => {
  it('does not expand custom DTD entities (no entity-expansion or external-entity tricks)', async () => {
    const { default: Parser } = await import('rss-parser');
    const xml = `<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY boom "BOOMBOOMBOOMBOOM"><!ENTITY ext SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>t</title><item><title>a&boom;b</title><description>&ext;</description></item></channel></rss>`;
    const parsed = await new Parser().parseString(xml).catch((e: unknown) => e);
    // Either the parser refuses the document, or the entities stay unexpanded: never their content.
    const text = JSON.stringify(parsed instanceof Error ? parsed.message : parsed);
    expect(text).not.toContain('BOOMBOOM');
    expect(text).not.toContain('root:');
  });
});
