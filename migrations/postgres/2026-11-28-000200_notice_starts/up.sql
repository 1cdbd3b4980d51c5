-- When notice counts (issue 13 item 7): an agreement's windows run from the announcement or from
-- the first dispatch of the notice. A window that has not started stores the far-future deadline
-- 9999-12-31T23:59:59Z (domain::deadline::not_started), so no deadline query closes it by mistake.
ALTER TABLE agreements ADD COLUMN notice_starts TEXT NOT NULL DEFAULT 'announcement';
ALTER TABLE agreement_versions ADD COLUMN notice_starts TEXT NOT NULL DEFAULT 'announcement';
ALTER TABLE objection_windows ADD COLUMN notified_at TIMESTAMP;
ALTER TABLE objection_windows ADD COLUMN notified_via TEXT;
