-- The evidence log (issue 12): every event says who may see it, and takes its place as a leaf
-- of its processor's Merkle tree. Existing events keep their order (seq); their leaf hashes are
-- computed by the server at its next start (canonical JSON is not SQL's job).
ALTER TABLE events ADD COLUMN visibility TEXT NOT NULL DEFAULT 'public';
UPDATE events SET visibility = CASE
    WHEN controller_id IS NOT NULL THEN 'controller'
    WHEN event_type = 'endpoint.disabled' THEN 'processor'
    ELSE 'public'
END;
ALTER TABLE events ADD COLUMN log_index BIGINT NOT NULL DEFAULT -1;
UPDATE events SET log_index = (
    SELECT COUNT(*) FROM events AS earlier
    WHERE earlier.processor_id = events.processor_id AND earlier.seq < events.seq
);
ALTER TABLE events ADD COLUMN leaf_hash TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX events_log_index ON events (processor_id, log_index);
CREATE INDEX events_visibility ON events (processor_id, visibility, seq);

CREATE TABLE log_checkpoints (
    processor_id TEXT NOT NULL REFERENCES processors (id),
    size BIGINT NOT NULL,
    root TEXT NOT NULL,
    note TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (processor_id, size)
);
