import { randomUUID } from 'node:crypto';
import { audit, type Db, type DbOrTx, eq, type Role, sql, units, users } from '@huiying/db';
import { hashPassword, passwordProblem, verifyPassword } from './passwords.ts';
import { ROLES } from './principal.ts';

export class IdentityError extends Error {
  constructor(
    readonly code: 'HY_VALIDATION' | 'HY_CONFLICT' | 'HY_NOT_FOUND',
    message: string,
  ) {
    super(message);
  }
}

export interface NewUser {
  username: string;
  displayName?: string;
  role: Role;
  unitId?: string | null;
  password?: string | null;
  email?: string | null;
  /** A duty officer's mobile, for urgent SMS while on shift. */
  phone?: string | null;
}

export type UserRow = typeof users.$inferSelect;

const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$/;

async function checkUnit(db: DbOrTx, role: Role, unitId: string | null | undefined): Promise<void> {
  if (role === 'unit') {
    if (!unitId) throw new IdentityError('HY_VALIDATION', '责任单位用户必须指定所属单位 (a unit user needs a unit)');
    const [u] = await db.select({ id: units.id }).from(units).where(eq(units.id, unitId));
    if (!u) throw new IdentityError('HY_VALIDATION', `unknown unit ${unitId}`);
  } else if (unitId) {
    throw new IdentityError('HY_VALIDATION', `only unit users belong to a unit (role ${role})`);
  }
}

export async function createUser(db: Db, input: NewUser, actor: string, now: Date): Promise<UserRow> {
  if (!USERNAME.test(input.username)) throw new IdentityError('HY_VALIDATION', 'username: 2–64 letters, digits, dot, dash or underscore');
  if (!ROLES.includes(input.role)) throw new IdentityError('HY_VALIDATION', `role must be one of ${ROLES.join(', ')}`);
  if (input.password) {
    const problem = passwordProblem(input.password, input.username);
    if (problem) throw new IdentityError('HY_VALIDATION', problem);
  }
  const passwordHash = input.password ? await hashPassword(input.password) : null;
  return db.transaction(async (tx) => {
    await checkUnit(tx, input.role, input.unitId);
    const [taken] = await tx
      .select({ id: users.id })
      .from(users)
      .where(sql`lower(${users.username}) = lower(${input.username})`);
    if (taken) throw new IdentityError('HY_CONFLICT', `username ${input.username} is taken`);
    const [row] = await tx
      .insert(users)
      .values({
        id: randomUUID(),
        username: input.username,
        displayName: input.displayName ?? input.username,
        role: input.role,
        unitId: input.role === 'unit' ? (input.unitId ?? null) : null,
        passwordHash,
        email: input.email ?? null,
        phone: input.phone ?? null,
        createdAt: now,
        updatedAt: now,
      })
      .returning();
    await audit(tx, {
      at: now,
      actor,
      action: 'user.created',
      entity: 'user',
      entityId: row!.id,
      input: { username: row!.username, role: row!.role, unitId: row!.unitId, displayName: row!.displayName },
    });
    return row!;
  });
}

export interface UserPatch {
  displayName?: string;
  role?: Role;
  unitId?: string | null;
  password?: string;
  email?: string | null;
  phone?: string | null;
  disabled?: boolean;
}

/** Changing the role, unit, password or disabling a user ends their sessions. */
export async function updateUser(db: Db, id: string, patch: UserPatch, actor: string, now: Date): Promise<UserRow> {
  const passwordHash = patch.password ? await hashPassword(patch.password) : undefined;
  return db.transaction(async (tx) => {
    const [current] = await tx.select().from(users).where(eq(users.id, id)).for('update');
    if (!current) throw new IdentityError('HY_NOT_FOUND', `user ${id} not found`);
    if (patch.password) {
      const problem = passwordProblem(patch.password, current.username);
      if (problem) throw new IdentityError('HY_VALIDATION', problem);
    }
    const role = patch.role ?? current.role;
    const unitId = patch.unitId !== undefined ? patch.unitId : role === 'unit' ? current.unitId : null;
    await checkUnit(tx, role, unitId);
    const [row] = await tx
      .update(users)
      .set({
        displayName: patch.displayName ?? current.displayName,
        role,
        unitId: role === 'unit' ? unitId : null,
        email: patch.email !== undefined ? patch.email : current.email,
        phone: patch.phone !== undefined ? patch.phone : current.phone,
        ...(passwordHash ? { passwordHash } : {}),
        ...(patch.disabled !== undefined ? { disabledAt: patch.disabled ? (current.disabledAt ?? now) : null } : {}),
        updatedAt: now,
      })
      .where(eq(users.id, id))
      .returning();
    const endsSessions = patch.password !== undefined || patch.disabled === true || role !== current.role || unitId !== current.unitId;
    if (endsSessions) await tx.execute(sql`update sessions set revoked_at = ${now} where user_id = ${id} and revoked_at is null`);
    const { password: _omitted, ...logged } = patch;
    await audit(tx, {
      at: now,
      actor,
      action: 'user.updated',
      entity: 'user',
      entityId: id,
      input: { ...logged, ...(patch.password ? { password: '(changed)' } : {}) },
      result: { sessionsRevoked: endsSessions },
    });
    return row!;
  });
}

export async function findUserByName(db: DbOrTx, username: string): Promise<UserRow | undefined> {
  const [row] = await db
    .select()
    .from(users)
    .where(sql`lower(${users.username}) = lower(${username})`);
  return row;
}

/** The user if the password is right and the account enabled; a miss takes as long as a hit. */
export async function authenticate(db: Db, username: string, password: string): Promise<UserRow | undefined> {
  const user = await findUserByName(db, username);
  const ok = await verifyPassword(user?.passwordHash ?? null, password);
  if (!ok || !user || user.disabledAt) return undefined;
  return user;
}
