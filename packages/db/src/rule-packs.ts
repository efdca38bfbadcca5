import { count, desc, eq, max, sql } from 'drizzle-orm';
import type { Db, DbOrTx, Tx } from './index.ts';
import { rulePacks } from './schema.ts';

/** Serialises numbering and activation of versions (any constant no other lock uses). */
const sqlLock = sql`select pg_advisory_xact_lock(7031)`;

export type RulePackRow = typeof rulePacks.$inferSelect;

/** The active rule pack version, if an administrator activated one. */
export async function activeRulePack(db: DbOrTx): Promise<RulePackRow | undefined> {
  const [row] = await db.select().from(rulePacks).where(eq(rulePacks.active, true));
  return row;
}

/** The versions, newest first, and how many there are. */
export async function listRulePacks(db: Db, page: { limit: number; offset: number }): Promise<{ items: RulePackRow[]; total: number }> {
  const items = await db.select().from(rulePacks).orderBy(desc(rulePacks.version)).limit(page.limit).offset(page.offset);
  const [{ n } = { n: 0 }] = await db.select({ n: count() }).from(rulePacks);
  return { items, total: n };
}

/**
 * Makes `version` the active one (the partial unique index keeps it the only one). Undefined when
 * there is no such version. Within the caller's transaction, which also writes the audit entry.
 */
export async function activateRulePack(tx: Tx, version: number, by: string, at: Date): Promise<RulePackRow | undefined> {
  // The next version number and the switch are serialised, so two administrators cannot both win.
  await tx.execute(sqlLock);
  const [target] = await tx.select().from(rulePacks).where(eq(rulePacks.version, version));
  if (!target) return undefined;
  await tx.update(rulePacks).set({ active: false }).where(eq(rulePacks.active, true));
  const [row] = await tx
    .update(rulePacks)
    .set({ active: true, activatedAt: at, activatedBy: by })
    .where(eq(rulePacks.version, version))
    .returning();
  return row;
}

/** Stores a validated document as the next version and makes it the active one. */
export async function storeRulePack(tx: Tx, entry: { document: unknown; note: string | null; by: string; at: Date }): Promise<RulePackRow> {
  await tx.execute(sqlLock);
  const [{ last } = { last: 0 }] = await tx.select({ last: max(rulePacks.version) }).from(rulePacks);
  const version = (last ?? 0) + 1;
  await tx.insert(rulePacks).values({ version, document: entry.document, note: entry.note, createdBy: entry.by, createdAt: entry.at });
  const row = await activateRulePack(tx, version, entry.by, entry.at);
  return row!;
}
