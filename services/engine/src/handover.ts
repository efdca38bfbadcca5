/**
 * 交接班: at every shift change of the duty roster (a shift starting or ending), a handover
 * summary to the officers coming on and going off shift: what is breached and still open
 * (oldest due first), then what falls due within the next shift. Queued as notification rows
 * with clock key `handover:<instant>`, so two engines, a restart or a late start queue each
 * shift change once; the dispatcher sends them like every ladder step.
 */
import type { Clock } from '@huiying/clock';
import { type Db, type DbOrTx, type NewNotification, rowsOf, sql } from '@huiying/db';
import { MS_PER_HOUR } from '@huiying/domain';
import { loadRoster, officersOnShift, renderHandover } from '@huiying/notify';
import type { Logger } from 'pino';
import type { LadderWiring } from './ladder-writer.ts';
import { loadBreachedItems, loadItemsDueIn, queueSummaries } from './summary-items.ts';

export interface HandoverOptions {
  /** A shift change found at most this long ago on start (engine down, roster edited late) is still handed over (default 1 h). */
  graceMs?: number;
  /** Look at the roster again at least this often, for shifts added meanwhile (clock time; default 5 min). */
  resyncMs?: number;
}

const DAY = 24 * MS_PER_HOUR;

/** Shift changes (a start or an end of a shift of an enabled duty officer) in (from, to], in order. */
export async function shiftChangesBetween(db: DbOrTx, from: number, to: number): Promise<number[]> {
  const rows = rowsOf<{ at: string | Date }>(
    await db.execute(sql`
      select distinct b.at from duty_shifts s join users u on u.id = s.user_id and u.role = 'duty' and u.disabled_at is null,
        lateral (values (s.starts_at), (s.ends_at)) as b(at)
      where b.at > ${new Date(from).toISOString()}::timestamptz and b.at <= ${new Date(to).toISOString()}::timestamptz
      order by b.at`),
  );
  return rows.map((r) => new Date(r.at).getTime());
}

/** The next shift change strictly after `now`, or null. */
export async function nextShiftChange(db: DbOrTx, now: number): Promise<number | null> {
  const [row] = rowsOf<{ at: string | Date | null }>(
    await db.execute(sql`
      select min(least(case when s.starts_at > ${new Date(now).toISOString()}::timestamptz then s.starts_at end, s.ends_at)) as at
      from duty_shifts s join users u on u.id = s.user_id and u.role = 'duty' and u.disabled_at is null
      where s.ends_at > ${new Date(now).toISOString()}::timestamptz`),
  );
  return row?.at ? new Date(row.at).getTime() : null;
}

/** Queue the handover for the shift change at `at` (idempotent). Returns the rows inserted. */
export async function queueHandover(db: Db, at: number, wiring: Pick<LadderWiring, 'dashboardUrl'>): Promise<number> {
  const iso = new Date(at).toISOString();
  return db.transaction(async (tx) => {
    const roster = await loadRoster(tx, at - DAY, at + DAY);
    const incoming = roster.filter((s) => s.startsAt === at);
    const outgoing = roster.filter((s) => s.endsAt === at);
    if (incoming.length === 0 && outgoing.length === 0) return 0;
    const onShift = officersOnShift(roster, at);
    // "The next shift": until the incoming shift ends; without one, until the first officer still on shift leaves; else 12 h.
    const nextShiftEnd =
      incoming.length > 0
        ? Math.max(...incoming.map((s) => s.endsAt))
        : onShift.length > 0
          ? Math.min(...roster.filter((s) => s.startsAt <= at && s.endsAt > at).map((s) => s.endsAt))
          : at + 12 * MS_PER_HOUR;
    const breached = await loadBreachedItems(tx);
    const dueNext = await loadItemsDueIn(tx, at, nextShiftEnd);
    const [alerts] = rowsOf<{ n: number | string }>(
      await tx.execute(sql`
        select count(*) as n from alerts
        where acknowledged_at is null and retracted_at is null and at <= ${iso}::timestamptz`),
    );
    const names = (list: typeof roster) => [...new Set(list.map((s) => s.officer.name))];
    const rows: NewNotification[] = [];
    for (const [shift, isIncoming] of [...incoming.map((s) => [s, true] as const), ...outgoing.map((s) => [s, false] as const)]) {
      const recipient = shift.officer.addresses.email;
      if (!recipient) continue;
      const m = renderHandover({
        recipientName: shift.officer.name,
        at,
        incoming: isIncoming,
        incomingNames: names(incoming),
        outgoingNames: names(outgoing),
        nextShiftEnd,
        breached,
        dueNext,
        openAlerts: Number(alerts?.n ?? 0),
        dashboardUrl: wiring.dashboardUrl,
      });
      rows.push({
        clockKey: `handover:${iso}`,
        step: 'handover',
        stepKind: 'handover',
        role: 'duty',
        recipient,
        channel: 'email',
        groupKey: 'handover',
        subject: m.subject,
        text: m.text,
        html: m.html,
      });
    }
    return queueSummaries(tx, at, rows);
  });
}

/**
 * Arms the injected clock for the next shift change (and every `resyncMs`, for shifts added
 * since); each wake hands over every shift change since the last look. On start, shift changes
 * in the last `graceMs` are handed over if nobody did. `reload()` (the engine calls it on
 * NOTIFY huiying_roster: a roster edit, migration 0019, or a duty officer disabled, enabled or
 * moved in or out of the duty role, 0026) looks at the roster again at once; the periodic
 * resync stays as the fallback for a lost LISTEN connection. Passes run one at a time.
 */
export class HandoverScheduler {
  private cancel: (() => void) | undefined;
  private stopped = true;
  /** The passes, one after the other: a wake and a reload never run side by side. */
  private chain: Promise<void> = Promise.resolve();
  /** A reload is queued and has not started: further reloads join it. */
  private reloadQueued = false;
  private checkedThrough = 0;
  private readonly graceMs: number;
  private readonly resyncMs: number;

  constructor(
    private readonly o: {
      db: Db;
      clock: Clock;
      logger: Logger;
      wiring: Pick<LadderWiring, 'dashboardUrl'>;
      options?: HandoverOptions;
      onQueued?: () => void;
    },
  ) {
    this.graceMs = o.options?.graceMs ?? MS_PER_HOUR;
    this.resyncMs = o.options?.resyncMs ?? 5 * 60_000;
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.checkedThrough = this.o.clock.now() - this.graceMs;
    await this.pass();
    await this.arm();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancel?.();
    this.cancel = undefined;
    await this.chain;
  }

  /**
   * The roster changed: hand over what changed hands meanwhile (a shift added that began a
   * minute ago) and re-arm for the next shift change as the roster now stands.
   */
  reload(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.reloadQueued) return this.chain;
    this.reloadQueued = true;
    return this.enqueue(() => {
      this.reloadQueued = false;
    });
  }

  private enqueue(before?: () => void): Promise<void> {
    const work = this.chain.then(async () => {
      before?.();
      if (this.stopped) return;
      await this.pass();
      await this.arm();
    });
    this.chain = work.catch(() => undefined);
    this.o.clock.track?.(work);
    return work;
  }

  private async arm(): Promise<void> {
    if (this.stopped) return;
    const now = this.o.clock.now();
    let next = now + this.resyncMs;
    try {
      const change = await nextShiftChange(this.o.db, now);
      if (change !== null) next = Math.min(next, change);
    } catch (error) {
      this.o.logger.error({ err: String(error) }, 'reading the duty roster failed');
    }
    if (this.stopped) return;
    // One wake armed at a time: this one replaces whatever the previous look armed.
    this.cancel?.();
    this.cancel = this.o.clock.at(next, () => {
      this.cancel = undefined;
      void this.enqueue();
    });
  }

  /** Hand over every shift change in (last look, now], at most `graceMs` old. */
  private async pass(): Promise<void> {
    const now = this.o.clock.now();
    const from = Math.max(this.checkedThrough, now - this.graceMs);
    try {
      let queued = 0;
      for (const at of await shiftChangesBetween(this.o.db, from, now)) queued += await queueHandover(this.o.db, at, this.o.wiring);
      this.checkedThrough = now;
      if (queued > 0) this.o.onQueued?.();
    } catch (error) {
      this.o.logger.error({ err: String(error) }, 'queueing the handover summary failed');
    }
  }
}
