-- Nothing to undo: the repaired rows stay failed.
SELECT 1;
