/**
 * Settings the engine process and the embedded default share: the channels' keys (from
 * @huiying/notify), routing by urgency and hour, the weekly digest and the handover summaries.
 * One schema fragment, so both processes read the same keys with the same defaults.
 */
import { Type } from '@huiying/config';
import { DEFAULT_ROUTING, MS_PER_HOUR, type RoutingRule } from '@huiying/domain';
import type { DigestOptions } from './digest.ts';

/** Routing by urgency and hour: the engine's and the API's (commands queue ladder steps too). */
export const routingSettingsSchema = {
  /** A clock whose span is at most this many hours is urgent: its steps also go to the robots, and by SMS at night. */
  URGENT_SPAN_HOURS: Type.Number({ exclusiveMinimum: 0, default: DEFAULT_ROUTING.urgentSpanMs / MS_PER_HOUR }),
  /** Night in Asia/Shanghai, [from, to): urgent steps also go by SMS. */
  NIGHT_FROM_HOUR: Type.Integer({ minimum: 0, maximum: 23, default: DEFAULT_ROUTING.nightFromHour }),
  NIGHT_TO_HOUR: Type.Integer({ minimum: 0, maximum: 23, default: DEFAULT_ROUTING.nightToHour }),
};

export const notifySettingsSchema = {
  /** A PEM CA the SMTP relay's certificate is checked against (an internal CA). */
  SMTP_CA_FILE: Type.Optional(Type.String({ minLength: 1 })),
  /** SMS through an HTTP gateway (JSON POST {phone, content, requestId}). */
  SMS_GATEWAY_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  SMS_GATEWAY_TOKEN: Type.Optional(Type.String()),
  /** 企业微信/政务微信 robots by name: {"name": "https://…/webhook/send?key=…"}. */
  WECOM_ROBOTS: Type.Optional(Type.String()),
  /** 钉钉/政务钉钉 robots by name: {"name": {"url": "…access_token=…", "secret": "SEC…"}}. */
  DINGTALK_ROBOTS: Type.Optional(Type.String()),
  /** Signed generic webhooks by name: {"name": {"url": "…", "secret": "…"}}. */
  WEBHOOK_TARGETS: Type.Optional(Type.String()),
  ...routingSettingsSchema,
  /** ISO weekday of the leaders' weekly digest (1 = Monday … 7 = Sunday); 0 turns it off. */
  WEEKLY_DIGEST_DAY: Type.Integer({ minimum: 0, maximum: 7, default: 1 }),
  /** Asia/Shanghai hour of the weekly digest (default: DIGEST_HOUR). */
  WEEKLY_DIGEST_HOUR: Type.Optional(Type.Integer({ minimum: 0, maximum: 23 })),
  /** 交接班 summaries at each shift change of the duty roster; "false" turns them off. */
  HANDOVER: Type.Boolean({ default: true }),
};

export interface NotifySettings {
  URGENT_SPAN_HOURS: number;
  NIGHT_FROM_HOUR: number;
  NIGHT_TO_HOUR: number;
  WEEKLY_DIGEST_DAY: number;
  WEEKLY_DIGEST_HOUR?: number | undefined;
}

export function routingFrom(s: Pick<NotifySettings, 'URGENT_SPAN_HOURS' | 'NIGHT_FROM_HOUR' | 'NIGHT_TO_HOUR'>): RoutingRule {
  return { urgentSpanMs: s.URGENT_SPAN_HOURS * MS_PER_HOUR, nightFromHour: s.NIGHT_FROM_HOUR, nightToHour: s.NIGHT_TO_HOUR };
}

export function digestFrom(s: NotifySettings, dailyHour: number): DigestOptions {
  return {
    hour: dailyHour,
    weekly: s.WEEKLY_DIGEST_DAY === 0 ? null : { day: s.WEEKLY_DIGEST_DAY, hour: s.WEEKLY_DIGEST_HOUR ?? dailyHour },
  };
}
