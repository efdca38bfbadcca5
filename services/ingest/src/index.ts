export { ticketRoutes, Ticket, TicketBatch, MAX_TICKETS_PER_REQUEST } from './tickets.ts';
export {
  DEFAULT_POLLER_OPTIONS,
  feedAlertEvent,
  feedFailingAlertId,
  FeedPoller,
  type FeedPollerOptions,
  type PollResult,
} from './feeds.ts';
export { storeFeedItem, type StoreOutcome } from './feed-store.ts';
export { readFeed, type FeedRead } from './feed/read.ts';
export { FeedParseError } from './feed/parse.ts';
export { AddressPolicy, DEFAULT_FETCH_POLICY, FetchError, type FetchPolicy, HostLimiter, safeFetch } from './fetch/index.ts';
export { acceptSignal, acceptSignals, signalId, redact, redactText } from './signals.ts';
export { GroupCommit } from './group-commit.ts';
