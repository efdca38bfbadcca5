/**
 * The duty officers' board as three in-memory assets, built once at server start.
 * The API serves them at `/` (html), `/app.js` and `/app.css`.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export interface DashboardAssets {
  html: string;
  js: string;
  css: string;
}

const appDir = fileURLToPath(new URL('./app/', import.meta.url));

export async function buildDashboard(): Promise<DashboardAssets> {
  const [bundle, html, css] = await Promise.all([
    build({
      entryPoints: [`${appDir}main.ts`],
      bundle: true,
      write: false,
      platform: 'browser',
      target: 'es2022',
      format: 'esm',
      minify: false,
      charset: 'utf8',
      logLevel: 'silent',
    }),
    readFile(`${appDir}index.html`, 'utf8'),
    readFile(`${appDir}app.css`, 'utf8'),
  ]);
  const out = bundle.outputFiles[0];
  if (out === undefined) throw new Error('esbuild produced no output for the dashboard');
  return { html, js: out.text, css };
}
