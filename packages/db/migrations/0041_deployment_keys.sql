-- Keys a deployment makes for itself on first use and never shows or sends anywhere. `signal_id`
-- keys the signal id of a 12345 ticket whose id holds personal data (services/ingest/src/signal-key.ts):
-- a plain hash of a phone-number ticket id could be reversed by hashing every phone number, and the
-- signal id travels on the bus, in logs and in the audit trail. The application may add a key but
-- not change or remove one (the grants in packages/db): a changed key would give every such ticket
-- a new id, and a ticket sent again would no longer be a duplicate.
CREATE TABLE "deployment_keys" (
  "name" text PRIMARY KEY NOT NULL,
  "key" text NOT NULL,
  "created_at" timestamp with time zone NOT NULL
);
