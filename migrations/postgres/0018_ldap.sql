-- The LDAP interface (read-only; mail servers and other legacy applications).
-- Same version numbers in migrations/sqlite and migrations/postgres.
--
-- ldap_bind: whether people may bind naming this client, and with what:
-- 'off' (no bind), 'password' (the passport password or an application
-- password of this client), 'app_passwords' (application passwords only).
-- ldap_search: the client itself, bound with its secret, may search.
ALTER TABLE clients ADD COLUMN ldap_bind TEXT NOT NULL DEFAULT 'off'
    CHECK (ldap_bind IN ('off', 'password', 'app_passwords'));
ALTER TABLE clients ADD COLUMN ldap_search BOOLEAN NOT NULL DEFAULT FALSE;
