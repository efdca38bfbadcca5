/**
 * A production process that connects as the audit table's owner (no separate migration role)
 * says so once at start: the append-only audit log is then no evidence. Connected as a member
 * of huiying_app (migrations run as the owner), it says nothing. Real PostgreSQL and Kafka.
 */
import { APP_ROLE, sql } from '@huiying/db';
import { freshDatabase, KAFKA_BROKERS, uniqueName } from '@huiying/testkit';
import pino from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openProductionPorts } from '../src/index.ts';

let db: Awaited<ReturnType<typeof freshDatabase>>;
const login = uniqueName('hy_app_login');
/** One set of topics for both starts (the second finds them made). */
const topicPrefix = `${uniqueName('audit_warning')}.`;

beforeAll(async () => {
  db = await freshDatabase();
  await db.db.execute(sql.raw(`create role ${login} login in role ${APP_ROLE}`));
});

afterAll(async () => {
  await db?.db.execute(sql.raw(`drop role if exists ${login}`));
  await db?.drop();
});

/** Starts the ports as a service does and returns the warnings logged. */
async function warningsAtStart(databaseUrl: string, migrationUrl?: string): Promise<{ msg: string; role?: string }[]> {
  const lines: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
  const ports = await openProductionPorts(
    'audit-warning-test',
    {
      DATABASE_URL: databaseUrl,
      MIGRATION_DATABASE_URL: migrationUrl,
      KAFKA_BROKERS: KAFKA_BROKERS.join(','),
      KAFKA_TOPIC_PREFIX: topicPrefix,
      LOG_LEVEL: 'warn',
    },
    { logger },
  );
  await ports.close();
  return lines.map((l) => JSON.parse(l) as { msg: string; role?: string }).filter((l) => /audit/.test(l.msg));
}

it('warns once when the service connects as the owner of the audit table', async () => {
  const warnings = await warningsAtStart(db.url);
  expect(warnings).toHaveLength(1);
  expect(warnings[0]!.role).toBe('postgres');
  expect(warnings[0]!.msg).toMatch(/^the audit table is not protected: .*MIGRATION_DATABASE_URL/);
});

it('says nothing when it connects as a member of huiying_app and migrations run as the owner', async () => {
  expect(await warningsAtStart(db.url.replace('//postgres@', `//${login}@`), db.url)).toEqual([]);
});
