-- Request URIs a client hosts its signed request objects at (RFC 9101 §5.2,
-- OIDC Dynamic Client Registration §2 `request_uris`): a JSON list; only
-- these are fetched. Same version numbers as the other database's migrations.
ALTER TABLE clients ADD COLUMN request_uris TEXT NOT NULL DEFAULT '[]';
