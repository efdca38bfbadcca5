/** What comes in: feeds, signals and their grouping, 12345 hotline intake, monitoring rules, official items and the candidate responses matched from them. */
import { sql } from 'drizzle-orm';
import { bigint, boolean, index, integer, jsonb, pgTable, primaryKey, real, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { ts } from './columns.ts';

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
