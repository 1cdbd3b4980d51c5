DROP TABLE subprocessor_versions;
ALTER TABLE changes DROP COLUMN modifies;
ALTER TABLE subprocessors DROP COLUMN version;
