-- Resolved cookie sessions are cached per API process (packages/http/src/session-cache.ts). Any
-- change that can end a session or change who it speaks for — revocation or expiry set on a
-- session, a session deleted, a user disabled, deleted or given another role or unit, a unit
-- renamed or removed — notifies every API process on channel huiying_sessions after commit, from
-- whichever process made it (API, the user:add CLI, an operator's SQL), and every process drops
-- its cached sessions. New sessions (log-in) and the throttled last_seen_at touch do not notify:
-- neither can make a cached session wrong (a process that misses a touch only re-reads the row
-- before calling the session idle).
CREATE FUNCTION huiying_notify_sessions() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('huiying_sessions', TG_TABLE_NAME);
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER sessions_notify_sessions AFTER UPDATE OF "user_id", "csrf_token", "expires_at", "revoked_at" OR DELETE OR TRUNCATE ON "sessions"
  FOR EACH STATEMENT EXECUTE FUNCTION huiying_notify_sessions();
--> statement-breakpoint
CREATE TRIGGER users_notify_sessions AFTER UPDATE OR DELETE OR TRUNCATE ON "users"
  FOR EACH STATEMENT EXECUTE FUNCTION huiying_notify_sessions();
--> statement-breakpoint
CREATE TRIGGER units_notify_sessions AFTER UPDATE OR DELETE OR TRUNCATE ON "units"
  FOR EACH STATEMENT EXECUTE FUNCTION huiying_notify_sessions();
