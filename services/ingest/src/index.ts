export { ticketRoutes, Ticket, TicketBatch, MAX_TICKETS_PER_REQUEST } from './tickets.ts';
export { FeedPoller, decodeFeed, type PollResult } from './feeds.ts';
export { acceptSignal, acceptSignals, signalId, redact } from './signals.ts';
export { GroupCommit } from './group-commit.ts';
