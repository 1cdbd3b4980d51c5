-- Webhook endpoints of processors and controllers, and the transactional outbox of deliveries.
CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    owner_kind TEXT NOT NULL,          -- processor | controller
    owner_id TEXT NOT NULL,
    url TEXT NOT NULL,
    event_types TEXT NOT NULL,         -- JSON array of event types; [] = every type
    enabled BOOLEAN NOT NULL,
    secret TEXT NOT NULL,              -- whsec_...; needed in clear to sign
    created_at TIMESTAMP NOT NULL,
    disabled_at TIMESTAMP,
    disabled_reason TEXT,
    failing_since TIMESTAMP            -- first failure of the current unbroken run of failures
);
CREATE INDEX webhook_endpoints_owner ON webhook_endpoints (owner_kind, owner_id, enabled);

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    event_seq BIGINT NOT NULL REFERENCES events (seq),
    state TEXT NOT NULL,               -- pending | succeeded | failed
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    leased_until TIMESTAMP,
    last_status INTEGER,
    last_latency_ms BIGINT,
    last_response TEXT,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (endpoint_id, event_seq)
);
-- The dispatcher's claim: due pending rows in order of due time.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
