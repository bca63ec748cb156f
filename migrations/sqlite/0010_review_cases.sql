-- The review-case engine (phone-unbind applications; later the
-- organization-verified retrieval): cases, their append-only history, and
-- the encrypted identity documents. Same version numbers as migrations/postgres.

CREATE TABLE review_cases (
    id BLOB PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    -- A number printed for the applicant where the kind has one.
    public_number TEXT UNIQUE,
    -- NULL where the kind may not know the account yet.
    account_id BLOB REFERENCES users (id),
    state TEXT NOT NULL,
    -- Bumped when a rejected case is edited and submitted again.
    revision INTEGER NOT NULL DEFAULT 1,
    -- Optimistic lock: every change sets version = version + 1 WHERE version = the one read.
    version INTEGER NOT NULL DEFAULT 1,
    -- Kind-specific, non-sensitive data (JSON object).
    data TEXT NOT NULL DEFAULT '{}',
    contact_phone TEXT,
    contact_email TEXT,
    consent_version TEXT,
    consent_at TEXT,
    submitted_at TEXT NOT NULL,
    due_at TEXT,
    claimed_by BLOB,
    claimed_at TEXT,
    decided_at TEXT,
    -- The deciding reviewer(s): JSON list of {"id", "name", "at"}.
    approvals TEXT NOT NULL DEFAULT '[]',
    effective_at TEXT,
    completed_at TEXT,
    purge_after TEXT,
    applicant_note TEXT,
    internal_note TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- One open case per account and kind.
CREATE UNIQUE INDEX review_cases_one_open ON review_cases (account_id, kind)
    WHERE state IN ('submitted', 'in_review', 'approved', 'awaiting_rebind', 'rejected', 'edited');
CREATE INDEX review_cases_queue ON review_cases (kind, state, due_at);
CREATE INDEX review_cases_purge ON review_cases (purge_after);

CREATE TABLE case_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id BLOB NOT NULL REFERENCES review_cases (id),
    revision INTEGER NOT NULL,
    at TEXT NOT NULL,
    event TEXT NOT NULL,
    actor_id BLOB,
    actor TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    note TEXT,
    ip TEXT
);

CREATE INDEX case_events_case ON case_events (case_id, id);

CREATE TRIGGER case_events_no_update BEFORE UPDATE ON case_events
BEGIN
    SELECT RAISE(ABORT, 'case_events is append-only');
END;

CREATE TRIGGER case_events_no_delete BEFORE DELETE ON case_events
BEGIN
    SELECT RAISE(ABORT, 'case_events is append-only');
END;

-- Per revision and slot. The image is a re-encoded JPEG, encrypted with
-- its own AES-256-GCM key; that key is wrapped by the key-encryption key
-- named by kek_id. A purge clears ciphertext and wrapped_key and keeps
-- the row as a record that the document existed.
CREATE TABLE case_documents (
    case_id BLOB NOT NULL REFERENCES review_cases (id),
    revision INTEGER NOT NULL,
    slot INTEGER NOT NULL,
    kek_id TEXT NOT NULL,
    wrapped_key BLOB,
    ciphertext BLOB,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    byte_len INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    purged_at TEXT,
    PRIMARY KEY (case_id, revision, slot)
);
