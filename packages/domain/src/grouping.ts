/**
 * Grouping signals into incidents (one 舆情事件 per matter). A matched signal joins an open
 * incident when it shares a link with one of its signals, when it is a 12345 ticket on the
 * same matter as a recent ticket (same category and area, similar content: a burst), or when
 * its text is similar enough; otherwise it opens a new incident.
 *
 * Similarity is on character bigrams of normalised text: Chinese needs no segmenter for this,
 * and bigrams catch the shared place names, unit names and nouns that different wordings of
 * one matter keep. The thresholds are a policy (config), chosen on the labelled sample in
 * packages/domain/test/fixtures/grouping-sample.json (see bench/grouping.ts for the figures). Pure: no I/O.
 */
import { MS_PER_HOUR } from './time.ts';
import type { Instant } from './types.ts';

export interface GroupingPolicy {
  /** overlap (|A∩B| / min) or jaccard (|A∩B| / |A∪B|) of the two bigram sets. */
  measure: 'overlap' | 'jaccard';
  /** An open incident's signals are candidates this long after they were seen. */
  windowMs: number;
  /** Bigram similarity (overlap coefficient) at or above which a signal joins on similar text. */
  textThreshold: number;
  /** Texts with fewer distinct bigrams than this never join on similarity (too little to go on). */
  minBigrams: number;
  /** Tickets of one category and area within this window are one matter if similar enough… */
  burstWindowMs: number;
  /** …at or above this similarity (lower than textThreshold: category and area already agree). */
  burstThreshold: number;
  /** How much of a signal's content (characters) is compared, after its title. */
  contentChars: number;
  /**
   * Text is compared with this many of an incident's most recent signals, not all of them: a
   * burst of thousands of tickets on one matter costs the same as one of twenty. (Links are
   * compared with every signal.)
   */
  maxSignalsPerIncident: number;
}

export const DEFAULT_GROUPING_POLICY: GroupingPolicy = {
  measure: 'overlap',
  windowMs: 72 * MS_PER_HOUR,
  // Chosen on the labelled sample (bench/grouping.ts): best F1 neighbourhood, pairwise precision
  // 84.3 %, recall 90.9 %. Higher text thresholds buy precision with recall (0.275: 89.6 % / 69.3 %).
  textThreshold: 0.2,
  minBigrams: 6,
  burstWindowMs: 24 * MS_PER_HOUR,
  burstThreshold: 0.15,
  contentChars: 300,
  maxSignalsPerIncident: 20,
};

export interface GroupingSubject {
  id: string;
  source: 'feed' | 'hotline' | 'manual';
  /** When the signal became known (its publish time, or when it was seen). */
  at: Instant;
  url?: string | null;
  title?: string | null;
  content?: string | null;
  area?: string | null;
  category?: string | null;
}

/** What grouping compares, computed once per signal. */
export interface GroupingFeatures {
  id: string;
  source: GroupingSubject['source'];
  at: Instant;
  link: string | null;
  area: string | null;
  category: string | null;
  /**
   * Its distinct bigrams as `bigramKey`s, ascending (numbers: a pool of thousands of candidates
   * looks them up by the hundred per decision; a sorted array: a third of a set's memory in a pool
   * holding tens of thousands, and two of them intersect in one merge).
   */
  bigrams: readonly number[];
}

export interface GroupingCandidate extends GroupingFeatures {
  incidentId: string;
}

export type JoinReason = 'link' | 'ticket_matter' | 'similar_text';

export type GroupingDecision =
  | { kind: 'join'; incidentId: string; reason: JoinReason; score: number; via: string }
  | { kind: 'open'; best: { incidentId: string; score: number; via: string } | null };

const TRACKING = /^(utm_[a-z]+|spm|from|share_?(from|source|token)?|source|wfr|isappinstalled|scene|clicktime|enterid|fbclid|gclid|_t)$/i;

/**
 * One spelling per page: scheme and host in lower case, default ports, fragments and tracking
 * parameters dropped, the rest of the query sorted, a trailing slash removed; http and https
 * are the same page. Null for what is not an http(s) URL.
 */
export function canonicalUrl(raw: string | null | undefined): string | null {
  if (!raw) return null;
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    return null;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
  const params = [...u.searchParams.entries()].filter(([k]) => !TRACKING.test(k)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const query = params.length === 0 ? '' : `?${new URLSearchParams(params).toString()}`;
  const path = u.pathname.replace(/\/+$/, '');
  const host = u.hostname.toLowerCase().replace(/^www\./, '');
  const port = u.port && u.port !== '80' && u.port !== '443' ? `:${u.port}` : '';
  return `${host}${port}${path}${query}`;
}

/** Letters, digits and CJK only, full-width folded, one case; masked digits (`*`) and punctuation dropped. */
export function normalizeText(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, '');
}

/**
 * Bigrams that every 政务 report and complaint uses, whatever the matter ("相关部门表示",
 * "请尽快处理"): they say nothing about which matter it is, so they are not compared.
 */
const COMMON_BIGRAMS = new Set(
  (
    '回应 表示 部门 相关 有关 市民 居民 群众 网友 记者 问题 反映 情况 工作 要求 希望 尽快 处理 解决 已经 目前 今天 昨天 ' +
    '近日 日前 一直 没有 我们 他们 请问 请求 一个 发布 通报 称已 已对 将对 进行 开展 全面 表明 此事 对此 针对 关于 ' +
    '政府 市里 本市 全市 区里 人员 管理 单位 公司 负责 情况 说明 原因 结果 消息 有人 还是 什么 怎么 可以 不能 现在'
  ).split(' '),
);

/** Distinct character bigrams (a one-character text is its own gram), without the common ones. */
export function bigramsOf(text: string): Set<string> {
  const s = normalizeText(text);
  const out = new Set<string>();
  if (s.length === 1) out.add(s);
  for (let i = 0; i + 1 < s.length; i++) {
    const g = s.slice(i, i + 2);
    if (!COMMON_BIGRAMS.has(g)) out.add(g);
  }
  return out;
}

/**
 * A gram's two UTF-16 code units in one 32-bit integer (a one-character gram: the second is 0,
 * which normalised text never holds). The first unit's top bit is flipped so that the signed
 * order of keys is the order of the gram strings: ties broken by key look at the same grams as
 * ties broken by string did. Numbers, not strings: a pool's map of grams is looked up a hundred
 * times per decision, and a small integer hashes and compares without touching a string.
 */
export function bigramKey(gram: string): number {
  return ((gram.charCodeAt(0) ^ 0x8000) << 16) | (gram.length > 1 ? gram.charCodeAt(1) : 0);
}

const COMMON_BIGRAM_KEYS = new Set([...COMMON_BIGRAMS].map(bigramKey));

/** Where `bigramKeysOf` collects a text's keys before sorting them (grown as texts need). */
let scratch = new Int32Array(256);

/** `bigramsOf(text)` as `bigramKey`s, ascending, without making a string per gram. */
export function bigramKeysOf(text: string): number[] {
  const s = normalizeText(text);
  if (s.length === 1) return [bigramKey(s)];
  if (scratch.length < s.length) scratch = new Int32Array(s.length * 2);
  let n = 0;
  let prev = s.length > 0 ? s.charCodeAt(0) : 0;
  for (let i = 1; i < s.length; i++) {
    const next = s.charCodeAt(i);
    const g = ((prev ^ 0x8000) << 16) | next;
    if (!COMMON_BIGRAM_KEYS.has(g)) scratch[n++] = g;
    prev = next;
  }
  // Sorted, then each key once, in place.
  const sorted = scratch.subarray(0, n).sort();
  let distinct = 0;
  for (let i = 0; i < n; i++) if (distinct === 0 || sorted[i] !== sorted[distinct - 1]) sorted[distinct++] = sorted[i]!;
  // Exactly as long as it holds (Array.from would leave growth room in every candidate's keys).
  const out = new Array<number>(distinct);
  for (let i = 0; i < distinct; i++) out[i] = sorted[i]!;
  return out;
}

/** Whether the ascending `keys` hold `key` (a binary search). */
export function hasKey(keys: readonly number[], key: number): boolean {
  let lo = 0;
  let hi = keys.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const k = keys[mid]!;
    if (k < key) lo = mid + 1;
    else if (k > key) hi = mid - 1;
    else return true;
  }
  return false;
}

/** How many keys two ascending key lists share (one merge). */
export function sharedKeys(a: readonly number[], b: readonly number[]): number {
  let i = 0;
  let j = 0;
  let n = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    if (x < y) i++;
    else if (x > y) j++;
    else {
      n++;
      i++;
      j++;
    }
  }
  return n;
}

/** The similarity grouping uses (see the figures in bench/README.md for why this one). */
export function similarity(a: GroupingFeatures, b: GroupingFeatures, policy: GroupingPolicy): number {
  const x = a.bigrams.length;
  const y = b.bigrams.length;
  if (x === 0 || y === 0 || x < policy.minBigrams || y < policy.minBigrams) return 0;
  const n = sharedKeys(a.bigrams, b.bigrams);
  return policy.measure === 'overlap' ? n / Math.min(x, y) : n / (x + y - n);
}

export function groupingFeatures(s: GroupingSubject, policy: GroupingPolicy): GroupingFeatures {
  const text = `${s.title ?? ''} ${(s.content ?? '').slice(0, policy.contentChars)}`;
  return {
    id: s.id,
    source: s.source,
    at: s.at,
    link: canonicalUrl(s.url),
    area: s.area ?? null,
    category: s.category ?? null,
    bigrams: bigramKeysOf(text),
  };
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/**
 * Where one matched signal goes, given the signals of open incidents seen recently. Link first
 * (the same page is the same matter), then a ticket burst, then similar text; among equals the
 * higher score, then the earlier signal, then the smaller id — so every engine decides alike.
 */
export function decideGrouping(
  s: GroupingFeatures,
  candidates: readonly GroupingCandidate[],
  policy: GroupingPolicy,
  /** The candidate's similarity to `s` when the caller already knows it (CandidatePool counts shared bigrams). */
  scoreOf: (c: GroupingCandidate) => number = (c) => similarity(s, c, policy),
): GroupingDecision {
  let link: GroupingCandidate | null = null;
  let burst: { c: GroupingCandidate; score: number } | null = null;
  let text: { c: GroupingCandidate; score: number } | null = null;
  const better = (x: { c: GroupingCandidate; score: number } | null, c: GroupingCandidate, score: number) =>
    x === null || score > x.score || (score === x.score && (c.at < x.c.at || (c.at === x.c.at && c.id < x.c.id)));
  for (const c of candidates) {
    if (c.id === s.id) continue;
    const age = Math.abs(s.at - c.at);
    if (age > policy.windowMs) continue;
    if (s.link !== null && c.link === s.link) {
      if (link === null || c.at < link.at || (c.at === link.at && c.id < link.id)) link = c;
      continue;
    }
    const score = scoreOf(c);
    if (
      s.source === 'hotline' &&
      c.source === 'hotline' &&
      s.category !== null &&
      s.area !== null &&
      s.category === c.category &&
      s.area === c.area &&
      age <= policy.burstWindowMs &&
      score >= policy.burstThreshold &&
      better(burst, c, score)
    )
      burst = { c, score };
    if (better(text, c, score)) text = { c, score };
  }
  if (link) return { kind: 'join', incidentId: link.incidentId, reason: 'link', score: 1, via: link.id };
  if (burst) return { kind: 'join', incidentId: burst.c.incidentId, reason: 'ticket_matter', score: round(burst.score), via: burst.c.id };
  if (text && text.score >= policy.textThreshold)
    return { kind: 'join', incidentId: text.c.incidentId, reason: 'similar_text', score: round(text.score), via: text.c.id };
  return {
    kind: 'open',
    best: text && text.score > 0 ? { incidentId: text.c.incidentId, score: round(text.score), via: text.c.id } : null,
  };
}

/**
 * Pairwise precision and recall of a grouping against labels: over all pairs put together,
 * the share that belong together (precision); over all pairs that belong together, the share
 * put together (recall).
 */
export function pairwiseScores(truth: ReadonlyMap<string, string>, predicted: ReadonlyMap<string, string>) {
  const ids = [...truth.keys()];
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < ids.length; i++)
    for (let j = i + 1; j < ids.length; j++) {
      const same = truth.get(ids[i]!) === truth.get(ids[j]!);
      const together = predicted.get(ids[i]!) === predicted.get(ids[j]!);
      if (same && together) tp++;
      else if (together) fp++;
      else if (same) fn++;
    }
  return { precision: tp + fp === 0 ? 1 : tp / (tp + fp), recall: tp + fn === 0 ? 1 : tp / (tp + fn), pairs: { tp, fp, fn } };
}
