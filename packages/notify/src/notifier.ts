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

/**
 * Escalation mail. A breach event is turned into one `emails` row per recipient (unique on
 * event id + address, so a redelivered event adds nothing), then sent and marked sent.
 * Rows are claimed before sending, so two notifiers never send one row twice.
 */
export class Notifier {
  private sub: Subscription | undefined;

  constructor(private readonly o: NotifierOptions) {}

  async start(): Promise<void> {
    this.sub = await this.o.bus.subscribe({
      topic: TOPICS.events,
      groupId: this.o.groupId ?? 'huiying-notify',
      fromBeginning: true,
      handler: async (m) => {
        const event = parseMessage(EventMessage, m.value);
        await this.handle(event);
      },
    });
  }

  async stop(): Promise<void> {
    await this.sub?.close();
  }

  async handle(event: EventMessage): Promise<void> {
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
          dedupeKey: `${event.id}:${to}`,
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
    await this.sendPending();
  }

  /** Send every pending mail; a failure stays pending and is retried on the next call. */
  async sendPending(): Promise<number> {
    const { db, mailer, clock, logger } = this.o;
    let sent = 0;
    for (;;) {
      const done = await db.transaction(async (tx) => {
        const [row] = rowsOf<{ id: string; to: string; subject: string; body: string }>(
          await tx.execute(
            sql`select id, "to", subject, body from emails where status = 'pending' order by created_at limit 1 for update skip locked`,
          ),
        );
        if (!row) return false;
        const now = new Date(clock.now());
        try {
          const { messageId } = await mailer.send({ to: row.to, subject: row.subject, text: row.body });
          await tx
            .update(emails)
            .set({ status: 'sent', sentAt: now, messageId, attempts: sql`${emails.attempts} + 1` })
            .where(eq(emails.id, row.id));
          await audit(tx, { at: now, actor: 'notify', action: 'email.sent', entity: 'email', entityId: row.id, result: { messageId } });
          sent++;
          return true;
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          logger.warn({ email: row.id, err: message }, 'sending escalation mail failed');
          await tx
            .update(emails)
            .set({ lastError: message, attempts: sql`${emails.attempts} + 1` })
            .where(eq(emails.id, row.id));
          await audit(tx, {
            at: now,
            actor: 'notify',
            action: 'email.failed',
            entity: 'email',
            entityId: row.id,
            result: { error: message },
          });
          return 'failed' as const;
        }
      });
      if (done !== true) return sent;
    }
  }
}
