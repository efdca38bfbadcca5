export interface Decoded {
  text: string;
  /** The WHATWG encoding name actually used (`utf-8`, `gbk`, `gb18030`, `big5`, …). */
  encoding: string;
  /** Where the encoding came from. */
  source: 'bom' | 'http' | 'xml' | 'default' | 'sniffed';
  warnings: string[];
}

/**
 * Labels Chinese sites put in Content-Type or the XML declaration, mapped to decoders Node's
 * TextDecoder has. GBK and GB2312 are decoded as GB18030, their superset, so a GBK-labelled
 * feed that uses a GB18030-only character still decodes.
 */
const ALIASES: Record<string, string> = {
  gb2312: 'gb18030',
  gbk: 'gb18030',
  'x-gbk': 'gb18030',
  cp936: 'gb18030',
  'windows-936': 'gb18030',
  'euc-cn': 'gb18030',
  gb18030: 'gb18030',
  big5: 'big5',
  'big5-hkscs': 'big5',
  'x-x-big5': 'big5',
  cp950: 'big5',
  utf8: 'utf-8',
  'utf-8': 'utf-8',
};

function decoderFor(label: string | undefined): InstanceType<typeof TextDecoder> | undefined {
  if (!label) return undefined;
  const name = ALIASES[label.toLowerCase()] ?? label.toLowerCase();
  try {
    return new TextDecoder(name, { fatal: true });
  } catch {
    return undefined;
  }
}

/**
 * Decode a feed body: a BOM wins; then the HTTP charset; then the XML declaration; else UTF-8.
 * Chinese sites often send `charset=utf-8` for a body that is really GBK as its own XML
 * declaration says, so a declared encoding the bytes do not fit gives way to the other
 * declaration; as a last resort the text is decoded with replacement characters and a warning.
 */
export function decodeFeedBody(body: Uint8Array, contentType?: string | null): Decoded {
  const warnings: string[] = [];
  if (body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf)
    return { text: new TextDecoder('utf-8').decode(body.subarray(3)), encoding: 'utf-8', source: 'bom', warnings };
  if (body[0] === 0xff && body[1] === 0xfe)
    return { text: new TextDecoder('utf-16le').decode(body.subarray(2)), encoding: 'utf-16le', source: 'bom', warnings };
  if (body[0] === 0xfe && body[1] === 0xff)
    return { text: new TextDecoder('utf-16be').decode(body.subarray(2)), encoding: 'utf-16be', source: 'bom', warnings };

  const httpLabel = /charset\s*=\s*["']?([\w.:-]+)/i.exec(contentType ?? '')?.[1];
  const head = new TextDecoder('latin1').decode(body.subarray(0, 512));
  const xmlLabel = /^\s*<\?xml[^>]*?encoding\s*=\s*["']([\w.:-]+)["']/i.exec(head)?.[1];
  const candidates: [Decoded['source'], string | undefined][] = [
    ['http', httpLabel],
    ['xml', xmlLabel],
    ['default', 'utf-8'],
  ];
  for (const [source, label] of candidates) {
    if (!label) continue;
    const decoder = decoderFor(label);
    if (!decoder) {
      warnings.push(`unknown encoding ${label} (${source === 'http' ? 'HTTP charset' : 'XML declaration'})`);
      continue;
    }
    try {
      return { text: decoder.decode(body), encoding: decoder.encoding, source, warnings };
    } catch {
      warnings.push(
        `body is not valid ${decoder.encoding} as the ${source === 'http' ? 'HTTP charset' : source === 'xml' ? 'XML declaration' : 'default'} says`,
      );
    }
  }
  // Undeclared and not UTF-8: GB18030 is what an undeclared Chinese page most likely is.
  try {
    const text = new TextDecoder('gb18030', { fatal: true }).decode(body);
    warnings.push('decoded as gb18030 by guess');
    return { text, encoding: 'gb18030', source: 'sniffed', warnings };
  } catch {
    warnings.push('invalid bytes replaced (U+FFFD)');
    return { text: new TextDecoder('utf-8').decode(body), encoding: 'utf-8', source: 'default', warnings };
  }
}
