/**
 * The deployment's signal-id key and the signal id of a 12345 ticket (signal-key.ts), on both
 * databases: made once and audited without the key, the same for every process, different in
 * every deployment; the service's role may not change it (PostgreSQL, where roles exist).
 */
import { APP_ROLE, openPostgres, rowsOf, sql } from '@huiying/db';
import { bothDatabases, closeTestDatabase, freshDatabase, type TestDatabase, uniqueName } from '@huiying/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hotlineSignalId, loadSignalKey } from '../src/signal-key.ts';
import { signalId } from '../src/signals.ts';

describe('hotlineSignalId', () => {
  const k1 = 'a'.repeat(64);
  const k2 = 'b'.repeat(64);
  it('keeps the plain id of a ticket id without personal data', () => {
    expect(hotlineSignalId('hotline-city:2026093000123', k1)).toBe(signalId('hotline', 'hotline-city:2026093000123'));
    expect(hotlineSignalId('T-R1', k2)).toBe(signalId('hotline', 'T-R1'));
  });
  it('keys the id of a ticket id that holds a phone number: stable in a deployment, different across them, not the plain hash', () => {
    const ref = 'hotline-city:13911112222';
    expect(hotlineSignalId(ref, k1)).toBe(hotlineSignalId(ref, k1));
    expect(hotlineSignalId(ref, k1)).not.toBe(hotlineSignalId(ref, k2));
    expect(hotlineSignalId(ref, k1)).not.toBe(signalId('hotline', ref));
    expect(hotlineSignalId(ref, k1)).toMatch(/^sig_[0-9a-f]{24}$/);
  });
});

describe.each(bothDatabases)('the signal-id key on $name', ({ name, open }) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await open();
  });
  afterAll(async () => {
    await closeTestDatabase(db);
  });

  it('is made once (audited, without the key) and then read: concurrent first asks agree', async () => {
    const keys = await Promise.all(Array.from({ length: name === 'postgres' ? 5 : 1 }, () => loadSignalKey(db.db, 'system:test')));
    keys.push(await loadSignalKey(db.db));
    expect(new Set(keys).size).toBe(1);
    expect(keys[0]).toMatch(/^[0-9a-f]{64}$/);
    const audit = rowsOf<{ actor: string; input: unknown }>(
      await db.db.execute(sql`select actor, input from audit_log where action = 'deployment_key.created'`),
    );
    expect(audit).toHaveLength(1);
    expect(audit[0]!.actor).toBe('system:test');
    expect(JSON.stringify(audit[0]!.input)).not.toContain(keys[0]);
  });
});

describe('the signal-id key on two deployments', () => {
  it('differs between two databases', async () => {
    const [a, b] = [await freshDatabase(), await freshDatabase()];
    try {
      expect(await loadSignalKey(a.db)).not.toBe(await loadSignalKey(b.db));
    } finally {
      await a.drop();
      await b.drop();
    }
  });

  it('may be added but not changed or removed by the service role', async () => {
    const db = await freshDatabase();
    const login = uniqueName('hy_key_login');
    await db.db.execute(sql.raw(`create role ${login} login in role ${APP_ROLE}`));
    const service = openPostgres(db.url.replace('//postgres@', `//${login}@`));
    try {
      const key = await loadSignalKey(service.db);
      expect(await loadSignalKey(db.db)).toBe(key);
      // drizzle wraps PostgreSQL's error: its message is the cause's.
      const refusal = (p: Promise<unknown>) =>
        p.then(
          () => 'done',
          (e: Error & { cause?: Error }) => e.cause?.message ?? e.message,
        );
      expect(await refusal(service.db.execute(sql`update deployment_keys set key = 'x'`))).toMatch(/permission denied/);
      expect(await refusal(service.db.execute(sql`delete from deployment_keys`))).toMatch(/permission denied/);
      expect(await loadSignalKey(db.db)).toBe(key);
    } finally {
      await service.close();
      await db.db.execute(sql.raw(`drop owned by ${login}`));
      await db.db.execute(sql.raw(`drop role ${login}`));
      await db.drop();
    }
  });
});
