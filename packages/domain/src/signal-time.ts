/**
 * Credible signal times. A clock starts at the earliest credible moment a matter became public
 * (domain.md), but a feed's own dates are not always credible: an archive re-read when a feed
 * is added would start (and at once breach) clocks for matters long settled, a misconfigured
 * server dates items in the future, a broken one dates them 1970. This decides, per item,
 * which instant the signal carries and whether it may open a clock at all.
 */
import { MS_PER_HOUR } from './time.ts';
import type { Instant } from './types.ts';

export type TimeDecision = 'published' | 'fetch_time' | 'history';

export type TimeReason =
  /** The item's own publish time, credible. */
  | 'publish_time'
  /** No publish time at all, or one that could not be read. */
  | 'no_publish_time'
  | 'unreadable_publish_time'
  /** Later than the fetch (beyond the tolerance for clock skew). */
  | 'publish_time_in_future'
  /** Earlier than any plausible date for a live feed (epoch 0, year 1900, …). */
  | 'publish_time_implausibly_old'
  /** Published before the feed was watched: the archive, not news. */
  | 'published_before_feed_added'
  /** Older than the back-fill window at the time it was fetched. */
  | 'older_than_backfill_window'
  /** The first poll of a feed, and no credible time: part of the baseline. */
  | 'baseline_without_credible_time';

export interface SignalTimeInput {
  /** The item's publish time, if the feed gave one that could be read. */
  published?: Instant;
  /** Whether the feed gave a date text at all (so an unreadable one can be told from none). */
  hadDateText?: boolean;
  fetchedAt: Instant;
  /** When the feed was added (its first poll): the baseline before which items are archive. */
  feedAddedAt: Instant;
  /** Whether this is the feed's first successful poll. */
  firstPoll: boolean;
}

export interface SignalTimePolicy {
  /** Items older than this at fetch time are history. */
  backfillWindowMs: number;
  /** Publish times up to this far after the fetch are taken as clock skew, not as the future. */
  futureToleranceMs: number;
  /** Publish times more than this before the fetch are implausible (a broken date). */
  implausibleAgeMs: number;
}

export const DEFAULT_SIGNAL_TIME_POLICY: SignalTimePolicy = {
  backfillWindowMs: 48 * MS_PER_HOUR,
  futureToleranceMs: 10 * 60_000,
  implausibleAgeMs: 20 * 365 * 24 * MS_PER_HOUR,
};

export interface SignalTime {
  /** The instant the signal carries (its start for a clock, unless history). */
  at: Instant;
  decision: TimeDecision;
  reason: TimeReason;
}

export function decideSignalTime(input: SignalTimeInput, policy: SignalTimePolicy = DEFAULT_SIGNAL_TIME_POLICY): SignalTime {
  const { published, fetchedAt } = input;
  let credible: SignalTime | undefined;
  if (published === undefined) {
    credible = undefined;
  } else if (published > fetchedAt + policy.futureToleranceMs) {
    return fallback(input, 'publish_time_in_future');
  } else if (published < fetchedAt - policy.implausibleAgeMs) {
    return fallback(input, 'publish_time_implausibly_old');
  } else {
    credible = { at: Math.min(published, fetchedAt), decision: 'published', reason: 'publish_time' };
  }
  if (credible === undefined) return fallback(input, input.hadDateText ? 'unreadable_publish_time' : 'no_publish_time');
  if (credible.at < input.feedAddedAt) return { ...credible, decision: 'history', reason: 'published_before_feed_added' };
  if (credible.at < fetchedAt - policy.backfillWindowMs) return { ...credible, decision: 'history', reason: 'older_than_backfill_window' };
  return credible;
}

function fallback(input: SignalTimeInput, reason: TimeReason): SignalTime {
  // Without a credible date, an item in the first poll is part of what the feed held when it
  // was added: stored as history with the fetch time, opening no clock.
  if (input.firstPoll) return { at: input.fetchedAt, decision: 'history', reason: 'baseline_without_credible_time' };
  return { at: input.fetchedAt, decision: 'fetch_time', reason };
}
