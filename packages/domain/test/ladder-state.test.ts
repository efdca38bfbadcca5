import { describe, expect, it } from 'vitest';
import { advanceIncident, applyIncidentInput, type IncidentState } from '../src/incident.ts';
import { stepIncidentLadders, stepObligationLadder } from '../src/ladder-state.ts';
import { applyObligationInput } from '../src/obligation.ts';
import { DEFAULT_RULE_PACK, parseRulePack } from '../src/rule-pack.ts';
import { calendar, T } from './helpers.ts';

const pack = DEFAULT_RULE_PACK;

function incident(at: number): IncidentState {
  return applyIncidentInput(undefined, { type: 'signal', at, incident: 'i1', source: 'hotline' }, pack).state;
}

/** Walk to `now` and keep the walked state, as the engine's writers do. */
function walk(state: IncidentState, now: number, ack: number | null = null) {
  const advanced = advanceIncident(state, now).state;
  return stepIncidentLadders(advanced, now, () => ack);
}

describe('the ladder inside the clock state', () => {
  it('a clock snapshots its ladder when it starts; a later pack does not change it', () => {
    const s = incident(T('2026-03-02 08:00'));
    expect(s.clocks[0]!.ladder).toMatchObject({ progress: { since: T('2026-03-02 08:00') }, unit: null, assignedAt: null, done: false });
    expect(s.clocks[0]!.ladder!.ladder).toBe(pack.ladder.clocks.response);
    const other = parseRulePack({ ladder: { clocks: { response: { leadersAfterHours: 1 } } } });
    const graded = applyIncidentInput(s, { type: 'grade', at: T('2026-03-02 09:00'), incident: 'i1', level: 'IV' }, other).state;
    expect(graded.clocks[0]!.ladder!.ladder).toBe(pack.ladder.clocks.response);
    // A JSON round trip (the stored jsonb) keeps it.
    expect(JSON.parse(JSON.stringify(graded))).toStrictEqual(graded);
  });

  it('nothing is noticed while unassigned; the assignment is noticed at once, a reassignment to the new unit', () => {
    let s = incident(T('2026-03-02 08:00'));
    let w = walk(s, T('2026-03-02 08:30'));
    expect(w.firings).toEqual([]);
    s = applyIncidentInput(w.state, { type: 'assign', at: T('2026-03-02 09:00'), incident: 'i1', unit: 'water' }, pack).state;
    w = walk(s, T('2026-03-02 09:00'));
    expect(w.firings.map((f) => [f.firing.key, f.unit])).toEqual([['notice#0', 'water']]);
    expect(w.nextWake).toBe(T('2026-03-03 08:00'));
    // Walking again at the same instant fires nothing (idempotent).
    expect(walk(w.state, T('2026-03-02 09:00')).firings).toEqual([]);
    s = applyIncidentInput(w.state, { type: 'assign', at: T('2026-03-02 10:00'), incident: 'i1', unit: 'roads' }, pack).state;
    w = walk(s, T('2026-03-02 10:00'));
    expect(w.firings.map((f) => [f.firing.key, f.unit])).toEqual([['notice#0', 'roads']]);
  });

  it('warnings carry their fraction; the breach urges and repeats until acknowledged; a met clock stops once', () => {
    let s = applyIncidentInput(
      incident(T('2026-03-02 08:00')),
      { type: 'assign', at: T('2026-03-02 08:00'), incident: 'i1', unit: 'u' },
      pack,
    ).state;
    let w = walk(s, T('2026-03-02 08:00'));
    w = walk(w.state, T('2026-03-03 22:24'));
    expect(w.firings.map((f) => [f.firing.key, f.elapsed])).toEqual([
      ['warning#0', 0.5],
      ['warning#1', 0.8],
    ]);
    w = walk(w.state, T('2026-03-04 08:00'));
    expect(w.firings.map((f) => f.firing.key)).toEqual(['urge#0']);
    // Acknowledged at 09:00: the 20:00 repeat never comes; the leaders' step (12 h) still does.
    w = walk(w.state, T('2026-03-04 21:00'), T('2026-03-04 09:00'));
    expect(w.firings.map((f) => f.firing.key)).toEqual(['leaders#0']);
    s = applyIncidentInput(
      w.state,
      { type: 'response', at: T('2026-03-04 22:00'), incident: 'i1', kind: 'reply', original: true },
      pack,
    ).state;
    w = stepIncidentLadders(s, T('2026-03-04 22:00'));
    expect(w.stopped).toEqual([{ seq: 1, kind: 'response' }]);
    expect(w.state.clocks[0]!.ladder!.done).toBe(true);
    expect(stepIncidentLadders(w.state, T('2026-03-05 22:00')).stopped).toEqual([]);
  });

  it('a clock stored before the ladder existed is left alone', () => {
    const s = incident(T('2026-03-02 08:00'));
    const old: IncidentState = { ...s, unit: 'u', clocks: s.clocks.map(({ ladder: _l, ...c }) => c) };
    const w = walk(old, T('2026-03-10 08:00'));
    expect(w).toMatchObject({ firings: [], stopped: [], nextWake: null });
  });

  it('a suspended duty fires nothing and catches nothing up after it resumes', () => {
    const issued = T('2025-10-09 10:00');
    const created = applyObligationInput(
      undefined,
      { type: 'obligation', at: issued, id: 'd', kind: 'disclosure_request', issuedAt: issued },
      pack,
      calendar,
    );
    let w = stepObligationLadder(created.state, 'u', issued);
    expect(w.firings.map((f) => f.firing.key)).toEqual(['notice#0']);
    const suspended = applyObligationInput(
      w.state,
      { type: 'suspend', at: T('2025-10-10 10:00'), id: 'd', reason: 'third_party' },
      pack,
      calendar,
    );
    w = stepObligationLadder(suspended.state, 'u', T('2025-12-31 10:00'));
    expect(w).toMatchObject({ firings: [], nextWake: null });
    const resumed = applyObligationInput(w.state, { type: 'resume', at: T('2026-01-05 10:00'), id: 'd' }, pack, calendar);
    w = stepObligationLadder(resumed.state, 'u', T('2026-01-05 10:00'));
    expect(w.firings).toEqual([]);
    expect(w.nextWake).not.toBeNull();
  });
});
