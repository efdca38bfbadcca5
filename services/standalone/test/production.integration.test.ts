/**
 * Production mode: ingest, engine and api as three separate processes, configured only from
 * the environment, on the real PostgreSQL, Kafka broker and an SMTP server in this process.
 * The ticket is received 49 h ago, so its 48 h clock is already past due when it starts:
 * the breach happens at once — no waiting on the wall clock. Identity comes from the shell
 * as a deployment would do it: `pnpm token:add` for the hotline, `pnpm user:add` for a leader.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';

import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { APP_ROLE } from '@huiying/db';
import { eventually, freshDatabase, KAFKA_BROKERS, PG_ADMIN_URL, startSmtp, type TestSmtp, uniqueName } from '@huiying/testkit';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
let db: Awaited<ReturnType<typeof freshDatabase>>;
let smtp: TestSmtp;
const procs: { name: string; child: ChildProcess; output: string[] }[] = [];

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

function run(name: string, script: string, env: Record<string, string>): void {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  procs.push({ name, child, output });
}

/** Runs the identity CLI as a deployment script would; resolves to its stdout lines. */
async function cli(args: string[], env: Record<string, string>, stdin?: string): Promise<string[]> {
  const child = execFile(process.execPath, ['--import', 'tsx', 'packages/identity/src/identity-cli.ts', ...args], {
    cwd: root,
    env: { ...process.env, ...env },
  });
  if (stdin !== undefined) child.stdin?.end(stdin);
  else child.stdin?.end();
  const out: string[] = [];
  child.stdout?.on('data', (d: Buffer) => out.push(d.toString()));
  const errOut: string[] = [];
  child.stderr?.on('data', (d: Buffer) => errOut.push(d.toString()));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  if (code !== 0) throw new Error(`identity cli ${args.join(' ')} exited ${code}: ${errOut.join('')}`);
  return out.join('').trim().split('\n');
}

const apiPort = await freePort();
const ingestPort = await freePort();

const appLogin = uniqueName('hy_app_login');

beforeAll(async () => {
  db = await freshDatabase();
  smtp = await startSmtp();
  // As production should run: the services log in as a member of huiying_app (append-only
  // audit log), and only migrations use the owner.
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`create role ${appLogin} login in role ${APP_ROLE}`);
  await admin.end();
  const env = {
    DATABASE_URL: db.url.replace('//postgres@', `//${appLogin}@`),
    MIGRATION_DATABASE_URL: db.url,
    KAFKA_BROKERS: KAFKA_BROKERS.join(','),
    KAFKA_TOPIC_PREFIX: `${uniqueName('prod')}.`,
    SMTP_URL: smtp.url,
    DUTY_EMAIL: 'duty@example.test',
    HOST: '127.0.0.1',
  };
  // The engine at info: its log says where its deadline timer runs.
  run('engine', 'services/engine/src/main.ts', { ...env, LOG_LEVEL: 'info' });
  run('ingest', 'services/ingest/src/main.ts', { ...env, INGEST_PORT: String(ingestPort) });
  run('api', 'services/api/src/main.ts', { ...env, PORT: String(apiPort) });
});

afterAll(async () => {
  await Promise.all(
    procs.map(
      (p) =>
        new Promise<void>((resolve) => {
          if (p.child.exitCode !== null) return resolve();
          p.child.once('exit', () => resolve());
          p.child.kill('SIGTERM');
        }),
    ),
  );
  await smtp?.close();
  await db?.drop();
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`drop role if exists ${appLogin}`);
  await admin.end();
});

it('a ticket posted to the ingest process is breached by the engine process, mailed, and shown by the api process', async () => {
  const describeProcs = () => procs.map((p) => `--- ${p.name} (exit ${p.child.exitCode})\n${p.output.join('').slice(-2000)}`).join('\n');
  const dbEnv = { DATABASE_URL: db.url.replace('//postgres@', `//${appLogin}@`), MIGRATION_DATABASE_URL: db.url };
  const token = (await cli(['token:add', '--name', 'hotline-12345', '--scope', 'tickets:write'], dbEnv)).at(-1)!;
  expect(token).toMatch(/^hy_/);
  await cli(['user:add', '--role', 'leader', '--username', 'lingdao', '--display-name', '分管领导'], dbEnv, 'a-long-leader-password\n');
  await expect(cli(['user:add', '--role', 'boss', '--username', 'x'], dbEnv, 'whatever-password\n')).rejects.toThrow(
    /--role must be one of/,
  );

  const post = (bearer = token) =>
    fetch(`http://127.0.0.1:${ingestPort}/api/tickets`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
      body: JSON.stringify({
        id: 'PROD-1',
        receivedAt: new Date(Date.now() - 49 * 3_600_000).toISOString(),
        content: '生产模式：路灯长期不亮',
      }),
    });
  const accepted = await eventually(
    async () => (await post().catch(() => undefined))?.status,
    `the ingest process to accept\n${describeProcs()}`,
    45_000,
  );
  expect(accepted).toBe(201);
  expect((await post()).status).toBe(200);
  expect((await post('hy_not-a-token')).status).toBe(401);

  // The api process starts on its own schedule (it may still be migrating or building when ingest
  // already accepts): wait until it listens, as for ingest above.
  const apiUp = await eventually(
    async () => ((await fetch(`http://127.0.0.1:${apiPort}/api/health`).catch(() => undefined))?.ok ? 200 : undefined),
    `the api process to listen\n${describeProcs()}`,
    45_000,
  );
  expect(apiUp).toBe(200);
  const login = await fetch(`http://127.0.0.1:${apiPort}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'lingdao', password: 'a-long-leader-password' }),
  });
  expect(login.status).toBe(200);
  const cookie = login.headers.getSetCookie()[0]!.split(';')[0]!;
  expect((await fetch(`http://127.0.0.1:${apiPort}/api/alerts?open=true`)).status).toBe(401);

  const breach = await eventually(
    async () => {
      const res = await fetch(`http://127.0.0.1:${apiPort}/api/alerts?open=true`, { headers: { cookie } }).catch(() => undefined);
      const items = res?.ok ? ((await res.json()) as { items: { kind: string; incidentTitle: string }[] }).items : [];
      return items.find((a) => a.kind === 'breached');
    },
    `the breach through the api process\n${describeProcs()}`,
    45_000,
  );
  expect(breach.incidentTitle).toContain('路灯');
  const mail = await eventually(async () => smtp.mails[0], 'the escalation mail from the engine process', 45_000);
  expect(JSON.stringify(mail.to)).toContain('duty@example.test');
  expect(mail.subject).toContain('超时');
  // The engine's deadline timer runs on its thread (ENGINE_TIMER's default). (This breach was due
  // before its incident existed, so the signal's own transaction fired it; a clock falling due
  // later is fired by the thread — services/engine/test/timer-thread.integration.test.ts.)
  const engineLog = procs
    .find((p) => p.name === 'engine')!
    .output.join('')
    .split('\n')
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as { msg?: string; timer?: string }];
      } catch {
        return [];
      }
    });
  expect(engineLog.find((l) => l.msg === 'deadline timer started')?.timer).toBe('thread');
  expect(procs.every((p) => p.child.exitCode === null)).toBe(true);
  // What the services wrote to the audit log, they cannot take back.
  const asApp = new pg.Client({ connectionString: db.url.replace('//postgres@', `//${appLogin}@`) });
  await asApp.connect();
  await expect(asApp.query('delete from audit_log')).rejects.toThrow(/permission denied/);
  await asApp.end();
});

it('a rule pack an administrator activates on the api process reaches the engine process: the next incident it opens runs on the new span', async () => {
  const dbEnv = { DATABASE_URL: db.url.replace('//postgres@', `//${appLogin}@`), MIGRATION_DATABASE_URL: db.url };
  await cli(['user:add', '--role', 'admin', '--username', 'guanli', '--display-name', '管理员'], dbEnv, 'a-long-admin-password\n');
  const login = await fetch(`http://127.0.0.1:${apiPort}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'guanli', password: 'a-long-admin-password' }),
  });
  expect(login.status).toBe(200);
  const cookie = login.headers.getSetCookie()[0]!.split(';')[0]!;
  const { csrfToken } = (await login.json()) as { csrfToken: string };
  const activated = await fetch(`http://127.0.0.1:${apiPort}/api/admin/rule-packs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrfToken },
    body: JSON.stringify({ document: { name: '某市 2026', clocks: { response: { spanHours: 2 } } }, note: '回应 2 小时' }),
  });
  expect(activated.status, await activated.clone().text()).toBe(201);

  // The engine process hears huiying_rule_pack a few milliseconds after the commit; the ticket
  // takes the longer way (ingest → Kafka → engine).
  const token = (await cli(['token:add', '--name', 'hotline-2', '--scope', 'tickets:write'], dbEnv)).at(-1)!;
  const receivedAt = Date.now() - 60_000;
  const posted = await fetch(`http://127.0.0.1:${ingestPort}/api/tickets`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ id: 'PROD-2', receivedAt: new Date(receivedAt).toISOString(), content: '东湖路井盖缺失，夜间行人跌落受伤' }),
  });
  expect(posted.status).toBe(201);
  const incident = await eventually(
    async () => {
      const res = await fetch(`http://127.0.0.1:${apiPort}/api/incidents?q=${encodeURIComponent('井盖')}`, { headers: { cookie } });
      return res.ok ? ((await res.json()) as { items: { clocks: { kind: string; dueAt: string }[] }[] }).items[0] : undefined;
    },
    'the incident opened by the engine process',
    45_000,
  );
  expect(incident.clocks.find((c) => c.kind === 'response')!.dueAt).toBe(new Date(receivedAt + 2 * 3_600_000).toISOString());
});

it('the engine process stops on SIGTERM, its timer thread with it', async () => {
  const engine = procs.find((p) => p.name === 'engine')!.child;
  expect(engine.exitCode).toBeNull();
  const exited = new Promise<number | null>((resolve) => engine.once('exit', (code) => resolve(code)));
  engine.kill('SIGTERM');
  // A thread left running would keep the process alive past the test's timeout.
  expect(await exited).toBe(0);
});
