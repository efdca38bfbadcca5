/**
 * One port for every outbound channel. The dispatcher owns retries and bookkeeping; an
 * adapter only delivers one message and says, by the error it throws, whether trying again
 * can help.
 */
import type { Channel } from '@huiying/domain';

export type { Channel };

export interface OutboundMessage {
  /** The notification row id. */
  id: string;
  channel: Channel;
  /** An address (email, phone) or, for webhook and robots, a configured target name. */
  recipient: string;
  subject: string;
  text: string;
  html: string | null;
  /** Stable per notification (`<id@domain>`), so a receiver can drop a resend. */
  messageId: string;
}

export interface ChannelAdapter {
  readonly channel: Channel;
  /**
   * The longest one send may take, every timeout included. The dispatcher's lease must be
   * longer, or a slow send could be taken over and sent twice.
   */
  readonly maxSendMs: number;
  send(message: OutboundMessage): Promise<{ providerId?: string }>;
  close(): Promise<void>;
}

/** A failure the adapter has classified: transient ones are retried with backoff. */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly transient: boolean,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

/** Network-level failures worth retrying (the peer is down, restarting or unreachable for now). */
const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  // nodemailer's own wrappers around the above
  'ECONNECTION',
  'ESOCKET',
]);

/** Transient unless we know better: a network error code anywhere in the cause chain. */
export function isTransientNetworkError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && TRANSIENT_NETWORK_CODES.has(code)) return true;
    if (e instanceof Error && /ECONNREFUSED|ECONNRESET|ETIMEDOUT|socket hang up/.test(e.message)) return true;
    if ((e as { name?: unknown }).name === 'TimeoutError' || (e as { name?: unknown }).name === 'AbortError') return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** HTTP: 5xx and 429 may pass later; any other non-2xx will not. */
export function isTransientHttpStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}
