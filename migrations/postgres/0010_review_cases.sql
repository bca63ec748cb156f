-- The review-case engine (phone-unbind applications; later the
-- organization-verified retrieval): cases, their append-only history, and
-- the encrypted identity documents. Same version numbers as migrations/sqlite.

CREATE TABLE review_cases (
    id UUID PRIMARY KEY,
    kind TEXT NOT NULL,
    -- A number printed for the applicant where the kind has one.
    public_number TEXT UNIQUE,
    -- NULL where the kind may not know the account yet.
    account_id UUID REFERENCES users (id),
    state TEXT NOT NULL,
    -- Bumped when a rejected case is edited and submitted again.
    revision BIGINT NOT NULL DEFAULT 1,
    -- Optimistic lock: every change sets version = version + 1 WHERE version = the one read.
    version BIGINT NOT NULL DEFAULT 1,
    -- Kind-specific, non-sensitive data (JSON object).
    data TEXT NOT NULL DEFAULT '{}',
    contact_phone TEXT,
    contact_email TEXT,
    consent_version TEXT,
    consent_at TIMESTAMPTZ,
    submitted_at TIMESTAMPTZ NOT NULL,
    due_at TIMESTAMPTZ,
    claimed_by UUID,
    claimed_at TIMESTAMPTZ,
    decided_at TIMESTAMPTZ,
    -- The deciding reviewer(s): JSON list of {"id", "name", "at"}.
    approvals TEXT NOT NULL DEFAULT '[]',
    effective_at TIMESTAMPTZ,
    completed_at TIMESTAMPTZ,
    purge_after TIMESTAMPTZ,
    applicant_note TEXT,
    internal_note TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- One open case per account and kind.
CREATE UNIQUE INDEX review_cases_one_open ON review_cases (account_id, kind)
    WHERE state IN ('submitted', 'in_review', 'approved', 'awaiting_rebind', 'rejected', 'edited');
CREATE INDEX review_cases_queue ON review_cases (kind, state, due_at);
CREATE INDEX review_cases_purge ON review_cases (purge_after);

CREATE TABLE case_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id UUID NOT NULL REFERENCES review_cases (id),
    revision BIGINT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    event TEXT NOT NULL,
    actor_id UUID,
    actor TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    note TEXT,
    ip TEXT
);

CREATE INDEX case_events_case ON case_events (case_id, id);

CREATE FUNCTION case_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'case_events is append-only';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER case_events_no_change BEFORE UPDATE OR DELETE ON case_events
    FOR EACH ROW EXECUTE FUNCTION case_events_append_only();
CREATE TRIGGER case_events_no_truncate BEFORE TRUNCATE ON case_events
    FOR EACH STATEMENT EXECUTE FUNCTION case_events_append_only();

-- Per revision and slot. The image is a re-encoded JPEG, encrypted with
-- its own AES-256-GCM key; that key is wrapped by the key-encryption key
-- named by kek_id. A purge clears ciphertext and wrapped_key and keeps
-- the row as a record that the document existed.
CREATE TABLE case_documents (
    case_id UUID NOT NULL REFERENCES review_cases (id),
    revision BIGINT NOT NULL,
    slot BIGINT NOT NULL,
    kek_id TEXT NOT NULL,
    wrapped_key BYTEA,
    ciphertext BYTEA,
    width BIGINT NOT NULL,
    height BIGINT NOT NULL,
    byte_len BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    purged_at TIMESTAMPTZ,
    PRIMARY KEY (case_id, revision, slot)
);
