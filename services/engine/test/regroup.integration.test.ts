/**
 * Duty officers' merge and split on the real PostgreSQL: a merge moves signals, the occurrence
 * time and responses to the target (its start becomes the earliest, a response already published
 * meets its clock) and closes the merged incident; a split opens a new incident from the chosen
 * signals, whose clock starts at the earliest of them.
 */
import type { SignalMessage } from '@huiying/bus';
import { FakeClock } from '@huiying/clock';
import { responses, rowsOf, signals, sql } from '@huiying/db';
import { DEFAULT_RULE_PACK, type IncidentState } from '@huiying/domain';
import { freshDatabase } from '@huiying/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mergeIncidents, RegroupRefused, splitIncident } from '../src/merge.ts';
import { handleSignals } from '../src/signals.ts';
import { applyCommand, type EngineDeps } from '../src/store.ts';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-09-30T20:00:00+08:00');
let db: Awaited<ReturnType<typeof freshDatabase>>;
let deps: EngineDeps;
let n = 0;

/** A ticket stored as ingest stores it, then handled; returns its incident. */
async function ticket(content: string, publishedAt: number): Promise<{ id: string; incidentId: string }> {
  const id = `sig_r${++n}`;
  await db.db.insert(signals).values({
    id,
    source: 'hotline',
    sourceRef: id,
    title: content.slice(0, 40),
    content,
    publishedAt: new Date(publishedAt),
    receivedAt: new Date(T0),
  });
  const msg: SignalMessage = { v: 1, type: 'signal', id, source: 'hotline', sourceRef: id, receivedAt: new Date(T0).toISOString() };
  const [o] = await handleSignals(deps, [msg]);
  return { id, incidentId: o!.incidentId! };
}
const stateOf = async (id: string) =>
  rowsOf<{ state: IncidentState }>(await db.db.execute(sql`select state from incidents where id = ${id}`))[0]!.state;

beforeAll(async () => {
  db = await freshDatabase();
  deps = { db: db.db, clock: new FakeClock(T0), pack: () => DEFAULT_RULE_PACK };
});
afterAll(async () => db?.drop());

describe('merge', () => {
  it('moves signals, the earlier start and a published response to the target, and closes the merged incident', async () => {
    const a = await ticket('城东区幸福小区停水快一天了，家里老人孩子没法做饭洗漱', T0);
    const b = await ticket('反映供水管道爆裂，整栋楼没有水', T0 - 5 * HOUR);
    expect(b.incidentId).not.toBe(a.incidentId);
    // A reply already published on the other incident.
    await applyCommand(
      deps,
      b.incidentId,
      { type: 'response', at: T0, incident: b.incidentId, kind: 'reply', original: true, publishedAt: T0 - HOUR },
      'user:duty',
      (tx) =>
        tx
          .insert(responses)
          .values({
            id: 'resp-b',
            incidentId: b.incidentId,
            kind: 'reply',
            original: true,
            publishedAt: new Date(T0 - HOUR),
            recordedAt: new Date(T0),
          })
          .then(() => undefined),
    );
    const { moved } = await mergeIncidents(deps, a.incidentId, [b.incidentId], 'user:duty');
    expect(moved).toBe(1);
    const target = await stateOf(a.incidentId);
    expect(target.startAt).toBe(T0 - 5 * HOUR);
    expect(target.signalCount).toBe(2);
    expect(target.clocks[0]).toMatchObject({ kind: 'response', state: 'met', dueAt: T0 + 43 * HOUR, respondedAt: T0 - HOUR });
    const merged = await stateOf(b.incidentId);
    expect(merged).toMatchObject({ status: 'closed', closeReason: `merged into ${a.incidentId}` });
    const row = rowsOf<{ incident_id: string; decision: string; decision_via: string }>(
      await db.db.execute(sql`select incident_id, decision, decision_via from signals where id = ${b.id}`),
    )[0];
    expect(row).toEqual({ incident_id: a.incidentId, decision: 'merged', decision_via: b.incidentId });
    expect(
      rowsOf<{ incident_id: string }>(await db.db.execute(sql`select incident_id from responses where id = 'resp-b'`))[0]!.incident_id,
    ).toBe(a.incidentId);
    const audit = rowsOf<{ entity_id: string; actor: string }>(
      await db.db.execute(sql`select entity_id, actor from audit_log where action = 'incident.merged' order by entity_id`),
    );
    expect(audit.map((x) => x.entity_id).sort()).toEqual([a.incidentId, b.incidentId].sort());
    expect(audit.every((x) => x.actor === 'user:duty')).toBe(true);
    // A closed incident is merged no more; nor is an incident into itself.
    await expect(mergeIncidents(deps, a.incidentId, [b.incidentId], 'user:duty')).rejects.toBeInstanceOf(RegroupRefused);
    await expect(mergeIncidents(deps, a.incidentId, [a.incidentId], 'user:duty')).rejects.toBeInstanceOf(RegroupRefused);
  });
});

describe('split', () => {
  it('opens a new incident from the chosen signals, its clock from the earliest of them', async () => {
    const a = await ticket('西山要建垃圾焚烧厂，离我们村不到两公里，担心污染，坚决反对选址。', T0 - 2 * HOUR);
    const c = await ticket('市图书馆周末开放时间太短，建议延长到晚上九点。', T0 - 3 * HOUR);
    await mergeIncidents(deps, a.incidentId, [c.incidentId], 'user:duty');
    const before = await stateOf(a.incidentId);
    expect(before.startAt).toBe(T0 - 3 * HOUR);
    await expect(splitIncident(deps, a.incidentId, [a.id, c.id], 'user:duty')).rejects.toThrow(/at least one signal must stay/);
    await expect(splitIncident(deps, a.incidentId, ['sig_nope'], 'user:duty')).rejects.toBeInstanceOf(RegroupRefused);
    const { incidentId } = await splitIncident(deps, a.incidentId, [c.id], 'user:duty');
    const split = await stateOf(incidentId);
    expect(split).toMatchObject({ status: 'open', startAt: T0 - 3 * HOUR, signalCount: 1 });
    expect(split.clocks[0]).toMatchObject({ kind: 'response', dueAt: T0 + 45 * HOUR });
    // The original keeps its clocks (a start never moves later).
    expect((await stateOf(a.incidentId)).clocks).toEqual(before.clocks);
    const row = rowsOf<{ incident_id: string; decision: string; decision_via: string }>(
      await db.db.execute(sql`select incident_id, decision, decision_via from signals where id = ${c.id}`),
    )[0];
    expect(row).toEqual({ incident_id: incidentId, decision: 'split', decision_via: a.incidentId });
  });
});
