-- The browser sign-ins of each account (`/account/sessions`): one row per
-- OIDC session id, written at sign-in, its last activity refreshed every
-- few minutes, removed when the sign-in ends. A session whose row is gone
-- is signed out at its next request, on any node. `epoch` is the account's
-- session epoch at sign-in: a row of an older epoch (password changed,
-- account disabled) is no longer live. Times are Unix seconds, compared
-- the same way on both databases.
CREATE TABLE sign_ins (
    sid TEXT PRIMARY KEY,
    handle TEXT NOT NULL UNIQUE,
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    epoch BIGINT NOT NULL,
    signed_in_at BIGINT NOT NULL,
    last_active_at BIGINT NOT NULL,
    ip TEXT,
    user_agent TEXT
);
CREATE INDEX sign_ins_user ON sign_ins (user_id);
