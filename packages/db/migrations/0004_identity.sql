-- Identity: users with one role each, cookie sessions, API tokens for machine clients.
CREATE TABLE "users" (
  "id" text PRIMARY KEY NOT NULL,
  "username" text NOT NULL,
  "display_name" text NOT NULL,
  "role" text NOT NULL,
  "unit_id" text,
  "password_hash" text,
  "email" text,
  "disabled_at" timestamp with time zone,
  "created_at" timestamp with time zone NOT NULL,
  "updated_at" timestamp with time zone NOT NULL,
  CONSTRAINT "users_role_ck" CHECK ("role" IN ('duty', 'unit', 'leader', 'admin')),
  CONSTRAINT "users_unit_ck" CHECK (("role" = 'unit') = ("unit_id" IS NOT NULL))
);
--> statement-breakpoint
CREATE UNIQUE INDEX "users_username_uq" ON "users" (lower("username"));
--> statement-breakpoint
CREATE TABLE "sessions" (
  "id" text PRIMARY KEY NOT NULL,
  "user_id" text NOT NULL,
  "csrf_token" text NOT NULL,
  "created_at" timestamp with time zone NOT NULL,
  "last_seen_at" timestamp with time zone NOT NULL,
  "expires_at" timestamp with time zone NOT NULL,
  "revoked_at" timestamp with time zone,
  "ip" text,
  "user_agent" text
);
--> statement-breakpoint
CREATE INDEX "sessions_user_idx" ON "sessions" ("user_id");
--> statement-breakpoint
CREATE TABLE "api_tokens" (
  "id" text PRIMARY KEY NOT NULL,
  "name" text NOT NULL,
  "token_hash" text NOT NULL,
  "prefix" text NOT NULL,
  "scopes" jsonb NOT NULL,
  "created_by" text NOT NULL,
  "created_at" timestamp with time zone NOT NULL,
  "last_used_at" timestamp with time zone,
  "expires_at" timestamp with time zone,
  "revoked_at" timestamp with time zone
);
--> statement-breakpoint
CREATE UNIQUE INDEX "api_tokens_hash_uq" ON "api_tokens" ("token_hash");
--> statement-breakpoint
CREATE INDEX "incidents_unit_idx" ON "incidents" ("unit_id");
--> statement-breakpoint
CREATE INDEX "alerts_unit_idx" ON "alerts" ("unit_id");
