-- What changed of an incident's state, applied in the database: the engine sends the paths that
-- changed and their new values (services/engine/src/state-patch.ts) instead of the whole
-- document. A timer wake changes `asOf`, one clock's state and its ladder's progress; the rest
-- (every clock's snapshot of the pack's ladder, the responses, the title) stays where it is.
-- `changes` is a JSON array of [path, value], path a text[] literal ('{clocks,0,state}'),
-- applied in order with jsonb_set (a path must exist but for its last key, as state-patch.ts
-- guarantees). A loop over indexes, not FOR … IN SELECT: plpgsql evaluates these as simple
-- expressions, without a query per call (bench/README.md, timer.ts).
CREATE FUNCTION jsonb_set_each(doc jsonb, changes jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  FOR i IN 0 .. jsonb_array_length(changes) - 1 LOOP
    doc := jsonb_set(doc, (changes->i->>0)::text[], changes->i->1);
  END LOOP;
  RETURN doc;
END
$$;
