ALTER TABLE `signing_keys` ADD `deactivated_at` integer;--> statement-breakpoint
-- Two instances that started together before this migration could each have activated a key: the
-- newest stays active, the others stay published (tokens they signed still verify).
UPDATE `signing_keys` SET `status` = 'published', `deactivated_at` = CAST(strftime('%s', 'now') AS integer) * 1000 WHERE `status` = 'active' AND `kid` <> (SELECT `kid` FROM `signing_keys` WHERE `status` = 'active' ORDER BY `created_at` DESC, `kid` LIMIT 1);--> statement-breakpoint
CREATE UNIQUE INDEX `signing_keys_one_active` ON `signing_keys` (`status`) WHERE status = 'active';
