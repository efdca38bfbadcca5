/**
 * Opening the database from a command-line tool (deployment scripts: user:add, token:add,
 * tickets:import, …): PostgreSQL at DATABASE_URL, or the embedded default's PGlite directory in
 * HUIYING_PGLITE_DIR, migrated before use.
 */
import { Type } from '@huiying/config';
import { type DbHandle, migrateAsOwner, openPglite, openPostgres } from './index.ts';

/** The configuration keys `openCliDb` reads (spread into the tool's schema). */
export const cliDbConfig = {
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  MIGRATION_DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  HUIYING_PGLITE_DIR: Type.Optional(Type.String()),
};

/** The database the tool works on, migrated; `fail` when neither DATABASE_URL nor HUIYING_PGLITE_DIR is set. */
export async function openCliDb(
  config: { DATABASE_URL?: string | undefined; MIGRATION_DATABASE_URL?: string | undefined; HUIYING_PGLITE_DIR?: string | undefined },
  fail: (message: string) => never,
): Promise<DbHandle> {
  const handle = config.DATABASE_URL
    ? openPostgres(config.DATABASE_URL, { max: 2 })
    : config.HUIYING_PGLITE_DIR
      ? await openPglite(config.HUIYING_PGLITE_DIR)
      : fail('set DATABASE_URL (postgres://…) or HUIYING_PGLITE_DIR');
  await migrateAsOwner(handle, config.MIGRATION_DATABASE_URL);
  return handle;
}
