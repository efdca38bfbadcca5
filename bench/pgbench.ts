/** The raw PostgreSQL baseline every benchmark measures beside itself: the server's own pgbench. */
export const PGBENCH = '/usr/lib/postgresql/15/bin/pgbench';
