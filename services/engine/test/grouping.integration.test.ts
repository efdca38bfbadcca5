/**
 * Monitoring rules and grouping on the real PostgreSQL: an unmatched signal is stored and opens
 * nothing; matched signals join an open incident on a shared link, on similar text, or as a
 * burst of tickets on one matter; each decision and its reason is written on the signal; the
 * incident's start is its earliest signal; two engines grouping at once agree on one incident.
 */
import type { SignalMessage } from '@huiying/bus';
import { FakeClock } from '@huiying/clock';
import { type Db, feeds, monitoringRules, openPostgres, rowsOf, signals, sql } from '@huiying/db';
import { CandidatePool, DEFAULT_GROUPING_POLICY, DEFAULT_RULE_PACK, type IncidentState } from '@huiying/domain';
import { freshDatabase } from '@huiying/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { candidatePoolStats, groupingChanged } from '../src/grouping.ts';
import { mergeIncidents } from '../src/merge.ts';
import { decidedAheadStats, handleSignals, promoteSignal, SignalAlreadyGrouped } from '../src/signals.ts';
import { applyCommand, type EngineDeps } from '../src/store.ts';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-09-30T20:00:00+08:00');
let db: Awaited<ReturnType<typeof freshDatabase>>;
let deps: EngineDeps;
let n = 0;

interface Stored {
  source?: 'feed' | 'hotline';
  title?: string;
  content?: string;
  url?: string;
  area?: string;
  category?: string;
  publishedAt?: number;
  feedId?: string;
}

/** Store a signal as ingest does (text in the row), and return the message the bus would carry (ids only). */
async function store(target: Db, s: Stored): Promise<SignalMessage> {
  const id = `sig_g${++n}`;
  const source = s.source ?? 'feed';
  const publishedAt = new Date(s.publishedAt ?? T0).toISOString();
  await target.insert(signals).values({
    id,
    source,
    sourceRef: id,
    title: s.title ?? null,
    content: s.content ?? null,
    url: s.url ?? null,
    area: s.area ?? null,
    category: s.category ?? null,
    feedId: s.feedId ?? null,
    publishedAt: new Date(publishedAt),
    receivedAt: new Date(T0),
  });
  return {
    v: 1,
    type: 'signal',
    id,
    source,
    sourceRef: id,
    ...(s.area ? { area: s.area } : {}),
    ...(s.category ? { category: s.category } : {}),
    ...(s.feedId ? { feedId: s.feedId } : {}),
    publishedAt,
    receivedAt: new Date(T0).toISOString(),
  };
}

const signalRow = async (id: string) =>
  rowsOf<{
    incident_id: string | null;
    decision: string;
    decision_reason: string;
    rule_id: string | null;
    decision_score: number | null;
    decision_via: string | null;
  }>(
    await db.db.execute(
      sql`select incident_id, decision, decision_reason, rule_id, decision_score, decision_via from signals where id = ${id}`,
    ),
  )[0]!;
const incidentCount = async () => rowsOf<{ n: number }>(await db.db.execute(sql`select count(*)::int as n from incidents`))[0]!.n;
const stateOf = async (id: string) =>
  rowsOf<{ state: IncidentState }>(await db.db.execute(sql`select state from incidents where id = ${id}`))[0]!.state;

beforeAll(async () => {
  db = await freshDatabase();
  deps = { db: db.db, clock: new FakeClock(T0), pack: () => DEFAULT_RULE_PACK };
});
afterAll(async () => db?.drop());
beforeEach(async () => {
  await db.db.execute(sql`truncate signals, incidents, incident_wakes, clocks, alerts, outbox, monitoring_rules`);
  const at = new Date(T0);
  await db.db.insert(monitoringRules).values([
    {
      id: 'mr_feeds',
      name: '城建舆情',
      expression: '(高架桥 OR 裂缝 OR 停水) AND NOT 招聘',
      sources: ['feed'],
      createdBy: 'test',
      createdAt: at,
      updatedAt: at,
    },
    { id: 'mr_tickets', name: '12345 工单', expression: '', sources: ['hotline'], createdBy: 'test', createdAt: at, updatedAt: at },
  ]);
});

describe('monitoring rules and grouping (PostgreSQL)', () => {
  it('stores an unmatched signal with its decision and opens no incident', async () => {
    const m = await store(db.db, { title: '市图书馆周末延长开放时间', content: '市图书馆自下周起周末开放至晚九点。' });
    const [outcome] = await handleSignals(deps, [m]);
    expect(outcome).toMatchObject({ incidentId: null, created: false, decision: 'unmatched' });
    expect(await signalRow(m.id)).toMatchObject({ incident_id: null, decision: 'unmatched', decision_reason: 'no_rule', rule_id: null });
    expect(await incidentCount()).toBe(0);
    // Redelivered: nothing changes, and the sweep does not pick it up again.
    expect((await handleSignals(deps, [m]))[0]).toMatchObject({ incidentId: null, decision: 'unmatched' });
    expect(rowsOf<{ n: number }>(await db.db.execute(sql`select count(*)::int as n from signals where processed_at is null`))[0]!.n).toBe(
      0,
    );
  });

  it('promotes an unmatched signal by hand: the clock starts at its publish time, and only once', async () => {
    const m = await store(db.db, { title: '市图书馆周末延长开放时间', publishedAt: T0 - 3 * HOUR });
    await handleSignals(deps, [m]);
    const { incidentId } = await promoteSignal(deps, m.id, 'user:duty1', '群众关注');
    const state = await stateOf(incidentId);
    expect(state.startAt).toBe(T0 - 3 * HOUR);
    expect(state.clocks[0]).toMatchObject({ kind: 'response', dueAt: T0 + 45 * HOUR });
    expect(await signalRow(m.id)).toMatchObject({ incident_id: incidentId, decision: 'promoted', decision_reason: 'manual: 群众关注' });
    await expect(promoteSignal(deps, m.id, 'user:duty1')).rejects.toBeInstanceOf(SignalAlreadyGrouped);
    const audit = rowsOf<{ actor: string }>(
      await db.db.execute(sql`select actor from audit_log where action = 'signal.promoted' and entity_id = ${m.id}`),
    );
    expect(audit).toEqual([{ actor: 'user:duty1' }]);
  });

  it('joins on a shared link (canonical URL) whatever the wording, and the start moves to the earliest signal', async () => {
    const first = await store(db.db, { title: '网传城东高架桥桥面出现多处裂缝', url: 'https://news.example.cn/a/1001.html' });
    const [opened] = await handleSignals(deps, [first]);
    const repost = await store(db.db, {
      title: '转：桥面有裂缝？',
      url: 'http://www.news.example.cn/a/1001.html?utm_source=weixin#c',
      publishedAt: T0 - 2 * HOUR,
    });
    const [joined] = await handleSignals(deps, [repost]);
    expect(joined).toMatchObject({ incidentId: opened!.incidentId, decision: 'joined' });
    expect(await signalRow(repost.id)).toMatchObject({
      decision_reason: 'link',
      rule_id: 'mr_feeds',
      decision_score: 1,
      decision_via: first.id,
    });
    // Its decision is audited with what the row says, once.
    const audits = rowsOf<{ action: string; actor: string; result: unknown }>(
      await db.db.execute(sql`select action, actor, result from audit_log where entity = 'signal' and entity_id = ${repost.id}`),
    );
    expect(audits).toEqual([
      {
        action: 'signal.joined',
        actor: 'engine',
        result: { incidentId: opened!.incidentId, reason: 'link', ruleId: 'mr_feeds', score: 1, via: first.id },
      },
    ]);
    const state = await stateOf(opened!.incidentId!);
    expect(state.signalCount).toBe(2);
    expect(state.startAt).toBe(T0 - 2 * HOUR);
    expect(state.clocks[0]).toMatchObject({ kind: 'response', dueAt: T0 + 46 * HOUR });
  });

  it('joins on similar text with its score, and opens a new incident for a different matter (naming the closest)', async () => {
    const a = await store(db.db, {
      title: '网传城东高架桥桥面出现多处裂缝',
      content: '有网友称城东高架桥靠近滨江路匝道处桥面出现多条裂缝。',
    });
    const b = await store(db.db, {
      title: '城东高架桥现裂缝？市交通局：已派员现场检测',
      content: '针对网传城东高架桥出现裂缝一事，市交通运输局表示已派专业人员赶赴现场检测。',
    });
    const c = await store(db.db, {
      title: '幸福小区停水近一天 居民生活受影响',
      content: '城东区幸福小区自前晚起停水，供水公司称小区内管道爆裂。',
    });
    const out = await handleSignals(deps, [a, b, c]);
    expect(out.map((o) => o.decision)).toEqual(['opened', 'joined', 'opened']);
    expect(out[1]!.incidentId).toBe(out[0]!.incidentId);
    expect(out[2]!.incidentId).not.toBe(out[0]!.incidentId);
    const row = await signalRow(b.id);
    expect(row).toMatchObject({ decision_reason: 'similar_text', decision_via: a.id });
    expect(row.decision_score).toBeGreaterThanOrEqual(0.2);
    expect(await signalRow(c.id)).toMatchObject({ decision: 'opened', decision_reason: 'new_matter', rule_id: 'mr_feeds' });
  });

  it('turns a burst of tickets on one matter (same category and area, similar text) into one incident', async () => {
    const texts = [
      '幸福小区从昨天晚上开始停水，到现在还没来水，物业说不清楚原因，请相关部门尽快处理。',
      '城东区幸福小区停水快一天了，家里老人孩子没法做饭洗漱，希望自来水公司尽快恢复供水。',
      '幸福小区全小区停水，已经超过20小时，要求尽快恢复供水并说明原因。',
      '我是幸福小区业主，小区停水一整天了，物业和供水公司互相推诿，请帮忙协调。',
      '幸福小区 停水 一天多了 有没有人管',
    ];
    const msgs = [];
    for (const [i, t] of texts.entries())
      msgs.push(
        await store(db.db, {
          source: 'hotline',
          title: t.slice(0, 40),
          content: t,
          area: '城东区',
          category: '求助',
          publishedAt: T0 - i * 600_000,
        }),
      );
    // Another matter in the same district and category.
    const other = await store(db.db, {
      source: 'hotline',
      title: '和平小区今天停电了，没有通知，冰箱里的东西都坏了',
      content: '和平小区今天停电了，没有通知，冰箱里的东西都坏了，请供电公司说明。',
      area: '城东区',
      category: '求助',
    });
    const out = await handleSignals(deps, [...msgs, other]);
    const ids = new Set(out.slice(0, 5).map((o) => o.incidentId));
    expect(ids.size).toBe(1);
    expect(out[5]!.incidentId).not.toBe(out[0]!.incidentId);
    const reasons = await Promise.all(msgs.slice(1).map(async (m) => (await signalRow(m.id)).decision_reason));
    expect(reasons.every((r) => r === 'ticket_matter' || r === 'similar_text')).toBe(true);
    expect(reasons).toContain('ticket_matter');
    // The start is the earliest ticket's receive time.
    expect((await stateOf(out[0]!.incidentId!)).startAt).toBe(T0 - 4 * 600_000);
  });

  it('two engines grouping at once agree: the same batch, and halves of the same matters, give one incident per matter', async () => {
    const other = openPostgres(db.url, { max: 2 });
    try {
      const depsB: EngineDeps = { db: other.db, clock: new FakeClock(T0), pack: () => DEFAULT_RULE_PACK };
      const pairs = [
        ['网传城东高架桥桥面出现多处裂缝，车辆经过有明显震动', '城东高架桥现裂缝？市交通局：已派员到城东高架桥现场检测'],
        ['幸福小区停水近一天 居民生活受影响 供水公司称管道爆裂', '幸福小区停水超过20小时 供水公司：管道爆裂正在抢修'],
        ['解放路下穿隧道暴雨后严重积水停水 一辆轿车被困', '解放路下穿隧道积水 车辆被困 消防救出司机 周边停水'],
        ['西山垃圾焚烧厂选址引担忧 附近村庄停水又断电', '西山垃圾焚烧厂选址：村民担忧停水断电影响生活'],
      ];
      const a: SignalMessage[] = [];
      const b: SignalMessage[] = [];
      for (const [x, y] of pairs) {
        a.push(await store(db.db, { title: x! }));
        b.push(await store(db.db, { title: y! }));
      }
      // One matter's signals on two partitions, handled by two engines at the same moment…
      const [ra, rb] = await Promise.all([handleSignals(deps, a), handleSignals(depsB, b)]);
      expect(await incidentCount()).toBe(pairs.length);
      for (let i = 0; i < pairs.length; i++) expect(ra[i]!.incidentId).toBe(rb[i]!.incidentId);
      // …and a batch redelivered to the other engine while the first is still on it.
      const again = await store(db.db, { title: '城东高架滨江路匝道临时封闭 城东高架桥桥面裂缝检测中' });
      const [x, y] = await Promise.all([handleSignals(deps, [again]), handleSignals(depsB, [again])]);
      expect(x![0]!.incidentId).toBe(ra[0]!.incidentId);
      expect(y![0]!.incidentId).toBe(ra[0]!.incidentId);
      expect(await incidentCount()).toBe(pairs.length);
      expect((await stateOf(ra[0]!.incidentId!)).signalCount).toBe(3);
      const created = rowsOf<{ n: number }>(
        await db.db.execute(
          sql`select count(*)::int as n from audit_log where action = 'incident.created' and entity_id in (select id from incidents)`,
        ),
      );
      expect(created[0]!.n).toBe(pairs.length);
    } finally {
      await other.close();
    }
  });

  describe('candidates kept in memory across batches', () => {
    const crack = ['网传城东高架桥桥面出现多处裂缝，车辆经过有明显震动', '城东高架桥现裂缝？市交通局：已派员到城东高架桥现场检测'];
    const water = ['幸福小区停水近一天 居民生活受影响 供水公司称管道爆裂', '幸福小区停水超过20小时 供水公司：管道爆裂正在抢修'];

    it('one engine reads them once, then keeps them: later batches join what earlier ones opened', async () => {
      const before = { ...candidatePoolStats };
      const [first] = await handleSignals(deps, [await store(db.db, { title: crack[0]! })]);
      const [second] = await handleSignals(deps, [await store(db.db, { title: water[0]! })]);
      const [third] = await handleSignals(deps, [await store(db.db, { title: crack[1]! })]);
      const [fourth] = await handleSignals(deps, [await store(db.db, { title: water[1]! })]);
      expect(third!.incidentId).toBe(first!.incidentId);
      expect(fourth!.incidentId).toBe(second!.incidentId);
      expect(candidatePoolStats.reloaded - before.reloaded).toBe(1);
      expect(candidatePoolStats.kept - before.kept).toBe(3);
    });

    it('batches of two partitions started at once in one engine take turns and keep them current', async () => {
      await handleSignals(deps, [await store(db.db, { title: '市图书馆周末停水 读者：高架桥下的分馆也停水' })]);
      const before = { ...candidatePoolStats };
      const [a, b] = await Promise.all([
        handleSignals(deps, [await store(db.db, { title: crack[0]! })]),
        handleSignals(deps, [await store(db.db, { title: water[0]! })]),
      ]);
      const [c, d] = await Promise.all([
        handleSignals(deps, [await store(db.db, { title: crack[1]! })]),
        handleSignals(deps, [await store(db.db, { title: water[1]! })]),
      ]);
      expect(c![0]!.incidentId).toBe(a![0]!.incidentId);
      expect(d![0]!.incidentId).toBe(b![0]!.incidentId);
      expect(candidatePoolStats.reloaded - before.reloaded).toBe(0);
      expect(candidatePoolStats.kept - before.kept).toBe(4);
    });

    it('another engine grouping in between makes the next batch read them again, and see its signals', async () => {
      const other = openPostgres(db.url, { max: 2 });
      try {
        const depsB: EngineDeps = { db: other.db, clock: new FakeClock(T0), pack: () => DEFAULT_RULE_PACK };
        const [a] = await handleSignals(deps, [await store(db.db, { title: '市图书馆周末停水 读者：高架桥下的分馆也停水' })]);
        // The other engine opens the crack matter; the first engine must find it, not open it again.
        const [b] = await handleSignals(depsB, [await store(db.db, { title: crack[0]! })]);
        const before = { ...candidatePoolStats };
        const [c] = await handleSignals(deps, [await store(db.db, { title: crack[1]! })]);
        expect(c!.incidentId).toBe(b!.incidentId);
        expect(c!.incidentId).not.toBe(a!.incidentId);
        expect(candidatePoolStats.reloaded - before.reloaded).toBe(1);
      } finally {
        await other.close();
      }
    });

    it('an incident dismissed meanwhile (no grouping lock) is no candidate: a signal of its matter opens a new one', async () => {
      const [first] = await handleSignals(deps, [await store(db.db, { title: crack[0]! })]);
      await applyCommand(
        deps,
        first!.incidentId!,
        { type: 'dismiss', at: T0, incident: first!.incidentId!, reason: '不属于政务舆情' },
        'user:duty1',
      );
      const [again] = await handleSignals(deps, [await store(db.db, { title: crack[1]! })]);
      expect(again).toMatchObject({ created: true, decision: 'opened' });
      expect(again!.incidentId).not.toBe(first!.incidentId);
    });

    it('a batch deciding on a dismissed incident decides again: its signals group among themselves', async () => {
      const [first] = await handleSignals(deps, [await store(db.db, { title: crack[0]! })]);
      const [other] = await handleSignals(deps, [await store(db.db, { title: water[0]! })]);
      await applyCommand(
        deps,
        first!.incidentId!,
        { type: 'dismiss', at: T0, incident: first!.incidentId!, reason: '不属于政务舆情' },
        'user:duty1',
      );
      const batch = [
        await store(db.db, { title: crack[1]! }),
        await store(db.db, { title: water[1]! }),
        await store(db.db, { title: '城东高架桥裂缝检测结果公布 交通局：桥面裂缝不影响通行' }),
      ];
      const [a, b, c] = await handleSignals(deps, batch);
      expect(a).toMatchObject({ created: true, decision: 'opened' });
      expect(b).toMatchObject({ incidentId: other!.incidentId, decision: 'joined' });
      expect(c).toMatchObject({ incidentId: a!.incidentId, decision: 'joined' });
      expect((await stateOf(first!.incidentId!)).signalCount).toBe(1);
      // The pool holds what the database holds: the next batch joins the new incident.
      const [d] = await handleSignals(deps, [await store(db.db, { title: crack[0]! })]);
      expect(d!.incidentId).toBe(a!.incidentId);
    });

    it('a signal attached by hand (补充线索, outside the grouping lock) is a candidate once the change is announced', async () => {
      const [first] = await handleSignals(deps, [await store(db.db, { title: water[0]! })]);
      const url = 'https://news.example.cn/2026/crack.html';
      // What POST /api/incidents/:id/signals does: the command with the signal row alongside, then the announcement.
      await applyCommand(
        deps,
        first!.incidentId!,
        { type: 'signal', at: T0, incident: first!.incidentId!, source: 'manual', publishedAt: T0, title: crack[0]! },
        'user:duty1',
        async (tx) => {
          await tx.insert(signals).values({
            id: 'sig_manual_1',
            source: 'manual',
            sourceRef: 'sig_manual_1',
            title: crack[0]!,
            url,
            linkKey: 'news.example.cn/2026/crack.html',
            publishedAt: new Date(T0),
            receivedAt: new Date(T0),
            incidentId: first!.incidentId!,
            processedAt: new Date(T0),
            decision: 'attached',
          });
        },
      );
      await groupingChanged(db.db);
      const [repost] = await handleSignals(deps, [await store(db.db, { title: crack[1]! })]);
      expect(repost).toMatchObject({ incidentId: first!.incidentId, decision: 'joined' });
    });

    it('a merge (under the grouping lock) is seen by the next batch: it joins the surviving incident', async () => {
      const [a] = await handleSignals(deps, [await store(db.db, { title: crack[0]! })]);
      const [b] = await handleSignals(deps, [await store(db.db, { title: water[0]! })]);
      await mergeIncidents(deps, a!.incidentId!, [b!.incidentId!], 'user:duty1');
      const [c] = await handleSignals(deps, [await store(db.db, { title: water[1]! })]);
      expect(c!.incidentId).toBe(a!.incidentId);
    });
  });

  describe('deciding ahead of the lock while the batch before writes', () => {
    const crack = ['网传城东高架桥桥面出现多处裂缝，车辆经过有明显震动', '城东高架桥现裂缝？市交通局：已派员到城东高架桥现场检测'];
    const water = ['幸福小区停水近一天 居民生活受影响 供水公司称管道爆裂', '幸福小区停水超过20小时 供水公司：管道爆裂正在抢修'];

    /**
     * An engine of its own (its own kept candidates and turns: they are per database handle) whose
     * transactions can be held at their start, and made to fail after their work, by number.
     */
    function gatedEngine() {
      let calls = 0;
      const held = new Map<number, { reached: () => void; open: Promise<void> }>();
      const failing = new Set<number>();
      const failingAtStart = new Set<number>();
      const atEnd = new Map<number, () => Promise<void>>();
      const reached = new Map<number, Promise<void>>();
      const clock = new FakeClock(T0);
      const gated = new Proxy(db.db, {
        get(target, prop) {
          if (prop === 'transaction')
            return async (work: (tx: unknown) => Promise<unknown>) => {
              const call = ++calls;
              if (failingAtStart.has(call)) throw new Error(`transaction ${call} refused on purpose`);
              const gate = held.get(call);
              if (gate) {
                gate.reached();
                await gate.open;
              }
              return target.transaction(async (tx) => {
                const result = await work(tx);
                await atEnd.get(call)?.();
                if (failing.has(call)) throw new Error(`transaction ${call} failed on purpose`);
                return result;
              });
            };
          const value = Reflect.get(target, prop, target) as unknown;
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
      return {
        deps: { db: gated, clock, pack: () => DEFAULT_RULE_PACK } as EngineDeps,
        clock,
        /** Hold the n-th transaction at its start until the returned function is called; `reached` resolves when it gets there. */
        hold(n: number) {
          let open!: () => void;
          let arrive!: () => void;
          reached.set(n, new Promise<void>((r) => (arrive = r)));
          held.set(n, { reached: arrive, open: new Promise<void>((r) => (open = r)) });
          return { reached: reached.get(n)!, open };
        },
        fail(n: number, when: 'start' | 'end' = 'end') {
          (when === 'start' ? failingAtStart : failing).add(n);
        },
        /** Run `fn` in the n-th transaction once its work is done, before it commits. */
        atEnd(n: number, fn: () => Promise<void>) {
          atEnd.set(n, fn);
        },
      };
    }

    it('two batches handed over at once: the second decides while the first writes, and uses those decisions', async () => {
      const engine = gatedEngine();
      // Its first batch reads the candidates; the next two are handed over at once.
      await handleSignals(engine.deps, [await store(db.db, { title: '市图书馆周末停水 读者：高架桥下的分馆也停水' })]);
      const first = [await store(db.db, { title: crack[0]! }), await store(db.db, { title: water[0]! })];
      const second = [await store(db.db, { title: water[1]! }), await store(db.db, { title: crack[1]! })];
      const before = { ...decidedAheadStats };
      const [a, b] = await Promise.all([handleSignals(engine.deps, first), handleSignals(engine.deps, second)]);
      expect(b![0]).toMatchObject({ incidentId: a![1]!.incidentId, decision: 'joined' });
      expect(b![1]).toMatchObject({ incidentId: a![0]!.incidentId, decision: 'joined' });
      expect(decidedAheadStats.used - before.used).toBe(2);
      expect(decidedAheadStats.discarded - before.discarded).toBe(0);
      expect((await stateOf(a![0]!.incidentId!)).signalCount).toBe(2);
    });

    it('another engine grouping between the decision and the lock: the batch decides again and joins what that engine opened', async () => {
      const engine = gatedEngine();
      const other = openPostgres(db.url, { max: 2 });
      try {
        const depsB: EngineDeps = { db: other.db, clock: new FakeClock(T0), pack: () => DEFAULT_RULE_PACK };
        await handleSignals(engine.deps, [await store(db.db, { title: '市图书馆周末停水 读者：高架桥下的分馆也停水' })]);
        // The batch's transaction (the engine's second) is held once it has decided ahead: it
        // would open the crack matter. The other engine opens it meanwhile.
        const gate = engine.hold(2);
        const pending = handleSignals(engine.deps, [await store(db.db, { title: crack[1]! })]);
        await gate.reached;
        const [theirs] = await handleSignals(depsB, [await store(db.db, { title: crack[0]! })]);
        const before = { ...decidedAheadStats };
        gate.open();
        const [mine] = await pending;
        expect(mine).toMatchObject({ incidentId: theirs!.incidentId, decision: 'joined' });
        expect(decidedAheadStats.discarded - before.discarded).toBe(1);
        expect(await incidentCount()).toBe(2);
      } finally {
        await other.close();
      }
    });

    it('the batch before fails after deciding: the one that decided on top of it decides again, on what was committed', async () => {
      const engine = gatedEngine();
      await handleSignals(engine.deps, [await store(db.db, { title: '市图书馆周末停水 读者：高架桥下的分馆也停水' })]);
      // The second transaction decides (the crack matter opens in it), then rolls back; the third
      // decided ahead on top of it, joining the incident that never came to be.
      engine.fail(2);
      const before = { ...decidedAheadStats };
      const [a, b] = await Promise.allSettled([
        handleSignals(engine.deps, [await store(db.db, { title: crack[0]! })]),
        handleSignals(engine.deps, [await store(db.db, { title: crack[1]! })]),
      ]);
      expect(a.status).toBe('rejected');
      expect(b.status).toBe('fulfilled');
      const [mine] = (b as PromiseFulfilledResult<Awaited<ReturnType<typeof handleSignals>>>).value;
      expect(mine).toMatchObject({ created: true, decision: 'opened' });
      expect(decidedAheadStats.discarded - before.discarded).toBe(1);
      expect((await stateOf(mine!.incidentId!)).signalCount).toBe(1);
      expect(await incidentCount()).toBe(2);
      // The kept candidates hold what was committed: the failed batch's signal, handled again, joins.
      const [again] = await handleSignals(engine.deps, [{ ...(await store(db.db, { title: crack[0]! })) }]);
      expect(again).toMatchObject({ incidentId: mine!.incidentId, decision: 'joined' });
    });

    it('a signal of the batch decided elsewhere meanwhile: nothing taken ahead is kept, and it is not decided twice', async () => {
      const engine = gatedEngine();
      const other = openPostgres(db.url, { max: 2 });
      try {
        const depsB: EngineDeps = { db: other.db, clock: new FakeClock(T0), pack: () => DEFAULT_RULE_PACK };
        await handleSignals(engine.deps, [await store(db.db, { title: '市图书馆周末停水 读者：高架桥下的分馆也停水' })]);
        const signal = await store(db.db, { title: crack[0]! });
        const rest = await store(db.db, { title: water[0]! });
        const gate = engine.hold(2);
        const pending = handleSignals(engine.deps, [signal, rest]);
        await gate.reached;
        // The first message redelivered to the other engine, which decides it first.
        const [theirs] = await handleSignals(depsB, [signal]);
        const before = { ...decidedAheadStats };
        gate.open();
        const [mine, other2] = await pending;
        expect(mine).toMatchObject({ incidentId: theirs!.incidentId, created: false });
        // The rest of the batch is decided again under the lock, its text read again.
        expect(other2).toMatchObject({ created: true, decision: 'opened' });
        expect((await stateOf(other2!.incidentId!)).title).toBe(water[0]);
        expect(decidedAheadStats.discarded - before.discarded).toBe(1);
        expect(await incidentCount()).toBe(3);
        // Its kept candidates do not hold the incident it would have opened: the next signal joins theirs.
        const [next] = await handleSignals(engine.deps, [await store(db.db, { title: crack[1]! })]);
        expect(next).toMatchObject({ incidentId: theirs!.incidentId, decision: 'joined' });
      } finally {
        await other.close();
      }
    });

    it('candidates expired at the lock (the window passed meanwhile): the batch decides again without them', async () => {
      const engine = gatedEngine();
      const [old] = await handleSignals(engine.deps, [await store(db.db, { title: crack[0]! })]);
      // While the second transaction writes — the third has decided ahead, joining the crack
      // incident — the grouping window (72 h) passes that incident's signal; the third batch is
      // the first to lock after that, and the kept candidates forget it there.
      engine.atEnd(2, () => engine.clock.advanceBy(DEFAULT_GROUPING_POLICY.windowMs + 2 * 60_000));
      const before = { ...decidedAheadStats };
      const [, [late]] = await Promise.all([
        handleSignals(engine.deps, [await store(db.db, { title: water[0]! })]),
        handleSignals(engine.deps, [await store(db.db, { title: crack[1]! })]),
      ]);
      expect(late).toMatchObject({ created: true, decision: 'opened' });
      expect(late!.incidentId).not.toBe(old!.incidentId);
      expect(decidedAheadStats.discarded - before.discarded).toBe(1);
    });

    it('a monitoring rule disabled between the decision and the lock: the batch decides again under the rules in force', async () => {
      const engine = gatedEngine();
      await handleSignals(engine.deps, [await store(db.db, { title: water[0]! })]);
      const gate = engine.hold(3);
      const pending = Promise.all([
        handleSignals(engine.deps, [await store(db.db, { title: water[1]! })]),
        handleSignals(engine.deps, [await store(db.db, { title: crack[0]! })]),
      ]);
      await gate.reached;
      // Editing rules does not take the grouping lock.
      await db.db.execute(sql`update monitoring_rules set enabled = false where id = 'mr_feeds'`);
      const before = { ...decidedAheadStats };
      gate.open();
      const [[joined], [crackSignal]] = await pending;
      expect(joined).toMatchObject({ decision: 'joined' });
      expect(crackSignal).toMatchObject({ incidentId: null, decision: 'unmatched' });
      expect(decidedAheadStats.discarded - before.discarded).toBe(1);
    });

    it("a feed's kind changed between the decision and the lock: the batch decides again with the kind in force", async () => {
      // Only the 政务 accounts' posts are watched; the feed is news until an administrator
      // reclassifies it — without the grouping lock — while the batch waits for its lock.
      await db.db.execute(sql`update monitoring_rules set enabled = false where id = 'mr_feeds'`);
      const at = new Date(T0);
      await db.db
        .insert(monitoringRules)
        .values({ id: 'mr_gov', name: '政务账号', expression: '', sources: ['feed:gov'], createdBy: 'test', createdAt: at, updatedAt: at });
      await db.db.insert(feeds).values({ id: 'feed_reclassified', url: 'https://example.gov.cn/rss', name: '城东发布', kind: 'news' });
      try {
        const engine = gatedEngine();
        await handleSignals(engine.deps, [await store(db.db, { title: water[0]!, feedId: 'feed_reclassified' })]);
        const gate = engine.hold(3);
        const pending = Promise.all([
          handleSignals(engine.deps, [await store(db.db, { title: water[1]! })]),
          handleSignals(engine.deps, [await store(db.db, { title: crack[0]!, feedId: 'feed_reclassified' })]),
        ]);
        await gate.reached;
        await db.db.execute(sql`update feeds set kind = 'gov' where id = 'feed_reclassified'`);
        const before = { ...decidedAheadStats };
        gate.open();
        const [, [reclassified]] = await pending;
        expect(reclassified).toMatchObject({ created: true, decision: 'opened' });
        expect(await signalRow(reclassified!.signalId)).toMatchObject({ rule_id: 'mr_gov' });
        expect(decidedAheadStats.discarded - before.discarded).toBe(1);
      } finally {
        await db.db.execute(sql`delete from feeds where id = 'feed_reclassified'`);
      }
    });

    it('a batch failing before its lock takes back what it decided ahead: no signal stays a candidate of an incident it never joined', async () => {
      const engine = gatedEngine();
      const [crackIncident] = await handleSignals(engine.deps, [await store(db.db, { title: crack[0]! })]);
      // The third transaction decides ahead — its signal joins the crack incident — and then
      // fails before it locks (as a lost connection would), the kept candidates still current.
      engine.fail(3, 'start');
      const [a, b] = await Promise.allSettled([
        handleSignals(engine.deps, [await store(db.db, { title: water[0]! })]),
        handleSignals(engine.deps, [await store(db.db, { title: crack[1]! })]),
      ]);
      expect(a.status).toBe('fulfilled');
      expect(b.status).toBe('rejected');
      // Like the failed signal, unlike the crack incident's own: had the failed one stayed a
      // candidate of that incident, this one would join it.
      const [next] = await handleSignals(engine.deps, [await store(db.db, { title: '市交通局已派员到现场检测 高架桥' })]);
      expect(next).toMatchObject({ created: true, decision: 'opened' });
      expect(next!.incidentId).not.toBe(crackIncident!.incidentId);
      expect((await stateOf(crackIncident!.incidentId!)).signalCount).toBe(1);
    });

    it('deciding ahead throwing half-way takes back what it had decided: no signal stays a candidate of an incident it never joined', async () => {
      const engine = gatedEngine();
      const [crackIncident] = await handleSignals(engine.deps, [await store(db.db, { title: crack[0]! })]);
      // The second batch decides ahead: its first signal joins the crack incident, then deciding
      // its second throws (a fault; deciding does no I/O). The batch then fails before its lock.
      const joining = await store(db.db, { title: crack[1]! });
      const throwing = await store(db.db, { title: water[0]! });
      const decide = CandidatePool.prototype.decide;
      const spy = vi.spyOn(CandidatePool.prototype, 'decide').mockImplementation(function (this: CandidatePool, f) {
        if (f.id === throwing.id) throw new Error('deciding failed on purpose');
        return decide.call(this, f);
      });
      engine.fail(2, 'start');
      try {
        await expect(handleSignals(engine.deps, [joining, throwing])).rejects.toThrow(/refused on purpose/);
        // Deciding reached the failing signal, after the joining one had joined the crack incident
        // (were it to open one of its own instead, a leftover candidate would name an incident
        // never written, which the lock's check drops anyway, and this test would prove nothing).
        expect(spy.mock.calls.map(([f]) => f.id)).toEqual([joining.id, throwing.id]);
        expect(spy.mock.results[0]).toMatchObject({ type: 'return', value: { kind: 'join', incidentId: crackIncident!.incidentId } });
      } finally {
        spy.mockRestore();
      }
      // Like the joining signal, unlike the crack incident's own: had it stayed a candidate of that
      // incident, this one would join it.
      const [next] = await handleSignals(engine.deps, [await store(db.db, { title: '市交通局已派员到现场检测 高架桥' })]);
      expect(next).toMatchObject({ created: true, decision: 'opened' });
      expect((await stateOf(crackIncident!.incidentId!)).signalCount).toBe(1);
    });
  });
});
