/**
 * POST /api/tickets on the real PostgreSQL: one ticket or a batch, per-item results, one
 * transaction per batch, idempotent on (source, ticket id); concurrent single tickets share commits.
 */
import { FakeClock } from '@huiying/clock';
import { rowsOf, sql } from '@huiying/db';
import { freshDatabase } from '@huiying/testkit';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signalId } from '../src/signals.ts';
import { ticketRoutes } from '../src/tickets.ts';

const T0 = Date.parse('2026-09-30T20:00:00+08:00');
let db: Awaited<ReturnType<typeof freshDatabase>>;
let app: FastifyInstance;

const ticket = (i: number) => ({
  id: `T-${i}`,
  receivedAt: new Date(T0 - 60_000).toISOString(),
  content: `小区噪音扰民 联系电话13812345678 (${i})`,
});
const count = async (query: ReturnType<typeof sql>) => rowsOf<{ n: number }>(await db.db.execute(query))[0]!.n;

beforeAll(async () => {
  db = await freshDatabase();
  app = Fastify();
  await app.register(ticketRoutes, { db: db.db, clock: new FakeClock(T0) });
});
afterAll(async () => {
  await app?.close();
  await db?.drop();
});

describe('POST /api/tickets (PostgreSQL)', () => {
  it('accepts a batch in one transaction with a result per ticket, duplicates inside the batch once', async () => {
    const batch = [...Array.from({ length: 300 }, (_, i) => ticket(i)), ticket(7)];
    const res = await app.inject({ method: 'POST', url: '/api/tickets', payload: batch });
    expect(res.statusCode).toBe(200);
    const body = res.json<{ accepted: number; duplicates: number; results: { signalId: string; duplicate: boolean }[] }>();
    expect(body.accepted).toBe(300);
    expect(body.duplicates).toBe(1);
    expect(body.results).toHaveLength(301);
    expect(body.results[0]).toEqual({ signalId: signalId('hotline', 'T-0'), duplicate: false });
    expect(body.results[300]).toEqual({ signalId: signalId('hotline', 'T-7'), duplicate: true });
    expect(await count(sql`select count(*)::int as n from signals`)).toBe(300);
    expect(await count(sql`select count(distinct xmin::text)::int as n from signals`)).toBe(1);
    expect(await count(sql`select count(*)::int as n from outbox where topic = 'huiying.signals.v1'`)).toBe(300);
    expect(await count(sql`select count(*)::int as n from audit_log where action = 'signal.accepted'`)).toBe(300);
    // The outbox keeps request order, and no phone number reaches the audit trail.
    const keys = rowsOf<{ key: string }>(await db.db.execute(sql`select key from outbox order by id limit 3`)).map((r) => r.key);
    expect(keys).toEqual([0, 1, 2].map((i) => signalId('hotline', `T-${i}`)));
    expect(await count(sql`select count(*)::int as n from audit_log where input::text like '%13812345678%'`)).toBe(0);
  });

  it('reports a repeated batch as duplicates and stores nothing new', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/tickets', payload: [ticket(1), ticket(400)] });
    expect(res.json()).toMatchObject({ accepted: 1, duplicates: 1 });
    expect(await count(sql`select count(*)::int as n from signals`)).toBe(301);
  });

  it('rejects a batch with one malformed ticket, or of more than 1000, and stores none of it', async () => {
    const bad = await app.inject({ method: 'POST', url: '/api/tickets', payload: [ticket(500), { ...ticket(501), content: '' }] });
    expect(bad.statusCode).toBe(400);
    const many = await app.inject({
      method: 'POST',
      url: '/api/tickets',
      payload: Array.from({ length: 1001 }, (_, i) => ticket(1000 + i)),
    });
    expect(many.statusCode).toBe(400);
    expect(await count(sql`select count(*)::int as n from signals`)).toBe(301);
  });

  it('answers single tickets one by one (201, then 200 when repeated) while concurrent ones share commits', async () => {
    const singles = Array.from({ length: 40 }, (_, i) => ticket(2000 + i));
    const responses = await Promise.all(singles.map((t) => app.inject({ method: 'POST', url: '/api/tickets', payload: t })));
    expect(responses.map((r) => r.statusCode)).toEqual(singles.map(() => 201));
    expect(responses.map((r) => r.json<{ signalId: string }>().signalId)).toEqual(singles.map((t) => signalId('hotline', t.id)));
    const transactions = await count(sql`select count(distinct xmin::text)::int as n from signals where source_ref like 'T-20%'`);
    expect(transactions).toBeLessThan(40);
    const again = await app.inject({ method: 'POST', url: '/api/tickets', payload: singles[0] });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual({ signalId: signalId('hotline', 'T-2000'), duplicate: true });
  });
});
