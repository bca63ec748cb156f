-- Guided binding of a login phone (完善个人实名信息). NULL: the deployment's
-- policy decides whether an account without a login phone must bind one;
-- 'required': an administrator demanded it; 'after_unbind': an approved
-- unbind application removed the phone, and binding can never be skipped.
ALTER TABLE users ADD COLUMN phone_binding TEXT;

-- Data rewrites done in Rust at start (they need more than SQL can say,
-- such as the numbering plan behind the canonical E.164 form of a phone),
-- each recorded once it has run.
CREATE TABLE data_migrations (
    name TEXT PRIMARY KEY,
    applied_at TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
