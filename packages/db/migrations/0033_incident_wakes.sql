-- A fired clock's write to its incident can be a HOT update (bench/README.md, timer.ts): no
-- indexed column of the wide row changes when the timer fires a warning, a breach or a ladder
-- step. Two indexed columns moved with every wake until now:
--
-- - `next_wake_at` (the timer's queue, `incidents_next_wake_idx`). The queue is now a narrow
--   table of its own, one row per incident with a wake, written by the incident writer beside
--   the incident; `incidents.next_wake_at` stays as the same value, unindexed, for readers.
-- - `updated_at` (in `incidents_board_idx` and `incidents_updated_idx`, the stats rollup's change
--   detection). A timer wake no longer moves it; the rollup finds the deadlines the timer
--   changed by their `clocks` row (a breach rewrites it, with `updated_at` = the firing
--   instant), indexed below.
--
-- A HOT update also needs room on the incident's own page for the new version, and the rows of
-- one page tend to fall due together (incidents are inserted in time order and their clocks
-- have the same spans), so several are updated in one transaction, before any old version can be
-- pruned: half of each page is left free, room for every row's next version (a one-clock
-- incident is ≈ 1.5 kB, two to a page). Pages written from now on get it; existing pages as they
-- are rewritten.
CREATE TABLE "incident_wakes" (
  "incident_id" text PRIMARY KEY NOT NULL REFERENCES "incidents" ("id") ON DELETE CASCADE,
  "wake_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
INSERT INTO "incident_wakes" ("incident_id", "wake_at")
  SELECT "id", "next_wake_at" FROM "incidents" WHERE "next_wake_at" IS NOT NULL;
--> statement-breakpoint
CREATE INDEX "incident_wakes_at_idx" ON "incident_wakes" USING btree ("wake_at");
--> statement-breakpoint
DROP INDEX IF EXISTS "incidents_next_wake_idx";
--> statement-breakpoint
CREATE INDEX "clocks_updated_idx" ON "clocks" USING btree ("updated_at");
--> statement-breakpoint
ALTER TABLE "incidents" SET (fillfactor = 50);
--> statement-breakpoint
-- 0029's trigger fills a clock's report_candidacy_at only when a writer left it NULL, but it called
-- its plpgsql function for every row written — every fired clock's. The same rule, called only then.
DROP TRIGGER "clocks_fill_report_candidacy" ON "clocks";
--> statement-breakpoint
CREATE TRIGGER clocks_fill_report_candidacy BEFORE INSERT OR UPDATE ON "clocks"
  FOR EACH ROW WHEN (NEW.report_candidacy_at IS NULL) EXECUTE FUNCTION clocks_fill_report_candidacy();
