//! Forgotten password (`/recover`).
//!
//! ```text
//! identifier + captcha ──► start ──► Recovery (kept in the browser session)
//!                                      │
//!            ┌─────────────────────────┴──────────────────────┐
//!   send_code ─► SMS code to the phone          send_link ─► link to the verified
//!   verify_code ─► Recovery verified                         security e-mail
//!            │                                               check_link (GET)
//!            └──────────────► reset(new password) ◄──────────┘
//!   every session and grant revoked · next login needs SMS · notice to the other channel
//! ```
//!
//! Nothing in the answers tells whether the identifier names an account:
//! an unknown identifier (or an account without that channel) goes
//! through the same steps. Codes and their limits are kept under what was
//! typed (hashed), never under the account's phone, so limits cannot link
//! a name to a phone; an identifier without a phone gets a code nobody
//! receives and that never verifies; the mail step says "if the account
//! has a verified security e-mail" either way.
//!
//! Answers also take as long either way (a measurable difference tells as
//! much as a different page): every step does the same store and
//! ephemeral work for a known account as for an unknown identifier — the
//! same lookups (a stand-in id when there is no account), the same
//! counters, the same audit write — and what only a real account needs
//! (making the link's ticket, calling the SMS gateway or the mail server)
//! runs in the background, after the answer.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::audit::{Entry, Outcome};
use super::codes::{self, Delivery, Purpose, Recipient, SendError, VerifyError};
use super::login::Identifier;
use super::mail::Letter;
use super::tickets::{self, TicketError};
use super::{Actor, Origin};
use crate::crypto::{HashError, sha256_hex};
use crate::domain::{Email, PolicyViolation, SecretPassword};
use crate::ephemeral::EphemeralError;
use crate::i18n::Lang;
use crate::i18n::sms::Sms;
use crate::ports::captcha::CaptchaError;
use crate::ports::sms::SmsPurpose;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::users::{AccountStatus, PasswordEffects, User};

/// How long a started recovery lasts in the browser.
pub const LIFETIME: Duration = Duration::from_secs(15 * 60);
/// Recoveries started per client address per hour, and per identifier.
const PER_IP_HOURLY: i64 = 20;
const PER_IDENTIFIER_HOURLY: i64 = 10;
/// Recovery mails per identifier: one a minute, five a day.
const MAIL_INTERVAL: Duration = Duration::from_secs(60);
const MAIL_DAILY: i64 = 5;

/// A recovery in progress, kept in the browser's session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recovery {
    /// The account, when the identifier names an active one.
    user_id: Option<Uuid>,
    /// The identifier, hashed: the name codes and limits are kept under.
    subject: String,
    /// Unix time the recovery started.
    started: i64,
    /// Once the SMS code was proved: the name of the one-time grant kept
    /// in the ephemeral store (the session only points at it, so the proof
    /// is used up on the server, not by forgetting a cookie).
    proof: Option<String>,
}

impl Recovery {
    /// Still within [`LIFETIME`] at `now` (the application's clock).
    pub fn is_live_at(&self, now: OffsetDateTime) -> bool {
        now.unix_timestamp() - self.started < i64::try_from(LIFETIME.as_secs()).unwrap_or(i64::MAX)
    }

    /// The SMS code was proved (and the recovery is live at `now`).
    pub fn is_verified_at(&self, now: OffsetDateTime) -> bool {
        self.proof.is_some() && self.is_live_at(now)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("enter an account name, phone number or e-mail address")]
    Empty,
    #[error("the captcha answer is wrong or expired")]
    Captcha,
    #[error("too many recovery attempts; wait {0:?}")]
    TooMany(Duration),
    #[error("{0}")]
    Internal(String),
}

macro_rules! internal_from {
    ($err:ident: $($t:ty),+) => {
        $(impl From<$t> for $err {
            fn from(e: $t) -> Self {
                $err::Internal(e.to_string())
            }
        })+
    };
}

internal_from!(StartError: StoreError, EphemeralError, CaptchaError);

/// Looks the identifier up: an account name, a login phone or a verified
/// security e-mail. Only active accounts can recover.
///
/// Both lookups run whenever the identifier could be either (an account
/// name can look like an e-mail address), found by the first or not, so
/// the answer's time does not tell which one matched or whether any did.
async fn resolve(state: &AppState, identifier: &str) -> Result<Option<User>, StoreError> {
    let by_email = match Email::parse(identifier) {
        Ok(email) => {
            state
                .store
                .user_by_security_email(&email.normalized())
                .await?
        }
        Err(_) => None,
    };
    let by_identifier = match Identifier::parse(identifier) {
        Some(id) => super::login::lookup(state, &id).await?,
        None => None,
    };
    Ok(by_email
        .or(by_identifier)
        .filter(|u| u.status == AccountStatus::Active))
}

/// Counts one event against an hourly limit; the wait when over it.
async fn over_hourly(
    state: &AppState,
    key: &str,
    limit: i64,
) -> Result<Option<Duration>, EphemeralError> {
    let hour = Duration::from_secs(3600);
    if state.ephemeral.incr(key, hour).await? > limit {
        return Ok(Some(state.ephemeral.ttl(key).await?.unwrap_or(hour)));
    }
    Ok(None)
}

/// Step 1: the identifier and the captcha.
pub async fn start(
    state: &AppState,
    identifier: &str,
    captcha_id: &str,
    captcha_answer: &str,
    origin: &Origin,
) -> Result<Recovery, StartError> {
    let identifier = identifier.trim();
    if identifier.is_empty() {
        return Err(StartError::Empty);
    }
    let ip = origin.ip.as_deref().unwrap_or("unknown");
    if let Some(wait) = over_hourly(state, &format!("recover-ip:{ip}"), PER_IP_HOURLY).await? {
        return Err(StartError::TooMany(wait));
    }
    if !state.captcha.check(captcha_id, captcha_answer).await? {
        Entry::new("recovery.captcha_failed", Outcome::Failure)
            .origin(origin)
            .write(&state.store)
            .await?;
        return Err(StartError::Captcha);
    }
    // Limits and codes follow the identifier as understood, so spelling a
    // phone as "138 0013 8000" or "+86 138-0013-8000" gains nothing.
    let understood = match (Email::parse(identifier), Identifier::parse(identifier)) {
        (Ok(email), _) => format!("email:{}", email.normalized()),
        (_, Some(id)) => id.key(),
        _ => format!("raw:{}", identifier.to_lowercase()),
    };
    let subject = sha256_hex(format!("recovery:{understood}"));
    if let Some(wait) = over_hourly(
        state,
        &format!("recover-id:{}", &subject[..32]),
        PER_IDENTIFIER_HOURLY,
    )
    .await?
    {
        return Err(StartError::TooMany(wait));
    }
    let user = resolve(state, identifier).await?;
    let mut entry = Entry::new("recovery.started", Outcome::Success)
        .origin(origin)
        .detail(json!({ "account_found": user.is_some() }));
    entry = match &user {
        Some(u) => entry.subject(u),
        None => entry.subject_name(None, identifier),
    };
    entry.write(&state.store).await?;
    Ok(Recovery {
        user_id: user.map(|u| u.id),
        subject,
        started: state.clock.now().unix_timestamp(),
        proof: None,
    })
}

/// The account of a recovery, if it (still) is an active one. Without
/// one the same query runs for a stand-in id no account has, so known and
/// unknown identifiers cost the same round trip.
async fn account(state: &AppState, recovery: &Recovery) -> Result<Option<User>, StoreError> {
    let found = super::accounts::active(state, recovery.user_id.unwrap_or(Uuid::nil())).await?;
    Ok(found.filter(|_| recovery.user_id.is_some()))
}

/// Step 2a: an SMS code to the account's phone — or, for an identifier
/// without one, to nobody, with the same limits and answers.
pub async fn send_code(
    state: &AppState,
    recovery: &Recovery,
    origin: &Origin,
    lang: Lang,
) -> Result<(), SendError> {
    let phone = account(state, recovery)
        .await?
        .as_ref()
        .and_then(super::step_up::phone_of);
    let to = Recipient::Hidden {
        name: &recovery.subject,
        phone: phone.as_ref(),
    };
    codes::send_to(
        state,
        Purpose::Recovery,
        to,
        origin,
        lang,
        Delivery::Background,
    )
    .await
}

/// How long until the recovery page may send another code (kept under the
/// identifier, like the codes themselves).
pub async fn resend_wait(
    state: &AppState,
    recovery: &Recovery,
) -> Result<std::time::Duration, crate::ephemeral::EphemeralError> {
    codes::resend_wait(
        state,
        Recipient::Hidden {
            name: &recovery.subject,
            phone: None,
        },
    )
    .await
}

/// Step 2a, continued: checks the code; on success the recovery is verified.
pub async fn verify_code(
    state: &AppState,
    recovery: &mut Recovery,
    code: &str,
    origin: &Origin,
) -> Result<(), VerifyError> {
    let internal = |e: StoreError| VerifyError::Internal(e.to_string());
    let user = account(state, recovery).await.map_err(internal)?;
    let phone = user.as_ref().and_then(super::step_up::phone_of);
    let to = Recipient::Hidden {
        name: &recovery.subject,
        phone: phone.as_ref(),
    };
    let result = codes::verify_for(state, Purpose::Recovery, to, code).await;
    let mut entry = Entry::new("recovery.code", Outcome::of(&result)).origin(origin);
    if let Some(u) = &user {
        entry = entry.subject(u);
    }
    entry.write(&state.store).await.map_err(internal)?;
    result?;
    // A right code implies an account with a phone (hidden codes without
    // one never verify).
    let (Some(user), Some(phone)) = (user, phone) else {
        return Err(VerifyError::NoCode);
    };
    let grant = ProofRecord {
        user_id: user.id,
        password_changed_at: user.password_stamp(),
        phone: phone.as_str().to_string(),
    };
    let id = tickets::issue(state, PROOF, &grant, LIFETIME)
        .await
        .map_err(|e| VerifyError::Internal(e.to_string()))?;
    recovery.proof = Some(id);
    Ok(())
}

/// What a proved SMS code allows: one password reset of this account, as
/// long as its password and phone are what they were.
#[derive(Serialize, Deserialize)]
struct ProofRecord {
    user_id: Uuid,
    password_changed_at: i64,
    phone: String,
}

/// Ticket kinds.
const PROOF: &str = "recover-proof";
const LINK: &str = "recover-link";

#[derive(Debug, thiserror::Error)]
pub enum LinkSendError {
    #[error("wait {0:?} before asking for another mail")]
    TooSoon(Duration),
    #[error("the daily number of recovery mails is used up")]
    DailyLimit,
    #[error("{0}")]
    Internal(String),
}

internal_from!(LinkSendError: StoreError, EphemeralError, TicketError);

/// What a recovery link stands for (kept under the link's hash).
#[derive(Serialize, Deserialize)]
struct LinkRecord {
    user_id: Uuid,
    /// When the password was last set (µs) as the link was made: a link
    /// dies with the password it was meant to replace.
    password_changed_at: i64,
    email: String,
}

/// Step 2b: a link to the account's verified security e-mail, if it has
/// one. The answer is the same either way.
pub async fn send_link(
    state: &AppState,
    recovery: &Recovery,
    origin: &Origin,
    lang: Lang,
) -> Result<(), LinkSendError> {
    let eph = &state.ephemeral;
    let id = &recovery.subject[..32];
    let recent = format!("recover-mail-recent:{id}");
    if !eph.set_nx(&recent, "1", MAIL_INTERVAL).await? {
        let wait = eph.ttl(&recent).await?.unwrap_or(MAIL_INTERVAL);
        return Err(LinkSendError::TooSoon(wait));
    }
    let day = format!("recover-mail-day:{id}");
    if eph.incr(&day, Duration::from_secs(86_400)).await? > MAIL_DAILY {
        return Err(LinkSendError::DailyLimit);
    }
    let user = account(state, recovery).await?;
    let email = user
        .as_ref()
        .filter(|u| u.security_email_verified)
        .and_then(|u| u.security_email.clone());
    let mut entry = Entry::new("recovery.link_requested", Outcome::Success)
        .origin(origin)
        .detail(json!({ "sent": email.is_some() }));
    if let Some(u) = &user {
        entry = entry.subject(u);
    }
    entry.write(&state.store).await?;
    let (Some(user), Some(email)) = (user, email) else {
        return Ok(());
    };
    // The link's ticket and the mail are a real account's alone: both are
    // made after the answer.
    let task_state = state.clone();
    let origin = origin.clone();
    state.background.spawn(async move {
        if let Err(e) = mail_link(&task_state, user, email, lang, &origin).await {
            tracing::warn!(error = %e, "a recovery link was not sent");
        }
    });
    Ok(())
}

/// Makes a recovery link for `user` and mails it to `email`.
async fn mail_link(
    state: &AppState,
    user: User,
    email: String,
    lang: Lang,
    origin: &Origin,
) -> Result<(), String> {
    let minutes = state.config.mail.recovery_link_minutes;
    let record = LinkRecord {
        user_id: user.id,
        password_changed_at: user.password_stamp(),
        email: email.clone(),
    };
    let token = tickets::issue(state, LINK, &record, Duration::from_secs(minutes * 60))
        .await
        .map_err(|e| e.to_string())?;
    let link = tickets::link(state, crate::routes::RECOVER_LINK, &token);
    let letter = Letter::RecoveryLink { link, minutes };
    super::mail::send(state, &user, &email, lang, &letter, origin)
        .await
        .map_err(|e| e.to_string())
}

#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    /// The link or the verified recovery is unknown, expired or used.
    #[error("the recovery is no longer valid; start again")]
    Invalid,
    #[error("the new password does not meet the policy")]
    Weak(Vec<PolicyViolation>),
    #[error("{0}")]
    Hash(#[from] HashError),
    #[error("{0}")]
    Internal(String),
}

internal_from!(ResetError: StoreError, EphemeralError, TicketError);

/// The account a recovery link is for, while it is valid (it is not used
/// up by looking: mail scanners open links too).
pub async fn check_link(state: &AppState, token: &str) -> Result<User, ResetError> {
    let record: LinkRecord = tickets::read(state, LINK, token)
        .await?
        .ok_or(ResetError::Invalid)?;
    let user = super::accounts::active(state, record.user_id)
        .await?
        .ok_or(ResetError::Invalid)?;
    let same_password = user.password_stamp() == record.password_changed_at;
    let same_email = user.security_email_verified
        && user.security_email.as_deref() == Some(record.email.as_str());
    if !(same_password && same_email) {
        return Err(ResetError::Invalid);
    }
    Ok(user)
}

/// The account a proved SMS code may reset, while the proof holds.
async fn check_code_proof(state: &AppState, id: &str) -> Result<User, ResetError> {
    let record: ProofRecord = tickets::read(state, PROOF, id)
        .await?
        .ok_or(ResetError::Invalid)?;
    let user = super::accounts::active(state, record.user_id)
        .await?
        .ok_or(ResetError::Invalid)?;
    let same_phone = super::step_up::phone_of(&user).is_some_and(|p| p.as_str() == record.phone);
    if user.password_stamp() != record.password_changed_at || !same_phone {
        return Err(ResetError::Invalid);
    }
    Ok(user)
}

/// What proves the right to set a new password.
pub enum Proof<'a> {
    /// A recovery whose SMS code was verified.
    Code(&'a Recovery),
    /// A recovery link (used up by the reset).
    Link(&'a str),
}

/// The account a proof may set a new password for, while the proof
/// holds (nothing is used up), and the proof's ticket kind and id.
async fn proved<'a>(
    state: &AppState,
    proof: &Proof<'a>,
) -> Result<(User, &'static str, &'a str), ResetError> {
    Ok(match proof {
        Proof::Code(r) => {
            let id = r
                .proof
                .as_deref()
                .filter(|_| r.is_live_at(state.clock.now()))
                .ok_or(ResetError::Invalid)?;
            (check_code_proof(state, id).await?, PROOF, id)
        }
        Proof::Link(token) => (check_link(state, token).await?, LINK, *token),
    })
}

/// The account whose new password the page is choosing (for the strength
/// meter), while the proof holds; nothing is used up.
pub async fn account_of(state: &AppState, proof: &Proof<'_>) -> Result<User, ResetError> {
    Ok(proved(state, proof).await?.0)
}

/// Step 3: the new password. Every session and grant of the account is
/// revoked, the next login must prove the phone, and the other channel
/// hears of it.
pub async fn reset(
    state: &AppState,
    proof: Proof<'_>,
    password: &SecretPassword,
    origin: &Origin,
    lang: Lang,
) -> Result<User, ResetError> {
    // The ephemeral record behind the proof: checked now, used up only
    // once the new password is ready.
    let (user, kind, token) = proved(state, &proof).await?;
    let phones: Vec<&str> = [&user.login_phone, &user.security_phone]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    let violations = state.policy.check(password, &user.username, &phones);
    if !violations.is_empty() {
        return Err(ResetError::Weak(violations));
    }
    let via = match proof {
        Proof::Code(_) => "sms",
        Proof::Link(_) => "email",
    };
    let hash = state.hasher.hash(password).await?;
    // Only now is the proof used up (a refused or unhashed password leaves
    // it usable), and only one request can take it.
    if !tickets::take(state, kind, token).await? {
        return Err(ResetError::Invalid);
    }
    let audit = Entry::new("account.password_recovered", Outcome::Success)
        .actor(&Actor::user(&user))
        .subject(&user)
        .origin(origin)
        .detail(json!({ "via": via }))
        .finish();
    // A strong password the person chose lifts their weak-password blocks
    // only when the deployment allows it (password_policy.self_service_lift).
    let actor = Actor::user(&user);
    let (label, unblocked) = (
        actor.label(),
        super::blocks::unblock_entry(
            &user,
            Some(crate::domain::BlockReason::WeakPassword),
            &actor,
            origin,
        ),
    );
    let revoked = super::app_passwords::revoked_with_password(
        &user,
        super::app_passwords::Reason::PasswordRecovered,
        &actor,
        origin,
    );
    let effects = PasswordEffects {
        clear_forced: true,
        set_forced: false,
        require_step_up: true,
        revoke_reason: super::app_passwords::Reason::PasswordRecovered.as_str(),
        revoke_app_passwords: Some(&revoked),
        keep_sid: None,
        // A change made meanwhile (the owner's own) is not overwritten.
        expected_version: Some(user.version),
        lift_weak_blocks: state
            .config
            .password_policy
            .self_service_lift
            .then_some((label.as_str(), &unblocked)),
    };
    match state
        .store
        .set_password_hash(user.id, &hash, effects, &audit)
        .await
    {
        Ok(()) => {}
        Err(StoreError::NotFound) => return Err(ResetError::Invalid),
        Err(e) => return Err(e.into()),
    }
    // The password is set: what follows is best effort and must not turn
    // the answer into an error (the sessions already ended with the epoch).
    notify_other_channel(state, &user, via, origin, lang);
    super::logout::end_all_sessions(state, &user).await;
    if let Err(e) = super::login::forget_failures(state, &user).await {
        tracing::warn!(error = %e, "failed-login counts after a recovery could not be cleared");
    }
    Ok(user)
}

/// After a reset by SMS the verified security e-mail hears of it; after a
/// reset by e-mail, the phone.
fn notify_other_channel(state: &AppState, user: &User, via: &str, origin: &Origin, lang: Lang) {
    let lang = user.notice_lang(lang);
    let at = state.clock.now();
    if via == "sms" {
        if let (true, Some(email)) = (user.security_email_verified, &user.security_email) {
            super::mail::send_later(
                state,
                user.clone(),
                email.clone(),
                lang,
                Letter::PasswordReset { at },
                origin.clone(),
            );
        }
        return;
    }
    let Some(phone) = super::step_up::phone_of(user) else {
        return;
    };
    let at = lang.text().at(at, &state.time_zone);
    let Some(message) = codes::notice(
        SmsPurpose::PasswordResetNotice,
        &phone,
        &Sms::PasswordReset {
            account: &user.username,
            at: &at,
        },
        vec![("account", user.username.to_string()), ("time", at.clone())],
        lang,
    ) else {
        return;
    };
    codes::deliver_later(
        state,
        message,
        "sms.notice_sent",
        Some(user.clone()),
        origin.clone(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recovery_expires_and_needs_a_code() {
        let at = OffsetDateTime::now_utc();
        let now = at.unix_timestamp();
        let mut r = Recovery {
            user_id: None,
            subject: "s".repeat(64),
            started: now,
            proof: None,
        };
        assert!(r.is_live_at(at) && !r.is_verified_at(at));
        r.proof = Some("p".into());
        assert!(r.is_verified_at(at));
        r.started = now - 16 * 60;
        assert!(!r.is_live_at(at) && !r.is_verified_at(at));
    }
}
