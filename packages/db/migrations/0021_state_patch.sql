-- What changed of an incident's state, applied in the database: the engine sends the paths that
-- changed and their new values (services/engine/src/state-patch.ts) instead of the whole
-- document. A timer wake changes `asOf`, one clock's state and its ladder's progress; the rest
-- (every clock's snapshot of the pack's ladder, the responses, the title) stays where it is.
-- `changes` is a JSON array of [path, value], path a text[] literal ('{clocks,0,state}'),
-- applied in order with jsonb_set (a path must exist but for its last key, as state-patch.ts
-- guarantees). One jsonb_set per path costs less here than rebuilding the clocks array in SQL,
-- and much less than parsing the whole document sent again (bench/README.md, timer.ts).
CREATE FUNCTION jsonb_set_each(doc jsonb, changes jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  c jsonb;
BEGIN
  FOR c IN SELECT jsonb_array_elements(changes) LOOP
    doc := jsonb_set(doc, (c->>0)::text[], c->1);
  END LOOP;
  RETURN doc;
END
$$;
