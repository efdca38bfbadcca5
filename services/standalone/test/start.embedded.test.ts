/**
 * `pnpm start` itself, as a newcomer runs it: the real main (services/standalone/src/main.ts) in
 * its own process on a fresh PGlite directory (HUIYING_PGLITE_DIR) and a free PORT. It prints
 * the dashboard URL and the demo accounts, serves the console bundle (built only when missing or
 * stale, never forced here), has the demo loaded (the duty officer logs in over HTTP and finds
 * the demo tickets on the board) and stops cleanly on SIGTERM, its data kept in the directory.
 * A few minutes on a loaded machine: the demo lives through its past quarter on every fresh directory.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DEMO_UNITS, demoTickets } from '../src/demo.ts';

const root = new URL('../../../', import.meta.url).pathname;
const DEMO_PASSWORD = 'huiying-demo';

let dataDir: string;
let child: ChildProcess;
let output = '';
let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Resolves with the first match of `re` in the process's output, or fails when it exits first. */
function printed(re: RegExp, what: string): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = output.match(re);
      if (m) {
        child.stdout?.off('data', check);
        resolve(m);
      }
    };
    child.stdout?.on('data', check);
    void exited.then(({ code, signal }) => reject(new Error(`pnpm start exited (${code ?? signal}) before printing ${what}:\n${output}`)));
    check();
  });
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'huiying-start-'));
  const port = await freePort();
  child = spawn(process.execPath, ['--import', 'tsx', 'services/standalone/src/main.ts'], {
    cwd: root,
    env: { ...process.env, HUIYING_PGLITE_DIR: join(dataDir, 'db'), PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => (output += d));
  child.stderr!.on('data', (d: string) => (output += d));
  exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}, 10_000);

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await exited;
  }
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

it('prints the dashboard URL and the demo accounts, serves the demo, and stops on SIGTERM', async () => {
  // Building the console (only when its bundle is missing or stale) and living through the demo
  // quarter take most of the time.
  const [, url] = await printed(/Dashboard 看板:\s+(http:\/\/\S+\/)/, 'the dashboard URL');
  expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  await printed(/Mail /, 'the end of the banner');

  // The accounts, with the password, as the README lists them.
  expect(output).toContain(`password 密码 ${DEMO_PASSWORD}`);
  const accounts = [...output.matchAll(/^ {4}(\S+) +\S/gm)].map((m) => m[1]);
  expect(accounts.sort()).toEqual(['admin', 'duty', 'leader', ...DEMO_UNITS.map((u) => `unit-${u.id}`)].sort());

  // The console bundle is served.
  const page = await fetch(url!);
  expect(page.status).toBe(200);
  expect(await page.text()).toMatch(/<div id="app">/);

  // The duty officer logs in over HTTP and reads the board: the demo tickets are on it.
  const login = await fetch(`${url}api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'duty', password: DEMO_PASSWORD }),
  });
  expect(login.status, await login.clone().text()).toBe(200);
  const cookie = login.headers.getSetCookie()[0]!.split(';')[0]!;
  const me = await fetch(`${url}api/auth/me`, { headers: { cookie } });
  expect(((await me.json()) as { user: { username: string } }).user.username).toBe('duty');
  const board = await fetch(`${url}api/incidents?status=open`, { headers: { cookie } });
  expect(board.status).toBe(200);
  const titles = ((await board.json()) as { items: { title: string }[] }).items.map((i) => i.title);
  for (const t of demoTickets(Date.now())) expect(titles).toContain(t.title);
  const duties = await fetch(`${url}api/obligations`, { headers: { cookie } });
  expect(((await duties.json()) as { items: unknown[] }).items.length).toBeGreaterThan(0);

  // SIGTERM: the process stops what it runs, closes the database and exits 0.
  child.kill('SIGTERM');
  const { code, signal } = await Promise.race([
    exited,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no exit 20 s after SIGTERM:\n${output}`)), 20_000)),
  ]);
  expect({ code, signal }).toEqual({ code: 0, signal: null });
  // The data stayed in HUIYING_PGLITE_DIR (a second start would find it).
  expect((await readdir(join(dataDir, 'db'))).length).toBeGreaterThan(0);
}, 480_000);
