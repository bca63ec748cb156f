-- Roles an account holds beside the system administrator's (is_admin):
-- their names, sorted and separated by one space ('' for none). The first
-- is 'reviewer' (decides review cases). A role that applies to part of the
-- passport only (the organization administrator of a later release) keeps
-- its name here and what it applies to in a table of its own. Read with the
-- account, so asking whether an account holds a role costs no query.
-- Same version numbers as migrations/sqlite.
ALTER TABLE users ADD COLUMN roles TEXT NOT NULL DEFAULT '';
