-- A processor's answer to a window that ended objected or not_approved (`excluded`), and a
-- change blocked at planned_from by windows without one, or taken live over them explicitly.
ALTER TABLE objection_windows ADD COLUMN resolution TEXT;
ALTER TABLE objection_windows ADD COLUMN resolution_note TEXT;
ALTER TABLE objection_windows ADD COLUMN resolution_at TIMESTAMP;
ALTER TABLE objection_windows ADD COLUMN resolution_by TEXT;
ALTER TABLE changes ADD COLUMN live_over_unresolved TEXT;
