import { describe, expect, it } from 'vitest';
import type { StatsRow } from '../console/src/api/stats.ts';
import { chartFigure, drillOf, type Figure, rowFilter } from '../console/src/logic/drill.ts';

const row = (key: string | null, label: string): StatsRow => ({
  key,
  label,
  counted: 11,
  onTime: 5,
  late: 3,
  breached: 3,
  pending: 1,
  retracted: 1,
  onTimeRate: 5 / 11,
  overdue: { count: 6, totalMs: 0, maxMs: 1, medianMs: 1 },
  firstResponse: { incidents: 4, medianMs: 1, p90Ms: 1 },
});

describe('drill-down from a figure (下钻)', () => {
  it.each<[Figure, string[], boolean, number]>([
    ['counted', ['on_time', 'late', 'breached'], false, 11],
    ['onTime', ['on_time'], false, 5],
    ['late', ['late'], false, 3],
    ['breached', ['breached'], false, 3],
    ['pending', ['pending'], false, 1],
    ['overdue', ['late', 'breached'], false, 6],
    ['firstResponse', [], true, 4],
  ])('%s asks for outcomes %j (first responses: %s) and expects the figure, %i', (figure, outcome, first, count) => {
    const d = drillOf('unit', row('env', '市生态环境局'), figure);
    expect(d).toMatchObject({ outcome, firstResponse: first, count, filter: { unit: 'env' } });
    expect(d.title.startsWith('市生态环境局 · ')).toBe(true);
  });

  it.each([
    ['all', row('all', '合计'), {}],
    ['unit', row(null, '未指定责任单位'), { unit: 'none' }],
    ['level', row('III', '较大'), { level: 'III' }],
    ['level', row('ungraded', '待研判'), { level: 'ungraded' }],
    // Working-day duties have no level.
    ['level', row(null, '工作日时限事项'), { source: 'duty' }],
    ['kind', row('release', '权威信息发布'), { kind: 'release' }],
    // A month of the trend replaces the page's period.
    ['month', row('2026-05', '2026年5月'), { from: undefined, to: undefined, month: '2026-05' }],
  ] as const)('a %s row %o filters %o', (by, r, filter) => {
    expect(rowFilter(by, r)).toEqual(filter);
  });

  it('the totals have no row name in the title', () => {
    expect(drillOf('all', row('all', '合计'), 'pending').title).toBe('未到期');
  });

  it("a chart's rate series drills to what fell due, its overdue bars to the late and breached", () => {
    expect(chartFigure(0)).toBe('counted');
    expect(chartFigure(undefined)).toBe('counted');
    expect(chartFigure(1)).toBe('overdue');
  });
});
