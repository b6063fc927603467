CREATE TABLE "permission_sessions" (
	"session_digest" text PRIMARY KEY NOT NULL,
	"session_id" text NOT NULL,
	"psu_id" text,
	"stage" text NOT NULL,
	"csrf_token" text NOT NULL,
	"authenticated_at" bigint,
	"last_seen_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "permission_sessions_session_id_unique" UNIQUE("session_id")
);
--> statement-breakpoint
CREATE INDEX "payment_authorizations_psu" ON "payment_authorizations" USING btree ("psu_id");