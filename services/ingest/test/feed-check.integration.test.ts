/**
 * feed-check as real child processes. In the integration project (files run one at a time) so
 * its process start-ups do not compete with the parallel unit files on a two-core machine.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/feeds/${name}`, import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * The real command as a child process. `viaPnpm` runs it exactly as an operator does
 * (`pnpm --silent feed-check …`); the other cases run the same script with node + tsx (what the
 * pnpm script runs) to spare pnpm's start-up on a busy machine.
 */
function feedCheck(args: string[], env: Record<string, string> = {}, viaPnpm = false): Promise<Run> {
  const started = Date.now();
  const [cmd, pre] = viaPnpm
    ? ['pnpm', ['--silent', 'feed-check']]
    : [process.execPath, ['--import', 'tsx', 'services/ingest/src/feed-check-cli.ts']];
  return new Promise((resolve) => {
    execFile(cmd, [...pre, ...args], { cwd: root, env: { ...process.env, ...env }, timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout, stderr, ms: Date.now() - started }),
    );
  });
}

let server: Server;
let base: string;
beforeAll(async () => {
  const gbk = readFileSync(fixture('gbk-served-as-utf8.xml'));
  server = createServer((req, res) => {
    if (req.url === '/gbk.xml') {
      res.writeHead(200, { 'content-type': 'text/xml; charset=utf-8' });
      res.end(gbk);
    } else if (req.url === '/huge.xml') {
      res.writeHead(200, { 'content-type': 'application/rss+xml' });
      res.write('<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>');
      const item = Buffer.from('<item><title>x</title></item>'.repeat(1000));
      const pump = () => {
        while (res.write(item));
      };
      res.on('drain', pump);
      res.on('close', () => res.off('drain', pump));
      pump();
    } else {
      res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' });
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const ALLOW_LOCAL = { FEED_ALLOW_CIDRS: '127.0.0.1/32' };

describe('pnpm --silent feed-check', () => {
  it('prints one JSON line per item with the time chosen and why, and a summary on stderr', async () => {
    const r = await feedCheck([fixture('odd-dates.xml'), '--added', '2026-01-01T00:00:00+08:00'], {}, true);
    expect(r.code).toBe(0);
    const items = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, string>);
    expect(items.map((i) => i.title)).toEqual(['未来', '纪元零点', '中文日期', 'CST 时区', '看不懂']);
    expect(items[0]).toMatchObject({
      link: 'http://d.example.cn/future',
      publishedAt: '2099-01-01T00:00:00.000Z',
      timeDecision: 'fetch_time',
      timeReason: 'publish_time_in_future',
    });
    expect(items[4]).toMatchObject({ timeReason: 'unreadable_publish_time', publishedAt: null });
    expect(r.stderr).toBe('feed-check: encoding=utf-8 format=rss2.0 parser=rss-parser items=5 errors=0\n');
  }, 60_000);

  it('fetches over HTTP exactly as the poller does: GBK served as utf-8 decoded from the prolog, loopback only when allowed', async () => {
    const r = await feedCheck([`${base}/gbk.xml`], ALLOW_LOCAL);
    expect(r.code).toBe(0);
    const first = JSON.parse(r.stdout.split('\n')[0]!) as Record<string, string>;
    expect(first.title).toBe('区长接待日：回应群众关切的停车难问题');
    // Judged as a feed added now: what it already holds is history.
    expect(first.timeDecision).toBe('history');
    expect(r.stderr).toMatch(
      /^feed-check: encoding=gb18030 format=rss2\.0 parser=rss-parser items=2 errors=0 warnings=1 \(body is not valid utf-8/,
    );

    const refused = await feedCheck([`${base}/gbk.xml`]);
    expect(refused).toMatchObject({ code: 1, stdout: '' });
    expect(refused.stderr).toBe('feed-check: refused: 127.0.0.1 resolves to 127.0.0.1 (loopback), which is not allowed for feeds\n');
  }, 60_000);

  it.each([
    [
      'too large',
      () => [`${base}/huge.xml`],
      { ...ALLOW_LOCAL, FEED_MAX_BYTES: '65536' },
      /^feed-check: refused: body exceeds the limit of 65536 bytes\n$/,
    ],
    [
      'hostile redirect',
      () => [`${base}/redirect`],
      ALLOW_LOCAL,
      /^feed-check: refused: 169\.254\.169\.254 resolves to 169\.254\.169\.254 \(linkLocal\)/,
    ],
    [
      'unparsable',
      () => [fixture('html-error-page.html')],
      {},
      /^feed-check: unusable feed: not an RSS or Atom feed \(root element <html>\)\n$/,
    ],
  ])(
    '%s: no items, one line why, non-zero, within seconds',
    async (_name, args, env, reason) => {
      const r = await feedCheck(args(), env);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(reason);
      expect(r.stderr.split('\n')).toHaveLength(2);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      // An endless body or a stuck redirect would run into the 60 s test timeout; the bound is loose
      // because tsx start-up alone takes seconds on a busy two-core machine (the refusals themselves
      // take milliseconds: see safe-fetch.test.ts).
      expect(r.ms).toBeLessThan(40_000);
    },
    60_000,
  );
});
