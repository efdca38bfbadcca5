import { createHash } from 'node:crypto';
import { TOPICS, type SignalMessage } from '@huiying/bus';
import { type Db, type DbOrTx, rowsOf, sql } from '@huiying/db';
import { maskPersonalData, maskPersonalDataDeep } from '@huiying/domain/personal-data';

/**
 * A signal as intake hands it over: the bus message's fields plus what is stored with it — the
 * text, and the jurisdiction of its source (default 'default'), which the engine reads from the row.
 */
export type NewSignal = Omit<SignalMessage, 'v' | 'type' | 'id'> & {
  title?: string;
  content?: string;
  url?: string;
  jurisdiction?: string;
};

/** Stable id from (source, sourceRef): the same ticket or feed item always maps to one signal. */
export function signalId(source: string, sourceRef: string): string {
  return `sig_${createHash('sha256').update(`${source}\u0000${sourceRef}`).digest('hex').slice(0, 24)}`;
}

/**
 * Accept a signal: store it and enqueue it for the bus in one transaction. Idempotent on
 * (source, sourceRef): a repeat stores and publishes nothing and reports `duplicate`.
 */
export async function acceptSignal(db: Db, input: NewSignal, actor: string, now: Date): Promise<{ id: string; duplicate: boolean }> {
  const [result] = await acceptSignals(db, [input], actor, now);
  return result!;
}

/**
 * Accept many signals in one transaction and one statement: each is stored, enqueued for the
 * bus and audited, unless (source, sourceRef) was seen before — in an earlier transaction or
 * earlier in the same list — then it is reported `duplicate`. Results are in input order.
 */
export async function acceptSignals(
  db: DbOrTx,
  inputs: readonly NewSignal[],
  actor: string,
  now: Date,
): Promise<{ id: string; duplicate: boolean }[]> {
  if (inputs.length === 0) return [];
  const ids = inputs.map((i) => signalId(i.source, i.sourceRef));
  const first = new Set<string>();
  const rows = inputs.flatMap((input, ord) => {
    const id = ids[ord]!;
    if (first.has(id)) return [];
    first.add(id);
    const message = signalMessage(id, input);
    return [
      {
        ord,
        id,
        source: input.source,
        sourceRef: input.sourceRef,
        feedId: input.feedId ?? null,
        title: input.title ?? null,
        content: input.content ?? null,
        url: input.url ?? null,
        area: input.area ?? null,
        category: input.category ?? null,
        unitHint: input.unitHint ?? null,
        publishedAt: input.publishedAt ?? null,
        receivedAt: input.receivedAt,
        jurisdiction: input.jurisdiction ?? 'default',
        message,
        // Masked as text: one pass over the serialised message instead of a deep copy per ticket.
        audit: redactText(JSON.stringify({ ...message, ...input })),
      },
    ];
  });
  // Fixed SQL text, one jsonb parameter: the statement costs the same to build for 1 row or 1000.
  const inserted = rowsOf<{ id: string }>(
    await db.execute(sql`
      with input as (
        select * from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as r(ord int, id text, source text, "sourceRef" text,
          "feedId" text, title text, content text, url text, area text, category text, "unitHint" text, "publishedAt" timestamptz,
          "receivedAt" timestamptz, jurisdiction text, message jsonb, audit text)
      ),
      ins as (
        insert into signals (id, source, source_ref, feed_id, title, content, url, area, category, unit_hint, published_at, received_at,
          jurisdiction)
        select id, source, "sourceRef", "feedId", title, content, url, area, category, "unitHint", "publishedAt", "receivedAt", jurisdiction
        from input order by ord
        on conflict do nothing
        returning id
      ),
      obx as (
        insert into outbox (topic, key, payload, created_at)
        select ${TOPICS.signals}, i.id, i.message, ${now.toISOString()}::timestamptz from input i join ins using (id) order by i.ord
      ),
      aud as (
        insert into audit_log (at, actor, action, entity, entity_id, input)
        select ${now.toISOString()}::timestamptz, ${actor}, 'signal.accepted', 'signal', i.id, i.audit::jsonb from input i join ins using (id)
      )
      select id from ins`),
  );
  const fresh = new Set(inserted.map((r) => r.id));
  return ids.map((id) => {
    const created = fresh.delete(id);
    return { id, duplicate: !created };
  });
}

/** The bus message for a signal: ids and what the engine routes on; the text stays in the row (see SignalMessage). */
export function signalMessage(id: string, input: NewSignal): SignalMessage {
  return {
    v: 1,
    type: 'signal',
    id,
    source: input.source,
    sourceRef: input.sourceRef,
    ...(input.feedId ? { feedId: input.feedId } : {}),
    ...(input.area ? { area: input.area } : {}),
    ...(input.category ? { category: input.category } : {}),
    ...(input.unitHint ? { unitHint: input.unitHint } : {}),
    ...(input.publishedAt ? { publishedAt: input.publishedAt } : {}),
    receivedAt: input.receivedAt,
  };
}

/**
 * Citizens' names, phone numbers (any format) and ID numbers never reach logs or the audit
 * trail in clear: every string in the value is masked (see maskPersonalData).
 */
export function redact<T>(value: T): T {
  return maskPersonalDataDeep(value);
}

/** The masking of `redact` on one string (also on serialised JSON: it masks digits and names, never JSON syntax). */
export function redactText(text: string): string {
  return maskPersonalData(text);
}
