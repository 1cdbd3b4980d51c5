-- The sweeper's question, "which open windows of this processor are past their deadline,
-- earliest first", answered from an index in deadline order that holds only open windows: a
-- batch reads its rows and stops, instead of reading and sorting every due window again.
CREATE INDEX objection_windows_open ON objection_windows (processor_id, closes_at) WHERE closed_at IS NULL;
-- It also serves what the older index served (open windows due by a time, for reminders and
-- metrics); closing a window no longer writes an entry into it.
DROP INDEX objection_windows_due;
