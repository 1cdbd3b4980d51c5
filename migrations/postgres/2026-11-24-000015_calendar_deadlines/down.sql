ALTER TABLE objection_windows DROP COLUMN closes_on;
ALTER TABLE agreements DROP COLUMN time_zone;
