/**
 * The board's page cache on its own, with a hand-driven LISTEN: what is served under which
 * generation, that a page computed across a notification is never kept, one computation for
 * concurrent misses, the size bound, and no caching while LISTEN is down.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ListCache } from '../src/list-cache.ts';

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

  it('never keeps a page whose computation a notification overtook', async () => {
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
});
