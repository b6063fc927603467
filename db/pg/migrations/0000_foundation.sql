CREATE TABLE "accounts" (
	"account_id" text PRIMARY KEY NOT NULL,
	"psu_id" text NOT NULL,
	"iban" text NOT NULL,
	"name" text NOT NULL,
	"type" text NOT NULL,
	"currency" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "audit_events" (
	"id" text PRIMARY KEY NOT NULL,
	"occurred_at" bigint NOT NULL,
	"action" text NOT NULL,
	"client_id" text,
	"actor_subject_dn" text NOT NULL,
	"actor_thumbprint" text NOT NULL,
	"detail" text
);
--> statement-breakpoint
CREATE TABLE "authentication_events" (
	"id" text PRIMARY KEY NOT NULL,
	"session_id" text NOT NULL,
	"occurred_at" bigint NOT NULL,
	"event" text NOT NULL,
	"psu_id" text,
	"client_id" text,
	"detail" text
);
--> statement-breakpoint
CREATE TABLE "authorization_codes" (
	"code_digest" text PRIMARY KEY NOT NULL,
	"client_id" text NOT NULL,
	"redirect_uri" text NOT NULL,
	"code_challenge" text NOT NULL,
	"consent_id" text NOT NULL,
	"psu_id" text NOT NULL,
	"scope" text NOT NULL,
	"created_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL,
	"consumed_at" bigint,
	"grant_id" text
);
--> statement-breakpoint
CREATE TABLE "clients" (
	"client_id" text PRIMARY KEY NOT NULL,
	"organization_id" text NOT NULL,
	"subject_dn" text NOT NULL,
	"metadata" text NOT NULL,
	"registration_token_digest" text,
	"issued_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	"deleted_at" bigint,
	"suspended_at" bigint
);
--> statement-breakpoint
CREATE TABLE "consents" (
	"consent_id" text PRIMARY KEY NOT NULL,
	"client_id" text NOT NULL,
	"psu_id" text NOT NULL,
	"scope" text NOT NULL,
	"account_ids" text NOT NULL,
	"created_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL,
	"revoked_at" bigint,
	"revoked_by" text,
	"authorization_id" text
);
--> statement-breakpoint
CREATE TABLE "grants" (
	"grant_id" text PRIMARY KEY NOT NULL,
	"client_id" text NOT NULL,
	"consent_id" text NOT NULL,
	"psu_id" text NOT NULL,
	"scope" text NOT NULL,
	"refresh_token_digest" text,
	"previous_refresh_token_digest" text,
	"created_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL,
	"revoked_at" bigint,
	"revoked_reason" text,
	CONSTRAINT "grants_refresh_token_digest_unique" UNIQUE("refresh_token_digest")
);
--> statement-breakpoint
CREATE TABLE "health_probe" (
	"id" integer PRIMARY KEY NOT NULL,
	"checked_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "payment_authorizations" (
	"authorization_id" text PRIMARY KEY NOT NULL,
	"resource_server_id" text NOT NULL,
	"client_id" text NOT NULL,
	"action" text NOT NULL,
	"payment_request_resource_id" text NOT NULL,
	"payment" text NOT NULL,
	"payment_hash" text NOT NULL,
	"status" text NOT NULL,
	"debtor_iban" text,
	"psu_id" text,
	"sca_at" bigint,
	"created_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "psu_sessions" (
	"session_digest" text PRIMARY KEY NOT NULL,
	"session_id" text NOT NULL,
	"authorization_request" text NOT NULL,
	"psu_id" text,
	"stage" text NOT NULL,
	"csrf_token" text NOT NULL,
	"authenticated_at" bigint,
	"last_seen_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "psu_sessions_session_id_unique" UNIQUE("session_id")
);
--> statement-breakpoint
CREATE TABLE "psus" (
	"psu_id" text PRIMARY KEY NOT NULL,
	"username" text NOT NULL,
	"display_name" text NOT NULL,
	"password_hash" text,
	"totp_secret" text,
	"status" text NOT NULL,
	"sandbox" integer DEFAULT 0 NOT NULL,
	"failed_attempts" integer DEFAULT 0 NOT NULL,
	"locked_until" bigint,
	"last_totp_step" bigint,
	"created_at" bigint NOT NULL,
	CONSTRAINT "psus_username_unique" UNIQUE("username")
);
--> statement-breakpoint
CREATE TABLE "pushed_requests" (
	"request_uri_digest" text PRIMARY KEY NOT NULL,
	"client_id" text NOT NULL,
	"parameters" text NOT NULL,
	"expires_at" bigint NOT NULL,
	"consumed_at" bigint,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "resource_servers" (
	"client_id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"secret_digest" text NOT NULL,
	"created_at" bigint NOT NULL,
	"disabled_at" bigint
);
--> statement-breakpoint
CREATE TABLE "revoked_access_tokens" (
	"jti" text PRIMARY KEY NOT NULL,
	"client_id" text NOT NULL,
	"expires_at" bigint NOT NULL,
	"revoked_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sca_records" (
	"psu_id" text NOT NULL,
	"client_id" text NOT NULL,
	"last_sca_at" bigint NOT NULL,
	CONSTRAINT "sca_records_psu_id_client_id_pk" PRIMARY KEY("psu_id","client_id")
);
--> statement-breakpoint
CREATE TABLE "signing_keys" (
	"kid" text PRIMARY KEY NOT NULL,
	"alg" text NOT NULL,
	"public_jwk" text NOT NULL,
	"private_jwk" text NOT NULL,
	"status" text NOT NULL,
	"created_at" bigint NOT NULL,
	"deactivated_at" bigint
);
--> statement-breakpoint
CREATE INDEX "accounts_psu" ON "accounts" USING btree ("psu_id");--> statement-breakpoint
CREATE INDEX "audit_events_client" ON "audit_events" USING btree ("client_id","occurred_at");--> statement-breakpoint
CREATE INDEX "authentication_events_session" ON "authentication_events" USING btree ("session_id","occurred_at");--> statement-breakpoint
CREATE INDEX "clients_organization" ON "clients" USING btree ("organization_id");--> statement-breakpoint
CREATE INDEX "consents_client" ON "consents" USING btree ("client_id");--> statement-breakpoint
CREATE INDEX "consents_psu" ON "consents" USING btree ("psu_id");--> statement-breakpoint
CREATE INDEX "grants_client" ON "grants" USING btree ("client_id");--> statement-breakpoint
CREATE INDEX "grants_consent" ON "grants" USING btree ("consent_id");--> statement-breakpoint
CREATE UNIQUE INDEX "payment_authorizations_resource" ON "payment_authorizations" USING btree ("client_id","payment_request_resource_id","action");--> statement-breakpoint
CREATE INDEX "signing_keys_status" ON "signing_keys" USING btree ("status");--> statement-breakpoint
CREATE UNIQUE INDEX "signing_keys_one_active" ON "signing_keys" USING btree ("status") WHERE status = 'active';