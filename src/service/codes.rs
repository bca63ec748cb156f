//! One-time SMS codes, the shared service of every flow that proves a
//! phone (login step-up, recovery, phone change …).
//!
//! A code is bound to a purpose and a phone, has 6 digits, lives
//! `sms.code_ttl_secs` (5 min), is single use, allows `sms.max_attempts`
//! (5) wrong tries, and is stored only as a salted SHA-256. Sending is
//! limited per phone (one per `sms.resend_secs`, `sms.daily_limit` a day)
//! and per client address (`sms.ip_hourly_limit` an hour). Everything lives
//! in [`crate::ephemeral::Ephemeral`], so with Redis a code sent through
//! one node is verified on any other.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Origin;
use super::audit::{Entry, Outcome};
use crate::crypto::random;
use crate::domain::PhoneNumber;
use crate::ephemeral::EphemeralError;
use crate::i18n::Lang;
use crate::i18n::sms::Sms;
use crate::ports::sms::{SmsError, SmsMessage, SmsPurpose};
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::users::User;

/// What a code is for; a code for one purpose never works for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Login,
    Recovery,
    /// A phone change proves the current number…
    ChangeOld,
    /// …then the new one.
    ChangeNew,
    /// Guided binding of a phone to an account without one.
    Bind,
    Unbind,
    /// The retrieval form's phone.
    Retrieval,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        self.sms().as_str()
    }

    /// The purpose its SMS names (the vendor template that carries it).
    pub fn sms(self) -> SmsPurpose {
        match self {
            Purpose::Login => SmsPurpose::Login,
            Purpose::Recovery => SmsPurpose::Recovery,
            Purpose::ChangeOld => SmsPurpose::ChangeOld,
            Purpose::ChangeNew => SmsPurpose::ChangeNew,
            Purpose::Bind => SmsPurpose::Bind,
            Purpose::Unbind => SmsPurpose::Unbind,
            Purpose::Retrieval => SmsPurpose::Retrieval,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// A code was sent to this phone moments ago.
    #[error("wait {0:?} before asking for another code")]
    TooSoon(Duration),
    #[error("the daily number of codes for this phone is used up")]
    DailyLimit,
    #[error("too many codes requested from this address")]
    AddressLimit,
    #[error("the account has no phone to send a code to")]
    NoPhone,
    #[error("{0}")]
    Sms(#[from] SmsError),
    #[error("{0}")]
    Ephemeral(#[from] EphemeralError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("random: {0}")]
    Random(#[from] getrandom::Error),
    #[error("rendering the SMS: {0}")]
    Render(#[from] askama::Error),
    /// The code's record could not be written (never stored empty).
    #[error("code record: {0}")]
    Record(#[from] serde_json::Error),
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Wrong code; this many tries remain.
    #[error("wrong code ({0} tries left)")]
    Wrong(u32),
    /// No code (never sent, expired, used, or tries exhausted).
    #[error("no valid code; ask for a new one")]
    NoCode,
    #[error("{0}")]
    Internal(String),
}

impl From<EphemeralError> for VerifyError {
    fn from(e: EphemeralError) -> Self {
        VerifyError::Internal(e.to_string())
    }
}

#[derive(Serialize, Deserialize)]
struct Stored {
    salt: String,
    hash: String,
    /// The phone the code went to; `None`: it went nowhere (no phone, or
    /// the phone's budget was spent) and can never be right.
    #[serde(default)]
    sent_to: Option<String>,
}

/// Who a code is for.
#[derive(Debug, Clone, Copy)]
pub enum Recipient<'a> {
    /// A phone the code is sent to; codes and limits are kept per phone.
    Phone(&'a PhoneNumber),
    /// A flow that must not reveal whether an account exists (recovery):
    /// the code and its limits are kept under `name` (what the user typed,
    /// hashed), so they behave the same for every identifier. The code
    /// goes to `phone` when there is one — within a daily per-phone budget
    /// of its own that, when spent, drops messages silently — and with no
    /// phone it is never delivered and never right.
    Hidden {
        name: &'a str,
        phone: Option<&'a PhoneNumber>,
    },
    /// A number someone is proving to be theirs (the new number of a
    /// change, a number being bound): its code, wait and daily budget are
    /// its own, so codes asked for by others never use up what the number's
    /// owner needs to sign in or recover.
    Unproved(&'a PhoneNumber),
}

impl Recipient<'_> {
    /// The name codes and limits are kept under.
    fn id(&self) -> String {
        match self {
            Recipient::Phone(p) => p.as_str().to_string(),
            Recipient::Unproved(p) => format!("new:{}", p.as_str()),
            Recipient::Hidden { name, .. } => {
                format!("x{}", &crate::crypto::sha256_hex(name)[..32])
            }
        }
    }

    fn phone(&self) -> Option<&PhoneNumber> {
        match self {
            Recipient::Phone(p) | Recipient::Unproved(p) => Some(p),
            Recipient::Hidden { phone, .. } => *phone,
        }
    }
}

/// Whether the caller waits for the SMS gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The send's outcome is the caller's answer (step-up).
    Wait,
    /// The gateway is called in the background (failures are audited), so
    /// the answer takes as long whether or not a message goes out.
    Background,
}

fn key(purpose: Purpose, id: &str) -> String {
    format!("otp:{}:{id}", purpose.as_str())
}

fn hash(salt: &str, code: &str) -> String {
    crate::crypto::sha256_hex(format!("{salt}:{code}"))
}

/// Six random digits.
fn new_code() -> Result<String, getrandom::Error> {
    let [a, b, c, d] = random::bytes::<4>()?;
    Ok(format!(
        "{:06}",
        u32::from_le_bytes([a, b, c, d]) % 1_000_000
    ))
}

/// The SMS that carries `code` for `purpose`: each says what it is for,
/// so nobody reads a code out to a caller for another purpose.
fn code_sms(purpose: Purpose, code: &str, minutes: u64) -> Sms<'_> {
    match purpose {
        Purpose::Login => Sms::Code { code, minutes },
        Purpose::Recovery => Sms::RecoveryCode { code, minutes },
        Purpose::ChangeOld | Purpose::ChangeNew => Sms::ChangeCode { code, minutes },
        Purpose::Bind => Sms::BindCode { code, minutes },
        Purpose::Unbind => Sms::UnbindCode { code, minutes },
        Purpose::Retrieval => Sms::RetrievalCode { code, minutes },
    }
}

/// A security notice (no code) to `to`, written in `lang`, with the values
/// a vendor template may carry; `None` when it could not be written.
pub fn notice(
    purpose: SmsPurpose,
    to: &PhoneNumber,
    sms: &Sms<'_>,
    values: Vec<(&'static str, String)>,
    lang: Lang,
) -> Option<SmsMessage> {
    match sms.text(lang) {
        Ok(text) => Some(SmsMessage {
            to: to.as_str().into(),
            text,
            purpose,
            values,
        }),
        Err(e) => {
            tracing::warn!(purpose = purpose.as_str(), error = %e, "a notice could not be written");
            None
        }
    }
}

/// How long until another code may be sent to `to` (zero: now). Pages
/// draw their send button's countdown from this, so a reload, a refused
/// code or another tab shows the wait the server will enforce.
pub async fn resend_wait(state: &AppState, to: Recipient<'_>) -> Result<Duration, EphemeralError> {
    if state.config.sms.resend_secs == 0 {
        return Ok(Duration::ZERO);
    }
    Ok(state
        .ephemeral
        .ttl(&format!("otp-recent:{}", to.id()))
        .await?
        .unwrap_or_default())
}

/// Sends a new code for `purpose` to `phone` (replacing an earlier one)
/// and waits for the gateway.
pub async fn send(
    state: &AppState,
    purpose: Purpose,
    phone: &PhoneNumber,
    origin: &Origin,
    lang: Lang,
) -> Result<(), SendError> {
    send_to(
        state,
        purpose,
        Recipient::Phone(phone),
        origin,
        lang,
        Delivery::Wait,
    )
    .await
}

/// Makes a new code for `purpose` and `to` (replacing an earlier one),
/// within the sending limits, and delivers it as `delivery` says.
pub async fn send_to(
    state: &AppState,
    purpose: Purpose,
    to: Recipient<'_>,
    origin: &Origin,
    lang: Lang,
    delivery: Delivery,
) -> Result<(), SendError> {
    let c = &state.config.sms;
    let eph = &state.ephemeral;
    let phone_key = to.id();
    let resend = Duration::from_secs(c.resend_secs);
    if c.resend_secs > 0
        && !eph
            .set_nx(&format!("otp-recent:{phone_key}"), "1", resend)
            .await?
    {
        let wait = eph
            .ttl(&format!("otp-recent:{phone_key}"))
            .await?
            .unwrap_or(resend);
        return Err(SendError::TooSoon(wait));
    }
    let ip = origin.ip.as_deref().unwrap_or("unknown");
    if eph
        .incr(&format!("otp-ip:{ip}"), Duration::from_secs(3600))
        .await?
        > i64::from(c.ip_hourly_limit)
    {
        eph.delete(&format!("otp-recent:{phone_key}")).await?;
        return Err(SendError::AddressLimit);
    }
    if eph
        .incr(&format!("otp-day:{phone_key}"), Duration::from_secs(86_400))
        .await?
        > i64::from(c.daily_limit)
    {
        eph.delete(&format!("otp-recent:{phone_key}")).await?;
        return Err(SendError::DailyLimit);
    }
    // A hidden code's phone has a daily budget of its own; when it is
    // spent the code is still made (same answers) but goes nowhere. Without
    // a phone a stand-in counter under the name takes the same step, so
    // the answer costs the same round trips either way.
    let mut dropped = None;
    let phone = match to {
        Recipient::Hidden { phone, .. } => {
            let budget = match phone {
                Some(p) => format!("otp-hidden-day:{}", p.as_str()),
                None => format!("otp-hidden-day:{phone_key}"),
            };
            let spent =
                eph.incr(&budget, Duration::from_secs(86_400)).await? > i64::from(c.daily_limit);
            match phone {
                Some(p) if spent => {
                    dropped = Some(p);
                    None
                }
                other => other,
            }
        }
        Recipient::Phone(p) | Recipient::Unproved(p) => Some(p),
    };
    let code = new_code()?;
    let salt = random::token()?;
    let stored = serde_json::to_string(&Stored {
        hash: hash(&salt, &code),
        salt,
        sent_to: phone.map(|p| p.as_str().to_string()),
    })?;
    let ttl = Duration::from_secs(c.code_ttl_secs);
    eph.set(&key(purpose, &phone_key), &stored, ttl).await?;
    eph.delete(&format!("otp-tries:{}:{phone_key}", purpose.as_str()))
        .await?;
    // The text is written whether or not it goes anywhere (same work).
    let minutes = c.code_ttl_secs.div_ceil(60);
    let text = code_sms(purpose, &code, minutes).text(lang)?;
    if let Some(p) = dropped {
        // Audited in the background, like a delivery, so the answer takes
        // as long as one.
        let entry = Entry::new("sms.code_dropped", Outcome::Failure)
            .origin(origin)
            .detail(json!({ "purpose": purpose.as_str(), "phone": PhoneNumber::masked(p.as_str()), "reason": "daily budget of the phone" }))
            .finish();
        let store = state.store.clone();
        state.background.spawn(async move {
            if let Err(e) = store.append_audit(&entry).await {
                tracing::warn!(error = %e, "a dropped code could not be audited");
            }
        });
        return Ok(());
    }
    let Some(phone) = phone else {
        return Ok(());
    };
    let message = SmsMessage {
        to: phone.as_str().into(),
        text,
        purpose: purpose.sms(),
        values: vec![("code", code.clone()), ("minutes", minutes.to_string())],
    };
    match delivery {
        Delivery::Wait => deliver(state, &message, "sms.code_sent", None, origin).await,
        Delivery::Background => {
            deliver_later(state, message, "sms.code_sent", None, origin.clone());
            Ok(())
        }
    }
}

/// Hands a message to the gateway and audits the outcome as `event`.
async fn deliver(
    state: &AppState,
    message: &SmsMessage,
    event: &'static str,
    subject: Option<&User>,
    origin: &Origin,
) -> Result<(), SendError> {
    let sent = state.sms.send(message).await;
    crate::metrics::delivery("sms", state.sms.name(), sent.is_ok());
    let mut entry = Entry::new(event, Outcome::of(&sent))
        .origin(origin)
        .detail(json!({ "purpose": message.purpose.as_str(), "phone": PhoneNumber::masked(&message.to), "sender": state.sms.name() }));
    if let Some(user) = subject {
        entry = entry.subject(user);
    }
    entry.write(&state.store).await?;
    sent.map_err(SendError::from)
}

/// [`deliver`] in the background (failures are audited and logged): codes
/// that must not reveal an account, and notices.
pub fn deliver_later(
    state: &AppState,
    message: SmsMessage,
    event: &'static str,
    subject: Option<User>,
    origin: Origin,
) {
    let task_state = state.clone();
    state.background.spawn(async move {
        let result = deliver(&task_state, &message, event, subject.as_ref(), &origin).await;
        if let Err(e) = result {
            tracing::warn!(event, error = %e, "an SMS sent in the background was not delivered");
        }
    });
}

/// Checks a code; on success it is used up.
pub async fn verify(
    state: &AppState,
    purpose: Purpose,
    phone: &PhoneNumber,
    code: &str,
) -> Result<(), VerifyError> {
    verify_for(state, purpose, Recipient::Phone(phone), code).await
}

/// [`verify`] for any recipient (a hidden code without a phone is never
/// right: nobody has seen it; its tries are counted all the same).
pub async fn verify_for(
    state: &AppState,
    purpose: Purpose,
    to: Recipient<'_>,
    code: &str,
) -> Result<(), VerifyError> {
    let eph = &state.ephemeral;
    let id = to.id();
    let k = key(purpose, &id);
    let Some(raw) = eph.get(&k).await? else {
        return Err(VerifyError::NoCode);
    };
    let stored: Stored =
        serde_json::from_str(&raw).map_err(|e| VerifyError::Internal(e.to_string()))?;
    // Count the try before comparing, so parallel guesses cannot exceed
    // the limit; a right code does not use up a try.
    let max = state.config.sms.max_attempts;
    let ttl = Duration::from_secs(state.config.sms.code_ttl_secs);
    let tries_key = format!("otp-tries:{}:{id}", purpose.as_str());
    let tries = u32::try_from(eph.incr(&tries_key, ttl).await?).unwrap_or(u32::MAX);
    let code = code.trim();
    let well_formed = code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit());
    // Only a code that went to the phone the caller names can be right.
    let delivered = match (&stored.sent_to, to.phone()) {
        (Some(sent), Some(p)) => sent == p.as_str(),
        _ => false,
    };
    // Guesses at recovery codes to one phone, over every identifier that
    // names it, counted before comparing (parallel guesses cannot slip
    // past): beyond the cap every code is wrong, silently, so the answers
    // stay the same. A right code takes its count back.
    let day = Duration::from_secs(86_400);
    let guess_key = match to {
        Recipient::Hidden { phone: Some(p), .. } => Some(format!("otp-hidden-fail:{}", p.as_str())),
        _ => None,
    };
    let capped = match &guess_key {
        Some(k) => eph.incr(k, day).await? > i64::from(2 * max),
        None => false,
    };
    let right = well_formed
        && delivered
        && !capped
        && random::constant_time_eq(hash(&stored.salt, code).as_bytes(), stored.hash.as_bytes());
    if right && let Some(k) = &guess_key {
        eph.add(k, -1, day).await?;
    }
    if tries > max {
        eph.delete(&k).await?;
        return Err(VerifyError::NoCode);
    }
    if right {
        eph.delete(&tries_key).await?;
        // Single use: only the request that takes it succeeds.
        return match eph.take(&k).await? {
            Some(_) => Ok(()),
            None => Err(VerifyError::NoCode),
        };
    }
    if tries >= max {
        eph.delete(&k).await?;
        return Err(VerifyError::NoCode);
    }
    Err(VerifyError::Wrong(max - tries))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_six_digits_and_texts_both_languages() {
        for _ in 0..100 {
            let c = new_code().unwrap();
            assert_eq!(c.len(), 6);
            assert!(c.bytes().all(|b| b.is_ascii_digit()));
        }
        let text = |lang, purpose| code_sms(purpose, "123456", 5).text(lang).unwrap();
        assert!(text(Lang::ZhCn, Purpose::Login).contains("123456"));
        assert!(text(Lang::ZhCn, Purpose::Login).contains("5 分钟"));
        assert!(text(Lang::En, Purpose::Login).contains("valid for 5 minutes"));
        assert!(text(Lang::ZhCn, Purpose::Recovery).contains("找回"));
        assert!(text(Lang::En, Purpose::Recovery).contains("resetting your"));
        assert!(text(Lang::En, Purpose::Unbind).contains("123456"));
        for purpose in [
            Purpose::ChangeOld,
            Purpose::ChangeNew,
            Purpose::Bind,
            Purpose::Unbind,
        ] {
            // Aliyun approves verification templates only with 验证码 in them.
            assert!(text(Lang::ZhCn, purpose).contains("验证码"), "{purpose:?}");
            assert!(text(Lang::ZhCn, purpose).contains("123456"), "{purpose:?}");
        }
        assert!(text(Lang::ZhCn, Purpose::ChangeNew).contains("更改"));
        assert!(text(Lang::En, Purpose::Bind).contains("link"));
        assert_ne!(hash("a", "123456"), hash("b", "123456"), "salted");
    }
}
