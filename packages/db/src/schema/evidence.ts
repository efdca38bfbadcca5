/** 证据留存: archived pages and what points at them. */
import { sql } from 'drizzle-orm';
import { customType, index, integer, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { ts } from './columns.ts';

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
