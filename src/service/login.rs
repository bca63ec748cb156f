//! Password login.
//!
//! ```text
//! identifier ─▶ resolve (account name | login phone) ─▶ lock check (IP, account)
//!            ─▶ argon2 verify (dummy hash when no account: same timing)
//!            ─▶ wrong: count failure, maybe lock ─▶ "account or password incorrect"
//!            ─▶ right: disabled? ─▶ Blocked ; else reset counter, re-hash if
//!               parameters changed, record login
//!            ─▶ weak under the current policy? ─▶ blocks::block_weak (blocks the
//!               strong-password clients, demands a new password)
//!            ─▶ phone owed (step_up::decide)? ─▶ StepUpOwed
//!            ─▶ new password demanded? ─▶ PasswordChangeOwed ; else SignedIn
//! ```
//!
//! A correct password ends in one [`LoginOutcome`]; the login page only
//! maps it to a response. The first steps (locks, the hash, counting a
//! failure) are [`verify_password`], which the LDAP bind shares.
//!
//! The answer for a wrong password is the same whether or not the account
//! exists, and a disabled account is only revealed to someone who knows
//! its password. Locks apply to unknown identifiers too, for the same reason.

use std::time::Duration;

use serde_json::json;

use super::audit::{Entry, Outcome};
use super::{Actor, Origin};
use crate::crypto::HashError;
use crate::domain::{AccountName, PhoneNumber, SecretPassword};
use crate::ephemeral::EphemeralError;
use crate::ephemeral::rate_limit::{Admission, Backoff, Memory, Slot, admit};
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::users::{AccountStatus, User};

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("locked out for {0:?}")]
    Locked(Duration),
    #[error("{0}")]
    Hash(#[from] HashError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Ephemeral(#[from] EphemeralError),
}

/// Where a correct password leads. Later steps (the phone, a new password)
/// are owed in this order: the phone first, since a password set by
/// someone else is exactly when the phone must be proved.
#[derive(Debug)]
pub enum LoginOutcome {
    /// Signed in with the password alone (`amr` = `pwd`).
    SignedIn(User),
    /// The phone must be proved by SMS as well, for these reasons.
    StepUpOwed {
        user: User,
        reasons: Vec<super::step_up::Reason>,
    },
    /// Signed in, but an administrator demanded a new password: nothing
    /// else until it is changed.
    PasswordChangeOwed(User),
    /// The account may not sign in (revealed only to someone who knew the
    /// password).
    Blocked { user: User, reason: Block },
}

/// Why a correct password does not sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    /// An administrator disabled the account.
    Disabled,
}

impl Block {
    /// The reason as audited.
    pub fn as_str(self) -> &'static str {
        match self {
            Block::Disabled => "disabled",
        }
    }
}

/// What the user typed in the account field, understood.
#[derive(Debug)]
pub enum Identifier {
    Name(AccountName),
    Phone(PhoneNumber),
}

impl Identifier {
    /// Letters or `@` mean an account name; otherwise a phone number is tried.
    pub fn parse(input: &str) -> Option<Self> {
        let input = input.trim();
        if input.chars().any(|c| c.is_alphabetic() || c == '@') {
            return AccountName::parse(input).ok().map(Identifier::Name);
        }
        PhoneNumber::parse(input)
            .ok()
            .map(Identifier::Phone)
            .or_else(|| AccountName::parse(input).ok().map(Identifier::Name))
    }

    pub(crate) fn key(&self) -> String {
        match self {
            Identifier::Name(n) => format!("name:{n}"),
            Identifier::Phone(p) => format!("phone:{p}"),
        }
    }
}

fn account_backoff(state: &AppState) -> Backoff {
    let l = &state.config.login_limits;
    Backoff {
        scope: "login-account",
        free: l.account_free_failures,
        window: Duration::from_secs(l.window_secs),
        base: Duration::from_secs(l.base_delay_secs),
        max: Duration::from_secs(l.max_delay_secs),
        memory: Memory::Sliding,
    }
}

/// A client address may be shared by thousands (a campus NAT): its count
/// starts over each window instead of sliding with every typo.
fn ip_backoff(state: &AppState) -> Backoff {
    Backoff {
        scope: "login-ip",
        free: state.config.login_limits.ip_free_failures,
        memory: Memory::Fixed,
        ..account_backoff(state)
    }
}

/// How long an attempt waits for a slot held by attempts in progress
/// before it gives up with "busy" (hashing is bounded, so slots normally
/// come back within milliseconds).
const PATIENCE: Duration = Duration::from_secs(10);

/// Takes the slots of `subjects` for one password check (see
/// [`crate::ephemeral::rate_limit`]): `Err(Locked)` when one is locked,
/// `Err(Busy)` when none came free in time. A refusal by a lock is audited.
async fn admit_attempt(
    state: &AppState,
    subjects: &[(&Backoff, &str)],
    identifier: &str,
    origin: Option<&Origin>,
) -> Result<Vec<Slot>, LoginError> {
    match admit(&state.ephemeral, subjects, PATIENCE).await? {
        Admission::Admitted(slots) => Ok(slots),
        Admission::Busy => Err(LoginError::Hash(HashError::Busy)),
        Admission::Locked(wait) => {
            if let Some(origin) = origin {
                Entry::new("login.throttled", Outcome::Failure)
                    .subject_name(None, identifier)
                    .origin(origin)
                    .detail(json!({ "retry_after_secs": wait.as_secs() }))
                    .queue(&state.audit)
                    .await?;
            }
            Err(LoginError::Locked(wait))
        }
    }
}

pub(crate) async fn lookup(state: &AppState, id: &Identifier) -> Result<Option<User>, StoreError> {
    match id {
        Identifier::Name(n) => state.store.user_by_username(n.as_str()).await,
        Identifier::Phone(p) => state.store.user_by_login_phone(p.as_str()).await,
    }
}

/// Which surface a password came through, as the audit log names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// The login page.
    Web,
    /// A simple bind on the LDAP interface (`service::ldap`).
    Ldap,
}

impl Surface {
    pub fn as_str(self) -> &'static str {
        match self {
            Surface::Web => "web",
            Surface::Ldap => "ldap",
        }
    }
}

/// A password that matched the account's.
#[derive(Debug)]
pub struct VerifiedPassword {
    pub user: User,
    /// The stored hash should be replaced (see [`upgrade_hash`]).
    pub needs_rehash: bool,
}

/// The one credential check of every surface that takes the passport
/// password — the login page and LDAP binds — so LDAP is no side door for
/// guessing: the same locks per typed identifier and per address (shared
/// across nodes through the ephemeral store), the same bounded hashing
/// pool, the same dummy hash for an unknown account, and a
/// `login.failure` entry naming the surface.
///
/// `Ok` only for a right password; whether the account may then sign in
/// (disabled, blocked, owing steps) is the caller's to decide.
pub async fn verify_password(
    state: &AppState,
    identifier: &str,
    password: &SecretPassword,
    origin: &Origin,
    surface: Surface,
) -> Result<VerifiedPassword, LoginError> {
    let parsed = Identifier::parse(identifier);
    // Locks follow what was typed, known account or not: keying known
    // accounts differently would let a prober learn which phone number
    // belongs to which account by watching locks carry over.
    let account_subject = account_subject(identifier);
    let ip_subject = origin.ip.clone().unwrap_or_else(|| "unknown".into());
    let (by_account, by_ip) = (account_backoff(state), ip_backoff(state));
    let eph = &state.ephemeral;

    // A slot of the account and of the address for this check; a correct
    // password gives them back uncounted (see rate_limit's module docs).
    let mut slots = admit_attempt(
        state,
        &[(&by_account, &account_subject), (&by_ip, &ip_subject)],
        identifier,
        Some(origin),
    )
    .await?
    .into_iter();
    let (Some(account_slot), Some(ip_slot)) = (slots.next(), slots.next()) else {
        return Err(LoginError::Hash(HashError::Internal(
            "login: a slot per subject was expected".into(),
        )));
    };

    let user = match &parsed {
        Some(id) => lookup(state, id).await?,
        None => None,
    };
    let verified = state
        .hasher
        .verify(password, user.as_ref().map(|u| u.password_hash.as_str()))
        .await?;
    let user = match user {
        Some(user) if verified.ok => user,
        user => {
            let reason = if user.is_some() {
                "wrong_password"
            } else {
                "unknown_account"
            };
            // The slots become failures (before anything else can fail).
            let locked_account = by_account
                .failed(eph, &account_subject, account_slot)
                .await?;
            let locked_ip = by_ip.failed(eph, &ip_subject, ip_slot).await?;
            Entry::new("login.failure", Outcome::Failure)
                .subject_name(user.as_ref().map(|u| u.id), identifier)
                .origin(origin)
                .detail(json!({ "reason": reason, "surface": surface.as_str() }))
                .queue(&state.audit)
                .await?;
            for (scope, lock) in [("account", locked_account), ("ip", locked_ip)] {
                if let Some(lock) = lock {
                    Entry::new("login.lockout", Outcome::Failure)
                        .subject_name(None, identifier)
                        .origin(origin)
                        .detail(json!({ "scope": scope, "lock_secs": lock.as_secs(), "surface": surface.as_str() }))
                        .queue(&state.audit)
                        .await?;
                }
            }
            return Err(LoginError::InvalidCredentials);
        }
    };
    // The password was right: this attempt was no guess. The account's
    // earlier failures are forgotten; the address's belong to others.
    by_account
        .succeeded(eph, &account_subject, account_slot, true)
        .await?;
    by_ip.succeeded(eph, &ip_subject, ip_slot, false).await?;
    Ok(VerifiedPassword {
        user,
        needs_rehash: verified.needs_rehash,
    })
}

/// The lock subject of what was typed as an account (a name, a phone
/// number, or anything else): the key [`verify_password`] counts failures
/// under, so other secrets presented for the same account (application
/// passwords at LDAP) share its lock.
pub fn account_subject(identifier: &str) -> String {
    match Identifier::parse(identifier) {
        Some(id) => id.key(),
        None => format!("raw:{}", identifier.trim().to_lowercase()),
    }
}

/// A secret that is not the passport password (an application's secret
/// or an application password at the LDAP interface) checked under the
/// same locks as a password: per `subject` (an [`account_subject`], or
/// namespaced by the caller, e.g. `client:mail`) and per address. `check`
/// runs once a slot is held; `Ok(false)`: wrong — counted as a failure
/// when `count_failure`, else given back uncounted (for a check that
/// another, counted check follows within the same attempt).
pub async fn guarded_check(
    state: &AppState,
    subject: &str,
    origin: &Origin,
    count_failure: bool,
    check: impl Future<Output = bool>,
) -> Result<bool, LoginError> {
    let ip_subject = origin.ip.clone().unwrap_or_else(|| "unknown".into());
    let (by_subject, by_ip) = (account_backoff(state), ip_backoff(state));
    let eph = &state.ephemeral;
    let mut slots = admit_attempt(
        state,
        &[(&by_subject, subject), (&by_ip, &ip_subject)],
        subject,
        Some(origin),
    )
    .await?
    .into_iter();
    let (Some(subject_slot), Some(ip_slot)) = (slots.next(), slots.next()) else {
        return Err(LoginError::Hash(HashError::Internal(
            "guarded_check: a slot per subject was expected".into(),
        )));
    };
    if check.await {
        by_subject
            .succeeded(eph, subject, subject_slot, true)
            .await?;
        by_ip.succeeded(eph, &ip_subject, ip_slot, false).await?;
        Ok(true)
    } else if count_failure {
        by_subject.failed(eph, subject, subject_slot).await?;
        by_ip.failed(eph, &ip_subject, ip_slot).await?;
        Ok(false)
    } else {
        by_subject
            .succeeded(eph, subject, subject_slot, false)
            .await?;
        by_ip.succeeded(eph, &ip_subject, ip_slot, false).await?;
        Ok(false)
    }
}

/// Replaces the stored hash of a right password that needs it: parameters
/// changed in config since this hash was made, or it was imported from the
/// passport Tongxing replaces (crypto::legacy) — unless the password itself
/// changed meanwhile (the store compares the old hash).
pub async fn upgrade_hash(
    state: &AppState,
    verified: &VerifiedPassword,
    password: &SecretPassword,
) -> Result<(), LoginError> {
    if verified.needs_rehash {
        let hash = state.hasher.hash(password).await?;
        state
            .store
            .upgrade_password_hash(verified.user.id, &verified.user.password_hash, &hash)
            .await?;
    }
    Ok(())
}

/// Checks an account name or login phone and a password, and decides what
/// a correct one leads to; `device_cookie` is the browser's step-up device
/// cookie, `lang` the language of a notice the sign-in may send (a weak
/// password's: see [`super::blocks::block_weak`]).
pub async fn password_login(
    state: &AppState,
    identifier: &str,
    password: &SecretPassword,
    device_cookie: Option<&str>,
    origin: &Origin,
    lang: crate::i18n::Lang,
) -> Result<LoginOutcome, LoginError> {
    let verified = verify_password(state, identifier, password, origin, Surface::Web).await?;

    if verified.user.status != AccountStatus::Active {
        let reason = Block::Disabled;
        Entry::new("login.failure", Outcome::Failure)
            .subject(&verified.user)
            .origin(origin)
            .detail(json!({ "reason": reason.as_str() }))
            .queue(&state.audit)
            .await?;
        return Ok(LoginOutcome::Blocked {
            user: verified.user,
            reason,
        });
    }

    // The password in hand is right. It is checked against the current
    // policy below, once the sign-in is recorded (weak-password blocks,
    // `service::blocks`): for every password alike, including one whose
    // imported hash is replaced here.
    upgrade_hash(state, &verified, password).await?;
    let VerifiedPassword { user, needs_rehash } = verified;
    state.store.record_login(user.id, lang).await?;
    let actor = Actor::user(&user);
    Entry::new("login.success", Outcome::Success)
        .actor(&actor)
        .subject(&user)
        .origin(origin)
        .detail(json!({ "method": "password", "rehashed": needs_rehash }))
        .queue(&state.audit)
        .await?;
    // The password in hand, against the current policy (it may have
    // tightened since the password was set, or the hash was imported): a
    // weak one blocks the applications that demand strong passwords and
    // demands a new password, which the sign-in leads to.
    let user = if super::blocks::weak_reasons_of(state, password, &user).is_empty() {
        user
    } else {
        super::blocks::block_weak(state, &user, &Actor::System, origin, lang).await?;
        User {
            must_change_password: true,
            ..user
        }
    };
    let reasons = super::step_up::decide(state, &user, device_cookie, origin).await?;
    Ok(if !reasons.is_empty() {
        LoginOutcome::StepUpOwed { user, reasons }
    } else {
        completed(user)
    })
}

/// Where a sign-in with nothing more to prove leads: after the password
/// alone, or after the step-up the password left owed.
pub fn completed(user: User) -> LoginOutcome {
    if user.must_change_password {
        LoginOutcome::PasswordChangeOwed(user)
    } else {
        LoginOutcome::SignedIn(user)
    }
}

/// A signed-in user types the password again (before changing the
/// password or a recovery channel). Wrong guesses count against the
/// account exactly like failed logins, so a borrowed session cannot guess
/// the password faster than the login page allows. `Ok(false)`: wrong.
pub async fn reauthenticate(
    state: &AppState,
    user: &User,
    password: &SecretPassword,
) -> Result<bool, LoginError> {
    let subject = format!("name:{}", user.username);
    let backoff = account_backoff(state);
    let eph = &state.ephemeral;
    let mut slots = admit_attempt(state, &[(&backoff, &subject)], &user.username, None)
        .await?
        .into_iter();
    let Some(slot) = slots.next() else {
        return Err(LoginError::Hash(HashError::Internal(
            "reauthenticate: a slot was expected".into(),
        )));
    };
    let ok = state
        .hasher
        .verify(password, Some(&user.password_hash))
        .await?
        .ok;
    if ok {
        backoff.succeeded(eph, &subject, slot, true).await?;
    } else {
        backoff.failed(eph, &subject, slot).await?;
    }
    Ok(ok)
}

/// Clears the failed-login count of the account's identifiers (its name
/// and login phone): whoever just proved the account by recovery should
/// not then wait out a lock a guesser caused.
pub async fn forget_failures(state: &AppState, user: &User) -> Result<(), EphemeralError> {
    let backoff = account_backoff(state);
    backoff
        .reset(&state.ephemeral, &format!("name:{}", user.username))
        .await?;
    if let Some(phone) = &user.login_phone {
        backoff
            .reset(&state.ephemeral, &format!("phone:{phone}"))
            .await?;
    }
    Ok(())
}
