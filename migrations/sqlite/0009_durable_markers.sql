-- Facts whose loss would weaken security, kept here rather than in the
-- ephemeral store (Redis or memory), which may lose them: revoked access
-- tokens, redeemed authorization codes, used client-assertion ids, used or
-- withdrawn tickets (mailed links, recovery proofs). Each row matters only
-- until `expires_at` (Unix seconds) and is purged after.

CREATE TABLE revoked_access_tokens (
    jti TEXT PRIMARY KEY NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX revoked_access_tokens_expiry ON revoked_access_tokens (expires_at);

-- The grant a code produced (or will: the row is written before the
-- grant), so a replay can revoke it.
CREATE TABLE redeemed_codes (
    code_hash TEXT PRIMARY KEY NOT NULL,
    grant_id BLOB NOT NULL,
    replayed BOOLEAN NOT NULL DEFAULT FALSE,
    expires_at INTEGER NOT NULL
);
CREATE INDEX redeemed_codes_expiry ON redeemed_codes (expires_at);

CREATE TABLE used_client_assertions (
    client_id TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    jti TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX used_client_assertions_expiry ON used_client_assertions (expires_at);

-- By the SHA-256 of the ticket's token (its fingerprint).
CREATE TABLE spent_tickets (
    fingerprint TEXT PRIMARY KEY NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX spent_tickets_expiry ON spent_tickets (expires_at);
