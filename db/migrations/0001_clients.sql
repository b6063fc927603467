CREATE TABLE `audit_events` (
	`id` text PRIMARY KEY NOT NULL,
	`occurred_at` integer NOT NULL,
	`action` text NOT NULL,
	`client_id` text,
	`actor_subject_dn` text NOT NULL,
	`actor_thumbprint` text NOT NULL,
	`detail` text
);
--> statement-breakpoint
CREATE INDEX `audit_events_client` ON `audit_events` (`client_id`,`occurred_at`);--> statement-breakpoint
CREATE TABLE `clients` (
	`client_id` text PRIMARY KEY NOT NULL,
	`organization_id` text NOT NULL,
	`subject_dn` text NOT NULL,
	`metadata` text NOT NULL,
	`registration_token_digest` text,
	`issued_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`deleted_at` integer
);
--> statement-breakpoint
CREATE INDEX `clients_organization` ON `clients` (`organization_id`);