import { describe, expect, it } from 'vitest';
import type { Alert, Incident } from '../console/src/api/types.ts';
import { BoardStore } from '../console/src/logic/board-store.ts';

const incident = (id: string, updatedAt: string, over: Partial<Incident> = {}): Incident => ({
  id,
  title: id,
  level: null,
  unit: null,
  status: 'open',
  startAt: '2024-05-01T00:00:00.000Z',
  clocks: [],
  updatedAt,
  ...over,
});

const alert = (id: string, at: string, over: Partial<Alert> = {}): Alert => ({
  id,
  incidentId: 'i1',
  incidentTitle: 't',
  kind: 'warning',
  clock: 'response',
  dueAt: '2024-05-03T00:00:00.000Z',
  elapsed: 0.5,
  at,
  acknowledgedAt: null,
  acknowledgedBy: null,
  ...over,
});

describe('BoardStore under a server-side filter', () => {
  const level = (l: 'I' | 'III') => ({ level: l });
  const isLevelI = (i: Incident) => i.level === 'I';

  it('narrows at once, and a stream event outside the filter does not join the board while one inside does', () => {
    const s = new BoardStore();
    s.completeResync(
      s.beginResync(),
      [incident('a', '2024-05-01T01:00:00Z', level('I')), incident('b', '2024-05-01T01:00:00Z', level('III'))],
      [],
    );
    s.setFilter(isLevelI);
    expect(s.sortedIncidents().map((i) => i.id)).toEqual(['a']);
    s.applyIncident(incident('c', '2024-05-01T02:00:00Z', level('III')));
    expect(s.sortedIncidents().map((i) => i.id)).toEqual(['a']);
    s.applyIncident(incident('d', '2024-05-01T02:00:00Z', level('I')));
    expect(
      s
        .sortedIncidents()
        .map((i) => i.id)
        .sort(),
    ).toEqual(['a', 'd']);
    // Re-graded out of the filter: it leaves; graded into it: it joins.
    s.applyIncident(incident('a', '2024-05-01T03:00:00Z', level('III')));
    s.applyIncident(incident('b', '2024-05-01T03:00:00Z', level('I')));
    expect(
      s
        .sortedIncidents()
        .map((i) => i.id)
        .sort(),
    ).toEqual(['b', 'd']);
  });

  it('a replayed event from before the filter changed does not bring an incident outside it back', () => {
    let now = 0;
    const s = new BoardStore({ now: () => now });
    s.applyIncident(incident('x', '2024-05-01T01:00:00Z', level('III')));
    now = 1_000;
    s.setFilter(isLevelI);
    const token = s.beginResync();
    s.applyIncident(incident('y', '2024-05-01T02:00:00Z', level('III')));
    expect(s.completeResync(token, [incident('z', '2024-05-01T01:00:00Z', level('I'))], [])).toBe(true);
    expect(s.sortedIncidents().map((i) => i.id)).toEqual(['z']);
  });
});

describe('BoardStore', () => {
  it('lists open alerts newest first and drops acknowledged ones', () => {
    const s = new BoardStore();
    s.applyAlert(alert('a1', '2024-05-01T01:00:00Z'));
    s.applyAlert(alert('a2', '2024-05-01T02:00:00Z'));
    expect(s.openAlerts().map((a) => a.id)).toEqual(['a2', 'a1']);
    s.applyAlert(alert('a2', '2024-05-01T02:00:00Z', { acknowledgedAt: '2024-05-01T03:00:00Z', acknowledgedBy: 'x' }));
    expect(s.openAlerts().map((a) => a.id)).toEqual(['a1']);
    s.markAcknowledged('a1');
    s.applyAlert(alert('a1', '2024-05-01T01:00:00Z'));
    expect(s.openAlerts()).toEqual([]);
  });

  it('an alert withdrawn here (an administrator retried its notification) shows again when raised again', () => {
    const s = new BoardStore();
    const failed = { kind: 'delivery_failed' as const, clock: null, dueAt: null, elapsed: null };
    s.applyAlert(alert('delivery_failed:n1', '2024-05-01T01:00:00Z', failed));
    s.markWithdrawn('delivery_failed:n1');
    expect(s.openAlerts()).toEqual([]);
    s.applyAlert(alert('delivery_failed:n1', '2024-05-01T04:00:00Z', failed));
    expect(s.openAlerts().map((a) => a.id)).toEqual(['delivery_failed:n1']);
  });

  it('drops a withdrawn alert, and shows it again when it is raised again', () => {
    const s = new BoardStore();
    const feed = { incidentId: null, incidentTitle: '本地新闻网', kind: 'feed_failing' as const, clock: null, dueAt: null, elapsed: null };
    s.applyAlert(alert('feed_failing:f1', '2024-05-01T01:00:00Z', feed));
    expect(s.openAlerts().map((a) => a.id)).toEqual(['feed_failing:f1']);
    s.applyAlert({ ...alert('feed_failing:f1', '2024-05-01T01:00:00Z', feed), retractedAt: '2024-05-01T02:00:00Z' } as Alert);
    expect(s.openAlerts()).toEqual([]);
    s.applyAlert(alert('feed_failing:f1', '2024-05-01T05:00:00Z', feed));
    expect(s.openAlerts().map((a) => a.id)).toEqual(['feed_failing:f1']);
  });

  it('ignores an older version of an incident and removes a closed one', () => {
    const s = new BoardStore();
    s.applyIncident(incident('i1', '2024-05-01T02:00:00Z', { title: 'new' }));
    s.applyIncident(incident('i1', '2024-05-01T01:00:00Z', { title: 'old' }));
    expect(s.getIncident('i1')?.title).toBe('new');
    s.applyIncident(incident('i1', '2024-05-01T03:00:00Z', { status: 'closed' }));
    expect(s.sortedIncidents()).toEqual([]);
  });

  it('replays stream events that arrived during a resync over the snapshot', () => {
    const s = new BoardStore();
    const token = s.beginResync();
    s.applyAlert(alert('fresh', '2024-05-01T05:00:00Z'));
    s.applyIncident(incident('i2', '2024-05-01T05:00:00Z', { status: 'closed' }));
    const ok = s.completeResync(
      token,
      [incident('i1', '2024-05-01T04:00:00Z'), incident('i2', '2024-05-01T04:00:00Z')],
      [alert('old', '2024-05-01T04:00:00Z')],
    );
    expect(ok).toBe(true);
    expect(s.sortedIncidents().map((i) => i.id)).toEqual(['i1']);
    expect(s.openAlerts().map((a) => a.id)).toEqual(['fresh', 'old']);
  });

  it('drops alerts acknowledged elsewhere while disconnected', () => {
    const s = new BoardStore();
    s.applyAlert(alert('gone', '2024-05-01T01:00:00Z'));
    const token = s.beginResync();
    expect(s.completeResync(token, [], [])).toBe(true);
    expect(s.openAlerts()).toEqual([]);
  });

  it('a superseded resync changes nothing', () => {
    const s = new BoardStore();
    const first = s.beginResync();
    const second = s.beginResync();
    expect(s.completeResync(first, [incident('stale', '2024-05-01T00:00:00Z')], [])).toBe(false);
    expect(s.sortedIncidents()).toEqual([]);
    expect(s.completeResync(second, [incident('i1', '2024-05-01T00:00:00Z')], [])).toBe(true);
    expect(s.sortedIncidents().map((i) => i.id)).toEqual(['i1']);
  });

  it('replays the stream of the last seconds over a snapshot the server answered from a page older than it', () => {
    const clock = { t: 0 };
    const s = new BoardStore({ now: () => clock.t, replayMs: 5_000 });
    const before = incident('i1', '2024-05-01T01:00:00Z', { title: 'before' });
    s.applyIncident(incident('i1', '2024-05-01T02:00:00Z', { title: 'answered' }));
    clock.t = 800;
    // The periodic resync, begun after the events, gets a page from before them (≤ 1 s stale).
    const token = s.beginResync();
    expect(s.completeResync(token, [before], [])).toBe(true);
    expect(s.getIncident('i1')?.title).toBe('answered');
    // A fresh snapshot with a newer version still wins over a replayed older event.
    const t2 = s.beginResync();
    s.completeResync(t2, [incident('i1', '2024-05-01T03:00:00Z', { title: 'newer' })], []);
    expect(s.getIncident('i1')?.title).toBe('newer');
    // Events older than the window are the snapshot's business alone.
    clock.t = 10_000;
    const t3 = s.beginResync();
    s.completeResync(t3, [before], []);
    expect(s.getIncident('i1')?.title).toBe('before');
  });
});
