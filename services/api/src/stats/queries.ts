/**
 * Leaders' statistics (领导统计): what the routes, exports and 通报 read, one module a figure —
 * the deadlines counted and how (facts.ts), the vocabulary and row shapes (model.ts), the
 * grouped figures (group-stats.ts, from the rollup or the live tables), the units' ranking
 * (ranking.ts), the monthly trend (trend.ts), the drill-down (items.ts) — and the unit lookup.
 */
import { type Db, rowsOf, sql } from '@huiying/db';

export {
  DIMENSIONS,
  type Dimension,
  DUTY_KINDS,
  INCIDENT_KINDS,
  KIND_LABEL,
  LEVEL_LABEL,
  LEVELS,
  monthLabel,
  NO_UNIT_LABEL,
  type Outcome,
  OUTCOME_LABEL,
  OUTCOMES,
  type StatsFilter,
  type StatsItem,
  type StatsKind,
  type StatsLevel,
  type StatsRow,
  type StatsScope,
} from './model.ts';
export { exactGroupStats, groupStats } from './group-stats.ts';
export { type RankedRow, rankUnits } from './ranking.ts';
export { emptyRow, monthsOf } from './trend.ts';
export { listItems } from './items.ts';

export async function unitExists(db: Db, id: string): Promise<string | null> {
  const rows = rowsOf<{ name: string }>(await db.execute(sql`select name from units where id = ${id}`));
  return rows[0]?.name ?? null;
}
