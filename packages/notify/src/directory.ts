import { and, type DbOrTx, isNotNull, isNull, units, users } from '@huiying/db';
import type { Contact, Directory, DirectoryUnit } from './ladder-notifications.ts';

/** Every unit with its supervising office (parent_id), for contactsFor. */
export async function loadDirectoryUnits(db: DbOrTx): Promise<Map<string, DirectoryUnit>> {
  const rows = await db.select({ id: units.id, name: units.name, email: units.email, parentId: units.parentId }).from(units);
  return new Map(rows.map((r) => [r.id, r]));
}

/**
 * The leaders in charge: the enabled users with the `leader` role and an email address (the
 * address they log in with is the one the 通报 reaches; administrators set it on the user).
 */
export async function loadLeaders(db: DbOrTx): Promise<Contact[]> {
  const rows = await db
    .select({ name: users.displayName, email: users.email, role: users.role, disabledAt: users.disabledAt })
    .from(users)
    .where(and(isNotNull(users.email), isNull(users.disabledAt)));
  return rows
    .filter((r) => r.role === 'leader' && r.email)
    .sort((a, b) => (a.email! < b.email! ? -1 : a.email! > b.email! ? 1 : 0))
    .map((r) => ({ name: r.name, unitId: null, addresses: { email: r.email! } }));
}

export interface DirectoryOptions {
  /** The 政务公开办 duty mailbox: what an unassigned matter's unit would get, and the supervisor of a unit without a parent. */
  dutyEmail: string | null;
  dutyOfficeName?: string;
}

/** The directory as the database has it now (units, their parents, leaders) plus the configured duty office. */
export async function loadDirectory(db: DbOrTx, o: DirectoryOptions): Promise<Directory> {
  // One after the other: inside a transaction both run on its one connection anyway.
  const unitMap = await loadDirectoryUnits(db);
  const leaders = await loadLeaders(db);
  return {
    units: unitMap,
    dutyOffice: { name: o.dutyOfficeName ?? '政务公开办值班室', unitId: null, addresses: o.dutyEmail ? { email: o.dutyEmail } : {} },
    leaders,
  };
}
