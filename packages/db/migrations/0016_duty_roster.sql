-- The duty roster (值班表, issue #10): shifts of duty officers, kept by administrators. The
-- officer(s) on shift at a ladder step's instant get the urgent alerts (a shift's start is
-- inclusive, its end exclusive); two shifts may overlap (two officers on shift at once). At
-- each shift change a handover summary (交接班) is queued as notification rows.
CREATE TABLE "duty_shifts" (
	"id" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL REFERENCES "users"("id"),
	"starts_at" timestamp with time zone NOT NULL,
	"ends_at" timestamp with time zone NOT NULL,
	"note" text,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "duty_shifts_span_ck" CHECK ("ends_at" > "starts_at")
);
--> statement-breakpoint
CREATE INDEX "duty_shifts_span_idx" ON "duty_shifts" USING btree ("starts_at","ends_at");--> statement-breakpoint
CREATE INDEX "duty_shifts_end_idx" ON "duty_shifts" USING btree ("ends_at");--> statement-breakpoint
-- A duty officer's mobile for SMS at night (the email stays the users.email column).
ALTER TABLE "users" ADD COLUMN "phone" text;--> statement-breakpoint
-- Per unit contacts for the other channels: a mobile for SMS (the unit's duty phone) and the
-- names of its 企业微信/钉钉 group robots and webhook target, looked up in the engine's
-- configuration (WECOM_ROBOTS, DINGTALK_ROBOTS, WEBHOOK_TARGETS), so no secret sits here.
ALTER TABLE "units" ADD COLUMN "phone" text;--> statement-breakpoint
ALTER TABLE "units" ADD COLUMN "wecom_robot" text;--> statement-breakpoint
ALTER TABLE "units" ADD COLUMN "dingtalk_robot" text;--> statement-breakpoint
ALTER TABLE "units" ADD COLUMN "webhook_target" text;
