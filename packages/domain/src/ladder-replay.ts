/**
 * The ladder over a replayed timeline: given the inputs and the events replay decided, the
 * `escalated` events the ladder adds (step, recipients' roles), merged in time order. Opt-in:
 * replay's own output (replay.md) is unchanged unless a caller asks for this.
 *
 * Each clock instance (a `started` event) takes its ladder snapshot from the pack when it
 * starts; its state follows the clock's events (breached, met, cancelled, waived,
 * breach_retracted, rescheduled). The unit counts as assigned from the first `assign`, or
 * `grade` with a unit; a working-day duty belongs to its unit from the start.
 *
 * The ladder is the jurisdiction's (`ladderPackFor`): an incident's is named by the `signal`
 * that created it, a duty's by its `obligation` line; without one, the pack's own ladder.
 */
import {
  type LadderClock,
  ladderAt,
  type LadderFiring,
  type LadderPack,
  type LadderProgress,
  type LadderRole,
  startLadder,
} from './ladder.ts';
import type { TimelineEntry } from './replay.ts';
import { ladderPackFor, type RulePack } from './rule-pack.ts';
import { formatIsoInstant } from './time.ts';
import type { ClockKind, ClockState, EngineEvent, Instant } from './types.ts';

export interface EscalatedEvent {
  event: 'escalated';
  at: Instant;
  incident?: string;
  obligation?: string;
  clock: ClockKind;
  step: string;
  kind: LadderFiring['kind'];
  to: LadderRole[];
  cc: LadderRole[];
}

interface Tracked {
  incident?: string;
  obligation?: string;
  kind: ClockKind;
  since: Instant;
  startAt: Instant;
  dueAt: Instant;
  warnings: readonly number[];
  state: ClockState;
  progress: LadderProgress;
  ladder: LadderPack['clocks'][ClockKind];
}

const stopped = (s: ClockState) => s === 'met' || s === 'cancelled' || s === 'waived';

/** Replay events with the ladder's `escalated` events merged in (after the clock events of the same instant). */
export function withEscalations(
  inputs: readonly TimelineEntry[],
  events: readonly EngineEvent[],
  pack: RulePack,
  horizon: Instant | null,
): (EngineEvent | EscalatedEvent)[] {
  const assigned = new Map<string, Instant>();
  for (const { input } of inputs) {
    if ((input.type === 'assign' || (input.type === 'grade' && input.unit !== undefined)) && !assigned.has(input.incident)) {
      assigned.set(input.incident, input.at);
    }
  }
  const issued = new Map<string, Instant>();
  for (const { input } of inputs) if (input.type === 'obligation') issued.set(input.id, input.issuedAt);
  // The creating signal's jurisdiction is the incident's (later signals do not move it).
  const jurisdictionOf = new Map<string, string | undefined>();
  for (const { input } of inputs) {
    if (input.type === 'signal' && !jurisdictionOf.has(`i\u0000${input.incident}`)) {
      jurisdictionOf.set(`i\u0000${input.incident}`, input.jurisdiction);
    } else if (input.type === 'obligation') jurisdictionOf.set(`o\u0000${input.id}`, input.jurisdiction);
  }

  const running = new Map<string, Tracked>();
  const out: (EngineEvent | EscalatedEvent)[] = [];
  const view = (t: Tracked): LadderClock => ({
    state: t.state,
    startAt: t.startAt,
    dueAt: t.dueAt,
    warnings: t.warnings,
    assignedAt: t.obligation !== undefined ? t.since : (assigned.get(t.incident!) ?? null),
    acknowledgedAt: null,
  });
  const step = (t: Tracked, now: Instant): void => {
    const d = ladderAt(view(t), t.ladder, t.progress, now);
    t.progress = d.progress;
    for (const f of d.firings) {
      out.push({
        event: 'escalated',
        at: f.at,
        ...(t.incident !== undefined ? { incident: t.incident } : { obligation: t.obligation! }),
        clock: t.kind,
        step: f.key,
        kind: f.kind,
        to: f.to,
        cc: f.cc,
      });
    }
  };
  /** Fire every ladder wake of every tracked clock strictly before `limit` (or up to it, inclusive). */
  const until = (limit: Instant, inclusive: boolean): void => {
    for (;;) {
      let next: { t: Tracked; at: Instant } | null = null;
      for (const t of running.values()) {
        if (stopped(t.state)) continue;
        const d = ladderAt(view(t), t.ladder, t.progress, t.progress.through);
        const at = d.nextWake;
        if (at !== null && (inclusive ? at <= limit : at < limit) && (next === null || at < next.at)) next = { t, at };
      }
      if (next === null) return;
      step(next.t, next.at);
    }
  };
  const keyOf = (e: { incident?: string; obligation?: string; clock: ClockKind }) =>
    e.incident !== undefined ? `i\u0000${e.incident}\u0000${e.clock}` : `o\u0000${e.obligation}`;

  for (let i = 0; i < events.length;) {
    const at = events[i]!.at;
    until(at, false);
    // Every clock event of this instant, then the ladder at this instant.
    const touched = new Set<Tracked>();
    for (; i < events.length && events[i]!.at === at; i++) {
      const e = events[i]!;
      out.push(e);
      if (!('clock' in e)) continue;
      const key = keyOf(e as { incident?: string; obligation?: string; clock: ClockKind });
      if (e.event === 'started') {
        const isObligation = e.obligation !== undefined;
        const subject = isObligation ? `o\u0000${e.obligation!}` : `i\u0000${e.incident!}`;
        const rule = isObligation
          ? pack.obligations[e.clock as keyof RulePack['obligations']]
          : pack.clocks[e.clock as keyof RulePack['clocks']];
        const startAt = isObligation ? (issued.get(e.obligation!) ?? e.at) : e.due - (rule as { spanMs: number }).spanMs;
        const t: Tracked = {
          ...(isObligation ? { obligation: e.obligation! } : { incident: e.incident! }),
          kind: e.clock,
          since: e.at,
          startAt,
          dueAt: e.due,
          warnings: rule.warnings,
          state: 'running',
          progress: startLadder(e.at),
          ladder: ladderPackFor(pack, jurisdictionOf.get(subject)).clocks[e.clock],
        };
        running.set(key, t);
        touched.add(t);
        continue;
      }
      const t = running.get(key);
      if (!t) continue;
      // Steps due before this change, with the state before it.
      step(t, at - 1 < t.progress.through ? t.progress.through : at - 1);
      switch (e.event) {
        case 'breached':
          t.state = 'breached';
          break;
        case 'met':
        case 'breach_retracted':
          t.state = 'met';
          break;
        case 'cancelled':
        case 'waived':
          t.state = e.event;
          break;
        case 'rescheduled':
          t.startAt += e.due - t.dueAt;
          t.dueAt = e.due;
          break;
        default:
          break;
      }
      touched.add(t);
    }
    // Assignments at this instant count for the notice.
    for (const t of running.values()) if (t.incident !== undefined && assigned.get(t.incident) === at) touched.add(t);
    for (const t of touched) step(t, at);
  }
  if (horizon !== null) until(horizon, true);
  return out;
}

/** One `escalated` output line, in replay's style (`event` first, instants at +08:00). */
export function formatEscalated(e: EscalatedEvent): string {
  const subject =
    e.incident !== undefined ? `"incident":${JSON.stringify(e.incident)}` : `"obligation":${JSON.stringify(e.obligation ?? '')}`;
  return `{"event":"escalated","at":"${formatIsoInstant(e.at)}",${subject},"clock":"${e.clock}","step":${JSON.stringify(e.step)},"kind":"${e.kind}","to":${JSON.stringify(e.to)},"cc":${JSON.stringify(e.cc)}}`;
}
