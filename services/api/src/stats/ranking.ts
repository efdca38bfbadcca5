/** The units' ranking: who answered in time best. */
import type { StatsRow } from './model.ts';

export type RankedRow = StatsRow & { rank: number };

/**
 * Units ranked best first: on-time rate (units with nothing due last), then fewer deadlines
 * missed, then more handled. Equal figures share a rank (1, 1, 3).
 */
export function rankUnits(rows: readonly StatsRow[]): RankedRow[] {
  const missed = (r: StatsRow) => r.late + r.breached;
  const cmp = (a: StatsRow, b: StatsRow) => (b.onTimeRate ?? -1) - (a.onTimeRate ?? -1) || missed(a) - missed(b) || b.counted - a.counted;
  const sorted = [...rows].sort((a, b) => cmp(a, b) || String(a.key).localeCompare(String(b.key)));
  const ranked: RankedRow[] = [];
  sorted.forEach((r, i) => {
    const prev = ranked[i - 1];
    ranked.push({ ...r, rank: prev && cmp(prev, r) === 0 ? prev.rank : i + 1 });
  });
  return ranked;
}
