-- Admin features: a forced password change at the next login.
ALTER TABLE users ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX users_status ON users (status);
