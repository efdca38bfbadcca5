-- Roster edits reach the engine at once (issue #10): any change to the duty roster notifies
-- every engine on channel huiying_roster after commit, from whichever process made it (API,
-- a script, psql), so the handover scheduler looks again instead of at its next periodic
-- resync (kept as the fallback for a lost LISTEN connection). Statement-level, like
-- huiying_board (0014): one notification per statement, folded per transaction.
CREATE FUNCTION huiying_notify_roster() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('huiying_roster', TG_TABLE_NAME);
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER duty_shifts_notify_roster AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "duty_shifts"
  FOR EACH STATEMENT EXECUTE FUNCTION huiying_notify_roster();
