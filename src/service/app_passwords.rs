//! Application-specific passwords (应用独立密码): a random password a
//! person makes for one application that cannot do OpenID Connect (a mail
//! client speaking IMAP and SMTP), used instead of the passport password
//! and revocable on its own.
//!
//! * **The secret**: 16 lowercase letters without i, l and o (23 letters,
//!   16·log2(23) ≈ 72 bits), shown once grouped as `abcd efgh jkmn pqrs`;
//!   input is accepted with or without spaces, in either case.
//! * **Storage**: HMAC-SHA-256 of the secret under a server key that has
//!   an id (`app_passwords.key_id`; the key itself is a server secret in
//!   the database, made on first use and shared by every node). A new id
//!   rotates: new passwords use it, older ones keep verifying. No argon2:
//!   at 72 bits a fast MAC is enough, and a lookup is one indexed read by
//!   MAC (one MAC per known key), never one hash per stored password.
//! * **Limits**: at most [`MAX_ACTIVE`] active per account; making one
//!   needs a sign-in within [`FRESH_FOR`] (a password sign-in or the SMS
//!   step-up, which renews it) and sends a notice e-mail.
//! * **Revocation**: by the owner (one, or all), by an administrator, and
//!   automatically with every change that hands the account to a person
//!   anew: a password reset by an administrator, a recovery, a completed
//!   review case (phone unbind, retrieval: `store::review`), and a
//!   voluntary password change unless the person keeps them.
//! * **Use**: [`authenticate`] (the LDAP bind calls it) refuses revoked
//!   passwords, another account's or application's, disabled accounts and
//!   accounts blocked for the application.

use std::time::Duration;

use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::access::{UseError, may_use};
use super::audit::{Entry, Outcome};
use super::clients::{self, Client};
use super::mail::{self, Letter};
use super::{Actor, Origin};
use crate::crypto::{hmac_sha256, random};
use crate::ephemeral::EphemeralError;
use crate::i18n::Lang;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::app_passwords::{AppPasswordRow, Inserted, NewAppPassword};
use crate::store::blocks::ActiveBlock;
use crate::store::users::{AccountStatus, User};

/// Active application passwords one account may have.
pub const MAX_ACTIVE: i64 = 25;
/// How recent the sign-in must be to make one.
pub const FRESH_FOR: Duration = Duration::from_secs(10 * 60);
/// Creations per account and hour (each sends a mail).
const CREATIONS_PER_HOUR: i64 = 10;
/// The letters of a secret: a–z without i, l and o.
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz";
const LEN: usize = 16;
/// Names of the server keys in `server_secrets`: this prefix and the id.
const KEY_PREFIX: &str = "app-password-key:";
/// The longest name a person may give one.
const LABEL_MAX: usize = 64;

/// A secret in clear: only when it is made (shown once) or presented.
/// Never printed by Debug.
#[derive(Clone, PartialEq, Eq)]
pub struct AppSecret(String);

impl AppSecret {
    /// 16 letters drawn uniformly from [`ALPHABET`] (rejection sampling:
    /// bytes at or above the largest multiple of 23 are drawn again).
    pub fn generate() -> Result<Self, getrandom::Error> {
        let n = ALPHABET.len();
        let limit = 256 - 256 % n;
        let mut out = String::with_capacity(LEN);
        while out.len() < LEN {
            for b in random::bytes::<32>()? {
                if usize::from(b) < limit && out.len() < LEN {
                    out.push(char::from(ALPHABET[usize::from(b) % n]));
                }
            }
        }
        Ok(Self(out))
    }

    /// The secret as typed: spaces (and tabs) anywhere are dropped and
    /// capitals lowered; `None` unless 16 letters of the alphabet remain.
    pub fn parse(input: &str) -> Option<Self> {
        let s: String = input
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        (s.len() == LEN && s.bytes().all(|b| ALPHABET.contains(&b))).then_some(Self(s))
    }

    /// `abcd efgh jkmn pqrs`: how it is shown, once.
    pub fn grouped(&self) -> String {
        self.0
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn mac(&self, key: &[u8]) -> String {
        hex(&hmac_sha256(key, self.0.as_bytes()))
    }
}

impl std::fmt::Debug for AppSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppSecret([redacted])")
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a password is revoked, as the list and the audit log name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The owner revoked it (or all of theirs).
    ByOwner,
    /// An administrator revoked it.
    ByAdministrator,
    /// The owner changed their password and did not keep them.
    PasswordChanged,
    /// An administrator reset the password.
    PasswordReset,
    /// The password was recovered (SMS code or e-mail link).
    PasswordRecovered,
    /// The password was retrieved through the organization-verified
    /// retrieval (`service::retrieval` calls [`revoke_all_for`]).
    PasswordRetrieved,
    /// A phone-unbind application was completed.
    UnbindCompleted,
}

impl Reason {
    pub const ALL: [Reason; 7] = [
        Self::ByOwner,
        Self::ByAdministrator,
        Self::PasswordChanged,
        Self::PasswordReset,
        Self::PasswordRecovered,
        Self::PasswordRetrieved,
        Self::UnbindCompleted,
    ];

    /// The reason a stored `revoked_reason` names (`None`: not one of ours).
    pub fn of_stored(text: &str) -> Option<Reason> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ByOwner => "revoked by the owner",
            Self::ByAdministrator => "revoked by an administrator",
            Self::PasswordChanged => "password changed",
            Self::PasswordReset => "password reset",
            Self::PasswordRecovered => "password recovered",
            Self::PasswordRetrieved => "password retrieved",
            Self::UnbindCompleted => "phone_unbind completed",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppPasswordError {
    /// The sign-in is older than [`FRESH_FOR`]: sign in again or prove
    /// the phone by SMS first.
    #[error("a recent sign-in is needed")]
    NotFresh,
    #[error("the name must have 1 to 64 characters on one line")]
    BadLabel,
    /// No such client, or it does not take application passwords.
    #[error("this application does not take application passwords")]
    NotAllowed,
    #[error("at most {MAX_ACTIVE} application passwords may be active")]
    LimitReached,
    /// Too many made lately; try again after the wait.
    #[error("too many application passwords made lately")]
    TooMany(Duration),
    #[error("the account is disabled")]
    Disabled,
    /// The account is blocked for the application (a weak password).
    #[error("the account is blocked for this application")]
    Blocked(ActiveBlock),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Ephemeral(#[from] EphemeralError),
    #[error("random generator: {0}")]
    Random(#[from] getrandom::Error),
}

impl From<UseError> for AppPasswordError {
    fn from(e: UseError) -> Self {
        match e {
            UseError::Blocked(b) => Self::Blocked(b),
            UseError::Store(s) => Self::Store(s),
        }
    }
}

/// The server key new passwords are made with: (id, key), made on first
/// use by whichever node comes first.
async fn current_key(state: &AppState) -> Result<(String, Vec<u8>), AppPasswordError> {
    let kid = state.config.app_passwords.key_id.clone();
    let fresh = random::bytes::<32>()?;
    let key = state
        .store
        .server_secret(&format!("{KEY_PREFIX}{kid}"), &fresh)
        .await?;
    Ok((kid, key))
}

/// The clients people may make application passwords for, by name.
pub async fn allowed_clients(state: &AppState) -> Result<Vec<Client>, StoreError> {
    let mut list: Vec<Client> = clients::list(state)
        .await?
        .into_iter()
        .filter(|c| c.app_passwords_allowed)
        .collect();
    list.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(list)
}

/// Whether a sign-in at `auth_time` (unix seconds) is recent enough to
/// make an application password now.
pub fn is_fresh(state: &AppState, auth_time: i64) -> bool {
    let age = state.clock.now().unix_timestamp() - auth_time;
    u64::try_from(age).is_ok_and(|a| a <= FRESH_FOR.as_secs())
}

/// A password just made: its row, and the secret to show this once.
#[derive(Debug)]
pub struct Created {
    pub row_id: Uuid,
    pub secret: AppSecret,
}

/// Makes an application password named `label` for `client_id`, for the
/// account signed in at `auth_time`. Audited `app_password.created` in
/// the same transaction; a notice goes to the person's mailbox.
pub async fn create(
    state: &AppState,
    user: &User,
    auth_time: i64,
    client_id: &str,
    label: &str,
    origin: &Origin,
    lang: Lang,
) -> Result<Created, AppPasswordError> {
    if !is_fresh(state, auth_time) {
        return Err(AppPasswordError::NotFresh);
    }
    let label = label.trim();
    if label.is_empty() || label.chars().count() > LABEL_MAX || label.chars().any(char::is_control)
    {
        return Err(AppPasswordError::BadLabel);
    }
    let client = clients::find(state, client_id)
        .await?
        .filter(|c| c.app_passwords_allowed)
        .ok_or(AppPasswordError::NotAllowed)?;
    if user.status != AccountStatus::Active {
        return Err(AppPasswordError::Disabled);
    }
    may_use(state, user.id, &client.id).await?;
    let key = format!("app-password-create:{}", user.id);
    let hour = Duration::from_secs(3600);
    if state.ephemeral.incr(&key, hour).await? > CREATIONS_PER_HOUR {
        let wait = state.ephemeral.ttl(&key).await?.unwrap_or(hour);
        return Err(AppPasswordError::TooMany(wait));
    }
    let (kid, server_key) = current_key(state).await?;
    // A MAC already taken (two equal secrets: about 2^-72) is drawn again.
    for _ in 0..3 {
        let secret = AppSecret::generate()?;
        let new = NewAppPassword {
            id: Uuid::new_v4(),
            user_id: user.id,
            client_id: client.id.clone(),
            label: label.to_string(),
            key_id: kid.clone(),
            mac: secret.mac(&server_key),
        };
        let audit = Entry::new("app_password.created", Outcome::Success)
            .actor(&Actor::user(user))
            .subject(user)
            .origin(origin)
            .detail(json!({ "id": new.id, "client_id": client.id, "label": label, "key_id": kid }))
            .finish();
        match state
            .store
            .insert_app_password(&new, MAX_ACTIVE, &audit)
            .await
        {
            Ok(Inserted::Created) => {
                notify_created(state, user, &client, label, origin, lang);
                return Ok(Created {
                    row_id: new.id,
                    secret,
                });
            }
            Ok(Inserted::LimitReached) => return Err(AppPasswordError::LimitReached),
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppPasswordError::Store(StoreError::Conflict("mac")))
}

/// The notice of a new application password, to the person's mailbox
/// (the verified security e-mail, else the account name when it is an
/// address), in the background.
fn notify_created(
    state: &AppState,
    user: &User,
    client: &Client,
    label: &str,
    origin: &Origin,
    lang: Lang,
) {
    let Some(to) = super::unbind_case::mailbox(user) else {
        return;
    };
    let letter = Letter::AppPasswordCreated {
        label: label.to_string(),
        app: client.display_name(lang == Lang::En).to_string(),
        at: state.clock.now(),
        page: format!(
            "{}{}",
            state.config.issuer(),
            crate::routes::ACCOUNT_APP_PASSWORDS
        ),
    };
    mail::send_later(state, user.clone(), to, lang, letter, origin.clone());
}

/// The account's active application passwords, newest first.
pub async fn list(state: &AppState, user: &User) -> Result<Vec<AppPasswordRow>, StoreError> {
    state.store.app_passwords_of(user.id, false).await
}

/// Every application password of the account, revoked ones included (the
/// administrators' view).
pub async fn history(state: &AppState, user: &User) -> Result<Vec<AppPasswordRow>, StoreError> {
    state.store.app_passwords_of(user.id, true).await
}

/// Revokes one active password of `user` (`false`: none with that id).
/// `actor` is the owner or an administrator; the reason follows.
pub async fn revoke(
    state: &AppState,
    user: &User,
    id: Uuid,
    actor: &Actor,
    origin: &Origin,
) -> Result<bool, StoreError> {
    let reason = reason_of(user, actor);
    let audit = Entry::new("app_password.revoked", Outcome::Success)
        .actor(actor)
        .subject(user)
        .origin(origin)
        .detail(json!({ "id": id, "reason": reason.as_str() }))
        .finish();
    state
        .store
        .revoke_app_password(user.id, id, reason.as_str(), &audit)
        .await
}

fn reason_of(user: &User, actor: &Actor) -> Reason {
    match actor.id() {
        Some(id) if id == user.id => Reason::ByOwner,
        _ => Reason::ByAdministrator,
    }
}

/// Revokes every active password of `user` by the owner or an
/// administrator ("revoke all"). Returns how many.
pub async fn revoke_all(
    state: &AppState,
    user: &User,
    actor: &Actor,
    origin: &Origin,
) -> Result<u64, StoreError> {
    revoke_all_for(state, user.id, reason_of(user, actor), actor, origin).await
}

/// Revokes every active application password of account `user_id` for
/// `reason`, in one transaction with the audit entry
/// `app_password.revoked_all` (written only when there were any, with the
/// count). Returns how many were revoked.
///
/// For the flows that hand an account to a person anew outside the paths
/// that already do it in their own transaction (password reset, recovery
/// and voluntary change: `Store::set_password_hash`; a completed review
/// case: `Store::update_case`). The password retrieval calls it with
/// [`Reason::PasswordRetrieved`] after the new password is set.
pub async fn revoke_all_for(
    state: &AppState,
    user_id: Uuid,
    reason: Reason,
    actor: &Actor,
    origin: &Origin,
) -> Result<u64, StoreError> {
    let mut entry = Entry::new("app_password.revoked_all", Outcome::Success)
        .actor(actor)
        .origin(origin)
        .detail(json!({ "reason": reason.as_str() }));
    if let Some(user) = state.store.user_by_id(user_id).await? {
        entry = entry.subject(&user);
    }
    state
        .store
        .revoke_app_passwords(user_id, reason.as_str(), &entry.finish())
        .await
}

/// The audit entry a password change writes when it revokes the account's
/// application passwords in its own transaction (the count is added).
pub fn revoked_with_password(
    user: &User,
    reason: Reason,
    actor: &Actor,
    origin: &Origin,
) -> crate::store::audit::NewAuditEvent {
    Entry::new("app_password.revoked_all", Outcome::Success)
        .actor(actor)
        .subject(user)
        .origin(origin)
        .detail(json!({ "reason": reason.as_str() }))
        .finish()
}

/// A successful [`authenticate`]: the password used.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub id: Uuid,
    pub label: String,
    pub client_id: String,
}

/// Why [`authenticate`] refused. Only a correct secret of this account and
/// application learns more than [`AuthError::Invalid`].
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Not a secret of this account for this application, or revoked
    /// (LDAP: invalidCredentials, 49).
    #[error("invalid credentials")]
    Invalid,
    /// The secret is right but the account is disabled.
    #[error("the account is disabled")]
    Disabled,
    /// The secret is right but the account is blocked for the application
    /// (a weak password; see `service::blocks`).
    #[error("the account is blocked for this application ({})", .0.reason)]
    Blocked(ActiveBlock),
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl From<UseError> for AuthError {
    fn from(e: UseError) -> Self {
        match e {
            UseError::Blocked(b) => Self::Blocked(b),
            UseError::Store(s) => Self::Store(s),
        }
    }
}

/// Checks an application password presented by `user` for `client_id`
/// (the application named in an LDAP bind) from `origin`:
///
/// ```ignore
/// pub async fn authenticate(
///     state: &AppState,
///     user: &User,          // the account the bind names, as stored now
///     client_id: &str,      // the application the bind names
///     presented: &str,      // the secret, with or without spaces
///     origin: &Origin,      // the bind's source address (last use)
/// ) -> Result<Authenticated, AuthError>
/// ```
///
/// `Ok` only when the secret is an active password of this account made
/// for this client, the client still takes application passwords, the
/// account is active and not blocked for the client
/// ([`crate::service::access::may_use`]); the use is then recorded (time
/// and address). One MAC per server key and one indexed read, no slow
/// hash. It neither rate-limits nor audits: the caller (the LDAP bind)
/// gates attempts with the sign-in's shared limits and lockouts and
/// audits every bind with its outcome.
pub async fn authenticate(
    state: &AppState,
    user: &User,
    client_id: &str,
    presented: &str,
    origin: &Origin,
) -> Result<Authenticated, AuthError> {
    let Some(secret) = AppSecret::parse(presented) else {
        return Err(AuthError::Invalid);
    };
    let keys = state.store.server_secrets_named(KEY_PREFIX).await?;
    let macs: Vec<String> = keys.iter().map(|(_, key)| secret.mac(key)).collect();
    let Some(row) = state.store.app_password_by_mac(&macs).await? else {
        return Err(AuthError::Invalid);
    };
    if row.user_id != user.id || row.client_id != client_id || row.revoked_at.is_some() {
        return Err(AuthError::Invalid);
    }
    let client = clients::find_cached(state, client_id).await?;
    if !client.is_some_and(|c| c.app_passwords_allowed) {
        return Err(AuthError::Invalid);
    }
    if user.status != AccountStatus::Active {
        return Err(AuthError::Disabled);
    }
    may_use(state, user.id, client_id).await?;
    state
        .store
        .touch_app_password(row.id, origin.ip.as_deref())
        .await?;
    Ok(Authenticated {
        id: row.id,
        label: row.label,
        client_id: row.client_id,
    })
}

/// An address as the list shows it: IPv4 without its last part
/// (`203.0.113.*`), IPv6 with its first three groups (`2001:db8:1:*`).
pub fn masked_address(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) => {
            let o = v4.octets();
            format!("{}.{}.{}.*", o[0], o[1], o[2])
        }
        Ok(std::net::IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:*", s[0], s[1], s[2])
        }
        Err(_) => "*".into(),
    }
}

/// When a password was last used, for the lists.
pub fn last_used(row: &AppPasswordRow) -> Option<(OffsetDateTime, String)> {
    row.last_used_at.map(|at| {
        (
            at,
            row.last_used_ip
                .as_deref()
                .map(masked_address)
                .unwrap_or_default(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_sixteen_letters_without_i_l_o() {
        for _ in 0..200 {
            let s = AppSecret::generate().unwrap();
            assert_eq!(s.0.len(), 16);
            assert!(s.0.bytes().all(|b| b.is_ascii_lowercase()));
            assert!(!s.0.contains(['i', 'l', 'o']), "{}", s.0);
            let grouped = s.grouped();
            assert_eq!(grouped.len(), 19);
            assert_eq!(grouped.split(' ').count(), 4);
            assert_eq!(AppSecret::parse(&grouped), Some(s.clone()));
            assert_eq!(AppSecret::parse(&s.0.to_uppercase()), Some(s.clone()));
            assert!(!format!("{s:?}").contains(&s.0));
        }
        assert_ne!(
            AppSecret::generate().unwrap(),
            AppSecret::generate().unwrap()
        );
        assert!(AppSecret::parse("abcd efgh jkmn pqrs").is_some());
        for bad in [
            "",
            "abcd efgh jkmn pqr",
            "abcd efgh jkmn pqrst",
            "abcd efgh jkmn pqri",
            "abcd efgh jkmn pql0",
            "abcd-efgh-jkmn-pqrs",
        ] {
            assert!(AppSecret::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn macs_depend_on_the_key() {
        let s = AppSecret::parse("abcdefghjkmnpqrs").unwrap();
        assert_eq!(s.mac(b"k1"), s.mac(b"k1"));
        assert_ne!(s.mac(b"k1"), s.mac(b"k2"));
        assert_eq!(s.mac(b"k1").len(), 64);
    }

    #[test]
    fn addresses_are_masked() {
        assert_eq!(masked_address("203.0.113.9"), "203.0.113.*");
        assert_eq!(masked_address("2001:db8:1:2::5"), "2001:db8:1:*");
        assert_eq!(masked_address("garbage"), "*");
    }
}
