-- Rule packs administered in the console (issue #7): each stored pack is a version, validated by
-- the domain's parseRulePack before it is written; exactly one (or none) is active. The active
-- version, when there is one, wins over RULE_PACK_FILE and the default. Versions are never edited
-- or deleted: rolling back activates an older one. Clocks snapshot the pack they start with, so
-- activation changes new clocks only.
CREATE TABLE "rule_packs" (
  "version" integer PRIMARY KEY,
  "document" jsonb NOT NULL,
  "note" text,
  "created_by" text NOT NULL,
  "created_at" timestamp with time zone NOT NULL,
  "active" boolean DEFAULT false NOT NULL,
  "activated_at" timestamp with time zone,
  "activated_by" text
);
--> statement-breakpoint
CREATE UNIQUE INDEX "rule_packs_one_active_idx" ON "rule_packs" ("active") WHERE "active";
--> statement-breakpoint
-- Every engine and API process holds the pack in force (services/engine/src/rule-pack-holder.ts)
-- and re-reads it when told here, from whichever process (or psql) changed it; a periodic re-read
-- stays the fallback for a lost LISTEN connection. Statement-level, like huiying_roster (0019).
CREATE FUNCTION huiying_notify_rule_pack() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('huiying_rule_pack', TG_TABLE_NAME);
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER rule_packs_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "rule_packs"
  FOR EACH STATEMENT EXECUTE FUNCTION huiying_notify_rule_pack();
