-- Accounts imported from the system Tongxing replaces (`tongxing import`):
-- the password hash the last import wrote, as written (NULL: none was
-- imported). A later import writes a new hash only while the account's
-- hash is still this one (or the account has no password): once the
-- person has signed in (the imported hash is then replaced by an argon2id
-- one) or set a password, no import overwrites it.
-- Same version numbers as migrations/sqlite.
ALTER TABLE users ADD COLUMN imported_password_hash TEXT;
