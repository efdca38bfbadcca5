/** Wording for 监测方案 and the intake page. Pure, unit-tested. */

const SOURCE_KIND: Record<string, string> = {
  hotline: '12345 热线',
  manual: '人工补充',
  feed: '全部信息源',
};

/** hotline / manual / feed / feed:<kind> in words. */
export function sourceKindLabel(kind: string): string {
  if (Object.hasOwn(SOURCE_KIND, kind)) return SOURCE_KIND[kind]!;
  return kind.startsWith('feed:') ? `信息源：${kind.slice('feed:'.length)}` : kind;
}

/** 「城东区，城西区、 高新区」 → ['城东区', '城西区', '高新区']: any comma, 顿号 or space separates. */
export function splitNames(text: string): string[] {
  return [
    ...new Set(
      text
        .split(/[,，、;；\s]+/)
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    ),
  ];
}
