/**
 * Statutory pauses of disclosure requests (政府信息公开条例): 补正 restarts the count when the
 * corrected request arrives; time spent consulting a third party does not count.
 * 2025: National Day + Mid-Autumn 10-01..10-08 off, Sunday 09-28 and Saturday 10-11 worked.
 */
import { describe, expect, it } from 'vitest';
import { advanceObligation, applyObligationInput, nextObligationWake, type ObligationState } from '../src/obligation.ts';
import { DEFAULT_RULE_PACK } from '../src/rule-pack.ts';
import type { ObligationInput, ObligationKind, SuspendReason } from '../src/types.ts';
import { drive, rows } from './obligation-drive.ts';
import { calendar, deepFreeze, T } from './helpers.ts';

const pack = DEFAULT_RULE_PACK;
const ISSUED = '2025-09-15 10:00'; // Monday; 20 working days → due 2025-10-17 (dueAt 10-18 00:00)

const create = (kind: ObligationKind = 'disclosure_request', issued = ISSUED): ObligationInput => ({
  type: 'obligation',
  at: T(issued),
  id: 'd',
  kind,
  issuedAt: T(issued),
});
const suspend = (at: string, reason: SuspendReason = 'third_party'): ObligationInput => ({ type: 'suspend', at: T(at), id: 'd', reason });
const resume = (at: string): ObligationInput => ({ type: 'resume', at: T(at), id: 'd' });
const extend = (at: string): ObligationInput => ({ type: 'extend', at: T(at), id: 'd' });
const fulfil = (at: string): ObligationInput => ({ type: 'fulfil', at: T(at), id: 'd' });

describe('third_party: the time between suspension and resumption does not count', () => {
  it('the base case is due 2025-10-17', () => {
    expect(drive([create()]).state).toMatchObject({ dueDate: '2025-10-17', dueAt: T('2025-10-18 00:00'), steps: [], suspension: null });
  });

  it.each([
    // [suspend at, resume at, remaining working days, new due date]
    ['2025-09-30 15:00', '2025-10-09 10:00', 8, '2025-10-20'], // day before National Day → first day after: the resume day does not count
    ['2025-09-30 15:00', '2025-10-08 18:00', 8, '2025-10-17'], // resumed on the last holiday: nothing lost
    ['2025-10-03 10:00', '2025-10-05 10:00', 8, '2025-10-17'], // suspended and resumed inside the holiday: nothing changes
    ['2025-09-28 10:00', '2025-10-09 10:00', 10, '2025-10-22'], // suspended on the 调休 Sunday: it counts, 09-29/30 remain
    ['2025-09-27 10:00', '2025-10-09 10:00', 11, '2025-10-23'], // suspended on a plain Saturday: 09-28 still remains
    ['2025-09-30 00:00', '2025-10-10 23:59', 8, '2025-10-21'], // suspended at 00:00: the day still counts; resumed 10-10, 10-11 is worked
    ['2025-10-17 10:00', '2025-10-20 09:00', 0, '2025-10-20'], // on the due day: 0 remain, due at the end of the resume day
    ['2025-10-18 00:00', '2025-10-20 09:00', 0, '2025-10-20'], // exactly at the due instant (still running): the same
    ['2025-09-16 09:00', '2025-09-16 17:00', 19, '2025-10-17'], // resumed the same day: it counts once, nothing lost
  ])('suspended %s, resumed %s: %i remain, due %s', (suspendAt, resumeAt, remaining, dueDate) => {
    const { state, events } = drive([create(), suspend(suspendAt), resume(resumeAt)]);
    expect(events.slice(1).filter((e) => e.event !== 'warning')).toEqual([
      {
        event: 'suspended',
        at: T(suspendAt),
        obligation: 'd',
        clock: 'disclosure_request',
        reason: 'third_party',
        due: T('2025-10-18 00:00'),
        remainingWorkingDays: remaining,
      },
      { event: 'resumed', at: T(resumeAt), obligation: 'd', clock: 'disclosure_request', reason: 'third_party', due: state.dueAt },
    ]);
    expect(state).toMatchObject({ state: 'running', dueDate, suspension: null, startAt: T(ISSUED), provisional: false });
    expect(state.dueAt).toBe(T(dueDate) + 24 * 3_600_000);
  });

  it('while suspended: no warning, no breach, no wake; the frozen due and what remains are in the state', () => {
    const { state, events } = drive([create(), suspend('2025-09-30 15:00')], { horizon: T('2025-12-31 00:00') });
    // 50 % of 09-15 10:00 → 10-18 00:00 is 10-01 17:00, after the suspension: never warned.
    expect(events.map((e) => e.event)).toEqual(['started', 'suspended']);
    expect(nextObligationWake(state)).toBeNull();
    expect(state.suspension).toEqual({ since: T('2025-09-30 15:00'), reason: 'third_party', remainingWorkingDays: 8 });
    expect(state).toMatchObject({ state: 'running', dueAt: T('2025-10-18 00:00') });
  });

  it('warnings are measured from the issue to the new due; points still ahead after resuming are warned', () => {
    // 2026: 03-02 10:00 → due 03-30 (dueAt 03-31 00:00); 50 % at 03-16 17:00, 80 % would be 03-25 06:48.
    const { events } = drive([create('disclosure_request', '2026-03-02 10:00'), suspend('2026-03-18 10:00'), resume('2026-03-25 14:00')], {
      horizon: T('2026-04-09 00:00'),
    });
    // 8 remain after 03-18 (19, 20, 23–27, 30), counted after 03-25: 26, 27, 30, 31, 04-01..03, 07 (清明 04-04..06).
    // New span 03-02 10:00 → 04-08 00:00 (878 h): 50 % (03-20 17:00) is past at resumption, 80 % is 03-31 16:24.
    expect(rows(events)).toEqual([
      ['started', T('2026-03-02 10:00'), T('2026-03-31 00:00'), null],
      ['warning', T('2026-03-16 17:00'), T('2026-03-31 00:00'), 0.5],
      ['suspended', T('2026-03-18 10:00'), T('2026-03-31 00:00'), 8],
      ['resumed', T('2026-03-25 14:00'), T('2026-04-08 00:00'), 'third_party'],
      ['warning', T('2026-03-31 16:24'), T('2026-04-08 00:00'), 0.8],
      ['breached', T('2026-04-08 00:00'), T('2026-04-08 00:00'), null],
    ]);
  });

  it('a duty can be paused more than once; an extension after resuming counts from the current due', () => {
    const { state, events } = drive([
      create(),
      suspend('2025-09-30 15:00'),
      resume('2025-10-09 10:00'), // due 10-20
      suspend('2025-10-13 10:00'), // 14, 15, 16, 17, 20 remain
      resume('2025-10-15 10:00'), // 16, 17, 20, 21, 22 → 10-22
      extend('2025-10-16 10:00'), // + 20 from 10-22 → 11-19
    ]);
    expect(rows(events.filter((e) => e.event !== 'warning')).slice(3)).toEqual([
      ['suspended', T('2025-10-13 10:00'), T('2025-10-21 00:00'), 5],
      ['resumed', T('2025-10-15 10:00'), T('2025-10-23 00:00'), 'third_party'],
      ['extended', T('2025-10-16 10:00'), T('2025-11-20 00:00'), null],
    ]);
    expect(state.steps.map((s) => s.op)).toEqual(['suspend', 'resume', 'suspend', 'resume', 'extend']);
    expect(state).toMatchObject({ extended: true, dueDate: '2025-11-19' });
  });
});

describe('correction (补正): the count restarts when the corrected request arrives', () => {
  it('due = the base 20 working days after the resume day; warnings are measured from the resumption', () => {
    const { state, events } = drive([create(), suspend('2025-09-17 10:00', 'correction'), resume('2025-09-29 11:00')], {
      horizon: T('2025-10-28 00:00'),
    });
    // 20 after 09-29: 09-30, 10-09..11, 13..17, 20..24, 27..31, 11-03.
    // Span 09-29 11:00 → 11-04 00:00 (853 h): 50 % at 10-17 05:30, 80 % at 10-27 21:24.
    expect(rows(events)).toEqual([
      ['started', T(ISSUED), T('2025-10-18 00:00'), null],
      ['suspended', T('2025-09-17 10:00'), T('2025-10-18 00:00'), 20],
      ['resumed', T('2025-09-29 11:00'), T('2025-11-04 00:00'), 'correction'],
      ['warning', T('2025-10-17 05:30'), T('2025-11-04 00:00'), 0.5],
      ['warning', T('2025-10-27 21:24'), T('2025-11-04 00:00'), 0.8],
    ]);
    expect(state).toMatchObject({ dueDate: '2025-11-03', startAt: T('2025-09-29 11:00'), issueDate: '2025-09-15', extended: false });
  });

  it.each([
    // [resume at, due date]
    ['2025-09-30 09:00', '2025-11-04'], // the day before National Day: 10-09.. are the 20
    ['2025-10-01 09:00', '2025-11-04'], // on a holiday: the same
    ['2025-10-08 20:00', '2025-11-04'], // the last holiday: the same
    ['2025-10-09 09:00', '2025-11-05'], // the first working day after: it does not count
    ['2025-10-11 09:00', '2025-11-07'], // the 调休 Saturday: it does not count either
  ])('corrected request received %s: due %s', (resumeAt, dueDate) => {
    const { state } = drive([create(), suspend('2025-09-17 10:00', 'correction'), resume(resumeAt)]);
    expect(state).toMatchObject({ dueDate, startAt: T(resumeAt), suspension: null });
  });

  it('an extension granted before the correction is moot; the new period may be extended once', () => {
    const { state, events } = drive([
      create(),
      extend('2025-10-10 10:00'), // 10-17 + 20 → 11-14
      suspend('2025-10-20 10:00', 'correction'),
      resume('2025-10-27 09:00'), // 20 after 10-27 → 11-24
      extend('2025-11-03 10:00'), // + 20 → 12-22
      extend('2025-11-04 10:00'),
    ]);
    expect(rows(events.filter((e) => e.event !== 'warning'))).toEqual([
      ['started', T(ISSUED), T('2025-10-18 00:00'), null],
      ['extended', T('2025-10-10 10:00'), T('2025-11-15 00:00'), null],
      ['suspended', T('2025-10-20 10:00'), T('2025-11-15 00:00'), 20],
      ['resumed', T('2025-10-27 09:00'), T('2025-11-25 00:00'), 'correction'],
      ['extended', T('2025-11-03 10:00'), T('2025-12-23 00:00'), null],
      ['extend_rejected', T('2025-11-04 10:00'), null, 'already_extended'],
    ]);
    expect(state).toMatchObject({ dueDate: '2025-12-22', extended: true });
  });

  it('the base period is the snapshot taken at the start, not the current pack', () => {
    const { state } = drive([create(), suspend('2025-09-17 10:00', 'correction')]);
    const shorter = {
      ...pack,
      obligations: { ...pack.obligations, disclosure_request: { ...pack.obligations.disclosure_request, workingDays: 5 } },
    };
    const r = applyObligationInput(state, resume('2025-09-29 11:00'), shorter, calendar);
    expect(r.state.dueDate).toBe('2025-11-03');
  });
});

describe('rejections change nothing but asOf', () => {
  function rejected(inputs: ObligationInput[], kind: ObligationKind = 'disclosure_request') {
    const before = drive([create(kind), ...inputs.slice(0, -1)]).state;
    const last = inputs.at(-1)!;
    const adv = advanceObligation(before, last.at - 1);
    const r = applyObligationInput(deepFreeze(adv.state), last, pack, calendar);
    expect({ ...r.state, asOf: adv.state.asOf }).toEqual(adv.state);
    return r.events.at(-1);
  }

  it.each([
    ['suspend on another kind', 'penalty_disclosure', [suspend('2025-09-16 10:00')], 'suspend_rejected', 'not_suspendable'],
    [
      'suspend after met',
      'disclosure_request',
      [fulfil('2025-09-16 10:00'), suspend('2025-09-17 10:00')],
      'suspend_rejected',
      'already_met',
    ],
    ['suspend after breached', 'disclosure_request', [suspend('2025-10-18 00:00:00.001')], 'suspend_rejected', 'already_breached'],
    [
      'suspend twice',
      'disclosure_request',
      [suspend('2025-09-16 10:00'), suspend('2025-09-17 10:00', 'correction')],
      'suspend_rejected',
      'already_suspended',
    ],
    ['resume when not suspended', 'disclosure_request', [resume('2025-09-16 10:00')], 'resume_rejected', 'not_suspended'],
    [
      'resume twice',
      'disclosure_request',
      [suspend('2025-09-16 10:00'), resume('2025-09-17 10:00'), resume('2025-09-18 10:00')],
      'resume_rejected',
      'not_suspended',
    ],
    ['resume on another kind', 'service_change', [resume('2025-09-16 10:00')], 'resume_rejected', 'not_suspended'],
    [
      'resume after met while suspended',
      'disclosure_request',
      [suspend('2025-09-16 10:00'), fulfil('2025-09-20 10:00'), resume('2025-09-22 10:00')],
      'resume_rejected',
      'already_met',
    ],
    ['resume after breached', 'disclosure_request', [resume('2025-10-18 00:00:00.001')], 'resume_rejected', 'already_breached'],
    [
      'extend while suspended',
      'disclosure_request',
      [suspend('2025-09-16 10:00'), extend('2025-09-17 10:00')],
      'extend_rejected',
      'suspended',
    ],
  ] as const)('%s', (_, kind, inputs, event, reason) => {
    expect(rejected([...inputs], kind)).toMatchObject({ event, reason, obligation: 'd', clock: kind });
  });

  it('suspend exactly at the due instant is allowed (the breach fires after inputs at that instant); 1 ms later it is not', () => {
    expect(drive([create(), suspend('2025-10-18 00:00')]).events.at(-1)).toMatchObject({ event: 'suspended', remainingWorkingDays: 0 });
    expect(rows(drive([create(), suspend('2025-10-18 00:00:00.001')]).events.slice(-2))).toEqual([
      ['breached', T('2025-10-18 00:00'), T('2025-10-18 00:00'), null],
      ['suspend_rejected', T('2025-10-18 00:00:00.001'), null, 'already_breached'],
    ]);
  });

  it('an unknown reason is an invalid input, not an event', () => {
    const { state } = drive([create()]);
    const input = { type: 'suspend', at: T('2025-09-16 10:00'), id: 'd', reason: 'holiday' } as unknown as ObligationInput;
    expect(() => applyObligationInput(state, input, pack, calendar)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
  });

  it('suspend/resume on an unknown duty throw OBLIGATION_NOT_FOUND', () => {
    expect(() => applyObligationInput(undefined, suspend('2025-09-16 10:00'), pack, calendar)).toThrow(
      expect.objectContaining({ code: 'OBLIGATION_NOT_FOUND' }),
    );
  });
});

describe('a reply while suspended', () => {
  it('meets the duty, never late; the due reported is the frozen one and the suspension stays as a record', () => {
    const { state, events } = drive([create(), suspend('2025-10-16 10:00'), fulfil('2025-11-20 10:00')]);
    expect(events.at(-1)).toEqual({
      event: 'met',
      at: T('2025-11-20 10:00'),
      obligation: 'd',
      clock: 'disclosure_request',
      due: T('2025-10-18 00:00'),
      respondedAt: T('2025-11-20 10:00'),
      late: false,
    });
    expect(state).toMatchObject({ state: 'met', late: false, suspension: { reason: 'third_party', remainingWorkingDays: 1 } });
    expect(nextObligationWake(state)).toBeNull();
  });
});

describe('state', () => {
  it('a suspended state survives a JSON round trip and is never mutated', () => {
    const inputs = [create(), suspend('2025-09-30 15:00'), resume('2025-10-09 10:00'), extend('2025-10-10 10:00')];
    const run = (roundTrip: boolean) => {
      let state: ObligationState | undefined;
      const events = [];
      for (const input of inputs) {
        if (state !== undefined) {
          const adv = advanceObligation(deepFreeze(state), input.at - 1);
          events.push(...adv.events);
          state = roundTrip ? (JSON.parse(JSON.stringify(adv.state)) as ObligationState) : adv.state;
        }
        const r = applyObligationInput(state === undefined ? undefined : deepFreeze(state), input, pack, calendar);
        events.push(...r.events);
        state = r.state;
        expect(JSON.parse(JSON.stringify(state))).toStrictEqual(state);
        if (state.suspension !== null) {
          expect(JSON.parse(JSON.stringify(state))).toMatchObject({
            suspension: { since: T('2025-09-30 15:00'), reason: 'third_party', remainingWorkingDays: 8 },
            steps: [{ op: 'suspend', at: T('2025-09-30 15:00'), reason: 'third_party' }],
          });
        }
      }
      return { events, state };
    };
    const plain = run(false);
    expect(run(true)).toEqual(plain);
    expect(plain.events.map((e) => e.event)).toEqual(['started', 'suspended', 'resumed', 'extended']);
  });

  it('a state stored before suspensions existed (no steps, no suspension) still works', () => {
    const { state } = drive([create()]);
    const { steps: _steps, suspension: _suspension, ...legacy } = state;
    const old = legacy as ObligationState;
    expect(nextObligationWake(old)).toBe(nextObligationWake(state));
    const r = applyObligationInput(old, suspend('2025-09-30 15:00'), pack, calendar);
    expect(r.state).toMatchObject({ suspension: { remainingWorkingDays: 8 }, steps: [{ op: 'suspend' }] });
    const e = applyObligationInput(old, extend('2025-09-30 15:00'), pack, calendar);
    expect(e.state).toMatchObject({ dueDate: '2025-11-14', steps: [{ op: 'extend', workingDays: 20 }] });
    expect(applyObligationInput(old, { type: 'recalculate', at: T('2025-09-30 15:00'), id: 'd' }, pack, calendar).events).toEqual([]);
  });
});
