import { randomBytes } from 'node:crypto';
import { type Db, eq, sessions, sql, units, users } from '@huiying/db';
import type { Principal } from './principal.ts';
import { digest, newSecret } from './secrets.ts';

export interface SessionPolicy {
  /** A session ends this long after log-in, however busy. */
  absoluteMs: number;
  /** …or after this long without a request. */
  idleMs: number;
}

export const DEFAULT_SESSION_POLICY: SessionPolicy = { absoluteMs: 12 * 3_600_000, idleMs: 2 * 3_600_000 };

/** last_seen_at is written at most this often, so reads do not turn into writes. */
const TOUCH_EVERY_MS = 60_000;

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

/** The live session behind a cookie value, or undefined (unknown, revoked, expired, idle, user disabled). */
export async function resolveSession(
  db: Db,
  secret: string,
  now: Date,
  policy = DEFAULT_SESSION_POLICY,
): Promise<ResolvedSession | undefined> {
  const id = digest(secret);
  const [row] = await db
    .select({ s: sessions, u: users, unitName: units.name })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .leftJoin(units, eq(units.id, users.unitId))
    .where(eq(sessions.id, id));
  if (!row) return undefined;
  const { s, u } = row;
  if (s.revokedAt || u.disabledAt) return undefined;
  if (s.expiresAt.getTime() <= now.getTime()) return undefined;
  if (now.getTime() - s.lastSeenAt.getTime() > policy.idleMs) return undefined;
  if (now.getTime() - s.lastSeenAt.getTime() > TOUCH_EVERY_MS) {
    await db.update(sessions).set({ lastSeenAt: now }).where(eq(sessions.id, id));
  }
  return {
    sessionId: id,
    csrfToken: s.csrfToken,
    unitName: row.unitName,
    principal: {
      kind: 'user',
      id: u.id,
      username: u.username,
      displayName: u.displayName,
      role: u.role,
      unitId: u.unitId,
      scopes: [],
    },
  };
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
