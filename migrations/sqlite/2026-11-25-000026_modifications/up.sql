-- A modification changes an existing entry: the entry keeps its id and counts versions; each
-- version it leaves behind is kept whole, with when it was in force.
ALTER TABLE subprocessors ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
-- The entry a modification changes.
ALTER TABLE changes ADD COLUMN modifies TEXT;
CREATE TABLE subprocessor_versions (
    entry_id TEXT NOT NULL REFERENCES subprocessors (id),
    version INTEGER NOT NULL,
    -- The entry as it was in this version (the API's JSON).
    snapshot TEXT NOT NULL,
    valid_until TIMESTAMP NOT NULL,
    -- The modification that ended this version.
    change_id TEXT NOT NULL,
    PRIMARY KEY (entry_id, version)
);
