/**
 * Fuzzing POST /api/tickets on the real PostgreSQL: random and malformed bodies — raw bytes,
 * arbitrary JSON, tickets with fields of the wrong type, control characters, lone surrogates,
 * impossible dates, batches with repeats — never produce a 5xx, and every ticket answered 2xx
 * with a signal is in the database exactly once (and nothing is stored that was not answered).
 */
import { FakeClock } from '@huiying/clock';
import { rowsOf, sql } from '@huiying/db';
import { authPlugin, installErrorHandler } from '@huiying/http';
import { createToken } from '@huiying/identity';
import { freshDatabase } from '@huiying/testkit';
import fc from 'fast-check';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHotlineSource, signBody } from '../src/hotline-auth.ts';
import { ticketRoutes } from '../src/ticket-routes.ts';

const T0 = Date.parse('2026-09-30T20:00:00+08:00');
const clock = new FakeClock(T0);
let db: Awaited<ReturnType<typeof freshDatabase>>;
let app: FastifyInstance;
let token = '';
let secret = '';
/** Every signal id answered in a 2xx, and how often it was answered as newly stored. */
const answered = new Map<string, number>();
const statuses = new Map<number, number>();

beforeAll(async () => {
  db = await freshDatabase();
  token = (await createToken(db.db, { name: 'fuzz', scopes: ['tickets:write'] }, 'test', new Date(T0))).token;
  secret = (await createHotlineSource(db.db, { name: 'fuzz-src' }, 'test', new Date(T0))).secret;
  app = Fastify({ logger: { level: 'silent' } });
  installErrorHandler(app);
  await app.register(authPlugin, { db: db.db, clock });
  await app.register(ticketRoutes, { db: db.db, clock, realClock: clock });
});
afterAll(async () => {
  await app?.close();
  await db?.drop();
});

const text = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  fc.constantFrom('', ' ', '\u0000', 'a\u0000b', '\ud800', 'x\udfff', '噪音扰民 13812345678', '\u202e', '__proto__'),
);
const instant = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .date({ min: new Date(T0 - 30 * 86_400_000), max: new Date(T0 + 86_400_000), noInvalidDate: true })
      .map((d) => d.toISOString()),
  },
  fc.constantFrom('2026-02-30T10:00:00Z', '2026-09-30T23:59:60Z', '2026-09-30T20:00:00+08:00', '1970-01-01T00:00:00Z', 'not a date', ''),
  fc.date({ min: new Date('1900-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString()),
);
const anything = fc.oneof(
  text,
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 2 }),
  fc.object({ maxDepth: 1 }),
);
/** Any shape: fields of the wrong type, missing, or extra. */
const wildTicket = fc.record(
  {
    id: fc.oneof(fc.constantFrom('A', 'B', 'C', 'D', 'E', 'F'), text, anything),
    receivedAt: fc.oneof(instant, instant, anything),
    content: fc.oneof(text, text, anything),
    title: fc.oneof(text, anything),
    category: text,
    area: text,
    unit: text,
    caller: text,
    phone: text,
    backfill: fc.oneof(fc.boolean(), anything),
    extra: anything,
  },
  { requiredKeys: [] },
);
/** Well-formed but for the values: a small id pool (so repeats happen), any text, any instant. */
const goodTicket = fc.record(
  {
    id: fc.oneof(fc.constantFrom('A', 'B', 'C', 'D', 'E', 'F'), fc.string({ minLength: 1, maxLength: 12 }), text),
    receivedAt: instant,
    content: fc.oneof(fc.string({ minLength: 1, maxLength: 40 }), text),
    title: text,
    category: fc.constantFrom('投诉', '咨询', '求助'),
    caller: fc.constantFrom('张三', '欧阳娜娜', '王'),
    phone: fc.constantFrom('13812345678', '+86 138-1234-5678', '0591-87654321'),
    backfill: fc.boolean(),
  },
  { requiredKeys: ['id', 'receivedAt', 'content'] },
);
const ticket = fc.oneof({ weight: 8, arbitrary: goodTicket }, { weight: 1, arbitrary: wildTicket });
const body = fc.oneof(
  { weight: 3, arbitrary: ticket.map((t) => JSON.stringify(t)) },
  { weight: 3, arbitrary: fc.array(ticket, { maxLength: 8 }).map((b) => JSON.stringify(b)) },
  { weight: 1, arbitrary: fc.json({ maxDepth: 2 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      '[]',
      '{}',
      'null',
      '[null]',
      '{"__proto__":{"x":1}}',
      '{"constructor":{"prototype":{}}}',
      '[{"id":"A"}]',
    ),
  },
);

interface Result {
  signalId?: string;
  duplicate?: boolean;
  error?: unknown;
}

function record(status: number, payload: string) {
  statuses.set(status, (statuses.get(status) ?? 0) + 1);
  expect(status, payload).toBeLessThan(500);
  if (status !== 200 && status !== 201) return;
  const json = JSON.parse(payload) as Result | { results: Result[] };
  for (const r of 'results' in json ? json.results : [json]) {
    if (!r.signalId) continue;
    answered.set(r.signalId, (answered.get(r.signalId) ?? 0) + (r.duplicate === false ? 1 : 0));
  }
}

describe('fuzzing POST /api/tickets', () => {
  it('never answers 5xx to token-authenticated bodies, whatever they hold', async () => {
    await fc.assert(
      fc.asyncProperty(
        body,
        fc.constantFrom('application/json', 'application/json', 'application/json; charset=utf-8', 'text/plain'),
        async (payload, type) => {
          const res = await app.inject({
            method: 'POST',
            url: '/api/tickets',
            payload,
            headers: { authorization: `Bearer ${token}`, 'content-type': type },
          });
          record(res.statusCode, res.body);
        },
      ),
      { numRuns: 400 },
    );
  }, 120_000);

  it('never answers 5xx to signed bodies, well or badly signed', async () => {
    await fc.assert(
      fc.asyncProperty(body, fc.boolean(), fc.integer({ min: -600, max: 600 }), async (payload, good, skew) => {
        const timestamp = String(Math.floor(clock.now() / 1000) + skew);
        const res = await app.inject({
          method: 'POST',
          url: '/api/tickets',
          payload,
          headers: {
            'content-type': 'application/json',
            'x-huiying-source': 'fuzz-src',
            'x-huiying-timestamp': timestamp,
            'x-huiying-signature': good ? signBody(secret, timestamp, payload) : `sha256=${'ab'.repeat(32)}`,
          },
        });
        // Badly signed: refused (401, or 400/415 when the body cannot even be parsed), never stored.
        if (!good || Math.abs(skew) > 300) expect([400, 401, 415]).toContain(res.statusCode);
        record(res.statusCode, res.body);
        // Each signed request has its own timestamp, so none is refused as a replay of another.
        await clock.advanceBy(1000);
      }),
      { numRuns: 300 },
    );
  }, 120_000);

  it('stored every ticket answered with a signal exactly once, and nothing else', async () => {
    const rows = rowsOf<{ id: string; n: number }>(await db.db.execute(sql`select id, count(*)::int as n from signals group by id`));
    expect(answered.size).toBeGreaterThan(30);
    expect(new Set(rows.map((r) => r.id))).toEqual(new Set(answered.keys()));
    expect(rows.every((r) => r.n === 1)).toBe(true);
    // Answered "newly stored" once per signal, however often it was resent.
    expect([...answered.values()].every((n) => n === 1)).toBe(true);
    const tickets = rowsOf<{ n: number }>(await db.db.execute(sql`select count(*)::int as n from hotline_tickets`))[0]!.n;
    expect(tickets).toBe(rows.length);
    // The fuzzer reached both sides: refusals and acceptances.
    expect(statuses.get(400) ?? 0).toBeGreaterThan(0);
    expect((statuses.get(200) ?? 0) + (statuses.get(201) ?? 0)).toBeGreaterThan(0);
  });
});
