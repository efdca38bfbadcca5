import { describe, expect, it } from 'vitest';
import type { Clock, Incident } from '../console/src/api/types.ts';
import {
  boardSummary,
  candidatePeriods,
  EMPTY_FILTER,
  filterFromQuery,
  filterIncidents,
  filterToQuery,
  formatMinutes,
  formatRate,
  homeOf,
  incidentUrgency,
  mayAct,
  matchesQueries,
  mayOpen,
  monthToDate,
  overdueMs,
  serverQueries,
} from '../console/src/logic/filters.ts';
import { compareIncidents } from '../console/src/logic/logic.ts';

const T0 = Date.parse('2026-06-01T10:00:00+08:00');
const H = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

function clock(kind: Clock['kind'], startMs: number, dueMs: number, state: Clock['state'] = 'running'): Clock {
  return { seq: 1, kind, state, startAt: iso(startMs), dueAt: iso(dueMs), respondedAt: null, late: null };
}

function incident(id: string, over: Partial<Incident> = {}): Incident {
  return {
    id,
    title: `事件 ${id}`,
    level: 'IV',
    unit: { id: 'housing', name: '市住房和城乡建设局' },
    status: 'open',
    startAt: iso(T0),
    clocks: [clock('response', T0, T0 + 48 * H)],
    updatedAt: iso(T0),
    ...over,
  };
}

describe('urgency on the board', () => {
  it.each([
    [T0 + 1 * H, 'calm'],
    [T0 + 24 * H, 'warn'],
    [T0 + 39 * H, 'danger'],
    [T0 + 48 * H - 1, 'danger'],
    [T0 + 48 * H, 'breached'],
  ])('a 48 h clock at %s is %s', (now, expected) => {
    expect(incidentUrgency(incident('a'), now)).toBe(expected);
  });

  it('takes the most urgent clock, and none counting is done', () => {
    const i = incident('a', { clocks: [clock('release', T0, T0 + 5 * H), clock('press_conference', T0, T0 + 24 * H, 'met')] });
    expect(incidentUrgency(i, T0 + 5 * H + 1)).toBe('breached');
    expect(incidentUrgency(incident('b', { clocks: [] }), T0)).toBe('done');
  });

  it('orders the longest overdue first, then the soonest due, and says how long overdue', () => {
    const now = T0 + 10 * H;
    const late2h = incident('late2h', { clocks: [clock('release', T0, T0 + 8 * H, 'breached')] });
    const late5h = incident('late5h', { clocks: [clock('release', T0, T0 + 5 * H, 'breached')] });
    const soon = incident('soon', { clocks: [clock('response', T0, T0 + 11 * H)] });
    const later = incident('later', { clocks: [clock('response', T0, T0 + 48 * H)] });
    const ungraded = incident('ungraded', { level: null, clocks: [] });
    const sorted = [ungraded, later, soon, late2h, late5h].sort(compareIncidents).map((i) => i.id);
    expect(sorted).toEqual(['late5h', 'late2h', 'soon', 'later', 'ungraded']);
    expect(overdueMs(late5h, now)).toBe(5 * H);
    expect(overdueMs(soon, now)).toBe(0);
    expect(boardSummary([late5h, late2h, soon, later, ungraded], now)).toEqual({ breached: 2, danger: 1, ungraded: 1 });
  });
});

describe('board filters', () => {
  const a = incident('a', { title: '老旧小区外墙脱落' });
  const b = incident('b', { title: '河道异味', level: null, unit: null, clocks: [] });
  const c = incident('c', {
    title: '学校食堂',
    level: 'I',
    unit: { id: 'edu', name: '市教育局' },
    clocks: [clock('release', T0, T0 + 5 * H)],
  });
  const all = [a, b, c];
  const ids = (xs: Incident[]) => xs.map((i) => i.id);

  it('with nothing set shows everything', () => {
    expect(ids(filterIncidents(all, EMPTY_FILTER, T0))).toEqual(['a', 'b', 'c']);
  });
  it("matches text in the title, the unit's name and the id (like the server), ignoring case and spaces around", () => {
    expect(ids(filterIncidents(all, { ...EMPTY_FILTER, text: ' 外墙 ' }, T0))).toEqual(['a']);
    // A duty officer types the unit's name in the search box, as the server's text search allows.
    expect(ids(filterIncidents(all, { ...EMPTY_FILTER, text: '教育局' }, T0))).toEqual(['c']);
    expect(ids(filterIncidents(all, { ...EMPTY_FILTER, text: 'B' }, T0))).toEqual(['b']);
  });
  it('filters by level, with 待研判 as its own choice', () => {
    expect(ids(filterIncidents(all, { ...EMPTY_FILTER, levels: ['ungraded', 'I'] }, T0))).toEqual(['b', 'c']);
  });
  it('filters by unit, with 未指派 as its own choice', () => {
    expect(ids(filterIncidents(all, { ...EMPTY_FILTER, unit: 'unassigned' }, T0))).toEqual(['b']);
    expect(ids(filterIncidents(all, { ...EMPTY_FILTER, unit: 'edu' }, T0))).toEqual(['c']);
  });
  it('filters by urgency at now', () => {
    expect(ids(filterIncidents(all, { ...EMPTY_FILTER, urgencies: ['danger'] }, T0 + 4.5 * H))).toEqual(['c']);
    expect(ids(filterIncidents(all, { ...EMPTY_FILTER, urgencies: ['breached'] }, T0 + 5 * H))).toEqual(['c']);
  });
});

describe('the board filter on the server (GET /api/incidents)', () => {
  it.each([
    [EMPTY_FILTER, [{}]],
    [{ ...EMPTY_FILTER, text: ' 外墙 ' }, [{ q: '外墙' }]],
    [{ ...EMPTY_FILTER, unit: 'edu' }, [{ unit: 'edu' }]],
    // 未指派 is a list parameter of its own; the time-relative urgencies have none: the page applies them.
    [{ ...EMPTY_FILTER, unit: 'unassigned' }, [{ unassigned: true }]],
    [{ ...EMPTY_FILTER, urgencies: ['danger'] }, [{}]],
    [{ ...EMPTY_FILTER, urgencies: ['breached'] }, [{ state: 'breached' }]],
    [{ ...EMPTY_FILTER, urgencies: ['breached', 'danger'] }, [{}]],
    // One level per query.
    [
      { ...EMPTY_FILTER, levels: ['I', 'ungraded'], unit: 'edu' },
      [
        { unit: 'edu', level: 'I' },
        { unit: 'edu', level: 'ungraded' },
      ],
    ],
  ] as const)('%o asks for %o', (f, queries) => {
    expect(serverQueries({ ...f, levels: [...f.levels], urgencies: [...f.urgencies] })).toEqual(queries);
  });

  it('keeps the filter in the address, dropping what it does not know', () => {
    const f = { text: '河道', levels: ['I', 'ungraded'], unit: 'environment', urgencies: ['breached'] } as const;
    const q = filterToQuery({ ...f, levels: [...f.levels], urgencies: [...f.urgencies] });
    expect(q).toEqual({ q: '河道', level: 'I,ungraded', unit: 'environment', urgency: 'breached' });
    expect(filterFromQuery(q)).toEqual(f);
    expect(filterToQuery(EMPTY_FILTER)).toEqual({});
    expect(filterFromQuery({})).toEqual(EMPTY_FILTER);
    expect(filterFromQuery({ level: 'V,II', urgency: ['soon', null], q: ['a', 'b'] })).toEqual({
      ...EMPTY_FILTER,
      text: 'a',
      levels: ['II'],
    });
  });

  it("matches an incident like the server's filter does (for the stream's events)", () => {
    const a = incident('inc_a', { title: '老旧小区外墙脱落', level: 'III' });
    const b = incident('inc_b', { title: '河道异味', level: null, unit: null, clocks: [clock('response', T0, T0 + H, 'breached')] });
    expect(matchesQueries(a, [{}])).toBe(true);
    expect(matchesQueries(a, [{ q: '外墙' }])).toBe(true);
    expect(matchesQueries(a, [{ q: 'inc_a' }])).toBe(true);
    expect(matchesQueries(a, [{ q: '河道' }])).toBe(false);
    expect(matchesQueries(a, [{ q: '住房' }])).toBe(true); // the unit's name
    expect(matchesQueries(b, [{ q: '住房' }])).toBe(false);
    expect(matchesQueries(b, [{ unassigned: true }])).toBe(true);
    expect(matchesQueries(a, [{ unassigned: true }])).toBe(false);
    expect(matchesQueries(a, [{ unit: 'housing' }])).toBe(true);
    expect(matchesQueries(b, [{ unit: 'housing' }])).toBe(false);
    expect(matchesQueries(a, [{ level: 'I' }, { level: 'III' }])).toBe(true);
    expect(matchesQueries(b, [{ level: 'I' }, { level: 'III' }])).toBe(false);
    expect(matchesQueries(b, [{ level: 'ungraded' }])).toBe(true);
    expect(matchesQueries(b, [{ state: 'breached' }])).toBe(true);
    expect(matchesQueries(a, [{ state: 'breached' }])).toBe(false);
  });
});

describe('roles', () => {
  it('each role lands on its own home and may open it', () => {
    for (const [role, page] of [
      ['duty', 'board'],
      ['unit', 'unit'],
      ['leader', 'stats'],
      ['admin', 'admin'],
    ] as const) {
      expect(homeOf(role)).toContain(page);
      expect(mayOpen(role, page)).toBe(true);
    }
  });
  it('a unit user sees neither the board nor statistics nor administration; a leader cannot act', () => {
    expect(mayOpen('unit', 'board')).toBe(false);
    expect(mayOpen('unit', 'stats')).toBe(false);
    expect(mayOpen('unit', 'admin')).toBe(false);
    expect(mayOpen('unit', 'feeds')).toBe(false);
    expect(mayOpen('leader', 'feeds')).toBe(true);
    expect(mayOpen('leader', 'candidates')).toBe(false);
    expect(mayOpen('duty', 'candidates')).toBe(true);
    expect(mayOpen('leader', 'board')).toBe(false);
    expect(mayOpen('leader', 'admin')).toBe(false);
    expect(mayAct('leader')).toBe(false);
    expect(mayAct('unit')).toBe(false);
    expect(mayAct('duty')).toBe(true);
    // The server lets only duty officers grade, assign, dismiss and acknowledge (403 for an administrator).
    expect(mayAct('admin')).toBe(false);
  });
});

describe('statistics formatting', () => {
  it.each([
    [0.9234, '92.3%'],
    [1, '100.0%'],
    [0, '0.0%'],
    [null, '—'],
  ])('rate %s → %s', (r, s) => expect(formatRate(r)).toBe(s));
  it.each([
    [0, '0分'],
    [59.6, '1小时'],
    [125, '2小时5分'],
    [1440, '1天'],
    [3000, '2天2小时'],
    [null, '—'],
  ])('%s minutes → %s', (m, s) => expect(formatMinutes(m)).toBe(s));
  it('the default period is this month to date, in Beijing days', () => {
    // 2026-06-30 23:30 in Beijing is still June there though UTC says 15:30.
    expect(monthToDate(Date.parse('2026-06-30T23:30:00+08:00'))).toEqual({ from: '2026-06-01', to: '2026-06-30' });
    expect(monthToDate(Date.parse('2026-07-01T00:10:00+08:00'))).toEqual({ from: '2026-07-01', to: '2026-07-01' });
  });
});

describe('candidatePeriods', () => {
  it('this quarter and three before it, then this month and two before it, across a year end', () => {
    expect(candidatePeriods(Date.parse('2027-02-10T01:00:00+08:00')).map((p) => p.key)).toEqual([
      '2027-Q1',
      '2026-Q4',
      '2026-Q3',
      '2026-Q2',
      '2027-02',
      '2027-01',
      '2026-12',
    ]);
    // 16:30 UTC on 31 December is 00:30 on 1 January in Beijing.
    expect(candidatePeriods(Date.parse('2026-12-31T16:30:00Z'))[0]).toEqual({ key: '2027-Q1', label: '2027年第一季度' });
  });
});
