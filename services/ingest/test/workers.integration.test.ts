/**
 * INGEST_WORKERS: the production ingest main forks that many processes (node:cluster) on one
 * port. Two workers both accept tickets, every ticket lands once whichever worker answers it (a
 * resend answered by the other worker is a duplicate), and SIGTERM stops them all gracefully.
 * Real PostgreSQL and Kafka broker; which worker answered is read from the request log's pid.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { rowsOf, sql } from '@huiying/db';
import { createToken } from '@huiying/identity';
import { eventually, freshDatabase, KAFKA_BROKERS, uniqueName } from '@huiying/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { signalId } from '../src/signals.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
let db: Awaited<ReturnType<typeof freshDatabase>>;
let ingest: ChildProcess;
const output: string[] = [];
let port = 0;
let token = '';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port: p } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return p;
}

/** One POST on a connection of its own (the primary hands connections to workers in turn). */
function post(body: unknown): Promise<number> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/api/tickets',
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), authorization: `Bearer ${token}` },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

const ticket = (i: number) => ({ id: `W-${i}`, receivedAt: new Date(Date.now() - 60_000).toISOString(), content: `路灯不亮 (${i})` });

beforeAll(async () => {
  db = await freshDatabase();
  token = (await createToken(db.db, { name: 'hotline', scopes: ['tickets:write'] }, 'test', new Date())).token;
  port = await freePort();
  ingest = spawn(process.execPath, ['--import', 'tsx', 'services/ingest/src/main.ts'], {
    cwd: root,
    env: {
      ...process.env,
      DATABASE_URL: db.url,
      KAFKA_BROKERS: KAFKA_BROKERS.join(','),
      KAFKA_TOPIC_PREFIX: `${uniqueName('workers')}.`,
      INGEST_PORT: String(port),
      INGEST_WORKERS: '2',
      FEED_CRON: '0 0 1 1 *',
      // Request logs name the answering process (pid).
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  ingest.stdout!.on('data', (d: Buffer) => output.push(d.toString()));
  ingest.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
});

afterAll(async () => {
  if (ingest && ingest.exitCode === null) {
    ingest.kill('SIGKILL');
    await new Promise((r) => ingest.once('exit', r));
  }
  await db?.drop();
});

it('two workers accept tickets on one port, each ticket lands once, SIGTERM stops both', { timeout: 240_000 }, async () => {
  const tail = () => output.join('').slice(-3000);
  // Which processes answered: the request log's pid on each completed request.
  const answered = () => {
    const pids = new Set<number>();
    for (const line of output.join('').split('\n')) {
      if (!line.startsWith('{')) continue;
      const entry = JSON.parse(line) as { pid?: number; msg?: string };
      if (entry.msg === 'request completed' && entry.pid !== undefined) pids.add(entry.pid);
    }
    return pids;
  };
  // The workers start on their own schedules: post (the same ticket) until both have answered.
  await eventually(
    async () => {
      const status = await post(ticket(0)).catch(() => 0);
      return (status === 201 || status === 200) && answered().size >= 2 ? true : undefined;
    },
    `both ingest workers to accept\n${tail()}`,
    150_000,
  );

  const n = 40;
  const first = await Promise.all(Array.from({ length: n }, (_, i) => post(ticket(i + 1))));
  expect(first).toEqual(Array.from({ length: n }, () => 201));
  // Resent on new connections: the other worker answers some of them, from the same rows.
  const again = await Promise.all(Array.from({ length: n }, (_, i) => post(ticket(i + 1))));
  expect(again).toEqual(Array.from({ length: n }, () => 200));

  const ids = JSON.stringify(Array.from({ length: n + 1 }, (_, i) => signalId('hotline', `W-${i}`)));
  const [counts] = rowsOf<{ signals: number; outbox: number; audit: number }>(
    await db.db.execute(sql`
      select (select count(*)::int from signals where id in (select jsonb_array_elements_text(${ids}::jsonb))) as signals,
        (select count(*)::int from outbox where key in (select jsonb_array_elements_text(${ids}::jsonb))) as outbox,
        (select count(*)::int from audit_log where action = 'signal.accepted'
          and entity_id in (select jsonb_array_elements_text(${ids}::jsonb))) as audit`),
  );
  // W-0 (posted until both workers answered) and the n tickets: each stored, enqueued and audited once.
  expect(counts).toEqual({ signals: n + 1, outbox: n + 1, audit: n + 1 });

  expect(answered().size, tail()).toBe(2);
  expect(answered().has(ingest.pid!)).toBe(false); // the primary only forks and hands out connections

  const exited = new Promise<number | null>((r) => ingest.once('exit', (code) => r(code)));
  ingest.kill('SIGTERM');
  expect(await exited).toBe(0);
});
