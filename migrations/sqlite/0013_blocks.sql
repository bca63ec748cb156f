-- Weak-password blocks per application (弱密码停用).
-- Same version numbers as migrations/postgres.
--
-- A client marked require_strong_password refuses accounts whose password
-- the passport found weak (mail and ARP are).
ALTER TABLE clients ADD COLUMN require_strong_password BOOLEAN NOT NULL DEFAULT FALSE;

-- One row per block of an account for one client ('*': every client).
-- reason: 'weak_password' (set at a sign-in with a password the current
-- policy refuses), 'admin' (set by an administrator), 'compromised'.
-- created_by / lifted_by name the actor as the audit log does. A block is
-- active while lifted_at is NULL; lifted rows stay as history.
-- client_id has no foreign key: '*' is not a client, and a removed
-- client's blocks stay in the history.
CREATE TABLE account_blocks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    reason TEXT NOT NULL CHECK (reason IN ('weak_password', 'admin', 'compromised')),
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    lifted_at TEXT,
    lifted_by TEXT
);
-- "May this account use this client now?" is one lookup in this index; it
-- also keeps a block from being set twice (ON CONFLICT DO NOTHING).
CREATE UNIQUE INDEX account_blocks_active ON account_blocks (user_id, client_id, reason)
    WHERE lifted_at IS NULL;
-- The console's list of blocked accounts, by application.
CREATE INDEX account_blocks_client ON account_blocks (client_id) WHERE lifted_at IS NULL;
