/**
 * Shapes of the identity, timeline and administration endpoints (notes/identity-contract.md).
 * Hand-written until those routes are in the OpenAPI document; then `pnpm gen:api` and
 * replace each with its `JsonOf<…>` as in types.ts.
 */
import type { Incident } from './types.ts';

export type Role = 'duty' | 'unit' | 'leader' | 'admin';

export interface User {
  id: string;
  username: string;
  displayName: string;
  role: Role;
  unit: { id: string; name: string } | null;
}

/** POST /api/auth/login, GET /api/auth/me */
export interface SessionInfo {
  user: User;
  csrfToken: string;
}

/** GET /api/incidents/:id/timeline. Every entry is read defensively: a missing field shows as —. */
export interface Timeline {
  incident: Incident;
  signals: TimelineSignal[];
  responses: TimelineResponse[];
  alerts: TimelineAlert[];
  mails: TimelineMail[];
  audit: TimelineAudit[];
}

export interface TimelineSignal {
  id: string;
  source: string;
  title: string | null;
  /** 12345 ticket text: duty officers only (null for others). */
  content?: string | null;
  url: string | null;
  area?: string | null;
  category?: string | null;
  feedId?: string | null;
  publishedAt: string | null;
  receivedAt: string;
}

export interface TimelineResponse {
  id: string;
  kind: string;
  original: boolean;
  publishedAt: string;
  recordedAt: string;
  unitId?: string | null;
  channel: string | null;
  url: string | null;
  recordedBy: string | null;
  /** An original response counts; a repost (转载) does not. */
  qualifies?: boolean;
}

export interface TimelineAlert {
  id: string;
  kind: string;
  clock: string | null;
  dueAt: string | null;
  elapsed: number | null;
  at: string;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
  retractedAt?: string | null;
}

export interface TimelineMail {
  id: string;
  to: string;
  subject: string;
  status: string;
  attempts?: number;
  lastError?: string | null;
  createdAt: string;
  sentAt: string | null;
}

export interface TimelineAudit {
  id: number | string;
  at: string;
  actor: string;
  action: string;
  entity: string;
  entityId: string;
  input?: unknown;
}

/** GET /api/admin/units */
export interface AdminUnit {
  id: string;
  name: string;
  email: string | null;
  parentId?: string | null;
}

/** GET /api/admin/users */
export interface AdminUser {
  id: string;
  username: string;
  displayName: string;
  role: Role;
  unitId: string | null;
  email: string | null;
  disabled: boolean;
  createdAt: string;
}

/** GET /api/admin/tokens */
export interface ApiToken {
  id: string;
  name: string;
  scopes: string[];
  /** The first characters of the secret, to tell tokens apart. */
  prefix?: string;
  createdBy?: string;
  createdAt: string;
  lastUsedAt?: string | null;
  revokedAt?: string | null;
}

/** POST /api/admin/tokens → the secret, shown once. */
export interface NewToken {
  id: string;
  token: string;
}
