ALTER TABLE objection_windows DROP COLUMN ended_as;
ALTER TABLE objection_windows DROP COLUMN late;
