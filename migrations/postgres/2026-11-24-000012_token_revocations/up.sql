-- Per organisation: tokens whose `iat` is before this instant are refused (revoked by an admin).
CREATE TABLE token_revocations (
    org TEXT PRIMARY KEY,
    tokens_valid_after TIMESTAMP NOT NULL
);
