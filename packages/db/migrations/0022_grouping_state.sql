-- Each engine keeps the grouping candidates (recent signals of open incidents, indexed) in
-- memory across batches instead of reading and indexing them all again for every batch. Every
-- transaction that changes which signals are candidates while holding the jurisdiction's
-- grouping lock (grouping a batch, 人工立案, merge, split) advances the jurisdiction's version;
-- an engine whose remembered version is not the one before its own advance reloads.
CREATE TABLE "grouping_state" (
  "jurisdiction" text PRIMARY KEY NOT NULL,
  "version" bigint NOT NULL
);
--> statement-breakpoint
-- Deleting signals or incidents is no part of the product's flow (tests, retention scripts and
-- hand repairs do it), and such a deleter does not take the grouping lock: it advances every
-- jurisdiction's version instead, so no engine keeps a candidate whose row is gone. (A deleter
-- holds these rows until it commits, stalling grouping meanwhile: delete in short transactions.)
CREATE FUNCTION huiying_grouping_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  -- Row locks in the order engines take the jurisdictions' grouping locks (sorted, code point
  -- order), so a deleter and a batch spanning two jurisdictions cannot wait on each other.
  PERFORM 1 FROM grouping_state ORDER BY jurisdiction COLLATE "C" FOR UPDATE;
  UPDATE grouping_state SET version = version + 1;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER signals_grouping_changed AFTER DELETE OR TRUNCATE ON "signals"
  FOR EACH STATEMENT EXECUTE FUNCTION huiying_grouping_changed();
--> statement-breakpoint
CREATE TRIGGER incidents_grouping_changed AFTER DELETE OR TRUNCATE ON "incidents"
  FOR EACH STATEMENT EXECUTE FUNCTION huiying_grouping_changed();
