import type { Channel } from '@huiying/domain';
import { and, type DbOrTx, dutyShifts, eq, gt, isNotNull, isNull, lte, units, users } from '@huiying/db';
import type { Contact, Directory, DirectoryUnit, RosterShift } from './ladder-notifications.ts';

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

/**
 * The administrators (enabled users with the `admin` role and an email address): a failing
 * feed is theirs to fix.
 */
export async function loadAdmins(db: DbOrTx): Promise<Contact[]> {
  const rows = await db
    .select({ name: users.displayName, email: users.email, role: users.role })
    .from(users)
    .where(and(isNotNull(users.email), isNull(users.disabledAt)));
  return rows
    .filter((r) => r.role === 'admin' && r.email)
    .sort((a, b) => (a.email! < b.email! ? -1 : a.email! > b.email! ? 1 : 0))
    .map((r) => ({ name: `管理员${r.name}`, unitId: null, addresses: { email: r.email! } }));
}

/** Each unit's addresses on the other channels (0016): SMS phone, robot and webhook target names. */
export async function loadUnitChannels(db: DbOrTx): Promise<Record<string, Partial<Record<Channel, string>>>> {
  const rows = await db
    .select({ id: units.id, sms: units.phone, wecom: units.wecomRobot, dingtalk: units.dingtalkRobot, webhook: units.webhookTarget })
    .from(units);
  const out: Record<string, Partial<Record<Channel, string>>> = {};
  for (const { id, ...channels } of rows) {
    const set = Object.entries(channels).filter((e): e is [Channel, string] => typeof e[1] === 'string' && e[1].trim() !== '');
    if (set.length > 0) out[id] = Object.fromEntries(set);
  }
  return out;
}

const DAY = 86_400_000;

/**
 * The roster's shifts overlapping [from, to] whose officer is an enabled user with the duty
 * role, each with the officer's email and phone. Ordered by start, so two officers on shift
 * are listed in a stable order.
 */
export async function loadRoster(db: DbOrTx, from: number, to: number): Promise<RosterShift[]> {
  const rows = await db
    .select({
      startsAt: dutyShifts.startsAt,
      endsAt: dutyShifts.endsAt,
      id: dutyShifts.id,
      name: users.displayName,
      role: users.role,
      email: users.email,
      phone: users.phone,
    })
    .from(dutyShifts)
    .innerJoin(users, eq(users.id, dutyShifts.userId))
    .where(and(gt(dutyShifts.endsAt, new Date(from)), lte(dutyShifts.startsAt, new Date(to)), isNull(users.disabledAt)));
  return rows
    .filter((r) => r.role === 'duty')
    .sort((a, b) => a.startsAt.getTime() - b.startsAt.getTime() || (a.id < b.id ? -1 : 1))
    .map((r) => ({
      startsAt: r.startsAt.getTime(),
      endsAt: r.endsAt.getTime(),
      officer: {
        name: `值班员${r.name}`,
        unitId: null,
        addresses: { ...(r.email ? { email: r.email } : {}), ...(r.phone ? { sms: r.phone } : {}) },
      },
    }));
}

export interface DirectoryOptions {
  /** The 政务公开办 duty mailbox: what an unassigned matter's unit would get, and the supervisor of a unit without a parent. */
  dutyEmail: string | null;
  dutyOfficeName?: string;
  /** Load the duty roster around this instant (a day either side), so `duty` resolves to the officer on shift. */
  rosterAt?: number;
}

/** The directory as the database has it now (units, their parents, leaders) plus the configured duty office. */
export async function loadDirectory(db: DbOrTx, o: DirectoryOptions): Promise<Directory> {
  // One after the other: inside a transaction both run on its one connection anyway.
  const unitMap = await loadDirectoryUnits(db);
  const leaders = await loadLeaders(db);
  const unitChannels = await loadUnitChannels(db);
  const roster = o.rosterAt === undefined ? undefined : await loadRoster(db, o.rosterAt - DAY, o.rosterAt + DAY);
  return {
    units: unitMap,
    dutyOffice: { name: o.dutyOfficeName ?? '政务公开办值班室', unitId: null, addresses: o.dutyEmail ? { email: o.dutyEmail } : {} },
    leaders,
    unitChannels,
    ...(roster ? { roster } : {}),
  };
}
