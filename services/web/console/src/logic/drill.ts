/**
 * 下钻: from any figure of the statistics page to the deadlines (or incidents) behind it. Each
 * figure of a row (a unit, a level, a clock kind, a month, or the totals) maps to the items
 * endpoint's filters, so that the list has exactly as many entries as the figure counts
 * (stats.integration.test.ts checks the server side of that promise). Pure, so unit-tested.
 */
import type { StatsDimension, StatsFilter, StatsOutcome, StatsRow } from '../api/stats.ts';

export type Figure = 'counted' | 'onTime' | 'late' | 'breached' | 'pending' | 'overdue' | 'firstResponse';

export interface Drill {
  title: string;
  /** Laid over the page's period (a month row replaces it). */
  filter: StatsFilter;
  /** Empty: every outcome. */
  outcome: StatsOutcome[];
  /** The incidents behind the first-response figure, one row each. */
  firstResponse: boolean;
  /** What the figure says: the drill-down's total. */
  count: number;
}

const FIGURES: Record<Figure, { label: string; outcome: StatsOutcome[]; count: (r: StatsRow) => number }> = {
  counted: { label: '到期事项', outcome: ['on_time', 'late', 'breached'], count: (r) => r.counted },
  onTime: { label: '按时回应', outcome: ['on_time'], count: (r) => r.onTime },
  late: { label: '逾期回应', outcome: ['late'], count: (r) => r.late },
  breached: { label: '超时未回应', outcome: ['breached'], count: (r) => r.breached },
  pending: { label: '未到期', outcome: ['pending'], count: (r) => r.pending },
  overdue: { label: '超时事项（逾期回应与超时未回应）', outcome: ['late', 'breached'], count: (r) => r.overdue.count },
  firstResponse: { label: '首次权威回应的事件', outcome: [], count: (r) => r.firstResponse.incidents },
};

/** The filter that selects one row of a breakdown. */
export function rowFilter(by: StatsDimension | 'all', row: StatsRow): StatsFilter {
  switch (by) {
    case 'all':
      return {};
    // The trend spans twelve months: a month replaces the page's period.
    case 'month':
      return { from: undefined, to: undefined, month: row.key ?? undefined };
    case 'unit':
      return { unit: row.key ?? 'none' };
    // Working-day duties have no level: their row has none.
    case 'level':
      return row.key === null ? { source: 'duty' } : { level: row.key };
    case 'kind':
      return row.key === null ? {} : { kind: row.key };
  }
}

export function drillOf(by: StatsDimension | 'all', row: StatsRow, figure: Figure): Drill {
  const f = FIGURES[figure];
  return {
    title: by === 'all' ? f.label : `${row.label} · ${f.label}`,
    filter: rowFilter(by, row),
    outcome: f.outcome,
    firstResponse: figure === 'firstResponse',
    count: f.count(row),
  };
}

/** A chart's series: the rate (what fell due) or the overdue count. */
export function chartFigure(seriesIndex: number | undefined): Figure {
  return seriesIndex === 1 ? 'overdue' : 'counted';
}
