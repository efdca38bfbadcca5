/** The escalation ladder's mail and its other channels. */
import { sql } from 'drizzle-orm';
import { bigserial, index, integer, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { ts } from './columns.ts';

/** Escalation mail, one row per (event, recipient): the unique key makes "sent exactly once" hold. */
export const emails = pgTable('emails', {
  id: text('id').primaryKey(),
  dedupeKey: text('dedupe_key').notNull().unique(),
  alertId: text('alert_id'),
  incidentId: text('incident_id'),
  unitId: text('unit_id'),
  to: text('to').notNull(),
  subject: text('subject').notNull(),
  body: text('body').notNull(),
  status: text('status').notNull(),
  attempts: integer('attempts').notNull().default(0),
  /** A failed send is retried from here on (backoff); a row being sent is leased until lease_until. */
  nextAttemptAt: ts('next_attempt_at'),
  leaseUntil: ts('lease_until'),
  lastError: text('last_error'),
  messageId: text('message_id'),
  createdAt: ts('created_at').notNull(),
  sentAt: ts('sent_at'),
});

/**
 * Every outbound notification, one row per (clock, ladder step, recipient, channel) — the
 * unique key that makes a re-run of the step add nothing. Written in the transaction of the
 * clock change that caused it; sent by the dispatcher (packages/notify) under a lease
 * (lease_token fences the mark), retried with backoff, failed rows raise a `delivery_failed`
 * alert. `id` is the stable Message-ID. `group_key` (incident or duty) + channel + seq keeps
 * one matter's notifications in order.
 */
export const notifications = pgTable(
  'notifications',
  {
    id: text('id').primaryKey(),
    seq: bigserial('seq', { mode: 'number' }).notNull(),
    /** `incident:<id>:<seq>` or `obligation:<id>` (see clockKey). */
    clockKey: text('clock_key').notNull(),
    /** The ladder firing key, e.g. `urge#0`. */
    step: text('step').notNull(),
    stepKind: text('step_kind').notNull(),
    /** The ladder role the recipient was resolved from (unit, supervisor, leaders, duty). */
    role: text('role').notNull(),
    /** An address (email, phone) or, for webhook and robots, a configured target name. */
    recipient: text('recipient').notNull(),
    recipientUnitId: text('recipient_unit_id'),
    channel: text('channel').notNull(),
    groupKey: text('group_key').notNull(),
    incidentId: text('incident_id'),
    obligationId: text('obligation_id'),
    clockKind: text('clock_kind'),
    clockSeq: integer('clock_seq'),
    subject: text('subject').notNull(),
    text: text('text').notNull(),
    html: text('html'),
    /** pending → sending → sent | failed; pending → cancelled when the clock stops first. */
    status: text('status').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: ts('next_attempt_at'),
    leaseToken: text('lease_token'),
    leaseUntil: ts('lease_until'),
    lastError: text('last_error'),
    messageId: text('message_id'),
    createdAt: ts('created_at').notNull(),
    sentAt: ts('sent_at'),
    failedAt: ts('failed_at'),
    cancelledAt: ts('cancelled_at'),
  },
  (t) => [
    uniqueIndex('notifications_step_recipient_uq').on(t.clockKey, t.step, t.recipient, t.channel),
    index('notifications_due_idx')
      .on(t.nextAttemptAt)
      .where(sql`status in ('pending', 'sending')`),
    index('notifications_group_idx')
      .on(t.groupKey, t.channel, t.seq)
      .where(sql`status in ('pending', 'sending')`),
    index('notifications_incident_idx').on(t.incidentId),
    index('notifications_obligation_idx').on(t.obligationId),
  ],
);
