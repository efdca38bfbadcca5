import { randomUUID } from 'node:crypto';
import { audit, responses, type Tx } from '@huiying/db';
import type { IncidentState } from '@huiying/domain';
import { applyCommand, type EngineDeps } from './store.ts';

/** 回应 as recorded by a duty officer, a unit, or an accepted candidate from an official channel. */
export interface RecordedResponse {
  incidentId: string;
  kind: 'release' | 'press_conference' | 'reply';
  /** 原创; a repost (转载) meets no clock. */
  original: boolean;
  publishedAt: number;
  unit?: string | undefined;
  channel?: string | undefined;
  url?: string | undefined;
  /** What the recorder sent, for the audit log. */
  input?: unknown;
}

/**
 * Record a response: the clock change and the evidence row commit together, or neither does.
 * The one path every response takes (POST /api/incidents/:id/responses and accepted candidate
 * responses), so a response counts the same whoever records it.
 */
export async function recordResponse(
  engine: EngineDeps,
  r: RecordedResponse,
  actor: string,
  /** More writes in the same transaction (e.g. marking the candidate accepted with the response id). */
  alongside?: (tx: Tx, responseId: string) => Promise<void>,
): Promise<{ responseId: string; state: IncidentState }> {
  const now = engine.clock.now();
  const responseId = randomUUID();
  const { state } = await applyCommand(
    engine,
    r.incidentId,
    {
      type: 'response',
      at: now,
      incident: r.incidentId,
      kind: r.kind,
      original: r.original,
      publishedAt: r.publishedAt,
      ...(r.unit ? { unit: r.unit } : {}),
      ...(r.channel ? { channel: r.channel } : {}),
      ...(r.url ? { url: r.url } : {}),
    },
    actor,
    async (tx) => {
      await tx.insert(responses).values({
        id: responseId,
        incidentId: r.incidentId,
        kind: r.kind,
        original: r.original,
        publishedAt: new Date(r.publishedAt),
        recordedAt: new Date(now),
        unitId: r.unit ?? null,
        channel: r.channel ?? null,
        url: r.url ?? null,
        recordedBy: actor,
      });
      await audit(tx, {
        at: new Date(now),
        actor,
        action: 'response.recorded',
        entity: 'response',
        entityId: responseId,
        input: r.input ?? { kind: r.kind, original: r.original },
      });
      await alongside?.(tx, responseId);
    },
  );
  return { responseId, state };
}
