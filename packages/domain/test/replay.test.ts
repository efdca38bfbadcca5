import { describe, expect, it } from 'vitest';
import { chinaCalendar } from '../src/calendar-cn.ts';
import { EventEncoder } from '../src/event-encoder.ts';
import { formatEvent, parseTimeline, ReplayError, runReplay, type TimelineEntry } from '../src/replay.ts';
import { DEFAULT_RULE_PACK } from '../src/rule-pack.ts';
import type { EngineEvent } from '../src/types.ts';
import { calendar, replay, replayText, T, timeline } from './helpers.ts';

const sig = '{"type":"signal","at":"2026-03-02T08:00:00+08:00","incident":"A","source":"feed"}';

describe('parseTimeline: malformed lines', () => {
  it.each([
    ['bad JSON', `${sig}\n{"type":"grade",`, 2, /^bad JSON: /],
    ['not an object', `${sig}\n[1,2]`, 2, /^expected a JSON object, got \[1,2\]/],
    ['missing type', `${sig}\n{"at":"2026-03-02T08:00:00+08:00"}`, 2, /^missing field "type"$/],
    ['unknown type', `${sig}\n{"type":"escalate","at":"2026-03-02T08:00:00+08:00"}`, 2, /^unknown type "escalate"/],
    ['missing at', '{"type":"signal","incident":"A","source":"feed"}', 1, /^missing field "at"$/],
    [
      'at without offset',
      '{"type":"signal","at":"2026-03-02T08:00:00","incident":"A","source":"feed"}',
      1,
      /^invalid field "at": expected an ISO-8601 instant with offset/,
    ],
    ['at as epoch number', '{"type":"signal","at":1772409600000,"incident":"A","source":"feed"}', 1, /^invalid field "at"/],
    ['missing incident', '{"type":"signal","at":"2026-03-02T08:00:00+08:00","source":"feed"}', 1, /^missing field "incident"$/],
    ['empty incident', '{"type":"signal","at":"2026-03-02T08:00:00+08:00","incident":"","source":"feed"}', 1, /^invalid field "incident"/],
    [
      'unknown source',
      '{"type":"signal","at":"2026-03-02T08:00:00+08:00","incident":"A","source":"weibo"}',
      1,
      /^invalid field "source": expected one of feed, hotline, manual, got "weibo"$/,
    ],
    [
      'bad publishedAt',
      '{"type":"signal","at":"2026-03-02T08:00:00+08:00","incident":"A","source":"feed","publishedAt":"yesterday"}',
      1,
      /^invalid field "publishedAt"/,
    ],
    [
      'title not a string',
      '{"type":"signal","at":"2026-03-02T08:00:00+08:00","incident":"A","source":"feed","title":5}',
      1,
      /^invalid field "title"/,
    ],
    ['level V', `${sig}\n{"type":"grade","at":"2026-03-02T09:00:00+08:00","incident":"A","level":"V"}`, 2, /^invalid field "level"/],
    [
      'original missing',
      `${sig}\n{"type":"response","at":"2026-03-02T09:00:00+08:00","incident":"A","kind":"reply"}`,
      2,
      /^missing field "original"$/,
    ],
    [
      'original as string',
      `${sig}\n{"type":"response","at":"2026-03-02T09:00:00+08:00","incident":"A","kind":"reply","original":"true"}`,
      2,
      /^invalid field "original"/,
    ],
    [
      'unknown response kind',
      `${sig}\n{"type":"response","at":"2026-03-02T09:00:00+08:00","incident":"A","kind":"weibo_post","original":true}`,
      2,
      /^invalid field "kind"/,
    ],
    [
      'occurred without occurredAt',
      `${sig}\n{"type":"occurred","at":"2026-03-02T09:00:00+08:00","incident":"A"}`,
      2,
      /^missing field "occurredAt"$/,
    ],
    ['dismiss without reason', `${sig}\n{"type":"dismiss","at":"2026-03-02T09:00:00+08:00","incident":"A"}`, 2, /^missing field "reason"$/],
    [
      'unknown obligation kind',
      '{"type":"obligation","at":"2026-03-02T09:00:00+08:00","id":"o","kind":"tax","issuedAt":"2026-03-02T09:00:00+08:00"}',
      1,
      /^invalid field "kind"/,
    ],
    [
      'an incident that never had a signal',
      `${sig}\n{"type":"grade","at":"2026-03-02T09:00:00+08:00","incident":"B","level":"I"}`,
      2,
      /^unknown incident "B": no signal for it before this line/,
    ],
    [
      'reference earlier in time than the signal (processing order, not file order)',
      `{"type":"signal","at":"2026-03-02T10:00:00+08:00","incident":"A","source":"feed"}\n{"type":"grade","at":"2026-03-02T09:00:00+08:00","incident":"A","level":"I"}`,
      2,
      /^unknown incident "A"/,
    ],
    [
      'a tie where the reference comes first in the file',
      `{"type":"assign","at":"2026-03-02T08:00:00+08:00","incident":"A","unit":"u"}\n${sig}`,
      1,
      /^unknown incident "A"/,
    ],
    ['fulfil of an unknown obligation', '{"type":"fulfil","at":"2026-03-02T09:00:00+08:00","id":"o"}', 1, /^unknown obligation "o"/],
    [
      'duplicate obligation id',
      '{"type":"obligation","at":"2026-03-02T09:00:00+08:00","id":"o","kind":"service_change","issuedAt":"2026-03-02T09:00:00+08:00"}\n\n{"type":"obligation","at":"2026-03-03T09:00:00+08:00","id":"o","kind":"service_change","issuedAt":"2026-03-03T09:00:00+08:00"}',
      3,
      /^duplicate obligation id "o" \(first at line 1\)$/,
    ],
    ['a malformed line before end', `${sig}\nnot json\n{"type":"end","at":"2026-03-03T00:00:00+08:00"}`, 2, /^bad JSON/],
    ['end without at', `${sig}\n{"type":"end"}`, 2, /^missing field "at"$/],
  ])('%s → line %i', (_, text, line, message) => {
    const r = parseTimeline(text);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.line).toBe(line);
    expect(r.message).toMatch(message);
  });

  it('skips blank lines (including a trailing newline and CRLF) but counts them', () => {
    const r = parseTimeline(`\r\n${sig}\r\n\r\n   \n{"type":"grade","at":"2026-03-02T09:00:00+08:00","incident":"A","level":"II"}\n`);
    expect(r.ok && r.inputs.map((e) => e.line)).toEqual([2, 5]);
  });

  it('accepts null for optional fields and ignores unknown fields', () => {
    const r = parseTimeline(
      '{"type":"signal","at":"2026-03-02T08:00:00+08:00","incident":"A","source":"feed","publishedAt":null,"title":null,"extra":1}',
    );
    expect(r.ok && r.inputs[0]!.input).toEqual({ type: 'signal', at: T('2026-03-02 08:00'), incident: 'A', source: 'feed' });
  });
});

describe('parseTimeline: order and horizon', () => {
  it('sorts by at, ties in file order, whatever the offsets', () => {
    const r = parseTimeline(
      [
        '{"type":"signal","at":"2026-03-02T10:00:00+08:00","incident":"B","source":"feed"}',
        sig,
        '{"type":"grade","at":"2026-03-02T00:00:00Z","incident":"A","level":"I"}',
        '{"type":"assign","at":"2026-03-01T19:00:00-05:00","incident":"A","unit":"u"}',
      ].join('\n'),
    );
    expect(r.ok && r.inputs.map((e) => e.line)).toEqual([2, 3, 4, 1]);
    expect(r.ok && r.horizon).toBe(T('2026-03-02 10:00'));
  });

  it('reads nothing after end; inputs after its at are dropped; its at is the horizon', () => {
    const r = parseTimeline(
      [
        sig,
        '{"type":"grade","at":"2026-03-05T09:00:00+08:00","incident":"nobody","level":"I"}', // after the horizon: not applied, not checked
        '{"type":"end","at":"2026-03-03T00:00:00+08:00"}',
        'garbage after end is never read',
        '{"type":"assign","at":"2026-03-02T09:00:00+08:00","incident":"A","unit":"u"}', // earlier at, but after end in the file
      ].join('\n'),
    );
    expect(r).toMatchObject({ ok: true, inputs: [{ line: 1, input: { type: 'signal' } }], horizon: T('2026-03-03 00:00') });
    expect(r.ok && r.inputs).toHaveLength(1);
  });

  it('an empty timeline has no horizon and no output', () => {
    expect(parseTimeline('')).toEqual({ ok: true, inputs: [], horizon: null });
    expect(replayText('\n\n')).toBe('');
  });
});

describe('runReplay ordering', () => {
  it('inputs at an instant come before timers due at that instant; end includes what is due at it', () => {
    const events = replay([
      { type: 'signal', at: '2026-03-02 08:00', incident: 'A', source: 'feed' },
      { type: 'signal', at: '2026-03-02 08:00', incident: 'B', source: 'feed' },
      { type: 'response', at: '2026-03-04 08:00', incident: 'A', kind: 'reply', original: true },
      { type: 'end', at: '2026-03-04 08:00' },
    ]);
    expect(events.slice(-2)).toEqual([
      {
        event: 'met',
        at: T('2026-03-04 08:00'),
        incident: 'A',
        clock: 'response',
        due: T('2026-03-04 08:00'),
        respondedAt: T('2026-03-04 08:00'),
        late: false,
      },
      { event: 'breached', at: T('2026-03-04 08:00'), incident: 'B', clock: 'response', due: T('2026-03-04 08:00') },
    ]);
  });

  it('without end, the horizon is the last at: a due one ms later is not reported', () => {
    const events = replay([
      { type: 'signal', at: '2026-03-02 08:00', incident: 'A', source: 'feed' },
      { type: 'assign', at: '2026-03-04 07:59:59.999', incident: 'A', unit: 'u' },
    ]);
    expect(events.map((e) => e.event)).toEqual(['started', 'warning', 'warning']);
  });

  it('timers of several incidents at one instant come in global clock creation order', () => {
    const events = replay([
      { type: 'signal', at: '2026-03-02 08:00', incident: 'M1', source: 'feed' },
      { type: 'signal', at: '2026-03-02 08:00', incident: 'M2', source: 'feed' },
      { type: 'grade', at: '2026-03-02 08:10', incident: 'M2', level: 'I' }, // M2's release is created before M1's
      { type: 'grade', at: '2026-03-02 08:20', incident: 'M1', level: 'I' },
      { type: 'end', at: '2026-03-02 10:30' },
    ]);
    expect(events.filter((e) => e.at === T('2026-03-02 10:30')).map((e) => 'incident' in e && e.incident)).toEqual(['M2', 'M1']);
  });

  it('then obligations, by id', () => {
    const events = replay([
      { type: 'obligation', at: '2026-03-02 08:00', id: 'zz', kind: 'service_change', issuedAt: '2026-03-02 08:00' },
      { type: 'signal', at: '2026-03-02 08:00', incident: 'Z', source: 'feed', publishedAt: '2026-03-02 00:00' },
      { type: 'obligation', at: '2026-03-02 08:00', id: 'aa', kind: 'service_change', issuedAt: '2026-03-02 08:00' },
      { type: 'end', at: '2026-03-04 00:00' },
    ]);
    // All three are due 03-04 00:00.
    const due = events.filter((e) => e.at === T('2026-03-04 00:00'));
    expect(due.map((e) => [e.event, 'incident' in e ? e.incident : e.obligation])).toEqual([
      ['breached', 'Z'],
      ['breached', 'aa'],
      ['breached', 'zz'],
    ]);
  });

  it('sorts unsorted entries itself and reports domain errors with the line', () => {
    const inputs: TimelineEntry[] = [
      { line: 2, input: { type: 'grade', at: T('2026-03-02 09:00'), incident: 'A', level: 'I' } },
      { line: 1, input: { type: 'signal', at: T('2026-03-02 08:00'), incident: 'A', source: 'feed' } },
    ];
    expect(runReplay(inputs, { pack: DEFAULT_RULE_PACK, calendar })[0]).toMatchObject({ event: 'started', clock: 'response' });
    const bad: TimelineEntry[] = [{ line: 7, input: { type: 'fulfil', at: 1, id: 'o' } }];
    expect(() => runReplay(bad, { pack: DEFAULT_RULE_PACK, calendar })).toThrow(ReplayError);
  });

  it('a calendar year without data is a ReplayError naming the year and the line', () => {
    const parsed = parseTimeline(
      timeline([
        { type: 'signal', at: '2026-12-30 08:00', incident: 'A', source: 'feed' },
        { type: 'obligation', at: '2026-12-31 10:00', id: 'o', kind: 'service_change', issuedAt: '2026-12-31 10:00' },
      ]),
    );
    if (!parsed.ok) throw new Error('parse');
    let error: unknown;
    try {
      runReplay(parsed.inputs, { pack: DEFAULT_RULE_PACK, calendar: chinaCalendar() });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ReplayError);
    expect(error).toMatchObject({ line: 2, code: 'CALENDAR_YEAR_MISSING', message: 'calendar has no data for year 2027' });
  });
});

function encode(events: readonly EngineEvent[], chunkSize?: number): string {
  const parts: Uint8Array[] = [];
  const encoder = new EventEncoder((bytes) => parts.push(bytes.slice()), chunkSize);
  for (const e of events) encoder.push(e);
  encoder.flush();
  return Buffer.concat(parts).toString('utf8');
}

describe('formatEvent', () => {
  const at = T('2026-03-02 08:00');
  const due = T('2026-03-02 13:00');
  it.each<[EngineEvent, string]>([
    [
      { event: 'started', at, incident: 'A', clock: 'release', due },
      '{"event":"started","at":"2026-03-02T08:00:00.000+08:00","incident":"A","clock":"release","due":"2026-03-02T13:00:00.000+08:00"}',
    ],
    [
      { event: 'started', at, obligation: 'o', clock: 'service_change', due },
      '{"event":"started","at":"2026-03-02T08:00:00.000+08:00","obligation":"o","clock":"service_change","due":"2026-03-02T13:00:00.000+08:00"}',
    ],
    [
      { event: 'rescheduled', at, incident: 'A', clock: 'response', due },
      '{"event":"rescheduled","at":"2026-03-02T08:00:00.000+08:00","incident":"A","clock":"response","due":"2026-03-02T13:00:00.000+08:00"}',
    ],
    [
      { event: 'warning', at, incident: 'A', clock: 'release', due, elapsed: 0.8 },
      '{"event":"warning","at":"2026-03-02T08:00:00.000+08:00","incident":"A","clock":"release","due":"2026-03-02T13:00:00.000+08:00","elapsed":0.8}',
    ],
    [
      { event: 'met', at, incident: 'A', clock: 'release', due, respondedAt: at - 1, late: false },
      '{"event":"met","at":"2026-03-02T08:00:00.000+08:00","incident":"A","clock":"release","due":"2026-03-02T13:00:00.000+08:00","respondedAt":"2026-03-02T07:59:59.999+08:00","late":false}',
    ],
    [
      { event: 'breached', at, obligation: 'o', clock: 'proposal_reply', due },
      '{"event":"breached","at":"2026-03-02T08:00:00.000+08:00","obligation":"o","clock":"proposal_reply","due":"2026-03-02T13:00:00.000+08:00"}',
    ],
    [
      { event: 'breach_retracted', at, incident: 'A', clock: 'release', due },
      '{"event":"breach_retracted","at":"2026-03-02T08:00:00.000+08:00","incident":"A","clock":"release","due":"2026-03-02T13:00:00.000+08:00"}',
    ],
    [
      { event: 'cancelled', at, incident: 'A', clock: 'response', reason: 'superseded' },
      '{"event":"cancelled","at":"2026-03-02T08:00:00.000+08:00","incident":"A","clock":"response","reason":"superseded"}',
    ],
    [
      { event: 'waived', at, incident: 'A', clock: 'response', reason: '重复 "dup"' },
      '{"event":"waived","at":"2026-03-02T08:00:00.000+08:00","incident":"A","clock":"response","reason":"重复 \\"dup\\""}',
    ],
    [
      { event: 'nonqualifying_response', at, incident: 'A', kind: 'reply', reason: 'repost' },
      '{"event":"nonqualifying_response","at":"2026-03-02T08:00:00.000+08:00","incident":"A","kind":"reply","reason":"repost"}',
    ],
    [
      { event: 'extended', at, obligation: 'o', clock: 'disclosure_request', due },
      '{"event":"extended","at":"2026-03-02T08:00:00.000+08:00","obligation":"o","clock":"disclosure_request","due":"2026-03-02T13:00:00.000+08:00"}',
    ],
    [
      { event: 'extend_rejected', at, obligation: 'o', clock: 'service_change', reason: 'not_extendable' },
      '{"event":"extend_rejected","at":"2026-03-02T08:00:00.000+08:00","obligation":"o","clock":"service_change","reason":"not_extendable"}',
    ],
  ])('%j', (event, line) => {
    expect(formatEvent(event)).toBe(line);
    // Valid JSON whose key order is the table's.
    expect(JSON.stringify(JSON.parse(line))).toBe(line);
    expect(encode([event])).toBe(`${line}\n`);
  });

  it.each([
    ['non-ASCII', '不属于政务舆情'],
    ['quotes and backslashes', 'a "b" \\ c'],
    ['control characters', 'tab\tnewline\n\u0001'],
    ['a lone surrogate', '\ud800x'],
    ['an emoji', '舆情 🚨'],
  ])('EventEncoder writes the same bytes as formatEvent for %s', (_, text) => {
    const events: EngineEvent[] = [
      { event: 'waived', at, incident: text, clock: 'response', reason: text },
      { event: 'extend_rejected', at, obligation: text, clock: 'service_change', reason: text },
    ];
    expect(encode(events)).toBe(events.map((e) => formatEvent(e) + '\n').join(''));
  });

  it('EventEncoder spans chunk boundaries and lines longer than a chunk', () => {
    const events: EngineEvent[] = Array.from({ length: 50 }, (_, i) => ({
      event: 'started',
      at: at + i * 86_400_000,
      incident: 'x'.repeat(i * 7),
      clock: 'response',
      due,
    }));
    expect(encode(events, 64)).toBe(events.map((e) => formatEvent(e) + '\n').join(''));
  });
});
