CREATE INDEX objection_windows_due ON objection_windows (closed_at, closes_at);
DROP INDEX objection_windows_open;
