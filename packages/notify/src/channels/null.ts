import type { Channel, ChannelAdapter, OutboundMessage } from './port.ts';

/**
 * Records what would have been sent; tests script failures with `fail` (throw a
 * DeliveryError to choose transient or permanent).
 */
export function nullAdapter(
  channel: Channel,
  options: { fail?: (m: OutboundMessage) => Error | undefined; maxSendMs?: number } = {},
): ChannelAdapter & { sent: OutboundMessage[] } {
  const sent: OutboundMessage[] = [];
  return {
    channel,
    sent,
    maxSendMs: options.maxSendMs ?? 1_000,
    async send(m) {
      const error = options.fail?.(m);
      if (error) throw error;
      sent.push(m);
      return { providerId: m.messageId };
    },
    async close() {},
  };
}
