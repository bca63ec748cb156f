-- Protocol exactness (issue 19): the `claims` request parameter a grant
-- was made with (OIDC Core §5.5; JSON, NULL: none), so userinfo and the
-- ID tokens of refreshes release what was asked; and the account's postal
-- address (the OIDC `address` claim, §5.1.1; JSON, NULL: none).
-- Same version numbers as migrations/postgres.
ALTER TABLE grants ADD COLUMN claims TEXT;
ALTER TABLE users ADD COLUMN address TEXT;
