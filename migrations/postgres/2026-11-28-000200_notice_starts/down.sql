ALTER TABLE objection_windows DROP COLUMN notified_via;
ALTER TABLE objection_windows DROP COLUMN notified_at;
ALTER TABLE agreement_versions DROP COLUMN notice_starts;
ALTER TABLE agreements DROP COLUMN notice_starts;
