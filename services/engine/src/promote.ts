/** 人工立案: a duty officer opens an incident for a stored signal that matched no rule. */
import { canonicalUrl, nextIncidentWake } from '@huiying/domain';
import { jurisdictionsOf, knownUnitsOf, readSignals } from './decide.ts';
import { lockJurisdictions } from './grouping.ts';
import { openIncident, writeDecisions } from './signal-writes.ts';
import { type EngineDeps, NotFoundError } from './store.ts';

/** The signal is already part of an incident: promoting it again would open a second one. */
export class SignalAlreadyGrouped extends Error {
  override name = 'SignalAlreadyGrouped';
  constructor(readonly incidentId: string) {
    super(`signal is already part of incident ${incidentId}`);
  }
}

/**
 * 人工立案: a duty officer opens an incident for a stored signal no rule matched. The clock
 * starts as replay.md says for any signal — at the signal's publish time (ingest already
 * decided it is credible), capped at now — so a signal promoted late may be overdue at once.
 */
export async function promoteSignal(deps: EngineDeps, signalId: string, actor: string, note?: string): Promise<{ incidentId: string }> {
  const now = deps.clock.now();
  const result = await deps.db.transaction(async (tx) => {
    await lockJurisdictions(tx, (await jurisdictionsOf(tx, [{ id: signalId }])).values());
    const [row] = await readSignals(tx, [signalId]);
    if (!row) throw new NotFoundError(`signal ${signalId} not found`);
    if (row.incident_id !== null) throw new SignalAlreadyGrouped(row.incident_id);
    const knownUnits = await knownUnitsOf(tx, row.unit_hint ? [row.unit_hint] : []);
    const t = openIncident(row, now, deps, knownUnits, actor);
    const incidentId = t.state.id;
    await writeDecisions(
      tx,
      new Map([[incidentId, t]]),
      [
        {
          id: row.id,
          incidentId,
          decision: 'promoted',
          reason: note ? `manual: ${note}` : 'manual',
          ruleId: null,
          score: null,
          via: null,
          linkKey: canonicalUrl(row.url),
        },
      ],
      now,
      actor,
      deps.ladder,
    );
    return { incidentId, wake: nextIncidentWake(t.state) };
  });
  if (result.wake !== null) deps.onWake?.(result.wake);
  return { incidentId: result.incidentId };
}
