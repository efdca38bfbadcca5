import { createHash } from 'node:crypto';
import { TOPICS, type SignalMessage } from '@huiying/bus';
import { audit, type Db, enqueue, signals } from '@huiying/db';
import { maskPersonalDataDeep } from '@huiying/domain/personal-data';

export type NewSignal = Omit<SignalMessage, 'v' | 'type' | 'id'>;

/** Stable id from (source, sourceRef): the same ticket or feed item always maps to one signal. */
export function signalId(source: string, sourceRef: string): string {
  return `sig_${createHash('sha256').update(`${source}\u0000${sourceRef}`).digest('hex').slice(0, 24)}`;
}

/**
 * Accept a signal: store it and enqueue it for the bus in one transaction. Idempotent on
 * (source, sourceRef): a repeat stores and publishes nothing and reports `duplicate`.
 */
export async function acceptSignal(db: Db, input: NewSignal, actor: string, now: Date): Promise<{ id: string; duplicate: boolean }> {
  const id = signalId(input.source, input.sourceRef);
  const message: SignalMessage = { v: 1, type: 'signal', id, ...input };
  const inserted = await db.transaction(async (tx) => {
    const rows = await tx
      .insert(signals)
      .values({
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
        publishedAt: input.publishedAt ? new Date(input.publishedAt) : null,
        receivedAt: new Date(input.receivedAt),
      })
      .onConflictDoNothing()
      .returning({ id: signals.id });
    if (rows.length === 0) return false;
    await enqueue(tx, now, [{ topic: TOPICS.signals, key: id, payload: message }]);
    await audit(tx, { at: now, actor, action: 'signal.accepted', entity: 'signal', entityId: id, input: redact(message) });
    return true;
  });
  return { id, duplicate: !inserted };
}

/**
 * Citizens' names, phone numbers (any format) and ID numbers never reach logs or the audit
 * trail in clear: every string in the value is masked (see maskPersonalData).
 */
export function redact<T>(value: T): T {
  return maskPersonalDataDeep(value);
}
