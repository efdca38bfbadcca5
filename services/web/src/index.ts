/**
 * The console (services/web/console, Vue 3 + Vite) as the API serves it. `buildDashboard`
 * builds the bundle when it is missing or stale — a hash of the console's sources, config and
 * dependency versions is stamped beside the output — so `pnpm start` needs no separate build
 * step, and then reads every file of it into memory. The API serves them (services/api
 * console-routes.ts): `/` is index.html, `/assets/*` are content-hashed and cached for good.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ConsoleFile {
  contentType: string;
  body: Buffer;
  /** Content-hashed assets never change under their name; index.html always revalidates. */
  immutable: boolean;
}

export interface ConsoleBundle {
  /** URL path ('/', '/assets/index-abc.js', …) → file. */
  files: ReadonlyMap<string, ConsoleFile>;
}

const webDir = fileURLToPath(new URL('../', import.meta.url));
const consoleDir = join(webDir, 'console');
const distDir = join(consoleDir, 'dist');
const STAMP = '.source-hash';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.json': 'application/json',
  '.map': 'application/json',
};

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else out.push(p);
  }
  return out;
}

/** What the bundle is built from: sources, html, configs, and the web package's dependency versions. */
export async function consoleSourceHash(): Promise<string> {
  const files = [
    ...(await walk(join(consoleDir, 'src'))),
    join(consoleDir, 'index.html'),
    join(consoleDir, 'vite.config.ts'),
    join(webDir, 'package.json'),
  ].sort();
  const h = createHash('sha256');
  for (const f of files) {
    h.update(relative(webDir, f).split(sep).join('/'));
    h.update('\0');
    h.update(await readFile(f));
    h.update('\0');
  }
  return h.digest('hex');
}

async function isFresh(dir: string, hash: string): Promise<boolean> {
  try {
    const [stamp] = await Promise.all([readFile(join(dir, STAMP), 'utf8'), stat(join(dir, 'index.html'))]);
    return stamp.trim() === hash;
  } catch {
    return false;
  }
}

/** Compiles the console into `outDir` (vite; a test passes its own). */
export type ConsoleCompiler = (outDir: string) => Promise<void>;

const viteCompile: ConsoleCompiler = async (outDir) => {
  const { build: viteBuild } = await import('vite');
  await viteBuild({ configFile: join(consoleDir, 'vite.config.ts'), logLevel: 'warn', build: { outDir, emptyOutDir: true } });
};

/**
 * Builds the bundle in `dir` when it is missing (no index.html) or stale (its stamp is not `hash`);
 * returns whether it built. Builds into a fresh directory and swaps it in, so a concurrent reader
 * (another test process, a second `pnpm start`) never sees half a bundle.
 */
export async function ensureBuilt(dir: string, hash: string, compile: ConsoleCompiler = viteCompile): Promise<boolean> {
  if (await isFresh(dir, hash)) return false;
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(tmp, { recursive: true });
  await compile(tmp);
  await writeFile(join(tmp, STAMP), `${hash}\n`);
  const old = `${dir}.old-${process.pid}-${Date.now()}`;
  await rename(dir, old).catch(() => undefined);
  try {
    await rename(tmp, dir);
  } catch (e) {
    // Someone else swapped in the same sources first: theirs is as good as ours.
    await rm(tmp, { recursive: true, force: true });
    if (!(await isFresh(dir, hash))) throw e;
  }
  await rm(old, { recursive: true, force: true });
  return true;
}

/** Builds the console if needed (a few seconds to a minute), then loads it. */
export async function buildDashboard(options: { log?: (line: string) => void } = {}): Promise<ConsoleBundle> {
  const hash = await consoleSourceHash();
  if (!(await isFresh(distDir, hash))) options.log?.('building the console (services/web/console)…');
  await ensureBuilt(distDir, hash);
  return loadBundle(distDir);
}

export async function loadBundle(dir: string): Promise<ConsoleBundle> {
  const files = new Map<string, ConsoleFile>();
  for (const f of await walk(dir)) {
    const rel = relative(dir, f).split(sep).join('/');
    if (rel === STAMP) continue;
    const ext = rel.slice(rel.lastIndexOf('.'));
    const file = { contentType: TYPES[ext] ?? 'application/octet-stream', body: await readFile(f), immutable: rel.startsWith('assets/') };
    files.set(rel === 'index.html' ? '/' : `/${rel}`, file);
  }
  if (!files.has('/')) throw new Error(`the console bundle in ${dir} has no index.html`);
  return { files };
}
