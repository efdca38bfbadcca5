/**
 * Fixtures for integration tests: the REAL local PostgreSQL, the REAL Kafka broker started by
 * infra/kafka/kafka.sh, and a REAL SMTP server in the test process. A service that is not
 * there is a test failure with a message saying how to start it — never a skip.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KafkaBus } from '@huiying/bus/kafka';
import { type DbHandle, migrationsFolder, openPglite, openPostgres } from '@huiying/db';
import { type ParsedMail, simpleParser } from 'mailparser';
import pg from 'pg';
import pino from 'pino';
import { SMTPServer } from 'smtp-server';

export const PG_ADMIN_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const KAFKA_BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(',');

export const testLogger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}

/**
 * The migrations' fingerprint: every file under packages/db/migrations (SQL and drizzle's
 * journal), by path and content. The migrated templates below are named by it, so a changed,
 * added or removed migration makes new ones.
 */
let migrationsKeyMemo: string | undefined;
function migrationsKey(): string {
  if (migrationsKeyMemo) return migrationsKeyMemo;
  const hash = createHash('sha256');
  const walk = (dir: string, rel: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (e.isDirectory()) walk(join(dir, e.name), `${rel}${e.name}/`);
      else
        hash
          .update(`${rel}${e.name}\0`)
          .update(readFileSync(join(dir, e.name)))
          .update('\0');
    }
  };
  walk(migrationsFolder, '');
  return (migrationsKeyMemo = hash.digest('hex').slice(0, 16));
}

const adminClient = async () => {
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  try {
    await admin.connect();
  } catch (error) {
    throw new Error(`PostgreSQL is not reachable at ${PG_ADMIN_URL} (start it, or set TEST_PG_URL): ${String(error)}`);
  }
  return admin;
};
const urlOf = (name: string) => PG_ADMIN_URL.replace(/\/[^/]*$/, `/${name}`);

/** Arbitrary advisory lock key under which one test process at a time builds a template. */
const TEMPLATE_LOCK = 0x6875_7470;

/**
 * A database migrated once for every test file of every run with the same migrations,
 * `huiying_tpl_<migrations key>` (drop old ones while no tests run; a missing one is rebuilt). It is
 * built under another name and renamed when complete, under an advisory lock, so concurrent test
 * processes (and engineers) wait for one build and never copy a half-migrated one. Nobody
 * connects to it: `CREATE DATABASE … TEMPLATE` needs it idle.
 */
async function pgTemplate(admin: pg.Client): Promise<string> {
  const name = `huiying_tpl_${migrationsKey()}`;
  const exists = async () => ((await admin.query('select 1 from pg_database where datname = $1', [name])).rowCount ?? 0) > 0;
  if (await exists()) return name;
  await admin.query('select pg_advisory_lock($1)', [TEMPLATE_LOCK]);
  try {
    if (await exists()) return name;
    const building = `${name}_building`;
    // Left by a process that died while building (we hold the lock: nobody else is building it).
    await admin.query(`drop database if exists ${building} with (force)`);
    await admin.query(`create database ${building}`);
    const h = openPostgres(urlOf(building), { max: 1 });
    try {
      await h.migrate();
    } finally {
      await h.close();
    }
    await admin.query(`alter database ${building} rename to ${name}`);
    // Templates of other migration sets (earlier commits, other branches) would pile up, one per
    // change: drop the idle ones. One in use fails to drop and stays; one dropped that another
    // checkout still wants is rebuilt by it, as here.
    const stale = await admin.query<{ datname: string }>(
      `select datname from pg_database where datname like 'huiying\\_tpl\\_%' and datname not in ($1, $2)`,
      [name, building],
    );
    for (const { datname } of stale.rows) await admin.query(`drop database if exists ${datname}`).catch(() => undefined);
    return name;
  } finally {
    await admin.query('select pg_advisory_unlock($1)', [TEMPLATE_LOCK]);
  }
}

/**
 * A fresh, migrated database on the local PostgreSQL; dropped by `drop()`. A copy of the
 * migrated template (`CREATE DATABASE … TEMPLATE`), then `migrate()` — which finds nothing to
 * apply but the grants. `fromScratch`: an empty database migrated here, for the tests of the
 * migrations themselves.
 */
export async function freshDatabase(options: { fromScratch?: boolean } = {}): Promise<DbHandle & { url: string; drop(): Promise<void> }> {
  const name = uniqueName('huiying_t');
  const admin = await adminClient();
  try {
    const template = options.fromScratch ? null : await pgTemplate(admin);
    await admin.query(`create database ${name}${template ? ` template ${template}` : ''}`);
  } finally {
    await admin.end();
  }
  const url = urlOf(name);
  const handle = openPostgres(url);
  await handle.migrate();
  return {
    ...handle,
    url,
    async drop() {
      await handle.close();
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

/**
 * The data directory of a migrated in-memory PGlite, built once for every test file of every
 * run with the same migrations and PGlite: kept in the system's temporary directory (written
 * whole, then renamed into place, so a reader never sees half of one) and in memory here.
 */
let pgliteImageMemo: Promise<Blob> | undefined;
function pgliteImage(): Promise<Blob> {
  pgliteImageMemo ??= (async () => {
    // The installed PGlite's path names its version (a data directory belongs to one build).
    const fromDb = createRequire(createRequire(import.meta.url).resolve('@huiying/db'));
    const build = createHash('sha256')
      .update(realpathSync(fromDb.resolve('@electric-sql/pglite')))
      .digest('hex')
      .slice(0, 8);
    const file = join(tmpdir(), `huiying-pglite-${migrationsKey()}-${build}.tar`);
    try {
      return new Blob([await readFile(file)]);
    } catch {
      const h = await openPglite();
      await h.migrate();
      const image = await h.dumpDataDir();
      await h.close();
      const partial = `${file}.${process.pid}.${randomBytes(3).toString('hex')}`;
      await writeFile(partial, new Uint8Array(await image.arrayBuffer()));
      await rename(partial, file).catch(() => rm(partial, { force: true }));
      // Images of other migration sets or PGlite builds would pile up, one per change.
      for (const other of readdirSync(tmpdir()))
        if (/^huiying-pglite-[0-9a-f]{16}-[0-9a-f]{8}\.tar$/.test(other) && join(tmpdir(), other) !== file)
          await rm(join(tmpdir(), other), { force: true });
      return image;
    }
  })();
  pgliteImageMemo.catch(() => (pgliteImageMemo = undefined));
  return pgliteImageMemo;
}

/**
 * A migrated in-memory PGlite: a copy of the migrated image above, then `migrate()` (which finds
 * nothing to apply). `fromScratch`: initdb and every migration here, for the migrations' tests.
 */
export async function freshPglite(options: { fromScratch?: boolean } = {}): Promise<DbHandle> {
  const h = options.fromScratch ? await openPglite() : await openPglite(undefined, { loadDataDir: await pgliteImage() });
  await h.migrate();
  return h;
}

/** A migrated test database: a fresh one on PostgreSQL (`drop` removes it) or an in-memory PGlite. */
export type TestDatabase = DbHandle & { drop?: () => Promise<void> };

/**
 * The two databases the product runs on, for the same tests on both:
 * `describe.each(bothDatabases)('$name', ({ open }) => …)`, closed with `closeTestDatabase`.
 */
export const bothDatabases: {
  name: 'postgres' | 'pglite';
  open: (options?: { fromScratch?: boolean }) => Promise<TestDatabase>;
}[] = [
  { name: 'postgres', open: (options) => freshDatabase(options) },
  { name: 'pglite', open: (options) => freshPglite(options) },
];

/** Drop a fresh PostgreSQL database, close a PGlite one; nothing if it never opened. */
export async function closeTestDatabase(h: TestDatabase | undefined): Promise<void> {
  if (h?.drop) await h.drop();
  else await h?.close();
}

/** A KafkaBus on the real broker, with topics private to this test (a unique prefix). */
export async function kafkaBus(clientId = uniqueName('test'), topicPrefix = `${clientId}.`): Promise<KafkaBus> {
  const bus = new KafkaBus({
    brokers: KAFKA_BROKERS,
    clientId,
    topicPrefix,
    partitions: 3,
    logger: testLogger,
    kafkaLogLevel: 'error',
  });
  try {
    await bus.ensureTopics();
  } catch (error) {
    await bus.close().catch(() => undefined);
    throw new Error(`Kafka broker not reachable at ${KAFKA_BROKERS.join(',')} (run: bash infra/kafka/kafka.sh start): ${String(error)}`);
  }
  return bus;
}

export interface TestSmtp {
  url: string;
  mails: ParsedMail[];
  close(): Promise<void>;
}

/** A real SMTP server listening on loopback; every received message is parsed and kept. */
export async function startSmtp(options: { reject?: (address: string) => boolean } = {}): Promise<TestSmtp> {
  const mails: ParsedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(address, _session, callback) {
      if (options.reject?.(address.address)) {
        const error = Object.assign(new Error(`mailbox unavailable: ${address.address}`), { responseCode: 550 });
        return callback(error);
      }
      callback();
    },
    onData(stream, _session, callback) {
      simpleParser(stream)
        .then((mail) => {
          mails.push(mail);
          callback();
        })
        .catch((e: Error) => callback(e));
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return { url: `smtp://127.0.0.1:${port}`, mails, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/**
 * A real SMTP server that keeps only each message's Message-ID and the moment it was accepted
 * (performance.now()), for floods where parsing every mail would cost the sender's CPU.
 */
export async function startCountingSmtp(): Promise<{ url: string; accepted: { id: string; at: number }[]; close(): Promise<void> }> {
  const accepted: { id: string; at: number }[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      let head = '';
      stream.on('data', (c: Buffer) => {
        if (head.length < 4096) head += c.toString('utf8');
      });
      stream.on('end', () => {
        accepted.push({ id: /^Message-ID:\s*(\S+)/im.exec(head)?.[1] ?? '', at: performance.now() });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return { url: `smtp://127.0.0.1:${port}`, accepted, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/**
 * Wait for an asynchronous outcome across real services (broker delivery, consumer groups).
 * This polls I/O; business time never advances here (tests move the fake clock).
 */
export async function eventually<T>(probe: () => Promise<T | undefined | false | null>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false && v !== null) return v;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Just what a session client needs from a Fastify app (inject without a port). */
export interface Injectable {
  inject(opts: {
    method: string;
    url: string;
    payload?: unknown;
    headers?: Record<string, string>;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as light-my-request types it
  }): Promise<{ statusCode: number; json<T = any>(): T; body: string; rawPayload: Buffer; headers: Record<string, unknown> }>;
}

export interface SessionClient extends Injectable {
  username: string;
  cookie: string;
  csrfToken: string;
}

/**
 * Logs in through POST /api/auth/login and returns an `inject` that carries the session
 * cookie and, on changes, the CSRF header — a browser's behaviour, without a port.
 */
export async function loginAs(app: Injectable, username: string, password = 'huiying-demo'): Promise<SessionClient> {
  const res = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password } });
  if (res.statusCode !== 200) throw new Error(`login ${username}: ${res.statusCode} ${res.body}`);
  const setCookie = [res.headers['set-cookie']].flat().join(';');
  const match = /hy_session=([^;]+)/.exec(setCookie);
  if (!match) throw new Error(`login ${username}: no session cookie`);
  const cookie = `hy_session=${match[1]}`;
  const csrfToken = res.json<{ csrfToken: string }>().csrfToken;
  return {
    username,
    cookie,
    csrfToken,
    inject: (opts) =>
      app.inject({
        ...opts,
        headers: {
          cookie,
          ...(opts.method === 'GET' || opts.method === 'HEAD' ? {} : { 'x-csrf-token': csrfToken }),
          ...opts.headers,
        },
      }),
  };
}

export type SmtpMode = 'accept' | '421' | '451';

export interface ControllableSmtp {
  port: number;
  url: string;
  mails: ParsedMail[];
  /** accept; 421 at the greeting (service not available); 451 at MAIL FROM (local error). */
  mode: SmtpMode;
  /** Recipients answered 550 (mailbox unavailable), for permanent failures. */
  rejectRecipients: Set<string>;
  /** Stop listening (connections are refused) / listen again on the same port. */
  down(): Promise<void>;
  up(): Promise<void>;
  /**
   * Called once a message has been received and parsed, BEFORE the server answers 250: a
   * test can kill the sender there ("the server accepted, the client never heard").
   */
  onAccepted?: (mail: ParsedMail) => Promise<void> | void;
  close(): Promise<void>;
}

/** A real SMTP server whose availability a test controls: refused, 421, 451, then up again. */
export async function startControllableSmtp(): Promise<ControllableSmtp> {
  const mails: ParsedMail[] = [];
  let server: SMTPServer | undefined;
  const state: ControllableSmtp = {
    port: 0,
    url: '',
    mails,
    mode: 'accept',
    rejectRecipients: new Set(),
    async down() {
      const s = server;
      server = undefined;
      if (s) await new Promise<void>((r) => s.close(() => r()));
    },
    async up() {
      if (server) return;
      server = create();
      const s = server;
      await new Promise<void>((resolve) => s.listen(state.port, '127.0.0.1', resolve));
      state.port = (s.server.address() as AddressInfo).port;
      state.url = `smtp://127.0.0.1:${state.port}`;
    },
    close: () => state.down(),
  };
  const fail = (code: number, text: string) => Object.assign(new Error(text), { responseCode: code });
  const create = () =>
    new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      // smtp-server waits this long for open connections on close(); pooled clients keep them open.
      closeTimeout: 100,
      onConnect(_session, callback) {
        if (state.mode === '421') return callback(fail(421, 'service not available, try later'));
        callback();
      },
      onMailFrom(_address, _session, callback) {
        if (state.mode === '451') return callback(fail(451, 'local error in processing, try later'));
        callback();
      },
      onRcptTo(address, _session, callback) {
        if (state.rejectRecipients.has(address.address)) return callback(fail(550, `mailbox unavailable: ${address.address}`));
        callback();
      },
      onData(stream, _session, callback) {
        simpleParser(stream)
          .then(async (mail) => {
            mails.push(mail);
            await state.onAccepted?.(mail);
            callback();
          })
          .catch((e: Error) => callback(e));
      },
    });
  await state.up();
  return state;
}

/**
 * A self-signed certificate for localhost and 127.0.0.1, valid until 2126 (fixtures/; made with
 * `openssl req -x509 -newkey rsa:2048 -nodes -days 36500 -addext subjectAltName=…`). Test-only.
 */
export const TEST_TLS = {
  cert: readFileSync(new URL('../fixtures/smtp-test-cert.pem', import.meta.url), 'utf8'),
  key: readFileSync(new URL('../fixtures/smtp-test-key.pem', import.meta.url), 'utf8'),
};

export interface SecureSmtp {
  port: number;
  mails: ParsedMail[];
  /** Each accepted message's session: was it over TLS, and as whom was it authenticated. */
  deliveries: { secure: boolean; user: string | undefined }[];
  /** Every AUTH attempt: method, user, and whether the channel was encrypted then. */
  authAttempts: { method: string; user: string | undefined; secure: boolean }[];
  /** Answer AUTH with this code instead of checking (454 temporary failure, 421 closing). */
  authFailure: number | null;
  close(): Promise<void>;
}

/**
 * A real SMTP server that requires authentication: `starttls` offers STARTTLS on a plain port
 * (and refuses AUTH before it), `implicit` speaks TLS from the first byte (smtps), `plain`
 * offers no TLS at all. Wrong credentials are answered 535.
 */
export async function startSecureSmtp(o: {
  tls: 'starttls' | 'implicit' | 'plain';
  users: Record<string, string>;
  authMethods?: ('PLAIN' | 'LOGIN')[];
}): Promise<SecureSmtp> {
  const state: Omit<SecureSmtp, 'close'> = { port: 0, mails: [], deliveries: [], authAttempts: [], authFailure: null };
  const fail = (code: number, text: string) => Object.assign(new Error(text), { responseCode: code });
  const server = new SMTPServer({
    secure: o.tls === 'implicit',
    ...(o.tls === 'plain' ? { disabledCommands: ['STARTTLS'], allowInsecureAuth: true } : { key: TEST_TLS.key, cert: TEST_TLS.cert }),
    authMethods: o.authMethods ?? ['PLAIN', 'LOGIN'],
    authOptional: false,
    logger: false,
    closeTimeout: 100,
    onAuth(auth, session, callback) {
      state.authAttempts.push({ method: auth.method, user: auth.username, secure: session.secure });
      if (state.authFailure !== null) return callback(fail(state.authFailure, 'temporary authentication failure'));
      if (auth.username === undefined || o.users[auth.username] !== auth.password) return callback(fail(535, 'authentication failed'));
      callback(null, { user: auth.username });
    },
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((mail) => {
          state.mails.push(mail);
          state.deliveries.push({ secure: session.secure, user: typeof session.user === 'string' ? session.user : undefined });
          callback();
        })
        .catch((e: Error) => callback(e));
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.server.address() as AddressInfo).port;
  return Object.assign(state, { close: () => new Promise<void>((r) => server.close(() => r())) });
}
