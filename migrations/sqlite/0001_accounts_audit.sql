-- Accounts and the append-only audit log. Same version numbers as migrations/postgres.

CREATE TABLE users (
    id BLOB PRIMARY KEY NOT NULL,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    login_phone TEXT UNIQUE,
    security_phone TEXT,
    security_email TEXT,
    security_email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    organization TEXT,
    is_admin BOOLEAN NOT NULL DEFAULT FALSE,
    status TEXT NOT NULL DEFAULT 'active',
    status_reason TEXT,
    password_hash TEXT NOT NULL,
    password_changed_at TEXT NOT NULL,
    session_epoch INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    last_login_at TEXT
);

CREATE INDEX users_organization ON users (organization);
CREATE INDEX users_security_phone ON users (security_phone);

CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    event TEXT NOT NULL,
    outcome TEXT NOT NULL,
    actor_id BLOB,
    actor TEXT NOT NULL,
    subject_id BLOB,
    subject TEXT,
    ip TEXT,
    user_agent TEXT,
    detail TEXT NOT NULL DEFAULT '{}'
);

CREATE INDEX audit_events_subject ON audit_events (subject_id, id);
CREATE INDEX audit_events_event ON audit_events (event, id);
CREATE INDEX audit_events_at ON audit_events (at);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
