/**
 * The application connects as a member of huiying_app, which may append to the audit log and
 * nothing else: it cannot change, delete, truncate, alter or drop it (migrations run as the
 * owner). Real PostgreSQL.
 */
import { freshDatabase, PG_ADMIN_URL, uniqueName } from '@huiying/testkit';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { APP_ROLE } from '../src/index.ts';

let db: Awaited<ReturnType<typeof freshDatabase>>;
const login = uniqueName('hy_app_login');
let app: pg.Client;

beforeAll(async () => {
  db = await freshDatabase();
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`create role ${login} login in role ${APP_ROLE}`);
  await admin.end();
  app = new pg.Client({ connectionString: db.url.replace('//postgres@', `//${login}@`) });
  await app.connect();
});

afterAll(async () => {
  await app?.end();
  await db?.drop();
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`drop role if exists ${login}`);
  await admin.end();
});

it('appends to the audit log and works with the other tables', async () => {
  await app.query(`insert into audit_log (at, actor, action, entity, entity_id) values (now(), 'user:duty', 'test', 'x', '1')`);
  await app.query(`insert into units (id, name) values ('u1', '单位')`);
  await app.query(`update units set name = '单位二' where id = 'u1'`);
  await app.query(`delete from units where id = 'u1'`);
  expect((await app.query('select count(*)::int as n from audit_log')).rows[0].n).toBe(1);
});

it.each([
  ['update audit_log set actor = $$someone else$$', /permission denied/],
  ['delete from audit_log', /permission denied/],
  ['truncate audit_log', /permission denied/],
  ['alter table audit_log disable trigger audit_log_no_update_delete', /must be owner/],
  ['drop table audit_log', /must be owner/],
  ['drop trigger audit_log_no_update_delete on audit_log', /must be owner/],
])('refuses: %s', async (statement, error) => {
  await expect(app.query(statement)).rejects.toThrow(error);
});
