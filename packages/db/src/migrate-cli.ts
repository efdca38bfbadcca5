/**
 * `pnpm migrate`: apply the SQL migrations to DATABASE_URL (PostgreSQL), or to the PGlite
 * directory in HUIYING_PGLITE_DIR when no DATABASE_URL is set.
 */
import { loadConfig, Type } from '@huiying/config';
import { openPglite, openPostgres } from './index.ts';

const config = loadConfig(
  Type.Object({
    DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
    HUIYING_PGLITE_DIR: Type.Optional(Type.String()),
  }),
);

const handle = config.DATABASE_URL
  ? openPostgres(config.DATABASE_URL)
  : config.HUIYING_PGLITE_DIR
    ? await openPglite(config.HUIYING_PGLITE_DIR)
    : undefined;
if (!handle) {
  console.error('migrate: set DATABASE_URL (postgres://…) or HUIYING_PGLITE_DIR');
  process.exit(2);
}
await handle.migrate();
await handle.close();
console.log(`migrated (${handle.kind})`);
