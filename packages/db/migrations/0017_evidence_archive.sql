-- Evidence survives deletion (issue #9): the page behind each incident's signals and each
-- recorded response is archived once, keyed by its canonical URL and shared by every signal or
-- response that points at it. A row is pending until the archiver fetched it (guarded fetch,
-- size-bounded) or gave up; either way the outcome and its reason stay.
CREATE TABLE "evidence" (
	"id" text PRIMARY KEY NOT NULL,
	"url" text NOT NULL,
	"state" text DEFAULT 'pending' NOT NULL,
	"allow_cidrs" text[] DEFAULT '{}' NOT NULL,
	"first_seen_at" timestamp with time zone NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone,
	"lease_owner" text,
	"lease_until" timestamp with time zone,
	"fetched_at" timestamp with time zone,
	"final_url" text,
	"http_status" integer,
	"content_type" text,
	"size" integer,
	"sha256" text,
	"encoding" text,
	"body" bytea,
	"text" text,
	"error_code" text,
	"error" text
);--> statement-breakpoint
CREATE UNIQUE INDEX "evidence_url_uq" ON "evidence" USING btree ("url");--> statement-breakpoint
CREATE INDEX "evidence_pending_idx" ON "evidence" USING btree ("next_attempt_at") WHERE state = 'pending';--> statement-breakpoint
-- Which signal or response points at which archived page (one row each; many rows share a page).
CREATE TABLE "evidence_refs" (
	"kind" text NOT NULL,
	"ref_id" text NOT NULL,
	"evidence_id" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "evidence_refs_pk" PRIMARY KEY("kind","ref_id")
);--> statement-breakpoint
CREATE INDEX "evidence_refs_evidence_idx" ON "evidence_refs" USING btree ("evidence_id");--> statement-breakpoint
-- The archiver looks for incidents' signals with a link and no reference yet.
CREATE INDEX "signals_evidence_todo_idx" ON "signals" USING btree ("id") WHERE url is not null and incident_id is not null;
