ALTER TABLE "feeds" ADD COLUMN "added_at" timestamp with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
ALTER TABLE "feeds" ADD COLUMN "poll_interval_seconds" integer DEFAULT 300 NOT NULL;--> statement-breakpoint
ALTER TABLE "feeds" ADD COLUMN "next_poll_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "feeds" ADD COLUMN "last_success_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "feeds" ADD COLUMN "last_error_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "feeds" ADD COLUMN "consecutive_failures" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "feeds" ADD COLUMN "items_seen" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "feeds" ADD COLUMN "last_encoding" text;--> statement-breakpoint
ALTER TABLE "feeds" ADD COLUMN "lease_owner" text;--> statement-breakpoint
ALTER TABLE "feeds" ADD COLUMN "lease_until" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "feeds_next_poll_idx" ON "feeds" USING btree ("next_poll_at") WHERE enabled;--> statement-breakpoint
ALTER TABLE "signals" ADD COLUMN "time_decision" text;--> statement-breakpoint
ALTER TABLE "signals" ADD COLUMN "time_reason" text;--> statement-breakpoint
CREATE TABLE "signal_sources" (
	"feed_id" text NOT NULL,
	"item_key" text NOT NULL,
	"signal_id" text NOT NULL,
	"guid" text,
	"link" text,
	"content_hash" text,
	"first_seen_at" timestamp with time zone NOT NULL,
	CONSTRAINT "signal_sources_pk" PRIMARY KEY("feed_id","item_key")
);--> statement-breakpoint
CREATE INDEX "signal_sources_signal_idx" ON "signal_sources" USING btree ("signal_id");--> statement-breakpoint
-- Items stored before this migration were keyed "<feed id>:<guid or link or hash>": record them
-- as sources so that the first poll after the upgrade does not take them for new items.
INSERT INTO "signal_sources" ("feed_id", "item_key", "signal_id", "first_seen_at")
SELECT s."feed_id",
       CASE WHEN substr(s."source_ref", length(s."feed_id") + 2) ~ '^https?://' THEN 'link:' ELSE 'guid:' END
         || substr(s."source_ref", length(s."feed_id") + 2),
       s."id", s."received_at"
FROM "signals" s
WHERE s."source" = 'feed' AND s."feed_id" IS NOT NULL AND s."source_ref" LIKE s."feed_id" || ':%'
ON CONFLICT DO NOTHING;
