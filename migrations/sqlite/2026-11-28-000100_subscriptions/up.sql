-- Public e-mail subscriptions (issue 13 item 4): double opt-in, one-click unsubscribe (RFC 8058).
-- An address is kept only while it is subscribed: unsubscribing deletes the row, and an
-- unconfirmed row is deleted by the sweeper once `expires_at` passes. Mail to a subscriber goes
-- through mail_outbox with kind `subscription.*` and the subscription's id as `recipient` (never
-- the address), so no address outlives its row and none reaches the events or the log.
CREATE TABLE subscriptions (
    id TEXT PRIMARY KEY NOT NULL,
    processor_id TEXT NOT NULL,
    email TEXT NOT NULL,
    -- The address lower-cased: one subscription per address and processor.
    email_key TEXT NOT NULL,
    language TEXT NOT NULL,
    -- `immediate` (a message per public event) or `daily` (a digest per day with events).
    frequency TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    -- When the latest confirmation message was asked for (one per address and hour).
    confirm_sent_at TIMESTAMP NOT NULL,
    -- Unconfirmed: when the row and its confirmation link lapse; NULL once confirmed.
    expires_at TIMESTAMP,
    confirmed_at TIMESTAMP,
    -- Daily: events before this instant (a local midnight) are digested or before the subscription.
    digest_through TIMESTAMP,
    UNIQUE (processor_id, email_key)
);
CREATE INDEX subscriptions_expires ON subscriptions (expires_at);
CREATE INDEX subscriptions_digest ON subscriptions (frequency, digest_through);
CREATE INDEX mail_outbox_recipient ON mail_outbox (recipient);
