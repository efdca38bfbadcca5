/**
 * The duty board's filters and the role rules of the console, as pure functions: the
 * components only bind them. Every function takes `now` where time matters.
 */
import type { Role } from '../api/identity.ts';
import type { Incident, IncidentQuery, Level } from '../api/types.ts';
import { nearestDue, urgency, worseUrgency, type Urgency } from './logic.ts';

export interface BoardFilter {
  /** Matches the title or the incident id, case-insensitively (the server's text search; the unit has its own filter). */
  text: string;
  /** Empty: all. 'ungraded' is 待研判. */
  levels: (Level | 'ungraded')[];
  /** Unit id; 'unassigned' is 未指派; '' is all. */
  unit: string;
  /** Empty: all. */
  urgencies: Urgency[];
}

export const EMPTY_FILTER: BoardFilter = { text: '', levels: [], unit: '', urgencies: [] };

const LEVEL_KEYS: readonly string[] = ['I', 'II', 'III', 'IV', 'ungraded'];
const URGENCY_KEYS: readonly string[] = ['breached', 'danger', 'warn', 'calm'];

type RouteQuery = Record<string, string | null | (string | null)[] | undefined>;
const first = (v: RouteQuery[string]): string => (Array.isArray(v) ? (v[0] ?? '') : (v ?? '')) || '';
const list = (v: RouteQuery[string]): string[] =>
  first(v)
    .split(',')
    .filter((x) => x !== '');

/** The board's filter in its address (#/board?q=…&level=I,II&unit=…&urgency=…): a link or a reload keeps it. */
export function filterFromQuery(q: RouteQuery): BoardFilter {
  return {
    text: first(q.q),
    levels: list(q.level).filter((l) => LEVEL_KEYS.includes(l)) as BoardFilter['levels'],
    unit: first(q.unit),
    urgencies: list(q.urgency).filter((u) => URGENCY_KEYS.includes(u)) as Urgency[],
  };
}

export function filterToQuery(f: BoardFilter): Record<string, string> {
  const q: Record<string, string> = {};
  if (f.text !== '') q.q = f.text;
  if (f.levels.length > 0) q.level = f.levels.join(',');
  if (f.unit !== '') q.unit = f.unit;
  if (f.urgencies.length > 0) q.urgency = f.urgencies.join(',');
  return q;
}

/** The colour of a card: its most urgent clock ('done' when nothing is counting). */
export function incidentUrgency(incident: Pick<Incident, 'clocks'>, nowMs: number): Urgency {
  let worst: Urgency = 'done';
  for (const c of incident.clocks) worst = worseUrgency(worst, urgency(c, nowMs));
  return worst;
}

export function matchesFilter(incident: Incident, f: BoardFilter, nowMs: number): boolean {
  const text = f.text.trim();
  if (text !== '' && !matchesText(incident, text) && !incident.id.toLowerCase().includes(text.toLowerCase())) return false;
  if (f.levels.length > 0 && !f.levels.includes(incident.level ?? 'ungraded')) return false;
  if (f.unit === 'unassigned' ? incident.unit !== null : f.unit !== '' && incident.unit?.id !== f.unit) return false;
  if (f.urgencies.length > 0 && !f.urgencies.includes(incidentUrgency(incident, nowMs))) return false;
  return true;
}

export function filterIncidents(incidents: readonly Incident[], f: BoardFilter, nowMs: number): Incident[] {
  return incidents.filter((i) => matchesFilter(i, f, nowMs));
}

/**
 * What of the board's filter the server applies (GET /api/incidents): level, unit (or 未指派), text
 * (title, unit name or id) and the 已超时 urgency, so that a filter finds incidents beyond the board's
 * page. The list takes one level, so several levels are one query each. The time-relative urgencies
 * (临近截止, 过半, 正常) stay on the page only: they change with the clock, not the record.
 */
export type { IncidentQuery };

export function serverQueries(f: BoardFilter): IncidentQuery[] {
  const base: IncidentQuery = {};
  const text = f.text.trim();
  if (text !== '') base.q = text;
  if (f.unit === 'unassigned') base.unassigned = true;
  else if (f.unit !== '') base.unit = f.unit;
  if (f.urgencies.length === 1 && f.urgencies[0] === 'breached') base.state = 'breached';
  if (f.levels.length === 0) return [base];
  return [...new Set(f.levels)].map((level) => ({ ...base, level }));
}

/**
 * Whether an incident is one of those the queries ask for (the server's rule, for the stream's
 * events: one outside the filtered view must not join it, one that now falls inside must).
 */
export function matchesQueries(incident: Incident, queries: readonly IncidentQuery[]): boolean {
  return queries.some((q) => {
    if (q.level !== undefined && (incident.level ?? 'ungraded') !== q.level) return false;
    if (q.unit !== undefined && incident.unit?.id !== q.unit) return false;
    if (q.unassigned === true && incident.unit !== null) return false;
    if (q.q !== undefined && !matchesText(incident, q.q)) return false;
    if (q.state !== undefined && !incident.clocks.some((c) => c.state === q.state)) return false;
    return true;
  });
}

/** The server's text filter: the title or the unit's name contains it (case-insensitive), or it is the id. */
function matchesText(incident: Incident, text: string): boolean {
  const t = text.toLowerCase();
  return (incident.title ?? '').toLowerCase().includes(t) || (incident.unit?.name ?? '').toLowerCase().includes(t) || incident.id === text;
}

/** How long the most overdue pending clock is past due, in ms; 0 when nothing is overdue. */
export function overdueMs(incident: Pick<Incident, 'clocks'>, nowMs: number): number {
  const due = nearestDue(incident);
  return Number.isFinite(due) && nowMs >= due ? nowMs - due : 0;
}

/** Counts for the board header. */
export function boardSummary(incidents: readonly Incident[], nowMs: number): { breached: number; danger: number; ungraded: number } {
  let breached = 0;
  let danger = 0;
  let ungraded = 0;
  for (const i of incidents) {
    const u = incidentUrgency(i, nowMs);
    if (u === 'breached') breached += 1;
    else if (u === 'danger') danger += 1;
    if (i.level === null) ungraded += 1;
  }
  return { breached, danger, ungraded };
}

// ---------------------------------------------------------------------------------------
// Roles

export const ROLE_LABEL: Record<Role, string> = {
  duty: '值班员',
  unit: '责任单位',
  leader: '领导',
  admin: '管理员',
};

/** Where each role lands after log-in. */
export function homeOf(role: Role): string {
  switch (role) {
    case 'duty':
      return '/board';
    case 'unit':
      return '/unit';
    case 'leader':
      return '/stats';
    case 'admin':
      return '/admin/units';
  }
}

/** Who may open which page. The server enforces the same per record; this only hides what would 403. */
export const PAGE_ROLES = {
  board: ['duty', 'admin'],
  wall: ['duty', 'leader', 'admin'],
  incident: ['duty', 'unit', 'leader', 'admin'],
  unit: ['unit'],
  stats: ['duty', 'leader', 'admin'],
  admin: ['admin'],
  hotline: ['duty', 'admin'],
  /** 线索研判: stored signals and 人工立案 (promoting is the duty officer's). */
  intake: ['duty', 'leader', 'admin'],
  /** 信息源管理: administrators change feeds; duty officers and leaders read them. */
  feeds: ['duty', 'leader', 'admin'],
  /** 候选回应: the duty officer decides. */
  candidates: ['duty', 'admin'],
  /** 值班表: administrators keep it; duty officers and leaders read it. */
  roster: ['duty', 'leader', 'admin'],
} as const satisfies Record<string, readonly Role[]>;

export type Page = keyof typeof PAGE_ROLES;

export function mayOpen(role: Role, page: Page): boolean {
  return (PAGE_ROLES[page] as readonly Role[]).includes(role);
}

/**
 * Whether the role may change incidents (grade, assign, respond, dismiss, acknowledge) on the board
 * and the incident page: the duty officer's work. The server refuses an administrator (403), so an
 * administrator is shown no button that would only fail.
 */
export function mayAct(role: Role): boolean {
  return role === 'duty';
}

// ---------------------------------------------------------------------------------------
// Statistics formatting

/** 0.9234 → '92.3%'; null → '—'. */
export function formatRate(rate: number | null | undefined): string {
  if (rate === null || rate === undefined || !Number.isFinite(rate)) return '—';
  return `${(Math.round(rate * 1000) / 10).toFixed(1)}%`;
}

/** 125 → '2小时5分'; 3000 → '2天2小时'; null → '—'. */
export function formatMinutes(minutes: number | null | undefined): string {
  if (minutes === null || minutes === undefined || !Number.isFinite(minutes)) return '—';
  const m = Math.max(0, Math.round(minutes));
  const d = Math.floor(m / 1440);
  const h = Math.floor((m % 1440) / 60);
  const mm = m % 60;
  if (d > 0) return h > 0 ? `${d}天${h}小时` : `${d}天`;
  if (h > 0) return mm > 0 ? `${h}小时${mm}分` : `${h}小时`;
  return `${mm}分`;
}

/** The Beijing calendar day of an instant, 'YYYY-MM-DD'. */
export function cstDay(ms: number): string {
  const d = new Date(ms + 8 * 3_600_000);
  return d.toISOString().slice(0, 10);
}

/** A default statistics period: the first of this month to today (Beijing days). */
export function monthToDate(nowMs: number): { from: string; to: string } {
  const today = cstDay(nowMs);
  return { from: `${today.slice(0, 8)}01`, to: today };
}

/**
 * The periods the 通报/约谈 candidates can be asked for, newest first: this quarter and the three
 * before it, then this month and the two before it (Asia/Shanghai), as the API's keys and labels.
 */
export function candidatePeriods(nowMs: number): { key: string; label: string }[] {
  const [y, m] = cstDay(nowMs).split('-').map(Number) as [number, number];
  const out: { key: string; label: string }[] = [];
  for (let i = 0, q = Math.floor((m - 1) / 3), year = y; i < 4; i++) {
    out.push({ key: `${year}-Q${q + 1}`, label: `${year}年第${'一二三四'[q]}季度` });
    if (--q < 0) [q, year] = [3, year - 1];
  }
  for (let i = 0, mm = m, year = y; i < 3; i++) {
    out.push({ key: `${year}-${String(mm).padStart(2, '0')}`, label: `${year}年${mm}月` });
    if (--mm < 1) [mm, year] = [12, year - 1];
  }
  return out;
}
