ALTER TABLE objection_windows DROP COLUMN approval_by;
ALTER TABLE objection_windows DROP COLUMN objection_by;
