-- Jurisdictions on signals (issue #9): monitoring rules are per jurisdiction (0011); now feeds and
-- hotline sources name theirs, and each signal carries the jurisdiction of the source it came from,
-- so the engine matches rules, serialises grouping and picks grouping candidates per jurisdiction.
-- Existing rows are the one jurisdiction a deployment watched until now.
ALTER TABLE "feeds" ADD COLUMN "jurisdiction" text DEFAULT 'default' NOT NULL;--> statement-breakpoint
ALTER TABLE "hotline_sources" ADD COLUMN "jurisdiction" text DEFAULT 'default' NOT NULL;--> statement-breakpoint
ALTER TABLE "signals" ADD COLUMN "jurisdiction" text DEFAULT 'default' NOT NULL;
