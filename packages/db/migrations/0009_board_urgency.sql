-- The duty board's order (most overdue first, then soonest due) as an indexed column, so the
-- first page is an index scan however many incidents there are. Derived from the state the
-- engine writes, so no writer has to remember it. A malformed state (quarantined by the engine)
-- yields null rather than failing the write.
CREATE FUNCTION incident_urgent_due(state jsonb) RETURNS timestamp with time zone
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT to_timestamp(min((c->>'dueAt')::bigint) / 1000.0)
  FROM jsonb_array_elements(CASE WHEN jsonb_typeof(state->'clocks') = 'array' THEN state->'clocks' ELSE '[]'::jsonb END) AS c
  WHERE jsonb_typeof(c) = 'object' AND c->>'state' IN ('running', 'breached') AND c->>'dueAt' ~ '^[0-9]{1,15}$'
$$;
--> statement-breakpoint
ALTER TABLE "incidents" ADD COLUMN "urgent_due" timestamp with time zone GENERATED ALWAYS AS (incident_urgent_due("state")) STORED;
--> statement-breakpoint
CREATE INDEX "incidents_board_idx" ON "incidents" ("status", "urgent_due", "updated_at" DESC, "id");
