-- 通报候选 (issue 10 step 4): the instant a clock or a duty becomes a 通报 candidate if it is still
-- without a qualifying response then — the first breach step of its ladder snapshot marked
-- reportCandidate: the due + the step's offset, not before the ladder started (`since`). The
-- engine writes it with the clock or duty row, in the same transaction, from the domain's
-- reportCandidacy (services/engine/src/report-candidacy.ts). Whether the row IS a candidate (not
-- met before the instant, not cancelled or waived, the instant passed) is decided on reading,
-- from the same row. Indexed so the candidates of a period read only that period's rows.
--
-- report_candidacy_of is the same rule in SQL, for the backfill and for rows written without the
-- column (older writers, hand-made rows): a trigger fills it when it comes NULL, so no clock with
-- a ladder is left out of the index whoever wrote it.
CREATE FUNCTION report_candidacy_of(ladder jsonb, due_at timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT min(greatest(due_at + (s->>'afterMs')::float8 * interval '1 millisecond',
                      to_timestamp((ladder->'progress'->>'since')::float8 / 1000)))
  FROM jsonb_array_elements(CASE WHEN jsonb_typeof(ladder->'ladder'->'steps') = 'array' THEN ladder->'ladder'->'steps' ELSE '[]'::jsonb END) s
  WHERE jsonb_typeof(ladder->'progress'->'since') = 'number'
    AND (s->>'reportCandidate')::boolean AND s->>'trigger' = 'breach'
$$;
--> statement-breakpoint
ALTER TABLE "clocks" ADD COLUMN "report_candidacy_at" timestamp with time zone;
--> statement-breakpoint
ALTER TABLE "obligations" ADD COLUMN "report_candidacy_at" timestamp with time zone;
--> statement-breakpoint
UPDATE "clocks" c SET "report_candidacy_at" = report_candidacy_of(
  (SELECT x->'ladder' FROM "incidents" i, jsonb_array_elements(i.state->'clocks') x
   WHERE i.id = c.incident_id AND (x->>'seq')::int = c.seq LIMIT 1),
  c.due_at);
--> statement-breakpoint
UPDATE "obligations" SET "report_candidacy_at" = report_candidacy_of(state->'ladder', due_at);
--> statement-breakpoint
CREATE FUNCTION clocks_fill_report_candidacy() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.report_candidacy_at IS NULL THEN
    NEW.report_candidacy_at := report_candidacy_of(
      (SELECT x->'ladder' FROM incidents i, jsonb_array_elements(i.state->'clocks') x
       WHERE i.id = NEW.incident_id AND (x->>'seq')::int = NEW.seq LIMIT 1),
      NEW.due_at);
  END IF;
  RETURN NEW;
END
$$;
--> statement-breakpoint
CREATE TRIGGER clocks_fill_report_candidacy BEFORE INSERT OR UPDATE ON "clocks"
  FOR EACH ROW EXECUTE FUNCTION clocks_fill_report_candidacy();
--> statement-breakpoint
CREATE FUNCTION obligations_fill_report_candidacy() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.report_candidacy_at IS NULL THEN
    NEW.report_candidacy_at := report_candidacy_of(NEW.state->'ladder', NEW.due_at);
  END IF;
  RETURN NEW;
END
$$;
--> statement-breakpoint
CREATE TRIGGER obligations_fill_report_candidacy BEFORE INSERT OR UPDATE ON "obligations"
  FOR EACH ROW EXECUTE FUNCTION obligations_fill_report_candidacy();
--> statement-breakpoint
CREATE INDEX "clocks_report_candidacy_idx" ON "clocks" USING btree ("report_candidacy_at") WHERE report_candidacy_at IS NOT NULL;
--> statement-breakpoint
CREATE INDEX "obligations_report_candidacy_idx" ON "obligations" USING btree ("report_candidacy_at") WHERE report_candidacy_at IS NOT NULL;
