/**
 * The leaders' daily digest: once per Asia/Shanghai day, at a configured hour, one mail per
 * leader (users with the `leader` role and an address) summing up what is overdue, what became
 * a 通报 candidate, the 约谈 candidates and what falls due next. Queued as notification rows
 * (clock key `digest:<day>`), so several engines, a restart or a late start queue it once;
 * the dispatcher sends it like every ladder step.
 */
import type { Clock } from '@huiying/clock';
import { type Db, type NewNotification, rowsOf, sql, type Tx } from '@huiying/db';
import {
  formatDay,
  type InterviewRule,
  type InterviewRules,
  MS_PER_DAY,
  maskPersonalData,
  MS_PER_HOUR,
  shanghaiDay,
  shanghaiDayStart,
} from '@huiying/domain';
import { type Contact, type DigestOverdue, loadLeaders, renderLeaderDigest, renderWeeklyDigest } from '@huiying/notify';
import type { Logger } from 'pino';
import { loadInterviewCandidates, loadReportCandidates } from './candidates.ts';
import type { LadderWiring } from './ladder-writer.ts';
import { loadBreachedItems, queueSummaries } from './summary-items.ts';

export interface DigestOptions {
  /** Asia/Shanghai hour the daily digest goes out (default 8). */
  hour: number;
  /**
   * The weekly digest (每周汇总): ISO weekday (1 = Monday … 7 = Sunday) and Asia/Shanghai hour;
   * it covers the seven days before that day. Off when absent (the processes turn it on:
   * Monday 08:00 unless WEEKLY_DIGEST says otherwise).
   */
  weekly?: { day: number; hour: number } | null;
}

/** 约谈 candidates of the rule's period holding `now` (each unit's jurisdiction's rule), for a digest's lines. */
async function interviewsNow(tx: Tx, rule: InterviewRule | InterviewRules, now: number) {
  return (await loadInterviewCandidates(tx, rule, { now, from: now, to: now + 1 })).map((c) => ({
    unitName: c.unit.name,
    period: c.period,
    breaches: c.breaches.length,
  }));
}

/** One digest mail per leader with an address, under the digest's clock key and step. */
function leaderMails(
  leaders: readonly Contact[],
  clockKey: string,
  step: 'daily' | 'weekly',
  render: (leader: Contact) => { subject: string; text: string; html: string },
): NewNotification[] {
  return leaders.flatMap((leader) => {
    const recipient = leader.addresses.email;
    if (!recipient) return [];
    const m = render(leader);
    return [
      {
        clockKey,
        step,
        stepKind: 'digest',
        role: 'leaders',
        recipient,
        channel: 'email',
        groupKey: 'digest',
        subject: m.subject,
        text: m.text,
        html: m.html,
      },
    ];
  });
}

/** Queue the digest for the Shanghai day of `now` (idempotent). Returns the rows inserted. */
export async function queueDailyDigest(
  db: Db,
  now: number,
  wiring: LadderWiring,
  interview: InterviewRule | InterviewRules,
): Promise<number> {
  const day = formatDay(shanghaiDay(now));
  const iso = new Date(now).toISOString();
  return db.transaction(async (tx) => {
    const leaders = await loadLeaders(tx);
    if (leaders.length === 0) return 0;
    const overdue = await loadBreachedItems(tx);
    // 通报 candidates since the last digest; the same query as the leaders' statistics.
    const reports = (await loadReportCandidates(tx, { now, from: now - MS_PER_DAY + 1, to: now + 1 }))
      .map((c): DigestOverdue => ({
        type: c.source === 'duty' ? 'obligation' : 'incident',
        id: c.id,
        title: maskPersonalData(c.title),
        clock: c.kind,
        unitName: c.unit?.name ?? null,
        dueAt: c.dueAt,
      }))
      .sort((a, b) => a.dueAt - b.dueAt);
    const interviews = await interviewsNow(tx, interview, now);
    const [soon] = rowsOf<{ n: number }>(
      await tx.execute(sql`
        select (select count(*) from clocks where state = 'running' and due_at > ${iso}::timestamptz
                  and due_at <= ${iso}::timestamptz + interval '24 hours')
             + (select count(*) from obligations where status = 'running' and due_at > ${iso}::timestamptz
                  and due_at <= ${iso}::timestamptz + interval '24 hours') as n`),
    );
    const rows = leaderMails(leaders, `digest:${day}`, 'daily', (leader) =>
      renderLeaderDigest({
        day,
        recipientName: leader.name,
        now,
        overdue,
        reportCandidates: reports,
        interview: interviews,
        dueSoon: Number(soon?.n ?? 0),
        dashboardUrl: wiring.dashboardUrl,
      }),
    );
    return queueSummaries(tx, now, rows);
  });
}

/** ISO weekday (1 = Monday … 7 = Sunday) of a Shanghai day number (day 0, 1970-01-01, was a Thursday). */
export const isoWeekday = (day: number): number => ((((day + 3) % 7) + 7) % 7) + 1;

/** The instant of this week's slot (weekday `day`, `hour` o'clock Asia/Shanghai) on or before `now`'s week: the latest slot ≤ now, if any this week. */
export function weeklySlotOn(now: number, day: number, hour: number): number | null {
  const today = shanghaiDay(now);
  const at = shanghaiDayStart(today) + hour * MS_PER_HOUR;
  return isoWeekday(today) === day && at <= now ? at : null;
}

/** The next weekly slot strictly after `now`. */
export function nextWeeklyAt(now: number, day: number, hour: number): number {
  const today = shanghaiDay(now);
  for (let d = 0; d <= 7; d++) {
    const at = shanghaiDayStart(today + d) + hour * MS_PER_HOUR;
    if (isoWeekday(today + d) === day && at > now) return at;
  }
  throw new Error(`no weekly slot for day ${day}`);
}

/**
 * Queue the weekly digest for the seven Shanghai days before `now`'s day (idempotent: clock key
 * `digest-weekly:<first day>`). Returns the rows inserted.
 */
export async function queueWeeklyDigest(
  db: Db,
  now: number,
  wiring: LadderWiring,
  interview: InterviewRule | InterviewRules,
): Promise<number> {
  const today = shanghaiDay(now);
  const fromDay = today - 7;
  const from = new Date(shanghaiDayStart(fromDay)).toISOString();
  const to = new Date(shanghaiDayStart(today)).toISOString();
  return db.transaction(async (tx) => {
    const leaders = await loadLeaders(tx);
    if (leaders.length === 0) return 0;
    // Every clock that fell due in the week (not cancelled or waived), and those met on time.
    const [due] = rowsOf<{ due: number | string; on_time: number | string }>(
      await tx.execute(sql`
        select count(*) as due, count(*) filter (where state = 'met' and late is not true) as on_time from clocks
        where due_at >= ${from}::timestamptz and due_at < ${to}::timestamptz and state not in ('cancelled', 'waived')`),
    );
    const byUnit = rowsOf<{ unit_name: string | null; unit_id: string; n: number | string }>(
      await tx.execute(sql`
        select a.unit_id, u.name as unit_name, count(*) as n from alerts a left join units u on u.id = a.unit_id
        where a.kind = 'breached' and a.retracted_at is null and a.unit_id is not null
          and a.at >= ${from}::timestamptz and a.at < ${to}::timestamptz
        group by a.unit_id, u.name order by count(*) desc, a.unit_id`),
    ).map((r) => ({ unitName: r.unit_name ?? r.unit_id, breaches: Number(r.n) }));
    const overdue = await loadBreachedItems(tx);
    const interviews = await interviewsNow(tx, interview, now);
    const rows = leaderMails(leaders, `digest-weekly:${formatDay(fromDay)}`, 'weekly', (leader) =>
      renderWeeklyDigest({
        from: formatDay(fromDay),
        to: formatDay(today - 1),
        recipientName: leader.name,
        now,
        dueInWeek: Number(due?.due ?? 0),
        metOnTime: Number(due?.on_time ?? 0),
        breachesByUnit: byUnit,
        overdue,
        interview: interviews,
        dashboardUrl: wiring.dashboardUrl,
      }),
    );
    return queueSummaries(tx, now, rows);
  });
}

/** The next instant at `hour` o'clock Asia/Shanghai strictly after `now`. */
export function nextDigestAt(now: number, hour: number): number {
  const today = shanghaiDayStart(shanghaiDay(now)) + hour * MS_PER_HOUR;
  return today > now ? today : today + MS_PER_DAY;
}

/** One of the scheduler's digests: when it is due next, how to queue it, what to log if that fails. */
interface Run {
  next: (now: number) => number;
  queue: typeof queueDailyDigest;
  failure: string;
  cancel?: () => void;
  running?: Promise<unknown>;
}

/**
 * Arms the injected clock for the next digest hour; on start, a digest whose hour has passed
 * today and that was not queued yet (the engine was down) is queued at once.
 */
export class DigestScheduler {
  private stopped = true;
  private runs: Run[] = [];

  constructor(
    private readonly o: {
      db: Db;
      clock: Clock;
      logger: Logger;
      wiring: LadderWiring;
      /** The 约谈 rule, or a function asked at each digest (the rule pack in force then). */
      interview: InterviewRule | InterviewRules | (() => InterviewRules);
      options: DigestOptions;
      onQueued?: () => void;
    },
  ) {}

  async start(): Promise<void> {
    this.stopped = false;
    const now = this.o.clock.now();
    const { hour, weekly } = this.o.options;
    const daily: Run = { next: (t) => nextDigestAt(t, hour), queue: queueDailyDigest, failure: 'queueing the leaders’ digest failed' };
    this.runs = [daily];
    const todayAt = shanghaiDayStart(shanghaiDay(now)) + hour * MS_PER_HOUR;
    if (now >= todayAt) await this.queue(daily, now);
    this.arm(daily);
    if (weekly) {
      const run: Run = {
        next: (t) => nextWeeklyAt(t, weekly.day, weekly.hour),
        queue: queueWeeklyDigest,
        failure: 'queueing the leaders’ weekly digest failed',
      };
      this.runs.push(run);
      // Down at the weekly hour: queued later the same day, if nobody did.
      const slot = weeklySlotOn(now, weekly.day, weekly.hour);
      if (slot !== null) await this.queue(run, now);
      this.arm(run);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const run of this.runs) run.cancel?.();
    for (const run of this.runs) await run.running;
  }

  private arm(run: Run): void {
    if (this.stopped) return;
    const at = run.next(this.o.clock.now());
    run.cancel = this.o.clock.at(at, () => {
      const work = this.queue(run, at).finally(() => this.arm(run));
      run.running = work;
      this.o.clock.track?.(work);
    });
  }

  private interviewNow(): InterviewRule | InterviewRules {
    return typeof this.o.interview === 'function' ? this.o.interview() : this.o.interview;
  }

  private async queue(run: Run, at: number): Promise<void> {
    try {
      const n = await run.queue(this.o.db, Math.max(at, this.o.clock.now()), this.o.wiring, this.interviewNow());
      if (n > 0) this.o.onQueued?.();
    } catch (error) {
      this.o.logger.error({ err: String(error) }, run.failure);
    }
  }
}
