import { type Db, units } from '@huiying/db';
import type { DirectoryUnit } from './ladder-notifications.ts';

/** Every unit with its supervising office (parent_id), for contactsFor. */
export async function loadDirectoryUnits(db: Db): Promise<Map<string, DirectoryUnit>> {
  const rows = await db.select({ id: units.id, name: units.name, email: units.email, parentId: units.parentId }).from(units);
  return new Map(rows.map((r) => [r.id, r]));
}
