-- An incident's stored state names its clocks' escalation-ladder snapshots instead of copying
-- them (services/engine/src/ladder-refs.ts): the copy was 40–50 % of every state, and every timer
-- wake parsed, patched and rewrote it. A snapshot never changes; it is stored once here under a
-- hash of its content, in the transaction of the first state that names it, and never deleted.
-- A clock's ladder record is then `{"ladder": "lad_…", "progress": …}`; states stored before
-- (or by another writer) keep the snapshot inline, and every reader takes both.
CREATE TABLE "ladder_snapshots" (
  "id" text PRIMARY KEY NOT NULL,
  "ladder" jsonb NOT NULL
);
--> statement-breakpoint
-- A clock's ladder record with its snapshot in place, whichever way it was stored (SQL readers).
CREATE FUNCTION clock_ladder_of(rec jsonb) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN jsonb_typeof(rec->'ladder') = 'string'
    THEN jsonb_set(rec, '{ladder}', coalesce((SELECT l.ladder FROM ladder_snapshots l WHERE l.id = rec->>'ladder'), 'null'::jsonb))
    ELSE rec END
$$;
--> statement-breakpoint
-- 0029's fill of a clock's report_candidacy_at when a writer left it NULL, through the reference.
CREATE OR REPLACE FUNCTION clocks_fill_report_candidacy() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.report_candidacy_at IS NULL THEN
    NEW.report_candidacy_at := report_candidacy_of(
      clock_ladder_of((SELECT x->'ladder' FROM incidents i, jsonb_array_elements(i.state->'clocks') x
       WHERE i.id = NEW.incident_id AND (x->>'seq')::int = NEW.seq LIMIT 1)),
      NEW.due_at);
  END IF;
  RETURN NEW;
END
$$;
