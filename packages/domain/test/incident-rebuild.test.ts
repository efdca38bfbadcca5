import { describe, expect, it } from 'vitest';
import { advanceIncident, applyIncidentInput, type IncidentState, nextIncidentWake } from '../src/incident.ts';
import { rebuildIncident } from '../src/incident-rebuild.ts';
import { DEFAULT_RULE_PACK } from '../src/rule-pack.ts';
import type { IncidentInput } from '../src/types.ts';
import { T } from './helpers.ts';

const pack = DEFAULT_RULE_PACK;
const a: IncidentInput = {
  type: 'signal',
  at: T('2026-03-02 09:00'),
  incident: 'A',
  source: 'feed',
  publishedAt: T('2026-03-02 08:00'),
  title: 'a',
};
const b: IncidentInput = {
  type: 'signal',
  at: T('2026-03-02 10:00'),
  incident: 'A',
  source: 'feed',
  publishedAt: T('2026-03-02 10:00'),
  title: 'b',
};
const gradeI: IncidentInput = { type: 'grade', at: T('2026-03-02 09:30'), incident: 'A', level: 'I' };

/** The live state: every input applied in order, timers fired up to just before `now`. */
function live(inputs: readonly IncidentInput[], now: number): IncidentState {
  let s: IncidentState | undefined;
  for (const i of inputs) s = applyIncidentInput(s === undefined ? undefined : advanceIncident(s, i.at - 1).state, i, pack).state;
  return advanceIncident(s!, now - 1).state;
}
const clock = (s: IncidentState, kind: string) => s.clocks.find((c) => c.kind === kind)!;

describe('rebuildIncident (a split takes signals away)', () => {
  it('moves the start to the earliest remaining signal and running clocks with it, re-arming warnings', () => {
    const now = T('2026-03-02 12:00');
    const before = live([a, b], now);
    expect(before.startAt).toBe(T('2026-03-02 08:00'));
    const { state, events } = rebuildIncident(before, [b], now, pack);
    expect(state.startAt).toBe(T('2026-03-02 10:00'));
    expect(state.signalCount).toBe(1);
    expect(state.title).toBe('b');
    expect(clock(state, 'response')).toMatchObject({ state: 'running', startAt: T('2026-03-02 10:00'), dueAt: T('2026-03-04 10:00') });
    expect(events).toEqual([{ event: 'rescheduled', at: now, incident: 'A', clock: 'response', due: T('2026-03-04 10:00') }]);
    // The 50 % warning is now 24 h after the new start.
    expect(nextIncidentWake(state)).toBe(T('2026-03-03 10:00'));
  });

  it('withdraws a breach whose new due is still ahead and re-arms the warnings ahead', () => {
    const now = T('2026-03-02 13:30');
    const before = live([a, b, gradeI], now);
    expect(clock(before, 'release')).toMatchObject({ state: 'breached', dueAt: T('2026-03-02 13:00') });
    const { state, events } = rebuildIncident(before, [b, gradeI], now, pack);
    expect(clock(state, 'release')).toMatchObject({ state: 'running', dueAt: T('2026-03-02 15:00') });
    expect(events.filter((e) => 'clock' in e && e.clock === 'release')).toEqual([
      { event: 'rescheduled', at: now, incident: 'A', clock: 'release', due: T('2026-03-02 15:00') },
      { event: 'breach_retracted', at: now, incident: 'A', clock: 'release', due: T('2026-03-02 13:00') },
    ]);
    // 50 % (12:30) is past and skipped; 80 % (14:00) is ahead.
    expect(nextIncidentWake(state)).toBe(T('2026-03-02 14:00'));
    // The superseded response clock stays cancelled.
    expect(clock(state, 'response')).toEqual(clock(before, 'response'));
  });

  it('keeps a breach whose new due is past too', () => {
    const now = T('2026-03-02 16:00');
    const before = live([a, b, gradeI], now);
    const { state, events } = rebuildIncident(before, [b, gradeI], now, pack);
    expect(clock(state, 'release')).toEqual(clock(before, 'release'));
    expect(events.filter((e) => 'clock' in e && e.clock === 'release')).toEqual([]);
  });

  it('keeps a met clock met; one met late but on time against the new due is corrected', () => {
    const reply: IncidentInput = { type: 'response', at: T('2026-03-02 14:30'), incident: 'A', kind: 'reply', original: true };
    const now = T('2026-03-02 15:30');
    const before = live([a, b, gradeI, reply], now);
    expect(clock(before, 'release')).toMatchObject({ state: 'met', late: true });
    const { state, events } = rebuildIncident(before, [b, gradeI, reply], now, pack);
    expect(clock(state, 'release')).toMatchObject({ state: 'met', late: false, dueAt: T('2026-03-02 15:00') });
    expect(events.filter((e) => 'clock' in e && e.clock === 'release').map((e) => e.event)).toEqual(['met', 'breach_retracted']);
    const onTime = live([a, b, { ...reply, at: T('2026-03-02 11:00') }], now);
    const kept = rebuildIncident(onTime, [b, { ...reply, at: T('2026-03-02 11:00') }], now, pack);
    expect(clock(kept.state, 'response')).toEqual(clock(onTime, 'response'));
  });

  it('applies a grade dated before the first remaining signal when that signal opens the rebuild', () => {
    const now = T('2026-03-02 12:00');
    const c: IncidentInput = { ...b, at: T('2026-03-02 11:00'), publishedAt: T('2026-03-02 10:30') };
    const before = live([a, gradeI, c], now);
    const { state } = rebuildIncident(before, [gradeI, c], now, pack);
    expect(clock(state, 'release')).toMatchObject({ anchor: 'start', state: 'running', dueAt: T('2026-03-02 15:30') });
  });

  it('cancels, breach withdrawn, a response clock the upgrade would have superseded before its new due', () => {
    const early: IncidentInput = { ...a, publishedAt: T('2026-02-27 08:00') };
    const now = T('2026-03-02 12:00');
    const before = live([early, b, gradeI], now);
    expect(clock(before, 'response')).toMatchObject({ state: 'breached', dueAt: T('2026-03-01 08:00') });
    const { state, events } = rebuildIncident(before, [b, gradeI], now, pack);
    expect(clock(state, 'response')).toMatchObject({ state: 'cancelled', reason: 'superseded', dueAt: T('2026-03-01 08:00') });
    expect(events.filter((e) => 'clock' in e && e.clock === 'response')).toEqual([
      { event: 'breach_retracted', at: now, incident: 'A', clock: 'response', due: T('2026-03-01 08:00') },
      { event: 'cancelled', at: now, incident: 'A', clock: 'response', reason: 'superseded' },
    ]);
  });
});
