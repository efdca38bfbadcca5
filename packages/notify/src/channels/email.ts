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
  /**
   * Trust this CA (PEM) for the relay's certificate, still checking it and the host name. A
   * process can instead trust an internal CA for every connection with NODE_EXTRA_CA_CERTS.
   */
  ca?: string;
}

/**
 * SMTP reply codes a later attempt may get past: every 4yz is a transient negative reply
 * (RFC 5321 4.2.1) — busy, greylisting, local error, no storage, and 454 temporary
 * authentication failure (RFC 4954); every 5yz (535 bad credentials, 550 no mailbox) is not.
 */
/**
 * Node's certificate verification failures, which nodemailer passes on only as a socket error's
 * text ("self-signed certificate", "unable to verify the first certificate", "certificate has
 * expired", "Hostname/IP does not match certificate's altnames"). Trying again will not change
 * the relay's certificate: fail at once so the duty board shows it.
 */
const UNTRUSTED_CERTIFICATE = /certificate|altnames/i;

export const isTransientSmtpCode = (code: number): boolean => code >= 400 && code < 500;

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
    ...(options.allowSelfSigned ? { tls: { rejectUnauthorized: false } } : options.ca ? { tls: { ca: options.ca } } : {}),
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
        if (typeof code === 'number') throw new DeliveryError(`SMTP ${code}: ${message}`, isTransientSmtpCode(code));
        throw new DeliveryError(`SMTP: ${message}`, !UNTRUSTED_CERTIFICATE.test(message) && isTransientNetworkError(error));
      }
    },
    async close() {
      transport.close();
    },
  };
}
