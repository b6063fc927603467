CREATE TABLE `accounts` (
	`account_id` text PRIMARY KEY NOT NULL,
	`psu_id` text NOT NULL,
	`iban` text NOT NULL,
	`name` text NOT NULL,
	`type` text NOT NULL,
	`currency` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `accounts_psu` ON `accounts` (`psu_id`);--> statement-breakpoint
CREATE TABLE `authentication_events` (
	`id` text PRIMARY KEY NOT NULL,
	`session_id` text NOT NULL,
	`occurred_at` integer NOT NULL,
	`event` text NOT NULL,
	`psu_id` text,
	`client_id` text,
	`detail` text
);
--> statement-breakpoint
CREATE INDEX `authentication_events_session` ON `authentication_events` (`session_id`,`occurred_at`);--> statement-breakpoint
CREATE TABLE `authorization_codes` (
	`code_digest` text PRIMARY KEY NOT NULL,
	`client_id` text NOT NULL,
	`redirect_uri` text NOT NULL,
	`code_challenge` text NOT NULL,
	`consent_id` text NOT NULL,
	`psu_id` text NOT NULL,
	`scope` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`consumed_at` integer,
	`grant_id` text
);
--> statement-breakpoint
CREATE TABLE `consents` (
	`consent_id` text PRIMARY KEY NOT NULL,
	`client_id` text NOT NULL,
	`psu_id` text NOT NULL,
	`scope` text NOT NULL,
	`account_ids` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`revoked_at` integer,
	`revoked_by` text
);
--> statement-breakpoint
CREATE INDEX `consents_client` ON `consents` (`client_id`);--> statement-breakpoint
CREATE INDEX `consents_psu` ON `consents` (`psu_id`);--> statement-breakpoint
CREATE TABLE `grants` (
	`grant_id` text PRIMARY KEY NOT NULL,
	`client_id` text NOT NULL,
	`consent_id` text NOT NULL,
	`psu_id` text NOT NULL,
	`scope` text NOT NULL,
	`refresh_token_digest` text,
	`previous_refresh_token_digest` text,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`revoked_at` integer,
	`revoked_reason` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `grants_refresh_token_digest_unique` ON `grants` (`refresh_token_digest`);--> statement-breakpoint
CREATE INDEX `grants_client` ON `grants` (`client_id`);--> statement-breakpoint
CREATE INDEX `grants_consent` ON `grants` (`consent_id`);--> statement-breakpoint
CREATE TABLE `psu_sessions` (
	`session_digest` text PRIMARY KEY NOT NULL,
	`session_id` text NOT NULL,
	`authorization_request` text NOT NULL,
	`psu_id` text,
	`stage` text NOT NULL,
	`csrf_token` text NOT NULL,
	`authenticated_at` integer,
	`last_seen_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `psu_sessions_session_id_unique` ON `psu_sessions` (`session_id`);--> statement-breakpoint
CREATE TABLE `psus` (
	`psu_id` text PRIMARY KEY NOT NULL,
	`username` text NOT NULL,
	`display_name` text NOT NULL,
	`password_hash` text,
	`totp_secret` text,
	`status` text NOT NULL,
	`sandbox` integer DEFAULT 0 NOT NULL,
	`failed_attempts` integer DEFAULT 0 NOT NULL,
	`locked_until` integer,
	`last_totp_step` integer,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `psus_username_unique` ON `psus` (`username`);--> statement-breakpoint
CREATE TABLE `pushed_requests` (
	`request_uri_digest` text PRIMARY KEY NOT NULL,
	`client_id` text NOT NULL,
	`parameters` text NOT NULL,
	`expires_at` integer NOT NULL,
	`consumed_at` integer,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `resource_servers` (
	`client_id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`secret_digest` text NOT NULL,
	`created_at` integer NOT NULL,
	`disabled_at` integer
);
--> statement-breakpoint
CREATE TABLE `revoked_access_tokens` (
	`jti` text PRIMARY KEY NOT NULL,
	`client_id` text NOT NULL,
	`expires_at` integer NOT NULL,
	`revoked_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `sca_records` (
	`psu_id` text NOT NULL,
	`client_id` text NOT NULL,
	`last_sca_at` integer NOT NULL,
	PRIMARY KEY(`psu_id`, `client_id`)
);
