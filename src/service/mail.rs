//! The passport's letters: which there are, how each is composed in the
//! user's language as text and HTML (the words are templates in
//! templates/emails/, one file per language and part), and how it is sent
//! and audited.
//! Delivery itself is the mail port's job ([`crate::ports::mail`]).

use askama::Template;
use serde_json::json;
use time::OffsetDateTime;

use super::Origin;
use super::audit::{Entry, Outcome};
use crate::domain::Email;
use crate::i18n::Lang;
use crate::ports::mail::{MailError, MailMessage};
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::users::User;

/// A message the passport sends by e-mail. Links in it are secrets, so
/// Debug names only the kind.
#[derive(Clone)]
pub enum Letter {
    /// A link that lets the holder set a new password.
    RecoveryLink { link: String, minutes: u64 },
    /// A link that confirms this address as the security e-mail.
    ConfirmEmail { link: String, hours: u64 },
    /// The password was reset through recovery (by SMS code).
    PasswordReset { at: OffsetDateTime },
    /// The security e-mail moved away from this address (to `to_masked`)
    /// or was removed (`None`).
    EmailChanged { to_masked: Option<String> },
    /// The account's login (else security) phone became `to_masked` at `at`.
    PhoneChanged {
        login: bool,
        to_masked: String,
        at: OffsetDateTime,
    },
    /// A phone-unbind application for `phones` (masked) was submitted;
    /// `cancel_link` cancels it, `page` lists the applications.
    UnbindSubmitted {
        phones: String,
        cancel_link: String,
        page: String,
    },
    /// The application was approved; it takes effect at `effective_at`.
    UnbindApproved {
        effective_at: OffsetDateTime,
        page: String,
    },
    /// The application was rejected, with the reviewers' `note`.
    UnbindRejected { note: String, page: String },
    /// The application is complete: a new login phone was bound
    /// (`rebound`; the other sessions ended), or only the security phone
    /// was unbound and that took effect.
    UnbindCompleted {
        phones: String,
        rebound: bool,
        page: String,
    },
    /// The application was cancelled (the cancel link, or the old phone
    /// proved by SMS).
    UnbindCancelled { page: String },
    /// The password was found weak at a sign-in: the account is blocked
    /// for `apps` (their names) until an administrator resets it; whom to
    /// contact: the organization's `administrators` ("name <e-mail>"),
    /// else the `helpdesk`.
    Blocked {
        apps: String,
        administrators: Vec<String>,
        helpdesk: Option<String>,
    },
    /// An application password named `label` was made for `app` at `at`;
    /// `page` lists (and revokes) them.
    AppPasswordCreated {
        label: String,
        app: String,
        at: OffsetDateTime,
        page: String,
    },
    /// To the account's mailbox: an organization-verified retrieval was
    /// approved and its code goes out `at` (a cooling-off period), or it
    /// `completed` at `at` (the password was set, every sign-in ended).
    Retrieval { completed: bool, at: OffsetDateTime },
}

impl std::fmt::Debug for Letter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Letter")
            .field("purpose", &self.purpose())
            .finish_non_exhaustive()
    }
}

impl Letter {
    pub fn purpose(&self) -> &'static str {
        match self {
            Letter::RecoveryLink { .. } => "recovery",
            Letter::ConfirmEmail { .. } => "email_confirm",
            Letter::PasswordReset { .. } => "password_reset_notice",
            Letter::EmailChanged { .. } => "email_changed_notice",
            Letter::PhoneChanged { .. } => "phone_changed_notice",
            Letter::UnbindSubmitted { .. } => "unbind_submitted",
            Letter::UnbindApproved { .. } => "unbind_approved",
            Letter::UnbindRejected { .. } => "unbind_rejected",
            Letter::UnbindCompleted { .. } => "unbind_completed",
            Letter::UnbindCancelled { .. } => "unbind_cancelled",
            Letter::Blocked { .. } => "blocked_notice",
            Letter::AppPasswordCreated { .. } => "app_password_notice",
            Letter::Retrieval {
                completed: true, ..
            } => "retrieval_completed",
            Letter::Retrieval {
                completed: false, ..
            } => "retrieval_approved",
        }
    }

    fn link(&self) -> Option<&str> {
        match self {
            Letter::RecoveryLink { link, .. } | Letter::ConfirmEmail { link, .. } => Some(link),
            Letter::UnbindSubmitted { cancel_link, .. } => Some(cancel_link),
            Letter::UnbindApproved { page, .. }
            | Letter::UnbindRejected { page, .. }
            | Letter::UnbindCompleted { page, .. }
            | Letter::UnbindCancelled { page }
            | Letter::AppPasswordCreated { page, .. } => Some(page),
            Letter::PasswordReset { .. }
            | Letter::EmailChanged { .. }
            | Letter::PhoneChanged { .. }
            | Letter::Blocked { .. }
            | Letter::Retrieval { .. } => None,
        }
    }
}

/// What the letter templates see.
struct Words<'a> {
    letter: &'a Letter,
    lang: Lang,
    /// The account the letter is about.
    account: &'a str,
    /// Whom the letter greets.
    name: &'a str,
    /// The link the letter carries, if any.
    link: Option<&'a str>,
    /// The time zone the letter states times in.
    tz: &'a jiff::tz::TimeZone,
}

impl Words<'_> {
    /// A moment as the letter states it (local, in its language).
    fn at(&self, t: OffsetDateTime) -> String {
        self.lang.text().at(t, self.tz)
    }
}

/// The subject: the HTML part's title, sent as it is (no HTML escaping).
#[derive(Template)]
enum Subject<'a> {
    #[template(path = "emails/zh-CN.html", block = "subject", escape = "none")]
    ZhCn { w: &'a Words<'a> },
    #[template(path = "emails/en.html", block = "subject", escape = "none")]
    En { w: &'a Words<'a> },
}

#[derive(Template)]
enum TextPart<'a> {
    #[template(path = "emails/zh-CN.txt")]
    ZhCn { w: &'a Words<'a> },
    #[template(path = "emails/en.txt")]
    En { w: &'a Words<'a> },
}

#[derive(Template)]
enum HtmlPart<'a> {
    #[template(path = "emails/zh-CN.html")]
    ZhCn { w: &'a Words<'a> },
    #[template(path = "emails/en.html")]
    En { w: &'a Words<'a> },
}

/// The message for `user` at `to`, in `lang`: the words are the
/// templates `templates/emails/{zh-CN,en}.{txt,html}`, around the shared
/// layout (`layout.txt`, `layout.html`).
pub fn compose(
    letter: &Letter,
    lang: Lang,
    tz: &jiff::tz::TimeZone,
    user: &User,
    to: &str,
) -> Result<MailMessage, askama::Error> {
    let w = &Words {
        tz,
        letter,
        lang,
        account: &user.username,
        name: &user.display_name,
        link: letter.link(),
    };
    let (subject, text, html) = match lang {
        Lang::ZhCn => (
            Subject::ZhCn { w }.render()?,
            TextPart::ZhCn { w }.render()?,
            HtmlPart::ZhCn { w }.render()?,
        ),
        Lang::En => (
            Subject::En { w }.render()?,
            TextPart::En { w }.render()?,
            HtmlPart::En { w }.render()?,
        ),
    };
    Ok(MailMessage {
        to: to.to_string(),
        subject,
        text,
        html,
        purpose: letter.purpose().into(),
    })
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("{0}")]
    Mail(#[from] MailError),
    #[error("rendering: {0}")]
    Render(#[from] askama::Error),
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// Composes `letter` for `user` in the account's language (`lang` when it
/// has none yet: see [`User::notice_lang`]), sends it to `to` and audits
/// the outcome (`mail.sent`, with the purpose and the masked address).
pub async fn send(
    state: &AppState,
    user: &User,
    to: &str,
    lang: Lang,
    letter: &Letter,
    origin: &Origin,
) -> Result<(), SendError> {
    // A notice about an account speaks the account's language, whoever
    // set it off.
    let message = compose(letter, user.notice_lang(lang), &state.time_zone, user, to)?;
    let sent = state.mail.send(&message).await;
    crate::metrics::delivery("mail", state.mail.name(), sent.is_ok());
    let outcome = Outcome::of(&sent);
    let mut detail = json!({ "purpose": letter.purpose(), "to": Email::masked(to), "sender": state.mail.name() });
    if let Err(e) = &sent {
        detail["error"] = e.to_string().into();
    }
    Entry::new("mail.sent", outcome)
        .subject(user)
        .origin(origin)
        .detail(detail)
        .write(&state.store)
        .await?;
    Ok(sent?)
}

/// [`send`] in the background: the caller's answer does not wait for (or
/// reveal) the mail server; failures are audited and logged.
pub fn send_later(
    state: &AppState,
    user: User,
    to: String,
    lang: Lang,
    letter: Letter,
    origin: Origin,
) {
    let task_state = state.clone();
    state.background.spawn(async move {
        if let Err(e) = send(&task_state, &user, &to, lang, &letter, &origin).await {
            tracing::warn!(purpose = letter.purpose(), error = %e, "a mail was not delivered");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        let now = OffsetDateTime::now_utc();
        User {
            id: uuid::Uuid::nil(),
            username: "zhangsan".into(),
            display_name: "张三".into(),
            login_phone: None,
            security_phone: None,
            security_email: None,
            security_email_verified: false,
            organization_id: None,
            organization: None,
            is_admin: false,
            status: crate::store::users::AccountStatus::Active,
            status_reason: None,
            password_hash: String::new(),
            password_changed_at: now,
            session_epoch: 0,
            version: 1,
            created_at: now,
            updated_at: now,
            last_login_at: None,
            must_change_password: false,
            last_sms_at: None,
            step_up_required: false,
            phone_binding_raw: None,
            roles: crate::domain::Roles::none(),
            address_raw: None,
            lang_raw: None,
        }
    }

    #[test]
    fn letters_exist_in_both_languages_as_text_and_html() {
        let link = "https://id.example.org/recover/link?token=a&b".to_string();
        let letter = Letter::RecoveryLink {
            link: link.clone(),
            minutes: 30,
        };
        let zh = compose(
            &letter,
            Lang::ZhCn,
            &jiff::tz::TimeZone::UTC,
            &user(),
            "z@example.org",
        )
        .unwrap();
        assert!(zh.subject.contains("重置密码"));
        assert!(zh.text.contains("张三，您好") && zh.text.contains(&link));
        assert!(zh.text.contains("30 分钟"));
        assert!(zh.html.contains("lang=\"zh-CN\""));
        assert!(
            zh.html.contains("token=a&#38;b") || zh.html.contains("token=a&amp;b"),
            "the link is escaped in HTML: {}",
            zh.html
        );
        let en = compose(
            &letter,
            Lang::En,
            &jiff::tz::TimeZone::UTC,
            &user(),
            "z@example.org",
        )
        .unwrap();
        assert!(en.subject.contains("reset your password"));
        assert!(en.text.contains("valid for 30 minutes") && en.text.contains(&link));
        for l in [
            Letter::ConfirmEmail { link, hours: 24 },
            Letter::PasswordReset {
                at: OffsetDateTime::UNIX_EPOCH,
            },
            Letter::EmailChanged { to_masked: None },
            Letter::EmailChanged {
                to_masked: Some("n***@example.org".into()),
            },
        ] {
            for lang in [Lang::ZhCn, Lang::En] {
                let m =
                    compose(&l, lang, &jiff::tz::TimeZone::UTC, &user(), "z@example.org").unwrap();
                assert!(m.text.contains("zhangsan"), "{}", m.text);
                assert!(m.html.contains("zhangsan"));
                assert_eq!(m.purpose, l.purpose());
            }
        }
        assert_eq!(
            crate::i18n::when(OffsetDateTime::UNIX_EPOCH),
            "1970-01-01 00:00 UTC"
        );
        // Letters state times on the configured zone's clock, in words.
        let shanghai = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
        let reset = Letter::PasswordReset {
            at: OffsetDateTime::UNIX_EPOCH,
        };
        let zh = compose(&reset, Lang::ZhCn, &shanghai, &user(), "z@example.org").unwrap();
        assert!(
            zh.text.contains("的密码已于1970年1月1日 08:00通过"),
            "{}",
            zh.text
        );
        assert!(zh.html.contains("1970年1月1日 08:00"));
        let en = compose(&reset, Lang::En, &shanghai, &user(), "z@example.org").unwrap();
        assert!(en.text.contains("at 1 Jan 1970, 08:00."), "{}", en.text);
        assert!(!en.text.contains("UTC") && !zh.text.contains("UTC"));
    }

    /// Every letter. No wildcard in the match: a new letter fails to
    /// compile here until it is added to the list.
    fn every_letter() -> Vec<Letter> {
        let link = "https://id.example.org/recover/link?token=a&b".to_string();
        let all = vec![
            Letter::RecoveryLink {
                link: link.clone(),
                minutes: 30,
            },
            Letter::ConfirmEmail { link, hours: 24 },
            Letter::PasswordReset {
                at: OffsetDateTime::UNIX_EPOCH,
            },
            Letter::EmailChanged { to_masked: None },
            Letter::EmailChanged {
                to_masked: Some("n***@example.org".into()),
            },
            Letter::PhoneChanged {
                login: true,
                to_masked: "133****8347".into(),
                at: OffsetDateTime::UNIX_EPOCH,
            },
            Letter::PhoneChanged {
                login: false,
                to_masked: "+4474****3456".into(),
                at: OffsetDateTime::UNIX_EPOCH,
            },
            Letter::UnbindSubmitted {
                phones: "133****8347".into(),
                cancel_link: "https://id.example.org/unbind/cancel/1?token=t".into(),
                page: "https://id.example.org/account/phone/unbind".into(),
            },
            Letter::UnbindApproved {
                effective_at: OffsetDateTime::UNIX_EPOCH,
                page: "https://id.example.org/account/phone/unbind".into(),
            },
            Letter::UnbindRejected {
                note: "photo unreadable".into(),
                page: "https://id.example.org/account/phone/unbind".into(),
            },
            Letter::UnbindCompleted {
                phones: "133****8347".into(),
                rebound: true,
                page: "https://id.example.org/account/phone/unbind".into(),
            },
            Letter::UnbindCompleted {
                phones: "133****8347".into(),
                rebound: false,
                page: "https://id.example.org/account/phone/unbind".into(),
            },
            Letter::UnbindCancelled {
                page: "https://id.example.org/account/phone/unbind".into(),
            },
            Letter::Blocked {
                apps: "Mail, ARP".into(),
                administrators: vec!["Wang Wu <wang@example.org>".into()],
                helpdesk: None,
            },
            Letter::Blocked {
                apps: "Mail".into(),
                administrators: Vec::new(),
                helpdesk: Some("helpdesk@example.org".into()),
            },
            Letter::Blocked {
                apps: "Mail".into(),
                administrators: Vec::new(),
                helpdesk: None,
            },
            Letter::AppPasswordCreated {
                label: "iPhone mail".into(),
                app: "Mail".into(),
                at: OffsetDateTime::UNIX_EPOCH,
                page: "https://id.example.org/account/app-passwords".into(),
            },
            Letter::Retrieval {
                completed: true,
                at: OffsetDateTime::UNIX_EPOCH,
            },
            Letter::Retrieval {
                completed: false,
                at: OffsetDateTime::UNIX_EPOCH,
            },
        ];
        for l in &all {
            match l {
                Letter::RecoveryLink { .. }
                | Letter::ConfirmEmail { .. }
                | Letter::PasswordReset { .. }
                | Letter::EmailChanged { .. }
                | Letter::PhoneChanged { .. }
                | Letter::UnbindSubmitted { .. }
                | Letter::UnbindApproved { .. }
                | Letter::UnbindRejected { .. }
                | Letter::UnbindCompleted { .. }
                | Letter::UnbindCancelled { .. }
                | Letter::Blocked { .. }
                | Letter::AppPasswordCreated { .. } => {}
                Letter::Retrieval { .. } => {}
            }
        }
        all
    }

    #[test]
    fn english_letters_have_no_chinese_and_chinese_ones_are_translated() {
        // An ASCII name, so what the check finds comes from the words.
        let user = User {
            display_name: "Zhang San".into(),
            ..user()
        };
        let mut texts = Vec::new();
        for (i, l) in every_letter().iter().enumerate() {
            let zh = compose(
                l,
                Lang::ZhCn,
                &jiff::tz::TimeZone::UTC,
                &user,
                "z@example.org",
            )
            .unwrap();
            let en = compose(
                l,
                Lang::En,
                &jiff::tz::TimeZone::UTC,
                &user,
                "z@example.org",
            )
            .unwrap();
            let name = format!("{} #{i}", l.purpose());
            texts.push((format!("{name} subject"), zh.subject, en.subject));
            texts.push((format!("{name} text"), zh.text, en.text));
            texts.push((format!("{name} html"), zh.html, en.html));
        }
        let found = crate::i18n::tests::findings(&texts);
        assert!(found.is_empty(), "{found:#?}");
    }

    /// The lines of a text part that its HTML part does not say.
    fn missing_from_html(text: &str, html: &str) -> Vec<String> {
        let html = html
            .replace("&#34;", "\"")
            .replace("&#39;", "'")
            .replace("&#60;", "<")
            .replace("&#62;", ">")
            .replace("&#38;", "&");
        text.lines()
            .filter(|l| !l.trim().is_empty() && *l != "-- ")
            // The link's label ends with a colon in the text part only.
            .map(|l| l.strip_suffix(':').unwrap_or(l))
            .filter(|l| !html.contains(l))
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn the_text_and_html_parts_say_the_same() {
        let user = User {
            display_name: "O'Brien & <Co>".into(),
            ..user()
        };
        for l in every_letter() {
            for lang in [Lang::ZhCn, Lang::En] {
                let m =
                    compose(&l, lang, &jiff::tz::TimeZone::UTC, &user, "z@example.org").unwrap();
                let missing = missing_from_html(&m.text, &m.html);
                assert!(missing.is_empty(), "{l:?} {lang:?}: {missing:#?}");
                assert!(
                    m.html.contains(&format!("<title>{}</title>", m.subject)),
                    "{}",
                    m.html
                );
                assert!(!m.subject.contains('\n') && !m.subject.is_empty());
            }
        }
        // Positive control: a paragraph only the text part has is found.
        let m = compose(
            &every_letter()[0],
            Lang::En,
            &jiff::tz::TimeZone::UTC,
            &user,
            "z@example.org",
        )
        .unwrap();
        let planted = m
            .text
            .replacen("\n\n", "\n\nA paragraph the HTML lacks.\n\n", 1);
        assert_eq!(
            missing_from_html(&planted, &m.html),
            ["A paragraph the HTML lacks."]
        );
    }
}
