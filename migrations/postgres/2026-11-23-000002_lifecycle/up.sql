CREATE TABLE changes (
    id TEXT PRIMARY KEY,
    processor_id TEXT NOT NULL REFERENCES processors (id),
    kind TEXT NOT NULL,
    -- the new entry (addition, replacement) or the entry removed (removal)
    subprocessor_id TEXT REFERENCES subprocessors (id),
    -- the entry replaced (replacement) or removed (removal)
    replaces TEXT REFERENCES subprocessors (id),
    summary TEXT NOT NULL,
    planned_from TIMESTAMP,
    state TEXT NOT NULL,
    announced_at TIMESTAMP,
    earliest_use TIMESTAMP,
    effective_at TIMESTAMP,
    withdrawn_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX changes_processor ON changes (processor_id, id);
CREATE INDEX changes_due ON changes (state, planned_from);

CREATE TABLE objection_windows (
    id TEXT PRIMARY KEY,
    change_id TEXT NOT NULL REFERENCES changes (id),
    agreement_id TEXT NOT NULL REFERENCES agreements (id),
    controller_id TEXT NOT NULL REFERENCES controllers (id),
    processor_id TEXT NOT NULL REFERENCES processors (id),
    opened_at TIMESTAMP NOT NULL,
    closes_at TIMESTAMP NOT NULL,
    state TEXT NOT NULL,
    conflicts TEXT NOT NULL,
    decided_at TIMESTAMP,
    -- NULL while the window is live; set exactly once, when it reaches its terminal state
    closed_at TIMESTAMP,
    objection_reason TEXT,
    objection_at TIMESTAMP,
    approval_note TEXT,
    approval_at TIMESTAMP,
    UNIQUE (change_id, agreement_id)
);
CREATE INDEX objection_windows_due ON objection_windows (closed_at, closes_at);
CREATE INDEX objection_windows_controller ON objection_windows (controller_id, id);
CREATE INDEX objection_windows_change ON objection_windows (change_id);
