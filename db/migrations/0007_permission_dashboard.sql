CREATE TABLE `permission_sessions` (
	`session_digest` text PRIMARY KEY NOT NULL,
	`session_id` text NOT NULL,
	`psu_id` text,
	`stage` text NOT NULL,
	`csrf_token` text NOT NULL,
	`authenticated_at` integer,
	`last_seen_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `permission_sessions_session_id_unique` ON `permission_sessions` (`session_id`);--> statement-breakpoint
CREATE INDEX `payment_authorizations_psu` ON `payment_authorizations` (`psu_id`);