/** The same migrations on real PostgreSQL and on PGlite; the audit log refuses to be rewritten. */
import { bothDatabases, closeTestDatabase, type TestDatabase } from '@huiying/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { audit, auditLog, rowsOf, OutboxRelay, enqueue, outbox, sql } from '../src/index.ts';

/** drizzle wraps the driver's error; the trigger's message is on the cause. */
const appendOnlyRefusal = (e: unknown) => /append-only/.test(String((e as { cause?: Error }).cause?.message));

describe.each(bothDatabases)('$name', ({ open }) => {
  let h: TestDatabase;
  afterAll(() => closeTestDatabase(h));

  it('migrates, and migrating again is a no-op', async () => {
    // An empty database migrated here (the other tests' databases are copies of a migrated one).
    h = await open({ fromScratch: true });
    await h.migrate();
    const tables = rowsOf<{ table_name: string }>(
      await h.db.execute(sql`select table_name from information_schema.tables where table_schema = 'public' order by 1`),
    );
    expect(tables.map((t) => t.table_name)).toEqual(
      expect.arrayContaining(['alerts', 'audit_log', 'clocks', 'emails', 'incidents', 'outbox', 'signals', 'units']),
    );
  });

  it('appends to the audit log but refuses UPDATE, DELETE and TRUNCATE', async () => {
    await audit(h.db, {
      at: new Date('2026-03-02T00:00:00Z'),
      actor: 'test',
      action: 'x.y',
      entity: 'thing',
      entityId: '1',
      input: { a: 1 },
    });
    expect(await h.db.select().from(auditLog)).toHaveLength(1);
    await expect(h.db.execute(sql`update audit_log set actor = 'evil'`)).rejects.toSatisfy(appendOnlyRefusal);
    await expect(h.db.execute(sql`delete from audit_log`)).rejects.toSatisfy(appendOnlyRefusal);
    await expect(h.db.execute(sql`truncate audit_log`)).rejects.toSatisfy(appendOnlyRefusal);
    expect((await h.db.select().from(auditLog))[0]?.actor).toBe('test');
  });

  it('relays the outbox in order, once, and keeps what failed to publish', async () => {
    await enqueue(h.db, new Date(), [
      { topic: 't', key: 'a', payload: { n: 1 } },
      { topic: 't', key: 'a', payload: { n: 2 } },
    ]);
    let fail = true;
    const published: unknown[] = [];
    const relay = new OutboxRelay(h.db, async (_topic, messages) => {
      if (fail) throw new Error('broker down');
      published.push(...messages.map((m) => JSON.parse(m.json) as unknown));
    });
    await expect(relay.flush()).rejects.toThrow('broker down');
    expect((await h.db.select().from(outbox)).every((r) => r.publishedAt === null)).toBe(true);
    fail = false;
    expect(await relay.flush()).toBe(2);
    expect(await relay.flush()).toBe(0);
    expect(published).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it('relays the stored payload text byte for byte, each topic in id order', async () => {
    const payloads = [
      {
        type: 'incident.opened',
        title: '城东高架桥出现裂缝 “紧急”\n',
        at: 1.5e12,
        tags: ['a', { b: null }],
        deep: { x: [1, 2.25, -3e-7] },
      },
      'a bare string',
      { ['😀']: 'a back\\slash, a "quote"', n: 123456789012 },
    ];
    await enqueue(
      h.db,
      new Date(),
      payloads.map((payload, i) => ({ topic: i === 1 ? 'u' : 't', key: `k${i}`, payload })),
    );
    const stored = rowsOf<{ topic: string; key: string; text: string }>(
      await h.db.execute(sql`select topic, key, payload::text as text from outbox where published_at is null order by id`),
    );
    const sent: { topic: string; key: string; json: string }[] = [];
    expect(
      await new OutboxRelay(h.db, async (topic, messages) => {
        for (const m of messages) sent.push({ topic, key: m.key, json: m.json });
      }).flush(),
    ).toBe(3);
    expect(sent.map((m) => m.json)).toEqual(expect.arrayContaining(stored.map((r) => r.text)));
    expect(sent).toEqual([
      { topic: 't', key: 'k0', json: stored[0]!.text },
      { topic: 't', key: 'k2', json: stored[2]!.text },
      { topic: 'u', key: 'k1', json: stored[1]!.text },
    ]);
    expect(sent.map((m) => JSON.parse(m.json) as unknown)).toEqual([payloads[0], payloads[2], payloads[1]]);
  });
});
