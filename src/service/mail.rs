//! The passport's letters: what each message says, in the user's language,
//! as text and HTML (templates/emails/), and how it is sent and audited.
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
        }
    }
}

/// `2026-11-22 08:30 UTC`: unambiguous wherever the reader is.
pub fn when(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

struct Body {
    subject: String,
    paragraphs: Vec<String>,
    link: Option<String>,
    link_label: &'static str,
}

fn body(letter: &Letter, lang: Lang, account: &str) -> Body {
    let zh = lang == Lang::ZhCn;
    let (subject, paragraphs, link, link_label) = match letter {
        Letter::RecoveryLink { link, minutes } => (
            if zh {
                "通行证：重置密码"
            } else {
                "Passport: reset your password"
            },
            if zh {
                vec![
                    format!(
                        "我们收到了为通行证账号 {account} 重置密码的请求。请点击下面的链接设置新密码，链接在 {minutes} 分钟内有效，且只能使用一次。"
                    ),
                    "重置后，该账号在所有设备上的登录都将退出，下次登录需要短信验证。".into(),
                    "如果这不是您本人的操作，请忽略本邮件，您的密码不会改变。".into(),
                ]
            } else {
                vec![
                    format!("We received a request to reset the password of the passport account {account}. Follow the link below to set a new one. It is valid for {minutes} minutes and works once."),
                    "After the reset every sign-in of the account ends, and the next sign-in asks for an SMS code.".into(),
                    "If you did not ask for this, ignore this message; your password stays as it is.".into(),
                ]
            },
            Some(link.clone()),
            if zh {
                "设置新密码"
            } else {
                "Set a new password"
            },
        ),
        Letter::ConfirmEmail { link, hours } => (
            if zh {
                "通行证：确认密保邮箱"
            } else {
                "Passport: confirm your security e-mail"
            },
            if zh {
                vec![
                    format!(
                        "通行证账号 {account} 申请将本邮箱设为密保邮箱，用于找回密码。请点击下面的链接确认，链接在 {hours} 小时内有效。"
                    ),
                    "如果这不是您本人的操作，请忽略本邮件，本邮箱不会被绑定。".into(),
                ]
            } else {
                vec![
                    format!("The passport account {account} asked to use this address as its security e-mail, for password recovery. Follow the link below to confirm. It is valid for {hours} hours."),
                    "If you did not ask for this, ignore this message; the address will not be linked.".into(),
                ]
            },
            Some(link.clone()),
            if zh {
                "确认密保邮箱"
            } else {
                "Confirm this address"
            },
        ),
        Letter::PasswordReset { at } => (
            if zh {
                "通行证：密码已重置"
            } else {
                "Passport: your password was reset"
            },
            if zh {
                vec![
                    format!(
                        "通行证账号 {account} 的密码已于 {} 通过短信验证码重置，所有设备上的登录均已退出。",
                        when(*at)
                    ),
                    "如果这不是您本人的操作，请立即联系管理员。".into(),
                ]
            } else {
                vec![
                    format!(
                        "The password of the passport account {account} was reset with an SMS code at {}. Every sign-in of the account has ended.",
                        when(*at)
                    ),
                    "If this was not you, contact the administrators at once.".into(),
                ]
            },
            None,
            "",
        ),
        Letter::EmailChanged { to_masked } => (
            if zh {
                "通行证：密保邮箱已更改"
            } else {
                "Passport: your security e-mail changed"
            },
            match (zh, to_masked) {
                (true, Some(to)) => vec![
                    format!(
                        "通行证账号 {account} 的密保邮箱已由本邮箱更改为 {to}。本邮箱今后不能再用于找回密码。"
                    ),
                    "如果这不是您本人的操作，请立即联系管理员。".into(),
                ],
                (true, None) => vec![
                    format!(
                        "本邮箱已不再是通行证账号 {account} 的密保邮箱，今后不能再用于找回密码。"
                    ),
                    "如果这不是您本人的操作，请立即联系管理员。".into(),
                ],
                (false, Some(to)) => vec![
                    format!(
                        "The security e-mail of the passport account {account} changed from this address to {to}. This address can no longer be used to recover the password."
                    ),
                    "If this was not you, contact the administrators at once.".into(),
                ],
                (false, None) => vec![
                    format!(
                        "This address is no longer the security e-mail of the passport account {account} and can no longer be used to recover the password."
                    ),
                    "If this was not you, contact the administrators at once.".into(),
                ],
            },
            None,
            "",
        ),
    };
    Body {
        subject: subject.to_string(),
        paragraphs,
        link,
        link_label,
    }
}

#[derive(Template)]
#[template(path = "emails/letter.html")]
struct HtmlLetter<'a> {
    lang_tag: &'a str,
    brand: &'a str,
    subject: &'a str,
    greeting: &'a str,
    paragraphs: &'a [String],
    link: Option<&'a str>,
    link_label: &'a str,
    link_fallback: &'a str,
    footer: &'a str,
}

#[derive(Template)]
#[template(path = "emails/letter.txt")]
struct TextLetter<'a> {
    greeting: &'a str,
    paragraphs: &'a [String],
    link: Option<&'a str>,
    link_label: &'a str,
    footer: &'a str,
}

/// The message for `user` at `to`, in `lang`.
pub fn compose(
    letter: &Letter,
    lang: Lang,
    user: &User,
    to: &str,
) -> Result<MailMessage, askama::Error> {
    let zh = lang == Lang::ZhCn;
    let b = body(letter, lang, &user.username);
    let greeting = if zh {
        format!("{}，您好：", user.display_name)
    } else {
        format!("Dear {},", user.display_name)
    };
    let footer = if zh {
        "这是通行证自动发送的邮件，请勿回复。"
    } else {
        "This message was sent automatically by the passport; please do not reply."
    };
    let html = HtmlLetter {
        lang_tag: lang.tag(),
        brand: lang.text().brand,
        subject: &b.subject,
        greeting: &greeting,
        paragraphs: &b.paragraphs,
        link: b.link.as_deref(),
        link_label: b.link_label,
        link_fallback: if zh {
            "如果按钮无法打开，请将以下地址复制到浏览器："
        } else {
            "If the button does not work, copy this address into your browser:"
        },
        footer,
    }
    .render()?;
    let text = TextLetter {
        greeting: &greeting,
        paragraphs: &b.paragraphs,
        link: b.link.as_deref(),
        link_label: b.link_label,
        footer,
    }
    .render()?;
    Ok(MailMessage {
        to: to.to_string(),
        subject: b.subject,
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

/// Composes `letter` for `user`, sends it to `to` and audits the outcome
/// (`mail.sent`, with the purpose and the masked address).
pub async fn send(
    state: &AppState,
    user: &User,
    to: &str,
    lang: Lang,
    letter: &Letter,
    origin: &Origin,
) -> Result<(), SendError> {
    let message = compose(letter, lang, user, to)?;
    let sent = state.mail.send(&message).await;
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
        }
    }

    #[test]
    fn letters_exist_in_both_languages_as_text_and_html() {
        let link = "https://id.example.org/recover/link?token=a&b".to_string();
        let letter = Letter::RecoveryLink {
            link: link.clone(),
            minutes: 30,
        };
        let zh = compose(&letter, Lang::ZhCn, &user(), "z@example.org").unwrap();
        assert!(zh.subject.contains("重置密码"));
        assert!(zh.text.contains("张三，您好") && zh.text.contains(&link));
        assert!(zh.text.contains("30 分钟"));
        assert!(zh.html.contains("lang=\"zh-CN\""));
        assert!(
            zh.html.contains("token=a&#38;b") || zh.html.contains("token=a&amp;b"),
            "the link is escaped in HTML: {}",
            zh.html
        );
        let en = compose(&letter, Lang::En, &user(), "z@example.org").unwrap();
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
                let m = compose(&l, lang, &user(), "z@example.org").unwrap();
                assert!(m.text.contains("zhangsan"), "{}", m.text);
                assert!(m.html.contains("zhangsan"));
                assert_eq!(m.purpose, l.purpose());
            }
        }
        assert_eq!(when(OffsetDateTime::UNIX_EPOCH), "1970-01-01 00:00 UTC");
    }
}
