import { randomBytes } from 'node:crypto';
import { and, type Db, eq, inArray, lt, sessions, sql, units, users } from '@huiying/db';
import type { Principal } from './principal.ts';
import { digest, newSecret } from './secrets.ts';

export interface SessionPolicy {
  /** A session ends this long after log-in, however busy. */
  absoluteMs: number;
  /** …or after this long without a request. */
  idleMs: number;
}

export const DEFAULT_SESSION_POLICY: SessionPolicy = { absoluteMs: 12 * 3_600_000, idleMs: 2 * 3_600_000 };

/** last_seen_at is written at most this often (per process), so reads do not turn into writes. */
export const TOUCH_EVERY_MS = 60_000;

export interface NewSession {
  /** The cookie value; only its digest is stored. */
  secret: string;
  id: string;
  csrfToken: string;
  expiresAt: Date;
}

export async function createSession(
  db: Db,
  userId: string,
  now: Date,
  meta: { ip?: string; userAgent?: string },
  policy = DEFAULT_SESSION_POLICY,
): Promise<NewSession> {
  const secret = newSecret('hys_');
  const id = digest(secret);
  const csrfToken = randomBytes(24).toString('base64url');
  const expiresAt = new Date(now.getTime() + policy.absoluteMs);
  await db.insert(sessions).values({
    id,
    userId,
    csrfToken,
    createdAt: now,
    lastSeenAt: now,
    expiresAt,
    ip: meta.ip ?? null,
    userAgent: meta.userAgent?.slice(0, 300) ?? null,
  });
  return { secret, id, csrfToken, expiresAt };
}

export interface ResolvedSession {
  sessionId: string;
  csrfToken: string;
  principal: Principal;
  unitName: string | null;
}

/**
 * A session row with its user, as read from the database: what a process may keep between
 * requests (packages/http session cache). Whether it is still live is decided per request
 * (`sessionLive`), so expiry stays exact however long the record is kept.
 */
export interface SessionRecord {
  resolved: ResolvedSession;
  /** Epoch milliseconds. */
  expiresAt: number;
  /** Epoch milliseconds; advanced in place when this process touches the session. */
  lastSeenAt: number;
  revoked: boolean;
  userDisabled: boolean;
}

/** The session `id` (the digest of its cookie) with its user, or undefined if there is none. */
export async function readSession(db: Db, id: string): Promise<SessionRecord | undefined> {
  return (await readSessions(db, [id])).get(id);
}

/** Several sessions with their users in one query, by id; ids without a row are absent. */
export async function readSessions(db: Db, ids: readonly string[]): Promise<Map<string, SessionRecord>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .select({ s: sessions, u: users, unitName: units.name })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .leftJoin(units, eq(units.id, users.unitId))
    .where(inArray(sessions.id, [...ids]));
  return new Map(rows.map((row) => [row.s.id, recordOf(row)]));
}

function recordOf({
  s,
  u,
  unitName,
}: {
  s: typeof sessions.$inferSelect;
  u: typeof users.$inferSelect;
  unitName: string | null;
}): SessionRecord {
  return {
    expiresAt: s.expiresAt.getTime(),
    lastSeenAt: s.lastSeenAt.getTime(),
    revoked: s.revokedAt !== null,
    userDisabled: u.disabledAt !== null,
    resolved: {
      sessionId: s.id,
      csrfToken: s.csrfToken,
      unitName,
      principal: {
        kind: 'user',
        id: u.id,
        username: u.username,
        displayName: u.displayName,
        role: u.role,
        unitId: u.unitId,
        scopes: [],
      },
    },
  };
}

/** When the session stops being live if nothing touches it (epoch ms): the absolute end or the idle limit. */
export function sessionEnds(r: SessionRecord, policy = DEFAULT_SESSION_POLICY): number {
  return Math.min(r.expiresAt, r.lastSeenAt + policy.idleMs + 1);
}

/** Not revoked, user not disabled, before the absolute end and not idle too long, at `now` (epoch ms). */
export function sessionLive(r: SessionRecord, now: number, policy = DEFAULT_SESSION_POLICY): boolean {
  return !r.revoked && !r.userDisabled && r.expiresAt > now && now - r.lastSeenAt <= policy.idleMs;
}

/**
 * Records the request in `last_seen_at` if the record's copy is older than TOUCH_EVERY_MS (so a
 * busy session costs one write a minute, not one per request). The record is advanced first,
 * so concurrent requests do not all write; the database's value never moves back.
 */
export async function touchSession(db: Db, r: SessionRecord, now: Date): Promise<void> {
  if (now.getTime() - r.lastSeenAt <= TOUCH_EVERY_MS) return;
  r.lastSeenAt = now.getTime();
  await db
    .update(sessions)
    .set({ lastSeenAt: now })
    .where(and(eq(sessions.id, r.resolved.sessionId), lt(sessions.lastSeenAt, now)));
}

/** The live session behind a cookie value, or undefined (unknown, revoked, expired, idle, user disabled). */
export async function resolveSession(
  db: Db,
  secret: string,
  now: Date,
  policy = DEFAULT_SESSION_POLICY,
): Promise<ResolvedSession | undefined> {
  const r = await readSession(db, digest(secret));
  if (!r || !sessionLive(r, now.getTime(), policy)) return undefined;
  await touchSession(db, r, now);
  return r.resolved;
}

export async function revokeSession(db: Db, sessionId: string, now: Date): Promise<void> {
  await db
    .update(sessions)
    .set({ revokedAt: now })
    .where(sql`${sessions.id} = ${sessionId} and ${sessions.revokedAt} is null`);
}

export async function revokeUserSessions(db: Db, userId: string, now: Date): Promise<number> {
  const rows = await db
    .update(sessions)
    .set({ revokedAt: now })
    .where(sql`${sessions.userId} = ${userId} and ${sessions.revokedAt} is null`)
    .returning({ id: sessions.id });
  return rows.length;
}
