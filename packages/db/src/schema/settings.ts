/** What administrators set: holiday years and rule pack versions; and the deployment's own keys. */
import { sql } from 'drizzle-orm';
import { boolean, integer, jsonb, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { ts } from './columns.ts';

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

/** Keys the deployment made for itself (0041): by name, added once, never changed or shown. */
export const deploymentKeys = pgTable('deployment_keys', {
  name: text('name').primaryKey(),
  key: text('key').notNull(),
  createdAt: ts('created_at').notNull(),
});
