-- A window that ended objected or not_approved may be approved after its deadline: `late` marks
-- that, and `ended_as` keeps the state it ended in, which held until the late approval.
ALTER TABLE objection_windows ADD COLUMN late BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE objection_windows ADD COLUMN ended_as TEXT;
