/** People, units and access: 责任单位, accounts, sessions, API tokens and the duty roster. */
import { index, jsonb, pgTable, text } from 'drizzle-orm/pg-core';
import { ts } from './columns.ts';

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
