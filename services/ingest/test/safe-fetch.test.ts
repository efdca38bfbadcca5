import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AddressPolicy, DEFAULT_FETCH_POLICY, type FetchError, type FetchPolicy, HostLimiter, safeFetch } from '../src/fetch/index.ts';

// 20 MiB of zeros in ~20 KiB, compressed once (compressing per request would block the event loop the client runs on).
const BOMB = zlib.gzipSync(Buffer.alloc(20 * 1024 * 1024));
let redirectClosed: () => void = () => undefined;
const LOCAL = new AddressPolicy(['127.0.0.1/32']);
const policy: FetchPolicy = { ...DEFAULT_FETCH_POLICY, addresses: LOCAL, backoffMs: 1, connectTimeoutMs: 2_000, readTimeoutMs: 2_000 };
const noSleep = { sleep: async () => undefined };

let server: Server;
let base: string;
const hits = new Map<string, number>();
const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
  '/ok': (_q, s) => s.end('<rss/>'),
  '/gzip': (_q, s) => {
    s.writeHead(200, { 'content-encoding': 'gzip' });
    s.end(zlib.gzipSync('<rss>gzip</rss>'));
  },
  '/br': (_q, s) => {
    s.writeHead(200, { 'content-encoding': 'br' });
    s.end(zlib.brotliCompressSync('<rss>br</rss>'));
  },
  '/deflate-raw': (_q, s) => {
    s.writeHead(200, { 'content-encoding': 'deflate' });
    s.end(zlib.deflateSync('<rss>deflate</rss>'));
  },
  '/bomb': (_q, s) => {
    s.writeHead(200, { 'content-encoding': 'gzip' });
    s.end(BOMB);
  },
  '/declared-large': (_q, s) => {
    s.writeHead(200, { 'content-length': String(50 * 1024 * 1024) });
    s.write('x');
  },
  '/endless': (_q, s) => {
    s.writeHead(200);
    const chunk = Buffer.alloc(64 * 1024, 'a');
    const pump = () => {
      while (s.write(chunk));
    };
    s.on('drain', pump);
    s.on('close', () => s.off('drain', pump));
    pump();
  },
  '/hang': () => undefined,
  '/redirect-endless': (_q, s) => {
    s.writeHead(302, { location: '/ok' });
    const chunk = Buffer.alloc(64 * 1024, 'r');
    const pump = () => {
      while (s.write(chunk));
    };
    s.on('drain', pump);
    s.on('close', () => {
      s.off('drain', pump);
      redirectClosed();
    });
    pump();
  },
  '/stall-mid-body': (_q, s) => {
    s.writeHead(200);
    s.write('<rss>');
  },
  '/redirect-loop': (_q, s) => {
    s.writeHead(302, { location: '/redirect-loop' });
    s.end();
  },
  '/to-ok': (_q, s) => {
    s.writeHead(301, { location: '/ok' });
    s.end();
  },
  '/to-loopback2': (_q, s) => {
    s.writeHead(302, { location: `http://127.0.0.2:${new URL(base).port}/ok` });
    s.end();
  },
  '/to-metadata': (_q, s) => {
    s.writeHead(302, { location: 'http://metadata.test/latest/meta-data/' });
    s.end();
  },
  '/to-file': (_q, s) => {
    s.writeHead(302, { location: 'file:///etc/passwd' });
    s.end();
  },
  '/flaky': (q, s) => {
    const n = (hits.get(q.url!) ?? 0) + 1;
    hits.set(q.url!, n);
    if (n < 3) {
      s.writeHead(503);
      s.end();
    } else s.end('<rss>third time</rss>');
  },
  '/gone': (_q, s) => {
    s.writeHead(404);
    s.end();
  },
  '/conditional': (q, s) => {
    if (q.headers['if-none-match'] === '"v1"') {
      s.writeHead(304);
      s.end();
    } else {
      s.writeHead(200, { etag: '"v1"' });
      s.end('<rss>v1</rss>');
    }
  },
};

beforeAll(async () => {
  server = createServer((req, res) => {
    hits.set(`any:${req.url}`, (hits.get(`any:${req.url}`) ?? 0) + 1);
    (routes[req.url!.split('?')[0]!] ?? routes['/gone']!)(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const failure = (p: Promise<unknown>) =>
  p.then(
    () => expect.unreachable('expected a failure'),
    (e: FetchError) => e,
  );

describe('AddressPolicy', () => {
  const strict = new AddressPolicy();
  it.each([
    ['127.0.0.1', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'linkLocal'],
    ['fe80::1', 'linkLocal'],
    ['fd00::1', 'uniqueLocal'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['255.255.255.255', 'broadcast'],
  ])('refuses %s (%s) by default', (ip, range) => {
    expect(strict.refusal(ip)).toBe(range);
  });
  it.each([['202.96.134.133'], ['114.114.114.114'], ['2400:3200::1']])('allows public %s', (ip) => {
    expect(strict.refusal(ip)).toBeNull();
  });
  it('allows exactly the configured ranges', () => {
    const p = AddressPolicy.fromList('10.20.0.0/16, 127.0.0.1');
    expect(p.refusal('10.20.3.4')).toBeNull();
    expect(p.refusal('10.21.0.1')).toBe('private');
    expect(p.refusal('127.0.0.1')).toBeNull();
    expect(p.refusal('::ffff:127.0.0.1')).toBeNull();
    expect(p.refusal('127.0.0.2')).toBe('loopback');
  });
  it('rejects a malformed range at configuration time', () => {
    expect(() => AddressPolicy.fromList('10.0.0.0/40')).toThrow(/CIDR/);
    expect(() => AddressPolicy.fromList('not-an-ip')).toThrow();
  });
});

describe('safeFetch', () => {
  it('refuses loopback unless it is allowed', async () => {
    const e = await failure(safeFetch({ url: `${base}/ok` }, { ...policy, addresses: new AddressPolicy() }, noSleep));
    expect(e.code).toBe('blocked_address');
    expect(e.message).toMatch(/127\.0\.0\.1 \(loopback\)/);
    const ok = await safeFetch({ url: `${base}/ok` }, policy, noSleep);
    expect(ok.body.toString()).toBe('<rss/>');
  });

  it('checks the address at every redirect hop', async () => {
    const before = hits.get('any:/ok') ?? 0;
    const e = await failure(safeFetch({ url: `${base}/to-loopback2` }, policy, noSleep));
    expect(e.code).toBe('blocked_address');
    expect(e.message).toMatch(/127\.0\.0\.2/);
    // The refused hop was never requested.
    expect(hits.get('any:/ok') ?? 0).toBe(before);
  });

  it('refuses a redirect to a name resolving to link-local (cloud metadata)', async () => {
    const resolve = async (h: string) =>
      h === 'metadata.test' ? [{ address: '169.254.169.254', family: 4 }] : [{ address: h, family: 4 }];
    const e = await failure(safeFetch({ url: `${base}/to-metadata` }, policy, { ...noSleep, resolve }));
    expect(e.code).toBe('blocked_address');
    expect(e.message).toMatch(/linkLocal/);
  });

  it('refuses a host with any disallowed address among its answers', async () => {
    const resolve = async () => [
      { address: '127.0.0.1', family: 4 },
      { address: '10.0.0.1', family: 4 },
    ];
    const e = await failure(safeFetch({ url: `http://mixed.test:${new URL(base).port}/ok` }, policy, { ...noSleep, resolve }));
    expect(e.code).toBe('blocked_address');
  });

  it('connects to the address it checked, not to a second DNS answer', async () => {
    // feed.invalid has no DNS record: only the checked address (from our resolver) can have been used.
    let calls = 0;
    const resolve = async () => {
      calls++;
      return [{ address: '127.0.0.1', family: 4 }];
    };
    const r = await safeFetch({ url: `http://feed.invalid:${new URL(base).port}/ok` }, policy, { ...noSleep, resolve });
    expect(r.body.toString()).toBe('<rss/>');
    expect(r.address).toBe('127.0.0.1');
    expect(calls).toBe(1);
  });

  it('refuses non-HTTP schemes, also as a redirect target', async () => {
    expect((await failure(safeFetch({ url: 'file:///etc/passwd' }, policy, noSleep))).code).toBe('bad_url');
    expect((await failure(safeFetch({ url: `${base}/to-file` }, policy, noSleep))).code).toBe('bad_url');
    expect((await failure(safeFetch({ url: 'not a url' }, policy, noSleep))).code).toBe('bad_url');
  });

  it('follows a bounded number of redirects', async () => {
    const r = await safeFetch({ url: `${base}/to-ok` }, policy, noSleep);
    expect(r.hops).toEqual([`${base}/to-ok`, `${base}/ok`]);
    const e = await failure(safeFetch({ url: `${base}/redirect-loop` }, { ...policy, maxRedirects: 3 }, noSleep));
    expect(e.code).toBe('too_many_redirects');
  });

  it('closes a redirect response instead of reading its body', async () => {
    const closed = new Promise<void>((resolve) => (redirectClosed = resolve));
    const r = await safeFetch({ url: `${base}/redirect-endless` }, policy, noSleep);
    expect(r.body.toString()).toBe('<rss/>');
    // Drained instead of closed, the endless body would keep the connection open and this never resolve.
    await closed;
  });

  it.each([
    ['/gzip', '<rss>gzip</rss>'],
    ['/br', '<rss>br</rss>'],
    ['/deflate-raw', '<rss>deflate</rss>'],
  ])('decompresses %s', async (path, text) => {
    expect((await safeFetch({ url: base + path }, policy, noSleep)).body.toString()).toBe(text);
  });

  it('limits the body while streaming: declared, endless and decompression bombs', async () => {
    const small = { ...policy, maxBytes: 1024 * 1024 };
    const started = Date.now();
    for (const path of ['/declared-large', '/endless', '/bomb']) {
      const e = await failure(safeFetch({ url: base + path }, small, noSleep));
      expect(e.code, path).toBe('too_large');
    }
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('times out a silent server and one that stalls mid-body', async () => {
    const quick = { ...policy, readTimeoutMs: 100, retries: 0 };
    expect((await failure(safeFetch({ url: `${base}/hang` }, quick, noSleep))).code).toBe('timeout');
    expect((await failure(safeFetch({ url: `${base}/stall-mid-body` }, quick, noSleep))).code).toBe('timeout');
  });

  it('retries transient failures with exponential backoff, not permanent ones', async () => {
    const waits: number[] = [];
    const sleep = async (ms: number) => void waits.push(ms);
    const r = await safeFetch({ url: `${base}/flaky` }, { ...policy, retries: 2, backoffMs: 100 }, { sleep });
    expect(r.body.toString()).toBe('<rss>third time</rss>');
    expect(r.attempts).toBe(3);
    expect(waits).toEqual([100, 200]);
    waits.length = 0;
    const e = await failure(safeFetch({ url: `${base}/gone` }, { ...policy, retries: 2 }, { sleep }));
    expect(e).toMatchObject({ code: 'http_status', transient: false });
    expect(waits).toEqual([]);
  });

  it('sends conditional headers and reports 304 without a body', async () => {
    const first = await safeFetch({ url: `${base}/conditional` }, policy, noSleep);
    expect(first.headers.etag).toBe('"v1"');
    const again = await safeFetch({ url: `${base}/conditional`, headers: { 'if-none-match': '"v1"' } }, policy, noSleep);
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
  });
});

describe('HostLimiter', () => {
  it('keeps at most perHost tasks in flight per host and runs the rest in order', async () => {
    const limiter = new HostLimiter(2);
    const release: (() => void)[] = [];
    const started: number[] = [];
    let peak = 0;
    const tasks = [0, 1, 2, 3, 4].map((i) =>
      limiter.run('gov.example', async () => {
        started.push(i);
        peak = Math.max(peak, limiter.inFlight('gov.example'));
        await new Promise<void>((r) => release.push(r));
      }),
    );
    const other = limiter.run('other.example', async () => 'free');
    expect(await other).toBe('free');
    await Promise.resolve();
    expect(started).toEqual([0, 1]);
    while (started.length < 5 || release.length > 0) {
      release.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(tasks);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(peak).toBe(2);
    expect(limiter.inFlight('gov.example')).toBe(0);
  });
});
