import { describe, expect, it } from 'vitest';
import type { Timeline } from '../console/src/api/identity.ts';
import { auditDescription, buildTimeline, commandLabel, groupingLabel } from '../console/src/logic/timeline.ts';

const at = (h: number) => new Date(Date.parse('2026-06-01T10:00:00+08:00') + h * 3_600_000).toISOString();

const t: Timeline = {
  incident: {
    id: 'inc-1',
    title: '外墙脱落',
    level: 'II',
    unit: { id: 'housing', name: '市住房和城乡建设局' },
    status: 'open',
    startAt: at(0),
    updatedAt: at(7),
    clocks: [
      { seq: 1, kind: 'release', state: 'met', startAt: at(1), dueAt: at(6), respondedAt: at(7), late: true },
      { seq: 2, kind: 'press_conference', state: 'running', startAt: at(1), dueAt: at(25), respondedAt: null, late: null },
    ],
  },
  signals: [
    {
      id: 's1',
      source: 'hotline',
      title: '市民来电',
      content: null,
      url: null,
      area: null,
      category: null,
      feedId: null,
      publishedAt: at(0),
      receivedAt: at(0.1),
      grouping: {
        decision: 'opened',
        reason: 'new_matter',
        ruleId: 'mr_hotline_all',
        ruleName: '12345 热线工单（全部）',
        score: null,
        via: null,
        decidedAt: at(0.1),
      },
    },
  ],
  responses: [
    {
      id: 'r1',
      kind: 'release',
      original: false,
      qualifies: false,
      unitId: 'housing',
      publishedAt: at(2),
      recordedAt: at(2),
      channel: '政务微博',
      url: 'https://x.test/1',
      recordedBy: 'unit-housing',
    },
    {
      id: 'r2',
      kind: 'release',
      original: true,
      qualifies: true,
      unitId: 'housing',
      publishedAt: at(7),
      recordedAt: at(7),
      channel: null,
      url: null,
      recordedBy: 'unit-housing',
    },
  ],
  alerts: [
    {
      id: 'a1',
      kind: 'breached',
      clock: 'release',
      dueAt: at(6),
      elapsed: null,
      at: at(6),
      acknowledgedAt: null,
      acknowledgedBy: null,
      incidentId: 'inc-1',
      obligationId: null,
      incidentTitle: '外墙脱落',
      retractedAt: null,
      unitId: 'housing',
    },
  ],
  mails: [
    {
      id: 'm1',
      to: 'zjj@example.test',
      subject: '督办：外墙脱落',
      status: 'sent',
      attempts: 1,
      messageId: null,
      lastError: null,
      createdAt: at(6),
      sentAt: at(6.01),
    },
  ],
  // As GET /api/incidents/:id/timeline sends them (api.embedded.test.ts checks the server side): the
  // actions incident-writer.ts writes, each with the commands behind it.
  audit: [
    ...(['clock.started', 'incident.created'] as const).map((action, i) => ({
      id: 7 + i,
      at: at(0.1),
      actor: 'signal:hotline',
      action,
      entity: 'incident',
      entityId: 'inc-1',
      clock: action === 'clock.started' ? 'response' : null,
      commands: [
        { type: 'signal', level: null, unit: null },
        { type: 'assign', level: null, unit: { id: 'housing', name: '市住房和城乡建设局' } },
      ],
    })),
    ...(
      [
        ['clock.cancelled', 'response'],
        ['clock.started', 'release'],
        ['clock.started', 'press_conference'],
      ] as const
    ).map(([action, clock], i) => ({
      id: 12 + i,
      at: at(1),
      actor: 'user:duty',
      action,
      entity: 'incident',
      entityId: 'inc-1',
      clock,
      commands: [{ type: 'grade', level: 'II', unit: null }],
    })),
    {
      id: 20,
      at: at(3.5),
      actor: 'timer',
      action: 'clock.warning',
      entity: 'incident',
      entityId: 'inc-1',
      clock: 'release',
      commands: [{ type: 'timer', level: null, unit: null }],
    },
    {
      id: 21,
      at: at(4),
      actor: 'user:duty',
      action: 'incident.updated',
      entity: 'incident',
      entityId: 'inc-1',
      clock: null,
      commands: [{ type: 'assign', level: null, unit: { id: 'environment', name: '市生态环境局' } }],
    },
    {
      id: 22,
      at: at(7),
      actor: 'user:unit-housing',
      action: 'response.recorded',
      entity: 'response',
      entityId: 'r2',
      clock: null,
      commands: [],
    },
  ],
};

describe('the incident timeline', () => {
  const entries = buildTimeline(t);

  it('is in time order and covers every kind of record', () => {
    const times = entries.map((e) => e.at);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    expect(new Set(entries.map((e) => e.kind))).toEqual(new Set(['signal', 'clock', 'response', 'alert', 'mail', 'audit']));
  });

  it('says which responses qualified and which clocks were met late', () => {
    const titles = entries.map((e) => e.title);
    expect(titles).toContain('转载回应：发布（不计为权威回应）');
    expect(titles).toContain('原创回应：发布');
    expect(titles).toContain('逾期回应：权威信息发布 5小时');
    expect(entries.find((e) => e.title.startsWith('逾期回应'))?.detail).toBe('超时 01:00:00');
    expect(titles.filter((t) => t.startsWith('起算'))).toHaveLength(2);
    expect(titles).toContain('线索（12345 热线）');
  });

  it('tells a grading and an assignment once each, with the level and the unit, and names every action', () => {
    const titles = entries.map((e) => e.title);
    // Three audit rows came of the one grading.
    expect(titles.filter((x) => x === '定级：重大（II级）')).toHaveLength(1);
    expect(titles).toContain('交办：市住房和城乡建设局');
    expect(titles).toContain('交办：市生态环境局');
    expect(entries.find((e) => e.title === '定级：重大（II级）')).toMatchObject({ kind: 'audit', detail: 'duty', at: Date.parse(at(1)) });
    expect(titles).toContain('操作：时限预警 · 权威信息发布 5小时');
    expect(titles).toContain('操作：时限取消 · 权威回应 48小时');
    expect(titles).toContain('操作：登记回应');
    // The assignment's own row says nothing the 交办 entry does not.
    expect(titles).not.toContain('操作：更新事件');
    expect(titles.filter((x) => /[a-z]+\.[a-z_]+/.test(x))).toEqual([]);
  });

  it('describes each audit row with its clock and the command behind it', () => {
    expect(t.audit.map(auditDescription)).toEqual([
      '时限起算 · 权威回应 48小时（交办：市住房和城乡建设局）',
      '生成事件（交办：市住房和城乡建设局）',
      '时限取消 · 权威回应 48小时（定级：重大（II级））',
      '时限起算 · 权威信息发布 5小时（定级：重大（II级））',
      '时限起算 · 新闻发布会 24小时（定级：重大（II级））',
      '时限预警 · 权威信息发布 5小时',
      '交办：市生态环境局',
      '登记回应',
    ]);
    expect(commandLabel({ type: 'grade', level: 'III', unit: { id: 'housing', name: '市住房和城乡建设局' } })).toBe(
      '定级：较大（III级），交办 市住房和城乡建设局',
    );
    expect(commandLabel({ type: 'dismiss', level: null, unit: null })).toBe('排除（结案）');
  });

  it('tolerates missing lists and fields', () => {
    const bare = { incident: t.incident } as unknown as Timeline;
    expect(buildTimeline(bare).length).toBe(3);
  });
});

describe('groupingLabel (归并依据)', () => {
  const g = (o: Partial<Parameters<typeof groupingLabel>[0] & object>) => ({
    decision: null,
    reason: null,
    ruleId: null,
    ruleName: null,
    score: null,
    via: null,
    decidedAt: null,
    ...o,
  });
  it.each([
    [g({}), '—'],
    [g({ decision: 'opened', reason: 'new_matter', ruleName: '城建' }), '新建事件：命中监测方案「城建」'],
    [
      g({ decision: 'opened', reason: 'new_matter', ruleName: '城建', via: 's9', score: 0.123 }),
      '新建事件：命中监测方案「城建」；最接近的线索 s9，相似度 0.12，未达归并阈值',
    ],
    [g({ decision: 'joined', reason: 'link', ruleName: '城建', via: 's1', score: 1 }), '归并：链接相同（与线索 s1）；命中监测方案「城建」'],
    [
      g({ decision: 'joined', reason: 'similar_text', ruleId: 'mr_x', via: 's1', score: 0.456 }),
      '归并：文本相似，相似度 0.46（与线索 s1）；命中监测方案 mr_x',
    ],
    [
      g({ decision: 'joined', reason: 'ticket_matter', via: 's2', score: 0.2 }),
      '归并：同类别同区域工单（集中反映），相似度 0.20（与线索 s2）',
    ],
    [g({ decision: 'promoted', reason: 'manual: 家长关注' }), '人工立案：家长关注'],
    [g({ decision: 'promoted', reason: 'manual' }), '人工立案'],
    [g({ decision: 'attached', reason: 'manual' }), '人工补充'],
    [g({ decision: 'merged', reason: 'merged', via: 'inc_b' }), '合并自事件 inc_b'],
    [g({ decision: 'split', reason: 'split', via: 'inc_a' }), '拆分自事件 inc_a'],
  ])('%o → %s', (input, expected) => expect(groupingLabel(input)).toBe(expected));

  it('puts the reason under the signal on the timeline', () => {
    const entry = buildTimeline(t).find((e) => e.kind === 'signal')!;
    expect(entry.detail).toBe('市民来电\n新建事件：命中监测方案「12345 热线工单（全部）」');
  });
});
