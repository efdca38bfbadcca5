import { describe, expect, it } from 'vitest';
import { decideSignalTime, DEFAULT_SIGNAL_TIME_POLICY, MS_PER_HOUR } from '../src/index.ts';

const FETCH = Date.parse('2026-11-28T12:00:00Z');
const ADDED = FETCH - 10 * 24 * MS_PER_HOUR;
const base = { fetchedAt: FETCH, feedAddedAt: ADDED, firstPoll: false };

describe('decideSignalTime', () => {
  it.each([
    ['a credible publish time', FETCH - 2 * MS_PER_HOUR, 'published', 'publish_time', FETCH - 2 * MS_PER_HOUR],
    ['a few minutes ahead (server clock skew): clamped to the fetch', FETCH + 5 * 60_000, 'published', 'publish_time', FETCH],
    ['beyond the skew tolerance', FETCH + 11 * 60_000, 'fetch_time', 'publish_time_in_future', FETCH],
    ['at the edge of the back-fill window', FETCH - 48 * MS_PER_HOUR, 'published', 'publish_time', FETCH - 48 * MS_PER_HOUR],
    ['just past the back-fill window', FETCH - 48 * MS_PER_HOUR - 1, 'history', 'older_than_backfill_window', FETCH - 48 * MS_PER_HOUR - 1],
    ['epoch zero', 0, 'fetch_time', 'publish_time_implausibly_old', FETCH],
  ])('%s', (_name, published, decision, reason, at) => {
    expect(decideSignalTime({ ...base, published })).toEqual({ at, decision, reason });
  });

  it('an item published before the feed was added is history even inside the window', () => {
    const added = FETCH - MS_PER_HOUR;
    expect(decideSignalTime({ ...base, feedAddedAt: added, published: added - 1 })).toMatchObject({
      decision: 'history',
      reason: 'published_before_feed_added',
    });
    expect(decideSignalTime({ ...base, feedAddedAt: added, published: added })).toMatchObject({ decision: 'published' });
  });

  it('no credible time: the fetch time, or baseline history on the first poll', () => {
    expect(decideSignalTime({ ...base })).toEqual({ at: FETCH, decision: 'fetch_time', reason: 'no_publish_time' });
    expect(decideSignalTime({ ...base, hadDateText: true })).toMatchObject({ reason: 'unreadable_publish_time' });
    expect(decideSignalTime({ ...base, firstPoll: true, published: FETCH + MS_PER_HOUR })).toEqual({
      at: FETCH,
      decision: 'history',
      reason: 'baseline_without_credible_time',
    });
  });

  it('takes its windows from the policy', () => {
    const policy = { ...DEFAULT_SIGNAL_TIME_POLICY, backfillWindowMs: MS_PER_HOUR };
    expect(decideSignalTime({ ...base, published: FETCH - 2 * MS_PER_HOUR }, policy)).toMatchObject({ decision: 'history' });
  });
});
