/**
 * The ingest process's /metrics on the real PostgreSQL, wired as main.ts wires it: who may
 * scrape, and the counters moving after tickets (accepted, duplicate, refused), the group
 * commit's batch sizes and the outbox still to publish.
 */
import { FakeClock } from '@huiying/clock';
import { authPlugin, installErrorHandler } from '@huiying/http';
import { createToken } from '@huiying/identity';
import { freshDatabase } from '@huiying/testkit';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { IngestMetrics } from '../src/metrics.ts';
import { ticketRoutes } from '../src/ticket-routes.ts';

const T0 = Date.parse('2026-09-30T20:00:00+08:00');
const clock = new FakeClock(T0);
let db: Awaited<ReturnType<typeof freshDatabase>>;
let app: FastifyInstance;
let writer = '';
let scraper = '';
let statements = 0;

beforeAll(async () => {
  db = await freshDatabase();
  writer = (await createToken(db.db, { name: 'hotline', scopes: ['tickets:write'] }, 'test', new Date(T0))).token;
  scraper = (await createToken(db.db, { name: 'prometheus', scopes: ['metrics:read'] }, 'test', new Date(T0))).token;
  app = Fastify({ logger: { level: 'error' } });
  installErrorHandler(app);
  await app.register(authPlugin, { db: db.db, clock });
  const metrics = new IngestMetrics(db.db);
  metrics.register(app);
  await app.register(ticketRoutes, {
    db: db.db,
    clock,
    realClock: clock,
    onWritten: () => {
      statements++;
      metrics.written();
    },
  });
});
afterAll(async () => {
  await app?.close();
  await db?.drop();
});

const ticket = (i: number | string, receivedAt = T0 - 60_000) => ({
  id: `M-${i}`,
  receivedAt: new Date(receivedAt).toISOString(),
  content: `噪音扰民 联系电话13812345678 (${i})`,
});
const post = (payload: unknown) =>
  app.inject({ method: 'POST', url: '/api/tickets', payload: payload as object, headers: { authorization: `Bearer ${writer}` } });
const scrape = async () => {
  const res = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${scraper}` } });
  expect(res.statusCode).toBe(200);
  return res.body;
};
const value = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

it('is for an administrator or a metrics:read token only, as the API’s', async () => {
  expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401);
  expect((await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${writer}` } })).statusCode).toBe(403);
  const text = await scrape();
  expect(text).toContain('# TYPE huiying_ingest_tickets_total counter');
  expect(value(text, 'huiying_ingest_group_commit_batch_size_count')).toBe(0);
  expect(value(text, 'huiying_outbox_pending')).toBe(0);
});

it('counts tickets by outcome, the statements’ batch sizes and the outbox pending, and no citizen’s data', async () => {
  // Five at once share group commits; one again (a duplicate); one too old (refused by the statement); a batch of three.
  const singles = await Promise.all([1, 2, 3, 4, 5].map((i) => post(ticket(i))));
  expect(singles.map((r) => r.statusCode)).toEqual([201, 201, 201, 201, 201]);
  expect((await post(ticket(1))).statusCode).toBe(200);
  expect((await post(ticket('old', T0 - 30 * 86_400_000))).statusCode).toBe(400);
  const batch = await post([ticket(6), ticket(7), ticket(2)]);
  expect(batch.json()).toMatchObject({ accepted: 2, duplicates: 1, refused: 0 });
  await new Promise((r) => setImmediate(r)); // the last statement's batch is recorded at the next turn

  const text = await scrape();
  expect(value(text, 'huiying_ingest_tickets_total{outcome="accepted"}')).toBe(7);
  expect(value(text, 'huiying_ingest_tickets_total{outcome="duplicate"}')).toBe(2);
  expect(value(text, 'huiying_ingest_tickets_total{outcome="refused"}')).toBe(1);
  // Every ticket written, in as many batches as statements were written.
  expect(value(text, 'huiying_ingest_group_commit_batch_size_sum')).toBe(5 + 1 + 1 + 3);
  expect(value(text, 'huiying_ingest_group_commit_batch_size_count')).toBe(statements);
  expect(statements).toBeLessThan(5 + 1 + 1 + 1); // the five shared at least one commit
  // Seven new signals queued for the bus, none published (no relay here).
  expect(value(text, 'huiying_outbox_pending')).toBe(7);
  expect(text).toMatch(/huiying_http_request_duration_seconds_count\{method="POST",route="\/api\/tickets",status="201"\} 5/);
  expect(text).not.toMatch(/M-\d|噪音|13812345678|138\*{4}5678/);
});
