/** The response-time statistics' facts, cells and rollup state. */
import { sql } from 'drizzle-orm';
import { bigint, boolean, index, integer, jsonb, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { ts } from './columns.ts';

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
