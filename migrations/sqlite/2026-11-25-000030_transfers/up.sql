-- Where the data goes besides the servers: the countries it is accessed from, and the
-- entry's own sub-processors (JSON arrays, as the API shows them).
ALTER TABLE subprocessors ADD COLUMN access_locations TEXT NOT NULL DEFAULT '[]';
ALTER TABLE subprocessors ADD COLUMN sub_subprocessors TEXT NOT NULL DEFAULT '[]';
