-- Who decided for the controller: {"decided_by": {"name", "role"} | null, "sub"} as JSON, for the
-- objection and for the approval.
ALTER TABLE objection_windows ADD COLUMN objection_by TEXT;
ALTER TABLE objection_windows ADD COLUMN approval_by TEXT;
