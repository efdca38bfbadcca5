import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  real,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** 责任单位 / 牵头单位 and the supervising offices: who answers, who gets the escalation mail. */
export const units = pgTable('units', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  email: text('email'),
  parentId: text('parent_id'),
  createdAt: ts('created_at').notNull().defaultNow(),
  /** Other channels (0016): a mobile for SMS, and target names of its robots / webhook in the engine's config. */
  phone: text('phone'),
  wecomRobot: text('wecom_robot'),
  dingtalkRobot: text('dingtalk_robot'),
  webhookTarget: text('webhook_target'),
  /** 辖区 (0026): the 约谈 rule and its duties' ladder are this jurisdiction's (the rule pack's overrides). */
  jurisdiction: text('jurisdiction').notNull().default('default'),
});

/**
 * Watched RSS/Atom feeds, with the HTTP validators that make polling cheap (kept across
 * restarts), their health, and the lease that lets exactly one ingest process poll each.
 */
export const feeds = pgTable(
  'feeds',
  {
    id: text('id').primaryKey(),
    url: text('url').notNull(),
    name: text('name').notNull(),
    kind: text('kind').notNull().default('news'),
    unitId: text('unit_id'),
    enabled: boolean('enabled').notNull().default(true),
    etag: text('etag'),
    lastModified: text('last_modified'),
    lastPolledAt: ts('last_polled_at'),
    lastError: text('last_error'),
    /** Items published before this are the feed's archive: stored as history, opening no clock. */
    addedAt: ts('added_at').notNull().defaultNow(),
    pollIntervalSeconds: integer('poll_interval_seconds').notNull().default(300),
    /** Null: due now. Failures push it out with backoff. */
    nextPollAt: ts('next_poll_at'),
    lastSuccessAt: ts('last_success_at'),
    lastErrorAt: ts('last_error_at'),
    consecutiveFailures: integer('consecutive_failures').notNull().default(0),
    itemsSeen: bigint('items_seen', { mode: 'number' }).notNull().default(0),
    lastEncoding: text('last_encoding'),
    leaseOwner: text('lease_owner'),
    leaseUntil: ts('lease_until'),
    /** The first failure of the current run of failures (null when healthy); an hour of it raises an alert (0013). */
    failingSince: ts('failing_since'),
    /** Private ranges an administrator allowed this feed (政务外网), beyond the process-wide list. */
    allowCidrs: text('allow_cidrs')
      .array()
      .notNull()
      .default(sql`'{}'`),
    /** An official channel's update rule (seed 003 六(四)5): `working_day`, `twice_weekly`, or null for none. */
    silenceRule: text('silence_rule'),
    /** When this feed last brought a new item (an official channel's silence is measured from it). */
    lastItemAt: ts('last_item_at'),
    updatedAt: ts('updated_at'),
    /** Whose monitoring rules its items are matched against; its signals carry it (0020). */
    jurisdiction: text('jurisdiction').notNull().default('default'),
  },
  (t) => [
    index('feeds_next_poll_idx')
      .on(t.nextPollAt)
      .where(sql`enabled`),
  ],
);

/** 线索: one observed item. (source, source_ref) makes ingestion idempotent. */
export const signals = pgTable(
  'signals',
  {
    id: text('id').primaryKey(),
    source: text('source').notNull(),
    sourceRef: text('source_ref').notNull(),
    feedId: text('feed_id'),
    title: text('title'),
    content: text('content'),
    url: text('url'),
    area: text('area'),
    category: text('category'),
    unitHint: text('unit_hint'),
    publishedAt: ts('published_at'),
    receivedAt: ts('received_at').notNull(),
    incidentId: text('incident_id'),
    processedAt: ts('processed_at'),
    /** Which instant the signal carries and why (published / fetch_time / history; see decideSignalTime). */
    timeDecision: text('time_decision'),
    timeReason: text('time_reason'),
    /**
     * The intake decision (0011): opened / joined an incident, unmatched (no monitoring rule),
     * promoted by hand (人工立案), attached by hand, or moved by a duty officer's merge / split; why (link / ticket_matter / similar_text /
     * new_matter / no_rule / manual), the rule that matched, the similarity and the signal it was
     * grouped with.
     */
    decision: text('decision'),
    decisionReason: text('decision_reason'),
    ruleId: text('rule_id'),
    decisionScore: real('decision_score'),
    decisionVia: text('decision_via'),
    decidedAt: ts('decided_at'),
    /** The canonical link (host, path, query without tracking parameters): shared links group. */
    linkKey: text('link_key'),
    /**
     * Set at ingest from the feed or hotline source (0020): the engine matches this jurisdiction's
     * rules and groups the signal only with signals of the same jurisdiction.
     */
    jurisdiction: text('jurisdiction').notNull().default('default'),
  },
  (t) => [uniqueIndex('signals_source_ref_uq').on(t.source, t.sourceRef), index('signals_incident_idx').on(t.incidentId)],
);

/**
 * Where a feed signal was seen: one row per (feed, item). One item in two feeds is one signal
 * with two sources; `item_key` is the feed's own identity for it (guid, else link, else hash).
 */
export const signalSources = pgTable(
  'signal_sources',
  {
    feedId: text('feed_id').notNull(),
    itemKey: text('item_key').notNull(),
    signalId: text('signal_id').notNull(),
    guid: text('guid'),
    link: text('link'),
    contentHash: text('content_hash'),
    firstSeenAt: ts('first_seen_at').notNull(),
  },
  (t) => [primaryKey({ name: 'signal_sources_pk', columns: [t.feedId, t.itemKey] }), index('signal_sources_signal_idx').on(t.signalId)],
);

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

/** Transactional outbox: events written with the state change, relayed to the bus afterwards. */
export const outbox = pgTable(
  'outbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    topic: text('topic').notNull(),
    key: text('key').notNull(),
    payload: jsonb('payload').notNull(),
    createdAt: ts('created_at').notNull(),
    publishedAt: ts('published_at'),
  },
  (t) => [
    index('outbox_pending_idx')
      .on(t.id)
      .where(sql`published_at is null`),
  ],
);

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

/** Append-only: a trigger (migration 0001) rejects UPDATE and DELETE. */
export const auditLog = pgTable(
  'audit_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: ts('at').notNull(),
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    entity: text('entity').notNull(),
    entityId: text('entity_id').notNull(),
    input: jsonb('input'),
    result: jsonb('result'),
  },
  (t) => [index('audit_entity_idx').on(t.entity, t.entityId)],
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

/**
 * An administrator's PRC holiday arrangement for a year (国务院办公厅 notice), overriding or
 * adding to the calendar data file without a code change.
 */
export const calendarYears = pgTable('calendar_years', {
  year: integer('year').primaryKey(),
  data: jsonb('data').notNull(),
  source: text('source'),
  loadedAt: ts('loaded_at').notNull(),
  loadedBy: text('loaded_by').notNull(),
});

export type Role = 'duty' | 'unit' | 'leader' | 'admin';

/** 值班员 duty, 责任单位 unit (belongs to one unit), 领导 leader (read-only), 管理员 admin. */
export const users = pgTable('users', {
  id: text('id').primaryKey(),
  username: text('username').notNull(),
  displayName: text('display_name').notNull(),
  role: text('role').$type<Role>().notNull(),
  unitId: text('unit_id'),
  /** argon2id PHC string; null for users who only log in through the province's SSO. */
  passwordHash: text('password_hash'),
  email: text('email'),
  /** A duty officer's mobile, for urgent SMS while on shift (0016). */
  phone: text('phone'),
  disabledAt: ts('disabled_at'),
  createdAt: ts('created_at').notNull(),
  updatedAt: ts('updated_at').notNull(),
});

/** Cookie sessions. `id` is the SHA-256 of the cookie's secret, so a leaked table logs nobody in. */
export const sessions = pgTable('sessions', {
  id: text('id').primaryKey(),
  userId: text('user_id').notNull(),
  csrfToken: text('csrf_token').notNull(),
  createdAt: ts('created_at').notNull(),
  lastSeenAt: ts('last_seen_at').notNull(),
  expiresAt: ts('expires_at').notNull(),
  revokedAt: ts('revoked_at'),
  ip: text('ip'),
  userAgent: text('user_agent'),
});

/** Machine clients (the 12345 hotline system): shown once, stored hashed, scoped, revocable. */
export const apiTokens = pgTable('api_tokens', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  tokenHash: text('token_hash').notNull(),
  /** The first characters of the token, to tell tokens apart in the console. */
  prefix: text('prefix').notNull(),
  scopes: jsonb('scopes').$type<string[]>().notNull(),
  createdBy: text('created_by').notNull(),
  createdAt: ts('created_at').notNull(),
  lastUsedAt: ts('last_used_at'),
  expiresAt: ts('expires_at'),
  revokedAt: ts('revoked_at'),
});

/**
 * Leaders' statistics rollup (migration 0015; services/api/src/stats/rollup.ts): the counted,
 * not running deadlines as the last rollup run saw them, the pre-aggregated cells, and the
 * watermark up to which they are complete. (0015 also indexes incidents/obligations by
 * updated_at and the running clocks and duties by due.)
 */
export const statsFact = pgTable(
  'stats_fact',
  {
    source: text('source').notNull(),
    refId: text('ref_id').notNull(),
    seq: integer('seq').notNull(),
    kind: text('kind').notNull(),
    level: text('level'),
    unitId: text('unit_id'),
    dueUs: bigint('due_us', { mode: 'number' }).notNull(),
    respondedUs: bigint('responded_us', { mode: 'number' }),
    outcome: text('outcome').notNull(),
    retracted: boolean('retracted').notNull(),
    startUs: bigint('start_us', { mode: 'number' }),
    wide: boolean('wide').notNull().default(false),
  },
  (t) => [
    index('stats_fact_ref_idx').on(t.source, t.refId),
    index('stats_fact_due_idx').on(t.dueUs),
    index('stats_fact_wide_idx')
      .on(t.refId)
      .where(sql`wide`),
  ],
);

export const statsCell = pgTable(
  'stats_cell',
  {
    part: text('part').notNull(),
    month: text('month').notNull(),
    unit: text('unit').notNull(),
    level: text('level').notNull(),
    kind: text('kind').notNull(),
    data: jsonb('data').notNull(),
    h1: text('h1'),
    h2: text('h2'),
  },
  (t) => [primaryKey({ name: 'stats_cell_pk', columns: [t.part, t.month, t.unit, t.level, t.kind] })],
);

export const statsRollupState = pgTable('stats_rollup_state', {
  id: integer('id').primaryKey(),
  watermark: ts('watermark').notNull(),
  ranAt: ts('ran_at').notNull(),
  fullAt: ts('full_at').notNull(),
});

/**
 * The incidents and duties changed after the watermark that a run has rolled up already, at the
 * row version (xmin) it saw (migration 0024): skipped by requests and runs until they change again.
 */
export const statsSeen = pgTable(
  'stats_seen',
  {
    source: text('source').notNull(),
    refId: text('ref_id').notNull(),
    rowVersion: text('row_version').notNull(),
    updatedAt: ts('updated_at').notNull(),
  },
  (t) => [primaryKey({ name: 'stats_seen_pk', columns: [t.source, t.refId] })],
);

/**
 * Which version of a jurisdiction's grouping candidates is current: advanced by every transaction
 * holding the grouping lock (services/engine/src/grouping.ts), so an engine knows when the
 * candidates it keeps in memory were changed by another.
 */
export const groupingState = pgTable('grouping_state', {
  jurisdiction: text('jurisdiction').primaryKey(),
  version: bigint('version', { mode: 'number' }).notNull(),
});

/**
 * 12345 hotline systems that push tickets: each signs its requests with its own HMAC secret
 * (kept in clear because verifying needs it; shown once at creation), or posts with the API
 * token bound to it. A disabled source is refused.
 */
export const hotlineSources = pgTable(
  'hotline_sources',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    secret: text('secret').notNull(),
    /** The API token that posts as this source (at most one source per token). */
    tokenId: text('token_id'),
    active: boolean('active').notNull().default(true),
    /** The jurisdiction of the tickets this source posts (0020). */
    jurisdiction: text('jurisdiction').notNull().default('default'),
    createdBy: text('created_by').notNull(),
    createdAt: ts('created_at').notNull(),
    disabledAt: ts('disabled_at'),
  },
  (t) => [
    uniqueIndex('hotline_sources_name_uq').on(t.name),
    uniqueIndex('hotline_sources_token_uq')
      .on(t.tokenId)
      .where(sql`token_id is not null`),
  ],
);

/** Signatures seen within the timestamp window: a signed request is accepted once. */
export const hotlineReplays = pgTable(
  'hotline_replays',
  {
    signature: text('signature').primaryKey(),
    sourceId: text('source_id').notNull(),
    seenAt: ts('seen_at').notNull(),
  },
  (t) => [index('hotline_replays_seen_idx').on(t.seenAt)],
);

/**
 * The hotline side of a ticket signal: which source and ticket id it came as, and the caller's
 * name and phone — kept here, out of the signal's text, the bus and the audit trail.
 */
export const hotlineTickets = pgTable(
  'hotline_tickets',
  {
    signalId: text('signal_id').primaryKey(),
    sourceId: text('source_id'),
    ticketId: text('ticket_id').notNull(),
    callerName: text('caller_name'),
    callerPhone: text('caller_phone'),
    createdAt: ts('created_at').notNull(),
  },
  (t) => [index('hotline_tickets_source_idx').on(t.sourceId, t.ticketId)],
);

/** 监测方案: which signals are 政务舆情 worth an incident, per jurisdiction (see packages/domain/src/monitoring.ts). */
export const monitoringRules = pgTable(
  'monitoring_rules',
  {
    id: text('id').primaryKey(),
    jurisdiction: text('jurisdiction').notNull().default('default'),
    name: text('name').notNull(),
    /** Keyword expression (AND / OR / NOT, parentheses, quoted phrases); '' matches everything. */
    expression: text('expression').notNull().default(''),
    /** hotline / manual / feed / feed:<kind>; empty: every source. */
    sources: jsonb('sources').$type<string[]>().notNull().default([]),
    areas: jsonb('areas').$type<string[]>().notNull().default([]),
    categories: jsonb('categories').$type<string[]>().notNull().default([]),
    enabled: boolean('enabled').notNull().default(true),
    createdBy: text('created_by').notNull(),
    createdAt: ts('created_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
  },
  (t) => [
    index('monitoring_rules_jurisdiction_idx')
      .on(t.jurisdiction)
      .where(sql`enabled`),
  ],
);

/** An official channel's new item waiting to be matched to open incidents (migration 0013). */
export const officialItems = pgTable(
  'official_items',
  {
    signalId: text('signal_id').primaryKey(),
    feedId: text('feed_id').notNull(),
    unitId: text('unit_id'),
    title: text('title'),
    url: text('url'),
    publishedAt: ts('published_at').notNull(),
    /** 原创 or 转载, and why (a 来源 line naming a news outlet, a title identical to a news signal). */
    original: boolean('original').notNull(),
    originReason: text('origin_reason').notNull(),
    createdAt: ts('created_at').notNull(),
    proposedAt: ts('proposed_at'),
  },
  (t) => [
    index('official_items_pending_idx')
      .on(t.createdAt)
      .where(sql`proposed_at is null`),
  ],
);

/**
 * 候选回应: an official channel's item proposed as the response to an open incident, with the
 * match's confidence and reason, then the decision (accepted / rejected, by whom or `auto`) and why.
 */
export const responseCandidates = pgTable(
  'response_candidates',
  {
    id: text('id').primaryKey(),
    signalId: text('signal_id').notNull(),
    feedId: text('feed_id').notNull(),
    incidentId: text('incident_id').notNull(),
    unitId: text('unit_id'),
    title: text('title'),
    url: text('url'),
    publishedAt: ts('published_at').notNull(),
    original: boolean('original').notNull(),
    originReason: text('origin_reason').notNull(),
    confidence: real('confidence').notNull(),
    matchReason: text('match_reason').notNull(),
    status: text('status').notNull().default('proposed'),
    decidedAt: ts('decided_at'),
    decidedBy: text('decided_by'),
    decisionReason: text('decision_reason'),
    responseId: text('response_id'),
    createdAt: ts('created_at').notNull(),
  },
  (t) => [
    uniqueIndex('response_candidates_item_incident_uq').on(t.signalId, t.incidentId),
    index('response_candidates_status_idx').on(t.status, t.createdAt),
    index('response_candidates_incident_idx').on(t.incidentId),
  ],
);

/** 值班表: one duty officer's shift, [startsAt, endsAt); shifts may overlap (two officers on shift). */
export const dutyShifts = pgTable(
  'duty_shifts',
  {
    id: text('id').primaryKey(),
    userId: text('user_id').notNull(),
    startsAt: ts('starts_at').notNull(),
    endsAt: ts('ends_at').notNull(),
    note: text('note'),
    createdBy: text('created_by').notNull(),
    createdAt: ts('created_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
  },
  (t) => [index('duty_shifts_span_idx').on(t.startsAt, t.endsAt), index('duty_shifts_end_idx').on(t.endsAt)],
);

const bytea = customType<{ data: Buffer; driverData: Buffer | Uint8Array }>({
  dataType: () => 'bytea',
  // pg returns a Buffer, PGlite a Uint8Array: one type for the callers.
  fromDriver: (value) => (Buffer.isBuffer(value) ? value : Buffer.from(value)),
});

/**
 * 证据留存 (migration 0017): the page behind an incident's signal or a recorded response, archived
 * once per canonical URL (size-bounded, fetched under the feed policy). `state` is pending,
 * archived or failed; a failure keeps its reason (too_large, blocked_address, http_status …).
 */
export const evidence = pgTable(
  'evidence',
  {
    id: text('id').primaryKey(),
    url: text('url').notNull(),
    state: text('state').notNull().default('pending'),
    /** Private ranges the page may resolve to: the allowances of the feed that brought the link (政务外网). */
    allowCidrs: text('allow_cidrs')
      .array()
      .notNull()
      .default(sql`'{}'`),
    firstSeenAt: ts('first_seen_at').notNull(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: ts('next_attempt_at'),
    leaseOwner: text('lease_owner'),
    leaseUntil: ts('lease_until'),
    fetchedAt: ts('fetched_at'),
    finalUrl: text('final_url'),
    httpStatus: integer('http_status'),
    contentType: text('content_type'),
    size: integer('size'),
    sha256: text('sha256'),
    encoding: text('encoding'),
    body: bytea('body'),
    /** The body decoded (text pages only), for reading and search. */
    text: text('text'),
    errorCode: text('error_code'),
    error: text('error'),
  },
  (t) => [
    uniqueIndex('evidence_url_uq').on(t.url),
    index('evidence_pending_idx')
      .on(t.nextAttemptAt)
      .where(sql`state = 'pending'`),
  ],
);

/** Which signal (`kind` signal) or response (`kind` response) points at which archived page. */
export const evidenceRefs = pgTable(
  'evidence_refs',
  {
    kind: text('kind').notNull(),
    refId: text('ref_id').notNull(),
    evidenceId: text('evidence_id').notNull(),
    createdAt: ts('created_at').notNull(),
  },
  (t) => [primaryKey({ name: 'evidence_refs_pk', columns: [t.kind, t.refId] }), index('evidence_refs_evidence_idx').on(t.evidenceId)],
);

/**
 * Administrators' rule pack versions (0031): the active one (at most one, a partial unique index)
 * is the pack in force, before RULE_PACK_FILE and the default. Changes notify huiying_rule_pack.
 */
export const rulePacks = pgTable(
  'rule_packs',
  {
    version: integer('version').primaryKey(),
    document: jsonb('document').notNull(),
    note: text('note'),
    createdBy: text('created_by').notNull(),
    createdAt: ts('created_at').notNull(),
    active: boolean('active').notNull().default(false),
    activatedAt: ts('activated_at'),
    activatedBy: text('activated_by'),
  },
  (t) => [
    uniqueIndex('rule_packs_one_active_idx')
      .on(t.active)
      .where(sql`active`),
  ],
);
