//! The organization registry: organizations, their name keys and mail
//! domains (unique across the registry), and their administrators.

use serde_json::json;
use sqlx::FromRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::audit::{NewAuditEvent, insert_audit};
use super::users::User;
use super::{BeginWrite, Db, Store, StoreError, on_db};
use crate::domain::{OrganizationStatus, Role, Roles};

/// A list of names kept as a JSON array of strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameList(pub Vec<String>);

impl TryFrom<String> for NameList {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        serde_json::from_str(&value)
            .map(NameList)
            .map_err(|e| format!("not a JSON list of names: {e}"))
    }
}

impl NameList {
    fn stored(list: &[String]) -> String {
        json!(list).to_string()
    }
}

#[derive(Debug, Clone, FromRow)]
pub struct Organization {
    pub id: Uuid,
    pub full_name: String,
    pub short_name: Option<String>,
    #[sqlx(try_from = "String")]
    pub aliases: NameList,
    #[sqlx(try_from = "String")]
    pub mail_domains: NameList,
    #[sqlx(try_from = "String")]
    pub status: OrganizationStatus,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// What kind of name a key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Full,
    Short,
    Alias,
}

impl NameKind {
    fn as_str(self) -> &'static str {
        match self {
            NameKind::Full => "full",
            NameKind::Short => "short",
            NameKind::Alias => "alias",
        }
    }

    /// The input field a name of this kind comes from.
    pub fn field(self) -> &'static str {
        match self {
            NameKind::Full => "full_name",
            NameKind::Short => "short_name",
            NameKind::Alias => "aliases",
        }
    }
}

/// An organization as it is to be written: its names and domains as
/// shown, and the lookup key of each name (one per key: the caller drops
/// a name whose key another of the same organization already has).
#[derive(Debug, Clone)]
pub struct OrgRecord {
    pub full_name: String,
    pub short_name: Option<String>,
    pub aliases: Vec<String>,
    pub mail_domains: Vec<String>,
    pub status: OrganizationStatus,
    pub keys: Vec<NameKey>,
}

/// One name of an organization and its lookup key.
#[derive(Debug, Clone)]
pub struct NameKey {
    pub key: String,
    pub kind: NameKind,
    /// The name as shown.
    pub name: String,
}

const COLUMNS: &str = "o.id, o.full_name, o.short_name, o.aliases, o.mail_domains, o.status, \
    o.version, o.created_at, o.updated_at";
/// The same, unqualified (for RETURNING).
const RETURNING: &str =
    "id, full_name, short_name, aliases, mail_domains, status, version, created_at, updated_at";

/// The data rewrite that gives the organizations made from free text by
/// migration 0012 their name keys (see [`Store::complete_organization_keys`]).
const ORGANIZATION_KEYS: &str = "0012_organization_name_keys";

/// What [`Store::complete_organization_keys`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct KeysCompleted {
    /// Organizations that got their key.
    pub keyed: u64,
    /// Organizations whose name differed from another's only in width,
    /// case or spacing: their accounts moved to that one.
    pub merged: u64,
}

/// Which page of the registry to read.
#[derive(Debug, Clone, Default)]
pub struct OrgFilter {
    /// Part of a name key (see [`crate::domain::name_key`]); matches full
    /// names, short names, aliases and mail domains.
    pub key_part: Option<String>,
    pub status: Option<OrganizationStatus>,
    pub limit: i64,
    pub offset: i64,
}

/// `%part%` for LIKE with `\` escaping.
fn like_pattern(part: &str) -> String {
    format!(
        "%{}%",
        part.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    )
}

/// Inside the open transaction `$tx`: writes the name keys and domains of
/// organization `$id` from `$rec` (replacing those it had). Evaluates to
/// `Err(StoreError::Conflict(field))` when a key or domain is another
/// organization's, naming the field it came from.
macro_rules! write_names {
    ($tx:expr, $id:expr, $rec:expr) => {{
        let (id, rec): (Uuid, &OrgRecord) = ($id, $rec);
        let mut outcome: Result<(), StoreError> = Ok(());
        for NameKey { key, kind, .. } in &rec.keys {
            let taken: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM organization_names WHERE name_key = $1 AND organization_id <> $2",
            )
            .bind(key)
            .bind(id)
            .fetch_one(&mut *$tx)
            .await?;
            if taken > 0 {
                outcome = Err(StoreError::Conflict(kind.field()));
                break;
            }
        }
        for domain in &rec.mail_domains {
            if outcome.is_err() {
                break;
            }
            let taken: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM organization_domains WHERE domain = $1 AND organization_id <> $2",
            )
            .bind(domain)
            .bind(id)
            .fetch_one(&mut *$tx)
            .await?;
            if taken > 0 {
                outcome = Err(StoreError::Conflict("mail_domains"));
            }
        }
        if outcome.is_ok() {
            sqlx::query("DELETE FROM organization_names WHERE organization_id = $1")
                .bind(id)
                .execute(&mut *$tx)
                .await?;
            sqlx::query("DELETE FROM organization_domains WHERE organization_id = $1")
                .bind(id)
                .execute(&mut *$tx)
                .await?;
            for NameKey { key, kind, .. } in &rec.keys {
                sqlx::query(
                    "INSERT INTO organization_names (name_key, organization_id, kind) VALUES ($1, $2, $3)",
                )
                .bind(key)
                .bind(id)
                .bind(kind.as_str())
                .execute(&mut *$tx)
                .await?;
            }
            for domain in &rec.mail_domains {
                sqlx::query("INSERT INTO organization_domains (domain, organization_id) VALUES ($1, $2)")
                    .bind(domain)
                    .bind(id)
                    .execute(&mut *$tx)
                    .await?;
            }
        }
        outcome
    }};
}

impl Store {
    /// Registers an organization with its audit entries, in one transaction.
    pub async fn insert_organization(
        &self,
        id: Uuid,
        rec: &OrgRecord,
        audits: &[NewAuditEvent],
    ) -> Result<Organization, StoreError> {
        self.insert_organization_with(id, rec, None, audits).await
    }

    /// [`Store::insert_organization`], with the contact (name, E.164
    /// phone) of a member of the public who registered it, in the same
    /// transaction.
    pub async fn insert_organization_with(
        &self,
        id: Uuid,
        rec: &OrgRecord,
        contact: Option<(&str, &str)>,
        audits: &[NewAuditEvent],
    ) -> Result<Organization, StoreError> {
        let now = self.now();
        let sql = format!(
            "INSERT INTO organizations (id, full_name, short_name, aliases, mail_domains, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING {RETURNING}"
        );
        let result: Result<Result<Organization, StoreError>, sqlx::Error> = on_db!(self, pool => async {
            let mut tx = pool.begin_write().await?;
            let taken: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organizations WHERE full_name = $1")
                .bind(&rec.full_name)
                .fetch_one(&mut *tx)
                .await?;
            if taken > 0 {
                tx.rollback().await?;
                return Ok(Err(StoreError::Conflict("full_name")));
            }
            let org = sqlx::query_as::<_, Organization>(&sql)
                .bind(id)
                .bind(&rec.full_name)
                .bind(&rec.short_name)
                .bind(NameList::stored(&rec.aliases))
                .bind(NameList::stored(&rec.mail_domains))
                .bind(rec.status.as_str())
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            if let Err(e) = write_names!(tx, id, rec) {
                tx.rollback().await?;
                return Ok(Err(e));
            }
            if let Some((name, phone)) = contact {
                sqlx::query(
                    "INSERT INTO organization_registrations (organization_id, contact_name, contact_phone, created_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(id)
                .bind(name)
                .bind(phone)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            for audit in audits {
                insert_audit!(&mut *tx, audit, now)?;
            }
            tx.commit().await?;
            Ok(Ok(org))
        }.await);
        result.map_err(|e| {
            StoreError::from_write(
                e,
                &["full_name", "organization_names", "organization_domains"],
            )
            .renamed()
        })?
    }

    /// Replaces an organization's names, domains and status if it is still
    /// at `version`; the audit entries commit with it.
    pub async fn update_organization(
        &self,
        id: Uuid,
        version: i64,
        rec: &OrgRecord,
        audits: &[NewAuditEvent],
    ) -> Result<Organization, StoreError> {
        let now = self.now();
        let sql = format!(
            "UPDATE organizations SET full_name = $3, short_name = $4, aliases = $5, mail_domains = $6, \
             status = $7, updated_at = $8, version = version + 1 WHERE id = $1 AND version = $2 RETURNING {RETURNING}"
        );
        let result: Result<Result<Option<Organization>, StoreError>, sqlx::Error> = on_db!(self, pool => async {
            let mut tx = pool.begin_write().await?;
            let taken: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organizations WHERE full_name = $1 AND id <> $2")
                .bind(&rec.full_name)
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
            if taken > 0 {
                tx.rollback().await?;
                return Ok(Err(StoreError::Conflict("full_name")));
            }
            let org = sqlx::query_as::<_, Organization>(&sql)
                .bind(id)
                .bind(version)
                .bind(&rec.full_name)
                .bind(&rec.short_name)
                .bind(NameList::stored(&rec.aliases))
                .bind(NameList::stored(&rec.mail_domains))
                .bind(rec.status.as_str())
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
            if org.is_none() {
                tx.rollback().await?;
                return Ok(Ok(None));
            }
            if let Err(e) = write_names!(tx, id, rec) {
                tx.rollback().await?;
                return Ok(Err(e));
            }
            for audit in audits {
                insert_audit!(&mut *tx, audit, now)?;
            }
            tx.commit().await?;
            Ok(Ok(org))
        }.await);
        let written = result.map_err(|e| {
            StoreError::from_write(
                e,
                &["full_name", "organization_names", "organization_domains"],
            )
            .renamed()
        })??;
        match written {
            Some(org) => Ok(org),
            None => match self.organization_by_id(id).await? {
                Some(_) => Err(StoreError::Stale),
                None => Err(StoreError::NotFound),
            },
        }
    }

    pub async fn organization_by_id(&self, id: Uuid) -> Result<Option<Organization>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM organizations o WHERE o.id = $1");
        Ok(
            on_db!(self, pool => sqlx::query_as::<_, Organization>(&sql).bind(id).fetch_optional(pool).await?),
        )
    }

    /// The organization one of whose names has this key.
    pub async fn organization_by_key(&self, key: &str) -> Result<Option<Organization>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM organizations o JOIN organization_names n ON n.organization_id = o.id \
             WHERE n.name_key = $1"
        );
        Ok(
            on_db!(self, pool => sqlx::query_as::<_, Organization>(&sql).bind(key).fetch_optional(pool).await?),
        )
    }

    /// The organization that has this mail domain.
    pub async fn organization_by_domain(
        &self,
        domain: &str,
    ) -> Result<Option<Organization>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM organizations o JOIN organization_domains d ON d.organization_id = o.id \
             WHERE d.domain = $1"
        );
        Ok(
            on_db!(self, pool => sqlx::query_as::<_, Organization>(&sql).bind(domain).fetch_optional(pool).await?),
        )
    }

    /// A page of the registry ordered by full name (code point order on
    /// both databases), with the total count.
    pub async fn search_organizations(
        &self,
        filter: &OrgFilter,
    ) -> Result<(Vec<Organization>, i64), StoreError> {
        let pattern = filter.key_part.as_deref().map(like_pattern);
        let status = filter.status.map(|s| s.as_str());
        // A name's key, or a mail domain (lower case, as kept).
        let condition = "($1 IS NULL OR EXISTS (SELECT 1 FROM organization_names n \
             WHERE n.organization_id = o.id AND n.name_key LIKE $1 ESCAPE '\\') \
             OR EXISTS (SELECT 1 FROM organization_domains d \
             WHERE d.organization_id = o.id AND d.domain LIKE $1 ESCAPE '\\')) \
             AND ($2 IS NULL OR o.status = $2)";
        let order = match self.db {
            Db::Sqlite(_) => "o.full_name",
            Db::Postgres(_) => "o.full_name COLLATE \"C\"",
        };
        let list = format!(
            "SELECT {COLUMNS} FROM organizations o WHERE {condition} ORDER BY {order} LIMIT $3 OFFSET $4"
        );
        let count = format!("SELECT COUNT(*) FROM organizations o WHERE {condition}");
        Ok(on_db!(self, pool => {
            let items = sqlx::query_as::<_, Organization>(&list)
                .bind(&pattern)
                .bind(status)
                .bind(filter.limit.clamp(1, 1000))
                .bind(filter.offset.max(0))
                .fetch_all(pool)
                .await?;
            let total: i64 = sqlx::query_scalar(&count)
                .bind(&pattern)
                .bind(status)
                .fetch_one(pool)
                .await?;
            (items, total)
        }))
    }

    /// How many accounts belong to the organization.
    pub async fn count_organization_members(&self, id: Uuid) -> Result<i64, StoreError> {
        Ok(
            on_db!(self, pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users WHERE organization_id = $1")
            .bind(id)
            .fetch_one(pool)
            .await?),
        )
    }

    /// The organizations whose administrator the account is.
    pub async fn administered_organizations(&self, user_id: Uuid) -> Result<Vec<Uuid>, StoreError> {
        Ok(on_db!(self, pool => sqlx::query_scalar::<_, Uuid>(
            "SELECT organization_id FROM organization_admins WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_all(pool)
        .await?))
    }

    /// The organizations whose administrator the account is, in full.
    pub async fn organizations_administered_by(
        &self,
        user_id: Uuid,
    ) -> Result<Vec<Organization>, StoreError> {
        let order = match self.db {
            Db::Sqlite(_) => "o.full_name",
            Db::Postgres(_) => "o.full_name COLLATE \"C\"",
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM organizations o JOIN organization_admins a ON a.organization_id = o.id \
             WHERE a.user_id = $1 ORDER BY {order}"
        );
        Ok(
            on_db!(self, pool => sqlx::query_as::<_, Organization>(&sql).bind(user_id).fetch_all(pool).await?),
        )
    }

    /// The administrators of an organization (whatever their status),
    /// ordered by account name.
    pub async fn organization_administrators(&self, org_id: Uuid) -> Result<Vec<User>, StoreError> {
        self.users_where(
            "id IN (SELECT user_id FROM organization_admins WHERE organization_id = $1) ORDER BY username",
            org_id,
        )
        .await
    }

    /// Makes the account an administrator of the organization (the role
    /// `org_admin` comes with the first one; a role change ends the
    /// account's sessions, as any other). Returns whether anything changed;
    /// the audit entries are written only then, in the same transaction.
    pub async fn assign_organization_admin(
        &self,
        user_id: Uuid,
        org_id: Uuid,
        audits: &[NewAuditEvent],
    ) -> Result<bool, StoreError> {
        let now = self.now();
        let changed: Result<bool, sqlx::Error> = on_db!(self, pool => async {
            let mut tx = pool.begin_write().await?;
            let n = sqlx::query(
                "INSERT INTO organization_admins (user_id, organization_id, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (user_id, organization_id) DO NOTHING",
            )
            .bind(user_id)
            .bind(org_id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                tx.rollback().await?;
                return Ok(false);
            }
            let roles: String = sqlx::query_scalar("SELECT roles FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await?;
            let before = Roles::from_stored(&roles);
            let after = before.with(Role::OrgAdmin, true);
            if after != before {
                sqlx::query(
                    "UPDATE users SET roles = $2, session_epoch = session_epoch + 1, version = version + 1, \
                     updated_at = $3 WHERE id = $1",
                )
                .bind(user_id)
                .bind(after.to_stored())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            for audit in audits {
                insert_audit!(&mut *tx, audit, now)?;
            }
            tx.commit().await?;
            Ok(true)
        }.await);
        Ok(changed?)
    }

    /// Ends the account's administration of the organization; the role
    /// `org_admin` goes with the last one. Returns whether anything changed.
    pub async fn remove_organization_admin(
        &self,
        user_id: Uuid,
        org_id: Uuid,
        audits: &[NewAuditEvent],
    ) -> Result<bool, StoreError> {
        let now = self.now();
        let changed: Result<bool, sqlx::Error> = on_db!(self, pool => async {
            let mut tx = pool.begin_write().await?;
            let n = sqlx::query("DELETE FROM organization_admins WHERE user_id = $1 AND organization_id = $2")
                .bind(user_id)
                .bind(org_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                tx.rollback().await?;
                return Ok(false);
            }
            let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organization_admins WHERE user_id = $1")
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await?;
            if left == 0 {
                let roles: String = sqlx::query_scalar("SELECT roles FROM users WHERE id = $1")
                    .bind(user_id)
                    .fetch_one(&mut *tx)
                    .await?;
                let before = Roles::from_stored(&roles);
                let after = before.with(Role::OrgAdmin, false);
                if after != before {
                    sqlx::query(
                        "UPDATE users SET roles = $2, session_epoch = session_epoch + 1, version = version + 1, \
                         updated_at = $3 WHERE id = $1",
                    )
                    .bind(user_id)
                    .bind(after.to_stored())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            for audit in audits {
                insert_audit!(&mut *tx, audit, now)?;
            }
            tx.commit().await?;
            Ok(true)
        }.await);
        Ok(changed?)
    }

    /// Gives every organization without name keys (those migration 0012
    /// made from the accounts' free text) the key of its full name, once
    /// per database. Names whose keys are equal (`CNIC` and `ＣＮＩＣ`) are
    /// one organization: the one whose full name sorts first keeps its
    /// name, the accounts of the others move to it, and the others go.
    pub async fn complete_organization_keys(
        &self,
        key: impl Fn(&str) -> String,
    ) -> Result<Option<KeysCompleted>, StoreError> {
        let done: Option<String> = on_db!(self, pool => sqlx::query_scalar("SELECT name FROM data_migrations WHERE name = $1")
            .bind(ORGANIZATION_KEYS)
            .fetch_optional(pool)
            .await?);
        if done.is_some() {
            return Ok(None);
        }
        let now = self.now();
        let report: Result<KeysCompleted, sqlx::Error> = on_db!(self, pool => async {
            let mut tx = pool.begin_write().await?;
            let mut rows: Vec<(Uuid, String)> = sqlx::query_as(
                "SELECT o.id, o.full_name FROM organizations o WHERE NOT EXISTS \
                 (SELECT 1 FROM organization_names n WHERE n.organization_id = o.id)",
            )
            .fetch_all(&mut *tx)
            .await?;
            rows.sort_by(|a, b| a.1.cmp(&b.1));
            let mut report = KeysCompleted::default();
            for (id, full_name) in rows {
                let k = key(&full_name);
                let owner: Option<Uuid> = sqlx::query_scalar(
                    "SELECT organization_id FROM organization_names WHERE name_key = $1",
                )
                .bind(&k)
                .fetch_optional(&mut *tx)
                .await?;
                match owner {
                    None => {
                        sqlx::query(
                            "INSERT INTO organization_names (name_key, organization_id, kind) VALUES ($1, $2, 'full')",
                        )
                        .bind(&k)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                        report.keyed += 1;
                    }
                    Some(keep) => {
                        sqlx::query("UPDATE users SET organization_id = $2 WHERE organization_id = $1")
                            .bind(id)
                            .bind(keep)
                            .execute(&mut *tx)
                            .await?;
                        sqlx::query("DELETE FROM organizations WHERE id = $1")
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                        report.merged += 1;
                    }
                }
            }
            let detail = json!({ "keyed": report.keyed, "merged": report.merged }).to_string();
            sqlx::query(
                "INSERT INTO data_migrations (name, applied_at, detail) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(ORGANIZATION_KEYS)
            .bind(now)
            .bind(&detail)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(report)
        }.await);
        Ok(Some(report?))
    }
}

impl StoreError {
    /// A unique violation found by the constraint (a race the checks
    /// before the write did not see) named as the request's field.
    fn renamed(self) -> Self {
        match self {
            StoreError::Conflict("organization_names") => StoreError::Conflict("aliases"),
            StoreError::Conflict("organization_domains") => StoreError::Conflict("mail_domains"),
            other => other,
        }
    }
}
