/**
 * What the board knows: open incidents and open alerts, fed by list snapshots and by the
 * event stream. No DOM, so the merge rules are unit-tested.
 *
 * Why the buffer: on (re)connect the board re-fetches both lists while the stream is
 * already delivering. A stream event can arrive before a snapshot that was taken earlier
 * than it; replacing the lists with that snapshot would drop the event. So events seen
 * while a resync is in flight are replayed over the snapshot.
 *
 * And why the recent events: the server may answer a list with a page up to a second older than
 * a change it has already pushed over the stream (it rebuilds a changed page off the request
 * path, services/api/src/list-cache.ts). So the incident events of the last `replayMs` before a
 * resync began are replayed over its snapshot too (an incident's older version never replaces a
 * newer). Not alerts: their list is read afresh, and one missing from it was acknowledged elsewhere.
 */
import type { Alert, Incident } from '../api/types.ts';
import { compareAlerts, compareIncidents } from './logic.ts';

type StreamItem = { type: 'incident'; incident: Incident } | { type: 'alert'; alert: Alert };

/** Longer than the server's staleness bound (1 s) plus a list request's time. */
const REPLAY_MS = 5_000;

export class BoardStore {
  private readonly incidents = new Map<string, Incident>();
  private readonly alerts = new Map<string, Alert>();
  /** Alerts known to be acknowledged; a stale snapshot or event must not bring them back. */
  private readonly acknowledged = new Set<string>();
  private pending: StreamItem[] | null = null;
  /** Incident events of the last `replayMs`, oldest first, with when they arrived. */
  private recent: { at: number; item: StreamItem }[] = [];
  /** Those that arrived before the resync in flight began (the rest are in `pending`). */
  private recentBeforeResync: StreamItem[] = [];
  private generation = 0;
  /** The board's server-side filter (filters.ts matchesQueries): what the lists were asked for. */
  private accepts: (incident: Incident) => boolean = () => true;

  constructor(private readonly o: { now?: () => number; replayMs?: number } = {}) {}

  /**
   * Narrows the board to the incidents a filtered list asks for: those held now that fall
   * outside leave at once, and no stream event or replay brings one back. The caller resyncs
   * to load those inside that the board did not hold.
   */
  setFilter(accepts: (incident: Incident) => boolean): void {
    this.accepts = accepts;
    for (const [id, incident] of this.incidents) if (!accepts(incident)) this.incidents.delete(id);
  }

  /** Upserts an incident from the stream; a closed one, or one outside the filter, leaves the board. */
  applyIncident(incident: Incident): void {
    const item: StreamItem = { type: 'incident', incident };
    this.pending?.push(item);
    this.remember(item);
    this.putIncident(incident);
  }

  /** Upserts an alert from the stream; an acknowledged one leaves the open list. */
  applyAlert(alert: Alert): void {
    this.pending?.push({ type: 'alert', alert });
    this.putAlert(alert);
  }

  private remember(item: StreamItem): void {
    const at = this.now();
    this.forgetBefore(at);
    this.recent.push({ at, item });
  }

  private forgetBefore(at: number): void {
    const horizon = at - (this.o.replayMs ?? REPLAY_MS);
    let drop = 0;
    while (drop < this.recent.length && this.recent[drop]!.at < horizon) drop++;
    if (drop > 0) this.recent = this.recent.slice(drop);
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  markAcknowledged(alertId: string): void {
    this.acknowledged.add(alertId);
    this.alerts.delete(alertId);
  }

  /** Withdrawn (retracted): gone from the open list, but shown again if the server raises it anew. */
  markWithdrawn(alertId: string): void {
    this.alerts.delete(alertId);
  }

  /** Starts a resync; pass the returned token to `completeResync`. */
  beginResync(): number {
    this.generation += 1;
    this.pending = [];
    this.forgetBefore(this.now());
    this.recentBeforeResync = this.recent.map((r) => r.item);
    return this.generation;
  }

  /** Replaces both lists with snapshots; false (and no change) if a newer resync began. */
  completeResync(token: number, incidents: readonly Incident[], alerts: readonly Alert[]): boolean {
    if (token !== this.generation || this.pending === null) return false;
    const replay = [...this.recentBeforeResync, ...this.pending];
    this.pending = null;
    this.recentBeforeResync = [];
    this.incidents.clear();
    this.alerts.clear();
    for (const i of incidents) this.putIncident(i);
    for (const a of alerts) this.putAlert(a);
    for (const item of replay) {
      if (item.type === 'incident') this.putIncident(item.incident);
      else this.putAlert(item.alert);
    }
    return true;
  }

  /** A failed resync: keep what the stream delivered, stop buffering. */
  abortResync(token: number): void {
    if (token === this.generation) {
      this.pending = null;
      this.recentBeforeResync = [];
    }
  }

  /** Open incidents, nearest pending due first. */
  sortedIncidents(): Incident[] {
    return [...this.incidents.values()].sort(compareIncidents);
  }

  /** Open (unacknowledged) alerts, newest first. */
  openAlerts(): Alert[] {
    return [...this.alerts.values()].sort(compareAlerts);
  }

  getIncident(id: string): Incident | undefined {
    return this.incidents.get(id);
  }

  private putIncident(incident: Incident): void {
    const known = this.incidents.get(incident.id);
    if (known !== undefined && Date.parse(known.updatedAt) > Date.parse(incident.updatedAt)) return;
    // Closed, or changed so that it no longer matches the filter (re-graded, reassigned): it leaves.
    if (incident.status === 'closed' || !this.accepts(incident)) this.incidents.delete(incident.id);
    else this.incidents.set(incident.id, incident);
  }

  private putAlert(alert: Alert): void {
    // Withdrawn (a failing feed recovered, a silent channel posted): gone, but may be raised again.
    if ((alert as Alert & { retractedAt?: string | null }).retractedAt) {
      this.alerts.delete(alert.id);
      return;
    }
    if (alert.acknowledgedAt !== null) this.acknowledged.add(alert.id);
    if (this.acknowledged.has(alert.id)) this.alerts.delete(alert.id);
    else this.alerts.set(alert.id, alert);
  }
}
