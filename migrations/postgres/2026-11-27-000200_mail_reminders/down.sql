ALTER TABLE mail_outbox DROP COLUMN window_id;
