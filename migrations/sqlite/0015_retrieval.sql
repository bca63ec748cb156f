-- Organization-verified password retrieval (密码索取).
-- Same version numbers as migrations/postgres.
--
-- A retrieval is a review case of kind 'password_retrieval' with two
-- states of its own: 'awaiting_documents' (the form is in, the stamped
-- scans are not) and 'awaiting_completion' (approved; the one-time
-- retrieval code went out by SMS). Both are open states.
DROP INDEX review_cases_one_open;
CREATE UNIQUE INDEX review_cases_one_open ON review_cases (account_id, kind)
    WHERE state IN ('submitted', 'in_review', 'approved', 'awaiting_rebind', 'rejected', 'edited', 'awaiting_documents', 'awaiting_completion');
-- File authentication and the completion page look a case up by its number.
CREATE INDEX review_cases_public_number ON review_cases (public_number);

-- The one-time retrieval code of an approved case: a salted SHA-256 of
-- six digits, valid until expires_at, at most 5 tries (counted here, so
-- every node sees the same count). Deleted when the case completes.
CREATE TABLE retrieval_codes (
    case_id BLOB PRIMARY KEY NOT NULL REFERENCES review_cases (id),
    salt TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    tries INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);

-- An organization registered by a member of the public (status
-- 'pending'): who to call about it. Confirmed by a reviewer with the
-- retrieval case, or by an administrator on its own; an unconfirmed one
-- with no open case and no accounts goes after retrieval.registration_days.
CREATE TABLE organization_registrations (
    organization_id BLOB PRIMARY KEY NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    contact_name TEXT NOT NULL,
    contact_phone TEXT NOT NULL,
    created_at TEXT NOT NULL
);
