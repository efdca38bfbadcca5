import { postJson } from './http.ts';
import type { ChannelAdapter } from './port.ts';

export interface SmsGatewayOptions {
  /** The gateway endpoint (the operator's or a 政务短信平台's HTTP API). */
  url: string;
  /** Sent as `Authorization: Bearer …` when set. */
  token?: string;
  /** Field names the gateway expects; defaults `phone`, `content`, `requestId`. */
  fields?: { phone?: string; content?: string; requestId?: string };
  /** SMS text is cut to this many characters (long SMS are billed per 67). */
  maxChars?: number;
  timeoutMs?: number;
}

/**
 * SMS through an HTTP gateway: one JSON POST per message; the request id is the notification
 * id, so a gateway that deduplicates drops a resend. Texts are short: the subject and the link.
 */
export function smsChannel(options: SmsGatewayOptions): ChannelAdapter {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const f = { phone: 'phone', content: 'content', requestId: 'requestId', ...options.fields };
  const maxChars = options.maxChars ?? 300;
  return {
    channel: 'sms',
    maxSendMs: timeoutMs,
    async send(m) {
      const link = /https?:\/\/\S+/.exec(m.text)?.[0];
      let content = link ? `${m.subject} ${link}` : m.subject;
      if ([...content].length > maxChars) content = `${[...content].slice(0, maxChars - 1).join('')}…`;
      await postJson(options.url, JSON.stringify({ [f.phone]: m.recipient, [f.content]: content, [f.requestId]: m.id }), {
        timeoutMs,
        ...(options.token ? { headers: { authorization: `Bearer ${options.token}` } } : {}),
      });
      return {};
    },
    async close() {},
  };
}
