import { describe, expect, it } from 'vitest';
import {
  DEFAULT_LADDER_PACK,
  interviewCandidates,
  interviewGroups,
  type Ladder,
  ladderAt,
  type LadderClock,
  type LadderProgress,
  ladderSnapshot,
  periodOf,
  periodRange,
  periodsOverlapping,
  reportCandidacy,
  routeChannels,
  startLadder,
} from '../src/ladder.ts';
import { DomainError } from '../src/errors.ts';
import { DEFAULT_RULE_PACK, parseRulePack } from '../src/rule-pack.ts';
import type { ClockKind } from '../src/types.ts';

const H = 3_600_000;
const M = 60_000;
/** 2026-03-02 08:00 Asia/Shanghai. */
const T0 = Date.parse('2026-03-02T08:00:00+08:00');

function clockOf(kind: ClockKind, over: Partial<LadderClock> = {}): LadderClock {
  const span = kind === 'release' ? 5 * H : kind === 'press_conference' ? 24 * H : 48 * H;
  return { state: 'running', startAt: T0, dueAt: T0 + span, warnings: [0.5, 0.8], assignedAt: T0, acknowledgedAt: null, ...over };
}

/** Walk the ladder on a fake timeline: wake at each nextWake until `end`, the clock moving as `at` says. */
function walk(
  ladder: Ladder,
  clockAt: (t: number) => LadderClock,
  end: number,
  since = T0,
): { at: number; key: string; to: string[]; cc: string[] }[] {
  let progress: LadderProgress = startLadder(since);
  const out: { at: number; key: string; to: string[]; cc: string[] }[] = [];
  let now = since;
  for (let i = 0; i < 1000; i++) {
    const d = ladderAt(clockAt(now), ladder, progress, now);
    for (const f of d.firings) out.push({ at: f.at, key: f.key, to: f.to, cc: f.cc });
    progress = d.progress;
    if (d.nextWake === null || d.nextWake > end) break;
    expect(d.nextWake).toBeGreaterThan(now);
    now = d.nextWake;
  }
  return out;
}

const rel = (events: { at: number; key: string }[]) => events.map((e) => `${(e.at - T0) / M}m ${e.key}`);

describe('the default ladder per clock kind', () => {
  it.each([
    ['release', 5 * H, 4 * H, 1 * H, ['duty']],
    ['press_conference', 24 * H, 4 * H, 4 * H, []],
    ['response', 48 * H, 12 * H, 12 * H, []],
    ['policy_interpretation', null, 12 * H, 24 * H, []],
    ['disclosure_request', null, 12 * H, 24 * H, []],
  ] as const)(
    '%s: leaders %d ms after the breach, urged again every %d ms, duty officer copied %j',
    (kind, _span, leadersAfter, repeat, duty) => {
      const ladder = DEFAULT_LADDER_PACK.clocks[kind];
      expect(ladder.steps.map((s) => s.id)).toEqual(['notice', 'warning', 'urge', 'leaders']);
      const urge = ladder.steps.find((s) => s.id === 'urge')!;
      expect(urge).toMatchObject({
        kind: 'urge',
        trigger: 'breach',
        afterMs: 0,
        to: ['unit'],
        cc: ['supervisor', ...duty],
        repeatEveryMs: repeat,
      });
      expect(ladder.steps.find((s) => s.id === 'warning')!.cc).toEqual(duty);
      const leaders = ladder.steps.find((s) => s.id === 'leaders')!;
      expect(leaders).toMatchObject({ kind: 'report', afterMs: leadersAfter, to: ['leaders'], reportCandidate: true });
    },
  );

  it('is part of the default rule pack, frozen', () => {
    expect(DEFAULT_RULE_PACK.ladder).toBe(DEFAULT_LADDER_PACK);
    expect(Object.isFrozen(DEFAULT_RULE_PACK.ladder.clocks.release.steps[0])).toBe(true);
    expect(DEFAULT_RULE_PACK.ladder.interview).toEqual({ breaches: 3, period: 'quarter' });
  });
});

describe('ladderAt on a 5 h clock never met (fake time, wake to wake)', () => {
  const ladder = ladderSnapshot(DEFAULT_LADDER_PACK, 'release');
  const due = T0 + 5 * H;
  const states = (t: number): LadderClock => clockOf('release', { state: t >= due ? 'breached' : 'running' });

  it('notice, warnings at 50 % and 80 %, 催办 at the breach cc the supervising office, hourly repeats, leaders at +4 h', () => {
    const events = walk(ladder, states, due + 5 * H);
    expect(rel(events)).toEqual([
      '0m notice#0',
      '150m warning#0',
      '240m warning#1',
      '300m urge#0',
      '360m urge#1',
      '420m urge#2',
      '480m urge#3',
      '540m urge#4',
      '540m leaders#0',
      '600m urge#5',
    ]);
    expect(events.find((e) => e.key === 'urge#0')).toMatchObject({ to: ['unit'], cc: ['supervisor', 'duty'] });
    expect(events.find((e) => e.key === 'leaders#0')).toMatchObject({ to: ['leaders'], cc: ['supervisor'] });
  });

  it.each([
    ['1 ms before the due: no 催办 yet', due - 1, [] as string[]],
    ['exactly at the due: 催办', due, ['urge#0']],
    ['4 h after the due minus 1 ms: no leaders yet (missed repeats coalesced)', due + 4 * H - 1, ['urge#0', 'urge#3']],
    ['exactly 4 h after the due: leaders', due + 4 * H, ['urge#0', 'urge#4', 'leaders#0']],
  ])('boundary: %s', (_name, now, keys) => {
    // Walked up to 1 ms before the due already.
    const before = ladderAt(states(due - 1), ladder, startLadder(T0), due - 1);
    expect(before.nextWake).toBe(due);
    const d = ladderAt(states(now), ladder, before.progress, now);
    expect(d.firings.map((f) => f.key)).toEqual(keys);
  });

  it('is idempotent: asking again at the same instant gives nothing', () => {
    const first = ladderAt(states(due), ladder, startLadder(T0), due);
    // Warnings whose points passed unseen are moot once the clock has breached.
    expect(first.firings.map((f) => f.key)).toEqual(['notice#0', 'urge#0']);
    expect(ladderAt(states(due), ladder, first.progress, due).firings).toEqual([]);
  });

  it('an engine down for 3 h sends one 催办 repeat (the latest), not three', () => {
    const atDue = ladderAt(states(due), ladder, startLadder(T0), due);
    const later = ladderAt(states(due + 3 * H + 5 * M), ladder, atDue.progress, due + 3 * H + 5 * M);
    expect(rel(later.firings)).toEqual(['480m urge#3']);
    expect(later.nextWake).toBe(due + 4 * H);
  });
});

describe('stopping', () => {
  const ladder = ladderSnapshot(DEFAULT_LADDER_PACK, 'response');
  const due = T0 + 48 * H;

  it.each(['met', 'cancelled', 'waived'] as const)('a %s clock cancels every pending step and has no wake', (state) => {
    const d = ladderAt(clockOf('response', { state }), ladder, startLadder(T0), due + 20 * H);
    expect(d).toMatchObject({ firings: [], nextWake: null, cancelled: true });
  });

  it('a breach retracted (the clock met after all) stops the ladder between 催办 and leaders', () => {
    const retractedAt = due + 2 * H;
    const events = walk(
      ladder,
      (t) => clockOf('response', { state: t < due ? 'running' : t < retractedAt ? 'breached' : 'met' }),
      due + 24 * H,
    );
    expect(rel(events)).toEqual(['0m notice#0', '1440m warning#0', '2304m warning#1', '2880m urge#0']);
  });

  it('acknowledging stops the repeats, never the leaders step (the clock still runs)', () => {
    const ackAt = due + 1 * H;
    const events = walk(
      ladder,
      (t) => clockOf('response', { state: t < due ? 'running' : 'breached', acknowledgedAt: t >= ackAt ? ackAt : null }),
      due + 48 * H,
    );
    expect(rel(events).filter((e) => !e.includes('warning') && !e.includes('notice'))).toEqual(['2880m urge#0', '3600m leaders#0']);
  });
});

describe('when the ladder starts late or the unit comes late', () => {
  const ladder = ladderSnapshot(DEFAULT_LADDER_PACK, 'release');

  it('a clock born breached (start moved far back) is urged at once; past warnings are skipped, past repeats not backfilled', () => {
    const since = T0 + 7 * H + 30 * M; // 2.5 h after the due
    const d = ladderAt(clockOf('release', { state: 'breached', assignedAt: null }), ladder, startLadder(since), since);
    expect(rel(d.firings)).toEqual(['450m urge#0']);
    expect(d.nextWake).toBe(T0 + 8 * H); // the next hourly repeat
  });

  it('an unassigned clock sends no notice until a unit is assigned; then the notice goes at once with every due', () => {
    const assignAt = T0 + 1 * H;
    const d0 = ladderAt(clockOf('release', { assignedAt: null }), ladder, startLadder(T0), T0 + 30 * M);
    expect(d0.firings).toEqual([]);
    const d1 = ladderAt(clockOf('release', { assignedAt: assignAt }), ladder, d0.progress, assignAt);
    expect(rel(d1.firings)).toEqual(['60m notice#0']);
  });
});

describe('configured per jurisdiction through the rule pack', () => {
  it('tunes the default ladder with two numbers', () => {
    const pack = parseRulePack({
      ladder: { clocks: { release: { leadersAfterHours: 2, urgeRepeatHours: null } }, interview: { breaches: 2 } },
    });
    const steps = pack.ladder.clocks.release.steps;
    expect(steps.find((s) => s.id === 'leaders')?.afterMs).toBe(2 * H);
    expect(steps.find((s) => s.id === 'urge')?.repeatEveryMs).toBeNull();
    expect(pack.ladder.clocks.response).toEqual(DEFAULT_LADDER_PACK.clocks.response);
    expect(pack.ladder.interview).toEqual({ breaches: 2, period: 'quarter' });
  });

  it('replaces the steps of one clock kind', () => {
    const pack = parseRulePack({
      ladder: {
        clocks: {
          response: { steps: [{ id: 'urge', kind: 'urge', trigger: 'breach', to: ['unit', 'duty'], afterHours: 1, repeatEveryHours: 6 }] },
        },
      },
    });
    expect(pack.ladder.clocks.response.steps).toEqual([
      {
        id: 'urge',
        kind: 'urge',
        trigger: 'breach',
        afterMs: 1 * H,
        to: ['unit', 'duty'],
        cc: [],
        repeatEveryMs: 6 * H,
        reportCandidate: false,
      },
    ]);
  });

  it('a running clock keeps its snapshot when the pack changes', () => {
    const snapshot = ladderSnapshot(DEFAULT_RULE_PACK.ladder, 'release');
    const changed = parseRulePack({ ladder: { clocks: { release: { leadersAfterHours: 1 } } } });
    expect(changed.ladder.clocks.release.steps.find((s) => s.id === 'leaders')?.afterMs).toBe(1 * H);
    expect(snapshot.steps.find((s) => s.id === 'leaders')?.afterMs).toBe(4 * H);
    expect(JSON.parse(JSON.stringify(snapshot))).toEqual(snapshot);
  });

  it.each([
    ['an unknown clock kind', { ladder: { clocks: { relase: {} } } }, '/ladder/clocks/relase'],
    [
      'an unknown role',
      { ladder: { clocks: { release: { steps: [{ id: 'a', kind: 'urge', trigger: 'breach', to: ['mayor'] }] } } } },
      '/ladder/clocks/release/steps/0/to/0',
    ],
    [
      'steps and tuning together',
      { ladder: { clocks: { release: { leadersAfterHours: 1, steps: [] } } } },
      '/ladder/clocks/release: give steps, or leadersAfterHours/urgeRepeatHours, not both',
    ],
    [
      'a duplicate step id',
      {
        ladder: {
          clocks: {
            release: {
              steps: [
                { id: 'a', kind: 'urge', trigger: 'breach', to: ['unit'] },
                { id: 'a', kind: 'report', trigger: 'breach', to: ['leaders'] },
              ],
            },
          },
        },
      },
      '/ladder/clocks/release/steps/1/id',
    ],
    ['a zero interview threshold', { ladder: { interview: { breaches: 0 } } }, '/ladder/interview/breaches'],
  ])('rejects %s, naming the path', (_name, doc, path) => {
    expect(() => parseRulePack(doc)).toThrow(DomainError);
    expect(() => parseRulePack(doc)).toThrow(path);
  });
});

describe('约谈 candidates: repeated breaches by one unit in a period', () => {
  it.each([
    ['2026-03-31T23:59:59+08:00', 'quarter', '2026-Q1'],
    ['2026-04-01T00:00:00+08:00', 'quarter', '2026-Q2'],
    ['2026-03-31T16:00:00Z', 'quarter', '2026-Q2'], // already 1 April in Shanghai
    ['2026-12-31T23:00:00+08:00', 'month', '2026-12'],
    ['2026-12-31T16:00:00Z', 'year', '2027'],
  ] as const)('%s falls in %s %s', (at, period, expected) => {
    expect(periodOf(Date.parse(at), period)).toBe(expected);
  });

  it('3 breaches in the quarter make a candidate; 2, or 3 across two quarters, do not', () => {
    const at = (s: string) => Date.parse(s);
    const breaches = [
      { unit: 'a', at: at('2026-01-05T10:00:00+08:00') },
      { unit: 'a', at: at('2026-02-05T10:00:00+08:00') },
      { unit: 'a', at: at('2026-03-05T10:00:00+08:00') },
      { unit: 'b', at: at('2026-03-01T10:00:00+08:00') },
      { unit: 'b', at: at('2026-03-02T10:00:00+08:00') },
      { unit: 'c', at: at('2025-12-30T10:00:00+08:00') },
      { unit: 'c', at: at('2026-01-02T10:00:00+08:00') },
      { unit: 'c', at: at('2026-01-03T10:00:00+08:00') },
    ];
    expect(interviewCandidates(breaches, { breaches: 3, period: 'quarter' }, at('2026-03-20T00:00:00+08:00'))).toEqual([
      { unit: 'a', period: '2026-Q1', breaches: 3 },
    ]);
    expect(interviewCandidates(breaches, { breaches: 3, period: 'year' }, at('2026-03-20T00:00:00+08:00')).map((c) => c.unit)).toEqual([
      'a',
    ]);
    expect(interviewCandidates(breaches, { breaches: 2, period: 'month' }, at('2026-03-20T00:00:00+08:00')).map((c) => c.unit)).toEqual([
      'b',
    ]);
  });
});

describe('routing by urgency and hour (Asia/Shanghai)', () => {
  const at = (hhmm: string) => Date.parse(`2026-03-02T${hhmm}:00+08:00`);
  it.each([
    ['5 h clock 催办 at 03:00', 5 * H, 'urge', '03:00', ['email', 'webhook', 'wecom', 'dingtalk', 'sms']],
    ['5 h clock 催办 at 21:59', 5 * H, 'urge', '21:59', ['email', 'webhook', 'wecom', 'dingtalk']],
    ['5 h clock 催办 at 22:00', 5 * H, 'urge', '22:00', ['email', 'webhook', 'wecom', 'dingtalk', 'sms']],
    ['5 h clock warning at 07:59', 5 * H, 'warning', '07:59', ['email', 'webhook', 'wecom', 'dingtalk', 'sms']],
    ['5 h clock warning at 08:00', 5 * H, 'warning', '08:00', ['email', 'webhook', 'wecom', 'dingtalk']],
    ['5 h clock assignment notice at 03:00 (not urgent)', 5 * H, 'notice', '03:00', ['email', 'webhook']],
    ['48 h clock 催办 at 03:00', 48 * H, 'urge', '03:00', ['email', 'webhook']],
    ['48 h clock report to leaders at 03:00', 48 * H, 'report', '03:00', ['email', 'webhook', 'wecom', 'dingtalk']],
    ['a 3 h clock (tighter pack) 催办 at 23:30', 3 * H, 'urge', '23:30', ['email', 'webhook', 'wecom', 'dingtalk', 'sms']],
  ] as const)('%s', (_name, spanMs, kind, hhmm, channels) => {
    expect(routeChannels({ spanMs, kind, at: at(hhmm) })).toEqual(channels);
  });
});

describe('通报 candidacy and 约谈 groups for the leaders’ statistics', () => {
  const at = (local: string) => Date.parse(`2026-${local}:00+08:00`);
  const release = ladderSnapshot(DEFAULT_LADDER_PACK, 'release'); // leaders 4 h after the due
  const due = at('03-02T12:00');
  it.each([
    ['breached, 4 h passed', { state: 'breached', respondedAt: null }, at('03-02T16:00'), { step: 'leaders', at: at('03-02T16:00') }],
    ['breached, 3 h 59 m', { state: 'breached', respondedAt: null }, at('03-02T15:59'), null],
    [
      'running past due (breach not written yet)',
      { state: 'running', respondedAt: null },
      at('03-02T17:00'),
      { step: 'leaders', at: at('03-02T16:00') },
    ],
    [
      'met 5 h late: stays a candidate',
      { state: 'met', respondedAt: at('03-02T17:00') },
      at('03-03T08:00'),
      { step: 'leaders', at: at('03-02T16:00') },
    ],
    ['met 3 h late: never one', { state: 'met', respondedAt: at('03-02T15:00') }, at('03-03T08:00'), null],
    ['met exactly at the step: not one', { state: 'met', respondedAt: at('03-02T16:00') }, at('03-03T08:00'), null],
    ['waived', { state: 'waived', respondedAt: null }, at('03-03T08:00'), null],
  ] as const)('%s', (_name, c, now, expected) => {
    expect(reportCandidacy({ dueAt: due, ...c }, release, at('03-02T07:00'), now)).toEqual(expected);
  });

  it('a clock born past its report instant is a candidate from when its ladder started', () => {
    expect(reportCandidacy({ state: 'breached', dueAt: due, respondedAt: null }, release, at('03-02T20:00'), at('03-02T21:00'))).toEqual({
      step: 'leaders',
      at: at('03-02T20:00'),
    });
  });

  it('periods: keys to instants, and the rule periods overlapping a range', () => {
    expect(periodRange('2026-Q4')).toEqual({
      from: at('10-01T00:00'),
      to: Date.parse('2027-01-01T00:00:00+08:00'),
      granularity: 'quarter',
    });
    expect(periodRange('2026-12')!.to).toBe(Date.parse('2027-01-01T00:00:00+08:00'));
    expect(periodRange('2026')!.from).toBe(at('01-01T00:00'));
    expect(periodRange('2026-13')).toBeNull();
    expect(periodsOverlapping(at('02-15T00:00'), at('07-01T00:00'), 'quarter')).toEqual(['2026-Q1', '2026-Q2']);
    expect(periodsOverlapping(periodRange('2026-05')!.from, periodRange('2026-05')!.to, 'quarter')).toEqual(['2026-Q2']);
  });

  it('约谈 groups keep their breaches, per unit and rule period', () => {
    const b = (unit: string, local: string, ref: string) => ({ unit, at: at(local), ref });
    const breaches = [
      b('a', '01-05T10:00', 'x1'),
      b('a', '03-31T23:59', 'x2'),
      b('a', '02-01T00:00', 'x3'),
      b('a', '04-01T00:00', 'x4'),
      b('b', '01-02T00:00', 'y1'),
    ];
    expect(interviewGroups(breaches, { breaches: 3, period: 'quarter' }, () => true)).toEqual([
      { unit: 'a', period: '2026-Q1', breaches: [breaches[0], breaches[2], breaches[1]] },
    ]);
    expect(interviewGroups(breaches, { breaches: 3, period: 'quarter' }, (p) => p === '2026-Q2')).toEqual([]);
  });
});
