-- Password recovery finds an account by its verified security e-mail, so
-- a verified address belongs to one account only. Verified addresses are
-- stored in lower case (normalised in Rust, the same on both databases).
CREATE UNIQUE INDEX users_verified_security_email ON users (security_email)
    WHERE security_email_verified;
