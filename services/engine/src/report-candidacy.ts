/**
 * The instant stored with each clock and duty (`report_candidacy_at`, migration 0029) so the
 * 通报 candidates of a period read only that period's rows: when the clock becomes a candidate
 * if it is still without a qualifying response then. The domain's `reportCandidacy` decides,
 * from the clock's own ladder snapshot; asked as of the end of time for a clock never met, it
 * answers that first instant. Whether the clock IS a candidate (not met before, not cancelled
 * or waived, the instant passed) is decided again on reading (candidates.ts).
 */
import { type ClockLadder, reportCandidacy } from '@huiying/domain';

export function reportCandidacyAt(ladder: ClockLadder | null | undefined, dueAt: number): number | null {
  if (!ladder) return null;
  return (
    reportCandidacy({ state: 'breached', dueAt, respondedAt: null }, ladder.ladder, ladder.progress.since, Number.MAX_SAFE_INTEGER)?.at ??
    null
  );
}
