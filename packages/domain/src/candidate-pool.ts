/**
 * The candidates a grouping decision looks at (grouping.ts decides; this finds whom to compare
 * with, fast, as open matters grow). Pure: no I/O.
 */
import {
  decideGrouping,
  type GroupingCandidate,
  type GroupingDecision,
  type GroupingFeatures,
  groupingFeatures,
  type GroupingPolicy,
  hasKey,
  type GroupingSubject,
  similarity,
} from './grouping.ts';
import type { Instant } from './types.ts';

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

interface Gram {
  /** Its `bigramKey`. */
  key: number;
  df: number;
  /** Postings unindexed since the lists were last compacted. */
  dead: number;
  /**
   * The slots of the candidates holding it, per size class: the class its first holder was in
   * (`k0`) with that list on the gram itself (`l0`), the other classes' lists by class in `more`.
   * Most grams' holders are of one class or two: a look-up reaches the list without another array
   * between, and indexing a new gram allocates one array, not two.
   */
  k0: number;
  l0: number[];
  more: (number[] | undefined)[] | undefined;
}

const listOf = (g: Gram, k: number): number[] | undefined => (g.k0 === k ? g.l0 : g.more?.[k]);

/** Rewrite every list of `g` in place of the old ones. */
function rewriteLists(g: Gram, rewrite: (list: number[]) => number[]): void {
  g.l0 = rewrite(g.l0);
  const more = g.more;
  if (more) for (let k = 0; k < more.length; k++) if (more[k]) more[k] = rewrite(more[k]!);
}

/**
 * The most a look-up asks a candidate to share of the grams it looked up: one gram is looked up
 * beyond the pigeonhole for each above one.
 */
const MAX_AT_LEAST = 3;
/**
 * A gram beyond the pigeonhole is looked up only if no more candidates hold it than hold the grams
 * looked up already, or than this.
 */
const CHEAP_HOLDERS = 64;

/** `stamp` of a slot whose candidate was unindexed (its postings are skipped, then compacted away). */
const DEAD = -2;
/** Stamps start over (every live slot unstamped) before they could overflow an Int32Array. */
const MAX_STAMP = 0x3fff_ffff;

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
 * bigrams shares one of the others). Up to two more are looked up where they are cheap, and a
 * candidate must then share as many more of the looked-up ones (`MAX_AT_LEAST`): chance overlaps
 * of a bigram or two, which grow with the open matters, are dropped uncompared. Candidates found
 * are then compared in full. So every candidate that could join is found and scored exactly — the
 * decision is the same as comparing with all — and only the informational `best` of an `open`
 * decision may miss a candidate too far below the threshold to have been looked at.
 *
 * Holds at most `maxSignalsPerIncident` text candidates per incident (the latest added) and every
 * candidate's link. Kept across batches by the engine: candidates are added, expire, or leave
 * with their incident.
 */
export class CandidatePool {
  private readonly byLink = new Map<string, Set<GroupingCandidate>>();
  /** Bigram key → how many indexed candidates hold it, and their slots per size class. */
  private readonly grams = new Map<number, Gram>();
  /**
   * Each candidate indexed by text has a slot: posting lists hold slot numbers, and what a look-up
   * counts per candidate lives in two typed arrays indexed by slot. A look-up meets hundreds of
   * postings; as objects scattered over the heap each cost a cache miss, as small integers into
   * arrays of a few hundred kB they mostly do not. A slot is not reused (its number may still
   * be in a list not compacted yet): when they run out, the live ones are numbered again.
   */
  private readonly slotOf = new Map<GroupingCandidate, number>();
  private slots: (GroupingCandidate | undefined)[] = [];
  /** Per slot: the look-up that last counted it (DEAD once unindexed), and how many of its bigrams that look-up met. */
  private stamp = new Int32Array(1024);
  private shared = new Int32Array(1024);
  /** The slots the current look-up met in the class it walks, the first `met` of them (reused: a look-up allocates no list). */
  private touched = new Int32Array(1024);
  private met = 0;
  /** `rarestFirst`'s scratch: the sort keys of a signal's known grams, and each gram by its position among the signal's keys. */
  private rank = new Float64Array(256);
  private atPosition: (Gram | undefined)[] = new Array<Gram | undefined>(256);
  private live = 0;
  /** Indexed candidates per size class (a class without any is not looked up). */
  private readonly perClass: number[] = SIZE_CLASSES.map(() => 0);
  /** Stamps the slots counted by the current look-up (instead of a map per look-up). */
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
    if (c.bigrams.length < this.policy.minBigrams) return;
    const k = sizeClassOf(c.bigrams.length);
    const slot = this.newSlot();
    this.slots[slot] = c;
    this.stamp[slot] = -1;
    this.slotOf.set(c, slot);
    this.live++;
    this.perClass[k]!++;
    for (const g of c.bigrams) {
      const gram = this.grams.get(g);
      if (!gram) this.grams.set(g, { key: g, df: 1, dead: 0, k0: k, l0: [slot], more: undefined });
      else {
        gram.df++;
        if (gram.k0 === k) gram.l0.push(slot);
        else ((gram.more ??= [])[k] ??= []).push(slot);
      }
    }
  }

  private unindex(c: GroupingCandidate): void {
    const slot = this.slotOf.get(c);
    if (slot === undefined) return;
    this.stamp[slot] = DEAD;
    this.slots[slot] = undefined;
    this.slotOf.delete(c);
    this.live--;
    this.perClass[sizeClassOf(c.bigrams.length)]!--;
    for (const g of c.bigrams) {
      const gram = this.grams.get(g)!;
      gram.df--;
      gram.dead++;
      if (gram.df === 0) this.grams.delete(g);
      else if (gram.dead > gram.df) {
        // Mostly dead: drop them now rather than skip them at every look-up.
        rewriteLists(gram, (list) => list.filter((x) => this.stamp[x] !== DEAD));
        gram.dead = 0;
      }
    }
  }

  /** The next unused slot: the arrays grow, or, when most slots are dead, the live ones are numbered again from 0. */
  private newSlot(): number {
    const used = this.slots.length;
    if (used < this.stamp.length) return used;
    if (this.live * 2 <= used) this.renumber();
    else {
      const stamp = new Int32Array(used * 2);
      stamp.set(this.stamp);
      this.stamp = stamp;
      this.shared = new Int32Array(used * 2);
      this.touched = new Int32Array(used * 2);
    }
    return this.slots.length;
  }

  private renumber(): void {
    const to = new Int32Array(this.slots.length).fill(-1);
    const slots: GroupingCandidate[] = [];
    for (let old = 0; old < this.slots.length; old++) {
      const c = this.slots[old];
      if (c === undefined) continue;
      to[old] = slots.length;
      this.slotOf.set(c, slots.length);
      slots.push(c);
    }
    for (const gram of this.grams.values()) {
      rewriteLists(gram, (list) => {
        const moved: number[] = [];
        for (const old of list) if (to[old]! >= 0) moved.push(to[old]!);
        return moved;
      });
      gram.dead = 0;
    }
    this.slots = slots;
    this.stamp.fill(-1);
    this.epoch = 0;
  }

  /** Candidates that could matter for `s`: the same link, or enough of its distinctive bigrams to reach a threshold. */
  relevant(s: GroupingFeatures): GroupingCandidate[] {
    return [...this.lookUp(s).keys()];
  }

  /**
   * The candidates looked up for `s`, each with the number of bigrams it shares with `s` — exact:
   * counted while walking the looked-up bigrams, plus the skipped commonest ones checked against
   * the candidate's own keys (a few binary searches, not a comparison of two whole lists).
   */
  private lookUp(s: GroupingFeatures): Map<GroupingCandidate, number> {
    const found = new Map<GroupingCandidate, number>();
    if (s.link !== null) for (const c of this.byLink.get(s.link) ?? []) found.set(c, -1);
    const { minBigrams, textThreshold, burstThreshold } = this.policy;
    const a = s.bigrams.length;
    if (a < minBigrams) return found;
    const threshold = Math.min(textThreshold, burstThreshold);
    // Rarest first (ties by the gram: every engine holding the same candidates looks at the same
    // ones, whatever order they came and went in). Grams no indexed candidate holds (df 0) come
    // before all others and meet no posting: only the known ones are sorted, after the `unknown`
    // that precede them.
    const known = this.rarestFirst(s.bigrams);
    const unknown = a - known.length;
    for (let k = 0; k < SIZE_CLASSES.length; k++) {
      if (this.perClass[k] === 0) continue;
      const smallest = Math.max(SIZE_CLASSES[k]!, minBigrams);
      const need = sharedNeeded(threshold, Math.min(a, smallest));
      // The pigeonhole: a candidate sharing `need` of the signal's grams shares at least one of all
      // but its `need − 1` commonest. The first `prefix` known grams (after the `unknown`) are
      // looked up. None at all: fewer than `need` of its grams are known, so no candidate of the
      // class can reach it (a larger one needs more, not fewer).
      let prefix = a - need + 1 - unknown;
      if (prefix <= 0) continue;
      if (this.epoch >= MAX_STAMP) {
        for (let i = 0; i < this.slots.length; i++) if (this.stamp[i] !== DEAD) this.stamp[i] = -1;
        this.epoch = 0;
      }
      const epoch = ++this.epoch;
      this.met = 0;
      // How many candidates (of every class) hold the grams looked up: what the walk cost, as the
      // pool's contents say it — not its lists, which keep unindexed candidates' postings until
      // compacted — so that the choice below is the same in every engine holding these candidates.
      let holders = 0;
      for (let i = 0; i < prefix; i++) {
        holders += known[i]!.df;
        this.walk(listOf(known[i]!, k), epoch);
      }
      // No candidate of the class shares any of them: none can reach `need`.
      if (this.met === 0) continue;
      // Each gram looked up beyond the pigeonhole means a candidate that could reach `need` shares
      // one more of the looked-up ones: the many that share one or two bigrams by chance are dropped
      // without a comparison (as open matters grow, those are most of what a look-up meets). Only
      // while no more candidates hold the gram than held those walked already (or CHEAP_HOLDERS):
      // the commonest are the ones every ticket's frame holds (来电, 电称 …), held by every candidate.
      let atLeast = 1;
      while (atLeast < MAX_AT_LEAST && atLeast < need && prefix < known.length) {
        const gram = known[prefix]!;
        if (gram.df > Math.max(holders, CHEAP_HOLDERS)) break;
        holders += gram.df;
        this.walk(listOf(gram, k), epoch);
        prefix++;
        atLeast++;
      }
      const { touched, shared, met } = this;
      for (let t = 0; t < met; t++) {
        const slot = touched[t]!;
        const n = shared[slot]!;
        if (n < atLeast) continue;
        const c = this.slots[slot]!;
        let all = n;
        // The commonest grams, not looked up: counted against the candidate's own (an indexed
        // candidate holds only known grams).
        for (let i = prefix; i < known.length; i++) if (hasKey(c.bigrams, known[i]!.key)) all++;
        found.set(c, all);
      }
    }
    return found;
  }

  /**
   * The pool's grams among `keys` (ascending, as `bigramKeysOf` gives them), rarest first, ties by
   * key (the order of the gram strings). Sorted as numbers, `df × keys.length + position`, by the
   * typed array's own sort: a comparator called from the sort cost a look-up a quarter of its time.
   */
  private rarestFirst(keys: readonly number[]): Gram[] {
    const n = keys.length;
    if (this.rank.length < n) {
      this.rank = new Float64Array(n * 2);
      this.atPosition = new Array<Gram | undefined>(n * 2);
    }
    const { rank, atPosition } = this;
    let m = 0;
    for (let i = 0; i < n; i++) {
      const gram = this.grams.get(keys[i]!);
      if (gram === undefined) continue;
      atPosition[i] = gram;
      // Exact: df × n + i stays far below 2^53.
      rank[m++] = gram.df * n + i;
    }
    const sorted = rank.subarray(0, m).sort();
    const known: Gram[] = new Array<Gram>(m);
    for (let j = 0; j < m; j++) {
      const i = sorted[j]! % n;
      known[j] = atPosition[i]!;
      atPosition[i] = undefined; // the scratch holds no gram the pool has let go
    }
    return known;
  }

  /** Count a posting list into the current look-up: each live slot's shared grams, each slot met once in `touched`. */
  private walk(list: readonly number[] | undefined, epoch: number): void {
    if (!list) return;
    const { stamp, shared, touched } = this;
    let met = this.met;
    for (let i = 0; i < list.length; i++) {
      const slot = list[i]!;
      const was = stamp[slot]!;
      if (was === epoch) shared[slot]!++;
      else if (was !== DEAD) {
        stamp[slot] = epoch;
        shared[slot] = 1;
        touched[met++] = slot;
      }
    }
    this.met = met;
  }

  decide(s: GroupingFeatures): GroupingDecision {
    const found = this.lookUp(s);
    const { minBigrams, measure } = this.policy;
    // Exactly similarity(), from the shared count (a candidate found by its link alone is compared in full).
    const scoreOf = (c: GroupingCandidate): number => {
      const n = found.get(c) ?? -1;
      if (n < 0) return similarity(s, c, this.policy);
      if (s.bigrams.length < minBigrams || c.bigrams.length < minBigrams) return 0;
      return measure === 'overlap' ? n / Math.min(s.bigrams.length, c.bigrams.length) : n / (s.bigrams.length + c.bigrams.length - n);
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
