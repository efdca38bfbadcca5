/**
 * POST /api/tickets on the real PostgreSQL: one ticket or a batch, per-item results, one
 * transaction per batch, idempotent on (source, ticket id); concurrent single tickets share
 * commits; authenticated by an API token or an HMAC signature per hotline source; receivedAt
 * bounded (too old → 4xx per item, back-fill → history that opens no clock).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { FakeClock, systemClock } from '@huiying/clock';
import { DEFAULT_RULE_PACK } from '@huiying/domain';
import { TOPICS, type TopicName } from '@huiying/bus';
import { OutboxRelay, rowsOf, sql } from '@huiying/db';
import { sweepSignals } from '@huiying/engine';
import { authPlugin, installErrorHandler } from '@huiying/http';
import { createToken, revokeToken } from '@huiying/identity';
import { eventually, freshDatabase, kafkaBus, uniqueName } from '@huiying/testkit';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHotlineSource, disableHotlineSource, signBody } from '../src/hotline-auth.ts';
import { hotlineSignalId, loadSignalKey } from '../src/signal-key.ts';
import { signalId } from '../src/signals.ts';
import { ticketRoutes } from '../src/ticket-routes.ts';

const T0 = Date.parse('2026-09-30T20:00:00+08:00');
const DAY = 86_400_000;
const clock = new FakeClock(T0);
let db: Awaited<ReturnType<typeof freshDatabase>>;
let app: FastifyInstance;
let token = '';
let boundToken = '';
let secret = '';

const ticket = (i: number | string, extra: Record<string, unknown> = {}) => ({
  id: `T-${i}`,
  receivedAt: new Date(T0 - 60_000).toISOString(),
  content: `小区噪音扰民 联系电话13812345678 (${i})`,
  ...extra,
});
const count = async (query: ReturnType<typeof sql>) => rowsOf<{ n: number }>(await db.db.execute(query))[0]!.n;
const post = (payload: unknown, headers: Record<string, string> = { authorization: `Bearer ${token}` }) =>
  app.inject({ method: 'POST', url: '/api/tickets', payload: payload as object, headers });

/** A request signed as the hotline system would sign it. */
function signed(body: string, options: { source?: string; secret?: string; at?: number; signature?: string } = {}) {
  const timestamp = String(Math.floor((options.at ?? clock.now()) / 1000));
  return app.inject({
    method: 'POST',
    url: '/api/tickets',
    payload: body,
    headers: {
      'content-type': 'application/json',
      'x-huiying-source': options.source ?? 'hotline-city',
      'x-huiying-timestamp': timestamp,
      'x-huiying-signature': options.signature ?? signBody(options.secret ?? secret, timestamp, body),
    },
  });
}

beforeAll(async () => {
  db = await freshDatabase();
  token = (await createToken(db.db, { name: 'legacy', scopes: ['tickets:write'] }, 'test', new Date(T0))).token;
  const bound = await createToken(db.db, { name: 'district', scopes: ['tickets:write'] }, 'test', new Date(T0));
  boundToken = bound.token;
  secret = (await createHotlineSource(db.db, { name: 'hotline-city' }, 'user:admin', new Date(T0))).secret;
  await createHotlineSource(db.db, { name: 'hotline-district', tokenId: bound.id }, 'user:admin', new Date(T0));
  app = Fastify({ logger: { level: 'error' } });
  installErrorHandler(app);
  await app.register(authPlugin, { db: db.db, clock });
  await app.register(ticketRoutes, { db: db.db, clock, realClock: clock });
});
afterAll(async () => {
  await app?.close();
  await db?.drop();
});

describe('POST /api/tickets (PostgreSQL)', () => {
  it('accepts a batch in one transaction with a result per ticket, duplicates inside the batch once', async () => {
    const batch = [...Array.from({ length: 300 }, (_, i) => ticket(i)), ticket(7)];
    const res = await post(batch);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<{ accepted: number; duplicates: number; results: { signalId: string; duplicate: boolean }[] }>();
    expect(body.accepted).toBe(300);
    expect(body.duplicates).toBe(1);
    expect(body.results).toHaveLength(301);
    expect(body.results[0]).toEqual({ signalId: signalId('hotline', 'T-0'), duplicate: false, history: false });
    expect(body.results[300]).toEqual({ signalId: signalId('hotline', 'T-7'), duplicate: true, history: false });
    expect(await count(sql`select count(*)::int as n from signals`)).toBe(300);
    expect(await count(sql`select count(distinct xmin::text)::int as n from signals`)).toBe(1);
    expect(await count(sql`select count(*)::int as n from outbox where topic = 'huiying.signals.v1'`)).toBe(300);
    expect(await count(sql`select count(*)::int as n from audit_log where action = 'signal.accepted'`)).toBe(300);
    expect(await count(sql`select count(*)::int as n from signals where time_decision = 'published'`)).toBe(300);
    // The outbox keeps request order; no phone number reaches the audit trail, the signal text or the outbox.
    const keys = rowsOf<{ key: string }>(await db.db.execute(sql`select key from outbox order by id limit 3`)).map((r) => r.key);
    expect(keys).toEqual([0, 1, 2].map((i) => signalId('hotline', `T-${i}`)));
    expect(await count(sql`select count(*)::int as n from audit_log where input::text like '%13812345678%'`)).toBe(0);
    expect(await count(sql`select count(*)::int as n from signals where content like '%13812345678%'`)).toBe(0);
    expect(await count(sql`select count(*)::int as n from outbox where payload::text like '%13812345678%'`)).toBe(0);
  });

  it('reports a repeated batch as duplicates and stores nothing new', async () => {
    const res = await post([ticket(1), ticket(400)]);
    expect(res.json()).toMatchObject({ accepted: 1, duplicates: 1, refused: 0 });
    expect(await count(sql`select count(*)::int as n from signals`)).toBe(301);
  });

  it('rejects a batch with one malformed ticket, or of more than 1000, and stores none of it', async () => {
    const bad = await post([ticket(500), { ...ticket(501), content: '' }]);
    expect(bad.statusCode).toBe(400);
    const many = await post(Array.from({ length: 1001 }, (_, i) => ticket(1000 + i)));
    expect(many.statusCode).toBe(400);
    expect(await count(sql`select count(*)::int as n from signals`)).toBe(301);
  });

  it('answers single tickets one by one (201, then 200 when repeated) while concurrent ones share commits', async () => {
    const singles = Array.from({ length: 40 }, (_, i) => ticket(2000 + i));
    const responses = await Promise.all(singles.map((t) => post(t)));
    expect(responses.map((r) => r.statusCode)).toEqual(singles.map(() => 201));
    expect(responses.map((r) => r.json<{ signalId: string }>().signalId)).toEqual(singles.map((t) => signalId('hotline', t.id)));
    const transactions = await count(sql`select count(distinct xmin::text)::int as n from signals where source_ref like 'T-20%'`);
    expect(transactions).toBeLessThan(40);
    const again = await post(singles[0]);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual({ signalId: signalId('hotline', 'T-2000'), duplicate: true, history: false });
  });

  it('writes concurrent single tickets with one statement per batch: signal, outbox, audit and caller details together', async () => {
    const singles = Array.from({ length: 30 }, (_, i) => ticket(2500 + i, { caller: '张三', phone: '13900001111' }));
    const responses = await Promise.all(singles.map((t) => post(t)));
    expect(responses.map((r) => r.statusCode)).toEqual(singles.map(() => 201));
    // One statement is one transaction: the rows of a batch share xmin across the four tables.
    const ids = JSON.stringify(singles.map((t) => signalId('hotline', t.id)));
    const batches = await count(
      sql`select count(distinct xmin::text)::int as n from signals where id in (select jsonb_array_elements_text(${ids}::jsonb))`,
    );
    expect(batches).toBeLessThan(30);
    const mixed = await count(sql`
      select count(*)::int as n from signals s
      join outbox o on o.key = s.id
      join audit_log a on a.entity_id = s.id and a.action = 'signal.accepted'
      join hotline_tickets h on h.signal_id = s.id
      where s.id in (select jsonb_array_elements_text(${ids}::jsonb))
        and (o.xmin <> s.xmin or a.xmin <> s.xmin or h.xmin <> s.xmin or s.time_decision is distinct from 'published')`);
    expect(mixed).toBe(0);
    expect(
      await count(sql`select count(*)::int as n from hotline_tickets where ticket_id like 'T-25%' and caller_phone = '13900001111'`),
    ).toBe(30);
  });

  it('fails only the request whose ticket the database refuses; the tickets batched with it are stored', async () => {
    // A ticket that passes validation but fails in the database (as a broken row would).
    await db.db.execute(sql`create function refuse_t2666() returns trigger language plpgsql as $$
      begin if new.source_ref = 'T-2666' then raise exception 'refused by the test'; end if; return new; end $$`);
    await db.db.execute(sql`create trigger refuse_t2666 before insert on signals for each row execute function refuse_t2666()`);
    try {
      const singles = [2660, 2661, 2662, 2666, 2663, 2664].map((i) => ticket(i));
      const responses = await Promise.all(singles.map((t) => post(t)));
      expect(responses.map((r) => r.statusCode)).toEqual([201, 201, 201, 500, 201, 201]);
      expect(
        await count(sql`select count(*)::int as n from signals where source_ref in ('T-2660','T-2661','T-2662','T-2663','T-2664')`),
      ).toBe(5);
      expect(await count(sql`select count(*)::int as n from signals where source_ref = 'T-2666'`)).toBe(0);
      expect(await count(sql`select count(*)::int as n from outbox where key = ${signalId('hotline', 'T-2666')}`)).toBe(0);
    } finally {
      await db.db.execute(sql`drop trigger refuse_t2666 on signals`);
      await db.db.execute(sql`drop function refuse_t2666()`);
    }
  });

  it('checks the token on every request: concurrent lookups share a query, a revoked token is refused at once', async () => {
    const made = await createToken(db.db, { name: 'revocable', scopes: ['tickets:write'] }, 'test', new Date(T0));
    const auth = { authorization: `Bearer ${made.token}` };
    const first = await Promise.all([2700, 2701, 2702].map((i) => post(ticket(i), auth)));
    expect(first.map((r) => r.statusCode)).toEqual([201, 201, 201]);
    await revokeToken(db.db, made.id, 'user:admin', new Date(T0));
    expect((await post(ticket(2703), auth)).statusCode).toBe(401);
  });

  it('a token taken from memory is checked by the write: revoked since → 401, nothing stored, audited; bad input from it → 401', async () => {
    const made = await createToken(db.db, { name: 'remembered', scopes: ['tickets:write'] }, 'test', new Date(T0));
    const auth = { authorization: `Bearer ${made.token}` };
    expect((await post(ticket(2800), auth)).statusCode).toBe(201); // read from the database, kept
    expect((await post(ticket(2801), auth)).statusCode).toBe(201); // from memory, verified by the write
    // Revoked behind this process's back (another process, or SQL): the next write refuses it.
    await db.db.execute(sql`update api_tokens set revoked_at = now() where id = ${made.id}`);
    const refusals = () => count(sql`select count(*)::int as n from audit_log where action = 'access.refused' and input->>'why' = 'token'`);
    const before = await refusals();
    // From an address of its own: refused tokens are audited once a minute per address.
    const concurrent = await Promise.all(
      [2802, 2803, 2804].map((i) =>
        app.inject({ method: 'POST', url: '/api/tickets', payload: ticket(i), headers: auth, remoteAddress: '192.0.2.28' }),
      ),
    );
    expect(concurrent.map((r) => r.statusCode)).toEqual([401, 401, 401]);
    expect(await count(sql`select count(*)::int as n from signals where source_ref in ('T-2802', 'T-2803', 'T-2804')`)).toBe(0);
    expect(await refusals()).toBeGreaterThan(before);
    // Malformed body, wrong JSON, a refused time: the revoked token is told 401, not what is wrong with the body.
    expect((await post({ id: 'T-2805' }, auth)).statusCode).toBe(401);
    const broken = await app.inject({
      method: 'POST',
      url: '/api/tickets',
      payload: '{"id":',
      headers: { ...auth, 'content-type': 'application/json' },
    });
    expect(broken.statusCode).toBe(401);
    expect((await post([ticket(2806)], auth)).statusCode).toBe(401);
    // A live token sending bad input still gets 400 with the reason.
    expect((await post({ id: 'T-2807' })).statusCode).toBe(400);
  });

  it('a token taken from memory follows its source: bound since → posts as the source; the source disabled since → 403', async () => {
    const made = await createToken(db.db, { name: 'rebound', scopes: ['tickets:write'] }, 'test', new Date(T0));
    const auth = { authorization: `Bearer ${made.token}` };
    expect((await post(ticket('R1'), auth)).json<{ signalId: string }>().signalId).toBe(signalId('hotline', 'T-R1'));
    const source = await createHotlineSource(db.db, { name: 'hotline-rebound', tokenId: made.id }, 'user:admin', new Date(T0));
    const bound = await post(ticket('R2'), auth);
    expect(bound.statusCode).toBe(201);
    expect(bound.json<{ signalId: string }>().signalId).toBe(signalId('hotline', 'hotline-rebound:T-R2'));
    expect(await count(sql`select count(*)::int as n from signals where source_ref = 'T-R2'`)).toBe(0);
    expect((await post(ticket('R3'), auth)).statusCode).toBe(201); // from memory, as the source
    await disableHotlineSource(db.db, source.id, 'user:admin', new Date(clock.now()));
    expect((await post(ticket('R4'), auth)).statusCode).toBe(403);
    expect(await count(sql`select count(*)::int as n from signals where source_ref like '%T-R4'`)).toBe(0);
    // Enabled again (by SQL here): a refusal is never answered from memory.
    await db.db.execute(sql`update hotline_sources set active = true, disabled_at = null where id = ${source.id}`);
    expect((await post(ticket('R5'), auth)).statusCode).toBe(201);
  });

  it('refuses anonymous requests, and tokens without the scope', async () => {
    expect((await post(ticket(3000), {})).statusCode).toBe(401);
    const reader = (await createToken(db.db, { name: 'metrics', scopes: ['metrics:read'] }, 'test', new Date(T0))).token;
    expect((await post(ticket(3001), { authorization: `Bearer ${reader}` })).statusCode).toBe(403);
  });
});

describe('hotline sources: HMAC signatures and bound tokens', () => {
  it('accepts a signed request, keyed by (source, ticket id)', async () => {
    const res = await signed(JSON.stringify(ticket('S1')));
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({ signalId: signalId('hotline', 'hotline-city:T-S1'), duplicate: false, history: false });
    const [row] = rowsOf<{ actor: string }>(
      await db.db.execute(
        sql`select actor from audit_log where action = 'signal.accepted' and entity_id = ${res.json<{ signalId: string }>().signalId}`,
      ),
    );
    expect(row!.actor).toBe('hotline:hotline-city');
    // The same ticket id from another origin is another ticket.
    expect((await post(ticket('S1'))).statusCode).toBe(201);
  });

  it('refuses a bad signature, a wrong secret, a stale or future timestamp, an unknown source: 401 with the reason', async () => {
    const body = JSON.stringify(ticket('S2'));
    const cases: [Parameters<typeof signed>[1], string][] = [
      [{ signature: `sha256=${'0'.repeat(64)}` }, 'bad_signature'],
      [{ signature: 'sha256=short' }, 'bad_signature'],
      [{ secret: 'hys_not-the-secret' }, 'bad_signature'],
      [{ at: T0 - 6 * 60_000 }, 'stale_timestamp'],
      [{ at: T0 + 6 * 60_000 }, 'stale_timestamp'],
      [{ source: 'nobody' }, 'unknown_source'],
    ];
    for (const [options, reason] of cases) {
      const res = await signed(body, options);
      expect(res.statusCode, reason).toBe(401);
      expect(res.json<{ code: string; message: string }>()).toMatchObject({ code: 'HY_UNAUTHENTICATED' });
      expect(res.json<{ message: string }>().message).toContain(reason);
    }
    // A body changed after signing fails too.
    const timestamp = String(Math.floor(clock.now() / 1000));
    const tampered = await app.inject({
      method: 'POST',
      url: '/api/tickets',
      payload: JSON.stringify(ticket('S2-evil')),
      headers: {
        'content-type': 'application/json',
        'x-huiying-source': 'hotline-city',
        'x-huiying-timestamp': timestamp,
        'x-huiying-signature': signBody(secret, timestamp, body),
      },
    });
    expect(tampered.statusCode).toBe(401);
    expect(await count(sql`select count(*)::int as n from signals where source_ref like 'hotline-city:T-S2%'`)).toBe(0);
    expect(await count(sql`select count(*)::int as n from audit_log where action = 'access.refused' and input->>'why' = 'signature'`)).toBe(
      7,
    );
  });

  it('accepts a timestamp within ±5 minutes, and refuses the same signed request replayed', async () => {
    const body = JSON.stringify(ticket('S3'));
    const at = T0 - 4 * 60_000;
    expect((await signed(body, { at })).statusCode).toBe(201);
    const replay = await signed(body, { at });
    expect(replay.statusCode).toBe(401);
    expect(replay.json<{ message: string }>().message).toContain('replayed');
  });

  it('writes a signed single ticket in one statement with its signature; concurrent ones share it, a replay among them is refused', async () => {
    expect((await signed(JSON.stringify(ticket('SR-warm')))).statusCode).toBe(201); // the source is now known to this process
    const bodies = Array.from({ length: 12 }, (_, i) => JSON.stringify(ticket(`SR${i}`)));
    // The first body twice with the same timestamp: the same signature, a replay in the same batch.
    const responses = await Promise.all([...bodies.map((b) => signed(b)), signed(bodies[0]!)]);
    expect(responses.map((r) => r.statusCode).sort()).toEqual([...bodies.map(() => 201), 401]);
    expect(responses.find((r) => r.statusCode === 401)!.json<{ message: string }>().message).toContain('replayed');
    expect(
      await count(
        sql`select count(*)::int as n from signals where source_ref like 'hotline-city:T-SR_' or source_ref like 'hotline-city:T-SR1_'`,
      ),
    ).toBe(12);
    // Each ticket's signature was recorded by the statement that stored it (one round trip), and batches shared statements.
    const ids = JSON.stringify(bodies.map((b) => signalId('hotline', `hotline-city:${(JSON.parse(b) as { id: string }).id}`)));
    const rows = sql`select xmin from signals where id in (select jsonb_array_elements_text(${ids}::jsonb))`;
    expect(
      await count(sql`select count(*)::int as n from (${rows}) s where not exists (select 1 from hotline_replays r where r.xmin = s.xmin)`),
    ).toBe(0);
    expect(await count(sql`select count(distinct xmin::text)::int as n from (${rows}) s`)).toBeLessThan(12);
    // The replayed request was audited like any refused signature.
    expect(
      await count(sql`select count(*)::int as n from audit_log where action = 'access.refused' and input->>'reason' = 'replayed'`),
    ).toBeGreaterThan(0);
  });

  it('a signed request verified from memory is checked by the write: secret changed since → 401, nothing stored; bad body replayed → 401', async () => {
    expect((await signed(JSON.stringify(ticket('SX0')))).statusCode).toBe(201);
    const [before] = rowsOf<{ secret: string }>(await db.db.execute(sql`select secret from hotline_sources where name = 'hotline-city'`));
    await db.db.execute(sql`update hotline_sources set secret = 'hys_rotated' where name = 'hotline-city'`);
    try {
      const old = await signed(JSON.stringify(ticket('SX1')));
      expect(old.statusCode).toBe(401);
      expect(old.json<{ message: string }>().message).toContain('bad_signature');
      expect((await signed(JSON.stringify(ticket('SX2')), { secret: 'hys_rotated' })).statusCode).toBe(201);
    } finally {
      await db.db.execute(sql`update hotline_sources set secret = ${before!.secret} where name = 'hotline-city'`);
    }
    expect(await count(sql`select count(*)::int as n from signals where source_ref = 'hotline-city:T-SX1'`)).toBe(0);
    // A body that fails validation still consumes its signature: sent again, it is a replay (401), not a 400.
    const bad = JSON.stringify({ id: 'SX3' });
    const at = clock.now();
    expect((await signed(bad, { at })).statusCode).toBe(400);
    const again = await signed(bad, { at });
    expect(again.statusCode).toBe(401);
    expect(again.json<{ message: string }>().message).toContain('replayed');
  });

  it('answers a resend (new timestamp, new signature) with the same result and never a second signal', async () => {
    const body = JSON.stringify([ticket('S4'), ticket('S5')]);
    const first = await signed(body);
    expect(first.json()).toMatchObject({ accepted: 2, duplicates: 0 });
    await clock.advanceBy(1000);
    const resend = await signed(body);
    expect(resend.statusCode).toBe(200);
    const a = first.json<{ results: { signalId: string }[] }>().results.map((r) => r.signalId);
    expect(resend.json()).toMatchObject({ accepted: 0, duplicates: 2, results: a.map((signalId) => ({ signalId, duplicate: true })) });
    expect(await count(sql`select count(*)::int as n from outbox where key in (${a[0]!}, ${a[1]!})`)).toBe(2);
  });

  it('a token bound to a source posts as that source; a disabled source is refused both ways', async () => {
    const res = await post(ticket('B1'), { authorization: `Bearer ${boundToken}` });
    expect(res.statusCode).toBe(201);
    expect(res.json<{ signalId: string }>().signalId).toBe(signalId('hotline', 'hotline-district:T-B1'));
    const [district] = rowsOf<{ id: string }>(await db.db.execute(sql`select id from hotline_sources where name = 'hotline-district'`));
    await disableHotlineSource(db.db, district!.id, 'user:admin', new Date(clock.now()));
    expect((await post(ticket('B2'), { authorization: `Bearer ${boundToken}` })).statusCode).toBe(403);
    const [city] = rowsOf<{ id: string }>(await db.db.execute(sql`select id from hotline_sources where name = 'hotline-city'`));
    await disableHotlineSource(db.db, city!.id, 'user:admin', new Date(clock.now()));
    const off = await signed(JSON.stringify(ticket('S9')));
    expect(off.statusCode).toBe(401);
    expect(off.json<{ message: string }>().message).toContain('source_disabled');
    await db.db.execute(sql`update hotline_sources set active = true, disabled_at = null`);
  });
});

describe('the README worked example', () => {
  it('signs with openssl and posts with curl, as documented', async () => {
    // Real time here: `date +%s` in the script is the wall clock.
    const live = Fastify();
    installErrorHandler(live);
    await live.register(authPlugin, { db: db.db, clock: systemClock });
    await live.register(ticketRoutes, { db: db.db, clock: systemClock });
    const address = await live.listen({ port: 0, host: '127.0.0.1' });
    try {
      const body = JSON.stringify([
        {
          id: 'README-1',
          receivedAt: new Date(Date.now() - 60_000).toISOString(),
          category: '投诉',
          area: '鼓楼区',
          content: '小区夜间施工噪音扰民',
        },
      ]);
      // The commands of services/ingest/README.md, with the secret, source, body and address filled in.
      const script = `
        TS=$(date +%s)
        SIG=$(printf '%s.%s' "$TS" "$BODY" | openssl dgst -sha256 -hmac "$SECRET" -hex | sed 's/^.*= //')
        curl -sS "$URL/api/tickets" \\
          -H 'Content-Type: application/json' \\
          -H "X-Huiying-Source: $SOURCE" -H "X-Huiying-Timestamp: $TS" -H "X-Huiying-Signature: sha256=$SIG" \\
          --data-binary "$BODY"`;
      const { stdout } = await promisify(execFile)('bash', ['-c', script], {
        env: { ...process.env, SECRET: secret, SOURCE: 'hotline-city', BODY: body, URL: address, LC_ALL: 'C.UTF-8' },
      });
      expect(JSON.parse(stdout)).toMatchObject({
        accepted: 1,
        refused: 0,
        results: [{ signalId: signalId('hotline', 'hotline-city:README-1') }],
      });
    } finally {
      await live.close();
    }
  });
});

describe('credible receive times', () => {
  it('refuses a ticket older than the bound or in the future per item (4xx), stores a back-fill as history', async () => {
    const now = clock.now();
    const res = await post([
      ticket('R-ok'),
      ticket('R-old', { receivedAt: new Date(now - 8 * DAY).toISOString() }),
      ticket('R-future', { receivedAt: new Date(now + 10 * 60_000).toISOString() }),
      ticket('R-skew', { receivedAt: new Date(now + 60_000).toISOString() }),
      ticket('R-backfill', { receivedAt: new Date(now - 400 * DAY).toISOString(), backfill: true }),
    ]);
    expect(res.statusCode).toBe(200);
    const body = res.json<{ accepted: number; history: number; refused: number; results: Record<string, unknown>[] }>();
    expect(body).toMatchObject({ accepted: 3, history: 1, refused: 2 });
    expect(body.results[0]).toMatchObject({ duplicate: false, history: false });
    expect(body.results[1]).toEqual({ error: { code: 'HY_VALIDATION', status: 400, message: expect.stringContaining('backfill') } });
    expect(body.results[2]).toEqual({ error: { code: 'HY_VALIDATION', status: 400, message: expect.stringContaining('future') } });
    expect(body.results[4]).toMatchObject({ signalId: signalId('hotline', 'T-R-backfill'), duplicate: false, history: true });

    const rows = rowsOf<{ source_ref: string; time_decision: string; time_reason: string; processed: boolean; published_at: Date }>(
      await db.db.execute(sql`select source_ref, time_decision, time_reason, processed_at is not null as processed, published_at
        from signals where source_ref like 'T-R-%' order by source_ref`),
    );
    expect(rows.map((r) => [r.source_ref, r.time_decision, r.time_reason, r.processed])).toEqual([
      ['T-R-backfill', 'history', 'hotline_backfill', true],
      ['T-R-ok', 'published', 'ticket_received_at', false],
      ['T-R-skew', 'published', 'ticket_received_at', false],
    ]);
    // A hotline clock slightly ahead does not start our clock before we saw the ticket.
    expect(new Date(rows[2]!.published_at).getTime()).toBe(now);
    expect(await count(sql`select count(*)::int as n from outbox where key = ${signalId('hotline', 'T-R-backfill')}`)).toBe(0);
    expect(await count(sql`select count(*)::int as n from audit_log where action = 'signal.stored_as_history'`)).toBe(1);
    expect(await count(sql`select count(*)::int as n from audit_log where action = 'ticket.refused'`)).toBe(2);

    // A single ticket out of bounds is a 400 with the reason; as a back-fill it is history.
    const single = await post(ticket('R-old2', { receivedAt: new Date(now - 8 * DAY).toISOString() }));
    expect(single.statusCode).toBe(400);
    expect(single.json()).toMatchObject({ code: 'HY_VALIDATION', message: expect.stringContaining('older than 168 h') });
    const history = await post(ticket('R-old2', { receivedAt: new Date(now - 8 * DAY).toISOString(), backfill: true }));
    expect(history.statusCode).toBe(201);
    expect(history.json()).toMatchObject({ history: true, duplicate: false });
    // A resend of a stored ticket is the same answer even once its time is past the bound.
    await clock.advanceBy(8 * DAY);
    expect((await post(ticket('R-ok'))).json()).toMatchObject({ signalId: signalId('hotline', 'T-R-ok'), duplicate: true, history: false });

    // The engine's sweep opens incidents for the live tickets only: a back-fill opens no clock.
    const swept = await sweepSignals({ db: db.db, clock, pack: () => DEFAULT_RULE_PACK });
    expect(swept).toBeGreaterThan(0);
    const opened = rowsOf<{ source_ref: string }>(
      await db.db.execute(sql`select s.source_ref from signals s join incidents i on i.id = s.incident_id where s.source_ref like 'T-R-%'`),
    ).map((r) => r.source_ref);
    expect(opened.sort()).toEqual(['T-R-ok', 'T-R-skew']);
  });

  it('keeps the caller’s name and phone apart from the signal, the bus and the audit trail', async () => {
    const res = await post(
      ticket('P1', {
        receivedAt: new Date(clock.now()).toISOString(),
        caller: '王建国',
        phone: '+86 139-1234-5678',
        content: '王建国反映：楼下饭店油烟扰民，回电 139 1234 5678，身份证110101199003077777',
      }),
    );
    expect(res.statusCode).toBe(201);
    const id = res.json<{ signalId: string }>().signalId;
    const [stored] = rowsOf<{ title: string; content: string }>(
      await db.db.execute(sql`select title, content from signals where id = ${id}`),
    );
    expect(stored!.content).not.toContain('王建国');
    expect(stored!.content).toContain('王**');
    expect(stored!.content).not.toMatch(/1234\s?5678/);
    expect(stored!.content).not.toContain('110101199003077777');
    expect(stored!.title).not.toContain('王建国');
    const [outbox] = rowsOf<{ payload: string }>(await db.db.execute(sql`select payload::text as payload from outbox where key = ${id}`));
    expect(outbox!.payload).not.toContain('王建国');
    expect(outbox!.payload).not.toMatch(/1234.?5678/);
    expect(await count(sql`select count(*)::int as n from audit_log where input::text like '%王建国%'`)).toBe(0);
    const [caller] = rowsOf<{ caller_name: string; caller_phone: string }>(
      await db.db.execute(sql`select caller_name, caller_phone from hotline_tickets where signal_id = ${id}`),
    );
    expect(caller).toEqual({ caller_name: '王建国', caller_phone: '+86 139-1234-5678' });
  });
});

describe('the audit entry of a live ticket', () => {
  it('masks every field the hotline wrote (text once in toSignal; ticket id, area, category, unit in the entry)', async () => {
    const res = await post(
      ticket('13912345678', {
        receivedAt: new Date(clock.now()).toISOString(),
        caller: '李四',
        content: '李四来电：回电 13812345678',
        area: '联系人王五 13700001111',
        category: '投诉 13600002222',
        unit: '街道 13500003333',
      }),
    );
    expect(res.statusCode).toBe(201);
    const id = res.json<{ signalId: string }>().signalId;
    const [entry] = rowsOf<{ input: Record<string, unknown> }>(
      await db.db.execute(sql`select input from audit_log where action = 'signal.accepted' and entity_id = ${id}`),
    );
    const text = JSON.stringify(entry!.input);
    for (const clear of ['13912345678', '13812345678', '13700001111', '13600002222', '13500003333', '李四', '王五'])
      expect(text).not.toContain(clear);
    // Ours stays as it is: the signal id, the source, the times; the masked fields are the stored ones.
    const [stored] = rowsOf<{ content: string; title: string; source_ref: string; area: string; category: string; unit_hint: string }>(
      await db.db.execute(sql`select content, title, source_ref, area, category, unit_hint from signals where id = ${id}`),
    );
    expect(stored!.source_ref).toBe(`T-139****5678#${id.slice(4, 16)}`);
    expect(entry!.input).toMatchObject({
      id,
      source: 'hotline',
      content: stored!.content,
      sourceRef: stored!.source_ref,
      area: stored!.area,
      category: stored!.category,
      unitHint: stored!.unit_hint,
    });
    // Exactly the bus message and the signal (built by the write statement), and the jurisdiction.
    const at = new Date(clock.now()).toISOString();
    const message = {
      v: 1,
      type: 'signal',
      id,
      source: 'hotline',
      sourceRef: stored!.source_ref,
      area: stored!.area,
      category: stored!.category,
      unitHint: stored!.unit_hint,
      publishedAt: at,
      receivedAt: at,
    };
    expect(entry!.input).toEqual({ ...message, title: stored!.title, content: stored!.content, jurisdiction: 'default' });
    // The bus message: ids, times and what the engine routes on, masked as stored (the text stays in the row).
    const [queued] = rowsOf<{ payload: unknown }>(await db.db.execute(sql`select payload from outbox where key = ${id}`));
    expect(queued!.payload).toEqual(message);
  });

  it('carries no area, category or unit the hotline did not send (nor empty ones)', async () => {
    const at = new Date(clock.now()).toISOString();
    const res = await post(ticket('bare-1', { receivedAt: at, area: '', title: '标题' }));
    expect(res.statusCode).toBe(201);
    const id = res.json<{ signalId: string }>().signalId;
    const [entry] = rowsOf<{ input: unknown }>(
      await db.db.execute(sql`select input from audit_log where action = 'signal.accepted' and entity_id = ${id}`),
    );
    const [stored] = rowsOf<{ content: string }>(await db.db.execute(sql`select content from signals where id = ${id}`));
    const message = { v: 1, type: 'signal', id, source: 'hotline', sourceRef: 'T-bare-1', publishedAt: at, receivedAt: at };
    expect(entry!.input).toEqual({ ...message, title: '标题', content: stored!.content, jurisdiction: 'default' });
    const [queued] = rowsOf<{ payload: unknown }>(await db.db.execute(sql`select payload from outbox where key = ${id}`));
    expect(queued!.payload).toEqual(message);
  });
});

describe('a ticket with personal data in its id, area and category', () => {
  const personal = {
    caller: '赵敏华',
    phone: '13911112222',
    content: '赵敏华来电：家住鼓楼区中山路12号3单元502室，电话13911112222，反映楼道堆物',
    area: '鼓楼区中山路12号3单元502室（联系人赵敏华）',
    category: '投诉（回电13911112222）',
    unit: 'unit-housing',
  };

  it('stores and publishes the classification the engine routes on, masked; the ticket id in clear only beside the caller', async () => {
    const res = await post([
      { ...ticket('x'), ...personal, id: '13911112222', receivedAt: new Date(clock.now()).toISOString() },
      // An id that masks alike is another ticket, not a duplicate.
      { ...ticket('x'), ...personal, id: '13900002222', receivedAt: new Date(clock.now()).toISOString() },
      // An ordinary ticket: its classification travels exactly as written (rules compare it whole).
      ticket('2026093000123', { receivedAt: new Date(clock.now()).toISOString(), area: '鼓楼区（东街街道）', category: '投诉' }),
    ]);
    expect(res.json()).toMatchObject({ accepted: 3, duplicates: 0, refused: 0 });
    const [a, b, plain] = res.json<{ results: { signalId: string }[] }>().results.map((r) => r.signalId);
    // Its signal id is keyed with the deployment's key: a plain hash of the phone number could be reversed.
    expect(a).toBe(hotlineSignalId('13911112222', await loadSignalKey(db.db)));
    expect(a).not.toBe(signalId('hotline', '13911112222'));
    expect(plain).toBe(signalId('hotline', 'T-2026093000123'));
    // Sent again, it is the same signal.
    const again = await post([{ ...ticket('x'), ...personal, id: '13911112222', receivedAt: new Date(clock.now()).toISOString() }]);
    expect(again.json()).toMatchObject({ accepted: 0, duplicates: 1, results: [{ signalId: a, duplicate: true }] });

    type Row = { source_ref: string; area: string; category: string; unit_hint: string; content: string; payload: Record<string, unknown> };
    const read = async (id: string) =>
      rowsOf<Row>(
        await db.db.execute(sql`select s.source_ref, s.area, s.category, s.unit_hint, s.content, o.payload
          from signals s join outbox o on o.key = s.id where s.id = ${id}`),
      )[0]!;
    const row = await read(a!);
    expect(row).toMatchObject({
      source_ref: `139****2222#${a!.slice(4, 16)}`,
      area: '鼓楼区中山路*号*单元*室(联系人赵**)',
      category: '投诉(回电139****2222)',
      unit_hint: 'unit-housing',
    });
    expect(row.content).toContain('赵**来电');
    expect(row.content).toContain('电话139****2222');
    // The bus message: ids, the masked reference and classification, times — no text.
    expect(row.payload).toEqual({
      v: 1,
      type: 'signal',
      id: a,
      source: 'hotline',
      sourceRef: row.source_ref,
      area: row.area,
      category: row.category,
      unitHint: 'unit-housing',
      publishedAt: new Date(clock.now()).toISOString(),
      receivedAt: new Date(clock.now()).toISOString(),
    });
    const other = await read(b!);
    expect(other.source_ref).toBe(`139****2222#${b!.slice(4, 16)}`);
    expect(other.source_ref).not.toBe(row.source_ref);
    for (const clear of ['13911112222', '13900002222', '赵敏华', '12号', '502室'])
      expect(JSON.stringify([row.payload, other.payload, row.source_ref, row.area, row.category, row.unit_hint])).not.toContain(clear);
    for (const clear of ['13911112222', '赵敏华']) expect(row.content).not.toContain(clear);

    const ordinary = await read(plain!);
    expect(ordinary).toMatchObject({ source_ref: 'T-2026093000123', area: '鼓楼区（东街街道）', category: '投诉' });
    expect(ordinary.payload).toMatchObject({ sourceRef: 'T-2026093000123', area: '鼓楼区（东街街道）', category: '投诉' });

    // The link back to the 12345 system: the ticket id in clear where the caller's details are.
    const [hot] = rowsOf<{ ticket_id: string; caller_phone: string }>(
      await db.db.execute(sql`select ticket_id, caller_phone from hotline_tickets where signal_id = ${a!}`),
    );
    expect(hot).toEqual({ ticket_id: '13911112222', caller_phone: '13911112222' });
    // The audit trail holds the same masked values.
    expect(
      await count(sql`select count(*)::int as n from audit_log where input::text like '%13911112222%' or entity_id like '%13911112222%'`),
    ).toBe(0);
    expect(await count(sql`select count(*)::int as n from audit_log where input::text like '%赵敏华%'`)).toBe(0);
  });

  it('keeps the ticket id masked in the audit of a back-fill and of a refusal', async () => {
    const now = clock.now();
    const res = await post([
      { ...ticket('x'), ...personal, id: '13922223333', receivedAt: new Date(now - 400 * DAY).toISOString(), backfill: true },
      { ...ticket('x'), ...personal, id: '13944445555', receivedAt: new Date(now - 400 * DAY).toISOString() },
    ]);
    expect(res.json()).toMatchObject({ accepted: 1, history: 1, refused: 1 });
    const entries = rowsOf<{ action: string; entity_id: string; input: { ticketId: string } }>(
      await db.db.execute(sql`select action, entity_id, input from audit_log
        where action in ('signal.stored_as_history', 'ticket.refused') and input->>'ticketId' like '139****%' order by action`),
    );
    expect(entries.map((e) => [e.action, e.input.ticketId])).toEqual([
      ['signal.stored_as_history', '139****3333'],
      ['ticket.refused', '139****5555'],
    ]);
    const key = await loadSignalKey(db.db);
    expect(entries[1]!.entity_id).toBe(`139****5555#${hotlineSignalId('13944445555', key).slice(4, 16)}`);
    const [history] = rowsOf<{ source_ref: string; area: string }>(
      await db.db.execute(sql`select source_ref, area from signals where id = ${hotlineSignalId('13922223333', key)}`),
    );
    expect(history).toEqual({
      source_ref: `139****3333#${hotlineSignalId('13922223333', key).slice(4, 16)}`,
      area: '鼓楼区中山路*号*单元*室(联系人赵**)',
    });
  });
});

describe('on the real Kafka broker', () => {
  it('publishes the ticket without the caller’s name, phone or ID number, then prunes the outbox row', async () => {
    const bus = await kafkaBus();
    const relay = new OutboxRelay(db.db, (topic, messages) => bus.publish(topic as TopicName, messages), { retentionMs: 0 });
    try {
      const res = await post(
        ticket('K1', {
          receivedAt: new Date(clock.now()).toISOString(),
          caller: '赵敏华',
          phone: '13911112222',
          content: '赵敏华来电：身份证110101199003077777，电话 139-1111-2222，反映小区消防通道被占',
        }),
      );
      expect(res.statusCode).toBe(201);
      const id = res.json<{ signalId: string }>().signalId;
      await relay.flush();
      const seen: unknown[] = [];
      const subscription = await bus.subscribe({
        topic: TOPICS.signals,
        groupId: uniqueName('tickets-pii'),
        fromBeginning: true,
        handler: async (m) => {
          if (m.key === id) seen.push(m.value);
        },
      });
      try {
        const [message] = await eventually(async () => (seen.length > 0 ? seen : undefined), 'the ticket on Kafka');
        const text = JSON.stringify(message);
        // The bus names the signal (ids, source, times); its text, masked or not, stays in the database.
        expect(message).toMatchObject({ id, source: 'hotline', sourceRef: 'T-K1' });
        expect(text).not.toContain('消防通道');
        for (const secret of ['赵敏华', '13911112222', '1111-2222', '110101199003077777']) expect(text).not.toContain(secret);
      } finally {
        await subscription.close();
      }
      expect(await relay.prune()).toBeGreaterThan(0);
      expect(await count(sql`select count(*)::int as n from outbox where key = ${id}`)).toBe(0);
    } finally {
      await relay.stop();
      await bus.close();
    }
  }, 90_000);
});
