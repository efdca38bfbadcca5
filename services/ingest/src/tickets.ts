/**
 * A 12345 hotline ticket (工单): its schema, whether its time is credible (live, back-fill or
 * refused), and the signal it becomes — personal data masked. Stored by ticket-writes.ts,
 * received by ticket-routes.ts and the import CLI.
 */
import { type Static, Type } from '@sinclair/typebox';
import { maskPersonalField } from '@huiying/domain/personal-data';
import { type NewSignal, redact } from './signals.ts';

/** Text without control characters other than tab and line breaks (PostgreSQL refuses NUL). */
const NO_CONTROL = '^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F]*$';

/** A 12345 hotline ticket (工单) as the hotline system hands it over. */
export const Ticket = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 200, pattern: NO_CONTROL, description: '工单编号 ticket id in the hotline system' }),
    receivedAt: Type.String({ format: 'date-time', description: '受理时间 ISO-8601 with offset' }),
    content: Type.String({ minLength: 1, maxLength: 20000, pattern: NO_CONTROL, description: '诉求内容' }),
    title: Type.Optional(Type.String({ maxLength: 500, pattern: NO_CONTROL })),
    category: Type.Optional(Type.String({ maxLength: 100, pattern: NO_CONTROL, description: '诉求类型 咨询/求助/投诉/举报/建议' })),
    area: Type.Optional(Type.String({ maxLength: 100, pattern: NO_CONTROL, description: '所属区域' })),
    unit: Type.Optional(Type.String({ maxLength: 100, pattern: NO_CONTROL, description: '承办单位 id' })),
    contact: Type.Optional(Type.String({ maxLength: 100, pattern: NO_CONTROL, description: '联系方式 (same as phone; kept out of logs)' })),
    caller: Type.Optional(Type.String({ maxLength: 100, pattern: NO_CONTROL, description: '来电人 (stored apart, never on the bus)' })),
    phone: Type.Optional(Type.String({ maxLength: 100, pattern: NO_CONTROL, description: '联系电话 (stored apart, never on the bus)' })),
    backfill: Type.Optional(
      Type.Boolean({ description: '补录: an old ticket sent as history — stored, opens no clock, exempt from the receivedAt bound' }),
    ),
  },
  { additionalProperties: false },
);
export type Ticket = Static<typeof Ticket>;

/** One ticket's outcome: stored (now or before), or refused with a reason (nothing stored). */
export const TicketResult = Type.Object({
  signalId: Type.Optional(Type.String()),
  duplicate: Type.Optional(Type.Boolean({ description: 'stored before (a resend, or earlier in this batch)' })),
  history: Type.Optional(Type.Boolean({ description: 'stored as history (back-fill): opens no clock' })),
  error: Type.Optional(
    Type.Object({ code: Type.String(), status: Type.Integer(), message: Type.String() }, { description: 'why this ticket was refused' }),
  ),
});
export type TicketResult = Static<typeof TicketResult>;
/** The answer to a single ticket (refusals are an HTTP 4xx instead). */
export const TicketAccepted = Type.Object({ signalId: Type.String(), duplicate: Type.Boolean(), history: Type.Boolean() });

/** Most tickets per request: a batch is one transaction, and one request body stays bounded. */
export const MAX_TICKETS_PER_REQUEST = 1000;

export const TicketBatch = Type.Array(Ticket, {
  minItems: 1,
  maxItems: MAX_TICKETS_PER_REQUEST,
  description: '一批工单 (one transaction; idempotent per source and ticket id)',
});
export const TicketBatchAccepted = Type.Object({
  accepted: Type.Integer({ description: 'tickets stored now (history included)' }),
  history: Type.Integer({ description: 'of those, stored as history' }),
  duplicates: Type.Integer({ description: 'tickets seen before (or earlier in this batch)' }),
  refused: Type.Integer({ description: 'tickets refused (see each result.error)' }),
  results: Type.Array(TicketResult, { description: 'one per ticket, in request order' }),
});

/** How old (or how far in the future) a ticket's 受理时间 may be to open a clock. */
export interface TicketTimePolicy {
  /** Older than this is refused, unless sent as a back-fill. */
  maxAgeMs: number;
  /** Later than now by more than this is refused (a hotline clock running ahead a little is not). */
  futureSkewMs: number;
}
export const DEFAULT_TICKET_TIME_POLICY: TicketTimePolicy = { maxAgeMs: 7 * 86_400_000, futureSkewMs: 5 * 60_000 };

/** Configuration keys for the bound (spread into the schema of every process serving /api/tickets). */
export const ticketConfig = {
  /** A ticket's receivedAt older than this is refused unless sent as a back-fill. */
  TICKET_MAX_AGE_HOURS: Type.Number({ default: DEFAULT_TICKET_TIME_POLICY.maxAgeMs / 3_600_000, exclusiveMinimum: 0 }),
  /** …and one later than now by more than this. */
  TICKET_FUTURE_SKEW_SECONDS: Type.Number({ default: DEFAULT_TICKET_TIME_POLICY.futureSkewMs / 1000, minimum: 0 }),
};
export function ticketPolicyOf(config: { TICKET_MAX_AGE_HOURS: number; TICKET_FUTURE_SKEW_SECONDS: number }): TicketTimePolicy {
  return { maxAgeMs: config.TICKET_MAX_AGE_HOURS * 3_600_000, futureSkewMs: config.TICKET_FUTURE_SKEW_SECONDS * 1000 };
}

/** Who a batch of tickets comes from: a hotline source (signed, or a token bound to it) or none (a duty officer, an unbound token). */
export interface TicketOrigin {
  source: { id: string; name: string } | null;
  /** The audit trail's actor. */
  actor: string;
  /** The deployment's signal-id key (signal-key.ts loadSignalKey), for ticket ids that hold personal data. */
  signalKey: string;
}

/** Idempotency key: (source, ticket id). Tickets without a source keep the bare id (as before sources existed). */
export function ticketRef(source: TicketOrigin['source'], ticketId: string): string {
  return source ? `${source.name}:${ticketId}` : ticketId;
}

/** 张三 → 张*, 欧阳娜娜 → 欧***: enough to tell callers apart on a page, not to name them. */
function maskName(name: string): string {
  const chars = [...name.trim()];
  return chars.length <= 1 ? '*' : `${chars[0]}${'*'.repeat(chars.length - 1)}`;
}

/** The citizen's text as it may travel: phone/ID masking, and the caller's own name masked wherever it appears. */
function maskTicketText(text: string, caller: string | undefined): string {
  let out = redact(text);
  const name = caller?.trim();
  if (name && [...name].length >= 2) out = out.split(name).join(maskName(name));
  return out;
}

export type Decision =
  | { kind: 'live'; at: number }
  | { kind: 'history'; at: number }
  | { kind: 'refused'; message: string; reason: 'received_at_invalid' | 'received_at_in_future' | 'received_at_too_old' };

/** Date.parse rolls 2026-02-30 over to March; a day that does not exist is not an instant. */
function calendarDateExists(iso: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso);
  if (!m) return true;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d;
}

/** The time decision for one ticket (see issue 9, credible times): live, history (back-fill), or refused. */
export function decideTicketTime(t: Pick<Ticket, 'receivedAt' | 'backfill'>, now: number, policy: TicketTimePolicy): Decision {
  const at = Date.parse(t.receivedAt);
  if (!Number.isFinite(at) || !calendarDateExists(t.receivedAt))
    return { kind: 'refused', reason: 'received_at_invalid', message: '受理时间无效 (receivedAt is not a valid instant)' };
  if (at > now + policy.futureSkewMs)
    return {
      kind: 'refused',
      reason: 'received_at_in_future',
      message: `受理时间晚于当前时间 (receivedAt ${t.receivedAt} is in the future, more than ${Math.round(policy.futureSkewMs / 1000)} s ahead of our clock)`,
    };
  if (t.backfill === true) return { kind: 'history', at: Math.min(at, now) };
  if (at < now - policy.maxAgeMs)
    return {
      kind: 'refused',
      reason: 'received_at_too_old',
      message: `受理时间超过 ${Math.round(policy.maxAgeMs / 3_600_000)} 小时，如为历史补录请标记 backfill (receivedAt ${t.receivedAt} is older than ${Math.round(policy.maxAgeMs / 3_600_000)} h: send it with "backfill": true to store it as history)`,
    };
  // A hotline clock a little ahead cannot start our clock before we see the ticket.
  return { kind: 'live', at: Math.min(at, now) };
}

/**
 * The ticket's reference as it travels — the signal's sourceRef on the bus, in the signals row and
 * in the audit trail: the ticket id as the hotline system wrote it, unless it holds something that
 * reads as personal data (a caller's phone or ID number, a name after a cue — some systems number
 * tickets after the caller's phone), which is then masked. The ticket id itself stays only where
 * the caller's details are (hotline_tickets.ticket_id): the link back to the 12345 system, shown
 * through the audited caller read. Idempotency does not need it in clear: the signal id is
 * derived from the whole reference. A masked reference ends in `#` and 12 hex digits of that id,
 * because the signals row is unique on (source, source_ref): two tickets whose ids mask alike
 * (138****5678) must not make the second a silent duplicate.
 */
export function travellingRef(ref: string, id: string, caller?: string): string {
  const masked = maskTicketField(ref, caller);
  return masked === ref ? ref : `${masked}#${id.slice(4, 16)}`;
}

/**
 * The signal of a ticket, as stored and published. The hotline system's free text (content,
 * title) is masked, the caller's own name too. Area (所属区域), category (诉求类型) and unit (承办单位)
 * are administrative classifications that monitoring rules and grouping compare whole, so they
 * travel as written — unless one holds a phone or ID number, a name after a cue, or (area) a
 * house-level address, which is masked (maskPersonalField): nothing the masking of the text keeps
 * out of the bus can ride in beside it.
 */
export function toSignal(t: Ticket, ref: string, id: string, at: number, now: Date): NewSignal {
  const content = maskTicketText(t.content, t.caller);
  const category = t.category ? maskTicketField(t.category, t.caller) : undefined;
  const area = t.area ? maskTicketField(t.area, t.caller, { address: true }) : undefined;
  const unitHint = t.unit ? maskTicketField(t.unit, t.caller) : undefined;
  return {
    source: 'hotline',
    sourceRef: travellingRef(ref, id, t.caller),
    // A title cut from the citizen's own words must not carry their phone number or name onwards.
    title: t.title ? maskTicketText(t.title, t.caller) : content.slice(0, 40),
    content,
    ...(category ? { category } : {}),
    ...(area ? { area } : {}),
    ...(unitHint ? { unitHint } : {}),
    publishedAt: new Date(at).toISOString(),
    receivedAt: now.toISOString(),
  };
}

/** A classification field: maskPersonalField, and the caller's own name wherever it appears (as in the text). */
export function maskTicketField(value: string, caller: string | undefined, options: { address?: boolean } = {}): string {
  const out = maskPersonalField(value, options);
  const name = caller?.trim();
  return name && [...name].length >= 2 && out.includes(name) ? out.split(name).join(maskName(name)) : out;
}

/** A lone UTF-16 surrogate (valid in a JS string, not in PostgreSQL text or jsonb) becomes U+FFFD. */
const wellFormed = (s: string) => s.replace(/\p{Cs}/gu, '\uFFFD');

export function wellFormedTicket(t: Ticket): Ticket {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(t)) out[k] = typeof v === 'string' ? wellFormed(v) : v;
  return out as Ticket;
}
