-- Monitoring rules (监测方案) per jurisdiction, and the intake decision recorded on each signal:
-- which rule matched, which incident it opened or joined and why (with the similarity), or
-- that it matched none (stored, searchable, promotable by hand).
CREATE TABLE "monitoring_rules" (
  "id" text PRIMARY KEY NOT NULL,
  "jurisdiction" text DEFAULT 'default' NOT NULL,
  "name" text NOT NULL,
  "expression" text DEFAULT '' NOT NULL,
  "sources" jsonb DEFAULT '[]'::jsonb NOT NULL,
  "areas" jsonb DEFAULT '[]'::jsonb NOT NULL,
  "categories" jsonb DEFAULT '[]'::jsonb NOT NULL,
  "enabled" boolean DEFAULT true NOT NULL,
  "created_by" text NOT NULL,
  "created_at" timestamp with time zone NOT NULL,
  "updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "monitoring_rules_jurisdiction_idx" ON "monitoring_rules" ("jurisdiction") WHERE "enabled";
--> statement-breakpoint
-- 12345 tickets are citizens' requests to the government itself: every one is in scope unless an
-- administrator narrows or disables this rule. Feeds need keyword rules.
INSERT INTO "monitoring_rules" ("id", "name", "expression", "sources", "created_by", "created_at", "updated_at")
VALUES ('mr_hotline_all', '12345 热线工单（全部）', '', '["hotline","manual"]'::jsonb, 'migration:0011', now(), now());
--> statement-breakpoint
ALTER TABLE "signals" ADD COLUMN "decision" text;--> statement-breakpoint
ALTER TABLE "signals" ADD COLUMN "decision_reason" text;--> statement-breakpoint
ALTER TABLE "signals" ADD COLUMN "rule_id" text;--> statement-breakpoint
ALTER TABLE "signals" ADD COLUMN "decision_score" real;--> statement-breakpoint
ALTER TABLE "signals" ADD COLUMN "decision_via" text;--> statement-breakpoint
ALTER TABLE "signals" ADD COLUMN "decided_at" timestamp with time zone;--> statement-breakpoint
-- The canonical link (canonicalUrl in packages/domain grouping.ts): one page, one key, so a repost joins its incident.
ALTER TABLE "signals" ADD COLUMN "link_key" text;--> statement-breakpoint
CREATE INDEX "signals_link_key_idx" ON "signals" ("link_key") WHERE "link_key" IS NOT NULL;--> statement-breakpoint
ALTER TABLE "signals" ADD CONSTRAINT "signals_decision_ck" CHECK ("decision" IN ('opened', 'joined', 'unmatched', 'promoted', 'attached', 'merged', 'split'));--> statement-breakpoint
-- Signals handled before grouping existed opened their own incident.
UPDATE "signals" SET "decision" = 'opened', "decision_reason" = 'before_grouping', "decided_at" = "processed_at" WHERE "incident_id" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "signals_unmatched_idx" ON "signals" ("received_at" DESC) WHERE "decision" = 'unmatched';
