import { describe, expect, it } from 'vitest';
import { createCalendar } from '../src/calendar.ts';
import { CN_CALENDAR_DATA } from '../src/calendar-cn.ts';
import { CalendarYearMissing } from '../src/errors.ts';
import { advanceObligation, applyObligationInput, nextObligationWake, type ObligationState } from '../src/obligation.ts';
import { DEFAULT_RULE_PACK, parseRulePack } from '../src/rule-pack.ts';
import type { ObligationInput, ObligationKind } from '../src/types.ts';
import { calendar, deepFreeze, replay, T } from './helpers.ts';

const pack = DEFAULT_RULE_PACK;

function start(kind: ObligationKind, issued: string, at = issued) {
  return applyObligationInput(undefined, { type: 'obligation', at: T(at), id: 'o', kind, issuedAt: T(issued) }, pack, calendar);
}

describe('working-day duties', () => {
  it.each([
    // [kind, issued (Shanghai), due printed as next day 00:00]
    ['policy_interpretation', '2025-09-30 10:00', '2025-10-12 00:00'], // day before National Day; 3rd day is the 调休 Saturday
    ['service_change', '2025-09-27 15:00', '2025-09-29 00:00'], // Saturday; Sunday 9-28 is a 调休 working day
    ['service_change', '2026-02-13 18:00', '2026-02-15 00:00'], // Friday before Spring Festival; Sat 2-14 is worked
    ['proposal_reply', '2026-02-12 09:00', '2026-03-05 00:00'], // across Spring Festival 2026 with both 调休 Saturdays
    ['penalty_disclosure', '2025-12-31 16:00', '2026-01-30 00:00'], // across the year boundary
    ['disclosure_request', '2026-03-02 10:00', '2026-03-31 00:00'],
    ['service_change', '2024-02-28 23:59', '2024-03-01 00:00'], // leap day is the working day
  ] as const)('%s issued %s is due %s', (kind, issued, due) => {
    const r = start(kind, issued);
    expect(r.events).toEqual([{ event: 'started', at: T(issued), obligation: 'o', clock: kind, due: T(due) }]);
    expect(r.state).toMatchObject({ state: 'running', issueDate: issued.slice(0, 10), dueAt: T(due), provisional: false });
  });

  it('fulfilled exactly at due is on time; one ms later is late (after the breach)', () => {
    const onTime = replay([
      { type: 'obligation', at: '2026-03-02 10:00', id: 'a', kind: 'service_change', issuedAt: '2026-03-02 10:00' },
      { type: 'fulfil', at: '2026-03-04 00:00', id: 'a' },
    ]);
    expect(onTime.at(-1)).toEqual({
      event: 'met',
      at: T('2026-03-04 00:00'),
      obligation: 'a',
      clock: 'service_change',
      due: T('2026-03-04 00:00'),
      respondedAt: T('2026-03-04 00:00'),
      late: false,
    });
    const late = replay([
      { type: 'obligation', at: '2026-03-02 10:00', id: 'a', kind: 'service_change', issuedAt: '2026-03-02 10:00' },
      { type: 'fulfil', at: '2026-03-04 00:00:00.001', id: 'a' },
    ]);
    expect(late.slice(-2).map((e) => [e.event, 'late' in e ? e.late : null])).toEqual([
      ['breached', null],
      ['met', true],
    ]);
  });

  it('an obligation recorded after its due breaches at once', () => {
    const r = start('service_change', '2026-03-02 10:00', '2026-03-10 10:00');
    expect(r.events.map((e) => [e.event, e.at])).toEqual([
      ['started', T('2026-03-10 10:00')],
      ['breached', T('2026-03-10 10:00')],
    ]);
  });

  it('warns at 50 % and 80 % of issue → due, a second fulfil changes nothing', () => {
    let { state } = start('service_change', '2026-03-02 10:00'); // due 03-04 00:00, span 38 h
    const r = advanceObligation(state, T('2026-03-03 20:00'));
    expect(r.events.map((e) => [e.event, e.at])).toEqual([
      ['warning', T('2026-03-03 05:00')],
      ['warning', T('2026-03-03 16:24')],
    ]);
    ({ state } = applyObligationInput(r.state, { type: 'fulfil', at: T('2026-03-03 21:00'), id: 'o' }, pack, calendar));
    expect(applyObligationInput(state, { type: 'fulfil', at: T('2026-03-03 22:00'), id: 'o' }, pack, calendar).events).toEqual([]);
    expect(nextObligationWake(state)).toBeNull();
  });
});

describe('extend', () => {
  it('adds 20 working days counted from the current due date and warns again for points still ahead', () => {
    const events = replay([
      { type: 'obligation', at: '2026-03-02 10:00', id: 'd', kind: 'disclosure_request', issuedAt: '2026-03-02 10:00' },
      { type: 'extend', at: '2026-03-20 12:00', id: 'd' },
      { type: 'end', at: '2026-04-30 00:00' },
    ]);
    expect(events.map((e) => [e.event, e.at, 'due' in e ? e.due : null, 'elapsed' in e ? e.elapsed : null])).toEqual([
      ['started', T('2026-03-02 10:00'), T('2026-03-31 00:00'), null],
      ['warning', T('2026-03-16 17:00'), T('2026-03-31 00:00'), 0.5],
      ['extended', T('2026-03-20 12:00'), T('2026-04-29 00:00'), null], // 清明 04-04..06 skipped
      ['warning', T('2026-03-31 05:00'), T('2026-04-29 00:00'), 0.5],
      ['warning', T('2026-04-17 11:36'), T('2026-04-29 00:00'), 0.8],
      ['breached', T('2026-04-29 00:00'), T('2026-04-29 00:00'), null],
    ]);
  });

  it('points of the new span already past are skipped', () => {
    const shortExtension = parseRulePack({ obligations: { disclosure_request: { extension: { workingDays: 2 } } } });
    const events = replay(
      [
        { type: 'obligation', at: '2026-03-02 10:00', id: 'd', kind: 'disclosure_request', issuedAt: '2026-03-02 10:00' },
        { type: 'extend', at: '2026-03-30 12:00', id: 'd' },
        { type: 'end', at: '2026-04-03 00:00' },
      ],
      { pack: shortExtension },
    );
    // New span 03-02 10:00 → 04-02 00:00: its 50 % (03-17 17:00) and 80 % (03-26 21:12) are past.
    expect(events.map((e) => [e.event, e.at])).toEqual([
      ['started', T('2026-03-02 10:00')],
      ['warning', T('2026-03-16 17:00')],
      ['warning', T('2026-03-25 06:48')],
      ['extended', T('2026-03-30 12:00')],
      ['breached', T('2026-04-02 00:00')],
    ]);
  });

  it('extend exactly at due is allowed (the breach timer fires after inputs at that instant); just after, rejected', () => {
    const lines = (at: string) => [
      { type: 'obligation', at: '2026-03-02 10:00', id: 'd', kind: 'disclosure_request', issuedAt: '2026-03-02 10:00' },
      { type: 'extend', at, id: 'd' },
      { type: 'end', at: '2026-03-31 01:00' },
    ];
    expect(replay(lines('2026-03-31 00:00')).slice(3)).toEqual([
      { event: 'extended', at: T('2026-03-31 00:00'), obligation: 'd', clock: 'disclosure_request', due: T('2026-04-29 00:00') },
    ]);
    expect(replay(lines('2026-03-31 00:00:00.001')).slice(3)).toEqual([
      { event: 'breached', at: T('2026-03-31 00:00'), obligation: 'd', clock: 'disclosure_request', due: T('2026-03-31 00:00') },
      {
        event: 'extend_rejected',
        at: T('2026-03-31 00:00:00.001'),
        obligation: 'd',
        clock: 'disclosure_request',
        reason: 'already_breached',
      },
    ]);
  });

  it.each([
    ['on another kind', 'penalty_disclosure', ['extend'], 'not_extendable'],
    ['a second time', 'disclosure_request', ['extend', 'extend'], 'already_extended'],
    ['after it was met', 'disclosure_request', ['fulfil', 'extend'], 'already_met'],
    ['after met and extended', 'disclosure_request', ['extend', 'fulfil', 'extend'], 'already_met'],
  ] as const)('is rejected %s, changing nothing', (_, kind, steps, reason) => {
    let { state } = start(kind, '2026-03-02 10:00');
    let last: ReturnType<typeof applyObligationInput> | undefined;
    steps.forEach((type, i) => {
      const before: ObligationState = state;
      last = applyObligationInput(state, { type, at: T('2026-03-03 10:00') + i, id: 'o' }, pack, calendar);
      state = last.state;
      if (i === steps.length - 1) expect({ ...state, asOf: before.asOf }).toEqual(before);
    });
    expect(last!.events).toEqual([
      { event: 'extend_rejected', at: T('2026-03-03 10:00') + steps.length - 1, obligation: 'o', clock: kind, reason },
    ]);
  });

  it('a pack can make another kind extendable', () => {
    const p = parseRulePack({ obligations: { penalty_disclosure: { extension: { workingDays: 5 } } } });
    const { state } = applyObligationInput(
      undefined,
      { type: 'obligation', at: T('2026-03-02 10:00'), id: 'o', kind: 'penalty_disclosure', issuedAt: T('2026-03-02 10:00') },
      p,
      calendar,
    );
    const r = applyObligationInput(state, { type: 'extend', at: T('2026-03-03 10:00'), id: 'o' }, p, calendar);
    expect(r.events[0]).toMatchObject({ event: 'extended', due: T('2026-04-08 00:00') }); // 03-30 + 5 working days, skipping 清明
  });
});

describe('calendar edges and contract', () => {
  it('a deadline into a year without data throws CalendarYearMissing; a provisional calendar answers and flags it', () => {
    expect(() => start('service_change', '2026-12-31 10:00')).toThrow(CalendarYearMissing);
    const provisional = createCalendar(CN_CALENDAR_DATA, [], { provisional: true });
    const r = applyObligationInput(
      undefined,
      { type: 'obligation', at: T('2026-12-31 10:00'), id: 'o', kind: 'service_change', issuedAt: T('2026-12-31 10:00') },
      pack,
      provisional,
    );
    expect(r.state).toMatchObject({ dueDate: '2027-01-01', provisional: true });
  });

  it('throws on duplicate, unknown and mismatched ids', () => {
    const { state } = start('service_change', '2026-03-02 10:00');
    const obligation: ObligationInput = {
      type: 'obligation',
      at: T('2026-03-02 11:00'),
      id: 'o',
      kind: 'service_change',
      issuedAt: T('2026-03-02 11:00'),
    };
    expect(() => applyObligationInput(state, obligation, pack, calendar)).toThrow(expect.objectContaining({ code: 'OBLIGATION_EXISTS' }));
    expect(() => applyObligationInput(undefined, { type: 'fulfil', at: 1, id: 'x' }, pack, calendar)).toThrow(
      expect.objectContaining({ code: 'OBLIGATION_NOT_FOUND' }),
    );
    expect(() => applyObligationInput(state, { type: 'fulfil', at: T('2026-03-02 12:00'), id: 'x' }, pack, calendar)).toThrow(
      expect.objectContaining({ code: 'OBLIGATION_MISMATCH' }),
    );
  });

  it('never mutates its input and survives a JSON round trip', () => {
    const steps: ObligationInput[] = [
      { type: 'extend', at: T('2026-03-10 10:00'), id: 'o' },
      { type: 'extend', at: T('2026-03-11 10:00'), id: 'o' },
      { type: 'fulfil', at: T('2026-05-11 10:00'), id: 'o' },
    ];
    const run = (roundTrip: boolean) => {
      const first = start('disclosure_request', '2026-03-02 10:00');
      let state = first.state;
      const events = [...first.events];
      for (const input of steps) {
        const adv = advanceObligation(deepFreeze(state), input.at - 1);
        events.push(...adv.events);
        state = roundTrip ? (JSON.parse(JSON.stringify(adv.state)) as ObligationState) : adv.state;
        const r = applyObligationInput(deepFreeze(state), input, pack, calendar);
        events.push(...r.events);
        state = r.state;
        expect(JSON.parse(JSON.stringify(state))).toStrictEqual(state);
      }
      return events;
    };
    expect(run(true)).toEqual(run(false));
    expect(run(false).map((e) => e.event)).toEqual(['started', 'extended', 'extend_rejected', 'warning', 'warning', 'breached', 'met']);
  });
});
