import { type Db, type Role, units } from '@huiying/db';
import { createUser, findUserByName } from './users.ts';

export const DEMO_PASSWORD = 'huiying-demo';

export interface Account {
  username: string;
  role: Role;
  unitId: string | null;
  displayName: string;
}

/**
 * The embedded demo's (and tests') accounts: `duty`, `leader`, `admin`, and `unit-<id>` for
 * every unit in the database. Created once; existing accounts are left as they are.
 * Production never calls this: its first administrator comes from `pnpm user:add`.
 */
export async function ensureDemoAccounts(db: Db, now: Date, password = DEMO_PASSWORD): Promise<Account[]> {
  const unitRows = await db.select({ id: units.id, name: units.name }).from(units).orderBy(units.id);
  const accounts: Account[] = [
    { username: 'duty', role: 'duty', unitId: null, displayName: '值班员' },
    { username: 'leader', role: 'leader', unitId: null, displayName: '领导' },
    { username: 'admin', role: 'admin', unitId: null, displayName: '系统管理员' },
    ...unitRows.map((u) => ({ username: `unit-${u.id}`, role: 'unit' as const, unitId: u.id, displayName: u.name })),
  ];
  for (const a of accounts) {
    if (await findUserByName(db, a.username)) continue;
    await createUser(db, { ...a, password }, 'system:demo', now);
  }
  return accounts;
}
