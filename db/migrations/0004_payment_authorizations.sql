CREATE TABLE `payment_authorizations` (
	`authorization_id` text PRIMARY KEY NOT NULL,
	`resource_server_id` text NOT NULL,
	`client_id` text NOT NULL,
	`action` text NOT NULL,
	`payment_request_resource_id` text NOT NULL,
	`payment` text NOT NULL,
	`payment_hash` text NOT NULL,
	`status` text NOT NULL,
	`debtor_iban` text,
	`psu_id` text,
	`sca_at` integer,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `payment_authorizations_resource` ON `payment_authorizations` (`client_id`,`payment_request_resource_id`,`action`);--> statement-breakpoint
ALTER TABLE `consents` ADD `authorization_id` text;