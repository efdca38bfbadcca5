-- Leaders' statistics rollup (services/api/src/stats/rollup.ts). No trigger: a job run on a
-- schedule brings it up to date from what changed since its watermark, and every request adds
-- live what changed after that (and every running deadline, whose outcome moves with now).
--
-- stats_fact: every counted deadline that is not running (on time, late, breached) as the last
-- rollup saw it, so the next run and the requests can take its old contribution back out.
CREATE TABLE "stats_fact" (
  "source" text NOT NULL,
  "ref_id" text NOT NULL,
  "seq" integer NOT NULL,
  "kind" text NOT NULL,
  "level" text,
  "unit_id" text,
  "due_us" bigint NOT NULL,
  "responded_us" bigint,
  "outcome" text NOT NULL,
  "retracted" boolean NOT NULL,
  "start_us" bigint,
  "wide" boolean NOT NULL DEFAULT false
);
--> statement-breakpoint
CREATE INDEX "stats_fact_ref_idx" ON "stats_fact" USING btree ("source", "ref_id");
--> statement-breakpoint
CREATE INDEX "stats_fact_due_idx" ON "stats_fact" USING btree ("due_us");
--> statement-breakpoint
-- A cell's kept maxima read again (the earliest breached dues, the largest late overdues).
CREATE INDEX "stats_fact_breached_idx" ON "stats_fact" USING btree ("due_us") WHERE outcome = 'breached';
--> statement-breakpoint
CREATE INDEX "stats_fact_late_idx" ON "stats_fact" USING btree (("responded_us" - "due_us") DESC) WHERE outcome = 'late';
--> statement-breakpoint
-- Incidents whose responses span more than two adjacent months: their first response is computed live.
CREATE INDEX "stats_fact_wide_idx" ON "stats_fact" USING btree ("ref_id") WHERE wide;
--> statement-breakpoint
-- Pre-aggregated figures per Asia/Shanghai month of due × unit × level × kind ('*' = all).
-- part 'f': deadlines; 'fr': first responses of incidents whose responses all fell due in the
-- month; 'frA' / 'frB' / 'frAB': those spanning this month and the next (this month's part,
-- the next month's part, both).
CREATE TABLE "stats_cell" (
  "part" text NOT NULL,
  "month" text NOT NULL,
  "unit" text NOT NULL,
  "level" text NOT NULL,
  "kind" text NOT NULL,
  "data" jsonb NOT NULL,
  "h1" text,
  "h2" text,
  CONSTRAINT "stats_cell_pk" PRIMARY KEY ("part", "month", "unit", "level", "kind")
);
--> statement-breakpoint
CREATE TABLE "stats_rollup_state" (
  "id" integer PRIMARY KEY,
  "watermark" timestamp with time zone NOT NULL,
  "ran_at" timestamp with time zone NOT NULL,
  "full_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
-- What changed since the watermark (the engine writes updated_at with every change of an
-- incident, its clocks and its breach alerts, and of a duty).
CREATE INDEX "incidents_updated_idx" ON "incidents" USING btree ("updated_at");
--> statement-breakpoint
CREATE INDEX "obligations_updated_idx" ON "obligations" USING btree ("updated_at");
--> statement-breakpoint
-- The running deadlines, read live by every request (few rows: the open ones).
CREATE INDEX "clocks_running_idx" ON "clocks" USING btree ("due_at") WHERE state = 'running';
--> statement-breakpoint
CREATE INDEX "obligations_running_idx" ON "obligations" USING btree ("due_at") WHERE status = 'running';
