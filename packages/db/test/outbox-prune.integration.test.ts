/**
 * The outbox is pruned once published: rows the relay published more than the retention ago
 * are deleted (their payloads carry ticket text), pending rows never. Real PostgreSQL and PGlite.
 */
import { bothDatabases, closeTestDatabase, eventually, type TestDatabase } from '@huiying/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { enqueue, OutboxRelay, outbox, rowsOf, sql } from '../src/index.ts';

describe.each(bothDatabases)('$name', ({ open }) => {
  let h: TestDatabase;
  afterAll(() => closeTestDatabase(h));
  const keys = async () =>
    rowsOf<{ key: string; published: boolean }>(
      await h.db.execute(sql`select key, published_at is not null as published from outbox order by id`),
    ).map((r) => `${r.key}:${r.published ? 'sent' : 'pending'}`);

  it('deletes published rows older than the retention, keeps younger and pending ones', async () => {
    h = await open();
    const published: string[] = [];
    const relay = new OutboxRelay(h.db, async (_topic, messages) => void published.push(...messages.map((m) => m.key)), {
      retentionMs: 3_600_000,
    });
    const at = new Date();
    await enqueue(
      h.db,
      at,
      ['a', 'b', 'c'].map((key) => ({ topic: 't', key, payload: { text: '联系电话13812345678' } })),
    );
    expect(await relay.flush()).toBe(3);
    expect(published).toEqual(['a', 'b', 'c']);
    // Published just now: within the retention, nothing goes.
    expect(await relay.prune()).toBe(0);
    // Two of them were published two hours ago; one row is pending (and old: pending is never pruned).
    await h.db.execute(sql`update outbox set published_at = now() - interval '2 hours' where key in ('a', 'b')`);
    await h.db.insert(outbox).values({ topic: 't', key: 'd', payload: {}, createdAt: new Date(Date.now() - 86_400_000) });
    expect(await relay.prune()).toBe(2);
    expect(await keys()).toEqual(['c:sent', 'd:pending']);
    expect(await relay.prune()).toBe(0);
  });

  it('a running relay prunes on its own: with no retention, published rows are gone', async () => {
    await h.db.delete(outbox);
    const relay = new OutboxRelay(h.db, async () => {}, { retentionMs: 0, pollMs: 20 });
    await enqueue(h.db, new Date(), [{ topic: 't', key: 'x', payload: { text: '张三 13812345678' } }]);
    relay.start();
    try {
      await eventually(async () => (await keys()).length === 0, 'outbox emptied by the relay');
    } finally {
      await relay.stop();
    }
  });
});
