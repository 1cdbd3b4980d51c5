-- The right edge of each processor's Merkle tree (domain::log::Frontier): a checkpoint extends it
-- with the leaves appended since, instead of reading every leaf of the log again (issue 14).
-- Derived data: verify recomputes the tree from the leaves, so a frontier edited by hand gives a
-- checkpoint that does not verify. An empty frontier of size 0 is rebuilt from the leaves.
ALTER TABLE processors ADD COLUMN log_frontier TEXT NOT NULL DEFAULT '';
ALTER TABLE processors ADD COLUMN log_frontier_size BIGINT NOT NULL DEFAULT 0;
