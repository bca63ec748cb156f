-- The organization registry (单位) and its administrators (所邮箱管理员).
-- Same version numbers as migrations/sqlite.
--
-- An organization: its full name as on its seal (unique), a short name,
-- aliases and mail domains (JSON lists of text, as shown), a status
-- ('active'; 'pending': registered by a member of the public, awaiting
-- review; 'inactive': keeps its accounts, takes no new ones).
CREATE TABLE organizations (
    id UUID PRIMARY KEY,
    full_name TEXT NOT NULL UNIQUE,
    short_name TEXT,
    aliases TEXT NOT NULL DEFAULT '[]',
    mail_domains TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'pending', 'inactive')),
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- Every name of an organization (full name, short name, aliases) by its
-- lookup key (domain::organization::name_key: compatibility form, lower
-- case, single spaces): a name finds one organization, and no two
-- organizations share one. Written with the organization, in Rust (the
-- key needs Unicode rules SQL does not have).
CREATE TABLE organization_names (
    name_key TEXT PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('full', 'short', 'alias'))
);
CREATE INDEX organization_names_organization ON organization_names (organization_id);

-- Mail domains, each of one organization.
CREATE TABLE organization_domains (
    domain TEXT PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE
);
CREATE INDEX organization_domains_organization ON organization_domains (organization_id);

-- Organization administrators: which organizations' accounts each one
-- looks after. The account holds the role 'org_admin' while it has a row.
CREATE TABLE organization_admins (
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, organization_id)
);
CREATE INDEX organization_admins_organization ON organization_admins (organization_id);

-- The free text of users.organization becomes the registry: every distinct
-- non-empty value (spaces trimmed) an active organization, dated by its
-- first account; the accounts are linked to it. Their name keys are
-- written at the next start (state.rs), which also merges names that
-- differ only in width, case or spacing.
INSERT INTO organizations (id, full_name, created_at, updated_at)
SELECT gen_random_uuid(), name, MIN(created_at), MIN(created_at)
FROM (SELECT TRIM(organization) AS name, created_at FROM users
      WHERE organization IS NOT NULL AND TRIM(organization) <> '') AS named
GROUP BY name;

ALTER TABLE users ADD COLUMN organization_id UUID REFERENCES organizations (id);
UPDATE users SET organization_id =
    (SELECT o.id FROM organizations o WHERE o.full_name = TRIM(users.organization))
WHERE organization IS NOT NULL AND TRIM(organization) <> '';

DROP INDEX users_organization;
ALTER TABLE users DROP COLUMN organization;
CREATE INDEX users_organization ON users (organization_id);
