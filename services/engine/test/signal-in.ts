import type { SignalMessage } from '@huiying/bus';
import { signals } from '@huiying/db';
import { handleSignal } from '../src/signals.ts';
import type { EngineDeps } from '../src/store.ts';

/**
 * Ingest stores a signal's text in its row; the bus message names it (ids only). Store, then hand
 * the message to the engine, as the consumer would; fails if the signal opened no incident.
 */
export async function signalIn(deps: EngineDeps, msg: SignalMessage & { title: string }) {
  const { title, ...m } = msg;
  await deps.db
    .insert(signals)
    .values({
      id: m.id,
      source: m.source,
      sourceRef: m.sourceRef,
      title,
      unitHint: m.unitHint ?? null,
      publishedAt: m.publishedAt ? new Date(m.publishedAt) : null,
      receivedAt: new Date(m.receivedAt),
    })
    .onConflictDoNothing();
  const outcome = await handleSignal(deps, m);
  if (outcome.incidentId === null) throw new Error(`signal ${m.id} opened no incident (${outcome.decision})`);
  return { ...outcome, incidentId: outcome.incidentId };
}
