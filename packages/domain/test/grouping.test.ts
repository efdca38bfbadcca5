import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bigramKey,
  bigramKeysOf,
  bigramsOf,
  canonicalUrl,
  decideGrouping,
  DEFAULT_GROUPING_POLICY as P,
  type GroupingCandidate,
  type GroupingFeatures,
  groupingFeatures,
  hasKey,
  sharedKeys,
  similarity,
} from '../src/grouping.ts';
import { CandidatePool, groupAll } from '../src/candidate-pool.ts';
import { frameTicketMaker } from './frame-tickets.ts';

const H = 3_600_000;
const byTime = (a: GroupingCandidate, b: GroupingCandidate) => a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const T0 = Date.parse('2026-03-02T08:00:00+08:00');
const cand = (id: string, incidentId: string, s: Partial<Parameters<typeof groupingFeatures>[0]>): GroupingCandidate => ({
  ...groupingFeatures({ id, source: 'feed', at: T0, ...s }, P),
  incidentId,
});

describe('canonicalUrl', () => {
  it.each([
    ['https://www.Example.com/news/1/?utm_source=wx&b=2&a=1#top', 'example.com/news/1?a=1&b=2'],
    ['http://example.com:80/news/1', 'example.com/news/1'],
    ['https://example.com:8443/x', 'example.com:8443/x'],
    ['ftp://example.com/x', null],
    ['not a url', null],
  ])('%s → %s', (raw, expected) => expect(canonicalUrl(raw)).toBe(expected));
});

describe('similarity', () => {
  it('bigrams ignore punctuation, spaces, case and full-width forms', () => {
    expect([...bigramsOf('城东，高架 桥！')]).toEqual(['城东', '东高', '高架', '架桥']);
    expect(bigramsOf('ＡＢ')).toEqual(bigramsOf('ab'));
  });

  it('bigram keys are the bigrams one for one, ascending, ordered as the gram strings are (astral characters and one-character texts too)', () => {
    for (const text of [
      '城东，高架 桥！市民反映噪音',
      '𠮷野家门口的路灯坏了',
      '桥',
      'ab',
      '',
      '相关部门表示已经处理',
      '路灯坏了路灯坏了，路灯',
    ]) {
      const grams = [...bigramsOf(text)];
      expect(bigramKeysOf(text)).toEqual(grams.map(bigramKey).sort((x, y) => x - y));
      expect(new Set(grams.map(bigramKey)).size).toBe(grams.length);
    }
    // Any two UTF-16 code units (a gram is two units, whatever they encode).
    const gram = fc
      .tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }))
      .map(([a, b]) => String.fromCharCode(a, b));
    fc.assert(
      fc.property(gram, gram, (x, y) => {
        expect(Math.sign(bigramKey(x) - bigramKey(y))).toBe(x < y ? -1 : x > y ? 1 : 0);
      }),
      { numRuns: 2000 },
    );
  });

  it('ascending key lists: hasKey and sharedKeys agree with sets', () => {
    const keys = fc.uniqueArray(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 80 }).map((k) => k.sort((x, y) => x - y));
    fc.assert(
      fc.property(keys, keys, fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (a, b, probe) => {
        const sa = new Set(a);
        expect(sharedKeys(a, b)).toBe(b.filter((k) => sa.has(k)).length);
        for (const k of [probe, ...b]) expect(hasKey(a, k)).toBe(sa.has(k));
      }),
      { numRuns: 500 },
    );
  });

  it('overlap favours a short title inside a longer text; jaccard does not', () => {
    const f = (title: string) => groupingFeatures({ id: title, source: 'feed', at: T0, title }, P);
    const long = '网传城东高架桥出现裂缝，市交通局称已派人检测并封闭一条车道';
    const a = f('城东高架桥出现裂缝');
    const b = f(long);
    expect(similarity(a, b, P)).toBe(1);
    // All 8 of the title's bigrams are among the report's.
    expect(similarity(a, b, { ...P, measure: 'jaccard' })).toBeCloseTo(8 / bigramsOf(long).size, 6);
    expect(similarity(a, f('城西菜市场改造'), P)).toBe(0);
    // Nothing to compare is no similarity, whatever the policy's minimum.
    expect(similarity(f(''), f('，。'), { ...P, minBigrams: 0 })).toBe(0);
    expect(similarity(f(''), f('，。'), { ...P, minBigrams: 0, measure: 'jaccard' })).toBe(0);
  });
});

describe('decideGrouping', () => {
  it('joins on a shared canonical link first, whatever the text', () => {
    const s = groupingFeatures({ id: 'n', source: 'feed', at: T0 + H, url: 'https://www.x.cn/a?utm_medium=1', title: '完全不同的标题' }, P);
    const d = decideGrouping(s, [cand('o', 'inc1', { url: 'http://x.cn/a', title: '城东高架桥' })], P);
    expect(d).toEqual({ kind: 'join', incidentId: 'inc1', reason: 'link', score: 1, via: 'o' });
  });

  it('joins on similar text above the threshold, and opens below it (naming the closest)', () => {
    const c = cand('o', 'inc1', { title: '网传城东高架桥出现裂缝 交通局称已派人检测' });
    const near = groupingFeatures({ id: 'n', source: 'feed', at: T0 + H, title: '城东高架桥出现裂缝，交通部门回应' }, P);
    const far = groupingFeatures({ id: 'f', source: 'feed', at: T0 + H, title: '城西区道路维修施工封闭公告' }, P);
    const joined = decideGrouping(near, [c], P);
    expect(joined).toMatchObject({ kind: 'join', incidentId: 'inc1', reason: 'similar_text', via: 'o' });
    const opened = decideGrouping(far, [c], P);
    expect(opened.kind).toBe('open');
    expect(opened.kind === 'open' ? (opened.best?.score ?? 0) : 1).toBeLessThan(P.textThreshold);
  });

  it('never joins outside the window', () => {
    const c = cand('o', 'inc1', { title: '网传城东高架桥出现裂缝 交通局称已派人检测' });
    const late = groupingFeatures(
      { id: 'n', source: 'feed', at: T0 + P.windowMs + 1, title: '网传城东高架桥出现裂缝 交通局称已派人检测' },
      P,
    );
    expect(decideGrouping(late, [c], P).kind).toBe('open');
  });

  it('texts too short to judge never join on similarity', () => {
    const c = cand('o', 'inc1', { title: '工单 1' });
    expect(decideGrouping(groupingFeatures({ id: 'n', source: 'hotline', at: T0, title: '工单 2' }, P), [c], P).kind).toBe('open');
  });

  it('a ticket joins a burst on the same category and area at the lower burst threshold, not across areas', () => {
    const t = (id: string, area: string, content: string) =>
      groupingFeatures({ id, source: 'hotline', at: T0, area, category: '投诉', content }, P);
    const first = { ...t('t1', '城东区', '幸福小区从昨天开始停水，至今没有恢复，物业也不给说法'), incidentId: 'inc1' };
    const second = t('t2', '城东区', '我们幸福小区停水一整天了，家里老人孩子没法生活，请尽快处理');
    const d = decideGrouping(second, [first], P);
    expect(d).toMatchObject({ kind: 'join', reason: 'ticket_matter', incidentId: 'inc1' });
    expect(d.kind === 'join' && d.score).toBeGreaterThanOrEqual(P.burstThreshold);
    const other = decideGrouping(t('t3', '城西区', '我们幸福小区停水一整天了，家里老人孩子没法生活，请尽快处理'), [first], P);
    expect(other.kind === 'join' ? other.reason : 'open').not.toBe('ticket_matter');
  });

  it('decides the same whatever order the candidates come in (ties: earlier, then smaller id)', () => {
    const a = cand('a', 'inc-a', { title: '城东高架桥出现裂缝' });
    const b = cand('b', 'inc-b', { title: '城东高架桥出现裂缝' });
    const s = groupingFeatures({ id: 's', source: 'feed', at: T0, title: '城东高架桥出现裂缝' }, P);
    expect(decideGrouping(s, [a, b], P)).toEqual(decideGrouping(s, [b, a], P));
    expect(decideGrouping(s, [b, a], P)).toMatchObject({ incidentId: 'inc-a' });
  });

  it('groupAll chains: each signal is a candidate for later ones', () => {
    const groups = groupAll(
      [
        { id: '1', source: 'feed', at: T0, title: '城东高架桥出现裂缝 交通局派人检测' },
        { id: '2', source: 'feed', at: T0 + H, title: '城东高架桥裂缝 交通局：已封闭一条车道检测' },
        { id: '3', source: 'feed', at: T0 + 2 * H, title: '市图书馆周末延长开放时间' },
      ],
      P,
    );
    expect(groups.get('2')).toBe(groups.get('1'));
    expect(groups.get('3')).toBe('3');
  });
});

describe('CandidatePool', () => {
  it('compares text with the latest signals of each incident only, but links with all', () => {
    const pool = new CandidatePool({ ...P, maxSignalsPerIncident: 3 });
    for (let i = 0; i < 10; i++)
      pool.add(cand(`c${i}`, 'inc1', { at: T0 + i, url: `https://x.cn/${i}`, title: `城东高架桥出现裂缝 第${i}次报道 交通局检测` }));
    const s = groupingFeatures({ id: 'n', source: 'feed', at: T0 + 20, title: '城东高架桥出现裂缝 交通局检测' }, P);
    expect(pool.relevant(s).map((c) => c.id)).toEqual(['c7', 'c8', 'c9']);
    const repost = groupingFeatures({ id: 'r', source: 'feed', at: T0 + 20, url: 'http://www.x.cn/0', title: '转载' }, P);
    expect(pool.decide(repost)).toMatchObject({ kind: 'join', reason: 'link', via: 'c0' });
  });

  it('never offers a candidate that shares neither a link nor a bigram', () => {
    const pool = new CandidatePool(P);
    pool.add(cand('a', 'inc1', { title: '城东高架桥出现裂缝' }));
    expect(pool.relevant(groupingFeatures({ id: 'n', source: 'feed', at: T0, title: '图书馆延长开放' }, P))).toEqual([]);
  });
});

describe('the candidate pool decides exactly as comparing with every candidate', () => {
  // Looking up only a signal's distinctive bigrams must not change one decision.
  const words = ['来电称', '小区', '电梯', '停水', '噪声', '城南', '施工', '学校', '食堂', '河道', '黑臭', '物业', '收费', '公交', '线路'];
  const text = fc.array(fc.constantFrom(...words), { minLength: 0, maxLength: 8 }).map((w) => w.join(''));
  const subject = fc.record({
    title: text,
    content: text,
    url: fc.option(fc.constantFrom('https://a.example/1', 'https://a.example/2', 'https://b.example/x'), { nil: undefined }),
    category: fc.constantFrom('投诉', '建议'),
    area: fc.constantFrom('城南区', '城北区'),
    source: fc.constantFrom('hotline' as const, 'feed' as const),
    minutes: fc.integer({ min: 0, max: 6000 }),
  });
  it('over random streams of signals (500 runs)', () => {
    fc.assert(
      fc.property(fc.array(subject, { minLength: 1, maxLength: 25 }), (list) => {
        for (const policy of [P, { ...P, measure: 'jaccard' as const, maxSignalsPerIncident: 2 }]) {
          const pool = new CandidatePool(policy);
          const all: GroupingCandidate[] = [];
          list.forEach((x, i) => {
            const f = groupingFeatures({ id: `s${i}`, at: x.minutes * 60_000, ...x }, policy);
            const viaPool = pool.decide(f);
            // The reference: each incident's latest `maxSignalsPerIncident` candidates and every one with
            // the same link, each compared in full (similarity()).
            // Each incident's latest by time (then id), whatever order they were added in.
            const latest = new Set(
              [...new Set(all.map((c) => c.incidentId))].flatMap((inc) =>
                all
                  .filter((c) => c.incidentId === inc)
                  .sort(byTime)
                  .slice(-policy.maxSignalsPerIncident),
              ),
            );
            const held = all.filter((c) => latest.has(c) || (f.link !== null && c.link === f.link));
            const reference = decideGrouping(f, held, policy);
            // Every join is the same; an `open` decision's `best` is informational and may be missed
            // when it shares too little to have been looked up (never one above the lowest threshold).
            if (reference.kind === 'join') expect(viaPool).toEqual(reference);
            else {
              expect(viaPool.kind).toBe('open');
              const best = viaPool.kind === 'open' ? viaPool.best : null;
              if (best) expect(best.score).toBeLessThanOrEqual(reference.best!.score);
              if (reference.best && reference.best.score >= Math.min(policy.textThreshold, policy.burstThreshold))
                expect(best).toEqual(reference.best);
            }
            const c = { ...f, incidentId: viaPool.kind === 'join' ? viaPool.incidentId : f.id };
            pool.add(c);
            all.push(c);
          });
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('the candidate pool under any thresholds, with candidates leaving', () => {
  // Long texts over a small vocabulary (so signals share frames and names, as tickets do), any
  // thresholds and caps: the looked-up candidates must still hold every one that could join.
  const words = [
    '市民来电称',
    '小区',
    '电梯',
    '停水',
    '噪声',
    '城南区',
    '施工',
    '学校',
    '食堂',
    '河道',
    '黑臭',
    '物业',
    '收费',
    '公交',
    '线路',
    '希望',
    '处理',
  ];
  const text = fc.array(fc.constantFrom(...words), { minLength: 0, maxLength: 24 }).map((w) => w.join(''));
  const step = fc.oneof(
    {
      weight: 8,
      arbitrary: fc.record({
        kind: fc.constant('signal' as const),
        title: text,
        content: text,
        minutes: fc.integer({ min: 0, max: 6000 }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('close' as const), nth: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('expire' as const), minutes: fc.integer({ min: 0, max: 6000 }) }) },
  );
  const policy = fc.record({
    measure: fc.constantFrom('overlap' as const, 'jaccard' as const),
    textThreshold: fc.double({ min: 0.05, max: 0.9, noNaN: true }),
    burstThreshold: fc.double({ min: 0.05, max: 0.9, noNaN: true }),
    minBigrams: fc.integer({ min: 1, max: 10 }),
    maxSignalsPerIncident: fc.integer({ min: 1, max: 5 }),
  });
  it('decides every join as comparing with all (300 runs)', () => {
    fc.assert(
      fc.property(policy, fc.array(step, { minLength: 1, maxLength: 30 }), (p, steps) => {
        const pol = { ...P, ...p };
        const pool = new CandidatePool(pol);
        let all: GroupingCandidate[] = [];
        steps.forEach((x, i) => {
          if (x.kind === 'close') {
            const incidents = [...new Set(all.map((c) => c.incidentId))];
            if (incidents.length === 0) return;
            const gone = incidents[x.nth % incidents.length]!;
            pool.removeIncident(gone);
            all = all.filter((c) => c.incidentId !== gone);
            return;
          }
          if (x.kind === 'expire') {
            pool.expire(x.minutes * 60_000);
            all = all.filter((c) => c.at >= x.minutes * 60_000);
            return;
          }
          const f = groupingFeatures(
            {
              id: `s${i}`,
              source: 'hotline',
              category: '投诉',
              area: '城南区',
              at: x.minutes * 60_000,
              title: x.title,
              content: x.content,
            },
            pol,
          );
          const latest = new Set(
            [...new Set(all.map((c) => c.incidentId))].flatMap((inc) =>
              all
                .filter((c) => c.incidentId === inc)
                .sort(byTime)
                .slice(-pol.maxSignalsPerIncident),
            ),
          );
          const reference = decideGrouping(f, [...latest], pol);
          const viaPool = pool.decide(f);
          if (reference.kind === 'join') expect(viaPool).toEqual(reference);
          else expect(viaPool.kind).toBe('open');
          const c = { ...f, incidentId: viaPool.kind === 'join' ? viaPool.incidentId : f.id };
          pool.add(c);
          all.push(c);
        });
        expect(pool.size).toBe(all.length);
      }),
      { numRuns: 300 },
    );
  });
});

describe('the candidate pool as open matters grow', () => {
  it('looks up a few candidates per ticket, not every ticket sharing the 12345 frame', () => {
    // 3000 distinct matters told in the same frame: every ticket shares 市民/来电/电称 with all others.
    const chars =
      '的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处府';
    let x = 7;
    const r = () => ((x = (x * 1103515245 + 12345) % 2 ** 31), x / 2 ** 31);
    const words = (n: number) => Array.from({ length: n }, () => chars[Math.floor(r() * chars.length)]).join('');
    const pool = new CandidatePool(P);
    let looked = 0;
    for (let i = 0; i < 3000; i++) {
      const f = groupingFeatures(
        { id: `t${i}`, source: 'hotline', at: T0 + i, title: `市民来电称${words(12)}`, content: `来电称${words(60)}` },
        P,
      );
      looked += pool.relevant(f).length;
      pool.add({ ...f, incidentId: f.id });
    }
    // Walking every bigram would reach all earlier tickets: 3000·2999/2 ≈ 4.5 million.
    expect(looked / 3000).toBeLessThan(100);
  });
});

describe('the candidate pool as tickets sharing a long frame grow', () => {
  // Each ticket told in the whole 12345 frame (市民来电称… 市民反映：来电称…，希望尽快处理。): seven of its
  // bigrams are in every ticket, and the characters around the frame (称X, X市, X希) are in one
  // ticket of a few hundred. Walking those, a look-up met every ticket that shared two of them by
  // chance and compared it in full: a look-up's cost grew with the open matters.
  it('compares only the tickets that share three of the grams looked up, and decides as comparing with all', () => {
    const pool = new CandidatePool(P);
    const held: GroupingCandidate[] = [];
    let looked = 0;
    let joins = 0;
    // Every 10th tells the story of the one before it again, under another title.
    const tickets = frameTicketMaker(2026)(6000, { at: T0, retellEvery: 10 });
    for (const [i, ticket] of tickets.entries()) {
      const f = groupingFeatures(ticket, P);
      looked += pool.relevant(f).length;
      const viaPool = pool.decide(f);
      // A new story (…0) and a retold one (…9), against every ticket before them.
      if (i % 50 === 0 || i % 50 === 49) {
        const reference = decideGrouping(f, held, P);
        expect(reference.kind).toBe(i % 10 === 9 ? 'join' : 'open');
        if (reference.kind === 'join') expect(viaPool).toEqual(reference);
        else expect(viaPool.kind).toBe('open');
      }
      if (viaPool.kind === 'join') joins++;
      const c = { ...f, incidentId: viaPool.kind === 'join' ? viaPool.incidentId : f.id };
      pool.add(c);
      held.push(c);
    }
    expect(joins).toBe(600);
    // Counting those that share two looked-up grams by chance, about 13 per look-up were compared.
    expect(looked / 6000).toBeLessThan(2);
  });

  it('looks up the same grams whatever candidates came and went before: a pool kept across batches and one loaded afresh agree', () => {
    // Bigram keys as plain numbers. The signal: five grams one candidate each holds (1–5), a gram
    // 60 candidates hold (100), two every candidate holds (200, 201), and 20 no candidate holds.
    const features = (id: string, keys: number[]): GroupingFeatures => ({
      id,
      source: 'feed',
      at: T0,
      link: null,
      area: null,
      category: null,
      bigrams: [...new Set(keys)].sort((x, y) => x - y),
    });
    let next = 10_000;
    const filler = (n: number) => Array.from({ length: n }, () => next++);
    const kept = new CandidatePool(P);
    const fresh = new CandidatePool(P);
    const both = (c: GroupingFeatures) => {
      kept.add({ ...c, incidentId: `inc_${c.id}` });
      fresh.add({ ...c, incidentId: `inc_${c.id}` });
    };
    for (let i = 1; i <= 5; i++) both(features(`rare${i}`, [i, 200, 201, ...filler(27)]));
    for (let i = 0; i < 60; i++) both(features(`g${i}`, [100, 200, 201, ...filler(27)]));
    for (let i = 0; i < 200; i++) both(features(`frame${i}`, [200, 201, ...filler(28)]));
    // The kept pool also held 30 more holders of gram 100, since closed: their postings stay listed
    // (90 in all) until most of them are dead.
    for (let i = 0; i < 30; i++) kept.add({ ...features(`gone${i}`, [100, 200, 201, ...filler(27)]), incidentId: `inc_gone${i}` });
    for (let i = 0; i < 30; i++) kept.removeIncident(`inc_gone${i}`);
    expect(kept.size).toBe(fresh.size);
    const signal = features('s', [1, 2, 3, 4, 5, 100, 200, 201, ...filler(20)]);
    // Both look gram 100 up beyond the pigeonhole (60 holders: cheap) and compare none of the five
    // that share a single rare gram by chance; counted by list length, the kept pool did not.
    expect(kept.relevant(signal)).toEqual([]);
    expect(fresh.relevant(signal)).toEqual([]);
    expect(kept.decide(signal)).toEqual(fresh.decide(signal));
  });
});

describe('the candidate pool over thousands of candidates coming and going', () => {
  // Enough to outgrow the pool's first slot arrays (live candidates past 1 024), then to churn
  // through them (most incidents close, the rest keep 2 text candidates each) so that slots are
  // numbered again: every decision must still be the one comparing with every candidate gives.
  it('decides as the reference while its slots grow and are renumbered', { timeout: 120_000 }, () => {
    const chars = '城东西南北高架桥裂缝小区电梯停水噪声施工学校食堂河道黑臭物业收费公交线路医院药店菜市场路灯井盖积水';
    let x = 20261130;
    const rand = () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) / 4294967296;
    };
    const words = (n: number) => Array.from({ length: n }, () => chars[Math.floor(rand() * chars.length)]).join('');
    const policy = { ...P, maxSignalsPerIncident: 2 };
    const pool = new CandidatePool(policy);
    const held = new Map<string, GroupingCandidate[]>();
    let i = 0;
    let joins = 0;
    const step = (title: string, check: boolean) => {
      const f = groupingFeatures({ id: `s${String(i).padStart(5, '0')}`, source: 'feed', at: T0 + i * 1000, title }, policy);
      i++;
      const viaPool = pool.decide(f);
      if (check) {
        const reference = decideGrouping(f, [...held.values()].flat(), policy);
        if (reference.kind === 'join') expect(viaPool).toEqual(reference);
        else expect(viaPool.kind).toBe('open');
      }
      const incidentId = viaPool.kind === 'join' ? viaPool.incidentId : f.id;
      if (viaPool.kind === 'join') joins++;
      const c = { ...f, incidentId };
      pool.add(c);
      held.set(incidentId, [...(held.get(incidentId) ?? []), c].slice(-policy.maxSignalsPerIncident));
    };
    // 1 100 matters of their own (24 characters from 60: few pairs reach the threshold).
    for (let n = 0; n < 1100; n++) step(words(24), n % 10 === 0);
    expect(pool.size).toBe(1100);
    for (const id of [...held.keys()].slice(0, 1000)) {
      pool.removeIncident(id);
      held.delete(id);
    }
    expect(pool.size).toBeLessThan(200);
    // Then 40 matters told again and again: each new text candidate of an incident unindexes its oldest.
    const matters = Array.from({ length: 40 }, () => words(16));
    for (let n = 0; n < 2500; n++) step(`${matters[Math.floor(rand() * matters.length)]!}${words(3)}`, true);
    expect(joins).toBeGreaterThan(2000);
  });
});
