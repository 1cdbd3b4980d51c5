ALTER TABLE objection_windows DROP COLUMN agreement_version;
ALTER TABLE agreements DROP COLUMN version;
DROP TABLE agreement_versions;
