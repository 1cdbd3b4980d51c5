DROP TABLE log_checkpoints;
DROP INDEX events_visibility;
DROP INDEX events_log_index;
ALTER TABLE events DROP COLUMN leaf_hash;
ALTER TABLE events DROP COLUMN log_index;
ALTER TABLE events DROP COLUMN visibility;
