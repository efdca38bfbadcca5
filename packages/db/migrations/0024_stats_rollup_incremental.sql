-- Leaders' statistics rollup, incremental runs in proportion to what changed (rollup.ts).
--
-- A cell's kept maxima read again after a change took some of them out: by unit first (a
-- figure by unit reads one cell per unit, and most cells are per unit), so the scan stops after
-- the unit's first few breached dues / largest late overdues instead of walking every unit's.
CREATE INDEX "stats_fact_unit_breached_idx" ON "stats_fact" USING btree ("unit_id", "due_us") WHERE outcome = 'breached';
--> statement-breakpoint
CREATE INDEX "stats_fact_unit_late_idx" ON "stats_fact" USING btree ("unit_id", ("responded_us" - "due_us") DESC) WHERE outcome = 'late';
--> statement-breakpoint
-- The incidents and duties changed after the watermark that a run has already rolled up, at the
-- row version it saw (xmin: every update of the row writes a new one). Until the watermark passes
-- them (its margin is 5 minutes), requests and later runs skip those still at that version
-- instead of reading them live again. Rows at or behind the watermark are deleted by each run.
CREATE TABLE "stats_seen" (
  "source" text NOT NULL,
  "ref_id" text NOT NULL,
  "row_version" text NOT NULL,
  "updated_at" timestamp with time zone NOT NULL,
  CONSTRAINT "stats_seen_pk" PRIMARY KEY ("source", "ref_id")
);
