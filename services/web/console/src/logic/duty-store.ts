/**
 * What the board knows about working-day duties (工作日时限事项). Unlike incidents, duties
 * have no stream event: the board re-reads GET /api/obligations (on connect, when a duty's
 * alert arrives, every minute) and applies the answers of its own actions in between.
 *
 * The same buffer as BoardStore: an action's answer that lands while a re-read is in
 * flight may be newer than that snapshot, so it is replayed over it.
 */
import type { Obligation } from '../api/types.ts';
import { arrangeDuties } from './logic.ts';

export class DutyStore {
  private readonly duties = new Map<string, Obligation>();
  private pending: Obligation[] | null = null;
  private generation = 0;
  private loadedOnce = false;
  /** How many duties the server holds for this user (the snapshot's `total`); the snapshot is its first page. */
  private serverTotal = 0;

  /** Upserts one duty (the answer to 办结, 延期, 暂停 or 恢复). */
  apply(duty: Obligation): void {
    this.pending?.push(duty);
    this.duties.set(duty.id, duty);
  }

  /** Starts a re-read; pass the returned token to `completeRefresh`. */
  beginRefresh(): number {
    this.generation += 1;
    this.pending = [];
    return this.generation;
  }

  /**
   * Replaces the list with a snapshot (the first page, open duties first, soonest due first) and the
   * server's total; false (and no change) if a newer re-read began.
   */
  completeRefresh(token: number, duties: readonly Obligation[], total = duties.length): boolean {
    if (token !== this.generation || this.pending === null) return false;
    this.serverTotal = Math.max(total, duties.length);
    const replay = this.pending;
    this.pending = null;
    this.duties.clear();
    for (const d of duties) this.duties.set(d.id, d);
    for (const d of replay) this.duties.set(d.id, d);
    this.loadedOnce = true;
    return true;
  }

  /** A failed re-read: keep what we have, stop buffering. */
  abortRefresh(token: number): void {
    if (token === this.generation) this.pending = null;
  }

  /**
   * Duties the server holds beyond the page the board shows (0 when it shows them all): the panel
   * says so instead of letting them fall off silently.
   */
  get notShown(): number {
    return Math.max(0, this.serverTotal - this.duties.size);
  }

  get total(): number {
    return Math.max(this.serverTotal, this.duties.size);
  }

  /** False until the first snapshot arrived (the panel says 加载中 rather than 暂无). */
  get loaded(): boolean {
    return this.loadedOnce;
  }

  /** The rows to show at `nowMs`, in board order (see arrangeDuties). */
  arranged(nowMs: number): Obligation[] {
    return arrangeDuties([...this.duties.values()], nowMs);
  }

  get(id: string): Obligation | undefined {
    return this.duties.get(id);
  }
}
