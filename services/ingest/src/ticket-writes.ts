/** How tickets are stored: one statement per batch, checked against the caller's token or signatures. */
import { type DbOrTx, rowsOf, sql } from '@huiying/db';
import { TOPICS } from '@huiying/bus';
import { hotlineSignalId } from './signal-key.ts';
import {
  type Decision,
  DEFAULT_TICKET_TIME_POLICY,
  decideTicketTime,
  maskTicketField,
  type Ticket,
  type TicketOrigin,
  ticketRef,
  type TicketResult,
  type TicketTimePolicy,
  toSignal,
  travellingRef,
  wellFormedTicket,
} from './tickets.ts';

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
