import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { type ExtractTablesWithRelations, sql } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import pg from 'pg';
import * as schema from './schema.ts';

export * from './schema.ts';
export { schema };
export { type SQL, sql, eq, and, or, isNull, isNotNull, desc, asc, inArray, lte, gte, gt, lt, like } from 'drizzle-orm';

/** One type for both drivers: production PostgreSQL through `pg`, the embedded default on PGlite. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;
export type Tx = PgTransaction<PgQueryResultHKT, typeof schema, ExtractTablesWithRelations<typeof schema>>;
export type DbOrTx = Db | Tx;

export interface DbHandle {
  db: Db;
  kind: 'postgres' | 'pglite';
  migrate(): Promise<void>;
  /**
   * LISTEN on a channel (pg_notify); resolves to an unlisten function. `onLost` is called once if
   * the listening connection ends (notifications may have been missed from then on; listen again).
   */
  listen(channel: string, onNotify: (payload: string) => void, onLost?: (error: unknown) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** Arbitrary constant key for the migration advisory lock ("huiying" in ASCII, truncated). */
const MIGRATION_LOCK = 0x6875_6979;
/** The SQL migrations and drizzle's journal of them. */
export const migrationsFolder = fileURLToPath(new URL('../migrations', import.meta.url));

/**
 * The role the application's connections belong to (production: `GRANT huiying_app TO <login>`).
 * It reads and writes every table but may only append to audit_log — and, not owning the
 * tables, cannot alter, disable the trigger on, truncate or drop it: the log stays evidence.
 */
export const APP_ROLE = 'huiying_app';

const GRANTS = `
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${APP_ROLE}') THEN
    CREATE ROLE ${APP_ROLE} NOLOGIN;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; -- another database's migration made it first
END $$;
GRANT USAGE ON SCHEMA public TO ${APP_ROLE};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${APP_ROLE};
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM ${APP_ROLE};
REVOKE UPDATE, DELETE, TRUNCATE ON deployment_keys FROM ${APP_ROLE};
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${APP_ROLE};
`;

export function openPostgres(url: string, options: { max?: number } = {}): DbHandle {
  const pool = new pg.Pool({ connectionString: url, max: options.max ?? 10 });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  const db = drizzlePg(pool, { schema }) as unknown as Db;
  return {
    db,
    kind: 'postgres',
    // Several processes boot at once in production: one migrates, the others wait for it.
    async migrate() {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
        await migratePg(drizzlePg(client), { migrationsFolder });
        // After every migration, so tables a migration adds are the application's too.
        await client.query(GRANTS);
      } finally {
        await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
        await client.end();
      }
    },
    async listen(channel, onNotify, onLost) {
      const client = new pg.Client({ connectionString: url });
      let ended = false;
      const lost = (error: unknown) => {
        if (ended) return;
        ended = true;
        onLost?.(error);
      };
      client.on('error', lost);
      client.on('end', () => lost(new Error(`LISTEN ${channel}: connection ended`)));
      await client.connect();
      client.on('notification', (n) => {
        if (n.channel === channel) onNotify(n.payload ?? '');
      });
      await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      return async () => {
        ended = true;
        await client.end().catch(() => undefined);
      };
    },
    close: () => pool.end(),
  };
}

/**
 * Apply the migrations: as the tables' owner at MIGRATION_DATABASE_URL when given (the
 * service's own login, a member of huiying_app, may not alter tables), else through `handle`.
 */
export async function migrateAsOwner(handle: DbHandle, migrationUrl: string | undefined): Promise<void> {
  if (migrationUrl) {
    const owner = openPostgres(migrationUrl, { max: 1 });
    await owner.migrate();
    await owner.close();
  } else {
    await handle.migrate();
  }
}

/**
 * Whether this connection's role could rewrite the audit log: a superuser, the table's owner (or
 * a member of it), or a role granted UPDATE, DELETE or TRUNCATE on it. The log is evidence only
 * when the service connects as a member of huiying_app and migrations run as the owner
 * (MIGRATION_DATABASE_URL). Returns the role's name when it is not protected, else null.
 */
export async function auditLogUnprotected(db: Db): Promise<string | null> {
  const [row] = rowsOf<{ role: string; unprotected: boolean }>(
    await db.execute(sql`
      select current_user as role,
        (select rolsuper from pg_roles where rolname = current_user)
        or pg_has_role(current_user, c.relowner, 'USAGE')
        or has_table_privilege(c.oid, 'UPDATE, DELETE, TRUNCATE') as unprotected
      from pg_class c where c.oid = 'public.audit_log'::regclass`),
  );
  return row?.unprotected ? row.role : null;
}

/**
 * PGlite: real PostgreSQL compiled to WASM, in process. `dataDir` undefined = in memory.
 * `loadDataDir`: start from a data directory saved with `dumpDataDir` instead of running initdb.
 */
export async function openPglite(
  dataDir?: string,
  options: { loadDataDir?: Blob } = {},
): Promise<DbHandle & { dumpDataDir(): Promise<Blob> }> {
  const client = new PGlite({ ...(dataDir ? { dataDir } : {}), ...(options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}) });
  await client.waitReady;
  const db = drizzlePglite(client, { schema }) as unknown as Db;
  return {
    db,
    kind: 'pglite',
    migrate: () => migratePglite(drizzlePglite(client), { migrationsFolder }),
    async listen(channel, onNotify) {
      return client.listen(channel, onNotify);
    },
    close: () => client.close(),
    /** The data directory as an uncompressed tarball (after a checkpoint, so it loads without recovery). */
    async dumpDataDir() {
      await client.exec('checkpoint');
      return client.dumpDataDir('none');
    },
  };
}

/** Rows of a raw query on either driver (both return `{ rows }`). */
export function rowsOf<T>(result: unknown): T[] {
  return (result as { rows: T[] }).rows;
}

export interface AuditEntry {
  at: Date;
  actor: string;
  action: string;
  entity: string;
  entityId: string;
  input?: unknown;
  result?: unknown;
}

/** Every state change writes one of these, in the transaction that makes the change. */
export async function audit(db: DbOrTx, entry: AuditEntry): Promise<void> {
  await db.insert(schema.auditLog).values({
    at: entry.at,
    actor: entry.actor,
    action: entry.action,
    entity: entry.entity,
    entityId: entry.entityId,
    input: entry.input ?? null,
    result: entry.result ?? null,
  });
}
export * from './outbox.ts';
export * from './rule-packs.ts';
export * from './notifications.ts';
export { BatchLoader } from './batch-load.ts';
export { KeptListen } from './kept-listen.ts';
