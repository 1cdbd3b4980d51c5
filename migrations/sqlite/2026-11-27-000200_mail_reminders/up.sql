-- Reminders before a deadline (issue 13): a notice row remembers the window it told of, so the
-- sweeper can enqueue one reminder per window, recipient and number of days.
ALTER TABLE mail_outbox ADD COLUMN window_id TEXT;
