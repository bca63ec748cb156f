-- Pushed authorization requests (RFC 9126) and signed request objects
-- (RFC 9101): what a client demands of its own authorization requests.
-- Same version numbers as the other database's migrations.
ALTER TABLE clients ADD COLUMN require_pushed_authorization_requests BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE clients ADD COLUMN require_signed_request_object BOOLEAN NOT NULL DEFAULT FALSE;
