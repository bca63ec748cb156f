//! Confirmation before a destructive console action: the first POST of
//! such a form draws a page that says what will happen and posts the same
//! fields again with `confirm=1`; only that second POST acts. It works
//! without script, and a stale or forged first POST changes nothing.

use askama::Template;
use axum::response::Response;

use super::Nav;
use crate::error::PageError;
use crate::pages::{Chrome, render};

/// Whether the form was confirmed on the confirmation page.
pub fn given(confirm: Option<&str>) -> bool {
    confirm == Some("1")
}

#[derive(Template)]
#[template(path = "admin/confirm.html")]
struct ConfirmPage {
    c: Chrome,
    nav: Nav,
    question: String,
    consequence: String,
    /// Where the confirmed form posts (the form's own action).
    action: String,
    /// The fields of the first POST, posted again (the CSRF token is the
    /// page's own).
    fields: Vec<(&'static str, String)>,
    /// Where "cancel" leads: the page the form was on.
    back: String,
    /// The confirm button's words.
    button: String,
}

/// What the confirmation page asks and does.
pub struct Confirmation {
    pub question: String,
    pub consequence: String,
    pub action: String,
    pub fields: Vec<(&'static str, String)>,
    pub back: String,
    pub button: String,
}

impl Confirmation {
    pub fn page(self, mut c: Chrome, nav: Nav) -> Result<Response, PageError> {
        // The page has no GET URL of its own (a GET of the form's action is
        // the page the form was on): its language switch posts the same
        // first POST again, which draws this question in the other language.
        c.switch_post = self.fields.clone();
        render(&ConfirmPage {
            c,
            nav,
            question: self.question,
            consequence: self.consequence,
            action: self.action,
            fields: self.fields,
            back: self.back,
            button: self.button,
        })
    }
}
