/**
 * The leaders' statistics' vocabulary: the kinds, levels, outcomes and dimensions, their
 * Chinese labels, and the shapes of a figure row (StatsRow) and of a deadline behind it
 * (StatsItem). What is counted and how: facts.ts.
 */
export const INCIDENT_KINDS = ['response', 'release', 'press_conference'] as const;
export const DUTY_KINDS = [
  'policy_interpretation',
  'service_change',
  'proposal_reply',
  'penalty_disclosure',
  'disclosure_request',
] as const;
export const LEVELS = ['I', 'II', 'III', 'IV', 'ungraded'] as const;
export const OUTCOMES = ['on_time', 'late', 'breached', 'pending'] as const;
export const DIMENSIONS = ['unit', 'level', 'kind', 'month'] as const;

export type StatsKind = (typeof INCIDENT_KINDS)[number] | (typeof DUTY_KINDS)[number];
export type StatsLevel = (typeof LEVELS)[number];
export type Outcome = (typeof OUTCOMES)[number];
export type Dimension = (typeof DIMENSIONS)[number];

/** Who is asking: a unit user sees its own unit only; leader, duty and admin see everything. */
export interface StatsScope {
  unitId?: string;
}

export interface StatsFilter {
  /** Exclusive lower bound on the due instant. */
  from?: Date;
  /** Inclusive upper bound on the due instant. */
  to?: Date;
  unit?: string;
  level?: StatsLevel;
  kind?: StatsKind;
  source?: 'incident' | 'duty';
}

export const LEVEL_LABEL: Record<StatsLevel, string> = {
  I: '特别重大（Ⅰ级）',
  II: '重大（Ⅱ级）',
  III: '较大（Ⅲ级）',
  IV: '一般（Ⅳ级）',
  ungraded: '待研判',
};

export const KIND_LABEL: Record<StatsKind, string> = {
  response: '权威回应（48小时）',
  release: '权威信息发布（5小时）',
  press_conference: '新闻发布会（24小时）',
  policy_interpretation: '政策解读（3个工作日）',
  service_change: '服务事项变更公开（1个工作日）',
  proposal_reply: '建议提案复文公开（10个工作日）',
  penalty_disclosure: '行政处罚结果公开（20个工作日）',
  disclosure_request: '依申请公开答复（20个工作日）',
};

export const OUTCOME_LABEL: Record<Outcome, string> = { on_time: '按时', late: '超时回应', breached: '超时未回应', pending: '未到期' };

export const NO_UNIT_LABEL = '未指定责任单位';

export interface StatsRow {
  /** Unit id, level (or 'ungraded'), kind, or 'YYYY-MM'; null = no unit; 'all' for totals. */
  key: string | null;
  label: string;
  /** on_time + late + breached: the deadlines that fell due. */
  counted: number;
  onTime: number;
  late: number;
  breached: number;
  pending: number;
  /** On-time clocks whose breach was retracted (the response turned out to predate the due). */
  retracted: number;
  /** onTime / counted, null when nothing fell due. */
  onTimeRate: number | null;
  /** Over late + breached: late = respondedAt − due, breached = now − due. */
  overdue: { count: number; totalMs: number; maxMs: number | null; medianMs: number | null };
  /** Incidents only: earliest qualifying response − incident start. */
  firstResponse: { incidents: number; medianMs: number | null; p90Ms: number | null };
}

export interface StatsItem {
  source: 'incident' | 'duty';
  /** Incident id or duty id. */
  id: string;
  seq: number;
  title: string;
  kind: string;
  level: string | null;
  unit: { id: string; name: string } | null;
  startAt: string;
  dueAt: string;
  respondedAt: string | null;
  outcome: Outcome;
  overdueMs: number | null;
  retracted: boolean;
}

export function monthLabel(month: string): string {
  const [y, m] = month.split('-');
  return `${y}年${Number(m)}月`;
}
