/**
 * Grouping signals into incidents (one 舆情事件 per matter). A matched signal joins an open
 * incident when it shares a link with one of its signals, when it is a 12345 ticket on the
 * same matter as a recent ticket (same category and area, similar content: a burst), or when
 * its text is similar enough; otherwise it opens a new incident.
 *
 * Similarity is on character bigrams of normalised text: Chinese needs no segmenter for this,
 * and bigrams catch the shared place names, unit names and nouns that different wordings of
 * one matter keep. The thresholds are a policy (config), chosen on the labelled sample in
 * bench/fixtures/grouping-sample.json (see bench/grouping.ts for the figures). Pure: no I/O.
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
  bigrams: ReadonlySet<string>;
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

/** |A ∩ B| / |A ∪ B|. */
export function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  if (a.size === 0 || b.size === 0) return 0;
  const common = intersect(a, b);
  return common / (a.size + b.size - common);
}

/**
 * |A ∩ B| / min(|A|, |B|): a short news title inside a longer report of the same matter scores
 * high, which Jaccard would punish for the length difference alone.
 */
export function overlap(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  if (a.size === 0 || b.size === 0) return 0;
  return intersect(a, b) / Math.min(a.size, b.size);
}

function intersect(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  let n = 0;
  for (const g of small) if (large.has(g)) n++;
  return n;
}

/** The similarity grouping uses (see the figures in bench/README.md for why this one). */
export function similarity(a: GroupingFeatures, b: GroupingFeatures, policy: GroupingPolicy): number {
  if (a.bigrams.size < policy.minBigrams || b.bigrams.size < policy.minBigrams) return 0;
  return policy.measure === 'overlap' ? overlap(a.bigrams, b.bigrams) : jaccard(a.bigrams, b.bigrams);
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
    bigrams: bigramsOf(text),
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
 * Lower bounds of the size classes candidates are indexed in (distinct bigrams). A class's lower
 * bound gives the fewest bigrams any of its candidates must share with a signal to reach the
 * threshold, and so how many of the signal's commonest bigrams need not be looked up in it.
 */
const SIZE_CLASSES = [0, 8, 11, 16, 23, 32, 45, 64, 90, 128, 181, 256, 362, 512];

/** A candidate the pool holds, and when its signal was seen. */
interface Held {
  c: GroupingCandidate;
  seenAt: Instant;
}

const heldBefore = (a: Held, b: Held) => a.seenAt < b.seenAt || (a.seenAt === b.seenAt && a.c.id < b.c.id);

/** One indexed candidate, shared by the posting lists of its bigrams. */
interface Posting {
  c: GroupingCandidate;
  alive: boolean;
  /** The look-up that last counted it, and how many of its bigrams that look-up met. */
  epoch: number;
  shared: number;
}

interface Gram {
  df: number;
  /** Postings unindexed since the lists were last compacted. */
  dead: number;
  /** Per size class. */
  lists: Posting[][];
}

function sizeClassOf(size: number): number {
  let k = SIZE_CLASSES.length - 1;
  while (SIZE_CLASSES[k]! > size) k--;
  return k;
}

/** Fewest shared bigrams that give `threshold` against a set of `size` (overlap; Jaccard needs at least as many). */
function sharedNeeded(threshold: number, size: number): number {
  return Math.max(1, Math.ceil(threshold * size - 1e-9));
}

/**
 * The candidates decisions look at, indexed so that a decision costs what the signal's distinctive
 * bigrams cost, not what the number of open matters costs.
 *
 * Every 12345 ticket shares its frame (市民来电称 …) and every report of one district its name, so
 * walking all of a signal's bigrams reaches every candidate: quadratic as matters grow. The index
 * is split by candidate size; for each class it is enough to look up the signal's bigrams minus its
 * `need − 1` commonest, where `need` is the fewest shared bigrams with which a candidate of that
 * class could reach the lowest threshold (the pigeonhole principle: a candidate sharing `need`
 * bigrams shares one of the others). Candidates found are then compared in full. So every
 * candidate that could join is found and scored exactly — the decision is the same as comparing
 * with all — and only the informational `best` of an `open` decision may miss a candidate too
 * far below the threshold to have been looked at.
 *
 * Holds at most `maxSignalsPerIncident` text candidates per incident (the latest added) and every
 * candidate's link. Kept across batches by the engine: candidates are added, expire, or leave
 * with their incident.
 */
export class CandidatePool {
  private readonly byLink = new Map<string, Set<GroupingCandidate>>();
  /** Bigram → how many indexed candidates hold it, and their postings per size class. */
  private readonly grams = new Map<string, Gram>();
  /** The posting of each candidate indexed by text (dead once unindexed; lists drop dead ones lazily). */
  private readonly postings = new Map<GroupingCandidate, Posting>();
  /** Indexed candidates per size class (a class without any is not looked up). */
  private readonly perClass: number[] = SIZE_CLASSES.map(() => 0);
  /** Stamps the postings counted by the current look-up (instead of a map per look-up). */
  private epoch = 0;
  /**
   * Each incident's candidates by when they were seen (then id), as a reload from the database
   * orders them whatever order they arrived in; the last `maxSignalsPerIncident` are indexed by text.
   */
  private readonly perIncident = new Map<string, Held[]>();
  private readonly byId = new Map<string, Held>();

  constructor(private readonly policy: GroupingPolicy) {
    // Above zero, or every candidate would qualify and none could be left out unseen.
    if (!(policy.textThreshold > 0 && policy.burstThreshold > 0)) throw new RangeError('grouping thresholds must be above 0');
  }

  get size(): number {
    return this.byId.size;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /**
   * Add candidates newest last (a full incident drops its oldest text candidate). `seenAt` (when the
   * signal was received; its time by default) is what `expire` compares. A signal already held is
   * moved to its new incident.
   */
  add(c: GroupingCandidate, seenAt: Instant = c.at): void {
    if (this.byId.has(c.id)) this.remove(c.id);
    const entry = { c, seenAt };
    this.byId.set(c.id, entry);
    if (c.link !== null) {
      const set = this.byLink.get(c.link);
      if (set) set.add(c);
      else this.byLink.set(c.link, new Set([c]));
    }
    const list = this.perIncident.get(c.incidentId) ?? [];
    let at = list.length;
    while (at > 0 && heldBefore(entry, list[at - 1]!)) at--;
    list.splice(at, 0, entry);
    this.perIncident.set(c.incidentId, list);
    const cut = list.length - this.policy.maxSignalsPerIncident;
    if (at >= cut) {
      this.index(c);
      if (cut > 0) this.unindex(list[cut - 1]!.c);
    }
  }

  /** Add a candidate reachable by its link only (an old page reposted: its text is not compared). */
  addLinkOnly(c: GroupingCandidate, seenAt: Instant = c.at): void {
    if (c.link === null || this.byId.has(c.id)) return;
    const entry = { c, seenAt };
    this.byId.set(c.id, entry);
    const set = this.byLink.get(c.link);
    if (set) set.add(c);
    else this.byLink.set(c.link, new Set([c]));
  }

  /** Forget one signal (its link and its text). */
  remove(id: string): void {
    const entry = this.byId.get(id);
    if (!entry) return;
    const { c } = entry;
    this.byId.delete(id);
    if (c.link !== null) {
      const set = this.byLink.get(c.link);
      set?.delete(c);
      if (set?.size === 0) this.byLink.delete(c.link);
    }
    const list = this.perIncident.get(c.incidentId);
    const at = list?.lastIndexOf(entry) ?? -1;
    if (!list || at < 0) return;
    const max = this.policy.maxSignalsPerIncident;
    const wasIndexed = at >= list.length - max;
    list.splice(at, 1);
    if (list.length === 0) this.perIncident.delete(c.incidentId);
    if (!wasIndexed) return;
    this.unindex(c);
    // The latest one held back is among the latest `max` again.
    if (list.length >= max) this.index(list[list.length - max]!.c);
  }

  /** An incident closed (dismissed, merged away): none of its signals is a candidate any more. */
  removeIncident(incidentId: string): void {
    for (const entry of [...this.byId.values()]) if (entry.c.incidentId === incidentId) this.remove(entry.c.id);
  }

  /** Forget every candidate seen before `since` (the grouping window has passed it). A scan: call it now and then. */
  expire(since: Instant): number {
    let n = 0;
    for (const entry of [...this.byId.values()])
      if (entry.seenAt < since) {
        this.remove(entry.c.id);
        n++;
      }
    return n;
  }

  private index(c: GroupingCandidate): void {
    if (c.bigrams.size < this.policy.minBigrams) return;
    const k = sizeClassOf(c.bigrams.size);
    const p: Posting = { c, alive: true, epoch: -1, shared: 0 };
    this.postings.set(c, p);
    this.perClass[k]!++;
    for (const g of c.bigrams) {
      let gram = this.grams.get(g);
      if (!gram) this.grams.set(g, (gram = { df: 0, dead: 0, lists: [] }));
      gram.df++;
      (gram.lists[k] ??= []).push(p);
    }
  }

  private unindex(c: GroupingCandidate): void {
    const p = this.postings.get(c);
    if (!p) return;
    p.alive = false;
    this.postings.delete(c);
    this.perClass[sizeClassOf(c.bigrams.size)]!--;
    for (const g of c.bigrams) {
      const gram = this.grams.get(g)!;
      gram.df--;
      gram.dead++;
      if (gram.df === 0) this.grams.delete(g);
      else if (gram.dead > gram.df) {
        // Mostly dead: drop them now rather than skip them at every look-up.
        for (let k = 0; k < gram.lists.length; k++) {
          const list = gram.lists[k];
          if (list) gram.lists[k] = list.filter((x) => x.alive);
        }
        gram.dead = 0;
      }
    }
  }

  /** Candidates that could matter for `s`: the same link, or enough of its distinctive bigrams to reach a threshold. */
  relevant(s: GroupingFeatures): GroupingCandidate[] {
    return [...this.lookUp(s).keys()];
  }

  /**
   * The candidates looked up for `s`, each with the number of bigrams it shares with `s` — exact:
   * counted while walking the looked-up bigrams, plus the skipped commonest ones checked against
   * the candidate's own set (a few lookups, not a comparison of two whole sets).
   */
  private lookUp(s: GroupingFeatures): Map<GroupingCandidate, number> {
    const found = new Map<GroupingCandidate, number>();
    if (s.link !== null) for (const c of this.byLink.get(s.link) ?? []) found.set(c, -1);
    const { minBigrams, textThreshold, burstThreshold } = this.policy;
    const a = s.bigrams.size;
    if (a < minBigrams) return found;
    const threshold = Math.min(textThreshold, burstThreshold);
    // Rarest first (ties by the gram, so every engine looks at the same ones).
    const grams = [...s.bigrams].map((g) => ({ g, gram: this.grams.get(g) }));
    grams.sort((x, y) => (x.gram?.df ?? 0) - (y.gram?.df ?? 0) || (x.g < y.g ? -1 : x.g > y.g ? 1 : 0));
    for (let k = 0; k < SIZE_CLASSES.length; k++) {
      if (this.perClass[k] === 0) continue;
      const smallest = Math.max(SIZE_CLASSES[k]!, minBigrams);
      const need = sharedNeeded(threshold, Math.min(a, smallest));
      // Looking up one bigram more than the pigeonhole needs means a candidate that could reach
      // `need` shares at least two of the looked-up ones: the many that share one rare bigram by
      // chance are dropped without a comparison.
      const atLeast = need >= 2 ? 2 : 1;
      const prefix = a - need + atLeast;
      const epoch = ++this.epoch;
      const touched: Posting[] = [];
      for (let i = 0; i < prefix; i++) {
        const list = grams[i]!.gram?.lists[k];
        if (!list) continue;
        for (const p of list) {
          if (!p.alive) continue;
          if (p.epoch !== epoch) {
            p.epoch = epoch;
            p.shared = 0;
            touched.push(p);
          }
          p.shared++;
        }
      }
      for (const p of touched) {
        if (p.shared < atLeast) continue;
        let all = p.shared;
        for (let i = prefix; i < a; i++) if (p.c.bigrams.has(grams[i]!.g)) all++;
        found.set(p.c, all);
      }
    }
    return found;
  }

  decide(s: GroupingFeatures): GroupingDecision {
    const found = this.lookUp(s);
    const { minBigrams, measure } = this.policy;
    // Exactly similarity(), from the shared count (a candidate found by its link alone is compared in full).
    const scoreOf = (c: GroupingCandidate): number => {
      const n = found.get(c) ?? -1;
      if (n < 0) return similarity(s, c, this.policy);
      if (s.bigrams.size < minBigrams || c.bigrams.size < minBigrams) return 0;
      return measure === 'overlap' ? n / Math.min(s.bigrams.size, c.bigrams.size) : n / (s.bigrams.size + c.bigrams.size - n);
    };
    return decideGrouping(s, [...found.keys()], this.policy, scoreOf);
  }
}

/**
 * Group a whole list in order (the bench and tests): each signal joins a group of earlier
 * ones or opens its own; every signal is a candidate for later ones. Returns a group key per id.
 */
export function groupAll(subjects: readonly GroupingSubject[], policy: GroupingPolicy): Map<string, string> {
  const groups = new Map<string, string>();
  const pool = new CandidatePool(policy);
  for (const s of subjects) {
    const f = groupingFeatures(s, policy);
    const d = pool.decide(f);
    const group = d.kind === 'join' ? d.incidentId : s.id;
    groups.set(s.id, group);
    pool.add({ ...f, incidentId: group });
  }
  return groups;
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
