import { describe, expect, it } from 'vitest';
import type { Obligation } from '../console/src/api/types.ts';
import { DutyStore } from '../console/src/logic/duty-store.ts';

const NOW = Date.parse('2025-09-30T02:00:00.000Z');

const duty = (id: string, over: Partial<Obligation> = {}): Obligation => ({
  id,
  kind: 'disclosure_request',
  title: null,
  unit: null,
  state: 'running',
  issuedAt: '2025-09-30T02:00:00.000Z',
  dueDate: '2025-11-05',
  dueAt: '2025-11-05T16:00:00.000Z',
  provisional: false,
  extended: false,
  suspended: null,
  respondedAt: null,
  late: null,
  ...over,
});

describe('DutyStore', () => {
  it('a snapshot replaces the list', () => {
    const s = new DutyStore();
    expect(s.loaded).toBe(false);
    const t = s.beginRefresh();
    expect(s.completeRefresh(t, [duty('a'), duty('b')])).toBe(true);
    expect(s.loaded).toBe(true);
    const t2 = s.beginRefresh();
    s.completeRefresh(t2, [duty('b')]);
    expect(s.arranged(NOW).map((d) => d.id)).toEqual(['b']);
  });

  it("an action's answer during a re-read survives the older snapshot", () => {
    const s = new DutyStore();
    s.completeRefresh(s.beginRefresh(), [duty('a')]);
    const t = s.beginRefresh();
    s.apply(duty('a', { extended: true }));
    s.completeRefresh(t, [duty('a')]);
    expect(s.get('a')?.extended).toBe(true);
  });

  it('an older re-read does not overwrite a newer one; a failed one stops buffering', () => {
    const s = new DutyStore();
    const older = s.beginRefresh();
    const newer = s.beginRefresh();
    expect(s.completeRefresh(newer, [duty('new')])).toBe(true);
    expect(s.completeRefresh(older, [duty('old')])).toBe(false);
    expect(s.arranged(NOW).map((d) => d.id)).toEqual(['new']);

    const failed = s.beginRefresh();
    s.abortRefresh(failed);
    s.apply(duty('x'));
    expect(s.completeRefresh(failed, [])).toBe(false);
    expect(s.get('x')).toBeDefined();
  });

  it('says how many duties the server holds beyond the page it sent, instead of dropping them silently', () => {
    const s = new DutyStore();
    s.completeRefresh(s.beginRefresh(), [duty('a'), duty('b')], 502);
    expect(s.total).toBe(502);
    expect(s.notShown).toBe(500);
    // An action's answer for a duty beyond the page joins the list: one fewer not shown.
    s.apply(duty('z'));
    expect(s.notShown).toBe(499);
    // The whole list on one page: nothing beyond it.
    s.completeRefresh(s.beginRefresh(), [duty('a'), duty('b')], 2);
    expect(s.notShown).toBe(0);
    expect(s.total).toBe(2);
    // A snapshot without a total (an older server) counts what it holds.
    s.completeRefresh(s.beginRefresh(), [duty('a')]);
    expect(s.notShown).toBe(0);
  });
});
