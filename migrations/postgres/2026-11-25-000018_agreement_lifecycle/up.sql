-- Agreements as contracts with a lifecycle: proposed (by the processor) → active (confirmed by
-- the controller, or created active by an admin) → terminated (from terminated_at). Agreements
-- recorded before this were all in force from their signing.
ALTER TABLE agreements ADD COLUMN state TEXT NOT NULL DEFAULT 'active';
ALTER TABLE agreements ADD COLUMN in_force_from TIMESTAMP;
UPDATE agreements SET in_force_from = signed_at;
-- {"decided_by": {"name", "role"} | null, "sub"} as JSON, like the window decisions.
ALTER TABLE agreements ADD COLUMN proposed_by TEXT;
ALTER TABLE agreements ADD COLUMN confirmed_at TIMESTAMP;
ALTER TABLE agreements ADD COLUMN confirmed_by TEXT;
ALTER TABLE agreements ADD COLUMN terminated_at TIMESTAMP;
ALTER TABLE agreements ADD COLUMN termination_reason TEXT;
ALTER TABLE agreements ADD COLUMN terminated_by TEXT;
-- JSON list of ISO country codes; NULL: no restriction.
ALTER TABLE agreements ADD COLUMN allowed_locations TEXT;
ALTER TABLE agreements ADD COLUMN annex_name TEXT NOT NULL DEFAULT 'Bilag B';
CREATE INDEX agreements_pending_termination ON agreements (state, terminated_at);
