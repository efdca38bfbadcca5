/**
 * Jurisdictions on the signal path (real PostgreSQL): a signal is matched against its own
 * jurisdiction's monitoring rules and grouped only with signals of its jurisdiction — two
 * jurisdictions' signals with identical text or the same link never share an incident, in one
 * batch, across batches, or with two engines at once; merging and promoting lock the right one.
 */
import type { SignalMessage } from '@huiying/bus';
import { FakeClock } from '@huiying/clock';
import { type Db, monitoringRules, openPostgres, rowsOf, signals, sql } from '@huiying/db';
import { DEFAULT_RULE_PACK } from '@huiying/domain';
import { freshDatabase } from '@huiying/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mergeIncidents, splitIncident } from '../src/merge.ts';
import { handleSignals, promoteSignal } from '../src/signals.ts';
import type { EngineDeps } from '../src/store.ts';

const T0 = Date.parse('2026-09-30T20:00:00+08:00');
let db: Awaited<ReturnType<typeof freshDatabase>>;
let deps: EngineDeps;
let n = 0;

const TEXT = '网传城东高架桥桥面出现多处裂缝，车辆经过有明显震动';

/** Store a signal as ingest does (text and jurisdiction in the row); the bus message names it only. */
async function store(
  target: Db,
  jurisdiction: string,
  s: { title: string; url?: string; source?: 'feed' | 'hotline' },
): Promise<SignalMessage> {
  const id = `sig_j${++n}`;
  const source = s.source ?? 'feed';
  await target.insert(signals).values({
    id,
    source,
    sourceRef: id,
    title: s.title,
    url: s.url ?? null,
    publishedAt: new Date(T0),
    receivedAt: new Date(T0),
    jurisdiction,
  });
  return {
    v: 1,
    type: 'signal',
    id,
    source,
    sourceRef: id,
    publishedAt: new Date(T0).toISOString(),
    receivedAt: new Date(T0).toISOString(),
  };
}

const row = async (id: string) =>
  rowsOf<{ incident_id: string | null; decision: string; decision_reason: string; rule_id: string | null }>(
    await db.db.execute(sql`select incident_id, decision, decision_reason, rule_id from signals where id = ${id}`),
  )[0]!;
const incidentCount = async () => rowsOf<{ n: number }>(await db.db.execute(sql`select count(*)::int as n from incidents`))[0]!.n;

beforeAll(async () => {
  db = await freshDatabase();
  deps = { db: db.db, clock: new FakeClock(T0), pack: () => DEFAULT_RULE_PACK };
});
afterAll(async () => db?.drop());
beforeEach(async () => {
  await db.db.execute(sql`truncate signals, incidents, incident_wakes, clocks, alerts, outbox, monitoring_rules`);
  const at = new Date(T0);
  const rule = (id: string, jurisdiction: string, expression: string) => ({
    id,
    name: id,
    jurisdiction,
    expression,
    sources: ['feed', 'hotline'],
    createdBy: 'test',
    createdAt: at,
    updatedAt: at,
  });
  await db.db
    .insert(monitoringRules)
    .values([rule('mr_default', 'default', '高架桥 OR 裂缝'), rule('mr_east', 'east', '高架桥 OR 裂缝'), rule('mr_west', 'west', '停水')]);
});

describe('jurisdictions on the signal path', () => {
  it('identical text in two jurisdictions opens two incidents, each joined only by its own jurisdiction’s signals', async () => {
    const d1 = await store(db.db, 'default', { title: TEXT });
    const e1 = await store(db.db, 'east', { title: TEXT });
    // One batch holding both jurisdictions.
    const [rd, re] = await handleSignals(deps, [d1, e1]);
    expect(rd).toMatchObject({ created: true, decision: 'opened' });
    expect(re).toMatchObject({ created: true, decision: 'opened' });
    expect(re!.incidentId).not.toBe(rd!.incidentId);
    expect(await row(d1.id)).toMatchObject({ rule_id: 'mr_default', decision_reason: 'new_matter' });
    expect(await row(e1.id)).toMatchObject({ rule_id: 'mr_east', decision_reason: 'new_matter' });

    // Later batches: the same text again in each joins its own jurisdiction's incident.
    const e2 = await store(db.db, 'east', { title: TEXT });
    const d2 = await store(db.db, 'default', { title: TEXT });
    const [re2] = await handleSignals(deps, [e2]);
    const [rd2] = await handleSignals(deps, [d2]);
    expect(re2).toMatchObject({ incidentId: re!.incidentId, decision: 'joined' });
    expect(rd2).toMatchObject({ incidentId: rd!.incidentId, decision: 'joined' });
    expect(await incidentCount()).toBe(2);
  });

  it('a shared link does not join across jurisdictions', async () => {
    const url = 'https://news.example.com/2026/09/30/bridge.html?utm_source=x';
    const [ra] = await handleSignals(deps, [await store(db.db, 'default', { title: '高架桥裂缝', url })]);
    const [rb] = await handleSignals(deps, [await store(db.db, 'east', { title: '高架桥：市交通局回应', url })]);
    expect(rb).toMatchObject({ created: true, decision: 'opened' });
    expect(rb!.incidentId).not.toBe(ra!.incidentId);
  });

  it('a signal is matched against its own jurisdiction’s rules only', async () => {
    // west watches 停水 only: the bridge is not its matter; and a jurisdiction without rules matches nothing.
    const w = await store(db.db, 'west', { title: TEXT });
    const x = await store(db.db, 'north', { title: TEXT });
    const [rw, rx] = await handleSignals(deps, [w, x]);
    expect(rw).toMatchObject({ incidentId: null, decision: 'unmatched' });
    expect(rx).toMatchObject({ incidentId: null, decision: 'unmatched' });
    expect(await row(w.id)).toMatchObject({ decision_reason: 'no_rule', rule_id: null });
    const [rw2] = await handleSignals(deps, [await store(db.db, 'west', { title: '幸福小区停水近一天' })]);
    expect(rw2).toMatchObject({ created: true, decision: 'opened' });
    expect((await row(rw2!.signalId)).rule_id).toBe('mr_west');
    // 人工立案 of the unmatched west signal opens its own incident, and a later east signal does not join it.
    const { incidentId } = await promoteSignal(deps, w.id, 'duty:test');
    const [re] = await handleSignals(deps, [await store(db.db, 'east', { title: TEXT })]);
    expect(re).toMatchObject({ created: true, decision: 'opened' });
    expect(re!.incidentId).not.toBe(incidentId);
  });

  it('two engines at once, each batch spanning both jurisdictions in a different order: no deadlock, one incident per jurisdiction', async () => {
    const other = openPostgres(db.url, { max: 2 });
    try {
      const depsB: EngineDeps = { db: other.db, clock: new FakeClock(T0), pack: () => DEFAULT_RULE_PACK };
      const a = [await store(db.db, 'east', { title: TEXT }), await store(db.db, 'default', { title: TEXT })];
      const b = [await store(db.db, 'default', { title: TEXT }), await store(db.db, 'east', { title: TEXT })];
      const [ra, rb] = await Promise.all([handleSignals(deps, a), handleSignals(depsB, b)]);
      expect(await incidentCount()).toBe(2);
      expect(rb[0]!.incidentId).toBe(ra[1]!.incidentId);
      expect(rb[1]!.incidentId).toBe(ra[0]!.incidentId);
      expect(ra[0]!.incidentId).not.toBe(ra[1]!.incidentId);
    } finally {
      await other.close();
    }
  });

  it('a duty officer may still merge incidents of two jurisdictions (both locked)', async () => {
    const [ra, rb] = await handleSignals(deps, [
      await store(db.db, 'default', { title: TEXT }),
      await store(db.db, 'east', { title: TEXT }),
    ]);
    expect(await mergeIncidents(deps, ra!.incidentId!, [rb!.incidentId!], 'duty:test')).toEqual({ moved: 1 });
  });

  it('a split opens its incident in the jurisdiction of its first signal (its clocks take that ladder)', async () => {
    const [first, second] = await handleSignals(deps, [
      await store(db.db, 'east', { title: TEXT }),
      await store(db.db, 'east', { title: `${TEXT}，附近居民担心安全` }),
    ]);
    expect(second!.incidentId).toBe(first!.incidentId);
    const { incidentId } = await splitIncident(deps, first!.incidentId!, [second!.signalId], 'user:duty');
    const [state] = rowsOf<{ j: string | null }>(
      await db.db.execute(sql`select state->>'jurisdiction' as j from incidents where id = ${incidentId}`),
    );
    expect(state!.j).toBe('east');
  });
});
