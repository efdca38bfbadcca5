/** Incidents and their clocks, responses, alerts and working-day duties. */
import { sql } from 'drizzle-orm';
import { boolean, index, integer, jsonb, pgTable, primaryKey, real, text } from 'drizzle-orm/pg-core';
import { ts } from './columns.ts';

/**
 * 舆情事件. `state` is the domain's IncidentState (the single source of truth for clocks);
 * `next_wake_at` is its next warning/due instant (unindexed: the timer's queue is
 * `incident_wakes`, so that a wake's write to this wide row can be a HOT update; migration 0033).
 */
export const incidents = pgTable(
  'incidents',
  {
    id: text('id').primaryKey(),
    title: text('title').notNull(),
    level: text('level'),
    unitId: text('unit_id'),
    status: text('status').notNull(),
    startAt: ts('start_at').notNull(),
    state: jsonb('state').notNull(),
    nextWakeAt: ts('next_wake_at'),
    version: integer('version').notNull().default(1),
    createdAt: ts('created_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
    /** The earliest due of a running or breached clock (migration 0009): the board's order. */
    urgentDue: ts('urgent_due').generatedAlwaysAs(sql`incident_urgent_due(state)`),
  },
  // No index on status alone: incidents_board_idx leads with it (migration 0028).
  () => [],
);

/**
 * The timer's queue of incidents (migration 0033): one row per incident with a wake, the same
 * instant as `incidents.next_wake_at`, written by the incident writer in the same statement.
 */
export const incidentWakes = pgTable(
  'incident_wakes',
  {
    incidentId: text('incident_id')
      .primaryKey()
      .references(() => incidents.id, { onDelete: 'cascade' }),
    wakeAt: ts('wake_at').notNull(),
  },
  (t) => [index('incident_wakes_at_idx').on(t.wakeAt)],
);

/**
 * Escalation-ladder snapshots named by a hash of their content: a stored incident clock refers to
 * its snapshot instead of copying it (services/engine/src/ladder-refs.ts, migration 0038).
 * Immutable; never deleted.
 */
export const ladderSnapshots = pgTable('ladder_snapshots', {
  id: text('id').primaryKey(),
  ladder: jsonb('ladder').notNull(),
});

/** Read model of every incident's clocks, rewritten from `incidents.state` in the same transaction. */
export const clocks = pgTable(
  'clocks',
  {
    incidentId: text('incident_id').notNull(),
    seq: integer('seq').notNull(),
    kind: text('kind').notNull(),
    state: text('state').notNull(),
    startAt: ts('start_at').notNull(),
    dueAt: ts('due_at').notNull(),
    respondedAt: ts('responded_at'),
    late: boolean('late'),
    unitId: text('unit_id'),
    updatedAt: ts('updated_at').notNull(),
    /** When it becomes a 通报 candidate if still unmet then (its ladder snapshot; migration 0029). */
    reportCandidacyAt: ts('report_candidacy_at'),
  },
  (t) => [
    primaryKey({ columns: [t.incidentId, t.seq] }),
    index('clocks_due_idx').on(t.dueAt),
    // The stats rollup finds deadlines the timer changed by it (migration 0033).
    index('clocks_updated_idx').on(t.updatedAt),
    index('clocks_report_candidacy_idx')
      .on(t.reportCandidacyAt)
      .where(sql`report_candidacy_at is not null`),
  ],
);

/** 回应: what the responsible side published, with evidence. */
export const responses = pgTable('responses', {
  id: text('id').primaryKey(),
  incidentId: text('incident_id').notNull(),
  kind: text('kind').notNull(),
  original: boolean('original').notNull(),
  publishedAt: ts('published_at').notNull(),
  recordedAt: ts('recorded_at').notNull(),
  unitId: text('unit_id'),
  channel: text('channel'),
  url: text('url'),
  recordedBy: text('recorded_by'),
});

/** 预警/告警: warnings, breaches, non-qualifying responses. Ids are deterministic (idempotent). */
export const alerts = pgTable(
  'alerts',
  {
    id: text('id').primaryKey(),
    /** One of incident_id / obligation_id is set. */
    incidentId: text('incident_id'),
    obligationId: text('obligation_id'),
    kind: text('kind').notNull(),
    clock: text('clock'),
    clockSeq: integer('clock_seq'),
    dueAt: ts('due_at'),
    elapsed: real('elapsed'),
    unitId: text('unit_id'),
    at: ts('at').notNull(),
    acknowledgedAt: ts('acknowledged_at'),
    acknowledgedBy: text('acknowledged_by'),
    retractedAt: ts('retracted_at'),
    /** Set on alerts about a feed (feed_failing, channel_silent; migration 0013). */
    feedId: text('feed_id'),
    /**
     * What the duty board shows for an alert about neither an incident, a duty nor a feed (a
     * `delivery_failed` source-alert mail; migration 0025). zh-CN, no personal data.
     */
    title: text('title'),
  },
  (t) => [
    index('alerts_open_idx')
      .on(t.at)
      .where(sql`acknowledged_at is null`),
  ],
);

/**
 * Working-day disclosure duties (政策解读, 依申请公开 …). `state` is the domain's ObligationState;
 * `provisional` marks a due counted Monday–Friday because a year's holiday arrangement is missing.
 */
export const obligations = pgTable(
  'obligations',
  {
    id: text('id').primaryKey(),
    kind: text('kind').notNull(),
    title: text('title'),
    unitId: text('unit_id'),
    state: jsonb('state').notNull(),
    status: text('status').notNull(),
    dueAt: ts('due_at').notNull(),
    provisional: boolean('provisional').notNull().default(false),
    nextWakeAt: ts('next_wake_at'),
    version: integer('version').notNull().default(1),
    createdAt: ts('created_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
    /** When it becomes a 通报 candidate if still unmet then (its ladder snapshot; migration 0029). */
    reportCandidacyAt: ts('report_candidacy_at'),
  },
  (t) => [
    index('obligations_report_candidacy_idx')
      .on(t.reportCandidacyAt)
      .where(sql`report_candidacy_at is not null`),
    index('obligations_next_wake_idx')
      .on(t.nextWakeAt)
      .where(sql`next_wake_at is not null`),
    index('obligations_provisional_idx').on(t.provisional),
  ],
);
