-- Password recovery finds an account by its verified security e-mail, so
-- a verified address belongs to one account only (compared without case).
CREATE UNIQUE INDEX users_verified_security_email ON users (lower(security_email))
    WHERE security_email_verified;
