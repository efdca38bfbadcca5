import { randomUUID } from 'node:crypto';
import { type Bus, EventMessage, parseMessage, type Subscription, TOPICS } from '@huiying/bus';
import type { Clock } from '@huiying/clock';
import { audit, type Db, emails, eq, rowsOf, sql, units } from '@huiying/db';
import type { Logger } from 'pino';
import type { Mailer } from './mailer.ts';
import { breachMail } from './templates.ts';

export interface NotifierOptions {
  db: Db;
  bus: Bus;
  mailer: Mailer;
  clock: Clock;
  logger: Logger;
  /** Escalation fallback when no responsible unit is assigned yet: the 政务公开办 duty mailbox. */
  dutyEmail: string;
  dashboardUrl: string;
  groupId?: string;
}

/** Attempts before a mail is given up as `failed` (and left for the duty office to see). */
const MAX_ATTEMPTS = 8;

/**
 * Escalation mail. A breach becomes one `emails` row per recipient, unique on (alert, address),
 * so a redelivered or re-swept breach adds nothing. Sending is leased: a row is claimed in a
 * short transaction, sent outside any transaction, then marked; a failure is retried with
 * backoff and never blocks the mails behind it. A sweep queues mail for breaches whose event
 * never reached this notifier (a crash, a dead-lettered event, an embedded restart).
 */
export class Notifier {
  private sub: Subscription | undefined;
  private loop: NodeJS.Timeout | undefined;
  private busy: Promise<unknown> | undefined;

  constructor(private readonly o: NotifierOptions) {}

  async start(options: { retryEveryMs?: number } = {}): Promise<void> {
    this.sub = await this.o.bus.subscribe({
      topic: TOPICS.events,
      groupId: this.o.groupId ?? 'huiying-notify',
      fromBeginning: true,
      handler: async (m) => {
        const event = parseMessage(EventMessage, m.value);
        await this.handle(event);
      },
    });
    const every = options.retryEveryMs ?? 30_000;
    if (every > 0) {
      this.loop = setInterval(() => {
        this.busy ??= this.sweep()
          .then(() => this.sendPending())
          .catch((error: unknown) => this.o.logger.error({ err: String(error) }, 'mail retry pass failed'))
          .finally(() => (this.busy = undefined));
      }, every);
      this.loop.unref();
    }
  }

  async stop(): Promise<void> {
    if (this.loop) clearInterval(this.loop);
    await this.busy;
    await this.sub?.close();
  }

  async handle(event: EventMessage): Promise<void> {
    await this.queue(event);
    await this.sendPending();
  }

  /** Queue the escalation mail for a breach event (idempotent). */
  private async queue(event: EventMessage): Promise<void> {
    if (event.event !== 'breached' || !(event.incidentId || event.obligationId)) return;
    const { db, clock } = this.o;
    let to = this.o.dutyEmail;
    let unitName = '政务公开办值班室';
    if (event.unitId) {
      const [unit] = await db.select().from(units).where(eq(units.id, event.unitId));
      if (unit?.email) {
        to = unit.email;
        unitName = unit.name;
      }
    }
    const mail = breachMail(event, unitName, this.o.dashboardUrl);
    const now = new Date(clock.now());
    await db.transaction(async (tx) => {
      const inserted = await tx
        .insert(emails)
        .values({
          id: randomUUID(),
          dedupeKey: `${event.alertId ?? event.id}:${to}`,
          alertId: event.alertId ?? null,
          incidentId: event.incidentId ?? event.obligationId ?? null,
          unitId: event.unitId ?? null,
          to,
          subject: mail.subject,
          body: mail.text,
          status: 'pending',
          createdAt: now,
        })
        .onConflictDoNothing()
        .returning({ id: emails.id });
      if (inserted[0]) {
        await audit(tx, {
          at: now,
          actor: 'notify',
          action: 'email.queued',
          entity: 'email',
          entityId: inserted[0].id,
          input: { event: event.id },
          result: { to },
        });
      }
    });
  }

  /** Breaches older than a minute with no mail queued: their events were lost on the way. */
  async sweep(): Promise<number> {
    const { db, clock } = this.o;
    const rows = rowsOf<{
      id: string;
      incident_id: string | null;
      obligation_id: string | null;
      clock: string | null;
      due_at: Date | string | null;
      unit_id: string | null;
      at: Date | string;
      title: string | null;
    }>(
      await db.execute(sql`
        select a.id, a.incident_id, a.obligation_id, a.clock, a.due_at, a.unit_id, a.at, coalesce(i.title, o.title) as title
        from alerts a
        left join incidents i on i.id = a.incident_id
        left join obligations o on o.id = a.obligation_id
        where a.kind = 'breached' and a.retracted_at is null and a.at < ${new Date(clock.now() - 60_000).toISOString()}
          and not exists (select 1 from emails e where e.alert_id = a.id)
        order by a.at limit 500`),
    );
    for (const r of rows) {
      await this.queue({
        v: 1,
        type: 'event',
        id: `sweep_${r.id}`,
        event: 'breached',
        at: new Date(r.at).toISOString(),
        alertId: r.id,
        ...(r.incident_id ? { incidentId: r.incident_id } : {}),
        ...(r.obligation_id ? { obligationId: r.obligation_id } : {}),
        ...(r.clock ? { clock: r.clock } : {}),
        ...(r.due_at ? { due: new Date(r.due_at).toISOString() } : {}),
        unitId: r.unit_id,
        ...(r.title ? { title: r.title } : {}),
      });
    }
    return rows.length;
  }

  /** Send every mail that is due; each failure is rescheduled and the next one is tried. */
  async sendPending(): Promise<number> {
    const { db, mailer, clock, logger } = this.o;
    // A breach withdrawn (a response published before the due, recorded late) while its mail
    // waited for a retry is not mailed any more. A mail already being sent cannot be recalled.
    await db.execute(sql`
      update emails e set status = 'cancelled', last_error = 'breach retracted'
      from alerts a
      where a.id = e.alert_id and a.retracted_at is not null and e.status = 'pending'`);
    let sent = 0;
    for (;;) {
      const [row] = rowsOf<{ id: string; to: string; subject: string; body: string; attempts: number }>(
        await db.execute(sql`
          update emails set status = 'sending', lease_until = now() + interval '2 minutes', attempts = attempts + 1
          where id = (
            select id from emails
            where (status = 'pending' and (next_attempt_at is null or next_attempt_at <= now()))
               or (status = 'sending' and lease_until < now())
            order by created_at limit 1 for update skip locked)
          returning id, "to", subject, body, attempts`),
      );
      if (!row) return sent;
      const now = new Date(clock.now());
      try {
        const { messageId } = await mailer.send({ to: row.to, subject: row.subject, text: row.body, messageId: `<${row.id}@huiying>` });
        await db.transaction(async (tx) => {
          await tx.update(emails).set({ status: 'sent', sentAt: now, messageId, leaseUntil: null }).where(eq(emails.id, row.id));
          await audit(tx, { at: now, actor: 'notify', action: 'email.sent', entity: 'email', entityId: row.id, result: { messageId } });
        });
        sent++;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        const giveUp = row.attempts >= MAX_ATTEMPTS;
        logger.warn(
          { email: row.id, attempts: row.attempts, err: message },
          giveUp ? 'escalation mail failed for good' : 'escalation mail failed; will retry',
        );
        await db.transaction(async (tx) => {
          await tx
            .update(emails)
            .set({
              status: giveUp ? 'failed' : 'pending',
              lastError: message,
              leaseUntil: null,
              // 1, 2, 4 … minutes, capped at an hour.
              nextAttemptAt: sql`now() + make_interval(mins => ${Math.min(60, 2 ** (row.attempts - 1))})`,
            })
            .where(eq(emails.id, row.id));
          await audit(tx, {
            at: now,
            actor: 'notify',
            action: giveUp ? 'email.failed' : 'email.retry_scheduled',
            entity: 'email',
            entityId: row.id,
            result: { error: message, attempts: row.attempts },
          });
        });
      }
    }
  }
}
