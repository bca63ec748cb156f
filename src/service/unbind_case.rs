//! The phone-unbind kind of review case: the data a case keeps, what an
//! approval does to the account when it takes effect, and the notices of
//! each change of state. The review engine ([`super::review`]) calls
//! [`release`] and [`notify`]; the application's own service
//! ([`super::unbind`]) builds the data. Neither is imported here, so the
//! engine and the application do not depend on each other in a circle.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Origin;
use super::codes;
use super::mail::{self, Letter};
use crate::config::SmsPurpose;
use crate::domain::PhoneNumber;
use crate::i18n::Lang;
use crate::i18n::sms::Sms;
use crate::state::AppState;
use crate::store::review::{Case, CaseState, PhoneRelease};
use crate::store::users::User;

/// Why the phone no longer receives SMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Lost,
    OutOfService,
    NoLongerUsed,
    Other,
}

impl Reason {
    pub const ALL: [Reason; 4] = [
        Reason::Lost,
        Reason::OutOfService,
        Reason::NoLongerUsed,
        Reason::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Lost => "lost",
            Reason::OutOfService => "out_of_service",
            Reason::NoLongerUsed => "no_longer_used",
            Reason::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// What a phone-unbind case keeps beside the engine's columns
/// (`review_cases.data`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnbindData {
    pub reason: Reason,
    #[serde(default)]
    pub note: Option<String>,
    /// The login phone to take off (E.164, as it was at submission), if chosen.
    #[serde(default)]
    pub login_phone: Option<String>,
    /// The security phone to take off, if chosen.
    #[serde(default)]
    pub security_phone: Option<String>,
    pub organization: String,
    /// The language the applicant wrote in: the notices speak it.
    pub lang: String,
    /// SHA-256 of the cancel link's token (the token itself went out in
    /// the notices only).
    pub cancel: String,
    /// The cancel links of later revisions (each 修改 sends its own
    /// notices); every one of them cancels.
    #[serde(default)]
    pub cancel_more: Vec<String>,
}

impl UnbindData {
    pub fn of(case: &Case) -> Result<UnbindData, String> {
        serde_json::from_str(&case.data).map_err(|e| format!("unbind data of {}: {e}", case.id))
    }

    pub fn lang(&self) -> Lang {
        Lang::from_tag(&self.lang).unwrap_or_default()
    }

    /// The numbers being unbound, masked (login first).
    pub fn masked(&self) -> Vec<String> {
        [&self.login_phone, &self.security_phone]
            .into_iter()
            .flatten()
            .map(|p| PhoneNumber::masked(p))
            .collect()
    }
}

/// What an approval takes off the account when it takes effect: the
/// numbers of the application, each only if it is still the account's.
pub fn release(case: &Case, restore: bool) -> Result<Option<PhoneRelease>, String> {
    let Some(account_id) = case.account_id else {
        return Ok(None);
    };
    let data = UnbindData::of(case)?;
    Ok(Some(PhoneRelease {
        account_id,
        login: data.login_phone,
        security: data.security_phone,
        restore,
    }))
}

/// Where the applicant's mail goes: the verified security e-mail.
pub(crate) fn mailbox(user: &User) -> Option<String> {
    user.security_email
        .clone()
        .filter(|_| user.security_email_verified)
        .or_else(|| {
            crate::domain::Email::parse(&user.username)
                .ok()
                .map(|e| e.normalized())
        })
}

pub(crate) fn my_applications(state: &AppState) -> String {
    format!(
        "{}{}",
        state.config.issuer(),
        crate::routes::ACCOUNT_PHONE_UNBIND
    )
}

pub fn cancel_link(state: &AppState, case_id: Uuid, token: &str) -> String {
    let path = crate::routes::UNBIND_CANCEL.replace("{id}", &case_id.to_string());
    crate::service::tickets::link(state, &path, token)
}

/// The letter a change of state sends the applicant, if any.
fn letter_for(state: &AppState, case: &Case, data: &UnbindData) -> Option<Letter> {
    let page = my_applications(state);
    match case.state {
        CaseState::Approved => Some(Letter::UnbindApproved {
            effective_at: case.effective_at.unwrap_or_else(|| state.clock.now()),
            page,
        }),
        CaseState::Rejected => Some(Letter::UnbindRejected {
            note: case.applicant_note.clone().unwrap_or_default(),
            page,
        }),
        CaseState::Completed => Some(Letter::UnbindCompleted {
            phones: data.masked().join(", "),
            rebound: data.login_phone.is_some(),
            page,
        }),
        CaseState::Cancelled => Some(Letter::UnbindCancelled { page }),
        _ => None,
    }
}

/// Tells the applicant of a change of state (called by the engine after
/// every transition of a phone-unbind case): a mail for approval,
/// rejection, completion and cancellation, and at completion an SMS to
/// the new login phone.
pub(crate) async fn notify(state: &AppState, case: &Case, origin: &Origin) {
    let Some(account) = case.account_id else {
        return;
    };
    let user = match state.store.user_by_id(account).await {
        Ok(Some(u)) => u,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "unbind notice: the applicant could not be read");
            return;
        }
    };
    let data = match UnbindData::of(case) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "unbind notice: the case data could not be read");
            return;
        }
    };
    let lang = user.notice_lang(data.lang());
    if case.state == CaseState::Completed
        && data.login_phone.is_some()
        && let Some(new) = user.login_phone.as_deref().and_then(PhoneNumber::stored)
        && let Some(message) = codes::notice(
            SmsPurpose::UnbindNotice,
            &new,
            &Sms::UnbindCompleted {
                account: &user.username,
            },
            vec![
                ("account", user.username.clone()),
                ("link", my_applications(state)),
            ],
            lang,
        )
    {
        codes::deliver_later(
            state,
            message,
            "sms.notice_sent",
            Some(user.clone()),
            origin.clone(),
        );
    }
    if let (Some(letter), Some(to)) = (letter_for(state, case, &data), mailbox(&user)) {
        mail::send_later(state, user.clone(), to, lang, letter, origin.clone());
    }
}
