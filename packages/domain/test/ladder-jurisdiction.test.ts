/**
 * The ladder per jurisdiction (issue #10: "default, configurable per jurisdiction and per clock
 * kind"): a rule pack's jurisdiction overrides, the snapshot a clock or duty takes of its own
 * jurisdiction's ladder when it starts, the 约谈 rule of each unit's jurisdiction, and replay.
 */
import { describe, expect, it } from 'vitest';
import { advanceIncident, applyIncidentInput, type IncidentState } from '../src/incident.ts';
import { interviewGroupsByJurisdiction, interviewWindow, periodRange } from '../src/ladder.ts';
import { withEscalations } from '../src/ladder-replay.ts';
import { stepIncidentLadders, stepObligationLadder } from '../src/ladder-state.ts';
import { advanceObligation, applyObligationInput } from '../src/obligation.ts';
import { parseTimeline, runReplay } from '../src/replay.ts';
import { DEFAULT_RULE_PACK, interviewRulesOf, ladderPackFor, parseRulePack, type RulePack } from '../src/rule-pack.ts';
import { DomainError } from '../src/errors.ts';
import { formatIsoInstant } from '../src/time.ts';
import { calendar, T } from './helpers.ts';

const H = 3_600_000;

/** East tells its leaders 2 h after a 5 h breach, west 6 h; west's duties and 约谈 are its own too. */
const pack = parseRulePack({
  name: '某市 2026',
  jurisdictions: {
    east: { ladder: { clocks: { release: { leadersAfterHours: 2 } } } },
    west: {
      ladder: {
        clocks: { release: { leadersAfterHours: 6, urgeRepeatHours: null }, policy_interpretation: { leadersAfterHours: 24 } },
        interview: { breaches: 2, period: 'month' },
      },
    },
  },
});

const leadersAfter = (p: RulePack, j: string | null, kind: keyof RulePack['ladder']['clocks']) =>
  ladderPackFor(p, j).clocks[kind].steps.find((s) => s.id === 'leaders')!.afterMs;

describe('rule pack: jurisdiction overrides of the ladder and the 约谈 rule', () => {
  it('two jurisdictions get different 4th-step (leaders) delays; the default and unknown jurisdictions keep the pack’s own', () => {
    expect(leadersAfter(pack, 'east', 'release')).toBe(2 * H);
    expect(leadersAfter(pack, 'west', 'release')).toBe(6 * H);
    expect(leadersAfter(pack, null, 'release')).toBe(4 * H);
    expect(leadersAfter(pack, 'default', 'release')).toBe(4 * H);
    expect(leadersAfter(pack, 'north', 'release')).toBe(4 * H);
    // West also stops the hourly 催办 of its 5 h clock.
    expect(ladderPackFor(pack, 'west').clocks.release.steps.find((s) => s.id === 'urge')!.repeatEveryMs).toBeNull();
    expect(ladderPackFor(pack, 'east').clocks.release.steps.find((s) => s.id === 'urge')!.repeatEveryMs).toBe(H);
  });

  it('overriding one clock kind leaves every other kind and the 约谈 rule at the default', () => {
    const east = ladderPackFor(pack, 'east');
    for (const kind of Object.keys(DEFAULT_RULE_PACK.ladder.clocks) as (keyof RulePack['ladder']['clocks'])[]) {
      if (kind === 'release') continue;
      expect(east.clocks[kind], kind).toEqual(DEFAULT_RULE_PACK.ladder.clocks[kind]);
    }
    expect(east.interview).toEqual({ breaches: 3, period: 'quarter' });
    expect(leadersAfter(pack, 'west', 'policy_interpretation')).toBe(24 * H);
    expect(leadersAfter(pack, 'west', 'proposal_reply')).toBe(12 * H);
    expect(interviewRulesOf(pack)).toEqual({
      default: { breaches: 3, period: 'quarter' },
      jurisdictions: { east: { breaches: 3, period: 'quarter' }, west: { breaches: 2, period: 'month' } },
    });
  });

  it('an override is merged over the pack’s own ladder as this document changes it', () => {
    const p = parseRulePack({
      ladder: { clocks: { release: { urgeRepeatHours: 2 } }, interview: { period: 'year' } },
      jurisdictions: { east: { ladder: { clocks: { release: { leadersAfterHours: 1 } } } } },
    });
    const release = ladderPackFor(p, 'east').clocks.release.steps;
    expect(release.find((s) => s.id === 'urge')!.repeatEveryMs).toBe(2 * H);
    expect(release.find((s) => s.id === 'leaders')!.afterMs).toBe(H);
    expect(ladderPackFor(p, 'east').interview).toEqual({ breaches: 3, period: 'year' });
    // A pack built on this one keeps its jurisdictions unless it names them again.
    const next = parseRulePack({ jurisdictions: { west: {} } }, p);
    expect(Object.keys(next.jurisdictions!)).toEqual(['east', 'west']);
    expect(ladderPackFor(next, 'east')).toEqual(ladderPackFor(p, 'east'));
  });

  it('a jurisdiction named like an Object property is data, not a prototype', () => {
    const p = parseRulePack(JSON.parse('{"jurisdictions":{"__proto__":{"ladder":{"interview":{"breaches":9}}}}}'));
    expect(Object.getPrototypeOf(p.jurisdictions)).toBe(Object.prototype);
    expect(ladderPackFor(p, '__proto__').interview.breaches).toBe(9);
    expect(ladderPackFor(p, 'constructor')).toBe(p.ladder);
    expect(ladderPackFor(p, 'toString')).toBe(p.ladder);
  });

  it.each([
    ['not an object', { jurisdictions: [] }, '/jurisdictions'],
    ['an unknown key in an override', { jurisdictions: { east: { clocks: {} } } }, '/jurisdictions/east/clocks'],
    [
      'a negative delay',
      { jurisdictions: { east: { ladder: { clocks: { release: { leadersAfterHours: -1 } } } } } },
      '/jurisdictions/east/ladder/clocks/release/leadersAfterHours',
    ],
    [
      'a typo in a clock kind',
      { jurisdictions: { east: { ladder: { clocks: { relase: {} } } } } },
      '/jurisdictions/east/ladder/clocks/relase',
    ],
    [
      'an unknown 约谈 period',
      { jurisdictions: { east: { ladder: { interview: { period: 'week' } } } } },
      '/jurisdictions/east/ladder/interview/period: expected one of month, quarter, year',
    ],
    [
      'steps and the two numbers at once',
      { jurisdictions: { east: { ladder: { clocks: { release: { leadersAfterHours: 1, steps: [] } } } } } },
      '/jurisdictions/east/ladder/clocks/release: give steps, or leadersAfterHours/urgeRepeatHours, not both',
    ],
    [
      'a duplicate step id',
      {
        jurisdictions: {
          east: {
            ladder: {
              clocks: {
                response: {
                  steps: [
                    { id: 'a', kind: 'notice', trigger: 'assigned', to: ['unit'] },
                    { id: 'a', kind: 'urge', trigger: 'breach', to: ['unit'] },
                  ],
                },
              },
            },
          },
        },
      },
      '/jurisdictions/east/ladder/clocks/response/steps/1/id: duplicate step id "a"',
    ],
    ['a blank jurisdiction name', { jurisdictions: { ' ': {} } }, '/jurisdictions/ : expected a jurisdiction name'],
    ['an empty jurisdiction name', { jurisdictions: { '': {} } }, '/jurisdictions/: expected a jurisdiction name'],
  ])('rejects %s, naming the path', (_, doc, path) => {
    expect(() => parseRulePack(doc)).toThrow(DomainError);
    expect(() => parseRulePack(doc)).toThrow(`rule pack invalid: ${path}`);
  });
});

function gradedIn(jurisdiction: string | undefined, at: number): IncidentState {
  const signal = { type: 'signal' as const, at, incident: 'i1', source: 'feed' as const, ...(jurisdiction ? { jurisdiction } : {}) };
  const s = applyIncidentInput(undefined, signal, pack).state;
  return applyIncidentInput(s, { type: 'grade', at, incident: 'i1', level: 'I', unit: 'water' }, pack).state;
}

/** Every firing of the release clock's ladder from `from` to `to`, walking wake by wake as the engine's timer does. */
function releaseLadder(s: IncidentState, from: number, to: number): string[] {
  const out: string[] = [];
  let state = s;
  let now: number | null = from;
  while (now !== null && now <= to) {
    const w = stepIncidentLadders(advanceIncident(state, now).state, now);
    for (const f of w.firings) if (f.kind === 'release') out.push(`${formatIsoInstant(f.firing.at).slice(11, 16)} ${f.firing.key}`);
    state = w.state;
    now = w.nextWake;
  }
  return out;
}

describe('a clock snapshots its own jurisdiction’s ladder when it starts', () => {
  const T0 = T('2026-03-02 08:00');

  it('two incidents in two jurisdictions: the leaders hear of the 5 h breach 2 h after it in east, 6 h after in west', () => {
    const east = gradedIn('east', T0);
    const west = gradedIn('west', T0);
    expect(east.jurisdiction).toBe('east');
    expect(east.clocks.find((c) => c.kind === 'release')!.ladder!.ladder).toBe(pack.jurisdictions!.east!.ladder.clocks.release);
    expect(releaseLadder(east, T0, T0 + 12 * H).filter((l) => !l.includes('warning'))).toEqual([
      '08:00 notice#0',
      '13:00 urge#0',
      '14:00 urge#1',
      '15:00 urge#2',
      '15:00 leaders#0',
      '16:00 urge#3',
      '17:00 urge#4',
      '18:00 urge#5',
      '19:00 urge#6',
      '20:00 urge#7',
    ]);
    expect(releaseLadder(west, T0, T0 + 12 * H).filter((l) => !l.includes('warning'))).toEqual([
      '08:00 notice#0',
      '13:00 urge#0',
      '19:00 leaders#0',
    ]);
    // No jurisdiction: the pack's own ladder (leaders 4 h after).
    expect(releaseLadder(gradedIn(undefined, T0), T0, T0 + 12 * H)).toContain('17:00 leaders#0');
    // The 48 h clock the grade superseded was west's default one: only release was overridden.
    expect(west.clocks.find((c) => c.kind === 'response')!.ladder!.ladder).toBe(DEFAULT_RULE_PACK.ladder.clocks.response);
  });

  it('later signals do not move the jurisdiction, and a clock started later (a re-grade) takes the same jurisdiction’s ladder', () => {
    let s = applyIncidentInput(undefined, { type: 'signal', at: T0, incident: 'i1', source: 'feed', jurisdiction: 'west' }, pack).state;
    s = applyIncidentInput(s, { type: 'signal', at: T0 + H, incident: 'i1', source: 'feed', jurisdiction: 'east' }, pack).state;
    s = applyIncidentInput(s, { type: 'grade', at: T0 + 2 * H, incident: 'i1', level: 'III' }, pack).state;
    s = applyIncidentInput(s, { type: 'grade', at: T0 + 3 * H, incident: 'i1', level: 'I' }, pack).state;
    expect(s.jurisdiction).toBe('west');
    expect(s.clocks.find((c) => c.kind === 'release')!.ladder!.ladder).toBe(pack.jurisdictions!.west!.ladder.clocks.release);
    // The stored jsonb keeps it.
    expect(JSON.parse(JSON.stringify(s))).toStrictEqual(s);
  });

  it('a running clock keeps the ladder it started with when the pack’s override changes', () => {
    const east = gradedIn('east', T0);
    const tighter = parseRulePack({ jurisdictions: { east: { ladder: { clocks: { release: { leadersAfterHours: 0.5 } } } } } });
    const later = applyIncidentInput(east, { type: 'assign', at: T0 + H, incident: 'i1', unit: 'roads' }, tighter).state;
    expect(later.clocks.find((c) => c.kind === 'release')!.ladder!.ladder).toBe(pack.jurisdictions!.east!.ladder.clocks.release);
    expect(releaseLadder(later, T0 + H, T0 + 12 * H)).toContain('15:00 leaders#0');
  });

  it('a working-day duty takes its jurisdiction’s ladder (west: leaders 24 h after the due), else the default (12 h)', () => {
    const issue = (id: string, jurisdiction?: string) =>
      applyObligationInput(
        undefined,
        {
          type: 'obligation',
          at: T('2026-03-02 09:00'),
          id,
          kind: 'policy_interpretation',
          issuedAt: T('2026-03-02 09:00'),
          ...(jurisdiction ? { jurisdiction } : {}),
        },
        pack,
        calendar,
      ).state;
    const leadersAt = (id: string, jurisdiction?: string) => {
      let s = issue(id, jurisdiction);
      let now: number | null = s.createdAt;
      const fired: number[] = [];
      while (now !== null && now < T('2026-03-10 00:00')) {
        const w = stepObligationLadder(advanceObligation(s, now).state, null, now);
        s = w.state;
        for (const f of w.firings) if (f.firing.step === 'leaders') fired.push(f.firing.at);
        now = w.nextWake;
      }
      return fired.map((at) => formatIsoInstant(at).slice(0, 16));
    };
    // Due at the end of 2026-03-05 (3 working days after the issue day).
    expect(leadersAt('d-west', 'west')).toEqual(['2026-03-07T00:00']);
    expect(leadersAt('d-east', 'east')).toEqual(['2026-03-06T12:00']);
    expect(leadersAt('d-none')).toEqual(['2026-03-06T12:00']);
  });
});

describe('约谈: each unit is judged by its jurisdiction’s rule', () => {
  const breach = (unit: string, jurisdiction: string, at: string) => ({ unit, jurisdiction, at: T(at) });
  const rules = interviewRulesOf(pack);

  it('two breaches in a month make a west unit a candidate; an east or default unit needs three in a quarter', () => {
    const breaches = [
      breach('w1', 'west', '2026-11-02 10:00'),
      breach('w1', 'west', '2026-11-20 10:00'),
      breach('w2', 'west', '2026-10-30 10:00'),
      breach('w2', 'west', '2026-11-03 10:00'), // two, but in two months
      breach('e1', 'east', '2026-10-02 10:00'),
      breach('e1', 'east', '2026-11-02 10:00'),
      breach('d1', 'default', '2026-10-05 10:00'),
      breach('d1', 'default', '2026-11-05 10:00'),
      breach('d1', 'default', '2026-12-05 10:00'),
    ];
    const nov = periodRange('2026-11')!;
    const groups = interviewGroupsByJurisdiction(breaches, rules, nov.from, nov.to);
    expect(groups.map((g) => [g.unit, g.period, g.breaches.length, `${g.rule.breaches}/${g.rule.period}`])).toEqual([
      ['d1', '2026-Q4', 3, '3/quarter'],
      ['w1', '2026-11', 2, '2/month'],
    ]);
    // With one rule for everyone (the default pack), west's units are not candidates.
    expect(interviewGroupsByJurisdiction(breaches, DEFAULT_RULE_PACK.ladder.interview, nov.from, nov.to).map((g) => g.unit)).toEqual([
      'd1',
    ]);
  });

  it('the breaches read are those of every rule’s periods overlapping the report period', () => {
    const nov = periodRange('2026-11')!;
    expect(interviewWindow(rules, nov.from, nov.to)).toEqual({ from: periodRange('2026-Q4')!.from, to: periodRange('2026-Q4')!.to });
    expect(interviewWindow({ breaches: 2, period: 'month' }, nov.from, nov.to)).toEqual({ from: nov.from, to: nov.to });
  });
});

describe('replay --ladder: the input’s jurisdiction picks the ladder', () => {
  function escalations(lines: object[]): string[] {
    const parsed = parseTimeline(lines.map((l) => JSON.stringify(l)).join('\n'));
    if (!parsed.ok) throw new Error(parsed.message);
    const events = runReplay(parsed.inputs, { pack, calendar, horizon: parsed.horizon });
    return withEscalations(parsed.inputs, events, pack, parsed.horizon).flatMap((e) =>
      e.event === 'escalated' && e.step.startsWith('leaders')
        ? [`${e.incident ?? e.obligation} ${formatIsoInstant(e.at).slice(11, 16)}`]
        : [],
    );
  }

  it('a signal’s jurisdiction is its incident’s; an obligation line names its own; none: the pack’s ladder', () => {
    const at = '2026-03-02T08:00:00+08:00';
    expect(
      escalations([
        { type: 'signal', at, incident: 'E', source: 'feed', jurisdiction: 'east' },
        { type: 'signal', at, incident: 'W', source: 'feed', jurisdiction: 'west' },
        { type: 'signal', at, incident: 'D', source: 'feed' },
        { type: 'grade', at, incident: 'E', level: 'I', unit: 'water' },
        { type: 'grade', at, incident: 'W', level: 'I', unit: 'water' },
        { type: 'grade', at, incident: 'D', level: 'I', unit: 'water' },
        { type: 'response', at: '2026-03-02T21:00:00+08:00', incident: 'E', kind: 'press_conference', original: true },
        { type: 'response', at: '2026-03-02T21:00:00+08:00', incident: 'W', kind: 'press_conference', original: true },
        { type: 'response', at: '2026-03-02T21:00:00+08:00', incident: 'D', kind: 'press_conference', original: true },
        { type: 'end', at: '2026-03-02T22:00:00+08:00' },
      ]),
    ).toEqual(['E 15:00', 'D 17:00', 'W 19:00']);
  });

  it('rejects a jurisdiction that is not a string, with its line', () => {
    const parsed = parseTimeline(
      JSON.stringify({ type: 'signal', at: '2026-03-02T08:00:00+08:00', incident: 'E', source: 'feed', jurisdiction: 3 }),
    );
    expect(parsed).toMatchObject({ ok: false, line: 1, message: 'invalid field "jurisdiction": expected a string, got 3' });
  });
});
