CREATE TABLE "hotline_sources" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"secret" text NOT NULL,
	"token_id" text,
	"active" boolean DEFAULT true NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"disabled_at" timestamp with time zone
);--> statement-breakpoint
CREATE UNIQUE INDEX "hotline_sources_name_uq" ON "hotline_sources" USING btree ("name");--> statement-breakpoint
CREATE UNIQUE INDEX "hotline_sources_token_uq" ON "hotline_sources" USING btree ("token_id") WHERE "token_id" IS NOT NULL;--> statement-breakpoint
CREATE TABLE "hotline_replays" (
	"signature" text PRIMARY KEY NOT NULL,
	"source_id" text NOT NULL,
	"seen_at" timestamp with time zone NOT NULL
);--> statement-breakpoint
CREATE INDEX "hotline_replays_seen_idx" ON "hotline_replays" USING btree ("seen_at");--> statement-breakpoint
CREATE TABLE "hotline_tickets" (
	"signal_id" text PRIMARY KEY NOT NULL,
	"source_id" text,
	"ticket_id" text NOT NULL,
	"caller_name" text,
	"caller_phone" text,
	"created_at" timestamp with time zone NOT NULL
);--> statement-breakpoint
CREATE INDEX "hotline_tickets_source_idx" ON "hotline_tickets" USING btree ("source_id","ticket_id");
