/**
 * Every channel adapter whose settings are present, from one flat record of settings (a
 * service's parsed config). Shared by the engine process and the embedded default so both
 * read the same keys; the README's process table lists them.
 *
 *   SMTP_URL, MAIL_FROM, SMTP_REQUIRE_TLS        email (smtp:// STARTTLS, smtps:// TLS; user:password@ in
 *                                                the URL, percent-encoded, for AUTH PLAIN/LOGIN)
 *   SMTP_CA_FILE                                 a PEM CA the relay's certificate is checked against
 *                                                (an internal CA; NODE_EXTRA_CA_CERTS works too)
 *   SMS_GATEWAY_URL, SMS_GATEWAY_TOKEN           SMS through an HTTP gateway
 *   WECOM_ROBOTS      {"name": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…"}
 *   DINGTALK_ROBOTS   {"name": {"url": "https://oapi.dingtalk.com/robot/send?access_token=…", "secret": "SEC…"}}
 *   WEBHOOK_TARGETS   {"name": {"url": "https://…", "secret": "…"}}
 *
 * Robot and webhook rows name a target (units.wecom_robot …); the URL and secret stay here.
 */
import { readFileSync } from 'node:fs';
import type { Channel } from '@huiying/domain';
import { dingtalkChannel } from './dingtalk.ts';
import { emailChannel } from './email.ts';
import type { ChannelAdapter } from './port.ts';
import { smsChannel } from './sms.ts';
import { webhookChannel } from './webhook.ts';
import { wecomChannel } from './wecom.ts';

export interface ChannelSettings {
  SMTP_URL?: string | undefined;
  MAIL_FROM?: string | undefined;
  SMTP_REQUIRE_TLS?: boolean | undefined;
  SMTP_CA_FILE?: string | undefined;
  SMS_GATEWAY_URL?: string | undefined;
  SMS_GATEWAY_TOKEN?: string | undefined;
  WECOM_ROBOTS?: string | undefined;
  DINGTALK_ROBOTS?: string | undefined;
  WEBHOOK_TARGETS?: string | undefined;
}

/** The keys, for a service's config schema (all optional strings; SMTP_REQUIRE_TLS is the service's). */
export const CHANNEL_SETTING_KEYS = ['SMS_GATEWAY_URL', 'SMS_GATEWAY_TOKEN', 'WECOM_ROBOTS', 'DINGTALK_ROBOTS', 'WEBHOOK_TARGETS'] as const;

export class ChannelSettingsError extends Error {
  override name = 'ChannelSettingsError';
}

const isUrl = (v: unknown): v is string => typeof v === 'string' && /^https?:\/\/\S+$/.test(v);

function targets<T>(key: string, raw: string | undefined, one: (name: string, v: unknown) => T): Record<string, T> | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ChannelSettingsError(`${key}: not JSON (expected {"name": …})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new ChannelSettingsError(`${key}: expected an object of named targets`);
  const out: Record<string, T> = {};
  for (const [name, v] of Object.entries(parsed)) out[name] = one(name, v);
  return out;
}

function urlAndSecret(key: string, secretRequired: boolean) {
  return (name: string, v: unknown) => {
    const o = (typeof v === 'string' ? { url: v } : v) as { url?: unknown; secret?: unknown } | null;
    if (!o || !isUrl(o.url)) throw new ChannelSettingsError(`${key}/${name}: url must be an http(s) URL`);
    if (o.secret !== undefined && typeof o.secret !== 'string') throw new ChannelSettingsError(`${key}/${name}: secret must be a string`);
    if (secretRequired && !o.secret) throw new ChannelSettingsError(`${key}/${name}: secret is required`);
    return { url: o.url, ...(typeof o.secret === 'string' && o.secret ? { secret: o.secret } : {}) };
  };
}

function readCa(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new ChannelSettingsError(`SMTP_CA_FILE: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
}

/** The adapters configured by `s`; a channel without settings has none (its rows fail as "no adapter"). */
export function channelsFromSettings(s: ChannelSettings, o: { wallNow?: () => number } = {}): Partial<Record<Channel, ChannelAdapter>> {
  const out: Partial<Record<Channel, ChannelAdapter>> = {};
  if (s.SMTP_URL) {
    out.email = emailChannel({
      url: s.SMTP_URL,
      from: s.MAIL_FROM ?? 'huiying@localhost',
      ...(s.SMTP_REQUIRE_TLS ? { requireTls: true } : {}),
      ...(s.SMTP_CA_FILE ? { ca: readCa(s.SMTP_CA_FILE) } : {}),
    });
  }
  if (s.SMS_GATEWAY_URL) {
    if (!isUrl(s.SMS_GATEWAY_URL)) throw new ChannelSettingsError('SMS_GATEWAY_URL: must be an http(s) URL');
    out.sms = smsChannel({ url: s.SMS_GATEWAY_URL, ...(s.SMS_GATEWAY_TOKEN ? { token: s.SMS_GATEWAY_TOKEN } : {}) });
  }
  const wecom = targets('WECOM_ROBOTS', s.WECOM_ROBOTS, (name, v) => {
    const t = urlAndSecret('WECOM_ROBOTS', false)(name, v);
    return { url: t.url };
  });
  if (wecom) out.wecom = wecomChannel({ targets: wecom });
  const dingtalk = targets('DINGTALK_ROBOTS', s.DINGTALK_ROBOTS, urlAndSecret('DINGTALK_ROBOTS', false));
  if (dingtalk) out.dingtalk = dingtalkChannel({ targets: dingtalk, ...(o.wallNow ? { wallNow: o.wallNow } : {}) });
  const webhook = targets('WEBHOOK_TARGETS', s.WEBHOOK_TARGETS, urlAndSecret('WEBHOOK_TARGETS', true));
  if (webhook)
    out.webhook = webhookChannel({
      targets: Object.fromEntries(Object.entries(webhook).map(([k, t]) => [k, { url: t.url, secret: t.secret! }])),
      ...(o.wallNow ? { wallNow: o.wallNow } : {}),
    });
  return out;
}
