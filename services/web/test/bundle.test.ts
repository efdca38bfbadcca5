import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { consoleSourceHash, ensureBuilt, loadBundle } from '../src/index.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('the console bundle as the API serves it', () => {
  it('maps index.html to / (revalidated) and assets to /assets/… (immutable), with content types', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hy-console-'));
    dirs.push(dir);
    await mkdir(join(dir, 'assets'));
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>回应</title>');
    await writeFile(join(dir, 'assets', 'index-abc.js'), 'export {}');
    await writeFile(join(dir, 'assets', 'index-abc.css'), 'body{}');
    await writeFile(join(dir, '.source-hash'), 'x\n');
    const { files } = await loadBundle(dir);
    expect([...files.keys()].sort()).toEqual(['/', '/assets/index-abc.css', '/assets/index-abc.js']);
    expect(files.get('/')).toMatchObject({ contentType: 'text/html; charset=utf-8', immutable: false });
    expect(files.get('/assets/index-abc.js')).toMatchObject({ contentType: 'text/javascript; charset=utf-8', immutable: true });
    expect(files.get('/')!.body.toString()).toContain('回应');
  });

  it('refuses a bundle without index.html', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hy-console-'));
    dirs.push(dir);
    await expect(loadBundle(dir)).rejects.toThrow(/index\.html/);
  });

  it('hashes the sources the same way twice (the staleness stamp)', async () => {
    const a = await consoleSourceHash();
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(await consoleSourceHash()).toBe(a);
  });

  it('builds when the bundle is missing or stale, and only then (what `pnpm start` relies on)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'hy-console-'));
    dirs.push(root);
    const dir = join(root, 'dist');
    const built: string[] = [];
    // The compiler is vite in production; here it writes a page naming the build it was.
    const compile = async (outDir: string) => {
      built.push(outDir);
      await writeFile(join(outDir, 'index.html'), `<!doctype html><title>build ${built.length}</title>`);
    };
    const page = async () => (await readFile(join(dir, 'index.html'), 'utf8')).match(/build \d+/)?.[0];

    expect(await ensureBuilt(dir, 'hash-a', compile)).toBe(true); // missing
    expect(await page()).toBe('build 1');
    expect(await ensureBuilt(dir, 'hash-a', compile)).toBe(false); // fresh: not rebuilt
    expect(await ensureBuilt(dir, 'hash-b', compile)).toBe(true); // sources changed: stale
    expect(await page()).toBe('build 2');
    await rm(join(dir, 'index.html'));
    expect(await ensureBuilt(dir, 'hash-b', compile)).toBe(true); // stamp kept, page gone: missing
    expect(await page()).toBe('build 3');
    expect(built).toHaveLength(3);
    expect((await loadBundle(dir)).files.has('/')).toBe(true);
  });
});
