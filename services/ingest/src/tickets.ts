import type {} from '@fastify/swagger';
import { type Static, Type } from '@sinclair/typebox';
import { auditLog, type Db, type DbOrTx, rowsOf, sql } from '@huiying/db';
import { type Clock, systemClock } from '@huiying/clock';
import { ApiError } from '@huiying/http';
import type { TokenCheck } from '@huiying/identity';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { GroupCommit } from './group-commit.ts';
import { pruneReplays, SIGNATURE_HEADER, SignatureError, SignedSourceCache, verifySignedRequest } from './hotline-auth.ts';
import { TOPICS } from '@huiying/bus';
import { maskPersonalField } from '@huiying/domain/personal-data';
import { hotlineSignalId, signalKeyOf } from './signal-key.ts';
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

type Decision =
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
function toSignal(t: Ticket, ref: string, id: string, at: number, now: Date): NewSignal {
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
function maskTicketField(value: string, caller: string | undefined, options: { address?: boolean } = {}): string {
  const out = maskPersonalField(value, options);
  const name = caller?.trim();
  return name && [...name].length >= 2 && out.includes(name) ? out.split(name).join(maskName(name)) : out;
}

/** A lone UTF-16 surrogate (valid in a JS string, not in PostgreSQL text or jsonb) becomes U+FFFD. */
const wellFormed = (s: string) => s.replace(/\p{Cs}/gu, '\uFFFD');

function wellFormedTicket(t: Ticket): Ticket {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(t)) out[k] = typeof v === 'string' ? wellFormed(v) : v;
  return out as Ticket;
}

/**
 * Accept tickets from one origin in one transaction, with one result per ticket in order.
 * Idempotent on (source, ticket id): a ticket stored before answers `duplicate` with the same
 * signal (also after its receivedAt has aged past the bound); a refused ticket stores nothing.
 * Live tickets are stored with their outbox message and audit row (as acceptSignals does);
 * back-fills are stored as history — processed, no bus message — so they open no incident and
 * no clock. Inside a caller's transaction this is a savepoint: a failed chunk leaves earlier ones alone.
 */
export async function acceptTickets(
  db: DbOrTx,
  input: readonly Ticket[],
  origin: TicketOrigin,
  now: Date,
  policy: TicketTimePolicy = DEFAULT_TICKET_TIME_POLICY,
): Promise<TicketResult[]> {
  if (input.length === 0) return [];
  return db.transaction((tx) => writeTickets(tx, input, origin, now, policy));
}

/** writeTickets' check of an API token taken from memory. */
export interface TokenGuard {
  tokenId: string;
  sourceId: string | null;
}
/** writeTickets' check of signed requests verified from memory: one signature per ticket. */
export interface SignedGuard {
  signedBy: string;
  secretDigest: string;
  signatures: readonly string[];
  /** When the signatures were received (the replay record's time). */
  seenAt: Date;
}
/** A ticket of a signed request whose signature the write found recorded before. */
export const REPLAYED: TicketResult = {
  error: { code: 'HY_UNAUTHENTICATED', status: 401, message: 'this signed request was received before (replay)' },
};

/** The statement's token check failed (writeTickets' guard): the token was revoked, or its hotline source changed. */
export class StaleTokenError extends Error {
  constructor() {
    super('the API token was revoked or its hotline source changed since it was read');
  }
}

/**
 * acceptTickets in one statement — atomic on its own, so it needs no transaction around it: one
 * round trip to PostgreSQL for the whole batch (the group commit of single tickets runs it on the
 * pool). Every other request's statement waits behind each round trip of a batch, and on a loaded
 * machine a round trip costs milliseconds of scheduling, not of work: the six statements this used
 * to be (begin, read stored, insert, mark the time decision, store caller details, commit) were
 * most of a single ticket's latency.
 */
export async function writeTickets(
  db: DbOrTx,
  input: readonly Ticket[],
  origin: TicketOrigin,
  now: Date,
  policy: TicketTimePolicy = DEFAULT_TICKET_TIME_POLICY,
  /**
   * An API token answered from memory (TokenCheck): the statement writes only if the token is not
   * revoked and still bound to this source (active) or to none, else nothing and StaleTokenError.
   * Or signed requests verified from memory (SignedSourceCache), one signature per ticket: the
   * statement records each signature, and writes only if the source is still active with the
   * secret they were verified with (else nothing and StaleTokenError); a ticket whose signature
   * was recorded before is answered `replayed` (401) and written only if another is fresh.
   */
  guard?: TokenGuard | SignedGuard,
): Promise<TicketResult[]> {
  if (input.length === 0) return [];
  const token = guard && 'tokenId' in guard ? guard : undefined;
  const signed = guard && 'signedBy' in guard ? guard : undefined;
  if (signed && signed.signatures.length !== input.length) throw new Error('writeTickets: one signature per ticket');
  const tickets = input.map(wellFormedTicket);
  const refs = tickets.map((t) => ticketRef(origin.source, t.id));
  const ids = refs.map((r) => hotlineSignalId(r, origin.signalKey));
  const firstAt = new Map<string, number>();
  const decisions: (Decision | undefined)[] = tickets.map((t, i) => {
    if (firstAt.has(ids[i]!)) return undefined; // answered like its first occurrence, below
    firstAt.set(ids[i]!, i);
    return decideTicketTime(t, now.getTime(), policy);
  });
  const sourceName = origin.source?.name ?? null;
  // Signed: a ticket is written if any request carrying it (in this batch) is not a replay.
  const sigsOf = new Map<string, string[]>();
  if (signed) ids.forEach((id, i) => sigsOf.set(id, [...(sigsOf.get(id) ?? []), signed.signatures[i]!]));
  // Rows to store (live and history), and refusals to audit unless the ticket was stored before.
  const rows = decisions.flatMap((d, i) => {
    if (!d || d.kind === 'refused') return [];
    const t = tickets[i]!;
    const signal = toSignal(t, refs[i]!, ids[i]!, d.at, now);
    const live = d.kind === 'live';
    return [
      {
        ord: i,
        id: ids[i]!,
        live,
        sourceRef: signal.sourceRef,
        title: signal.title ?? null,
        content: signal.content ?? null,
        area: signal.area ?? null,
        category: signal.category ?? null,
        unitHint: signal.unitHint ?? null,
        publishedAt: signal.publishedAt!,
        // A live ticket's audit entry and bus message are built by the statement from the columns.
        ...(live
          ? {}
          : {
              audit: { source: sourceName, ticketId: maskTicketField(t.id, t.caller), title: signal.title ?? null },
              result: { decision: 'history', reason: 'hotline_backfill', at: signal.publishedAt },
            }),
        ticketId: t.id,
        callerName: t.caller?.trim() || null,
        callerPhone: (t.phone ?? t.contact)?.trim() || null,
        sigs: sigsOf.get(ids[i]!) ?? null,
      },
    ];
  });
  const refused = decisions.flatMap((d, i) =>
    d?.kind === 'refused'
      ? [
          {
            id: ids[i]!,
            // Not stored: the refusal is answered to the sender, who has the ticket; the trail keeps it masked.
            ref: travellingRef(refs[i]!, ids[i]!, tickets[i]!.caller),
            input: {
              source: sourceName,
              ticketId: maskTicketField(tickets[i]!.id, tickets[i]!.caller),
              receivedAt: tickets[i]!.receivedAt,
            },
            result: { reason: d.reason, message: d.message },
            sigs: sigsOf.get(ids[i]!) ?? null,
          },
        ]
      : [],
  );
  const signatures = signed ? [...new Set(signed.signatures)].map((sig) => ({ sig })) : [];
  const at = now.toISOString();
  // Fixed SQL text and jsonb parameters: the statement costs the same to build for 1 ticket or 1000.
  // `stored` reads the snapshot before this statement's inserts; a ticket another transaction is
  // inserting at the same moment waits for it (on conflict) and answers duplicate.
  const out = rowsOf<{ id: string; k: 'stored' | 'inserted' | 'stale' | 'fresh'; time_decision: string | null }>(
    await db.execute(sql`
      with input as (
        select r.*,
          -- signalMessage's (TOPICS.signals): area, category and unit only when sent.
          case when r.live then jsonb_build_object('v', 1, 'type', 'signal', 'id', r.id, 'source', 'hotline', 'sourceRef', r."sourceRef",
            'publishedAt', r."publishedAt", 'receivedAt', ${at}::text)
            || jsonb_strip_nulls(jsonb_build_object('area', r.area, 'category', r.category, 'unitHint', r."unitHint")) end as message
        from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as r(ord int, id text, live boolean, "sourceRef" text,
          title text, content text, area text, category text, "unitHint" text, "publishedAt" text, audit jsonb, result jsonb,
          "ticketId" text, "callerName" text, "callerPhone" text, sigs jsonb)
      ),
      refused as (
        select * from jsonb_to_recordset(${JSON.stringify(refused)}::jsonb) as r(id text, ref text, input jsonb, result jsonb, sigs jsonb)
      ),
      -- A token or a source taken from memory holds only if the database still says so (nothing is written otherwise).
      guard as (
        select (${token === undefined}::boolean or exists (
          select 1 from api_tokens t
          where t.id = ${token?.tokenId ?? null}::text and t.revoked_at is null
            and coalesce((select case when s.active then s.id else '-' end from hotline_sources s where s.token_id = t.id), '')
              = coalesce(${token?.sourceId ?? null}::text, '')
        )) and (${signed === undefined}::boolean or exists (
          select 1 from hotline_sources s
          where s.id = ${signed?.signedBy ?? null}::text and s.active
            and encode(sha256(convert_to(s.secret, 'UTF8')), 'hex') = ${signed?.secretDigest ?? null}::text
        )) as ok
      ),
      -- Each signature is accepted once, by every ingest process (hotline_replays); a replay is not recorded again.
      rep as (
        insert into hotline_replays (signature, source_id, seen_at)
        select r.sig, ${signed?.signedBy ?? null}::text, ${signed?.seenAt.toISOString() ?? null}::timestamptz
        from jsonb_to_recordset(${JSON.stringify(signatures)}::jsonb) as r(sig text)
        where (select ok from guard)
        on conflict do nothing
        returning signature
      ),
      -- The source's jurisdiction as it is now (an administrator may move the source between requests).
      src as (
        select coalesce((select jurisdiction from hotline_sources where id = ${origin.source?.id ?? null}::text), 'default') as jurisdiction
      ),
      -- By the primary key, whatever the table's size: with \`id in (select …)\` the planner, taking
      -- the input for 100 rows, hashed it and read the whole table (a seq scan per group commit).
      stored as (
        select id, time_decision from signals
        where id = any(array(select id from input union all select id from refused))
      ),
      ins as (
        insert into signals (id, source, source_ref, title, content, area, category, unit_hint, published_at, received_at, jurisdiction,
          time_decision, time_reason, processed_at)
        select i.id, 'hotline', i."sourceRef", i.title, i.content, i.area, i.category, i."unitHint", i."publishedAt"::timestamptz,
          ${at}::timestamptz,
          src.jurisdiction,
          case when i.live then 'published' else 'history' end,
          case when i.live then 'ticket_received_at' else 'hotline_backfill' end,
          -- History is processed: the engine's sweep leaves it alone; it opens no incident and no clock.
          case when i.live then null else ${at}::timestamptz end
        from input i cross join src
        where i.id not in (select id from stored) and (select ok from guard)
          and (i.sigs is null or exists (select 1 from rep where i.sigs ? rep.signature))
        order by i.ord
        on conflict do nothing
        returning id
      ),
      obx as (
        insert into outbox (topic, key, payload, created_at)
        select ${TOPICS.signals}::text, i.id, i.message, ${at}::timestamptz from input i join ins using (id) where i.live order by i.ord
      ),
      aud as (
        insert into audit_log (at, actor, action, entity, entity_id, input, result)
        select ${at}::timestamptz, ${origin.actor}::text, case when i.live then 'signal.accepted' else 'signal.stored_as_history' end, 'signal',
          i.id,
          -- A live ticket: what acceptSignals audits, the message and the signal (toSignal masked what the hotline
          -- system wrote), and the jurisdiction; built here from the row's columns, so the citizen's words travel to
          -- PostgreSQL once per ticket, not three times (column, message, audit JSON inside the JSON).
          case when i.live then i.message || jsonb_build_object('title', i.title, 'content', i.content, 'jurisdiction', src.jurisdiction)
          else i.audit end,
          i.result
        from input i join ins using (id) cross join src
        union all
        select ${at}::timestamptz, ${origin.actor}::text, 'ticket.refused', 'hotline_ticket', r.ref, r.input, r.result
        from refused r where r.id not in (select id from stored) and (select ok from guard)
          and (r.sigs is null or exists (select 1 from rep where r.sigs ? rep.signature))
      ),
      hot as (
        insert into hotline_tickets (signal_id, source_id, ticket_id, caller_name, caller_phone, created_at)
        select i.id, ${origin.source?.id ?? null}::text, i."ticketId", i."callerName", i."callerPhone", ${at}::timestamptz
        from input i join ins using (id)
        on conflict do nothing
      )
      select id, 'stored' as k, time_decision from stored
      union all
      select id, 'inserted' as k, null from ins
      union all
      select null, 'stale' as k, null from guard where not ok
      union all
      select signature, 'fresh' as k, null from rep`),
  );
  if (out.some((r) => r.k === 'stale')) throw new StaleTokenError();
  const stored = new Map(out.filter((r) => r.k === 'stored').map((r) => [r.id, r.time_decision]));
  const inserted = new Set(out.filter((r) => r.k === 'inserted').map((r) => r.id));
  const results = decisions.map((d, i): TicketResult | undefined => {
    const id = ids[i]!;
    if (!d) return undefined;
    if (stored.has(id)) return { signalId: id, duplicate: true, history: stored.get(id) === 'history' };
    if (d.kind === 'refused') return { error: { code: 'HY_VALIDATION', status: 400, message: d.message } };
    return { signalId: id, duplicate: !inserted.has(id), history: d.kind === 'history' };
  });
  // Signed: the first request carrying a fresh signature takes it; the others are replays.
  const fresh = new Set(out.filter((r) => r.k === 'fresh').map((r) => r.id));
  const replayed = (i: number) => signed !== undefined && !fresh.delete(signed.signatures[i]!);
  // A ticket repeated inside the batch answers like its first (not replayed) occurrence: a duplicate of it when stored.
  const answered = new Set<string>();
  return ids.map((id, i) => {
    if (replayed(i)) return REPLAYED;
    const first = results[firstAt.get(id)!]!;
    if (!answered.has(id)) {
      answered.add(id);
      return first;
    }
    return first.signalId ? { ...first, duplicate: true } : first;
  });
}

export interface TicketRoutesOptions {
  db: Db;
  /** The engine's clock: the bound on receivedAt and the stored times. */
  clock: Clock;
  /** Wall-clock time for signature timestamps (default: the system clock). */
  realClock?: Clock;
  policy?: TicketTimePolicy;
  /** Called after each write that may have queued bus messages (once per group commit, not per request): the outbox relay's nudge. */
  onWritten?: () => void;
  /** The group commit of single tickets: statements in flight at once, tickets per statement (GroupCommit's options). */
  singles?: { concurrency?: number; maxBatch?: number };
}

/** 1000 tickets of a few kB each; the largest legal ticket (20 000 characters) fits a few hundred times. */
const BATCH_BODY_LIMIT = 16 * 1024 * 1024;

const actorOf = (p: { kind: string; username: string }) => `${p.kind}:${p.username}`;

/** Who posts, for an authenticated request: a token bound to a source posts as it (403 when it is disabled). */
function originOf(request: FastifyRequest, signalKey: string): TicketOrigin {
  const user = request.user;
  if (!user) throw new ApiError('HY_UNAUTHENTICATED', 'not authenticated');
  // The source a token posts as came with the token's own look-up (no second round trip).
  const source = user.kind === 'token' ? user.boundSource : undefined;
  if (source && !source.active) throw new ApiError('HY_FORBIDDEN', `hotline source ${source.name} is disabled`);
  return { source: source ? { id: source.id, name: source.name } : null, actor: actorOf(user), signalKey };
}

export const ticketRoutes: FastifyPluginAsync<TicketRoutesOptions> = async (app, options) => {
  const { db, clock } = options;
  const realClock = options.realClock ?? systemClock;
  const policy = options.policy ?? DEFAULT_TICKET_TIME_POLICY;
  // Made by the first process to start on a new database, read by the others (signal-key.ts).
  const signalKey = await signalKeyOf(db);
  // The signature is over the bytes sent: keep them (this plugin's scope only) before parsing.
  const rawBodies = new WeakMap<FastifyRequest, Buffer>();
  const origins = new WeakMap<FastifyRequest, TicketOrigin>();
  /** Signed requests verified from memory, not yet against replays: the write (or verifySigned below) records them. */
  const pendingSignatures = new WeakMap<FastifyRequest, { signature: string; secretDigest: string }>();
  const sources = new SignedSourceCache(db);
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: BATCH_BODY_LIMIT }, (request, body, done) => {
    rawBodies.set(request, body as Buffer);
    parseJson(request, (body as Buffer).toString('utf8'), done);
  });

  /** A refused signature: audited (who tried what, never the body), then 401 with the reason. */
  const refuseSignature = async (request: FastifyRequest, error: SignatureError): Promise<never> => {
    await db.insert(auditLog).values({
      at: new Date(realClock.now()),
      actor: 'anonymous',
      action: 'access.refused',
      entity: 'route',
      entityId: 'POST /api/tickets',
      input: { why: 'signature', reason: error.reason, ip: request.ip },
    });
    throw new ApiError('HY_UNAUTHENTICATED', `signature refused (${error.reason}): ${error.message}`);
  };
  /**
   * A signed request verified from memory, checked as it used to be before anything but its own
   * write: the source read afresh and the signature recorded (a replay refused). No-op otherwise.
   */
  const verifySigned = async (request: FastifyRequest): Promise<void> => {
    if (!pendingSignatures.has(request)) return;
    pendingSignatures.delete(request);
    try {
      const source = await verifySignedRequest(db, request.headers, rawBodies.get(request) ?? Buffer.alloc(0), new Date(realClock.now()));
      origins.set(request, { source: { id: source.id, name: source.name }, actor: `hotline:${source.name}`, signalKey });
    } catch (error) {
      if (error instanceof SignatureError) await refuseSignature(request, error);
      throw error;
    }
  };

  interface Single {
    ticket: Ticket;
    /** The request's signature, for a signed request verified from memory. */
    signature?: string;
  }
  // Single-ticket requests that arrive together share one statement (and one commit), per origin
  // and, for a token or a source taken from memory, per token or secret: the statement checks it
  // (writeTickets' guard) and records the signatures.
  const singles = new Map<string, GroupCommit<Single, TicketResult>>();
  const singlesFor = (origin: TicketOrigin, check: TokenCheck | null, secret: string | null) => {
    const key = `${origin.actor}\u0000${origin.source?.id ?? ''}\u0000${check?.tokenId ?? ''}\u0000${secret ?? ''}`;
    let group = singles.get(key);
    if (!group) {
      const tokenGuard = check ? { tokenId: check.tokenId, sourceId: check.sourceId } : undefined;
      // One statement per batch, atomic without a transaction around it (see writeTickets).
      group = new GroupCommit<Single, TicketResult>(async (items) => {
        const guard =
          secret !== null && origin.source
            ? {
                signedBy: origin.source.id,
                secretDigest: secret,
                signatures: items.map((i) => i.signature ?? ''),
                seenAt: new Date(realClock.now()),
              }
            : tokenGuard;
        const tickets = items.map((i) => i.ticket);
        const results = await writeTickets(db, tickets, origin, new Date(clock.now()), policy, guard);
        options.onWritten?.();
        return results;
      }, options.singles);
      singles.set(key, group);
    }
    return group;
  };
  app.addHook('onClose', async () => {
    await Promise.all([...singles.values()].map((g) => g.close()));
  });

  app.post<{ Body: Ticket | Ticket[] }>(
    '/api/tickets',
    {
      // A hotline system: signed (HMAC), or with a tickets:write token; a duty officer entering a phoned-in ticket.
      // A token this process has read before is checked by the write statement itself (one round trip),
      // and so is a signed request from a source it has read before.
      config: { access: { roles: ['duty'], scope: 'tickets:write', signedBy: SIGNATURE_HEADER, tokenCheckedInWrite: true } },
      bodyLimit: BATCH_BODY_LIMIT,
      schema: {
        tags: ['ingest'],
        summary: '接收12345热线工单 Accept a 12345 hotline ticket, or a batch of up to 1000',
        description:
          'Authenticate with an API token (scope tickets:write; a token bound to a hotline source posts as that source) or sign the raw body: X-Huiying-Source, X-Huiying-Timestamp (unix seconds, ±300 s), X-Huiying-Signature: sha256=hex(HMAC-SHA256(secret, timestamp + "." + body)). See services/ingest/README.md.',
        body: Type.Union([Ticket, TicketBatch]),
        response: { 201: TicketAccepted, 200: Type.Union([TicketAccepted, TicketBatchAccepted]) },
      },
      // A token or a signature taken from memory is verified before any answer but a successful
      // write: a revoked token or a replayed signature gets 401, not the reason its body is wrong.
      errorHandler: async (error, request) => {
        if (request.tokenCheck) await app.recheckToken(request);
        await verifySigned(request);
        throw error;
      },
      // Before validation: an unauthenticated body is not even looked at.
      preValidation: async (request) => {
        if (request.user) {
          origins.set(request, originOf(request, signalKey));
          return;
        }
        try {
          const now = new Date(realClock.now());
          const verified = await sources.verify(request.headers, rawBodies.get(request) ?? Buffer.alloc(0), now);
          origins.set(request, {
            source: { id: verified.source.id, name: verified.source.name },
            actor: `hotline:${verified.source.name}`,
            signalKey,
          });
          pendingSignatures.set(request, { signature: verified.signature, secretDigest: verified.secretDigest });
          // Signatures older than the window can no longer be replayed: deleted at most once a minute, off the request's path.
          void pruneReplays(db, now).catch((e: unknown) => request.log.warn({ err: e }, 'pruning hotline replays'));
        } catch (error) {
          if (error instanceof SignatureError) await refuseSignature(request, error);
          throw error;
        }
      },
    },
    async (request, reply) => {
      const body = request.body;
      const origin = origins.get(request);
      if (!origin) throw new ApiError('HY_UNAUTHENTICATED', 'not authenticated');
      if (!Array.isArray(body)) {
        const pending = pendingSignatures.get(request);
        let result: TicketResult;
        try {
          result = await singlesFor(origin, request.tokenCheck, pending?.secretDigest ?? null).submit({
            ticket: body,
            ...(pending ? { signature: pending.signature } : {}),
          });
        } catch (error) {
          if (!(error instanceof StaleTokenError)) throw error;
          // Revoked, or its source changed, since this process read it: read it now (401 if revoked), write as it says.
          await app.recheckToken(request);
          if (pending && origin.source) sources.forget(origin.source.name);
          await verifySigned(request); // the source disabled since, or its secret changed: 401
          result = await singlesFor(request.user ? originOf(request, signalKey) : origins.get(request)!, null, null).submit({
            ticket: body,
          });
        }
        request.tokenCheck = null; // the write verified it
        pendingSignatures.delete(request);
        if (result === REPLAYED) await refuseSignature(request, new SignatureError('replayed', REPLAYED.error!.message));
        if (result.error) throw new ApiError('HY_VALIDATION', `body/receivedAt: ${result.error.message}`);
        return reply
          .code(result.duplicate ? 200 : 201)
          .send({ signalId: result.signalId!, duplicate: result.duplicate === true, history: result.history === true });
      }
      // Batches read the token and the source from the database, as before (one look-up per up to 1000 tickets).
      if (request.tokenCheck) await app.recheckToken(request);
      await verifySigned(request);
      const fresh = request.user ? originOf(request, signalKey) : origins.get(request)!;
      const results = await writeTickets(db, body, fresh, new Date(clock.now()), policy);
      options.onWritten?.();
      const count = (f: (r: TicketResult) => boolean) => results.filter(f).length;
      return reply.code(200).send({
        accepted: count((r) => r.signalId !== undefined && r.duplicate === false),
        history: count((r) => r.history === true && r.duplicate === false),
        duplicates: count((r) => r.duplicate === true),
        refused: count((r) => r.error !== undefined),
        results,
      });
    },
  );
};
