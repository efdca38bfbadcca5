-- Feed administration and official channels (issue #9). A feed's health gains "failing since"
-- (a run of failures an hour long raises an alert); administrators may allow a feed private
-- address ranges (政务外网); an official channel carries its silence rule and newest item time.
ALTER TABLE "feeds" ADD COLUMN "failing_since" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "feeds" ADD COLUMN "allow_cidrs" text[] DEFAULT '{}' NOT NULL;--> statement-breakpoint
ALTER TABLE "feeds" ADD COLUMN "silence_rule" text;--> statement-breakpoint
ALTER TABLE "feeds" ADD COLUMN "last_item_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "feeds" ADD COLUMN "updated_at" timestamp with time zone;--> statement-breakpoint
-- Alerts about a feed (feed_failing, channel_silent) name it; the board joins it for a title.
ALTER TABLE "alerts" ADD COLUMN "feed_id" text;--> statement-breakpoint
-- An official channel's new items, waiting to be matched to open incidents (proposed_at null).
CREATE TABLE "official_items" (
	"signal_id" text PRIMARY KEY NOT NULL,
	"feed_id" text NOT NULL,
	"unit_id" text,
	"title" text,
	"url" text,
	"published_at" timestamp with time zone NOT NULL,
	"original" boolean NOT NULL,
	"origin_reason" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"proposed_at" timestamp with time zone
);--> statement-breakpoint
CREATE INDEX "official_items_pending_idx" ON "official_items" USING btree ("created_at") WHERE proposed_at is null;--> statement-breakpoint
-- One proposal per (item, incident): the match's confidence and reason, then the decision and why.
CREATE TABLE "response_candidates" (
	"id" text PRIMARY KEY NOT NULL,
	"signal_id" text NOT NULL,
	"feed_id" text NOT NULL,
	"incident_id" text NOT NULL,
	"unit_id" text,
	"title" text,
	"url" text,
	"published_at" timestamp with time zone NOT NULL,
	"original" boolean NOT NULL,
	"origin_reason" text NOT NULL,
	"confidence" real NOT NULL,
	"match_reason" text NOT NULL,
	"status" text DEFAULT 'proposed' NOT NULL,
	"decided_at" timestamp with time zone,
	"decided_by" text,
	"decision_reason" text,
	"response_id" text,
	"created_at" timestamp with time zone NOT NULL
);--> statement-breakpoint
CREATE UNIQUE INDEX "response_candidates_item_incident_uq" ON "response_candidates" USING btree ("signal_id","incident_id");--> statement-breakpoint
CREATE INDEX "response_candidates_status_idx" ON "response_candidates" USING btree ("status","created_at");--> statement-breakpoint
CREATE INDEX "response_candidates_incident_idx" ON "response_candidates" USING btree ("incident_id");
