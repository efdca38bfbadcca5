/**
 * The board's page cache on its own, with a hand-driven LISTEN: what is served under which
 * generation, that a page computed across a notification is never kept, one computation for
 * concurrent misses, the size bound, and no caching while LISTEN is down; with a staleness
 * bound, the previous page served while one rebuild runs and never past the bound.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { gunzipSync } from 'node:zlib';
import { acceptsGzip, etagMatches, ListCache, sentPage } from '../src/list-cache.ts';

function fakeListen() {
  const state: { notify?: () => void; lose?: (e: unknown) => void; listens: number; fail: boolean } = { listens: 0, fail: false };
  const listen = async (_channel: string, onNotify: (p: string) => void, onLost?: (e: unknown) => void) => {
    if (state.fail) throw new Error('no database');
    state.listens++;
    state.notify = () => onNotify('incidents');
    state.lose = (e) => onLost?.(e);
    return async () => undefined;
  };
  return { state, listen };
}

const logger = pino({ level: 'silent' });
const STALE = { stale: true };
const deferred = () => {
  let resolve!: (v: string) => void;
  const promise = new Promise<string>((r) => (resolve = r));
  return { promise, resolve };
};

describe('ListCache', () => {
  it('serves the page it computed until a notification, then computes again', async () => {
    const { state, listen } = fakeListen();
    const cache = new ListCache({ listen, logger });
    await cache.start();
    let version = 1;
    const page = () => cache.get('k', async () => `v${version}`);
    expect(await page()).toBe('v1');
    version = 2;
    expect(await page()).toBe('v1');
    state.notify!();
    expect(await page()).toBe('v2');
    expect([cache.hits, cache.misses]).toEqual([1, 2]);
  });

  it('never keeps a page whose computation a notification overtook (no staleness allowed)', async () => {
    const { state, listen } = fakeListen();
    const cache = new ListCache({ listen, logger });
    await cache.start();
    const slow = deferred();
    const first = cache.get('k', () => slow.promise);
    state.notify!(); // a commit lands while the old snapshot is being read
    slow.resolve('old');
    expect(await first).toBe('old'); // the caller who asked before the commit may get it…
    expect(await cache.get('k', async () => 'new')).toBe('new'); // …nobody after it does
  });

  it('computes once for concurrent requests of one page', async () => {
    const { listen } = fakeListen();
    const cache = new ListCache({ listen, logger });
    await cache.start();
    const slow = deferred();
    let computed = 0;
    const compute = () => {
      computed++;
      return slow.promise;
    };
    const pages = [cache.get('k', compute), cache.get('k', compute), cache.get('k', compute)];
    slow.resolve('page');
    expect(await Promise.all(pages)).toEqual(['page', 'page', 'page']);
    expect(computed).toBe(1);
  });

  it('keeps at most `max` pages, dropping the least recently used', async () => {
    const { listen } = fakeListen();
    const cache = new ListCache({ listen, logger, max: 2 });
    await cache.start();
    await cache.get('a', async () => 'a1');
    await cache.get('b', async () => 'b1');
    await cache.get('a', async () => 'a2'); // a is now the most recent
    await cache.get('c', async () => 'c1'); // drops b
    expect(await cache.get('a', async () => 'a3')).toBe('a1');
    expect(await cache.get('b', async () => 'b2')).toBe('b2');
  });

  it('caches nothing without LISTEN, nor after losing it, until it listens again', async () => {
    const none = new ListCache({ logger });
    await none.start();
    let n = 0;
    await none.get('k', async () => `p${++n}`);
    expect(await none.get('k', async () => `p${++n}`)).toBe('p2');

    const { state, listen } = fakeListen();
    const cache = new ListCache({ listen, logger, retryMs: 10 });
    await cache.start();
    await cache.get('k', async () => 'before');
    state.lose!(new Error('connection reset'));
    expect(cache.enabled).toBe(false);
    expect(await cache.get('k', async () => 'read 1')).toBe('read 1');
    expect(await cache.get('k', async () => 'read 2')).toBe('read 2');
    await expect.poll(() => state.listens).toBe(2);
    expect(cache.enabled).toBe(true);
    expect(await cache.get('k', async () => 'after')).toBe('after');
    await cache.stop();
  });

  describe('rebuilt off the request path (maxStaleMs)', () => {
    async function staleCache(maxStaleMs = 1000) {
      const { state, listen } = fakeListen();
      const clock = { t: 0 };
      const cache = new ListCache({ listen, logger, maxStaleMs, now: () => clock.t });
      await cache.start();
      return { state, clock, cache };
    }

    it('after a change, serves the previous page while ONE rebuild runs, then the rebuilt page', async () => {
      const { state, cache } = await staleCache();
      expect(await cache.get('k', async () => 'v1', STALE)).toBe('v1');
      state.notify!();
      const rebuild = deferred();
      let computed = 0;
      const compute = () => {
        computed++;
        return rebuild.promise;
      };
      // Not waiting for the rebuild: the previous bytes, at once, to every request meanwhile.
      expect(await cache.get('k', compute, STALE)).toBe('v1');
      expect(await cache.get('k', compute, STALE)).toBe('v1');
      state.notify!(); // more changes during the rebuild start no second one
      expect(await cache.get('k', compute, STALE)).toBe('v1');
      expect(computed).toBe(1);
      rebuild.resolve('v2');
      await Promise.resolve();
      await Promise.resolve();
      // The rebuild missed the last change: served (within the bound) while the next rebuild runs.
      expect(await cache.get('k', async () => 'v3', STALE)).toBe('v2');
      await Promise.resolve();
      await Promise.resolve();
      expect(await cache.get('k', async () => 'v4', STALE)).toBe('v3');
      expect([cache.staleHits, cache.rebuilds]).toEqual([4, 2]);
    });

    it('never serves a page more than maxStaleMs after the first change it misses', async () => {
      const { state, clock, cache } = await staleCache(1000);
      await cache.get('k', async () => 'old', STALE);
      clock.t = 5_000;
      state.notify!();
      const hung = deferred();
      expect(await cache.get('k', () => hung.promise, STALE)).toBe('old'); // rebuild started, hangs
      clock.t = 6_000;
      expect(await cache.get('k', () => hung.promise, STALE)).toBe('old'); // exactly the bound
      clock.t = 6_001;
      // Past the bound: this request waits for the rebuild (read after the change)…
      const waiting = cache.get('k', async () => 'not asked', STALE);
      hung.resolve('fresh');
      expect(await waiting).toBe('fresh');
    });

    it('past the bound, a rebuild that itself missed a change is not waited for: a new one is', async () => {
      const { state, clock, cache } = await staleCache(1000);
      await cache.get('k', async () => 'old', STALE);
      state.notify!();
      const hung = deferred();
      expect(await cache.get('k', () => hung.promise, STALE)).toBe('old');
      state.notify!(); // the rebuild under way may miss this one
      clock.t = 1_001;
      expect(await cache.get('k', async () => 'fresh', STALE)).toBe('fresh');
      hung.resolve('late'); // older, does not replace it
      await Promise.resolve();
      await Promise.resolve();
      expect(await cache.get('k', async () => 'x', STALE)).toBe('fresh');
    });

    it('the bound counts from the first change missed, not the last', async () => {
      const { state, clock, cache } = await staleCache(1000);
      await cache.get('k', async () => 'old', STALE);
      state.notify!();
      clock.t = 900;
      state.notify!();
      clock.t = 1_001;
      expect(await cache.get('k', async () => 'fresh', STALE)).toBe('fresh');
    });

    it("this process's own writes (invalidate) are never served stale", async () => {
      const { cache } = await staleCache();
      await cache.get('k', async () => 'before the write', STALE);
      cache.invalidate();
      expect(await cache.get('k', async () => 'after the write', STALE)).toBe('after the write');
    });

    it('a stale page is served only under its own key (a unit user never gets another scope’s page)', async () => {
      const { state, cache } = await staleCache();
      await cache.get('["housing","/api/incidents"]', async () => 'housing page', STALE);
      state.notify!();
      expect(await cache.get('["environment","/api/incidents"]', async () => 'environment page', STALE)).toBe('environment page');
      expect(await cache.get('["housing","/api/incidents"]', async () => 'housing page 2', STALE)).toBe('housing page');
    });

    it('a failed rebuild leaves the stale page until the bound, then the request itself fails', async () => {
      const { state, clock, cache } = await staleCache(1000);
      await cache.get('k', async () => 'old', STALE);
      state.notify!();
      expect(await cache.get('k', async () => Promise.reject(new Error('db down')), STALE)).toBe('old');
      await Promise.resolve();
      await Promise.resolve();
      clock.t = 2_000;
      await expect(cache.get('k', async () => Promise.reject(new Error('db down')), STALE)).rejects.toThrow('db down');
    });
  });

  it("serves no stale page to a caller that does not allow it (a unit user's board)", async () => {
    const { listen, state } = fakeListen();
    const cache = new ListCache({ listen, logger, maxStaleMs: 1000, now: () => 0 });
    await cache.start();
    await cache.get('k', async () => 'old');
    state.notify!();
    expect(await cache.get('k', async () => 'fresh')).toBe('fresh');
    expect(cache.staleHits).toBe(0);
  });
});

describe('the page as it goes out', () => {
  it('is made once: the bytes, their tag, and the same gzipped under another tag', () => {
    const json = JSON.stringify({
      items: Array.from({ length: 50 }, (_, i) => ({ id: `inc_${i}`, title: '事件 市民反映问题' })),
      total: 3000,
    });
    const page = sentPage(json);
    expect(page.body.toString()).toBe(json);
    expect(gunzipSync(page.gzip).toString()).toBe(json);
    expect(page.gzip.length).toBeLessThan(page.body.length / 4);
    expect(page.etag).toMatch(/^"[\w-]{32}"$/);
    expect(page.gzipEtag).not.toBe(page.etag);
    expect(sentPage(json)).toEqual(page);
    expect(sentPage(json.replace('inc_7', 'inc_8')).etag).not.toBe(page.etag);
    expect(etagMatches(`W/${page.gzipEtag}, "x"`, page.gzipEtag)).toBe(true);
    expect(etagMatches(page.etag, page.gzipEtag)).toBe(false);
  });

  it('is gzipped only for a client whose Accept-Encoding takes gzip', () => {
    for (const yes of [
      'gzip',
      'gzip, deflate, br, zstd',
      'br;q=1.0, gzip;q=0.8',
      'GZIP',
      'x-gzip',
      '*',
      'identity, *;q=0.5',
      ' gzip ; q=1 ',
    ])
      expect(acceptsGzip(yes), yes).toBe(true);
    for (const no of [
      undefined,
      '',
      'identity',
      'br, deflate',
      'gzip;q=0',
      'gzip; q=0.000',
      '*;q=0',
      'gzip;q=0, *',
      'gzipx',
      'deflate, *;q=0',
    ])
      expect(acceptsGzip(no), String(no)).toBe(false);
  });
});
