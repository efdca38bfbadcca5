CREATE TABLE "calendar_years" (
	"year" integer PRIMARY KEY NOT NULL,
	"data" jsonb NOT NULL,
	"source" text,
	"loaded_at" timestamp with time zone NOT NULL,
	"loaded_by" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "obligations" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"title" text,
	"unit_id" text,
	"state" jsonb NOT NULL,
	"status" text NOT NULL,
	"due_at" timestamp with time zone NOT NULL,
	"provisional" boolean DEFAULT false NOT NULL,
	"next_wake_at" timestamp with time zone,
	"version" integer DEFAULT 1 NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "alerts" ALTER COLUMN "incident_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "alerts" ADD COLUMN "obligation_id" text;--> statement-breakpoint
CREATE INDEX "obligations_next_wake_idx" ON "obligations" USING btree ("next_wake_at") WHERE next_wake_at is not null;--> statement-breakpoint
CREATE INDEX "obligations_provisional_idx" ON "obligations" USING btree ("provisional");