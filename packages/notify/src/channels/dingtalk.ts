import { createHmac } from 'node:crypto';
import { postJson } from './http.ts';
import { type ChannelAdapter, DeliveryError } from './port.ts';
import { robotResult, truncateBytes } from './wecom.ts';

/**
 * 钉钉 / 政务钉钉 signed robot URL: `timestamp` (epoch ms) and `sign` =
 * urlencode(base64(HMAC-SHA256(secret, `${timestamp}\n${secret}`))) added to the webhook's
 * query. DingTalk rejects a timestamp more than an hour off its own clock.
 */
export function dingtalkSignedUrl(webhook: string, secret: string, timestamp: number): string {
  const sign = createHmac('sha256', secret).update(`${timestamp}\n${secret}`).digest('base64');
  const sep = webhook.includes('?') ? '&' : '?';
  return `${webhook}${sep}timestamp=${timestamp}&sign=${encodeURIComponent(sign)}`;
}

/**
 * 钉钉 group robot: POST `https://oapi.dingtalk.com/robot/send?access_token=…` (signed) with a
 * markdown message. Answers `{"errcode":0,"errmsg":"ok"}`; 130101 (sending too fast) is
 * worth a retry.
 */
export function dingtalkChannel(options: {
  targets: Record<string, { url: string; secret?: string }>;
  timeoutMs?: number;
  wallNow?: () => number;
}): ChannelAdapter {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const wallNow = options.wallNow ?? (() => Date.now());
  return {
    channel: 'dingtalk',
    maxSendMs: timeoutMs,
    async send(m) {
      const target = options.targets[m.recipient];
      if (!target) throw new DeliveryError(`no 钉钉 robot named ${JSON.stringify(m.recipient)}`, false);
      const url = target.secret ? dingtalkSignedUrl(target.url, target.secret, wallNow()) : target.url;
      const body = JSON.stringify({
        msgtype: 'markdown',
        markdown: { title: m.subject, text: truncateBytes(`### ${m.subject}\n\n${m.text}`, 5000) },
      });
      const { text } = await postJson(url, body, { timeoutMs });
      robotResult('钉钉', text, [130101]);
      return {};
    },
    async close() {},
  };
}
