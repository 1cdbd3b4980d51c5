ALTER TABLE changes DROP COLUMN summary_en;
ALTER TABLE subprocessors DROP COLUMN responsibilities_en;
ALTER TABLE subprocessors DROP COLUMN responsibilities;
ALTER TABLE subprocessors DROP COLUMN purpose_en;
