CREATE TABLE processors (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    registration_scheme TEXT,
    registration_number TEXT,
    address TEXT NOT NULL,
    country TEXT NOT NULL,
    contact_email TEXT,
    -- head of this processor's evidence hash chain; updating it serialises event appends
    chain_head TEXT NOT NULL DEFAULT '0000000000000000000000000000000000000000000000000000000000000000',
    event_count BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE controllers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    registration_scheme TEXT,
    registration_number TEXT,
    contact_email TEXT,
    feed_token TEXT,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE agreements (
    id TEXT PRIMARY KEY,
    controller_id TEXT NOT NULL REFERENCES controllers (id),
    processor_id TEXT NOT NULL REFERENCES processors (id),
    authorisation TEXT NOT NULL,
    notice_days INTEGER NOT NULL,
    objection_requires_reason BOOLEAN NOT NULL,
    third_country_transfers TEXT NOT NULL,
    signed_at TIMESTAMP NOT NULL,
    reference TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX agreements_processor ON agreements (processor_id, id);
CREATE INDEX agreements_controller ON agreements (controller_id, id);

CREATE TABLE subprocessors (
    id TEXT PRIMARY KEY,
    processor_id TEXT NOT NULL REFERENCES processors (id),
    name TEXT NOT NULL,
    registration_scheme TEXT,
    registration_number TEXT,
    address TEXT NOT NULL,
    country TEXT NOT NULL,
    processing_locations TEXT NOT NULL,
    location TEXT NOT NULL,
    transfer_basis TEXT,
    transfer_basis_note TEXT,
    purpose TEXT NOT NULL,
    contact_name TEXT,
    contact_position TEXT,
    contact_email TEXT,
    status TEXT NOT NULL,
    active_from TIMESTAMP,
    active_until TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX subprocessors_processor ON subprocessors (processor_id, id);

CREATE TABLE events (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    processor_id TEXT NOT NULL REFERENCES processors (id),
    controller_id TEXT,
    event_type TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX events_processor ON events (processor_id, seq);
CREATE INDEX events_controller ON events (controller_id, seq);

CREATE TABLE test_clock (
    id INTEGER PRIMARY KEY,
    offset_ms BIGINT NOT NULL
);
