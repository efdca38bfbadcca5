import { postJson } from './http.ts';
import { type ChannelAdapter, DeliveryError } from './port.ts';

/**
 * 企业微信 / 政务微信 group robot (群机器人): POST
 * `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY` with a markdown message (at
 * most 4096 bytes). The robot answers 200 with `{"errcode":0,"errmsg":"ok"}`; errcode 45009
 * is its rate limit (20 messages a minute), worth a retry; other codes are configuration.
 * 政务微信 deployments expose the same API on their own host: give the full URL.
 */
export function wecomChannel(options: { targets: Record<string, { url: string }>; timeoutMs?: number }): ChannelAdapter {
  const timeoutMs = options.timeoutMs ?? 10_000;
  return {
    channel: 'wecom',
    maxSendMs: timeoutMs,
    async send(m) {
      const target = options.targets[m.recipient];
      if (!target) throw new DeliveryError(`no 企业微信 robot named ${JSON.stringify(m.recipient)}`, false);
      const content = truncateBytes(`**${m.subject}**\n${m.text}`, 4096);
      const { text } = await postJson(target.url, JSON.stringify({ msgtype: 'markdown', markdown: { content } }), { timeoutMs });
      robotResult('企业微信', text, [45009]);
      return {};
    },
    async close() {},
  };
}

/** Robots report failures inside a 200: `{ errcode, errmsg }`. */
export function robotResult(name: string, body: string, transientCodes: readonly number[]): void {
  let parsed: { errcode?: unknown; errmsg?: unknown };
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    throw new DeliveryError(`${name} robot: unreadable answer ${body.slice(0, 100)}`, true);
  }
  const code = Number(parsed.errcode ?? 0);
  if (code !== 0) throw new DeliveryError(`${name} robot: errcode ${code} ${String(parsed.errmsg ?? '')}`, transientCodes.includes(code));
}

/** Cut a UTF-8 string to at most `max` bytes without splitting a character. */
export function truncateBytes(s: string, max: number): string {
  if (Buffer.byteLength(s) <= max) return s;
  let out = '';
  let bytes = 0;
  for (const ch of s) {
    const b = Buffer.byteLength(ch);
    if (bytes + b > max - 3) break;
    out += ch;
    bytes += b;
  }
  return `${out}…`;
}
