-- Amendments: each version of an agreement's terms, proposed by one party and in force once the
-- other confirms (an admin's at once). `agreements` keeps the terms of the version in force.
CREATE TABLE agreement_versions (
    agreement_id TEXT NOT NULL REFERENCES agreements (id),
    version INTEGER NOT NULL,
    authorisation TEXT NOT NULL,
    notice_days INTEGER NOT NULL,
    objection_requires_reason BOOLEAN NOT NULL,
    third_country_transfers TEXT NOT NULL,
    time_zone TEXT NOT NULL,
    allowed_locations TEXT,
    annex_name TEXT NOT NULL,
    state TEXT NOT NULL,
    proposed_by_party TEXT NOT NULL,
    proposed_at TIMESTAMP NOT NULL,
    proposed_by TEXT,
    confirmed_at TIMESTAMP,
    confirmed_by TEXT,
    PRIMARY KEY (agreement_id, version)
);
INSERT INTO agreement_versions
SELECT id, 1, authorisation, notice_days, objection_requires_reason, third_country_transfers,
       time_zone, allowed_locations, annex_name,
       CASE WHEN state = 'proposed' THEN 'proposed' ELSE 'confirmed' END,
       CASE WHEN proposed_by IS NULL THEN 'admin' ELSE 'processor' END,
       created_at, proposed_by, confirmed_at, confirmed_by
FROM agreements;
ALTER TABLE agreements ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
-- The version whose terms a window opened under (deadline, authorisation, reason rule).
ALTER TABLE objection_windows ADD COLUMN agreement_version INTEGER NOT NULL DEFAULT 1;
