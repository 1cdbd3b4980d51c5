-- Idempotency-Key on POST: per token scope (role:org) and key, the request's fingerprint and,
-- once it finished, the answer to replay. While `status` is NULL the request is in flight;
-- its claim (`lease_id`) holds until `locked_until`, after which a retry may take it over, so a
-- request that never finished (a crash) does not block its key for ever.
CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    lease_id TEXT NOT NULL,
    locked_until TIMESTAMP NOT NULL,
    status INTEGER,
    headers TEXT,
    body TEXT,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    PRIMARY KEY (scope, idem_key)
);
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);
