/**
 * `recalculate`: a due computed while a calendar year was missing (Monday–Friday,
 * provisional) is recomputed once the year is loaded. The calendars here: `partial` has
 * 2025 only (2026 counted Monday–Friday), `full` is the project's data.
 * 2026: 01-01..03 off, Sunday 01-04 worked; Spring Festival 02-15..23 off, Saturdays 02-14
 * and 02-28 worked.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createCalendar, type WorkingDayCalendar } from '../src/calendar.ts';
import { CN_CALENDAR_DATA } from '../src/calendar-cn.ts';
import { CalendarYearMissing } from '../src/errors.ts';
import { advanceObligation, applyObligationInput, nextObligationWake, type ObligationState } from '../src/obligation.ts';
import { DEFAULT_RULE_PACK } from '../src/rule-pack.ts';
import { MS_PER_DAY } from '../src/time.ts';
import type { Instant, ObligationInput, ObligationKind } from '../src/types.ts';
import { drive, rows } from './obligation-drive.ts';
import { calendar as full, deepFreeze, T } from './helpers.ts';

const pack = DEFAULT_RULE_PACK;
const only2025 = { years: { '2025': CN_CALENDAR_DATA.years['2025']! } };
const partial = createCalendar(only2025, [], { provisional: true });

const create = (kind: ObligationKind, issued: string): ObligationInput => ({
  type: 'obligation',
  at: T(issued),
  id: 'd',
  kind,
  issuedAt: T(issued),
});
const recalculate = (at: string): ObligationInput => ({ type: 'recalculate', at: T(at), id: 'd' });

/** Drive with the partial calendar, then recalculate at `at` with `calendar`. */
function recalc(inputs: ObligationInput[], at: string, calendar: WorkingDayCalendar = full) {
  const before = drive(inputs, { calendar: partial, horizon: T(at) - 1 });
  const r = applyObligationInput(deepFreeze(before.state), recalculate(at), pack, calendar);
  return { before, after: r.state, events: r.events };
}

describe('recalculate from provisional to real', () => {
  it.each([
    // [kind, issued, extend at, provisional due date, real due date]
    ['disclosure_request', '2025-12-20 10:00', null, '2026-01-16', '2026-01-19'], // New Year 2026 off, Sunday 01-04 worked
    ['disclosure_request', '2025-12-20 10:00', '2025-12-23 10:00', '2026-02-13', '2026-02-14'], // extended: into the 调休 Saturday before Spring Festival
    ['disclosure_request', '2026-02-02 10:00', null, '2026-03-02', '2026-03-06'], // across Spring Festival
    ['proposal_reply', '2026-02-12 09:00', null, '2026-02-26', '2026-03-04'], // replay.md's own Spring Festival example
    ['policy_interpretation', '2026-02-11 09:00', null, '2026-02-16', '2026-02-14'], // earlier: the 调休 Saturday is the third
  ] as const)('%s issued %s (extended %s): %s → %s', (kind, issued, extendAt, provisionalDue, realDue) => {
    const inputs = [create(kind, issued)];
    if (extendAt !== null) inputs.push({ type: 'extend', at: T(extendAt), id: 'd' });
    const at = '2026-01-05 09:00' < issued ? '2026-02-12 09:00' : '2026-01-05 09:00';
    const { before, after, events } = recalc(inputs, at);
    expect(before.state).toMatchObject({ dueDate: provisionalDue, provisional: true });
    expect(after).toMatchObject({ dueDate: realDue, dueAt: T(realDue) + MS_PER_DAY, provisional: false, state: 'running' });
    expect(events).toEqual([{ event: 'rescheduled', at: T(at), obligation: 'd', clock: kind, due: T(realDue) + MS_PER_DAY }]);
    // The same as computing with the real calendar from the start.
    expect(drive(inputs).state).toMatchObject({ dueDate: realDue, dueAt: after.dueAt, provisional: false });
  });

  it('warnings are measured again: points ahead of the new span fire, those past are skipped', () => {
    const inputs = [create('disclosure_request', '2026-02-02 10:00'), recalculate('2026-02-20 10:00')];
    const first = drive(inputs.slice(0, 1), { calendar: partial, horizon: T('2026-02-20 10:00') - 1 });
    const second = applyObligationInput(first.state, inputs[1]!, pack, full);
    const rest = advanceObligation(second.state, T('2026-03-08 00:00'));
    // Provisional span 02-02 10:00 → 03-03 00:00: 50 % at 02-16 17:00. Real span → 03-07 00:00
    // (782 h): 50 % (02-18 17:00) is past at 02-20, 80 % is 02-28 11:36.
    expect(rows([...first.events, ...second.events, ...rest.events])).toEqual([
      ['started', T('2026-02-02 10:00'), T('2026-03-03 00:00'), null],
      ['warning', T('2026-02-16 17:00'), T('2026-03-03 00:00'), 0.5],
      ['rescheduled', T('2026-02-20 10:00'), T('2026-03-07 00:00'), null],
      ['warning', T('2026-02-28 11:36'), T('2026-03-07 00:00'), 0.8],
      ['breached', T('2026-03-07 00:00'), T('2026-03-07 00:00'), null],
    ]);
  });

  it('a due that moves into the past breaches at once; exactly at now it fires right after', () => {
    // service_change issued Friday 02-13 18:00: Monday 02-16 provisionally, the 调休 Saturday 02-14 really.
    const past = recalc([create('service_change', '2026-02-13 18:00')], '2026-02-16 10:00');
    expect(rows(past.before.events)).toEqual([
      ['started', T('2026-02-13 18:00'), T('2026-02-17 00:00'), null],
      ['warning', T('2026-02-15 09:00'), T('2026-02-17 00:00'), 0.5],
      ['warning', T('2026-02-16 08:24'), T('2026-02-17 00:00'), 0.8],
    ]);
    expect(rows(past.events)).toEqual([
      ['rescheduled', T('2026-02-16 10:00'), T('2026-02-15 00:00'), null],
      ['breached', T('2026-02-16 10:00'), T('2026-02-15 00:00'), null],
    ]);
    expect(nextObligationWake(past.after)).toBeNull();

    const now = recalc([create('service_change', '2026-02-13 18:00')], '2026-02-15 00:00');
    expect(rows(now.events)).toEqual([['rescheduled', T('2026-02-15 00:00'), T('2026-02-15 00:00'), null]]);
    expect(nextObligationWake(now.after)).toBe(T('2026-02-15 00:00')); // both warning points of the new span are past
    expect(rows(advanceObligation(now.after, T('2026-02-15 00:00')).events)).toEqual([
      ['breached', T('2026-02-15 00:00'), T('2026-02-15 00:00'), null],
    ]);
  });

  it('an unchanged due emits nothing but the provisional flag is cleared (suspension across New Year)', () => {
    const inputs: ObligationInput[] = [
      create('disclosure_request', '2025-12-20 10:00'),
      { type: 'suspend', at: T('2025-12-30 10:00'), id: 'd', reason: 'third_party' },
      { type: 'resume', at: T('2026-01-08 10:00'), id: 'd' },
    ];
    const { before, after, events } = recalc(inputs, '2026-01-09 10:00');
    // 13 working days remain either way (provisional: 12-31, 01-01, 01-02, 01-05..16; real: 12-31, 01-04..16, 01-19).
    expect(before.state).toMatchObject({ dueDate: '2026-01-27', provisional: true });
    expect(events).toEqual([]);
    expect(after).toMatchObject({ dueDate: '2026-01-27', provisional: false });
  });

  it('while suspended: the frozen due and what remains are recomputed, the duty stays suspended', () => {
    const inputs: ObligationInput[] = [
      create('disclosure_request', '2026-01-26 10:00'),
      { type: 'suspend', at: T('2026-02-03 10:00'), id: 'd', reason: 'third_party' },
    ];
    const { before, after, events } = recalc(inputs, '2026-02-10 10:00');
    expect(before.state).toMatchObject({ dueDate: '2026-02-23', suspension: { remainingWorkingDays: 14 } });
    expect(rows(events)).toEqual([['rescheduled', T('2026-02-10 10:00'), T('2026-03-01 00:00'), null]]);
    expect(after).toMatchObject({ dueDate: '2026-02-28', provisional: false, state: 'running' });
    expect(after.suspension).toEqual({ since: T('2026-02-03 10:00'), reason: 'third_party', remainingWorkingDays: 14 });
    expect(nextObligationWake(after)).toBeNull();
    const resumed = applyObligationInput(after, { type: 'resume', at: T('2026-03-02 09:00'), id: 'd' }, pack, full);
    expect(resumed.state).toMatchObject({ dueDate: '2026-03-20', provisional: false }); // 14 after 03-02
  });

  it('a suspension that came after the real due means the duty was overdue: breached at once', () => {
    // Issued 01-19: really due 02-14 (dueAt 02-15 00:00), provisionally 02-16; suspended 02-16 10:00.
    const inputs: ObligationInput[] = [
      create('disclosure_request', '2026-01-19 10:00'),
      { type: 'suspend', at: T('2026-02-16 10:00'), id: 'd', reason: 'third_party' },
    ];
    const { before, after, events } = recalc(inputs, '2026-02-25 10:00');
    expect(before.state).toMatchObject({ dueDate: '2026-02-16', suspension: { remainingWorkingDays: 0 } });
    expect(rows(events)).toEqual([
      ['rescheduled', T('2026-02-25 10:00'), T('2026-02-15 00:00'), null],
      ['breached', T('2026-02-25 10:00'), T('2026-02-15 00:00'), null],
    ]);
    expect(after).toMatchObject({ state: 'breached', suspension: null, provisional: false });
  });

  it('met and breached duties are not recomputed', () => {
    const met = recalc(
      [create('service_change', '2026-02-13 18:00'), { type: 'fulfil', at: T('2026-02-16 10:00'), id: 'd' }],
      '2026-02-20 10:00',
    );
    expect(met.events).toEqual([]);
    expect({ ...met.after, asOf: met.before.state.asOf }).toEqual(met.before.state);
    expect(met.after).toMatchObject({ state: 'met', late: false, provisional: true });

    const breached = recalc([create('service_change', '2026-02-13 18:00')], '2026-02-20 10:00');
    expect(breached.before.state.state).toBe('breached');
    expect(breached.events).toEqual([]);
    expect(breached.after).toMatchObject({ state: 'breached', dueAt: T('2026-02-17 00:00'), provisional: true });
  });

  it('with the year still missing: a strict calendar throws, the provisional one changes nothing', () => {
    const inputs = [create('disclosure_request', '2025-12-20 10:00')];
    expect(() => recalc(inputs, '2025-12-22 10:00', createCalendar(only2025))).toThrow(CalendarYearMissing);
    const same = recalc(inputs, '2025-12-22 10:00', partial);
    expect(same.events).toEqual([]);
    expect(same.after).toMatchObject({ dueDate: '2026-01-16', provisional: true });
  });
});

describe('recalculate with the calendar the steps were computed with changes nothing', () => {
  const stepArb = fc.record({
    type: fc.constantFrom('extend', 'suspend', 'suspend', 'resume', 'resume', 'fulfil'),
    reason: fc.constantFrom('correction', 'third_party'),
    afterMinutes: fc.integer({ min: 0, max: 12 * 24 * 60 }),
  });
  const caseArb = fc.record({
    issuedMinute: fc.integer({ min: 0, max: 300 * 24 * 60 }), // dues stay inside 2026
    kind: fc.constantFrom<ObligationKind>('disclosure_request', 'disclosure_request', 'disclosure_request', 'service_change'),
    provisional: fc.boolean(),
    steps: fc.array(stepArb, { maxLength: 8 }),
  });

  it('for any accepted sequence of extend, suspend, resume and fulfil (complete and provisional calendars)', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const calendar = c.provisional ? partial : full;
        const issued: Instant = T('2025-06-01 00:00') + c.issuedMinute * 60_000;
        let at = issued;
        let state = applyObligationInput(
          undefined,
          { type: 'obligation', at, id: 'd', kind: c.kind, issuedAt: issued },
          pack,
          calendar,
        ).state;
        for (const s of c.steps) {
          at += s.afterMinutes * 60_000;
          const input: ObligationInput =
            s.type === 'suspend' ? { type: 'suspend', at, id: 'd', reason: s.reason } : { type: s.type, at, id: 'd' };
          state = advanceObligation(state, at - 1).state;
          state = JSON.parse(JSON.stringify(applyObligationInput(state, input, pack, calendar).state)) as ObligationState;
          const r = applyObligationInput(state, { type: 'recalculate', at, id: 'd' }, pack, calendar);
          expect(r.events).toEqual([]);
          expect(r.state).toEqual({ ...state, asOf: r.state.asOf });
        }
      }),
      { numRuns: 300 },
    );
  });
});
