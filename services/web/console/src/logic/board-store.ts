/**
 * What the board knows: open incidents and open alerts, fed by list snapshots and by the
 * event stream. No DOM, so the merge rules are unit-tested.
 *
 * Why the buffer: on (re)connect the board re-fetches both lists while the stream is
 * already delivering. A stream event can arrive before a snapshot that was taken earlier
 * than it; replacing the lists with that snapshot would drop the event. So events seen
 * while a resync is in flight are replayed over the snapshot.
 */
import type { Alert, Incident } from '../api/types.ts';
import { compareAlerts, compareIncidents } from './logic.ts';

type StreamItem = { type: 'incident'; incident: Incident } | { type: 'alert'; alert: Alert };

export class BoardStore {
  private readonly incidents = new Map<string, Incident>();
  private readonly alerts = new Map<string, Alert>();
  /** Alerts known to be acknowledged; a stale snapshot or event must not bring them back. */
  private readonly acknowledged = new Set<string>();
  private pending: StreamItem[] | null = null;
  private generation = 0;

  /** Upserts an incident from the stream; a closed one leaves the board. */
  applyIncident(incident: Incident): void {
    this.pending?.push({ type: 'incident', incident });
    this.putIncident(incident);
  }

  /** Upserts an alert from the stream; an acknowledged one leaves the open list. */
  applyAlert(alert: Alert): void {
    this.pending?.push({ type: 'alert', alert });
    this.putAlert(alert);
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
    return this.generation;
  }

  /** Replaces both lists with snapshots; false (and no change) if a newer resync began. */
  completeResync(token: number, incidents: readonly Incident[], alerts: readonly Alert[]): boolean {
    if (token !== this.generation || this.pending === null) return false;
    const replay = this.pending;
    this.pending = null;
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
    if (token === this.generation) this.pending = null;
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
    if (incident.status === 'closed') this.incidents.delete(incident.id);
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
