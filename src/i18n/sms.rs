//! The SMS texts the passport writes itself, one template per language:
//! `templates/sms/zh-CN.txt` and `templates/sms/en.txt`, each with one arm
//! per message, so a message missing in one language does not compile.
//! (The vendors' templated SMS — Aliyun, Tencent — carry only the
//! parameters; their wording is registered with the vendor.)

use askama::Template;

use super::Lang;

/// One SMS and the values it carries. No `Debug`: a code is a secret.
pub enum Sms<'a> {
    /// The sign-in step-up code.
    Code { code: &'a str, minutes: u64 },
    /// A phone change's code, to the current number and to the new one.
    ChangeCode { code: &'a str, minutes: u64 },
    /// The code that binds a phone to an account without one.
    BindCode { code: &'a str, minutes: u64 },
    /// The phone-unbind application's code to the contact number.
    UnbindCode { code: &'a str, minutes: u64 },
    /// A recovery code says what it is for, so nobody reads it out to a
    /// caller "from the passport desk".
    RecoveryCode { code: &'a str, minutes: u64 },
    /// The password of `account` was reset through the security e-mail
    /// `at` (see [`super::when`]).
    PasswordReset { account: &'a str, at: &'a str },
    /// To the old number: the `login` (else the security) phone of
    /// `account` became `phone` (masked) `at`.
    PhoneChanged {
        account: &'a str,
        login: bool,
        phone: &'a str,
        at: &'a str,
    },
    /// To a number being unbound: an application to unbind it from
    /// `account` was submitted; `link` cancels it.
    UnbindSubmitted { account: &'a str, link: &'a str },
    /// To the new login phone: the unbind application of `account` is
    /// complete.
    UnbindCompleted { account: &'a str },
    /// The retrieval form's phone confirmation code.
    RetrievalCode { code: &'a str, minutes: u64 },
    /// The approved retrieval's one-time code, valid `hours`, to be
    /// entered at `link`.
    RetrievalApproved {
        code: &'a str,
        hours: u64,
        link: &'a str,
    },
    /// The retrieval `case` was rejected; new scans go up at `link`.
    RetrievalRejected { case: &'a str, link: &'a str },
    /// To the account's other phones: a retrieval of `account` was
    /// approved; its code goes out `at`.
    RetrievalPending { account: &'a str, at: &'a str },
    /// To the account's other phones: the password of `account` was set
    /// by a retrieval `at`.
    RetrievalCompleted { account: &'a str, at: &'a str },
}

#[derive(Template)]
enum InLanguage<'a> {
    #[template(path = "sms/zh-CN.txt")]
    ZhCn { sms: &'a Sms<'a> },
    #[template(path = "sms/en.txt")]
    En { sms: &'a Sms<'a> },
}

impl Sms<'_> {
    /// The text of this SMS in `lang`.
    pub fn text(&self, lang: Lang) -> Result<String, askama::Error> {
        match lang {
            Lang::ZhCn => InLanguage::ZhCn { sms: self }.render(),
            Lang::En => InLanguage::En { sms: self }.render(),
        }
    }
}
