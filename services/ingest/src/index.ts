export { acceptTickets } from './ticket-writes.ts';
export { ticketRoutes } from './ticket-routes.ts';
export {
  DEFAULT_TICKET_TIME_POLICY,
  decideTicketTime,
  MAX_TICKETS_PER_REQUEST,
  Ticket,
  TicketBatch,
  type TicketOrigin,
  type TicketResult,
  type TicketTimePolicy,
  ticketConfig,
  ticketPolicyOf,
  ticketRef,
} from './tickets.ts';
export {
  createHotlineSource,
  disableHotlineSource,
  findHotlineSource,
  type HotlineSource,
  HotlineSourceError,
  listHotlineSources,
  setHotlineSourceJurisdiction,
  SOURCE_NAME_PATTERN,
  signBody,
} from './hotline-auth.ts';
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
export { hotlineSignalId, loadSignalKey, signalKeyOf } from './signal-key.ts';
export { GroupCommit } from './group-commit.ts';
export { ImportFileError, type ImportReport, importTicketFile, readTicketFile, type RowError, TICKET_COLUMNS } from './tickets-import.ts';
export {
  archiveUrl,
  DEFAULT_EVIDENCE_OPTIONS,
  EvidenceArchiver,
  type EvidenceOptions,
  type EvidenceState,
  evidenceId,
  isTextType,
} from './evidence.ts';
