/**
 * The escalation ladder (预警 → 催办 → 通报 → 约谈) as data, and the rule that says which of
 * its steps are due. Pure: the caller passes the clock as it stands, the ladder snapshot the
 * clock took when it started, how far the ladder has already been walked, and `now`.
 *
 * Snapshot principle (as for the rule pack): a clock copies its ladder when it starts
 * (`ladderSnapshot`), so a jurisdiction changing its ladder never changes the steps of a
 * running clock.
 *
 * Walking is a watermark: every step instant in (through, now] is due once; the caller
 * stores the returned `through` with the clock and the returned `nextWake` beside the
 * clock's own wake. A step instant before the ladder started (`since`) is clamped to
 * `since` (a clock born breached is urged at once), except warning points, which are
 * skipped like the clock's own past warnings.
 *
 * Stopping: only the clock's state stops the ladder. A met, cancelled or waived clock (a
 * retracted breach leaves the clock met) has nothing due and `cancelled: true`, which tells
 * the caller to cancel notifications still queued for it. Acknowledging the breach stops a
 * step's repeats, never its first firing and never the clock.
 */
import { civilFromDays, daysFromCivil, MS_PER_HOUR, SHANGHAI_OFFSET_MS, shanghaiDay, shanghaiDayStart } from './time.ts';
import type { ClockKind, ClockState, IncidentClockKind, Instant, ObligationKind } from './types.ts';

/** Who a step is addressed to, resolved to people and addresses by the caller. */
export type LadderRole =
  /** The responsible unit (责任单位), or the duty office while unassigned. */
  | 'unit'
  /** The unit's supervising office (units.parent_id: 政府办/政务公开办, 网信办). */
  | 'supervisor'
  /** The leaders in charge. */
  | 'leaders'
  /** The duty officer on shift (值班员). */
  | 'duty';

export const LADDER_ROLES: readonly LadderRole[] = ['unit', 'supervisor', 'leaders', 'duty'];

/** What a step is, for templates and statistics: 告知, 预警, 催办, 通报. */
export type LadderStepKind = 'notice' | 'warning' | 'urge' | 'report';
export const LADDER_STEP_KINDS: readonly LadderStepKind[] = ['notice', 'warning', 'urge', 'report'];

/** When a step fires: on assignment, at each warning point, or `afterMs` after the due. */
export type LadderTrigger = 'assigned' | 'warning' | 'breach';
export const LADDER_TRIGGERS: readonly LadderTrigger[] = ['assigned', 'warning', 'breach'];

export interface LadderStep {
  /** Stable within a ladder; part of every notification's unique key. */
  readonly id: string;
  readonly kind: LadderStepKind;
  readonly trigger: LadderTrigger;
  /** For `breach`: how long after the due (0 = at the breach). Ignored otherwise. */
  readonly afterMs: number;
  readonly to: readonly LadderRole[];
  readonly cc: readonly LadderRole[];
  /** For `breach`: repeat this often while the breach is not acknowledged; null = once. */
  readonly repeatEveryMs: number | null;
  /** Firing makes the incident a 通报 candidate on the leaders' statistics. */
  readonly reportCandidate: boolean;
}

export interface Ladder {
  readonly steps: readonly LadderStep[];
}

/** 约谈: a unit with this many breaches in one period is a candidate on the leaders' report. */
export interface InterviewRule {
  readonly breaches: number;
  readonly period: 'month' | 'quarter' | 'year';
}

export interface LadderPack {
  readonly clocks: Readonly<Record<ClockKind, Ladder>>;
  readonly interview: InterviewRule;
}

/** The 约谈 rule of every jurisdiction: the pack's own, and the jurisdictions that override it. */
export interface InterviewRules {
  readonly default: InterviewRule;
  readonly jurisdictions: Readonly<Record<string, InterviewRule>>;
}

/** The 约谈 rule in force in a jurisdiction (a bare rule is every jurisdiction's). */
export function interviewRuleFor(rules: InterviewRule | InterviewRules, jurisdiction: string): InterviewRule {
  if (!('default' in rules)) return rules;
  return Object.hasOwn(rules.jurisdictions, jurisdiction) ? rules.jurisdictions[jurisdiction]! : rules.default;
}

/**
 * Build the default ladder for a clock kind: how long after the breach leaders hear of it, how
 * often the unit is urged, and whether the duty officer on shift (值班表) is copied on the
 * warnings and urgings (the urgent clocks: someone must chase them at any hour).
 */
export function defaultLadder(leadersAfterMs: number, urgeRepeatMs: number | null, dutyCopied = false): Ladder {
  const duty: LadderRole[] = dutyCopied ? ['duty'] : [];
  return {
    steps: [
      { id: 'notice', kind: 'notice', trigger: 'assigned', afterMs: 0, to: ['unit'], cc: [], repeatEveryMs: null, reportCandidate: false },
      {
        id: 'warning',
        kind: 'warning',
        trigger: 'warning',
        afterMs: 0,
        to: ['unit'],
        cc: duty,
        repeatEveryMs: null,
        reportCandidate: false,
      },
      {
        id: 'urge',
        kind: 'urge',
        trigger: 'breach',
        afterMs: 0,
        to: ['unit'],
        cc: ['supervisor', ...duty],
        repeatEveryMs: urgeRepeatMs,
        reportCandidate: false,
      },
      {
        id: 'leaders',
        kind: 'report',
        trigger: 'breach',
        afterMs: leadersAfterMs,
        to: ['leaders'],
        cc: ['supervisor'],
        repeatEveryMs: null,
        reportCandidate: true,
      },
    ],
  };
}

const H = MS_PER_HOUR;
const INCIDENT_LADDERS: Record<IncidentClockKind, Ladder> = {
  // The 5 h and 24 h clocks of 特别重大/重大 events: leaders after 4 h, the unit urged hourly / every 4 h.
  // The 5 h clock's warnings and urgings also reach the duty officer on shift.
  release: defaultLadder(4 * H, 1 * H, true),
  press_conference: defaultLadder(4 * H, 4 * H),
  // 48 h: leaders after 12 h, urged twice a day.
  response: defaultLadder(12 * H, 12 * H),
};
const dutyLadder = defaultLadder(12 * H, 24 * H);
const OBLIGATION_LADDERS: Record<ObligationKind, Ladder> = {
  policy_interpretation: dutyLadder,
  service_change: dutyLadder,
  proposal_reply: dutyLadder,
  penalty_disclosure: dutyLadder,
  disclosure_request: dutyLadder,
};

export const DEFAULT_LADDER_PACK: LadderPack = {
  clocks: { ...INCIDENT_LADDERS, ...OBLIGATION_LADDERS },
  interview: { breaches: 3, period: 'quarter' },
};

/** The ladder a clock of this kind copies when it starts (plain JSON, safe to store). */
export function ladderSnapshot(pack: LadderPack, kind: ClockKind): Ladder {
  return JSON.parse(JSON.stringify(pack.clocks[kind])) as Ladder;
}

/** The clock as the ladder needs to see it (an IncidentClock or ObligationState fits, plus two facts). */
export interface LadderClock {
  readonly state: ClockState;
  readonly startAt: Instant;
  readonly dueAt: Instant;
  /** Warning points, fractions of the span (the clock's own snapshot). */
  readonly warnings: readonly number[];
  /** When the responsible unit was assigned (or the clock started, if later); null while unassigned. */
  readonly assignedAt: Instant | null;
  /** When the clock's breach alert was acknowledged; null if not (or not breached). */
  readonly acknowledgedAt: Instant | null;
}

/** Stored with the clock beside its ladder snapshot. */
export interface LadderProgress {
  /** When the clock took its snapshot: earlier step instants are clamped (or skipped, for warnings). */
  readonly since: Instant;
  /** Every step instant up to and including this one has been handled. */
  readonly through: Instant;
}

export function startLadder(since: Instant): LadderProgress {
  return { since, through: since - 1 };
}

export interface LadderFiring {
  step: string;
  kind: LadderStepKind;
  /** 0 for the first firing; the warning index for warnings; 1, 2 … for repeats. */
  occurrence: number;
  /** `${step}#${occurrence}`: unique per clock, the notification key's ladder part. */
  key: string;
  at: Instant;
  to: LadderRole[];
  cc: LadderRole[];
  reportCandidate: boolean;
}

export interface LadderDecision {
  /** Due at `now`, in time order (ties in ladder order). */
  firings: LadderFiring[];
  progress: LadderProgress;
  /** The next instant a step may fall due; null when the ladder is done. */
  nextWake: Instant | null;
  /** The clock stopped: cancel whatever is still queued for it. */
  cancelled: boolean;
}

const STOPPED: readonly ClockState[] = ['met', 'cancelled', 'waived'];

interface Candidate {
  step: LadderStep;
  order: number;
  occurrence: number;
  at: Instant;
  /** Whether the current state lets it fire (a wake is kept either way). */
  live: boolean;
}

/** Every step instant after `after`, in order, judged by the clock's current state. */
function candidates(clock: LadderClock, ladder: Ladder, progress: LadderProgress, after: Instant, upTo: Instant): Candidate[] {
  const out: Candidate[] = [];
  const { since } = progress;
  ladder.steps.forEach((step, order) => {
    switch (step.trigger) {
      case 'assigned': {
        if (clock.assignedAt === null) return;
        const at = Math.max(clock.assignedAt, since);
        if (at > after) out.push({ step, order, occurrence: 0, at, live: clock.state === 'running' || clock.state === 'breached' });
        return;
      }
      case 'warning': {
        clock.warnings.forEach((w, i) => {
          const at = clock.startAt + Math.floor(w * (clock.dueAt - clock.startAt));
          // A point already past when the ladder started is skipped, as the clock skips it.
          if (at < since || at >= clock.dueAt || at <= after) return;
          out.push({ step, order, occurrence: i, at, live: clock.state === 'running' });
        });
        return;
      }
      case 'breach': {
        const first = clock.dueAt + step.afterMs;
        const live = clock.state === 'breached';
        const at0 = Math.max(first, since);
        if (at0 > after) out.push({ step, order, occurrence: 0, at: at0, live });
        const every = step.repeatEveryMs;
        if (every === null || every <= 0) return;
        // Repeats stop at the acknowledgement and are not backfilled before the ladder started.
        // Repeats missed while nobody looked (an engine down for hours) coalesce into the latest.
        const stop = clock.acknowledgedAt ?? Number.POSITIVE_INFINITY;
        const lo = Math.max(after, since - 1);
        const kFirst = Math.max(1, Math.floor((lo - first) / every) + 1); // smallest k: first + k·every > lo
        const kLast = Math.floor((Math.min(upTo, stop - 1) - first) / every); // largest k: ≤ upTo, < stop
        if (kLast >= kFirst) out.push({ step, order, occurrence: kLast, at: first + kLast * every, live });
        const kNext = Math.max(kFirst, kLast + 1);
        if (first + kNext * every < stop) out.push({ step, order, occurrence: kNext, at: first + kNext * every, live });
        return;
      }
    }
  });
  return out.sort((a, b) => a.at - b.at || a.order - b.order || a.occurrence - b.occurrence);
}

/**
 * The ladder steps due at `now` for one clock, and when to look again. Idempotent: calling it
 * again with the returned progress and the same `now` gives no firings.
 */
export function ladderAt(clock: LadderClock, ladder: Ladder, progress: LadderProgress, now: Instant): LadderDecision {
  if (STOPPED.includes(clock.state)) {
    return { firings: [], progress: { since: progress.since, through: Math.max(progress.through, now) }, nextWake: null, cancelled: true };
  }
  const all = candidates(clock, ladder, progress, progress.through, now);
  const firings: LadderFiring[] = [];
  let nextWake: Instant | null = null;
  for (const c of all) {
    if (c.at > now) {
      nextWake = nextWake === null ? c.at : Math.min(nextWake, c.at);
      continue;
    }
    if (!c.live) continue;
    firings.push({
      step: c.step.id,
      kind: c.step.kind,
      occurrence: c.occurrence,
      key: `${c.step.id}#${c.occurrence}`,
      at: c.at,
      to: [...c.step.to],
      cc: [...c.step.cc],
      reportCandidate: c.step.reportCandidate,
    });
  }
  return { firings, progress: { since: progress.since, through: Math.max(progress.through, now) }, nextWake, cancelled: false };
}

/** The Asia/Shanghai period an instant falls in: '2026-11', '2026-Q4' or '2026'. */
export function periodOf(at: Instant, period: InterviewRule['period']): string {
  const [y, m] = civilFromDays(shanghaiDay(at));
  switch (period) {
    case 'month':
      return `${y}-${String(m).padStart(2, '0')}`;
    case 'quarter':
      return `${y}-Q${Math.floor((m - 1) / 3) + 1}`;
    case 'year':
      return String(y);
  }
}

export interface InterviewCandidate {
  unit: string;
  period: string;
  breaches: number;
}

/**
 * 约谈 candidates: units with at least `rule.breaches` breaches in the period containing `now`.
 * A breach belongs to the unit responsible when it happened (the caller passes that unit).
 */
export function interviewCandidates(
  breaches: readonly { unit: string; at: Instant }[],
  rule: InterviewRule,
  now: Instant,
): InterviewCandidate[] {
  const period = periodOf(now, rule.period);
  const counts = new Map<string, number>();
  for (const b of breaches) {
    if (b.at > now || periodOf(b.at, rule.period) !== period) continue;
    counts.set(b.unit, (counts.get(b.unit) ?? 0) + 1);
  }
  return [...counts]
    .filter(([, n]) => n >= rule.breaches)
    .map(([unit, n]) => ({ unit, period, breaches: n }))
    .sort((a, b) => b.breaches - a.breaches || (a.unit < b.unit ? -1 : a.unit > b.unit ? 1 : 0));
}

/**
 * 约谈 candidates with their breaches, for the periods `inPeriod` accepts (the leaders' report
 * asks for the rule's periods overlapping the one it shows; the digest for the current one).
 * Grouped by (unit, rule period); most breaches first, then unit and period; breaches oldest first.
 */
export function interviewGroups<B extends { unit: string; at: Instant }>(
  breaches: readonly B[],
  rule: InterviewRule,
  inPeriod: (period: string) => boolean,
): { unit: string; period: string; breaches: B[] }[] {
  const groups = new Map<string, { unit: string; period: string; breaches: B[] }>();
  for (const b of breaches) {
    const period = periodOf(b.at, rule.period);
    if (!inPeriod(period)) continue;
    const key = `${b.unit}\u0000${period}`;
    const g = groups.get(key) ?? { unit: b.unit, period, breaches: [] };
    g.breaches.push(b);
    groups.set(key, g);
  }
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...groups.values()]
    .filter((g) => g.breaches.length >= rule.breaches)
    .map((g) => ({ ...g, breaches: [...g.breaches].sort((a, b) => a.at - b.at) }))
    .sort((a, b) => b.breaches.length - a.breaches.length || cmp(a.unit, b.unit) || cmp(a.period, b.period));
}

export interface InterviewGroup<B> {
  unit: string;
  period: string;
  /** The rule of the unit's jurisdiction that made it a candidate. */
  rule: InterviewRule;
  breaches: B[];
}

/**
 * 约谈 candidates when jurisdictions have rules of their own: each breach is counted under the
 * rule of its unit's jurisdiction, for that rule's periods overlapping [from, to). Same order as
 * interviewGroups (most breaches first, then unit, then period).
 */
export function interviewGroupsByJurisdiction<B extends { unit: string; at: Instant; jurisdiction: string }>(
  breaches: readonly B[],
  rules: InterviewRule | InterviewRules,
  from: Instant,
  to: Instant,
): InterviewGroup<B>[] {
  const byJurisdiction = new Map<string, B[]>();
  for (const b of breaches) {
    const list = byJurisdiction.get(b.jurisdiction);
    if (list) list.push(b);
    else byJurisdiction.set(b.jurisdiction, [b]);
  }
  const out: InterviewGroup<B>[] = [];
  for (const [jurisdiction, list] of byJurisdiction) {
    const rule = interviewRuleFor(rules, jurisdiction);
    const wanted = new Set(periodsOverlapping(from, to, rule.period));
    for (const g of interviewGroups(list, rule, (p) => wanted.has(p))) out.push({ ...g, rule });
  }
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return out.sort((a, b) => b.breaches.length - a.breaches.length || cmp(a.unit, b.unit) || cmp(a.period, b.period));
}

/** The instants [from, to) whose breaches any jurisdiction's rule needs to judge the periods overlapping [from, to). */
export function interviewWindow(rules: InterviewRule | InterviewRules, from: Instant, to: Instant): { from: Instant; to: Instant } | null {
  const all = 'default' in rules ? [rules.default, ...Object.values(rules.jurisdictions)] : [rules];
  let lo: Instant | null = null;
  let hi: Instant | null = null;
  for (const period of new Set(all.map((r) => r.period))) {
    const keys = periodsOverlapping(from, to, period);
    if (keys.length === 0) continue;
    const a = periodRange(keys[0]!)!.from;
    const b = periodRange(keys.at(-1)!)!.to;
    lo = lo === null ? a : Math.min(lo, a);
    hi = hi === null ? b : Math.max(hi, b);
  }
  return lo === null || hi === null ? null : { from: lo, to: hi };
}

const PERIOD_KEY = /^(\d{4})(?:-(0[1-9]|1[0-2])|-Q([1-4]))?$/;

/**
 * The instants of a period key ('2026-11', '2026-Q4', '2026'), Asia/Shanghai: [from, to) as
 * `from` inclusive and `to` exclusive, the way periodOf assigns an instant. Null when malformed.
 */
export function periodRange(key: string): { from: Instant; to: Instant; granularity: InterviewRule['period'] } | null {
  const m = PERIOD_KEY.exec(key);
  if (!m) return null;
  const y = Number(m[1]);
  const start = (year: number, month: number) =>
    shanghaiDayStart(daysFromCivil(year + Math.floor((month - 1) / 12), ((month - 1) % 12) + 1, 1));
  if (m[2] !== undefined) return { from: start(y, Number(m[2])), to: start(y, Number(m[2]) + 1), granularity: 'month' };
  if (m[3] !== undefined) {
    const first = (Number(m[3]) - 1) * 3 + 1;
    return { from: start(y, first), to: start(y, first + 3), granularity: 'quarter' };
  }
  return { from: start(y, 1), to: start(y + 1, 1), granularity: 'year' };
}

/** The keys of every `granularity` period overlapping [from, to), oldest first. */
export function periodsOverlapping(from: Instant, to: Instant, granularity: InterviewRule['period']): string[] {
  const out: string[] = [];
  let at = from;
  while (at < to && out.length < 1200) {
    const key = periodOf(at, granularity);
    out.push(key);
    at = periodRange(key)!.to;
  }
  return out;
}

/** The clock as the 通报 candidacy needs to see it. */
export interface ReportClock {
  readonly state: ClockState;
  readonly dueAt: Instant;
  /** The qualifying response's publication instant when met; null otherwise. */
  readonly respondedAt: Instant | null;
}

export interface ReportCandidacy {
  /** The ladder step (its id) that made the clock a candidate. */
  step: string;
  /** When it did: the step's instant (due + its delay, clamped to when the ladder started). */
  at: Instant;
}

/**
 * Whether a clock is a 通报 candidate at `now`, and since when: the first breach step of its
 * ladder snapshot marked `reportCandidate` whose instant has passed while the clock was still
 * without a qualifying response — exactly when the ladder fires that step (`ladderAt`), so the
 * statistics agree with the messages. Once a candidate, always one for its period, also when the
 * response comes later (the 通报 is about the lateness); a response published before the
 * instant (met late but in time for it, or a retracted breach) never makes one. Cancelled and
 * waived clocks are not candidates: nobody owes that response any more. A clock still `running`
 * past its due (the timer has not written the breach yet) counts as breached, as in the figures.
 */
export function reportCandidacy(clock: ReportClock, ladder: Ladder, since: Instant, now: Instant): ReportCandidacy | null {
  if (clock.state === 'cancelled' || clock.state === 'waived') return null;
  let best: ReportCandidacy | null = null;
  for (const step of ladder.steps) {
    if (!step.reportCandidate || step.trigger !== 'breach') continue;
    const at = Math.max(clock.dueAt + step.afterMs, since);
    if (at > now || (best !== null && best.at <= at)) continue;
    const unmetThen = clock.state === 'met' ? clock.respondedAt !== null && clock.respondedAt > at : true;
    if (unmetThen) best = { step: step.id, at };
  }
  return best;
}

/** Delivery channels. */
export type Channel = 'email' | 'webhook' | 'wecom' | 'dingtalk' | 'sms';
export const CHANNELS: readonly Channel[] = ['email', 'webhook', 'wecom', 'dingtalk', 'sms'];

export interface RoutingRule {
  /** A clock whose span is at most this is urgent (the 5 h clock by default). */
  readonly urgentSpanMs: number;
  /** Night in Asia/Shanghai: from this hour (inclusive) … */
  readonly nightFromHour: number;
  /** … to this hour (exclusive), e.g. 22 → 8. */
  readonly nightToHour: number;
}

export const DEFAULT_ROUTING: RoutingRule = { urgentSpanMs: 6 * H, nightFromHour: 22, nightToHour: 8 };

/** Asia/Shanghai hour of an instant, 0–23. */
export function shanghaiHour(at: Instant): number {
  return Math.floor(((((at + SHANGHAI_OFFSET_MS) % (24 * H)) + 24 * H) % (24 * H)) / H);
}

/**
 * Channels for one notification. Email always (the record an office keeps); the generic
 * webhook always (it is a machine integration, where configured); the group robots
 * (企业微信/钉钉) for urgent clocks and for reports to leaders; SMS when someone must be woken:
 * an urgent clock at night. The caller drops channels a recipient has no address for.
 */
export function routeChannels(n: { spanMs: number; kind: LadderStepKind; at: Instant }, rule: RoutingRule = DEFAULT_ROUTING): Channel[] {
  const urgent = n.spanMs <= rule.urgentSpanMs && n.kind !== 'notice';
  const hour = shanghaiHour(n.at);
  const night =
    rule.nightFromHour > rule.nightToHour
      ? hour >= rule.nightFromHour || hour < rule.nightToHour
      : hour >= rule.nightFromHour && hour < rule.nightToHour;
  const channels: Channel[] = ['email', 'webhook'];
  if (urgent || n.kind === 'report') channels.push('wecom', 'dingtalk');
  if (urgent && night) channels.push('sms');
  return channels;
}
