ALTER TABLE processors DROP COLUMN log_frontier_size;
ALTER TABLE processors DROP COLUMN log_frontier;
