//! Creating and managing accounts (CLI now; the admin API later).

use serde_json::json;

use super::audit::{Entry, Outcome};
use super::{Actor, Origin};
use crate::crypto::{HashError, random};
use crate::domain::{
    AccountName, Email, InvalidValue, PhoneNumber, PolicyViolation, Role, Roles, SecretPassword,
};
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::audit::NewAuditEvent;
use crate::store::users::{AccountStatus, NewUser, PasswordEffects, User};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Invalid(#[from] InvalidValue),
    #[error("password: {0}")]
    WeakPassword(String, Vec<PolicyViolation>),
    #[error("{0} is already in use")]
    Conflict(&'static str),
    #[error("the account was changed by someone else; reload and try again")]
    Stale,
    /// Refused to protect the administration (last admin, own account).
    #[error("{}", .0.text())]
    Refused(Refusal),
    #[error("no such account")]
    NotFound,
    /// The organization typed is not in the registry.
    #[error(
        "organization: {0:?} is not a registered organization (full name, short name or alias)"
    )]
    UnknownOrganization(String),
    /// The organization typed is pending or inactive: it takes no accounts.
    #[error("organization: {0:?} is {1}, not active: it takes no accounts")]
    InactiveOrganization(String, crate::domain::OrganizationStatus),
    #[error("{0}")]
    Hash(#[from] HashError),
    #[error("{0}")]
    Store(StoreError),
    #[error("random generator: {0}")]
    Random(#[from] getrandom::Error),
    #[error("{0}")]
    Ephemeral(#[from] crate::ephemeral::EphemeralError),
}

/// Changes refused so that the administration cannot lock itself out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    OwnAdminRole,
    OwnAccount,
    LastAdmin,
}

impl Refusal {
    /// The input the refusal is about.
    pub fn field(self) -> &'static str {
        match self {
            Refusal::OwnAdminRole | Refusal::LastAdmin => "admin",
            Refusal::OwnAccount => "status",
        }
    }

    pub fn text(self) -> &'static str {
        match self {
            Refusal::OwnAdminRole => "you cannot remove your own administrator role",
            Refusal::OwnAccount => "you cannot disable your own account",
            Refusal::LastAdmin => "the last active administrator cannot be demoted or disabled",
        }
    }
}

impl From<super::organizations::AccountOrgError> for AccountError {
    fn from(e: super::organizations::AccountOrgError) -> Self {
        use super::organizations::AccountOrgError as E;
        match e {
            E::Unknown(name) => AccountError::UnknownOrganization(name),
            E::NotActive(name, status) => AccountError::InactiveOrganization(name, status),
            E::Store(e) => e.into(),
        }
    }
}

/// The organization administrator's role comes with the organizations it
/// is assigned ([`super::organizations::assign_admin`]), not by itself.
const ORG_ADMIN_BY_ORGANIZATION: &str = "org_admin is assigned per organization (the organization's administrators), not with the other roles";

impl From<StoreError> for AccountError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(field) => AccountError::Conflict(field),
            StoreError::NotFound => AccountError::NotFound,
            StoreError::Stale => AccountError::Stale,
            StoreError::LastAdmin => AccountError::Refused(Refusal::LastAdmin),
            other => AccountError::Store(other),
        }
    }
}

/// Input for a new account, as typed (parsed here).
#[derive(Debug, Default)]
pub struct NewAccount {
    pub username: String,
    pub display_name: Option<String>,
    pub login_phone: Option<String>,
    pub security_phone: Option<String>,
    pub security_email: Option<String>,
    pub organization: Option<String>,
    pub is_admin: bool,
    /// Roles beside the administrator's (each grant is audited).
    pub roles: Roles,
    /// `None`: generate a strong one and return it once.
    pub password: Option<SecretPassword>,
}

fn optional<T>(
    value: Option<&str>,
    parse: impl Fn(&str) -> Result<T, InvalidValue>,
) -> Result<Option<T>, InvalidValue> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => parse(v).map(Some),
    }
}

fn text_field(
    value: Option<&str>,
    field: &'static str,
    max: usize,
) -> Result<Option<String>, InvalidValue> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) if v.chars().count() > max => Err(InvalidValue::new(field, "is too long")),
        Some(v) if v.chars().any(char::is_control) => Err(InvalidValue::new(
            field,
            "must not contain control characters",
        )),
        Some(v) => Ok(Some(v.to_string())),
    }
}

/// Checks a new password against the policy for this account.
pub fn check_password(
    state: &AppState,
    password: &SecretPassword,
    username: &str,
    phones: &[&str],
) -> Result<(), AccountError> {
    let violations = state.policy.check(password, username, phones);
    if violations.is_empty() {
        Ok(())
    } else {
        Err(AccountError::WeakPassword(
            state.policy.explain(&violations),
            violations,
        ))
    }
}

/// Creates an account; returns it and the generated password, if one was made.
pub async fn create(
    state: &AppState,
    input: NewAccount,
    actor: &Actor,
    origin: &Origin,
) -> Result<(User, Option<String>), AccountError> {
    let username = AccountName::parse(&input.username)?;
    let login_phone = optional(input.login_phone.as_deref(), PhoneNumber::parse)
        .map_err(|e| InvalidValue::new("login_phone", e.reason))?;
    let security_phone = optional(input.security_phone.as_deref(), PhoneNumber::parse)
        .map_err(|e| InvalidValue::new("security_phone", e.reason))?;
    let security_email = optional(input.security_email.as_deref(), Email::parse)?;
    let display_name = text_field(input.display_name.as_deref(), "display_name", 100)?
        .unwrap_or_else(|| {
            username
                .as_str()
                .split('@')
                .next()
                .unwrap_or_default()
                .to_string()
        });
    if input.roles.contains(Role::OrgAdmin) {
        return Err(InvalidValue::new("roles", ORG_ADMIN_BY_ORGANIZATION).into());
    }
    let organization_id =
        super::organizations::for_account(state, input.organization.as_deref()).await?;

    let (password, generated) = match input.password {
        Some(p) => (p, None),
        None => {
            let p = random::password(state.policy.min_length())?;
            (SecretPassword::new(p.clone()), Some(p))
        }
    };
    let phones: Vec<&str> = [&login_phone, &security_phone]
        .into_iter()
        .flatten()
        .map(PhoneNumber::as_str)
        .collect();
    check_password(state, &password, username.as_str(), &phones)?;
    let password_hash = state.hasher.hash(&password).await?;

    let id = uuid::Uuid::now_v7();
    let roles: Vec<&str> = input.roles.iter().map(Role::as_str).collect();
    let mut audits = vec![
        Entry::new("account.created", Outcome::Success)
            .actor(actor)
            .subject_name(Some(id), username.as_str())
            .origin(origin)
            .detail(json!({ "admin": input.is_admin, "roles": roles, "password_generated": generated.is_some() }))
            .finish(),
    ];
    audits.extend(role_audits(
        &Roles::none(),
        &input.roles,
        actor,
        origin,
        (id, username.as_str()),
    ));
    let user = state
        .store
        .insert_user(
            &NewUser {
                id,
                username: username.as_str().to_string(),
                display_name,
                login_phone: login_phone.map(|p| p.as_str().to_string()),
                security_phone: security_phone.map(|p| p.as_str().to_string()),
                security_email: security_email.map(|e| e.as_str().to_string()),
                organization_id,
                is_admin: input.is_admin,
                roles: input.roles,
                password_hash,
            },
            &audits,
        )
        .await?;
    Ok((user, generated))
}

/// One audit entry per role granted (`account.role_granted`) or revoked
/// (`account.role_revoked`) in going from `before` to `after`.
fn role_audits(
    before: &Roles,
    after: &Roles,
    actor: &Actor,
    origin: &Origin,
    (id, username): (uuid::Uuid, &str),
) -> Vec<NewAuditEvent> {
    let entry = |event: &'static str, role: Role| {
        Entry::new(event, Outcome::Success)
            .actor(actor)
            .subject_name(Some(id), username)
            .origin(origin)
            .detail(json!({ "role": role.as_str() }))
            .finish()
    };
    let granted = after.missing_from(before).into_iter();
    let revoked = before.missing_from(after).into_iter();
    granted
        .map(|r| entry("account.role_granted", r))
        .chain(revoked.map(|r| entry("account.role_revoked", r)))
        .collect()
}

/// Finds an account by its name (as typed).
pub async fn find(state: &AppState, username: &str) -> Result<User, AccountError> {
    let name = AccountName::parse(username)?;
    state
        .store
        .user_by_username(name.as_str())
        .await?
        .ok_or(AccountError::NotFound)
}

/// Sets a new password (policy-checked) and ends the account's sessions
/// (`tongxing user passwd`): like [`reset_password`], but the operator
/// typed the password the person is to keep, so no change is demanded at
/// the next sign-in. It lifts weak-password blocks all the same.
pub async fn set_password(
    state: &AppState,
    username: &str,
    password: &SecretPassword,
    actor: &Actor,
    origin: &Origin,
) -> Result<User, AccountError> {
    let user = find(state, username).await?;
    write_password(state, &user, Some(password.clone()), false, actor, origin).await?;
    Ok(user)
}

/// An administrator's reset (the console and the API): gives `user` a new
/// password — the one given (policy-checked: 422 naming the rule) or a
/// generated strong one, returned once and never logged or audited —,
/// lifts the account's weak-password blocks (`account.unblocked`), demands
/// a change at its next sign-in, ends every session of the account and
/// revokes all its tokens (with back-channel logout to its applications).
/// All of it commits in one transaction with the audit entries.
pub async fn reset_password(
    state: &AppState,
    user: &User,
    given: Option<SecretPassword>,
    actor: &Actor,
    origin: &Origin,
) -> Result<Option<String>, AccountError> {
    write_password(state, user, given, true, actor, origin).await
}

async fn write_password(
    state: &AppState,
    user: &User,
    given: Option<SecretPassword>,
    force_change: bool,
    actor: &Actor,
    origin: &Origin,
) -> Result<Option<String>, AccountError> {
    let (password, generated) = match given {
        Some(p) => (p, None),
        None => {
            let p = random::password(state.policy.min_length())?;
            (SecretPassword::new(p.clone()), Some(p))
        }
    };
    let phones: Vec<&str> = [&user.login_phone, &user.security_phone]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    check_password(state, &password, &user.username, &phones)?;
    let hash = state.hasher.hash(&password).await?;
    let audit = Entry::new("account.password_set", Outcome::Success)
        .actor(actor)
        .subject(user)
        .origin(origin)
        .detail(json!({ "generated": generated.is_some(), "change_required": force_change }))
        .finish();
    let (label, unblocked) = (
        actor.label(),
        super::blocks::unblock_entry(
            user,
            Some(crate::domain::BlockReason::WeakPassword),
            actor,
            origin,
        ),
    );
    // Application passwords made before are no proof of whoever holds
    // the account now: they all go with the reset.
    let revoked = super::app_passwords::revoked_with_password(
        user,
        super::app_passwords::Reason::PasswordReset,
        actor,
        origin,
    );
    // A password someone else set: the next login proves the phone too.
    let effects = PasswordEffects {
        clear_forced: false,
        set_forced: force_change,
        require_step_up: true,
        revoke_reason: super::app_passwords::Reason::PasswordReset.as_str(),
        keep_sid: None,
        expected_version: None,
        lift_weak_blocks: Some((label.as_str(), &unblocked)),
        revoke_app_passwords: Some(&revoked),
    };
    state
        .store
        .set_password_hash(user.id, &hash, effects, &audit)
        .await?;
    // Committed: the applications hear of it as best effort (retried in
    // the background), and the answer does not depend on it.
    super::logout::end_all_sessions(state, user).await;
    Ok(generated)
}

/// Disables or re-enables an account. Disabling ends its sessions and
/// revokes its tokens at once; enabling revives none of them.
pub async fn set_status(
    state: &AppState,
    username: &str,
    status: AccountStatus,
    reason: Option<&str>,
    actor: &Actor,
    origin: &Origin,
) -> Result<User, AccountError> {
    let user = find(state, username).await?;
    change_status(state, &user, status, reason, actor, origin).await?;
    Ok(user)
}

pub async fn change_status(
    state: &AppState,
    user: &User,
    status: AccountStatus,
    reason: Option<&str>,
    actor: &Actor,
    origin: &Origin,
) -> Result<(), AccountError> {
    if status != AccountStatus::Active && actor.id() == Some(user.id) {
        return Err(AccountError::Refused(Refusal::OwnAccount));
    }
    let reason = text_field(reason, "reason", 500)?;
    let event = match status {
        AccountStatus::Active => "account.enabled",
        AccountStatus::Disabled => "account.disabled",
    };
    let audit = Entry::new(event, Outcome::Success)
        .actor(actor)
        .subject(user)
        .origin(origin)
        .detail(json!({ "reason": reason }))
        .finish();
    state
        .store
        .set_user_status(user.id, status, reason.as_deref(), &audit)
        .await?;
    if status != AccountStatus::Active {
        super::logout::end_all_sessions(state, user).await;
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordChangeError {
    #[error("the current password is not correct")]
    WrongCurrent,
    /// Too many wrong passwords for the account (login limits).
    #[error("locked out for {0:?}")]
    Locked(std::time::Duration),
    #[error("{0}")]
    Account(#[from] AccountError),
}

/// The user changes their own password: the current one must be right,
/// the new one must pass the policy. Every *other* session of the account
/// ends and its tokens are revoked (with back-channel logout); the one with
/// `keep_sid` goes on with its applications' tokens (the caller re-issues
/// it). A forced change is thereby done. The account's application
/// passwords are revoked with it unless `keep_app_passwords` (the person's
/// choice; revoking is the default).
pub async fn change_own_password(
    state: &AppState,
    user: &User,
    keep_sid: &str,
    current: &SecretPassword,
    new: &SecretPassword,
    keep_app_passwords: bool,
    origin: &Origin,
) -> Result<User, PasswordChangeError> {
    use super::login::{LoginError, reauthenticate};
    let verified = match reauthenticate(state, user, current).await {
        Ok(ok) => ok,
        Err(LoginError::Locked(wait)) => return Err(PasswordChangeError::Locked(wait)),
        Err(LoginError::Hash(e)) => return Err(AccountError::from(e).into()),
        Err(LoginError::Store(e)) => return Err(AccountError::from(e).into()),
        Err(LoginError::Ephemeral(e)) => return Err(AccountError::from(e).into()),
        // Not returned by reauthenticate.
        Err(LoginError::InvalidCredentials) => false,
    };
    if !verified {
        Entry::new("account.password_change_failed", Outcome::Failure)
            .actor(&Actor::user(user))
            .subject(user)
            .origin(origin)
            .write(&state.store)
            .await
            .map_err(AccountError::from)?;
        return Err(PasswordChangeError::WrongCurrent);
    }
    let phones: Vec<&str> = [&user.login_phone, &user.security_phone]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    check_password(state, new, &user.username, &phones)?;
    let hash = state.hasher.hash(new).await.map_err(AccountError::from)?;
    let audit = Entry::new("account.password_changed", Outcome::Success)
        .actor(&Actor::user(user))
        .subject(user)
        .origin(origin)
        .finish();
    // A strong password of the person's own lifts their weak-password
    // blocks only when the deployment allows it.
    let actor = Actor::user(user);
    let (label, unblocked) = (
        actor.label(),
        super::blocks::unblock_entry(
            user,
            Some(crate::domain::BlockReason::WeakPassword),
            &actor,
            origin,
        ),
    );
    let revoked = super::app_passwords::revoked_with_password(
        user,
        super::app_passwords::Reason::PasswordChanged,
        &actor,
        origin,
    );
    state
        .store
        .set_password_hash(
            user.id,
            &hash,
            PasswordEffects {
                clear_forced: true,
                set_forced: false,
                require_step_up: false,
                revoke_reason: super::app_passwords::Reason::PasswordChanged.as_str(),
                revoke_app_passwords: (!keep_app_passwords).then_some(&revoked),
                keep_sid: Some(keep_sid),
                expected_version: None,
                lift_weak_blocks: state
                    .config
                    .password_policy
                    .self_service_lift
                    .then_some((label.as_str(), &unblocked)),
            },
            &audit,
        )
        .await
        .map_err(AccountError::from)?;
    super::logout::end_other_sessions(state, user, keep_sid).await;
    Ok(by_id(state, user.id).await?)
}

/// The next login must set a new password before anything else.
pub async fn force_password_change(
    state: &AppState,
    user: &User,
    actor: &Actor,
    origin: &Origin,
) -> Result<(), AccountError> {
    let audit = Entry::new("account.password_change_forced", Outcome::Success)
        .actor(actor)
        .subject(user)
        .origin(origin)
        .finish();
    state
        .store
        .set_must_change_password(user.id, true, Some(&audit))
        .await?;
    Ok(())
}

/// Ends every session and revokes every token of the account.
pub async fn revoke_sessions(
    state: &AppState,
    user: &User,
    actor: &Actor,
    origin: &Origin,
) -> Result<u64, AccountError> {
    let audit = Entry::new("account.sessions_revoked", Outcome::Success)
        .actor(actor)
        .subject(user)
        .origin(origin)
        .finish();
    let grants = state.store.revoke_everything(user.id, &audit).await?;
    super::logout::end_all_sessions(state, user).await;
    Ok(grants)
}

/// Changes to an account's profile as typed; `None` = unchanged, empty
/// text clears an optional field.
#[derive(Debug, Default)]
pub struct ProfileInput {
    pub display_name: Option<String>,
    pub login_phone: Option<String>,
    pub security_phone: Option<String>,
    pub security_email: Option<String>,
    pub organization: Option<String>,
    /// The postal address as typed (a JSON object of the OIDC `address`
    /// members; an empty string removes it).
    pub address: Option<serde_json::Value>,
    pub is_admin: Option<bool>,
    /// The whole set of roles the account is to hold.
    pub roles: Option<Roles>,
}

/// Validates and applies a profile change made against `version`.
pub async fn update_profile(
    state: &AppState,
    user: &User,
    version: i64,
    input: ProfileInput,
    actor: &Actor,
    origin: &Origin,
) -> Result<User, AccountError> {
    use crate::store::users::ProfileUpdate;
    if input.is_admin == Some(false) && user.is_admin && actor.id() == Some(user.id) {
        return Err(AccountError::Refused(Refusal::OwnAdminRole));
    }
    if input
        .roles
        .as_ref()
        .is_some_and(|r| r.contains(Role::OrgAdmin) != user.has_role(Role::OrgAdmin))
    {
        return Err(InvalidValue::new("roles", ORG_ADMIN_BY_ORGANIZATION).into());
    }
    let organization_id = match input.organization {
        None => None,
        Some(t) => Some(super::organizations::for_account(state, Some(&t)).await?),
    };
    let phone =
        |field: &'static str, v: Option<String>| -> Result<Option<Option<String>>, AccountError> {
            Ok(match v {
                None => None,
                Some(t) => Some(
                    optional(Some(&t), PhoneNumber::parse)
                        .map_err(|e| InvalidValue::new(field, e.reason))?
                        .map(|p| p.as_str().to_string()),
                ),
            })
        };
    let display_name = match input.display_name {
        None => None,
        Some(t) => Some(
            text_field(Some(&t), "display_name", 100)?
                .ok_or(InvalidValue::new("display_name", "must not be empty"))?,
        ),
    };
    let update = ProfileUpdate {
        display_name,
        login_phone: phone("login_phone", input.login_phone)?,
        security_phone: phone("security_phone", input.security_phone)?,
        security_email: match input.security_email {
            None => None,
            Some(t) => Some(optional(Some(&t), Email::parse)?.map(|e| e.as_str().to_string())),
        },
        organization_id,
        address: match input.address {
            None => None,
            Some(serde_json::Value::String(t)) if t.is_empty() => Some(None),
            Some(v) => Some(Some(crate::domain::PostalAddress::parse(&v)?.to_json())),
        },
        is_admin: input.is_admin,
        roles: input.roles,
    };
    let changed: Vec<&str> = [
        ("display_name", update.display_name.is_some()),
        ("login_phone", update.login_phone.is_some()),
        ("security_phone", update.security_phone.is_some()),
        ("security_email", update.security_email.is_some()),
        ("organization", update.organization_id.is_some()),
        ("address", update.address.is_some()),
        ("admin", update.is_admin.is_some()),
        ("roles", update.roles.is_some()),
    ]
    .into_iter()
    .filter(|(_, c)| *c)
    .map(|(f, _)| f)
    .collect();
    let mut audits = vec![
        Entry::new("account.updated", Outcome::Success)
            .actor(actor)
            .subject(user)
            .origin(origin)
            .detail(json!({ "fields": changed }))
            .finish(),
    ];
    // The roles are compared with the account as read: the write applies
    // only at that version, so what the entries say is what changed.
    if let Some(roles) = &update.roles {
        audits.extend(role_audits(
            &user.roles,
            roles,
            actor,
            origin,
            (user.id, &user.username),
        ));
    }
    let updated = state
        .store
        .update_profile(user.id, version, &update, &audits)
        .await?;
    if updated.session_epoch != user.session_epoch {
        // A new phone (or role) ended the account's sessions and revoked
        // its tokens: tell the applications too.
        super::logout::end_all_sessions(state, &updated).await;
    }
    Ok(updated)
}

/// Grants (`held`) or revokes `role` on the account named `username` (the
/// CLI's `user grant` / `user revoke`). Returns the account as it is now and
/// whether anything changed: granting a role held already writes nothing.
pub async fn set_role(
    state: &AppState,
    username: &str,
    role: Role,
    held: bool,
    actor: &Actor,
    origin: &Origin,
) -> Result<(User, bool), AccountError> {
    // Someone else may change the account between the read and the write
    // (the write is version-checked): read again and retry a few times.
    for _ in 0..3 {
        let user = find(state, username).await?;
        if user.has_role(role) == held {
            return Ok((user, false));
        }
        let input = ProfileInput {
            roles: Some(user.roles.with(role, held)),
            ..ProfileInput::default()
        };
        match update_profile(state, &user, user.version, input, actor, origin).await {
            Ok(updated) => return Ok((updated, true)),
            Err(AccountError::Stale) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(AccountError::Stale)
}

/// The account, if it exists and is active (one-time links and proofs
/// work only for active accounts).
pub async fn active(state: &AppState, id: uuid::Uuid) -> Result<Option<User>, StoreError> {
    Ok(state
        .store
        .user_by_id(id)
        .await?
        .filter(|u| u.status == AccountStatus::Active))
}

pub async fn by_id(state: &AppState, id: uuid::Uuid) -> Result<User, AccountError> {
    state
        .store
        .user_by_id(id)
        .await?
        .ok_or(AccountError::NotFound)
}

/// On a fresh installation, creates `admin` with a random password and
/// returns that password so the caller can show it once. Returns `None`
/// when accounts already exist (or another node just created it).
pub async fn bootstrap_admin(state: &AppState) -> Result<Option<String>, AccountError> {
    if state.store.count_users().await? > 0 {
        return Ok(None);
    }
    let input = NewAccount {
        username: "admin".into(),
        display_name: Some("Administrator".into()),
        is_admin: true,
        ..NewAccount::default()
    };
    match create(state, input, &Actor::System, &Origin::default()).await {
        Ok((_, password)) => Ok(password),
        Err(AccountError::Conflict(_)) => Ok(None),
        Err(e) => Err(e),
    }
}
