/**
 * 监测方案 and intake over HTTP on the real PostgreSQL: administrators write rules (a bad
 * expression is a 400 naming where it went wrong), every change is audited; an unmatched
 * ticket is stored and searchable (duty officers see its text, units see none of the
 * unmatched), a duty officer promotes it (人工立案); grouped signals show why on the timeline.
 */
import { FakeClock } from '@huiying/clock';
import { auditLog, eq } from '@huiying/db';
import { eventually, freshDatabase, type SessionClient } from '@huiying/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedHarness, startEmbedded } from '../../standalone/test/embedded-harness.ts';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-09-07T09:00:00+08:00');
const clock = new FakeClock(T0);
let db: Awaited<ReturnType<typeof freshDatabase>>;
let env: EmbeddedHarness;
let admin: SessionClient;
let duty: SessionClient;

interface SignalItem {
  id: string;
  title: string | null;
  content: string | null;
  incidentId: string | null;
  decision: string | null;
  decisionReason: string | null;
}

const search = async (who: SessionClient, query: string) =>
  (await who.inject({ method: 'GET', url: `/api/signals?${query}` })).json<{ items: SignalItem[]; total: number }>();

const ticket = (id: string, content: string, extra: Record<string, string> = {}) =>
  duty.inject({
    method: 'POST',
    url: '/api/tickets',
    payload: { id, receivedAt: new Date(clock.now() - HOUR).toISOString(), content, ...extra },
  });

beforeAll(async () => {
  db = await freshDatabase();
  env = await startEmbedded({ clock, handle: db, units: [{ id: 'housing', name: '市住房和城乡建设局', email: 'zjj@example.test' }] });
  admin = await env.as('admin');
  duty = await env.as('duty');
});
afterAll(async () => {
  await env?.stop();
  await db?.drop();
});

describe('monitoring rules over HTTP', () => {
  it('refuses a bad expression with its position, and stores nothing', async () => {
    const res = await admin.inject({
      method: 'POST',
      url: '/api/admin/monitoring-rules',
      payload: { name: '坏规则', expression: '(供水 OR 停水' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'HY_VALIDATION' });
    expect(res.json().message).toMatch(/body\/expression: .*"\)" expected.*character 10/);
    const list = (await admin.inject({ method: 'GET', url: '/api/admin/monitoring-rules' })).json<{ items: { name: string }[] }>();
    expect(list.items.map((r) => r.name)).toEqual(['12345 热线工单（全部）']);
  });

  it('creates, changes and deletes a rule, each audited with the administrator as actor', async () => {
    const created = await admin.inject({
      method: 'POST',
      url: '/api/admin/monitoring-rules',
      payload: { name: '城建', expression: '桥 OR 裂缝', sources: ['feed:news'] },
    });
    expect(created.statusCode).toBe(201);
    const id = created.json<{ id: string }>().id;
    expect(created.json()).toMatchObject({
      name: '城建',
      expression: '桥 OR 裂缝',
      sources: ['feed:news'],
      enabled: true,
      createdBy: 'user:admin',
    });
    const patched = await admin.inject({
      method: 'PATCH',
      url: `/api/admin/monitoring-rules/${id}`,
      payload: { expression: '桥 AND NOT' },
    });
    expect(patched.statusCode).toBe(400);
    expect(
      (await admin.inject({ method: 'PATCH', url: `/api/admin/monitoring-rules/${id}`, payload: { areas: ['城东区'] } })).json(),
    ).toMatchObject({
      areas: ['城东区'],
    });
    expect((await duty.inject({ method: 'GET', url: '/api/admin/monitoring-rules' })).statusCode).toBe(200);
    expect((await admin.inject({ method: 'DELETE', url: `/api/admin/monitoring-rules/${id}` })).statusCode).toBe(204);
    expect((await admin.inject({ method: 'DELETE', url: `/api/admin/monitoring-rules/${id}` })).statusCode).toBe(404);
    const trail = await db.db.select().from(auditLog).where(eq(auditLog.entityId, id));
    expect(trail.map((a) => [a.action, a.actor])).toEqual([
      ['monitoring_rule.created', 'user:admin'],
      ['monitoring_rule.updated', 'user:admin'],
      ['monitoring_rule.deleted', 'user:admin'],
    ]);
  });
});

describe('unmatched signals, promotion and the grouping on the timeline', () => {
  it('stores an unmatched ticket, finds it by text, and lets a duty officer promote it', async () => {
    // Narrow the hotline rule to complaints: a 咨询 ticket now matches nothing.
    expect(
      (await admin.inject({ method: 'PATCH', url: '/api/admin/monitoring-rules/mr_hotline_all', payload: { categories: ['投诉'] } }))
        .statusCode,
    ).toBe(200);
    expect(
      (await ticket('U-1', '咨询城北区学区划分调整，阳光花园小区以后还能上第一小学吗？联系电话13812345678', { category: '咨询' }))
        .statusCode,
    ).toBe(201);
    const found = await eventually(async () => (await search(duty, 'matched=false&q=阳光花园')).items[0], 'the unmatched ticket');
    expect(found).toMatchObject({ incidentId: null, decision: 'unmatched', decisionReason: 'no_rule' });
    expect(found.content).toContain('阳光花园');
    // Leaders search titles but never read the citizen's text; units see no unmatched signal at all.
    expect((await search(await env.as('leader'), 'matched=false')).items.every((s) => s.content === null)).toBe(true);
    expect(await search(await env.as('unit-housing'), 'matched=false')).toMatchObject({ items: [], total: 0 });

    const promoted = await duty.inject({ method: 'POST', url: `/api/signals/${found.id}/promote`, payload: { note: '家长集中关注' } });
    expect(promoted.statusCode).toBe(201);
    const incident = promoted.json<{ id: string; startAt: string; clocks: { kind: string; dueAt: string }[] }>();
    // replay.md: the start is the signal's own (receive) time, not the moment it was promoted.
    expect(incident.startAt).toBe(new Date(T0 - HOUR).toISOString());
    expect(incident.clocks[0]).toMatchObject({ kind: 'response', dueAt: new Date(T0 + 47 * HOUR).toISOString() });
    expect((await duty.inject({ method: 'POST', url: `/api/signals/${found.id}/promote`, payload: {} })).statusCode).toBe(409);
    expect((await duty.inject({ method: 'POST', url: '/api/signals/sig_nope/promote', payload: {} })).statusCode).toBe(404);
    expect((await search(duty, 'matched=false&q=阳光花园')).total).toBe(0);
    const timeline = (await duty.inject({ method: 'GET', url: `/api/incidents/${incident.id}/timeline` })).json<{
      signals: { id: string; grouping: { decision: string; reason: string } }[];
      audit: { action: string; actor: string }[];
    }>();
    expect(timeline.signals).toMatchObject([{ id: found.id, grouping: { decision: 'promoted', reason: 'manual: 家长集中关注' } }]);
    expect(timeline.audit.some((a) => a.action === 'signal.promoted' && a.actor === 'user:duty')).toBe(true);
  });

  it('groups a burst of tickets on one matter into one incident, and the timeline says why', async () => {
    const texts = [
      '幸福小区从昨天晚上开始停水，到现在还没来水，物业说不清楚原因，请相关部门尽快处理。',
      '城东区幸福小区停水快一天了，家里老人孩子没法做饭洗漱，希望自来水公司尽快恢复供水。',
      '幸福小区全小区停水，已经超过20小时，要求尽快恢复供水并说明原因。',
    ];
    for (const [i, t] of texts.entries()) expect((await ticket(`N-${i}`, t, { category: '投诉', area: '城东区' })).statusCode).toBe(201);
    const items = await eventually(async () => {
      const r = await search(duty, 'matched=true&q=幸福小区');
      return r.total === 3 ? r.items : undefined;
    }, 'three grouped tickets');
    expect(new Set(items.map((s) => s.incidentId)).size).toBe(1);
    const timeline = (await duty.inject({ method: 'GET', url: `/api/incidents/${items[0]!.incidentId}/timeline` })).json<{
      signals: { grouping: { decision: string; reason: string; ruleName: string | null; score: number | null; via: string | null } }[];
    }>();
    const decisions = timeline.signals.map((s) => s.grouping);
    expect(decisions.filter((d) => d.decision === 'opened')).toHaveLength(1);
    expect(decisions.filter((d) => d.decision === 'joined')).toHaveLength(2);
    for (const d of decisions.filter((x) => x.decision === 'joined')) {
      expect(['ticket_matter', 'similar_text']).toContain(d.reason);
      expect(d.score).toBeGreaterThan(0);
      expect(d.via).not.toBeNull();
    }
    expect(decisions.every((d) => d.ruleName === '12345 热线工单（全部）')).toBe(true);
  });
});
