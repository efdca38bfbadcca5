export { ticketRoutes, Ticket } from './tickets.ts';
export { FeedPoller, decodeFeed, type PollResult } from './feeds.ts';
export { acceptSignal, signalId, redact } from './signals.ts';
