-- The duty board's list is cached per API process (services/api/src/list-cache.ts). Any change
-- to incidents (or to the unit names shown beside them) notifies every API process on channel
-- huiying_board after commit, from whichever process made it (engine, API, a migration), so
-- no writer has to remember. Statement-level, and PostgreSQL folds identical notifications of
-- one transaction into one: a timer batch firing hundreds of incidents sends one.
CREATE FUNCTION huiying_notify_board() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('huiying_board', TG_TABLE_NAME);
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER incidents_notify_board AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "incidents"
  FOR EACH STATEMENT EXECUTE FUNCTION huiying_notify_board();
--> statement-breakpoint
CREATE TRIGGER units_notify_board AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "units"
  FOR EACH STATEMENT EXECUTE FUNCTION huiying_notify_board();
