/**
 * Duty officers' merge and split on the real PostgreSQL: a merge moves signals, the occurrence
 * time and responses to the target (its start becomes the earliest, a response already published
 * meets its clock) and closes the merged incident; a split opens a new incident from the chosen
 * signals, whose clock starts at the earliest of them, and rebuilds the original from what remains
 * (its start is its earliest remaining signal; a breach whose new due is ahead is withdrawn).
 */
import type { SignalMessage } from '@huiying/bus';
import { FakeClock } from '@huiying/clock';
import { clockKey, notifications, responses, rowsOf, signals, sql } from '@huiying/db';
import { DEFAULT_RULE_PACK, type IncidentState, nextIncidentWake } from '@huiying/domain';
import { freshDatabase } from '@huiying/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mergeIncidents, RegroupRefused, splitIncident } from '../src/merge.ts';
import { handleSignals } from '../src/signals.ts';
import { applyCommand, type EngineDeps } from '../src/store.ts';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-09-30T20:00:00+08:00');
let db: Awaited<ReturnType<typeof freshDatabase>>;
let deps: EngineDeps;
const clock = new FakeClock(T0);
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
  deps = { db: db.db, clock, pack: () => DEFAULT_RULE_PACK };
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
    // The original's start is now its earliest remaining signal: its running clock moves later.
    const after = await stateOf(a.incidentId);
    expect(after).toMatchObject({ startAt: T0 - 2 * HOUR, signalCount: 1 });
    expect(after.clocks[0]).toMatchObject({ kind: 'response', state: 'running', dueAt: T0 + 46 * HOUR });
    const rescheduled = rowsOf<{ result: { due: string } }>(
      await db.db.execute(
        sql`select result from audit_log where entity_id = ${a.incidentId} and action = 'clock.rescheduled' and input ->> 'type' = 'split'`,
      ),
    );
    expect(rescheduled.map((r) => Date.parse(r.result.due))).toEqual([T0 + 46 * HOUR]);
    const splitAudit = rowsOf<{ entity_id: string; result: Record<string, string> }>(
      await db.db.execute(sql`select entity_id, result from audit_log where action = 'incident.split' order by id`),
    );
    expect(splitAudit.find((r) => r.entity_id === a.incidentId)!.result).toEqual({
      startBefore: new Date(T0 - 3 * HOUR).toISOString(),
      startAt: new Date(T0 - 2 * HOUR).toISOString(),
    });
    expect(splitAudit.find((r) => r.entity_id === incidentId)!.result).toEqual({ startAt: new Date(T0 - 3 * HOUR).toISOString() });
    const row = rowsOf<{ incident_id: string; decision: string; decision_via: string }>(
      await db.db.execute(sql`select incident_id, decision, decision_via from signals where id = ${c.id}`),
    )[0];
    expect(row).toEqual({ incident_id: incidentId, decision: 'split', decision_via: a.incidentId });
  });

  it('withdraws a breach raised only because of the signals split out, and cancels its queued steps', async () => {
    // An old report merged into a fresh one makes the fresh one's clocks breach at once.
    const old = await ticket('河东街道菜市场油烟扰民多年，多次反映无人处理。', T0 - 50 * HOUR);
    const fresh = await ticket('光华路施工噪音半夜不停，影响休息。', T0 - HOUR);
    await applyCommand(deps, fresh.incidentId, { type: 'assign', at: T0, incident: fresh.incidentId, unit: 'unit-x' }, 'user:duty');
    await mergeIncidents(deps, fresh.incidentId, [old.incidentId], 'user:duty');
    await applyCommand(deps, fresh.incidentId, { type: 'grade', at: T0, incident: fresh.incidentId, level: 'I' }, 'user:duty');
    const merged = await stateOf(fresh.incidentId);
    expect(merged.startAt).toBe(T0 - 50 * HOUR);
    expect(merged.clocks.map((c) => [c.kind, c.state])).toEqual([
      ['response', 'breached'],
      ['release', 'breached'],
      ['press_conference', 'breached'],
    ]);
    const release = merged.clocks[1]!;
    // What the ladder had queued for the breached release clock.
    await db.db.insert(notifications).values({
      id: 'ntf-split-1',
      clockKey: clockKey({ incidentId: fresh.incidentId, clockSeq: release.seq }),
      step: 'urge#1',
      stepKind: 'urge',
      role: 'unit',
      recipient: 'x@example.test',
      channel: 'email',
      groupKey: fresh.incidentId,
      incidentId: fresh.incidentId,
      subject: 's',
      text: 't',
      createdAt: new Date(T0),
    });
    const breaches = async () =>
      rowsOf<{ clock: string; due_at: string; retracted_at: string | null }>(
        await db.db.execute(
          sql`select clock, due_at, retracted_at from alerts where incident_id = ${fresh.incidentId} and kind = 'breached' order by clock`,
        ),
      );
    expect((await breaches()).map((b) => b.retracted_at)).toEqual([null, null, null]);

    await clock.advanceBy(60_000);
    const split = await splitIncident(deps, fresh.incidentId, [old.id], 'user:duty');
    const after = await stateOf(fresh.incidentId);
    expect(after).toMatchObject({ startAt: T0 - HOUR, level: 'I', unit: 'unit-x', signalCount: 1, status: 'open' });
    expect(after.clocks.map((c) => [c.kind, c.state, c.dueAt])).toEqual([
      // Without the old report the upgrade would have superseded it before its due.
      ['response', 'cancelled', merged.clocks[0]!.dueAt],
      ['release', 'running', T0 + 4 * HOUR],
      ['press_conference', 'running', T0 + 23 * HOUR],
    ]);
    // Every breach alert withdrawn, audited; the queued step cancelled, audited.
    expect((await breaches()).map((b) => [b.clock, b.retracted_at === null])).toEqual([
      ['press_conference', false],
      ['release', false],
      ['response', false],
    ]);
    const audited = rowsOf<{ action: string }>(
      await db.db.execute(
        sql`select action from audit_log where (entity_id = ${fresh.incidentId} and action = 'clock.breach_retracted')
          or (entity = 'clock' and entity_id = ${clockKey({ incidentId: fresh.incidentId, clockSeq: release.seq })})`,
      ),
    );
    expect(audited.map((r) => r.action).sort()).toEqual([
      'clock.breach_retracted',
      'clock.breach_retracted',
      'clock.breach_retracted',
      'notification.cancelled',
    ]);
    const ntf = rowsOf<{ status: string }>(await db.db.execute(sql`select status from notifications where id = 'ntf-split-1'`))[0];
    expect(ntf!.status).toBe('cancelled');
    // Warnings re-armed on the new due: release's 50 % point (start + 2.5 h) is next.
    expect(nextIncidentWake(after)).toBe(T0 - HOUR + 2.5 * HOUR);
    // The old report's own incident starts at its signal, and is breached from the start.
    const own = await stateOf(split.incidentId);
    expect(own).toMatchObject({ startAt: T0 - 50 * HOUR, signalCount: 1 });
    expect(own.clocks[0]).toMatchObject({ kind: 'response', state: 'breached', dueAt: T0 - 2 * HOUR });
  });

  it('keeps the occurrence time recorded on the original when its earlier signals leave', async () => {
    const p = await ticket('滨江公园夜间灯光全部熄灭，散步很危险。', T0 - HOUR);
    const q = await ticket('二中门口早高峰拥堵严重，孩子上学经常迟到。', T0 - 6 * HOUR);
    await applyCommand(
      deps,
      p.incidentId,
      { type: 'occurred', at: deps.clock.now(), incident: p.incidentId, occurredAt: T0 - 3 * HOUR },
      'user:duty',
    );
    await mergeIncidents(deps, p.incidentId, [q.incidentId], 'user:duty');
    expect((await stateOf(p.incidentId)).startAt).toBe(T0 - 6 * HOUR);
    await splitIncident(deps, p.incidentId, [q.id], 'user:duty');
    const after = await stateOf(p.incidentId);
    expect(after.startAt).toBe(T0 - 3 * HOUR);
    expect(after.clocks[0]).toMatchObject({ kind: 'response', state: 'running', dueAt: T0 + 45 * HOUR });
  });
});
