-- The application list (应用列表) and application-specific passwords
-- (应用独立密码). Same version numbers as migrations/sqlite.
--
-- How the application list shows a client: its name in English beside
-- `name` (the default, zh-CN), a short description in each language, a
-- logo and a home page; first-party clients appear there only when marked.
-- app_passwords_allowed: people may make application passwords for it
-- (mail clients speaking IMAP/SMTP, through the LDAP interface).
ALTER TABLE clients ADD COLUMN name_en TEXT;
ALTER TABLE clients ADD COLUMN description TEXT;
ALTER TABLE clients ADD COLUMN description_en TEXT;
ALTER TABLE clients ADD COLUMN logo_uri TEXT;
ALTER TABLE clients ADD COLUMN home_uri TEXT;
ALTER TABLE clients ADD COLUMN show_in_app_list BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE clients ADD COLUMN app_passwords_allowed BOOLEAN NOT NULL DEFAULT FALSE;

-- One row per application password. mac: HMAC-SHA-256 of the secret under
-- the server secret `app-password-key:<key_id>` (server_secrets; a new
-- key id in configuration is a rotation, and every stored key still
-- verifies), hex; the secret itself is never stored. A password is active
-- while revoked_at is NULL; revoked rows stay as history.
CREATE TABLE app_passwords (
    id UUID PRIMARY KEY NOT NULL,
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    key_id TEXT NOT NULL,
    mac TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ,
    last_used_ip TEXT,
    revoked_at TIMESTAMPTZ,
    revoked_reason TEXT
);
CREATE INDEX app_passwords_user ON app_passwords (user_id) WHERE revoked_at IS NULL;
