import { describe, expect, it } from 'vitest';
import { DomainError } from '../src/errors.ts';
import { advanceIncident, applyIncidentInput, type IncidentState, nextIncidentWake } from '../src/incident.ts';
import { DEFAULT_RULE_PACK, parseRulePack } from '../src/rule-pack.ts';
import type { EngineEvent, IncidentInput } from '../src/types.ts';
import { deepFreeze, replay, T } from './helpers.ts';

const H = 3_600_000;
const pack = DEFAULT_RULE_PACK;

/** Events of one clock kind, as compact tuples [event, at, due?, extra?]. */
function of(events: EngineEvent[], incident: string, clock: string) {
  return events.filter((e) => 'incident' in e && e.incident === incident && 'clock' in e && e.clock === clock);
}

describe('clock boundaries (start 08:00, graded I at once)', () => {
  const graded = (response: { at: string; publishedAt?: string; kind?: string }) =>
    replay([
      { type: 'signal', at: '2026-03-02 08:00', incident: 'A', source: 'feed' },
      { type: 'grade', at: '2026-03-02 08:00', incident: 'A', level: 'I' },
      {
        type: 'response',
        incident: 'A',
        kind: response.kind ?? 'release',
        original: true,
        at: response.at,
        ...(response.publishedAt ? { publishedAt: response.publishedAt } : {}),
      },
    ]);

  it.each([
    ['4 h 59 m 59 s: on time', '2026-03-02 12:59:59', false, false],
    ['exactly 5 h (published at due): on time', '2026-03-02 13:00', false, false],
    ['5 h + 1 ms: breached, then met late', '2026-03-02 13:00:00.001', true, true],
    ['5 h + 1 s: breached, then met late', '2026-03-02 13:00:01', true, true],
  ])('release %s', (_, at, breached, late) => {
    const release = of(graded({ at }), 'A', 'release');
    expect(release.some((e) => e.event === 'breached')).toBe(breached);
    expect(release.at(-1)).toMatchObject({ event: 'met', at: T(at), due: T('2026-03-02 13:00'), respondedAt: T(at), late });
  });

  it.each([
    ['23 h 59 m 59.999 s', '2026-03-03 07:59:59.999', false],
    ['exactly 24 h', '2026-03-03 08:00', false],
    ['24 h + 1 ms', '2026-03-03 08:00:00.001', true],
  ])('press conference %s', (_, at, late) => {
    const press = of(graded({ at, kind: 'press_conference' }), 'A', 'press_conference');
    expect(press.at(-1)).toMatchObject({ event: 'met', due: T('2026-03-03 08:00'), late });
  });

  it.each([
    ['47 h 59 m 59 s', '2026-03-04 07:59:59', false],
    ['exactly 48 h', '2026-03-04 08:00', false],
    ['48 h + 1 ms', '2026-03-04 08:00:00.001', true],
  ])('response clock %s', (_, at, late) => {
    const events = replay([
      { type: 'signal', at: '2026-03-02 08:00', incident: 'A', source: 'feed' },
      { type: 'response', at, incident: 'A', kind: 'reply', original: true },
    ]);
    expect(of(events, 'A', 'response').at(-1)).toMatchObject({ event: 'met', due: T('2026-03-04 08:00'), late });
  });

  it('a response recorded after due but published exactly at due is on time, with no breach retracted twice', () => {
    const release = of(graded({ at: '2026-03-02 14:00', publishedAt: '2026-03-02 13:00' }), 'A', 'release');
    expect(release.map((e) => e.event)).toEqual(['started', 'warning', 'warning', 'breached', 'met', 'breach_retracted']);
    expect(release[4]).toMatchObject({ at: T('2026-03-02 14:00'), respondedAt: T('2026-03-02 13:00'), late: false });
  });

  it('across midnight: a signal at 22:00 graded at 22:30', () => {
    const events = replay([
      { type: 'signal', at: '2026-03-02 22:00', incident: 'N', source: 'hotline' },
      { type: 'grade', at: '2026-03-02 22:30', incident: 'N', level: 'II' },
      { type: 'end', at: '2026-03-03 23:00' },
    ]);
    expect(of(events, 'N', 'release').map((e) => [e.event, e.at])).toEqual([
      ['started', T('2026-03-02 22:30')],
      ['warning', T('2026-03-03 00:30')],
      ['warning', T('2026-03-03 02:00')],
      ['breached', T('2026-03-03 03:00')],
    ]);
    expect(of(events, 'N', 'press_conference').at(-1)).toMatchObject({ event: 'breached', at: T('2026-03-03 22:00') });
  });
});

describe('start', () => {
  it('is the earliest publication, capped at each signal’s at, or occurrence', () => {
    let { state } = applyIncidentInput(
      undefined,
      { type: 'signal', at: T('2026-03-02 08:00'), incident: 'A', source: 'feed', publishedAt: T('2026-03-02 09:00') },
      pack,
    );
    expect(state.startAt).toBe(T('2026-03-02 08:00'));
    ({ state } = applyIncidentInput(
      state,
      { type: 'signal', at: T('2026-03-02 10:00'), incident: 'A', source: 'feed', publishedAt: T('2026-03-02 07:00') },
      pack,
    ));
    expect(state.startAt).toBe(T('2026-03-02 07:00'));
    ({ state } = applyIncidentInput(
      state,
      { type: 'occurred', at: T('2026-03-02 11:00'), incident: 'A', occurredAt: T('2026-03-02 07:30') },
      pack,
    ));
    expect(state.startAt).toBe(T('2026-03-02 07:00'));
    ({ state } = applyIncidentInput(
      state,
      { type: 'occurred', at: T('2026-03-02 11:00'), incident: 'A', occurredAt: T('2026-03-01 23:00') },
      pack,
    ));
    expect(state.startAt).toBe(T('2026-03-01 23:00'));
    expect(state.clocks[0]).toMatchObject({ kind: 'response', startAt: T('2026-03-01 23:00'), dueAt: T('2026-03-03 23:00') });
  });

  it('moving earlier skips warning points already past and can breach at once', () => {
    const events = replay([
      { type: 'signal', at: '2026-03-05 08:00', incident: 'T', source: 'feed' },
      { type: 'occurred', at: '2026-03-05 09:00', incident: 'T', occurredAt: '2026-03-03 20:00' },
      { type: 'occurred', at: '2026-03-05 12:00', incident: 'T', occurredAt: '2026-03-03 06:00' },
    ]);
    expect(events.map((e) => [e.event, e.at, 'due' in e ? e.due : null, 'elapsed' in e ? e.elapsed : null])).toEqual([
      ['started', T('2026-03-05 08:00'), T('2026-03-07 08:00'), null],
      ['rescheduled', T('2026-03-05 09:00'), T('2026-03-05 20:00'), null],
      // 50 % (03-04 20:00) was already past: skipped; 80 % is still ahead.
      ['warning', T('2026-03-05 10:24'), T('2026-03-05 20:00'), 0.8],
      ['rescheduled', T('2026-03-05 12:00'), T('2026-03-05 06:00'), null],
      ['breached', T('2026-03-05 12:00'), T('2026-03-05 06:00'), null],
    ]);
  });

  it('met, breached and re-grade-anchored clocks keep their due; start-anchored running ones move', () => {
    const events = replay([
      { type: 'signal', at: '2026-03-02 08:00', incident: 'A', source: 'feed' },
      { type: 'grade', at: '2026-03-02 08:10', incident: 'A', level: 'III' },
      { type: 'grade', at: '2026-03-02 09:00', incident: 'A', level: 'I' }, // release/press from 09:00
      { type: 'occurred', at: '2026-03-02 10:00', incident: 'A', occurredAt: '2026-03-01 20:00' },
      { type: 'signal', at: '2026-03-02 10:00', incident: 'B', source: 'feed' },
      { type: 'response', at: '2026-03-02 10:05', incident: 'B', kind: 'reply', original: true },
      { type: 'occurred', at: '2026-03-02 10:10', incident: 'B', occurredAt: '2026-03-01 20:00' },
    ]);
    expect(events.filter((e) => e.event === 'rescheduled')).toEqual([]);
  });

  it('moves a start-anchored release clock (graded from ungraded) with the start', () => {
    const events = replay([
      { type: 'signal', at: '2026-03-02 08:00', incident: 'A', source: 'feed' },
      { type: 'grade', at: '2026-03-02 08:10', incident: 'A', level: 'I' },
      { type: 'occurred', at: '2026-03-02 08:20', incident: 'A', occurredAt: '2026-03-02 07:00' },
    ]);
    expect(events.filter((e) => e.event === 'rescheduled')).toEqual([
      { event: 'rescheduled', at: T('2026-03-02 08:20'), incident: 'A', clock: 'release', due: T('2026-03-02 12:00') },
      { event: 'rescheduled', at: T('2026-03-02 08:20'), incident: 'A', clock: 'press_conference', due: T('2026-03-03 07:00') },
    ]);
  });
});

describe('grading', () => {
  const base = [{ type: 'signal', at: '2026-04-01 08:00', incident: 'G', source: 'feed', publishedAt: '2026-04-01 07:00' }] as const;

  it.each(['I', 'II'])('ungraded → %s: release and press conference from the start; response superseded', (level) => {
    const events = replay([...base, { type: 'grade', at: '2026-04-01 09:00', incident: 'G', level }]);
    expect(events.slice(1, 4)).toEqual([
      { event: 'cancelled', at: T('2026-04-01 09:00'), incident: 'G', clock: 'response', reason: 'superseded' },
      { event: 'started', at: T('2026-04-01 09:00'), incident: 'G', clock: 'release', due: T('2026-04-01 12:00') },
      { event: 'started', at: T('2026-04-01 09:00'), incident: 'G', clock: 'press_conference', due: T('2026-04-02 07:00') },
    ]);
  });

  it.each([
    ['ungraded → III', ['III']],
    ['ungraded → IV', ['IV']],
    ['III → IV', ['III', 'IV']],
    ['I → II', ['I', 'II']],
    ['II → I', ['II', 'I']],
    ['I → I', ['I', 'I']],
  ])('%s changes no clock (after the first grading)', (_, levels) => {
    const lines = levels.map((level, i) => ({ type: 'grade', at: `2026-04-01 09:0${i}`, incident: 'G', level }));
    const first = replay([...base, ...lines.slice(0, 1)]).filter((e) => e.at <= T('2026-04-01 09:00'));
    const all = replay([...base, ...lines]).filter((e) => e.at <= T('2026-04-01 09:09'));
    expect(all).toEqual(first);
  });

  it('III → I: new clocks from the re-grade time, response superseded', () => {
    const events = replay([
      ...base,
      { type: 'grade', at: '2026-04-01 09:00', incident: 'G', level: 'III', unit: '市住建局' },
      { type: 'grade', at: '2026-04-01 10:00', incident: 'G', level: 'I' },
    ]);
    expect(events.slice(1)).toEqual([
      { event: 'cancelled', at: T('2026-04-01 10:00'), incident: 'G', clock: 'response', reason: 'superseded' },
      { event: 'started', at: T('2026-04-01 10:00'), incident: 'G', clock: 'release', due: T('2026-04-01 15:00') },
      { event: 'started', at: T('2026-04-01 10:00'), incident: 'G', clock: 'press_conference', due: T('2026-04-02 10:00') },
    ]);
  });

  it('I → III: running release/press cancelled (downgraded); the cancelled response clock restarts from the start', () => {
    const events = replay([
      ...base,
      { type: 'grade', at: '2026-04-01 08:00', incident: 'G', level: 'I' },
      { type: 'grade', at: '2026-04-01 09:00', incident: 'G', level: 'III' },
    ]);
    expect(events.filter((e) => e.at === T('2026-04-01 09:00'))).toEqual([
      { event: 'started', at: T('2026-04-01 09:00'), incident: 'G', clock: 'response', due: T('2026-04-03 07:00') },
      { event: 'cancelled', at: T('2026-04-01 09:00'), incident: 'G', clock: 'release', reason: 'downgraded' },
      { event: 'cancelled', at: T('2026-04-01 09:00'), incident: 'G', clock: 'press_conference', reason: 'downgraded' },
    ]);
  });

  it('a restarted response clock may breach at once', () => {
    const events = replay([
      { type: 'signal', at: '2026-04-03 08:00', incident: 'G', source: 'feed', publishedAt: '2026-04-01 09:00' },
      { type: 'grade', at: '2026-04-03 08:30', incident: 'G', level: 'II' },
      { type: 'grade', at: '2026-04-03 10:00', incident: 'G', level: 'IV' },
    ]);
    expect(events.filter((e) => e.at === T('2026-04-03 10:00'))).toEqual([
      { event: 'started', at: T('2026-04-03 10:00'), incident: 'G', clock: 'response', due: T('2026-04-03 09:00') },
      { event: 'breached', at: T('2026-04-03 10:00'), incident: 'G', clock: 'response', due: T('2026-04-03 09:00') },
    ]);
  });

  it('a response clock met before grading keeps that through up- and downgrades', () => {
    const events = replay([
      ...base,
      { type: 'response', at: '2026-04-01 08:30', incident: 'G', kind: 'reply', original: true },
      { type: 'grade', at: '2026-04-01 09:00', incident: 'G', level: 'I' },
      { type: 'grade', at: '2026-04-01 10:00', incident: 'G', level: 'III' },
    ]);
    expect(of(events, 'G', 'response').map((e) => e.event)).toEqual(['started', 'met']);
  });

  it('grade with unit sets the responsible unit; assign changes it', () => {
    let { state } = applyIncidentInput(
      undefined,
      { type: 'signal', at: T('2026-04-01 08:00'), incident: 'G', source: 'manual', title: '路面塌陷' },
      pack,
    );
    ({ state } = applyIncidentInput(
      state,
      { type: 'grade', at: T('2026-04-01 09:00'), incident: 'G', level: 'III', unit: '市住建局' },
      pack,
    ));
    expect(state).toMatchObject({ title: '路面塌陷', level: 'III', unit: '市住建局' });
    ({ state } = applyIncidentInput(state, { type: 'assign', at: T('2026-04-01 09:30'), incident: 'G', unit: '区城管局' }, pack));
    expect(state.unit).toBe('区城管局');
  });
});

describe('responses', () => {
  it('responses published before a clock existed count for it; press conference only by a press conference', () => {
    const events = replay([
      { type: 'signal', at: '2026-06-01 08:00', incident: 'R', source: 'feed' },
      { type: 'response', at: '2026-06-01 09:00', incident: 'R', kind: 'reply', original: true, publishedAt: '2026-06-01 08:30' },
      { type: 'grade', at: '2026-06-01 10:00', incident: 'R', level: 'I' },
    ]);
    expect(events.filter((e) => e.at === T('2026-06-01 10:00'))).toEqual([
      { event: 'started', at: T('2026-06-01 10:00'), incident: 'R', clock: 'release', due: T('2026-06-01 13:00') },
      {
        event: 'met',
        at: T('2026-06-01 10:00'),
        incident: 'R',
        clock: 'release',
        due: T('2026-06-01 13:00'),
        respondedAt: T('2026-06-01 08:30'),
        late: false,
      },
      { event: 'started', at: T('2026-06-01 10:00'), incident: 'R', clock: 'press_conference', due: T('2026-06-02 08:00') },
    ]);
  });

  it('the earliest-published qualifying response decides, whatever the recording order', () => {
    const events = replay([
      { type: 'signal', at: '2026-06-01 08:00', incident: 'R', source: 'feed', publishedAt: '2026-06-01 00:00' },
      { type: 'response', at: '2026-06-01 09:00', incident: 'R', kind: 'release', original: true, publishedAt: '2026-06-01 06:00' },
      { type: 'response', at: '2026-06-01 09:30', incident: 'R', kind: 'reply', original: true, publishedAt: '2026-06-01 04:00' },
      { type: 'grade', at: '2026-06-01 10:00', incident: 'R', level: 'II' },
    ]);
    // release due 05:00: the reply published at 04:00 meets it on time, no breach.
    expect(of(events, 'R', 'release')).toEqual([
      { event: 'started', at: T('2026-06-01 10:00'), incident: 'R', clock: 'release', due: T('2026-06-01 05:00') },
      {
        event: 'met',
        at: T('2026-06-01 10:00'),
        incident: 'R',
        clock: 'release',
        due: T('2026-06-01 05:00'),
        respondedAt: T('2026-06-01 04:00'),
        late: false,
      },
    ]);
  });

  it('a qualifying response published after a due already past: breached first, then met late, at the same moment', () => {
    const events = replay([
      { type: 'signal', at: '2026-06-01 08:00', incident: 'R', source: 'feed', publishedAt: '2026-06-01 00:00' },
      { type: 'response', at: '2026-06-01 12:00', incident: 'R', kind: 'reply', original: true, publishedAt: '2026-06-01 06:00' },
      { type: 'grade', at: '2026-06-01 12:30', incident: 'R', level: 'II' },
    ]);
    expect(of(events, 'R', 'release').map((e) => [e.event, e.at, 'late' in e ? e.late : null])).toEqual([
      ['started', T('2026-06-01 12:30'), null],
      ['breached', T('2026-06-01 12:30'), null],
      ['met', T('2026-06-01 12:30'), true],
    ]);
  });

  it('a repost meets nothing and yields nonqualifying_response', () => {
    const events = replay([
      { type: 'signal', at: '2026-07-01 08:00', incident: 'P', source: 'feed' },
      { type: 'response', at: '2026-07-01 10:00', incident: 'P', kind: 'press_conference', original: false },
    ]);
    expect(events).toEqual([
      { event: 'started', at: T('2026-07-01 08:00'), incident: 'P', clock: 'response', due: T('2026-07-03 08:00') },
      { event: 'nonqualifying_response', at: T('2026-07-01 10:00'), incident: 'P', kind: 'press_conference', reason: 'repost' },
    ]);
  });

  it('a publication time after the recording time is capped at it', () => {
    const { state } = applyIncidentInput(undefined, { type: 'signal', at: T('2026-07-01 08:00'), incident: 'P', source: 'feed' }, pack);
    const r = applyIncidentInput(
      state,
      { type: 'response', at: T('2026-07-01 09:00'), incident: 'P', kind: 'reply', original: true, publishedAt: T('2026-07-05 09:00') },
      pack,
    );
    expect(r.events).toEqual([
      {
        event: 'met',
        at: T('2026-07-01 09:00'),
        incident: 'P',
        clock: 'response',
        due: T('2026-07-03 08:00'),
        respondedAt: T('2026-07-01 09:00'),
        late: false,
      },
    ]);
  });

  it('breach_retracted: met late, then a response published before due is recorded', () => {
    const events = replay([
      { type: 'signal', at: '2026-07-01 08:00', incident: 'P', source: 'feed' },
      { type: 'response', at: '2026-07-03 09:00', incident: 'P', kind: 'reply', original: true },
      { type: 'response', at: '2026-07-03 10:00', incident: 'P', kind: 'release', original: true, publishedAt: '2026-07-03 07:59' },
      { type: 'response', at: '2026-07-03 11:00', incident: 'P', kind: 'release', original: true, publishedAt: '2026-07-03 07:00' },
    ]);
    expect(events.slice(-3)).toEqual([
      {
        event: 'met',
        at: T('2026-07-03 09:00'),
        incident: 'P',
        clock: 'response',
        due: T('2026-07-03 08:00'),
        respondedAt: T('2026-07-03 09:00'),
        late: true,
      },
      {
        event: 'met',
        at: T('2026-07-03 10:00'),
        incident: 'P',
        clock: 'response',
        due: T('2026-07-03 08:00'),
        respondedAt: T('2026-07-03 07:59'),
        late: false,
      },
      { event: 'breach_retracted', at: T('2026-07-03 10:00'), incident: 'P', clock: 'response', due: T('2026-07-03 08:00') },
    ]);
  });
});

describe('dismiss', () => {
  it('waives running clocks, keeps breaches, closes the incident; later lines change nothing', () => {
    const events = replay([
      { type: 'signal', at: '2026-09-01 08:00', incident: 'X', source: 'feed' },
      { type: 'grade', at: '2026-09-01 08:00', incident: 'X', level: 'I' },
      { type: 'dismiss', at: '2026-09-01 14:00', incident: 'X', reason: 'duplicate' },
      { type: 'response', at: '2026-09-01 15:00', incident: 'X', kind: 'press_conference', original: true },
      { type: 'response', at: '2026-09-01 15:00', incident: 'X', kind: 'reply', original: false },
      { type: 'grade', at: '2026-09-01 16:00', incident: 'X', level: 'III' },
      { type: 'signal', at: '2026-09-01 17:00', incident: 'X', source: 'feed', publishedAt: '2026-08-01 08:00' },
      { type: 'end', at: '2026-09-05 00:00' },
    ]);
    expect(events.filter((e) => e.at >= T('2026-09-01 13:00'))).toEqual([
      { event: 'breached', at: T('2026-09-01 13:00'), incident: 'X', clock: 'release', due: T('2026-09-01 13:00') },
      { event: 'waived', at: T('2026-09-01 14:00'), incident: 'X', clock: 'press_conference', reason: 'duplicate' },
    ]);
  });

  it('state records closure', () => {
    let { state } = applyIncidentInput(undefined, { type: 'signal', at: T('2026-09-01 08:00'), incident: 'Y', source: 'feed' }, pack);
    ({ state } = applyIncidentInput(state, { type: 'dismiss', at: T('2026-09-01 09:00'), incident: 'Y', reason: '不属于政务舆情' }, pack));
    expect(state).toMatchObject({ status: 'closed', closeReason: '不属于政务舆情', closedAt: T('2026-09-01 09:00') });
    expect(state.clocks[0]).toMatchObject({ state: 'waived', reason: '不属于政务舆情' });
    expect(nextIncidentWake(state)).toBeNull();
  });
});

describe('rule packs', () => {
  it('a tightened pack (release 3 h) is data only', () => {
    const tight = parseRulePack({ clocks: { release: { spanHours: 3 } } });
    const events = replay(
      [
        { type: 'signal', at: '2026-10-12 08:00', incident: 'K', source: 'feed' },
        { type: 'grade', at: '2026-10-12 08:00', incident: 'K', level: 'I' },
      ],
      { pack: tight },
    );
    expect(of(events, 'K', 'release')[0]).toMatchObject({ event: 'started', due: T('2026-10-12 11:00') });
  });

  it('snapshot: a running clock keeps the span and points it started with when the pack changes', () => {
    const tight = parseRulePack({ clocks: { release: { spanHours: 3, warnings: [0.9] } } });
    let { state } = applyIncidentInput(undefined, { type: 'signal', at: T('2026-10-12 08:00'), incident: 'K', source: 'feed' }, pack);
    ({ state } = applyIncidentInput(state, { type: 'grade', at: T('2026-10-12 08:00'), incident: 'K', level: 'I' }, pack));
    // The pack changes; a later input is applied with the new one.
    const r = applyIncidentInput(
      state,
      { type: 'occurred', at: T('2026-10-12 09:00'), incident: 'K', occurredAt: T('2026-10-12 07:00') },
      tight,
    );
    expect(r.events[0]).toMatchObject({ event: 'rescheduled', clock: 'release', due: T('2026-10-12 12:00') });
    const release = r.state.clocks.find((c) => c.kind === 'release')!;
    expect(release).toMatchObject({ spanMs: 5 * H, warnings: [0.5, 0.8] });
  });
});

describe('state and time contract', () => {
  const inputs: IncidentInput[] = [
    { type: 'signal', at: T('2026-03-02 08:00'), incident: 'A', source: 'feed', title: 't' },
    { type: 'grade', at: T('2026-03-02 08:30'), incident: 'A', level: 'II', unit: 'u1' },
    { type: 'occurred', at: T('2026-03-02 09:00'), incident: 'A', occurredAt: T('2026-03-02 07:00') },
    {
      type: 'response',
      at: T('2026-03-02 13:00'),
      incident: 'A',
      kind: 'release',
      original: true,
      publishedAt: T('2026-03-02 11:00'),
      url: 'https://x',
    },
    { type: 'grade', at: T('2026-03-02 14:00'), incident: 'A', level: 'III' },
    { type: 'response', at: T('2026-03-02 15:00'), incident: 'A', kind: 'reply', original: false },
    { type: 'dismiss', at: T('2026-03-02 16:00'), incident: 'A', reason: 'r' },
  ];

  function live(freeze: boolean, roundTrip: boolean): EngineEvent[] {
    let state: IncidentState | undefined;
    const events: EngineEvent[] = [];
    for (const input of inputs) {
      if (state !== undefined) {
        const advanced = advanceIncident(state, input.at - 1);
        events.push(...advanced.events);
        state = advanced.state;
      }
      if (roundTrip && state !== undefined) state = JSON.parse(JSON.stringify(state)) as IncidentState;
      if (freeze && state !== undefined) deepFreeze(state);
      const r = applyIncidentInput(state, input, pack);
      expect(r.state).not.toBe(state);
      events.push(...r.events);
      state = r.state;
      // Plain JSON: nothing lost or changed by a round trip (no undefined, Dates, Maps).
      expect(JSON.parse(JSON.stringify(state))).toStrictEqual(state);
    }
    return events;
  }

  it('never mutates the state it is given (states are deep-frozen between steps)', () => {
    expect(() => live(true, false)).not.toThrow();
  });

  it('gives the same events after a JSON round trip of the state at every step', () => {
    expect(live(false, true)).toEqual(live(false, false));
  });

  it('nextIncidentWake is the earliest warning or due of a running clock', () => {
    let { state } = applyIncidentInput(undefined, inputs[0]!, pack);
    expect(nextIncidentWake(state)).toBe(T('2026-03-03 08:00')); // 50 % of 48 h
    ({ state } = applyIncidentInput(state, inputs[1]!, pack));
    expect(nextIncidentWake(state)).toBe(T('2026-03-02 10:30')); // release 50 %
    ({ state } = advanceIncident(state, T('2026-03-02 10:30')));
    expect(nextIncidentWake(state)).toBe(T('2026-03-02 12:00')); // release 80 %
  });

  it('advanceIncident fires everything due up to now, in time order, then nothing twice', () => {
    let { state } = applyIncidentInput(undefined, inputs[0]!, pack);
    ({ state } = applyIncidentInput(state, inputs[1]!, pack));
    const r = advanceIncident(state, T('2026-03-03 08:00'));
    expect(r.events.map((e) => [e.event, 'clock' in e ? e.clock : '', e.at])).toEqual([
      ['warning', 'release', T('2026-03-02 10:30')],
      ['warning', 'release', T('2026-03-02 12:00')],
      ['breached', 'release', T('2026-03-02 13:00')],
      ['warning', 'press_conference', T('2026-03-02 20:00')],
      ['warning', 'press_conference', T('2026-03-03 03:12')],
      ['breached', 'press_conference', T('2026-03-03 08:00')],
    ]);
    expect(advanceIncident(r.state, T('2026-03-04 08:00')).events).toEqual([]);
  });

  it('applyIncidentInput fires timers still pending before the input first (safety net)', () => {
    let { state } = applyIncidentInput(undefined, inputs[0]!, pack);
    ({ state } = applyIncidentInput(state, inputs[1]!, pack));
    const r = applyIncidentInput(
      state,
      { type: 'response', at: T('2026-03-02 13:00'), incident: 'A', kind: 'release', original: true },
      pack,
    );
    // The 13:00 breach is due at the input's instant: inputs come first, so it is met on time.
    expect(r.events.map((e) => e.event)).toEqual(['warning', 'warning', 'met']);
    expect(r.events.at(-1)).toMatchObject({ late: false });
  });

  it('an input older than the state is applied as of the state’s time', () => {
    let { state } = applyIncidentInput(undefined, inputs[0]!, pack);
    ({ state } = advanceIncident(state, T('2026-03-02 12:00')));
    const r = applyIncidentInput(state, { type: 'grade', at: T('2026-03-02 09:00'), incident: 'A', level: 'I' }, pack);
    expect(r.events[0]).toMatchObject({ event: 'cancelled', at: T('2026-03-02 12:00') });
  });

  it.each([
    ['grade', { type: 'grade', at: 1, incident: 'nope', level: 'I' }],
    ['response', { type: 'response', at: 1, incident: 'nope', kind: 'reply', original: true }],
    ['dismiss', { type: 'dismiss', at: 1, incident: 'nope', reason: 'x' }],
  ] as const)('%s on an unknown incident throws INCIDENT_NOT_FOUND', (_, input) => {
    expect(() => applyIncidentInput(undefined, input, pack)).toThrow(expect.objectContaining({ code: 'INCIDENT_NOT_FOUND' }));
  });

  it('an input for another incident throws; instants must be integer epoch ms', () => {
    const { state } = applyIncidentInput(undefined, inputs[0]!, pack);
    expect(() => applyIncidentInput(state, { type: 'assign', at: T('2026-03-02 09:00'), incident: 'B', unit: 'u' }, pack)).toThrow(
      DomainError,
    );
    expect(() => applyIncidentInput(state, { type: 'assign', at: T('2026-03-02 09:00') + 0.5, incident: 'A', unit: 'u' }, pack)).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT' }),
    );
    expect(() => applyIncidentInput(state, { type: 'assign', at: Number.NaN, incident: 'A', unit: 'u' }, pack)).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT' }),
    );
  });

  it('clocks carry stable sequence numbers; a restarted response clock keeps its own', () => {
    let { state } = applyIncidentInput(undefined, inputs[0]!, pack);
    for (const level of ['I', 'III', 'I'] as const) {
      ({ state } = applyIncidentInput(state, { type: 'grade', at: T('2026-03-02 09:00'), incident: 'A', level }, pack));
    }
    expect(state.clocks.map((c) => [c.seq, c.kind, c.anchor, c.state])).toEqual([
      [1, 'response', 'start', 'cancelled'],
      [2, 'release', 'start', 'cancelled'],
      [3, 'press_conference', 'start', 'cancelled'],
      [4, 'release', 'regrade', 'running'],
      [5, 'press_conference', 'regrade', 'running'],
    ]);
  });
});
