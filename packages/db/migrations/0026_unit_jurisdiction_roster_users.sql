-- Jurisdictions on units (issue #10): the 约谈 rule (repeated breaches by a unit in a period) and
-- the ladder of a unit's working-day duties are those of the unit's jurisdiction when the rule
-- pack overrides them there. Existing units are in the one jurisdiction a deployment had.
ALTER TABLE "units" ADD COLUMN "jurisdiction" text DEFAULT 'default' NOT NULL;
--> statement-breakpoint
-- An open incident's jurisdiction is its first signal's (the engine writes it into the state when
-- the signal opens the incident); incidents opened before carry it from here on, so the clocks a
-- later grading starts take their jurisdiction's ladder. Only non-default ones need it. The
-- version moves, so a writer holding the old state retries on this one.
UPDATE "incidents" i
SET "state" = jsonb_set(i."state", '{jurisdiction}', to_jsonb(f."jurisdiction")), "version" = i."version" + 1
FROM (
  SELECT DISTINCT ON ("incident_id") "incident_id", "jurisdiction"
  FROM "signals"
  WHERE "incident_id" IS NOT NULL
  ORDER BY "incident_id", "received_at", "id"
) f
WHERE f."incident_id" = i."id" AND f."jurisdiction" <> 'default' AND i."status" = 'open' AND i."state" -> 'jurisdiction' IS NULL;
--> statement-breakpoint
-- Who is on the roster also depends on the officer (issue #10): a duty officer disabled, enabled
-- again or moved in or out of the duty role changes the shift changes the engines' handover
-- schedulers arm, so it notifies huiying_roster like an edit of duty_shifts (0019) instead of
-- waiting for their periodic resync. Per row, only when such a user's role or disabled_at changes
-- (an ordinary user edit sets role too); notifications of one transaction fold into one.
CREATE TRIGGER users_notify_roster AFTER UPDATE OF "disabled_at", "role" ON "users"
  FOR EACH ROW
  WHEN ((OLD."role" = 'duty' OR NEW."role" = 'duty')
    AND (OLD."disabled_at" IS DISTINCT FROM NEW."disabled_at" OR OLD."role" IS DISTINCT FROM NEW."role"))
  EXECUTE FUNCTION huiying_notify_roster();
