-- DPoP (RFC 9449): clients that must bind their tokens to a key, and the
-- key a grant's refresh tokens are bound to.
-- Same version numbers as the other database's migrations.
ALTER TABLE clients ADD COLUMN dpop_bound_access_tokens BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE grants ADD COLUMN dpop_jkt TEXT;
