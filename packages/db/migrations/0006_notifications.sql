CREATE TABLE "notifications" (
	"id" text PRIMARY KEY NOT NULL,
	"seq" bigserial NOT NULL,
	"clock_key" text NOT NULL,
	"step" text NOT NULL,
	"step_kind" text NOT NULL,
	"role" text NOT NULL,
	"recipient" text NOT NULL,
	"recipient_unit_id" text,
	"channel" text NOT NULL,
	"group_key" text NOT NULL,
	"incident_id" text,
	"obligation_id" text,
	"clock_kind" text,
	"clock_seq" integer,
	"subject" text NOT NULL,
	"text" text NOT NULL,
	"html" text,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone,
	"lease_token" text,
	"lease_until" timestamp with time zone,
	"last_error" text,
	"message_id" text,
	"created_at" timestamp with time zone NOT NULL,
	"sent_at" timestamp with time zone,
	"failed_at" timestamp with time zone,
	"cancelled_at" timestamp with time zone
);
--> statement-breakpoint
CREATE UNIQUE INDEX "notifications_step_recipient_uq" ON "notifications" USING btree ("clock_key","step","recipient","channel");--> statement-breakpoint
CREATE INDEX "notifications_due_idx" ON "notifications" USING btree ("next_attempt_at") WHERE status in ('pending', 'sending');--> statement-breakpoint
CREATE INDEX "notifications_group_idx" ON "notifications" USING btree ("group_key","channel","seq") WHERE status in ('pending', 'sending');--> statement-breakpoint
CREATE INDEX "notifications_incident_idx" ON "notifications" USING btree ("incident_id");--> statement-breakpoint
CREATE INDEX "notifications_obligation_idx" ON "notifications" USING btree ("obligation_id");
