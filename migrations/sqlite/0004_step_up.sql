-- SMS step-up: when an account last proved its phone, whether its next
-- login must (after a password reset), which devices it verified, which
-- clients always require it, and server secrets shared by all nodes.
ALTER TABLE users ADD COLUMN last_sms_at TEXT;
ALTER TABLE users ADD COLUMN step_up_required BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE clients ADD COLUMN require_sms BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE trusted_devices (
    user_id BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_hash TEXT NOT NULL,
    verified_at TEXT NOT NULL,
    PRIMARY KEY (user_id, device_hash)
);

CREATE TABLE server_secrets (
    name TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
);
