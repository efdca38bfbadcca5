/**
 * Pure display logic of the board: labels, urgency, countdowns, simulated time, ordering.
 * No DOM and no ambient clock here — every function takes `now` — so it is unit-tested
 * under Node and shared by the browser bundle.
 */
import type {
  Alert,
  AlertKind,
  Clock,
  ClockKind,
  ClockState,
  Incident,
  Level,
  Obligation,
  ObligationState,
  ResponseKind,
  SuspendReason,
} from '../api/types.ts';

// ---------------------------------------------------------------------------------------
// Labels

export const LEVELS: readonly Level[] = ['I', 'II', 'III', 'IV'];

const LEVEL_LABEL: Record<Level, string> = {
  I: '特别重大 I',
  II: '重大 II',
  III: '较大 III',
  IV: '一般 IV',
};

export function levelLabel(level: Level | null): string {
  return level === null ? '待研判' : LEVEL_LABEL[level];
}

const CLOCK_LABEL: Record<ClockKind, string> = {
  response: '权威回应 48小时',
  release: '权威信息发布 5小时',
  press_conference: '新闻发布会 24小时',
};

/** Working-day disclosure duties (工作日时限事项) raise alerts too. */
const OBLIGATION_LABEL: Record<string, string> = {
  policy_interpretation: '政策解读 3个工作日',
  service_change: '服务变更公开 1个工作日',
  proposal_reply: '建议提案复文 10个工作日',
  penalty_disclosure: '处罚结果公开 20个工作日',
  disclosure_request: '依申请公开答复 20个工作日',
};

/** Alerts carry the clock kind as a plain string; an unknown kind is shown as sent. */
export function clockLabel(kind: string | null): string {
  if (kind === null) return '—';
  if (Object.hasOwn(CLOCK_LABEL, kind)) return CLOCK_LABEL[kind as ClockKind];
  return Object.hasOwn(OBLIGATION_LABEL, kind) ? OBLIGATION_LABEL[kind]! : kind;
}

const CLOCK_STATE_LABEL: Record<ClockState, string> = {
  running: '进行中',
  met: '已回应',
  breached: '已超时',
  cancelled: '已取消',
  waived: '已豁免',
};

export function clockStateLabel(state: ClockState): string {
  return CLOCK_STATE_LABEL[state];
}

export const RESPONSE_KINDS: readonly ResponseKind[] = ['release', 'press_conference', 'reply'];

const RESPONSE_KIND_LABEL: Record<ResponseKind, string> = {
  release: '发布',
  press_conference: '新闻发布会',
  reply: '答复',
};

export function responseKindLabel(kind: ResponseKind): string {
  return RESPONSE_KIND_LABEL[kind];
}

const DELIVERY_FAILED_PREFIX = 'delivery_failed:';

/** The notification a `delivery_failed` alert is about (the alert's id carries it); null for other alerts. */
export function failedNotificationOf(alert: Pick<Alert, 'id' | 'kind'>): string | null {
  if (alert.kind !== 'delivery_failed' || !alert.id.startsWith(DELIVERY_FAILED_PREFIX)) return null;
  return alert.id.slice(DELIVERY_FAILED_PREFIX.length) || null;
}

export function alertKindLabel(alert: Pick<Alert, 'kind' | 'elapsed'>): string {
  const kind: AlertKind = alert.kind;
  switch (kind) {
    case 'warning':
      return alert.elapsed === null ? '预警' : `预警 ${Math.round(alert.elapsed * 100)}%`;
    case 'breached':
      return '超时';
    case 'nonqualifying_response':
      return '内容敷衍';
    case 'calendar_missing':
      return '日历缺失';
    case 'engine_error':
      return '记录异常';
    case 'feed_failing':
      return '信息源故障';
    case 'channel_silent':
      return '官方渠道未更新';
    case 'delivery_failed':
      return '投递失败';
    default:
      // The server may add kinds before this page learns them: show the raw kind, don't break.
      return String(kind satisfies never);
  }
}

// ---------------------------------------------------------------------------------------
// Urgency

export type Urgency = 'calm' | 'warn' | 'danger' | 'breached' | 'done';

/** The same points at which the engine warns by default (replay.md: 50 % and 80 %). */
export const WARN_AT = 0.5;
export const DANGER_AT = 0.8;

/** Fraction of the span [start, due] elapsed at `now`; ≥ 1 once due. */
export function elapsedFraction(startMs: number, dueMs: number, nowMs: number): number {
  const span = dueMs - startMs;
  if (span <= 0) return nowMs >= dueMs ? 1 : 0;
  return (nowMs - startMs) / span;
}

export function urgency(clock: Pick<Clock, 'state' | 'startAt' | 'dueAt'>, nowMs: number): Urgency {
  const state: ClockState = clock.state;
  switch (state) {
    case 'met':
    case 'cancelled':
    case 'waived':
      return 'done';
    case 'breached':
      return 'breached';
    case 'running': {
      const due = Date.parse(clock.dueAt);
      // A timer due at T fires at T (replay.md "Ties"), so the due instant itself is breached.
      if (nowMs >= due) return 'breached';
      const f = elapsedFraction(Date.parse(clock.startAt), due, nowMs);
      if (f >= DANGER_AT) return 'danger';
      if (f >= WARN_AT) return 'warn';
      return 'calm';
    }
    default:
      return assertNever(state);
  }
}

const URGENCY_RANK: Record<Urgency, number> = { done: 0, calm: 1, warn: 2, danger: 3, breached: 4 };

/** The more urgent of two; a card takes the colour of its most urgent clock. */
export function worseUrgency(a: Urgency, b: Urgency): Urgency {
  return URGENCY_RANK[b] > URGENCY_RANK[a] ? b : a;
}

// ---------------------------------------------------------------------------------------
// Durations and instants

const SECOND = 1000;
const DAY_S = 86_400;

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** Whole seconds as `HH:MM:SS`, or `N天 HH:MM:SS` from 24 h on. Negative input gets a `-`. */
export function formatDuration(totalSeconds: number): string {
  const sign = totalSeconds < 0 ? '-' : '';
  let s = Math.abs(Math.trunc(totalSeconds));
  const days = Math.floor(s / DAY_S);
  s -= days * DAY_S;
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  const hms = `${pad2(hh)}:${pad2(mm)}:${pad2(ss)}`;
  return days > 0 ? `${sign}${days}天 ${hms}` : `${sign}${hms}`;
}

/**
 * `剩余 …` while time is left, `已超时 …` from the due instant on. Remaining time is rounded
 * up and overdue time down, so the display reads 00:00:00 exactly at due and never shows
 * "剩余 00:00:00" for a clock that has not yet breached.
 */
export function formatCountdown(remainingMs: number): string {
  if (remainingMs > 0) return `剩余 ${formatDuration(Math.ceil(remainingMs / SECOND))}`;
  return `已超时 ${formatDuration(Math.floor(-remainingMs / SECOND))}`;
}

/** The text in a clock's countdown cell. */
export function clockCountdownText(clock: Pick<Clock, 'state' | 'dueAt' | 'respondedAt' | 'late'>, nowMs: number): string {
  const due = Date.parse(clock.dueAt);
  switch (clock.state) {
    case 'running':
      return formatCountdown(due - nowMs);
    case 'breached':
      // Breached but not yet met: keep counting how late it is.
      return formatCountdown(Math.min(0, due - nowMs));
    case 'met': {
      if (clock.respondedAt === null) return '已回应';
      const at = formatInstant(Date.parse(clock.respondedAt));
      return clock.late === true ? `逾期回应 ${at}` : `回应于 ${at}`;
    }
    case 'cancelled':
    case 'waived':
      // The state column already says which; nothing is counting any more.
      return '—';
    default:
      return assertNever(clock.state);
  }
}

/**
 * Wall time in China. Asia/Shanghai has had no DST since 1991, so a fixed +08:00 keeps this
 * pure and cheap enough to run for every clock on every tick.
 */
const CST_OFFSET_MS = 8 * 3600 * SECOND;

function cstParts(ms: number) {
  const d = new Date(ms + CST_OFFSET_MS);
  return {
    y: d.getUTCFullYear(),
    mo: pad2(d.getUTCMonth() + 1),
    d: pad2(d.getUTCDate()),
    h: pad2(d.getUTCHours()),
    mi: pad2(d.getUTCMinutes()),
    s: pad2(d.getUTCSeconds()),
  };
}

/** `MM-DD HH:mm` (Beijing time) — dense enough for due times in a list. */
export function formatInstant(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  const p = cstParts(ms);
  return `${p.mo}-${p.d} ${p.h}:${p.mi}`;
}

/** `YYYY-MM-DD HH:mm:ss` (Beijing time) — the header's system clock. */
export function formatFullInstant(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  const p = cstParts(ms);
  return `${p.y}-${p.mo}-${p.d} ${p.h}:${p.mi}:${p.s}`;
}

/** Value for `<input type="datetime-local">`, in Beijing time whatever the browser's zone. */
export function toCstLocalInput(ms: number): string {
  const p = cstParts(ms);
  return `${p.y}-${p.mo}-${p.d}T${p.h}:${p.mi}`;
}

/** Reads a `datetime-local` value as Beijing time; null when empty or malformed. */
export function cstLocalInputToIso(value: string): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value.trim());
  if (m === null) return null;
  const ms = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6] ?? '00'}+08:00`);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

// ---------------------------------------------------------------------------------------
// Simulated time

/** One reading of GET /api/time, pinned to the local monotonic clock. */
export interface TimeSync {
  serverMs: number;
  /** `performance.now()` at which `serverMs` was true. */
  perfAt: number;
  scale: number;
}

export function simulatedNow(sync: TimeSync, perfNow: number): number {
  return sync.serverMs + (perfNow - sync.perfAt) * sync.scale;
}

/** The drill badge, or null at real speed. */
export function scaleBadge(scale: number): string | null {
  if (scale === 1) return null;
  const n = Number.isInteger(scale) ? String(scale) : String(Number(scale.toFixed(2)));
  return `演练 ×${n}`;
}

// ---------------------------------------------------------------------------------------
// Ordering

/** Clocks still owed a response: running, or breached and not yet met late. */
export function isPending(clock: Pick<Clock, 'state'>): boolean {
  return clock.state === 'running' || clock.state === 'breached';
}

/** The nearest due among pending clocks; +∞ when nothing is owed. */
export function nearestDue(incident: Pick<Incident, 'clocks'>): number {
  let best = Number.POSITIVE_INFINITY;
  for (const c of incident.clocks) {
    if (isPending(c)) best = Math.min(best, Date.parse(c.dueAt));
  }
  return best;
}

/** Nearest pending due first (overdue ones lead); then the older incident; then by id. */
export function compareIncidents(a: Incident, b: Incident): number {
  const da = nearestDue(a);
  const db = nearestDue(b);
  if (da !== db) return da < db ? -1 : 1;
  const sa = Date.parse(a.startAt);
  const sb = Date.parse(b.startAt);
  if (sa !== sb) return sa - sb;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Newest alert first. */
export function compareAlerts(a: Alert, b: Alert): number {
  const ta = Date.parse(a.at);
  const tb = Date.parse(b.at);
  if (ta !== tb) return tb - ta;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

// ---------------------------------------------------------------------------------------
// Working-day duties (工作日时限事项)

const WEEKDAY_LABEL = ['周日', '周一', '周二', '周三', '周四', '周五', '周六'] as const;

/** `'2025-10-11'` → `'周六'`; null for anything that is not a real calendar day. */
export function weekdayLabel(day: string): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (m === null) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  // Date.UTC rolls 2025-02-30 over into March: such a day does not exist.
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) return null;
  return WEEKDAY_LABEL[date.getUTCDay()] ?? null;
}

/** The Beijing day a duty's due instant closes (dueAt is 24:00, i.e. the next day's 00:00). */
export function dueDayOf(dueAtMs: number): string | null {
  if (!Number.isFinite(dueAtMs)) return null;
  const p = cstParts(dueAtMs - 1);
  return `${p.y}-${p.mo}-${p.d}`;
}

/** A due date with its weekday — a 调休 Saturday must not be misread as a weekend slip. */
export function formatDueDate(day: string): string {
  const w = weekdayLabel(day);
  return w === null ? day : `${day} ${w}`;
}

const SUSPEND_REASON_LABEL: Record<SuspendReason, string> = {
  correction: '补正',
  third_party: '征求第三方意见',
};

export function suspendReasonLabel(reason: string): string {
  return Object.hasOwn(SUSPEND_REASON_LABEL, reason) ? SUSPEND_REASON_LABEL[reason as SuspendReason] : reason;
}

type DutyCore = Pick<Obligation, 'kind' | 'state' | 'issuedAt' | 'dueAt' | 'suspended' | 'respondedAt' | 'late' | 'extended'>;

/** Still owed a reply: running, or breached and not yet met late (办结 still allowed). */
export function isDutyOwed(d: Pick<Obligation, 'state'>): boolean {
  return d.state === 'running' || d.state === 'breached';
}

/** The count stands still (补正 / 征求第三方意见). A duty met while suspended is just met. */
export function isDutySuspended(d: Pick<Obligation, 'state' | 'suspended'>): boolean {
  return d.state === 'running' && d.suspended !== null;
}

export type DutyUrgency = Urgency | 'paused';

/** Colour of a duty row: like a clock from issuedAt to dueAt, except that a suspended count is paused. */
export function dutyUrgency(d: Pick<Obligation, 'state' | 'issuedAt' | 'dueAt' | 'suspended'>, nowMs: number): DutyUrgency {
  switch (d.state) {
    case 'met':
      return 'done';
    case 'breached':
      return 'breached';
    case 'running':
      if (d.suspended !== null) return 'paused';
      return urgency({ state: 'running', startAt: d.issuedAt, dueAt: d.dueAt }, nowMs);
    default:
      // A state this board does not know: neutral, never "on time".
      return 'done';
  }
}

const DUTY_STATE_LABEL: Record<ObligationState, string> = {
  running: '进行中',
  met: '已办结',
  breached: '已超时',
};

/** The state badge; a reply after the due is 逾期办结. */
export function dutyStateLabel(d: Pick<Obligation, 'state' | 'late'>): string {
  if (d.state === 'met' && d.late === true) return '逾期办结';
  return Object.hasOwn(DUTY_STATE_LABEL, d.state) ? DUTY_STATE_LABEL[d.state as ObligationState] : d.state;
}

/** The countdown cell. No countdown while suspended: the frozen due is not running. Once met,
 * when (the state badge already says whether that was late). */
export function dutyCountdownText(d: Pick<Obligation, 'state' | 'dueAt' | 'suspended' | 'respondedAt' | 'late'>, nowMs: number): string {
  const due = Date.parse(d.dueAt);
  switch (d.state) {
    case 'running':
      return d.suspended !== null ? '暂停计时' : formatCountdown(due - nowMs);
    case 'breached':
      return formatCountdown(Math.min(0, due - nowMs));
    case 'met': {
      return d.respondedAt === null ? '已办结' : `办结于 ${formatInstant(Date.parse(d.respondedAt))}`;
    }
    default:
      return '—';
  }
}

/** What an officer may do to a duty — the same rules the API enforces, so no button is sure to fail. */
export function dutyActions(d: DutyCore): { fulfil: boolean; extend: boolean; suspend: boolean; resume: boolean } {
  const request = d.kind === 'disclosure_request';
  const counting = d.state === 'running' && d.suspended === null;
  return {
    fulfil: isDutyOwed(d),
    // 延期 once, for disclosure requests, while counting (after a pause: resume first).
    extend: request && counting && !d.extended,
    suspend: request && counting,
    resume: request && isDutySuspended(d),
  };
}

/** Finished duties stay on the board this long after their reply, at most this many. */
export const RECENT_DUTY_MS = 7 * DAY_S * SECOND;
export const RECENT_DUTY_MAX = 10;

/** When a met duty was closed, for "recent" (respondedAt, else its due). */
function closedAt(d: Pick<Obligation, 'respondedAt' | 'dueAt'>): number {
  return Date.parse(d.respondedAt ?? d.dueAt);
}

function byId(a: Pick<Obligation, 'id'>, b: Pick<Obligation, 'id'>): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * The duty list: owed duties that are counting, nearest due first (so overdue ones lead);
 * then suspended ones (their due is frozen), longest paused first; then those met in the
 * last RECENT_DUTY_MS, newest first, at most RECENT_DUTY_MAX.
 */
export function arrangeDuties<T extends Pick<Obligation, 'id' | 'state' | 'dueAt' | 'suspended' | 'respondedAt'>>(
  duties: readonly T[],
  nowMs: number,
): T[] {
  const counting: T[] = [];
  const paused: T[] = [];
  const done: T[] = [];
  for (const d of duties) {
    if (isDutySuspended(d)) paused.push(d);
    else if (isDutyOwed(d)) counting.push(d);
    else if (nowMs - closedAt(d) <= RECENT_DUTY_MS) done.push(d);
  }
  counting.sort((a, b) => Date.parse(a.dueAt) - Date.parse(b.dueAt) || byId(a, b));
  paused.sort((a, b) => Date.parse(a.suspended?.since ?? '') - Date.parse(b.suspended?.since ?? '') || byId(a, b));
  done.sort((a, b) => closedAt(b) - closedAt(a) || byId(a, b));
  return [...counting, ...paused, ...done.slice(0, RECENT_DUTY_MAX)];
}

export function assertNever(x: never): never {
  throw new Error(`unexpected value: ${String(x)}`);
}
