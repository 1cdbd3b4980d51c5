-- Deadlines are counted in calendar days on the agreement's local calendar (Reg. 1182/71 art. 3).
ALTER TABLE agreements ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'Europe/Copenhagen';
-- The last day of the notice period on that calendar (YYYY-MM-DD), for people; null on windows
-- opened before deadlines were counted this way.
ALTER TABLE objection_windows ADD COLUMN closes_on TEXT;
