-- Notice contacts (issue 13): the people an agreement's notices go to (owner_kind 'agreement')
-- and those a processor's objections go to (owner_kind 'processor'), in order.
CREATE TABLE notice_contacts (
    owner_kind TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    language TEXT NOT NULL,
    PRIMARY KEY (owner_kind, owner_id, position)
);

-- The transactional outbox of e-mails: one row per (event, recipient, kind), written in the
-- event's transaction, claimed with a lease by the mailer.
CREATE TABLE mail_outbox (
    id TEXT PRIMARY KEY NOT NULL,
    event_id TEXT NOT NULL,
    event_seq BIGINT NOT NULL,
    processor_id TEXT NOT NULL,
    controller_id TEXT,
    kind TEXT NOT NULL,
    recipient_name TEXT NOT NULL,
    recipient TEXT NOT NULL,
    language TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    leased_until TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (event_id, recipient, kind)
);
CREATE INDEX mail_outbox_due ON mail_outbox (state, next_attempt_at);
