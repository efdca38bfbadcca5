/**
 * Properties over random timelines: the invariants replay.md implies, determinism, order
 * independence, and equivalence between replay and the live engine's way of stepping
 * (advance to at - 1, apply, store as JSON, repeat).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { advanceIncident, applyIncidentInput, type IncidentState } from '../src/incident.ts';
import { advanceObligation, applyObligationInput, type ObligationState } from '../src/obligation.ts';
import { EventEncoder } from '../src/event-encoder.ts';
import { formatEvent, parseTimeline, runReplay } from '../src/replay.ts';
import { DEFAULT_RULE_PACK } from '../src/rule-pack.ts';
import { formatIsoInstant } from '../src/time.ts';
import type { EngineEvent, IncidentInput, ObligationInput } from '../src/types.ts';
import { calendar, deepFreeze, T } from './helpers.ts';

const BASE = T('2026-03-02 08:00');
const MIN = 60_000;
const INCIDENTS = ['A', 'B', 'C'];
const OBLIGATIONS = ['o1', 'o2'];
const pack = DEFAULT_RULE_PACK;

const op = fc.record({
  type: fc.constantFrom(
    'signal',
    'signal',
    'occurred',
    'grade',
    'grade',
    'grade',
    'assign',
    'response',
    'response',
    'response',
    'dismiss',
    'obligation',
    'fulfil',
    'extend',
  ),
  target: fc.nat(2),
  level: fc.constantFrom('I', 'II', 'III', 'IV'),
  source: fc.constantFrom('feed', 'hotline', 'manual'),
  kind: fc.constantFrom('release', 'press_conference', 'reply'),
  obligationKind: fc.constantFrom('policy_interpretation', 'service_change', 'proposal_reply', 'disclosure_request', 'disclosure_request'),
  original: fc.constantFrom(true, true, true, false),
  earlierBy: fc.option(fc.integer({ min: 0, max: 36 * 60 }), { nil: undefined }),
});

/** Distinct instants (whole minutes over 3 days) with an operation each, made reference-valid. */
const timelineArb = fc.uniqueArray(fc.integer({ min: 0, max: 3 * 24 * 60 }), { minLength: 1, maxLength: 40 }).chain((minutes) =>
  fc
    .tuple(fc.constant([...minutes].sort((a, b) => a - b)), fc.array(op, { minLength: minutes.length, maxLength: minutes.length }))
    .map(([sorted, ops]) => {
      const seenIncidents = new Set<string>();
      const seenObligations = new Set<string>();
      return sorted.map((m, i) => {
        const o = ops[i]!;
        const at = BASE + m * MIN;
        const atText = formatIsoInstant(at);
        const earlier = o.earlierBy === undefined ? undefined : formatIsoInstant(at - o.earlierBy * MIN);
        if (['obligation', 'fulfil', 'extend'].includes(o.type)) {
          const id = OBLIGATIONS[o.target % OBLIGATIONS.length]!;
          if (!seenObligations.has(id)) {
            seenObligations.add(id);
            return { type: 'obligation', at: atText, id, kind: o.obligationKind, issuedAt: earlier ?? atText };
          }
          return { type: o.type === 'obligation' ? 'fulfil' : o.type, at: atText, id };
        }
        const incident = INCIDENTS[o.target]!;
        if (!seenIncidents.has(incident) || o.type === 'signal') {
          seenIncidents.add(incident);
          return { type: 'signal', at: atText, incident, source: o.source, ...(earlier ? { publishedAt: earlier } : {}) };
        }
        switch (o.type) {
          case 'occurred':
            return { type: 'occurred', at: atText, incident, occurredAt: earlier ?? atText };
          case 'grade':
            return { type: 'grade', at: atText, incident, level: o.level };
          case 'assign':
            return { type: 'assign', at: atText, incident, unit: `unit-${o.target}` };
          case 'dismiss':
            return { type: 'dismiss', at: atText, incident, reason: 'duplicate' };
          default:
            return {
              type: 'response',
              at: atText,
              incident,
              kind: o.kind,
              original: o.original,
              ...(earlier ? { publishedAt: earlier } : {}),
            };
        }
      });
    }),
);

function run(lines: readonly object[]): EngineEvent[] {
  const parsed = parseTimeline(lines.map((l) => JSON.stringify(l)).join('\n'));
  if (!parsed.ok) throw new Error(`line ${parsed.line}: ${parsed.message}`);
  return runReplay(parsed.inputs, { pack, calendar, horizon: parsed.horizon });
}

const text = (events: EngineEvent[]) => events.map(formatEvent).join('\n');
const subject = (e: EngineEvent) =>
  'incident' in e && e.incident !== undefined ? `i:${e.incident}` : `o:${(e as { obligation: string }).obligation}`;
const clockKey = (e: EngineEvent) => `${subject(e)}|${'clock' in e ? e.clock : ''}|${'due' in e ? e.due : ''}`;

function shuffle<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let s = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1_103_515_245 + 12_345) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const params = { numRuns: 300 };

it('the generator reaches every rule (sanity check of the arbitrary itself)', () => {
  const seen = new Map<string, number>();
  for (const lines of fc.sample(timelineArb, { numRuns: 300, seed: 42 })) {
    for (const e of run(lines)) {
      const k =
        e.event === 'met'
          ? `met${e.late ? '-late' : ''}`
          : e.event === 'extend_rejected' || e.event === 'cancelled' || e.event === 'waived'
            ? `${e.event}:${e.event === 'waived' ? '' : e.reason}`
            : e.event;
      seen.set(k, (seen.get(k) ?? 0) + 1);
    }
  }
  const kinds = [...seen.keys()];
  for (const k of [
    'started',
    'rescheduled',
    'warning',
    'breached',
    'met',
    'met-late',
    'breach_retracted',
    'cancelled:superseded',
    'cancelled:downgraded',
    'waived:',
    'nonqualifying_response',
    'extended',
    'extend_rejected:',
  ]) {
    expect(
      kinds.some((kind) => kind.startsWith(k)),
      k,
    ).toBe(true);
  }
});

describe('replay properties', () => {
  it('met.late is exactly respondedAt > due, and the engine concludes no earlier than publication', () => {
    fc.assert(
      fc.property(timelineArb, (lines) => {
        for (const e of run(lines)) {
          if (e.event !== 'met') continue;
          expect(e.late).toBe(e.respondedAt > e.due);
          expect(e.respondedAt).toBeLessThanOrEqual(e.at);
        }
      }),
      params,
    );
  });

  it('a clock met on time never stays breached; a late met always follows a breach', () => {
    fc.assert(
      fc.property(timelineArb, (lines) => {
        const events = run(lines);
        const breached = new Set<string>();
        events.forEach((e, i) => {
          const key = clockKey(e);
          if (e.event === 'breached') breached.add(key);
          if (e.event === 'met' && e.late) expect(breached.has(key)).toBe(true);
          if (e.event === 'met' && !e.late && breached.has(key)) {
            expect(events[i + 1]).toEqual({ event: 'breach_retracted', at: e.at, incident: e.incident, clock: e.clock, due: e.due });
            breached.delete(key);
          }
          if (e.event === 'breach_retracted')
            expect(events[i - 1]).toMatchObject({ event: 'met', late: false, clock: e.clock, due: e.due });
        });
      }),
      params,
    );
  });

  it('output is ordered by at', () => {
    fc.assert(
      fc.property(timelineArb, (lines) => {
        const events = run(lines);
        for (let i = 1; i < events.length; i++) expect(events[i]!.at).toBeGreaterThanOrEqual(events[i - 1]!.at);
      }),
      params,
    );
  });

  it('output does not depend on file order when every at is distinct', () => {
    fc.assert(
      fc.property(timelineArb, fc.integer(), (lines, seed) => {
        expect(text(run(shuffle(lines, seed)))).toBe(text(run(lines)));
      }),
      params,
    );
  });

  it('the byte encoder the CLI uses writes exactly formatEvent lines', () => {
    fc.assert(
      fc.property(timelineArb, fc.integer({ min: 16, max: 4096 }), (lines, chunkSize) => {
        const events = run(lines);
        const parts: Uint8Array[] = [];
        const encoder = new EventEncoder((bytes) => parts.push(bytes.slice()), chunkSize);
        for (const e of events) encoder.push(e);
        encoder.flush();
        expect(Buffer.concat(parts).toString('utf8')).toBe(events.map((e) => formatEvent(e) + '\n').join(''));
      }),
      params,
    );
  });

  it('replaying the same input twice gives byte-identical output', () => {
    fc.assert(
      fc.property(timelineArb, (lines) => {
        expect(text(run(lines))).toBe(text(run(lines)));
      }),
      params,
    );
  });

  it('stepping like the live engine, with state stored as JSON and frozen between steps, gives the same events per aggregate', () => {
    fc.assert(
      fc.property(timelineArb, (lines) => {
        const replayed = run(lines);
        const parsed = parseTimeline(lines.map((l) => JSON.stringify(l)).join('\n'));
        if (!parsed.ok) throw new Error(parsed.message);
        const incidents = new Map<string, IncidentState>();
        const obligations = new Map<string, ObligationState>();
        const live = new Map<string, EngineEvent[]>();
        const push = (key: string, events: EngineEvent[]) => live.set(key, [...(live.get(key) ?? []), ...events]);
        const store = <S>(s: S): S => deepFreeze(JSON.parse(JSON.stringify(s)) as S);
        for (const { input } of parsed.inputs) {
          if ('incident' in input) {
            const key = `i:${input.incident}`;
            let state = incidents.get(input.incident);
            if (state !== undefined) {
              const due = advanceIncident(state, input.at - 1);
              push(key, due.events);
              state = store(due.state);
            }
            const r = applyIncidentInput(state, input as IncidentInput, pack);
            push(key, r.events);
            incidents.set(input.incident, store(r.state));
          } else {
            const o = input as ObligationInput;
            const key = `o:${o.id}`;
            let state = obligations.get(o.id);
            if (state !== undefined) {
              const due = advanceObligation(state, o.at - 1);
              push(key, due.events);
              state = store(due.state);
            }
            const r = applyObligationInput(state, o, pack, calendar);
            push(key, r.events);
            obligations.set(o.id, store(r.state));
          }
        }
        const horizon = parsed.horizon!;
        for (const [id, state] of incidents) push(`i:${id}`, advanceIncident(state, horizon).events);
        for (const [id, state] of obligations) push(`o:${id}`, advanceObligation(state, horizon).events);
        for (const [key, events] of live) expect(replayed.filter((e) => subject(e) === key)).toEqual(events);
        expect([...live.values()].reduce((n, e) => n + e.length, 0)).toBe(replayed.length);
      }),
      params,
    );
  });
});
