ALTER TABLE objection_windows DROP COLUMN approval_instruction;
