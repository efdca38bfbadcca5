import { describe, expect, it } from 'vitest';
import { chinaCalendar } from '../src/calendar-cn.ts';
import { withEscalations } from '../src/ladder-replay.ts';
import { parseTimeline, runReplay } from '../src/replay.ts';
import { DEFAULT_RULE_PACK, parseRulePack, type RulePack } from '../src/rule-pack.ts';
import { formatIsoInstant } from '../src/time.ts';

function run(lines: object[], pack: RulePack = DEFAULT_RULE_PACK): string[] {
  const parsed = parseTimeline(lines.map((l) => JSON.stringify(l)).join('\n'));
  if (!parsed.ok) throw new Error(parsed.message);
  const events = runReplay(parsed.inputs, { pack, calendar: chinaCalendar(), horizon: parsed.horizon });
  return withEscalations(parsed.inputs, events, pack, parsed.horizon).map((e) => {
    const at = formatIsoInstant(e.at).slice(11, 16);
    return e.event === 'escalated'
      ? `${at} escalated ${e.clock} ${e.step} to=${e.to.join('+')} cc=${e.cc.join('+')}`
      : `${at} ${e.event} ${'clock' in e ? e.clock : ''}`;
  });
}

describe('the ladder over a replayed timeline (opt-in; replay output itself unchanged)', () => {
  it('a 重大 incident graded with its unit and never answered: notice, warnings, 催办 hourly, leaders 4 h after', () => {
    const out = run([
      { type: 'signal', at: '2026-03-02T08:00:00+08:00', incident: 'A', source: 'feed' },
      { type: 'grade', at: '2026-03-02T08:10:00+08:00', incident: 'A', level: 'II', unit: 'water' },
      { type: 'end', at: '2026-03-02T17:00:00+08:00' },
    ]);
    const release = out.filter((l) => l.includes(' release') || l.includes('cancelled'));
    expect(release).toEqual([
      '08:10 cancelled response',
      '08:10 started release',
      '08:10 escalated release notice#0 to=unit cc=',
      '10:30 warning release',
      '10:30 escalated release warning#0 to=unit cc=duty',
      '12:00 warning release',
      '12:00 escalated release warning#1 to=unit cc=duty',
      '13:00 breached release',
      '13:00 escalated release urge#0 to=unit cc=supervisor+duty',
      '14:00 escalated release urge#1 to=unit cc=supervisor+duty',
      '15:00 escalated release urge#2 to=unit cc=supervisor+duty',
      '16:00 escalated release urge#3 to=unit cc=supervisor+duty',
      '17:00 escalated release urge#4 to=unit cc=supervisor+duty',
      '17:00 escalated release leaders#0 to=leaders cc=supervisor',
    ]);
    // The replay events themselves are exactly replay's, in the same order.
    expect(out.filter((l) => !l.includes('escalated'))).toEqual(
      run([
        { type: 'signal', at: '2026-03-02T08:00:00+08:00', incident: 'A', source: 'feed' },
        { type: 'grade', at: '2026-03-02T08:10:00+08:00', incident: 'A', level: 'II', unit: 'water' },
        { type: 'end', at: '2026-03-02T17:00:00+08:00' },
      ]).filter((l) => !l.includes('escalated')),
    );
  });

  it('a response after the breach stops the ladder (no leaders step); an unassigned incident gets no notice', () => {
    const out = run([
      { type: 'signal', at: '2026-03-02T08:00:00+08:00', incident: 'B', source: 'feed' },
      { type: 'grade', at: '2026-03-02T08:00:00+08:00', incident: 'B', level: 'I' },
      { type: 'response', at: '2026-03-02T14:30:00+08:00', incident: 'B', kind: 'release', original: true },
      { type: 'end', at: '2026-03-03T12:00:00+08:00' },
    ]);
    const esc = out.filter((l) => l.includes('escalated release'));
    expect(esc).toEqual([
      '10:30 escalated release warning#0 to=unit cc=duty',
      '12:00 escalated release warning#1 to=unit cc=duty',
      '13:00 escalated release urge#0 to=unit cc=supervisor+duty',
      '14:00 escalated release urge#1 to=unit cc=supervisor+duty',
    ]);
    expect(out.some((l) => l.includes('notice'))).toBe(false);
  });

  it('a working-day duty: urged at its due, leaders 12 h later; a pack may change the ladder', () => {
    const lines = [
      { type: 'obligation', at: '2026-03-02T09:00:00+08:00', id: 'D', kind: 'service_change', issuedAt: '2026-03-02T09:00:00+08:00' },
      { type: 'end', at: '2026-03-04T13:00:00+08:00' },
    ];
    const out = run(lines);
    const esc = out.filter((l) => l.includes('escalated'));
    // 1 working day from Monday 09:00: due at the end of Tuesday; warnings where replay warns.
    expect(out.filter((l) => l.includes(' warning ')).map((l) => l.slice(0, 5))).toEqual(['04:30', '16:12']);
    expect(esc.map((l) => l.split(' ').slice(0, 4).join(' '))).toEqual([
      '09:00 escalated service_change notice#0',
      '04:30 escalated service_change warning#0',
      '16:12 escalated service_change warning#1',
      '00:00 escalated service_change urge#0',
      '12:00 escalated service_change leaders#0',
    ]);
    const tuned = parseRulePack({ ladder: { clocks: { service_change: { leadersAfterHours: 2 } } } });
    expect(run(lines, tuned).filter((l) => l.includes('leaders#0'))).toEqual([
      '02:00 escalated service_change leaders#0 to=leaders cc=supervisor',
    ]);
  });
});
