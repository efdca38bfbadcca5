-- What every timer wake pays in PostgreSQL besides its rows (bench/README.md, timer.ts).
--
-- The board's order `urgent_due` (0009) is a stored generated column, recomputed by every update
-- of an incident's state — every fired clock. As a SQL function with a FROM clause it is never
-- inlined, so each call started a query of its own: ≈ 20 µs of backend CPU per row, about as
-- much as patching the state. The same rule as a plpgsql loop over the clocks, whose
-- expressions run without an executor each: ≈ 7 µs. It returns exactly what 0009's did for
-- every input, malformed states included (the stored values stay valid; the engine's test
-- compares the two on random and malformed clock arrays).
CREATE OR REPLACE FUNCTION incident_urgent_due(state jsonb) RETURNS timestamp with time zone
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  cs jsonb := state->'clocks';
  c jsonb;
  s text;
  d text;
  best bigint;
BEGIN
  IF jsonb_typeof(cs) IS DISTINCT FROM 'array' THEN
    RETURN NULL;
  END IF;
  FOR i IN 0 .. jsonb_array_length(cs) - 1 LOOP
    c := cs->i;
    IF jsonb_typeof(c) = 'object' THEN
      s := c->>'state';
      IF s = 'running' OR s = 'breached' THEN
        d := c->>'dueAt';
        IF d ~ '^[0-9]{1,15}$' AND (best IS NULL OR d::bigint < best) THEN
          best := d::bigint;
        END IF;
      END IF;
    END IF;
  END LOOP;
  RETURN to_timestamp(best / 1000.0);
END
$$;
--> statement-breakpoint
-- Every fired clock rewrites its incident's row (its updated_at is part of the board's index and
-- the stats rollup's watermark, so the update cannot be HOT) and pays an entry in each index.
-- `incidents_status_idx` is the leading column of `incidents_board_idx`, which serves every
-- query on status as well.
DROP INDEX IF EXISTS "incidents_status_idx";
