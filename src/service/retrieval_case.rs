//! The retrieval case's own data and notices (a module of its own so the
//! review engine can call [`notify`] without depending on the flow in
//! [`super::retrieval`]).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Origin;
use super::codes;
use super::mail::{self, Letter};
use crate::config::SmsPurpose;
use crate::domain::{ChineseIdNumber, Email, PassportNumber, PhoneNumber};
use crate::i18n::Lang;
use crate::i18n::sms::Sms;
use crate::state::AppState;
use crate::store::review::{Case, CaseState};
use crate::store::users::User;

/// The kind of identity document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdType {
    /// 居民身份证.
    ResidentCard,
    Passport,
}

impl IdType {
    pub fn parse(s: &str) -> Option<IdType> {
        match s {
            "resident_card" => Some(IdType::ResidentCard),
            "passport" => Some(IdType::Passport),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            IdType::ResidentCard => "resident_card",
            IdType::Passport => "passport",
        }
    }
}

/// Why the person asks: 密码遗忘 / 人员调整 / 其他.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Forgotten,
    StaffChange,
    Other,
}

impl Reason {
    pub fn parse(s: &str) -> Option<Reason> {
        match s {
            "forgotten" => Some(Reason::Forgotten),
            "staff_change" => Some(Reason::StaffChange),
            "other" => Some(Reason::Other),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Forgotten => "forgotten",
            Reason::StaffChange => "staff_change",
            Reason::Other => "other",
        }
    }
}

/// What a retrieval case keeps beside the engine's columns (the phone and
/// e-mail are the case's contact columns). The identity number is kept in
/// full for the reviewers, who compare it with the scanned card; it goes
/// with the case's other data only when the case is deleted, and it is
/// shown masked everywhere but on the reviewer's page.
#[derive(Clone, Serialize, Deserialize)]
pub struct RetrievalData {
    pub organization_id: Uuid,
    /// The organization's full name when the form was filled in.
    pub organization: String,
    /// The organization was registered by the applicant (pending).
    #[serde(default)]
    pub organization_registered: bool,
    pub account: Option<String>,
    pub registered_name: Option<String>,
    pub name: String,
    pub id_type: IdType,
    pub id_number: String,
    /// A passport number of an unusual shape (a warning, not a refusal).
    #[serde(default)]
    pub id_unusual: bool,
    pub reason: Reason,
    pub reason_text: Option<String>,
    pub lang: String,
}

impl std::fmt::Debug for RetrievalData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetrievalData")
            .field("organization_id", &self.organization_id)
            .field("id_type", &self.id_type)
            .finish_non_exhaustive()
    }
}

impl RetrievalData {
    pub fn of(case: &Case) -> Result<RetrievalData, String> {
        serde_json::from_str(&case.data).map_err(|e| format!("retrieval data of {}: {e}", case.id))
    }

    pub fn lang(&self) -> Lang {
        Lang::from_tag(&self.lang).unwrap_or_default()
    }

    /// The identity number as printed and shown to the applicant.
    pub fn id_masked(&self) -> String {
        match self.id_type {
            IdType::ResidentCard => ChineseIdNumber::parse(&self.id_number, time::Date::MAX)
                .map(|n| n.masked())
                .unwrap_or_else(|_| mask_all(&self.id_number)),
            IdType::Passport => PassportNumber::parse(&self.id_number)
                .map(|n| n.masked())
                .unwrap_or_else(|_| mask_all(&self.id_number)),
        }
    }
}

fn mask_all(s: &str) -> String {
    "*".repeat(s.chars().count())
}

/// The reason in `t`'s language.
pub fn reason_label(t: &crate::i18n::Text, r: Reason) -> &'static str {
    match r {
        Reason::Forgotten => t.retrieve_reason_forgotten,
        Reason::StaffChange => t.retrieve_reason_staff_change,
        Reason::Other => t.retrieve_reason_other,
    }
}

/// Where the passport writes to the account: the verified security
/// e-mail, else the account name when it is a mail address.
fn mailbox(user: &User) -> Option<String> {
    match (&user.security_email, user.security_email_verified) {
        (Some(e), true) => Some(e.clone()),
        _ => Email::parse(&user.username).ok().map(|e| e.normalized()),
    }
}

/// Tells the people concerned of a change of state (called by the engine
/// after every transition of a retrieval): a rejection to the form's phone
/// (with the reviewers' note and where to upload again); an approval that
/// waits out a cooling-off period, and the completion, to the account's
/// other channels (its phones other than the form's, its mailbox).
pub(crate) async fn notify(state: &AppState, case: &Case, origin: &Origin) {
    let data = match RetrievalData::of(case) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "retrieval notice: the case data could not be read");
            return;
        }
    };
    let lang = data.lang();
    let number = case.public_number.clone().unwrap_or_default();
    if case.state == CaseState::Rejected {
        let link = format!("{}{}", state.config.issuer(), crate::routes::RETRIEVE_FILES);
        if let Some(phone) = case.contact_phone.as_deref().and_then(PhoneNumber::stored)
            && let Some(message) = codes::notice(
                SmsPurpose::RetrievalNotice,
                &phone,
                &Sms::RetrievalRejected {
                    case: &number,
                    link: &link,
                },
                vec![("case", number.clone()), ("link", link.clone())],
                lang,
            )
        {
            codes::deliver_later(state, message, "sms.notice_sent", None, origin.clone());
        }
        return;
    }
    let pending_code = case.state == CaseState::Approved
        && case.effective_at.is_some_and(|t| t > state.clock.now());
    let completed = case.state == CaseState::Completed;
    if !pending_code && !completed {
        return;
    }
    let Some(account) = case.account_id else {
        return;
    };
    let user = match state.store.user_by_id(account).await {
        Ok(Some(u)) => u,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "retrieval notice: the account could not be read");
            return;
        }
    };
    let at = if completed {
        case.completed_at.unwrap_or_else(|| state.clock.now())
    } else {
        case.effective_at.unwrap_or_else(|| state.clock.now())
    };
    // The account's other channels hear in the account's language, at the
    // institution's local time.
    let lang = user.notice_lang(lang);
    let when = lang.text().at(at, &state.time_zone);
    let form_phone = case.contact_phone.as_deref();
    let mut phones: Vec<&str> = [&user.login_phone, &user.security_phone]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .filter(|p| Some(*p) != form_phone)
        .collect();
    phones.dedup();
    for p in phones {
        let Some(phone) = PhoneNumber::stored(p) else {
            continue;
        };
        let sms = if completed {
            Sms::RetrievalCompleted {
                account: &user.username,
                at: &when,
            }
        } else {
            Sms::RetrievalPending {
                account: &user.username,
                at: &when,
            }
        };
        if let Some(message) = codes::notice(
            SmsPurpose::RetrievalNotice,
            &phone,
            &sms,
            vec![("account", user.username.clone()), ("time", when.clone())],
            lang,
        ) {
            codes::deliver_later(
                state,
                message,
                "sms.notice_sent",
                Some(user.clone()),
                origin.clone(),
            );
        }
    }
    if let Some(to) = mailbox(&user) {
        let letter = Letter::Retrieval { completed, at };
        mail::send_later(state, user.clone(), to, lang, letter, origin.clone());
    }
}
