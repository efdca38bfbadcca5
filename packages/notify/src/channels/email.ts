import nodemailer from 'nodemailer';
import { type ChannelAdapter, DeliveryError, isTransientNetworkError } from './port.ts';

export interface EmailChannelOptions {
  /** `smtp://user:pass@host:587` (STARTTLS when offered) or `smtps://…:465` (implicit TLS). */
  url: string;
  from: string;
  /** Refuse to send without STARTTLS on a `smtp://` URL (a relay across the network). */
  requireTls?: boolean;
  /** Explicit credentials, overriding any in the URL. */
  auth?: { user: string; pass: string };
  /** Pool size: connections kept open to the relay. */
  maxConnections?: number;
  connectionTimeoutMs?: number;
  greetingTimeoutMs?: number;
  /** Inactivity on an open connection. */
  socketTimeoutMs?: number;
  /** Accept self-signed relay certificates (internal relays, tests). */
  allowSelfSigned?: boolean;
}

/** SMTP reply codes a later attempt may get past (busy, greylisting, local error, no storage). */
const TRANSIENT_SMTP = new Set([421, 450, 451, 452]);

/**
 * Email through a pooled nodemailer transport. Every timeout is bounded, so `maxSendMs` (the
 * sum of them, plus the time to send the data once the connection is idle at most that long)
 * is a real bound the dispatcher's lease can exceed.
 */
export function emailChannel(options: EmailChannelOptions): ChannelAdapter {
  const connectionTimeout = options.connectionTimeoutMs ?? 10_000;
  const greetingTimeout = options.greetingTimeoutMs ?? 10_000;
  const socketTimeout = options.socketTimeoutMs ?? 30_000;
  const maxSendMs = connectionTimeout + greetingTimeout + 2 * socketTimeout;
  const url = new URL(options.url);
  const secure = url.protocol === 'smtps:';
  const transport = nodemailer.createTransport({
    host: url.hostname,
    port: url.port ? Number(url.port) : secure ? 465 : 587,
    secure,
    requireTLS: !secure && (options.requireTls ?? false),
    pool: true,
    maxConnections: options.maxConnections ?? 3,
    connectionTimeout,
    greetingTimeout,
    socketTimeout,
    ...(options.auth
      ? { auth: options.auth }
      : url.username
        ? { auth: { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } }
        : {}),
    ...(options.allowSelfSigned ? { tls: { rejectUnauthorized: false } } : {}),
  });
  return {
    channel: 'email',
    maxSendMs,
    async send(m) {
      try {
        const info = await transport.sendMail({
          from: options.from,
          to: m.recipient,
          subject: m.subject,
          text: m.text,
          ...(m.html ? { html: m.html } : {}),
          messageId: m.messageId,
          headers: { 'X-Huiying-Notification': m.id },
        });
        return { providerId: String(info.messageId) };
      } catch (error) {
        const code = (error as { responseCode?: number }).responseCode;
        const message = error instanceof Error ? error.message : String(error);
        if (typeof code === 'number') throw new DeliveryError(`SMTP ${code}: ${message}`, TRANSIENT_SMTP.has(code));
        throw new DeliveryError(`SMTP: ${message}`, isTransientNetworkError(error));
      }
    },
    async close() {
      transport.close();
    },
  };
}
