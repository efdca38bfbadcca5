import type { SignalMessage } from '@huiying/bus';
import { rowsOf, sql } from '@huiying/db';
import { applyIncidentInput, type EngineEvent, type IncidentInput, nextIncidentWake } from '@huiying/domain';
import { json } from './batch-sql.ts';
import { persistAll } from './incident-writer.ts';
import { type EngineDeps, incidentIdFor } from './store.ts';

export interface SignalOutcome {
  signalId: string;
  incidentId: string;
  created: boolean;
}

/**
 * Signals from the bus become incidents (one incident per signal in this version; grouping
 * comes with the correlation rules) — a whole batch in one transaction and a fixed number of
 * statements, in the order given (the bus keeps per-key order). Idempotent: a redelivered signal
 * changes nothing, also when it appears twice in one batch.
 */
export async function handleSignals(deps: EngineDeps, msgs: readonly SignalMessage[]): Promise<SignalOutcome[]> {
  if (msgs.length === 0) return [];
  const now = deps.clock.now();
  const seen = new Set<string>();
  const unique = msgs.filter((m) => !seen.has(m.id) && seen.add(m.id));
  const result = await deps.db.transaction(async (tx) => {
    // Ingest normally stored the signal already; a message from elsewhere (or a replay) is stored here.
    await tx.execute(sql`
      insert into signals (id, source, source_ref, feed_id, title, content, url, area, category, unit_hint, published_at, received_at)
      select id, source, "sourceRef", "feedId", title, content, url, area, category, "unitHint", "publishedAt", "receivedAt"
      from jsonb_to_recordset(${json(unique)}::jsonb) as r(id text, source text, "sourceRef" text, "feedId" text, title text,
        content text, url text, area text, category text, "unitHint" text, "publishedAt" timestamptz, "receivedAt" timestamptz)
      on conflict do nothing`);
    // Locked in id order, so two transactions over overlapping batches (a redelivery racing the sweep) cannot deadlock.
    const rows = rowsOf<{ id: string; incident_id: string | null }>(
      await tx.execute(
        sql`select id, incident_id from signals where id in (select jsonb_array_elements_text(${json(unique.map((m) => m.id))}::jsonb)) order by id for update`,
      ),
    );
    const done = new Map(rows.map((r) => [r.id, r.incident_id]));
    const hints = [...new Set(unique.flatMap((m) => (m.unitHint ? [m.unitHint] : [])))];
    const knownUnits =
      hints.length === 0
        ? new Set<string>()
        : new Set(
            rowsOf<{ id: string }>(
              await tx.execute(sql`select id from units where id in (select jsonb_array_elements_text(${json(hints)}::jsonb))`),
            ).map((r) => r.id),
          );
    const outcomes: SignalOutcome[] = [];
    const items: Parameters<typeof persistAll>[1][number][] = [];
    const processed: { id: string; incidentId: string }[] = [];
    let wake: number | null = null;
    for (const msg of unique) {
      const existing = done.get(msg.id);
      if (existing) {
        outcomes.push({ signalId: msg.id, incidentId: existing, created: false });
        continue;
      }
      const incidentId = incidentIdFor(msg.id);
      const input: IncidentInput = {
        type: 'signal',
        at: now,
        incident: incidentId,
        source: msg.source,
        ...(msg.publishedAt ? { publishedAt: Date.parse(msg.publishedAt) } : {}),
        ...(msg.title ? { title: msg.title } : {}),
      };
      let { state, events }: { state: ReturnType<typeof applyIncidentInput>['state']; events: EngineEvent[] } = applyIncidentInput(
        undefined,
        input,
        deps.pack,
      );
      // A ticket that names its handling unit (承办单位) arrives assigned, if we know that unit.
      if (msg.unitHint && knownUnits.has(msg.unitHint)) {
        const assigned = applyIncidentInput(state, { type: 'assign', at: now, incident: incidentId, unit: msg.unitHint }, deps.pack);
        state = assigned.state;
        events = [...events, ...assigned.events];
      }
      items.push({ before: undefined, version: 0, after: state, events, input, actor: `signal:${msg.source}`, now });
      processed.push({ id: msg.id, incidentId });
      outcomes.push({ signalId: msg.id, incidentId, created: true });
      const w = nextIncidentWake(state);
      if (w !== null) wake = Math.min(wake ?? w, w);
    }
    await persistAll(tx, items, deps.ladder);
    if (processed.length > 0) {
      await tx.execute(sql`
        update signals set incident_id = p."incidentId", processed_at = ${new Date(now).toISOString()}::timestamptz
        from jsonb_to_recordset(${json(processed)}::jsonb) as p(id text, "incidentId" text)
        where signals.id = p.id`);
    }
    return { outcomes, wake };
  });
  if (result.wake !== null) deps.onWake?.(result.wake);
  return result.outcomes;
}

/** One signal (commands, tests): the batch path with a batch of one. */
export async function handleSignal(deps: EngineDeps, msg: SignalMessage): Promise<{ incidentId: string; created: boolean }> {
  const [outcome] = await handleSignals(deps, [msg]);
  return { incidentId: outcome!.incidentId, created: outcome!.created };
}

/**
 * Signals accepted but never turned into incidents — their bus message was dead-lettered, or an
 * embedded process stopped before handling it. Idempotent, so racing the consumer is harmless.
 */
export async function sweepSignals(deps: EngineDeps, olderThanMs = 60_000): Promise<number> {
  const cutoff = new Date(deps.clock.now() - olderThanMs);
  const rows = rowsOf<{
    id: string;
    source: SignalMessage['source'];
    source_ref: string;
    feed_id: string | null;
    title: string | null;
    content: string | null;
    url: string | null;
    area: string | null;
    category: string | null;
    unit_hint: string | null;
    published_at: string | Date | null;
    received_at: string | Date;
  }>(
    await deps.db.execute(
      sql`select id, source, source_ref, feed_id, title, content, url, area, category, unit_hint, published_at, received_at
          from signals where incident_id is null and processed_at is null and received_at < ${cutoff.toISOString()} order by received_at limit 500`,
    ),
  );
  const isoOf = (v: string | Date) => new Date(v).toISOString();
  await handleSignals(
    deps,
    rows.map((r) => ({
      v: 1,
      type: 'signal',
      id: r.id,
      source: r.source,
      sourceRef: r.source_ref,
      receivedAt: isoOf(r.received_at),
      ...(r.feed_id ? { feedId: r.feed_id } : {}),
      ...(r.title ? { title: r.title } : {}),
      ...(r.content ? { content: r.content } : {}),
      ...(r.url ? { url: r.url } : {}),
      ...(r.area ? { area: r.area } : {}),
      ...(r.category ? { category: r.category } : {}),
      ...(r.unit_hint ? { unitHint: r.unit_hint } : {}),
      ...(r.published_at ? { publishedAt: isoOf(r.published_at) } : {}),
    })),
  );
  return rows.length;
}
