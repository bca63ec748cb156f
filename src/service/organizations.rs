//! The organization registry (单位) and its administrators (所邮箱管理员).
//!
//! * An organization has a full name as on its seal, a short name, aliases
//!   and mail domains; any of its names finds it ([`resolve`]), compared by
//!   key ([`crate::domain::name_key`]: width, case and spacing do not
//!   matter), and no two organizations share a name or a domain.
//! * Accounts belong to one organization ([`for_account`] turns what an
//!   administrator typed into it).
//! * An organization administrator looks after the accounts of the
//!   organizations assigned to it and no others ([`AdminScope`], read per
//!   request by [`scope_of`]); the system administrator looks after all.

use serde_json::json;
use uuid::Uuid;

use super::audit::{Entry, Outcome};
use super::{Actor, Origin};
use crate::domain::organization::MAX_LIST;
use crate::domain::{
    Alias, FullName, InvalidValue, MailDomain, OrganizationStatus, Role, ShortName, name_key,
};
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::organizations::{NameKey, NameKind, OrgFilter, OrgRecord, Organization};
use crate::store::users::{AccountStatus, User};

#[derive(Debug, thiserror::Error)]
pub enum OrgError {
    #[error("{0}")]
    Invalid(#[from] InvalidValue),
    /// A name (full, short or alias) is another organization's.
    #[error("{field}: {name:?} is already a name of {other:?}")]
    NameTaken {
        field: &'static str,
        name: String,
        other: String,
    },
    /// A mail domain is another organization's.
    #[error("mail_domains: {domain} is already a domain of {other:?}")]
    DomainTaken { domain: String, other: String },
    /// Taken, found by the database (a change made at the same moment).
    #[error("{0} is already in use")]
    Conflict(&'static str),
    #[error("no such organization")]
    NotFound,
    #[error("the organization was changed by someone else; reload and try again")]
    Stale,
    #[error("{0}")]
    Store(StoreError),
}

impl From<StoreError> for OrgError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(field) => OrgError::Conflict(field),
            StoreError::NotFound => OrgError::NotFound,
            StoreError::Stale => OrgError::Stale,
            other => OrgError::Store(other),
        }
    }
}

impl OrgError {
    /// The input field the error is about.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            OrgError::Invalid(v) => Some(v.field),
            OrgError::NameTaken { field, .. } => Some(field),
            OrgError::DomainTaken { .. } => Some("mail_domains"),
            OrgError::Conflict(field) => Some(field),
            OrgError::Stale => Some("version"),
            OrgError::NotFound | OrgError::Store(_) => None,
        }
    }
}

/// An organization as typed (parsed here).
#[derive(Debug, Clone, Default)]
pub struct OrgInput {
    pub full_name: String,
    pub short_name: Option<String>,
    pub aliases: Vec<String>,
    pub mail_domains: Vec<String>,
    /// `None`: active.
    pub status: Option<OrganizationStatus>,
}

impl OrgInput {
    /// The input that would write `org` as it is.
    pub fn of(org: &Organization) -> OrgInput {
        OrgInput {
            full_name: org.full_name.clone(),
            short_name: org.short_name.clone(),
            aliases: org.aliases.0.clone(),
            mail_domains: org.mail_domains.0.clone(),
            status: Some(org.status),
        }
    }
}

/// Parses an organization: every name and domain checked, the names'
/// keys computed. A name whose key the organization has already (an alias
/// equal to the short name, a domain twice) is kept once.
pub fn record(input: &OrgInput) -> Result<OrgRecord, OrgError> {
    let full = FullName::parse(&input.full_name)?;
    let short = match input.short_name.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => Some(ShortName::parse(s)?),
    };
    if input.aliases.len() > MAX_LIST {
        return Err(InvalidValue::new("aliases", "holds more than 50 names").into());
    }
    if input.mail_domains.len() > MAX_LIST {
        return Err(InvalidValue::new("mail_domains", "holds more than 50 domains").into());
    }
    let mut keys: Vec<NameKey> = Vec::new();
    let mut add = |key: String, kind: NameKind, name: &str| -> bool {
        if keys.iter().any(|k| k.key == key) {
            false
        } else {
            keys.push(NameKey {
                key,
                kind,
                name: name.to_string(),
            });
            true
        }
    };
    add(full.key(), NameKind::Full, full.as_str());
    let short_name = short.map(|s| {
        add(s.key(), NameKind::Short, s.as_str());
        s.as_str().to_string()
    });
    let mut aliases = Vec::new();
    for a in input.aliases.iter().filter(|a| !a.trim().is_empty()) {
        let alias = Alias::parse(a)?;
        if add(alias.key(), NameKind::Alias, alias.as_str()) {
            aliases.push(alias.as_str().to_string());
        }
    }
    let mut mail_domains: Vec<String> = Vec::new();
    for d in input.mail_domains.iter().filter(|d| !d.trim().is_empty()) {
        let domain = MailDomain::parse(d)?.as_str().to_string();
        if !mail_domains.contains(&domain) {
            mail_domains.push(domain);
        }
    }
    Ok(OrgRecord {
        full_name: full.as_str().to_string(),
        short_name,
        aliases,
        mail_domains,
        status: input.status.unwrap_or(OrganizationStatus::Active),
        keys,
    })
}

/// Names each name and domain of `rec` that another organization than
/// `own` has, with that organization (the database refuses them too; this
/// says whose they are).
async fn check_taken(state: &AppState, rec: &OrgRecord, own: Option<Uuid>) -> Result<(), OrgError> {
    for k in &rec.keys {
        if let Some(other) = state.store.organization_by_key(&k.key).await?
            && Some(other.id) != own
        {
            return Err(OrgError::NameTaken {
                field: k.kind.field(),
                name: k.name.clone(),
                other: other.full_name,
            });
        }
    }
    for domain in &rec.mail_domains {
        if let Some(other) = state.store.organization_by_domain(domain).await?
            && Some(other.id) != own
        {
            return Err(OrgError::DomainTaken {
                domain: domain.clone(),
                other: other.full_name,
            });
        }
    }
    Ok(())
}

fn describe(org: &OrgRecord) -> serde_json::Value {
    json!({
        "full_name": org.full_name,
        "short_name": org.short_name,
        "aliases": org.aliases,
        "mail_domains": org.mail_domains,
        "status": org.status.as_str(),
    })
}

/// Registers an organization (audited: `organization.created`).
pub async fn create(
    state: &AppState,
    input: &OrgInput,
    actor: &Actor,
    origin: &Origin,
) -> Result<Organization, OrgError> {
    let rec = record(input)?;
    check_taken(state, &rec, None).await?;
    let id = Uuid::now_v7();
    let audit = Entry::new("organization.created", Outcome::Success)
        .actor(actor)
        .origin(origin)
        .detail(json!({ "organization_id": id, "organization": describe(&rec) }))
        .finish();
    Ok(state.store.insert_organization(id, &rec, &[audit]).await?)
}

/// Writes `input` over the organization if it is still at `version`
/// (audited: `organization.updated`, with the fields that changed).
/// Returns the organization and whether anything changed: writing it as
/// it is writes nothing.
pub async fn update(
    state: &AppState,
    org: &Organization,
    version: i64,
    input: &OrgInput,
    actor: &Actor,
    origin: &Origin,
) -> Result<(Organization, bool), OrgError> {
    let rec = record(input)?;
    if version != org.version {
        return Err(OrgError::Stale);
    }
    let changed: Vec<&str> = [
        ("full_name", rec.full_name != org.full_name),
        ("short_name", rec.short_name != org.short_name),
        ("aliases", rec.aliases != org.aliases.0),
        ("mail_domains", rec.mail_domains != org.mail_domains.0),
        ("status", rec.status != org.status),
    ]
    .into_iter()
    .filter(|(_, c)| *c)
    .map(|(f, _)| f)
    .collect();
    if changed.is_empty() {
        return Ok((org.clone(), false));
    }
    check_taken(state, &rec, Some(org.id)).await?;
    let audit = Entry::new("organization.updated", Outcome::Success)
        .actor(actor)
        .origin(origin)
        .detail(
            json!({ "organization_id": org.id, "fields": changed, "organization": describe(&rec) }),
        )
        .finish();
    let updated = state
        .store
        .update_organization(org.id, version, &rec, &[audit])
        .await?;
    Ok((updated, true))
}

pub async fn by_id(state: &AppState, id: Uuid) -> Result<Organization, OrgError> {
    state
        .store
        .organization_by_id(id)
        .await?
        .ok_or(OrgError::NotFound)
}

/// The organization with this full name, short name or alias (compared
/// by key: `ＣＮＩＣ`, `cnic` and ` CNIC ` are the same name), whatever its
/// status.
pub async fn resolve(state: &AppState, name: &str) -> Result<Option<Organization>, StoreError> {
    let key = name_key(name);
    if key.is_empty() {
        return Ok(None);
    }
    state.store.organization_by_key(&key).await
}

/// Organizations one of whose names contains `query` (by key), at most
/// `limit`, ordered by full name; every status (filter with
/// [`list`] for one).
pub async fn search(
    state: &AppState,
    query: &str,
    limit: i64,
) -> Result<Vec<Organization>, StoreError> {
    Ok(list(state, query, None, limit, 0).await?.0)
}

/// A page of the registry: organizations one of whose names (by key) or
/// mail domains contains `query` (empty: all), of `status` if given, and
/// how many there are.
pub async fn list(
    state: &AppState,
    query: &str,
    status: Option<OrganizationStatus>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Organization>, i64), StoreError> {
    let key = name_key(query);
    state
        .store
        .search_organizations(&OrgFilter {
            key_part: (!key.is_empty()).then_some(key),
            status,
            limit,
            offset,
        })
        .await
}

/// What an account's `organization` field was given: a name of a
/// registered, active organization (its id), or why not. Empty text
/// (after trimming) means none.
pub async fn for_account(
    state: &AppState,
    typed: Option<&str>,
) -> Result<Option<Uuid>, AccountOrgError> {
    let Some(text) = typed.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    match resolve(state, text).await? {
        None => Err(AccountOrgError::Unknown(text.chars().take(200).collect())),
        Some(org) if org.status != OrganizationStatus::Active => {
            Err(AccountOrgError::NotActive(org.full_name, org.status))
        }
        Some(org) => Ok(Some(org.id)),
    }
}

/// Why an account cannot be given the organization typed.
#[derive(Debug, thiserror::Error)]
pub enum AccountOrgError {
    #[error(
        "organization: {0:?} is not a registered organization (full name, short name or alias)"
    )]
    Unknown(String),
    #[error("organization: {0:?} is {1}, not active: it takes no accounts")]
    NotActive(String, OrganizationStatus),
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// An administrator of an account's organization, as a notice or the
/// block page names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgAdministrator {
    pub display_name: String,
    /// Where to write to them: their verified security e-mail, else their
    /// account name when it is a mail address (`wang@cnic.cn`).
    pub email: Option<String>,
}

/// The active administrators of the organization `user` belongs to (none
/// when it belongs to none).
pub async fn administrators_of(
    state: &AppState,
    user: &User,
) -> Result<Vec<OrgAdministrator>, StoreError> {
    let Some(org) = user.organization_id else {
        return Ok(Vec::new());
    };
    Ok(state
        .store
        .organization_administrators(org)
        .await?
        .into_iter()
        .filter(|a| a.status == AccountStatus::Active && a.has_role(Role::OrgAdmin))
        .map(|a| {
            let email = match (&a.security_email, a.security_email_verified) {
                (Some(e), true) => Some(e.clone()),
                _ => crate::domain::Email::parse(&a.username)
                    .ok()
                    .map(|e| e.as_str().to_string()),
            };
            OrgAdministrator {
                display_name: a.display_name,
                email,
            }
        })
        .collect())
}

/// Whose accounts an administrator looks after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminScope {
    /// The system administrator: every account.
    All,
    /// An organization administrator: the accounts of these organizations.
    Organizations(Vec<Uuid>),
}

impl AdminScope {
    /// Whether `user` is one of the accounts this scope looks after. An
    /// organization administrator looks after the accounts of its
    /// organizations that hold no administrative rights: a system
    /// administrator, a reviewer or another organization administrator
    /// (itself included) is looked after by system administrators only, so
    /// that no password reset turns an organization's administrator into
    /// more than that.
    pub fn covers(&self, user: &User) -> bool {
        match self {
            AdminScope::All => true,
            AdminScope::Organizations(ids) => {
                user.organization_id.is_some_and(|o| ids.contains(&o))
                    && !user.is_admin
                    && user.roles.is_empty()
            }
        }
    }

    /// The system administrator's scope (every account, every action).
    pub fn is_all(&self) -> bool {
        matches!(self, AdminScope::All)
    }

    /// Whether this scope may see the organization (its own ones for an
    /// organization administrator).
    pub fn sees_organization(&self, org: Uuid) -> bool {
        match self {
            AdminScope::All => true,
            AdminScope::Organizations(ids) => ids.contains(&org),
        }
    }

    /// The organizations it is limited to (`None`: all accounts).
    pub fn organizations(&self) -> Option<&[Uuid]> {
        match self {
            AdminScope::All => None,
            AdminScope::Organizations(ids) => Some(ids),
        }
    }
}

/// The scope of `admin`: `All` for an active system administrator, its
/// organizations for an active organization administrator, `None` for
/// anyone else. Read from the database at every call, so an assignment
/// that ends takes effect at once.
pub async fn scope_of(state: &AppState, admin: &User) -> Result<Option<AdminScope>, StoreError> {
    if admin.status != AccountStatus::Active {
        return Ok(None);
    }
    if admin.is_admin {
        return Ok(Some(AdminScope::All));
    }
    if admin.has_role(Role::OrgAdmin) {
        let ids = state.store.administered_organizations(admin.id).await?;
        return Ok(Some(AdminScope::Organizations(ids)));
    }
    Ok(None)
}

/// The scope an account's own access token (scope `org_admin`) carries
/// on the management API: the organizations it administers, while it is
/// active and holds the role; `None` for anyone else. A user's token never
/// carries the system administrator's scope (that takes a service
/// account's token), whatever the account's rights in the console.
pub async fn delegated_scope(
    state: &AppState,
    user: &User,
) -> Result<Option<AdminScope>, StoreError> {
    if user.status != AccountStatus::Active || !user.has_role(Role::OrgAdmin) {
        return Ok(None);
    }
    let ids = state.store.administered_organizations(user.id).await?;
    Ok(Some(AdminScope::Organizations(ids)))
}

/// The organizations `scope` sees, a page of them: the registry for the
/// system administrator, its own ones for an organization administrator.
pub async fn list_in_scope(
    state: &AppState,
    scope: &AdminScope,
    admin: Option<&User>,
    query: &str,
    status: Option<OrganizationStatus>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Organization>, i64), StoreError> {
    match (scope, admin) {
        (AdminScope::Organizations(_), Some(user)) => {
            let key = name_key(query);
            let mut own: Vec<Organization> = administered_by(state, user)
                .await?
                .into_iter()
                .filter(|o| status.is_none_or(|s| s == o.status))
                .filter(|o| {
                    key.is_empty()
                        || name_key(&o.full_name).contains(&key)
                        || o.short_name
                            .as_deref()
                            .is_some_and(|s| name_key(s).contains(&key))
                        || o.aliases.0.iter().any(|a| name_key(a).contains(&key))
                })
                .collect();
            let total = own.len() as i64;
            let start = (offset.max(0) as usize).min(own.len());
            let end = start.saturating_add(limit.max(0) as usize).min(own.len());
            own = own.drain(start..end).collect();
            Ok((own, total))
        }
        (AdminScope::Organizations(_), None) => Ok((Vec::new(), 0)),
        (AdminScope::All, _) => list(state, query, status, limit, offset).await,
    }
}

/// An organization as `scope` may see it: one outside the scope is
/// [`OrgError::NotFound`], as one that does not exist.
pub async fn in_scope(
    state: &AppState,
    scope: &AdminScope,
    id: Uuid,
) -> Result<Organization, OrgError> {
    if !scope.sees_organization(id) {
        return Err(OrgError::NotFound);
    }
    by_id(state, id).await
}

/// How many accounts belong to the organization.
pub async fn member_count(state: &AppState, org: &Organization) -> Result<i64, StoreError> {
    state.store.count_organization_members(org.id).await
}

/// The administrators of an organization.
pub async fn administrators(state: &AppState, org: &Organization) -> Result<Vec<User>, StoreError> {
    state.store.organization_administrators(org.id).await
}

/// The organizations `user` administers.
pub async fn administered_by(
    state: &AppState,
    user: &User,
) -> Result<Vec<Organization>, StoreError> {
    state.store.organizations_administered_by(user.id).await
}

fn role_entry(
    event: &'static str,
    user: &User,
    org: &Organization,
    actor: &Actor,
    origin: &Origin,
) -> crate::store::audit::NewAuditEvent {
    Entry::new(event, Outcome::Success)
        .actor(actor)
        .subject(user)
        .origin(origin)
        .detail(json!({
            "role": Role::OrgAdmin.as_str(),
            "organization_id": org.id,
            "organization": org.full_name,
        }))
        .finish()
}

/// Makes `user` an administrator of `org` (audited:
/// `account.role_granted` naming the organization). Returns whether it
/// changed anything (assigning twice does not).
pub async fn assign_admin(
    state: &AppState,
    org: &Organization,
    user: &User,
    actor: &Actor,
    origin: &Origin,
) -> Result<bool, StoreError> {
    let audit = role_entry("account.role_granted", user, org, actor, origin);
    let changed = state
        .store
        .assign_organization_admin(user.id, org.id, &[audit])
        .await?;
    if changed && !user.has_role(Role::OrgAdmin) {
        // The role is new: its sessions ended (a privilege change); the
        // applications hear of it too.
        super::logout::end_all_sessions(state, user).await;
    }
    Ok(changed)
}

/// Ends `user`'s administration of `org` (audited: `account.role_revoked`
/// naming the organization); the role goes with the last organization.
pub async fn remove_admin(
    state: &AppState,
    org: &Organization,
    user: &User,
    actor: &Actor,
    origin: &Origin,
) -> Result<bool, StoreError> {
    let audit = role_entry("account.role_revoked", user, org, actor, origin);
    let changed = state
        .store
        .remove_organization_admin(user.id, org.id, &[audit])
        .await?;
    if changed
        && let Some(now) = state.store.user_by_id(user.id).await?
        && !now.has_role(Role::OrgAdmin)
    {
        super::logout::end_all_sessions(state, &now).await;
    }
    Ok(changed)
}
