ALTER TABLE changes DROP COLUMN live_over_unresolved;
ALTER TABLE objection_windows DROP COLUMN resolution_by;
ALTER TABLE objection_windows DROP COLUMN resolution_at;
ALTER TABLE objection_windows DROP COLUMN resolution_note;
ALTER TABLE objection_windows DROP COLUMN resolution;
