import { createHmac } from 'node:crypto';
import { postJson } from './http.ts';
import { type ChannelAdapter, DeliveryError } from './port.ts';

export interface WebhookTarget {
  url: string;
  /** HMAC-SHA256 key shared with the receiver. */
  secret: string;
}

/** The signature a receiver recomputes: hex HMAC-SHA256 over `${timestamp}.${body}`. */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/**
 * A generic signed webhook. Headers: `X-Huiying-Timestamp` (epoch ms, so a receiver can
 * reject replays older than a few minutes), `X-Huiying-Signature: sha256=<hex>` and
 * `X-Huiying-Id` (the notification id, stable across resends — the receiver's dedup key).
 */
export function webhookChannel(options: {
  targets: Record<string, WebhookTarget>;
  timeoutMs?: number;
  /** Wall time for signatures (real time even in drills: receivers compare it with their own clock). */
  wallNow?: () => number;
}): ChannelAdapter {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const wallNow = options.wallNow ?? (() => Date.now());
  return {
    channel: 'webhook',
    maxSendMs: timeoutMs,
    async send(m) {
      const target = options.targets[m.recipient];
      if (!target) throw new DeliveryError(`no webhook target named ${JSON.stringify(m.recipient)}`, false);
      const body = JSON.stringify({ id: m.id, messageId: m.messageId, subject: m.subject, text: m.text });
      const timestamp = String(wallNow());
      await postJson(target.url, body, {
        timeoutMs,
        headers: {
          'x-huiying-timestamp': timestamp,
          'x-huiying-signature': `sha256=${webhookSignature(target.secret, timestamp, body)}`,
          'x-huiying-id': m.id,
        },
      });
      return {};
    },
    async close() {},
  };
}
