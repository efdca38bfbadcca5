/**
 * Official channels (政务网站栏目, 政务新媒体): is a new item the response to an open incident,
 * is it the unit's own words or a repost, and has the channel fallen silent. Pure: callers
 * pass the texts, the instants and the working-day calendar.
 *
 * Matching is deliberately simple and explainable: a shared link is near-certain; otherwise
 * the similarity of character bigrams between the item and what the incident is about.
 * (Signal-to-incident grouping is a separate module; this only compares a response with the
 * matter it may answer.)
 */
import type { WorkingDayCalendar } from './calendar.ts';
import { countWorkingDaysNumber } from './calendar.ts';
import { formatDay, MS_PER_DAY, shanghaiDay } from './time.ts';
import type { Instant } from './types.ts';

export interface OfficialItemText {
  title: string;
  content?: string | null;
  url?: string | null;
}

export interface IncidentEvidence {
  id: string;
  title: string;
  signals: {
    title?: string | null;
    url?: string | null;
    /** A news outlet's item (not a ticket, not an official channel). */ news: boolean;
  }[];
}

export interface ResponseMatch {
  incidentId: string;
  /** 0..1: a shared link is 0.95; text similarity otherwise. */
  confidence: number;
  reason: string;
  /** 原创 unless a 来源 line names a news outlet or the title is a news signal's own. */
  original: boolean;
  originReason: string;
}

export interface Origin {
  original: boolean;
  reason: string;
}

const SHARED_LINK_CONFIDENCE = 0.95;

/** Letters and digits only, lower case, full-width folded: what two titles share beyond punctuation. */
export function normaliseText(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, '');
}

/** The set of adjacent character pairs (a one-character text is its own "bigram"). */
export function bigrams(text: string): Set<string> {
  const chars = [...normaliseText(text)];
  const out = new Set<string>();
  if (chars.length === 1) out.add(chars[0]!);
  for (let i = 0; i + 1 < chars.length; i++) out.add(chars[i]! + chars[i + 1]!);
  return out;
}

/** Sørensen–Dice coefficient of two texts' bigram sets. */
export function bigramSimilarity(a: string, b: string): number {
  const x = bigrams(a);
  const y = bigrams(b);
  if (x.size === 0 || y.size === 0) return 0;
  let shared = 0;
  for (const g of x) if (y.has(g)) shared++;
  return (2 * shared) / (x.size + y.size);
}

/** How much of `needle`'s bigrams appear in `haystack` (a short title inside a long notice). */
export function bigramContainment(needle: string, haystack: string): number {
  const x = bigrams(needle);
  if (x.size === 0) return 0;
  const y = bigrams(haystack);
  let shared = 0;
  for (const g of x) if (y.has(g)) shared++;
  return shared / x.size;
}

/** A URL compared without scheme, `www.`, fragment and trailing slash. */
export function canonicalLink(url: string): string {
  return url
    .trim()
    .replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')
    .replace(/^www\./i, '')
    .replace(/#.*$/, '')
    .replace(/\/+$/, '')
    .toLowerCase();
}

const SOURCE_LINE = /(?:转载自|转载|转自|来源|稿源|来自)\s*[:：]?\s*([^\s，,。；;|｜<>()（）【】\]]{2,30})/gu;
/** Names a news organisation: central outlets by name, local ones by their form (…日报, …融媒体中心). */
const NEWS_OUTLET =
  /新华社|新华网|人民日报|人民网|央视|中央电视台|cctv|中新社|中国新闻网|澎湃|光明网|光明日报|经济日报|法治日报|法制日报|环球|财新|新京报|界面|红星新闻|封面新闻|今日头条|日报|晚报|早报|商报|时报|都市报|电视台|广播电视|广播|新闻|传媒|融媒|报社|周刊/iu;
const NEWS_FORM = /(网|报|社)$/u;
/** Government bodies and their own sites (…人民政府网, …局, 新闻办 is the government's press office). */
const GOVERNMENT = /新闻办|新闻发布|政府|局|委员会|委|办公室|办|厅|部|院|街道|镇|乡|社区/u;

/** Does a 来源 name denote a news outlet rather than a government body? */
export function isNewsOutlet(name: string): boolean {
  if (/新闻办|新闻发布/u.test(name)) return false;
  if (NEWS_OUTLET.test(name)) return true;
  if (GOVERNMENT.test(name)) return false;
  return NEWS_FORM.test(name);
}

/**
 * 原创 or 转载 from the item's own text: a 转载/来源 line naming a news outlet makes it a repost
 * (a repost meets no clock); a 来源 naming a government body, or none, leaves it original.
 */
export function classifyOrigin(item: OfficialItemText): Origin {
  const text = `${item.title}\n${item.content ?? ''}`;
  for (const m of text.matchAll(SOURCE_LINE)) {
    const name = m[1]!;
    if (isNewsOutlet(name)) return { original: false, reason: `转载：「${m[0].trim()}」names a news outlet (${name})` };
  }
  return { original: true, reason: '原创：no 转载/来源 line names a news outlet' };
}

/**
 * The open incidents an official item may answer, best first, at or above `minimum`. The
 * origin is judged per incident: a title identical to a news signal already on that incident
 * is that outlet's story reposted, whatever the text says.
 */
export function matchOfficialItem(item: OfficialItemText, incidents: readonly IncidentEvidence[], minimum: number): ResponseMatch[] {
  const origin = classifyOrigin(item);
  const itemText = `${item.title} ${item.content ?? ''}`;
  const itemLinks = new Set<string>();
  if (item.url) itemLinks.add(canonicalLink(item.url));
  for (const m of (item.content ?? '').matchAll(/https?:\/\/[^\s"'<>）)]+/giu)) itemLinks.add(canonicalLink(m[0]));
  const titleKey = normaliseText(item.title);
  const out: ResponseMatch[] = [];
  for (const incident of incidents) {
    let confidence = 0;
    let reason = '';
    const shared = incident.signals.find((s) => s.url && itemLinks.has(canonicalLink(s.url)));
    if (shared) {
      confidence = SHARED_LINK_CONFIDENCE;
      reason = `共享链接 shared link ${shared.url}`;
    } else {
      for (const about of [incident.title, ...incident.signals.map((s) => s.title ?? '')]) {
        if (!about) continue;
        const dice = bigramSimilarity(item.title, about);
        // A response's notice often quotes the matter inside a longer text: containment, a little discounted.
        const within = 0.9 * bigramContainment(about, itemText);
        const score = Math.max(dice, within);
        if (score > confidence) {
          confidence = score;
          reason =
            dice >= within
              ? `标题相似度 title similarity ${dice.toFixed(2)} with「${about}」`
              : `内容包含 ${Math.round((within / 0.9) * 100)}% of「${about}」`;
        }
      }
    }
    confidence = Math.round(confidence * 1000) / 1000;
    if (confidence < minimum) continue;
    const copied = incident.signals.find((s) => s.news && s.title && normaliseText(s.title) === titleKey);
    const perIncident: Origin = copied
      ? { original: false, reason: `转载：title identical to the news signal「${copied.title}」` }
      : origin;
    out.push({ incidentId: incident.id, confidence, reason, original: perIncident.original, originReason: perIncident.reason });
  }
  return out.sort((a, b) => b.confidence - a.confidence || a.incidentId.localeCompare(b.incidentId));
}

/** Seed 003 六(四)5: 区县政府 政务新媒体 update every working day; 市级部门 at least twice a week. */
export type SilenceRule = 'working_day' | 'twice_weekly';
export const SILENCE_RULES: readonly SilenceRule[] = ['working_day', 'twice_weekly'];

export interface SilenceVerdict {
  silent: boolean;
  reason: string;
  /** Working days counted provisionally (a year without the official arrangement). */
  provisional: boolean;
}

/**
 * Has a channel fallen silent past its rule at `now`?
 * - `working_day`: a whole working day ended with no new item since the last one (or since the
 *   channel was added, when it has none yet).
 * - `twice_weekly`: fewer than two new items in the last seven days, once it has been watched
 *   for seven days.
 */
export function channelSilence(
  rule: SilenceRule,
  o: { now: Instant; addedAt: Instant; lastItemAt: Instant | null; itemsInLastWeek: number },
  calendar: WorkingDayCalendar,
): SilenceVerdict {
  switch (rule) {
    case 'working_day': {
      const from = Math.max(o.lastItemAt ?? o.addedAt, o.addedAt);
      const fromDay = shanghaiDay(from);
      const yesterday = shanghaiDay(o.now) - 1;
      const { count, provisional } = countWorkingDaysNumber(fromDay, yesterday, calendar);
      return count >= 1
        ? {
            silent: true,
            provisional,
            reason: `${count} 个工作日无更新 (working days without an update since ${formatDay(fromDay)}; rule: every working day)`,
          }
        : { silent: false, provisional, reason: 'updated within the working day rule' };
    }
    case 'twice_weekly': {
      if (o.now - o.addedAt < 7 * MS_PER_DAY) return { silent: false, provisional: false, reason: 'watched for less than a week' };
      return o.itemsInLastWeek < 2
        ? {
            silent: true,
            provisional: false,
            reason: `近7日更新 ${o.itemsInLastWeek} 次 (items in the last 7 days: ${o.itemsInLastWeek}; rule: at least twice a week)`,
          }
        : { silent: false, provisional: false, reason: `${o.itemsInLastWeek} items in the last 7 days` };
    }
  }
}
