-- Dynamic client registration (RFC 7591 / RFC 7592; issue 19 point 4).
-- Same version numbers as migrations/sqlite.
--
-- A client registered through /register: marked, so administrators see
-- it; the SHA-256 (hex) of its registration access token, which reads,
-- replaces and deletes it (RFC 7592); and the grant types it registered
-- (a JSON list; NULL for clients an administrator registered, which are
-- not limited this way).
ALTER TABLE clients ADD COLUMN registered_dynamically BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE clients ADD COLUMN registration_token_hash TEXT;
ALTER TABLE clients ADD COLUMN grant_types TEXT;

-- Initial access tokens (RFC 7591 §3): issued by administrators, shown
-- once and stored as SHA-256 (hex) only. Each allows uses_allowed
-- registrations until expires_at (Unix seconds, by the application's
-- clock); uses_left goes down by one in the transaction that stores the
-- client, so the last use cannot be spent twice. Revoked tokens and used
-- up ones stay as history.
CREATE TABLE registration_tokens (
    id UUID PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    description TEXT,
    uses_allowed BIGINT NOT NULL,
    uses_left BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at TIMESTAMPTZ
);
