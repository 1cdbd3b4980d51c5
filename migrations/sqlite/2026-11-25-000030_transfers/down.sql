ALTER TABLE subprocessors DROP COLUMN sub_subprocessors;
ALTER TABLE subprocessors DROP COLUMN access_locations;
