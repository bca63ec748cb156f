//! `/help` (帮助): the common questions about this passport, each answer
//! leading to its flow. Public: the questions matter most to people who
//! cannot sign in.

use askama::Template;
use axum::response::Response;

use crate::error::PageError;
use crate::pages::{Chrome, PageCtx, render};
use crate::routes;

/// One question with its answer and the flows it points to.
pub struct Question {
    pub id: &'static str,
    pub question: &'static str,
    pub answer: &'static str,
    pub links: Vec<(String, &'static str)>,
}

#[derive(Template)]
#[template(path = "account/help.html")]
struct HelpPage {
    c: Chrome,
    questions: Vec<Question>,
}

pub async fn show(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    ctx: PageCtx,
) -> Result<Response, PageError> {
    // Signed in, the page has the signed-in top bar.
    if let Some((user, _)) = ctx.session.current_user(&state).await? {
        ctx.signed_in_as(&user.username);
    }
    let t = ctx.t();
    let questions = vec![
        Question {
            id: "help-forgot",
            question: t.help_q_forgot,
            answer: t.help_a_forgot,
            links: vec![
                (routes::RECOVER.into(), t.help_link_recover),
                (routes::RETRIEVE.into(), t.help_link_retrieve),
            ],
        },
        Question {
            id: "help-no-sms",
            question: t.help_q_no_sms,
            answer: t.help_a_no_sms,
            links: vec![(routes::ACCOUNT_PHONE_UNBIND.into(), t.help_link_unbind)],
        },
        Question {
            id: "help-why-sms",
            question: t.help_q_why_sms,
            answer: t.help_a_why_sms,
            links: vec![(routes::STEP_UP_HELP.into(), t.step_up_help_link)],
        },
        Question {
            id: "help-app-passwords",
            question: t.help_q_app_passwords,
            answer: t.help_a_app_passwords,
            links: vec![(
                routes::ACCOUNT_APP_PASSWORDS.into(),
                t.help_link_app_passwords,
            )],
        },
        Question {
            id: "help-blocked",
            question: t.help_q_blocked,
            answer: t.help_a_blocked,
            links: vec![(routes::ACCOUNT_PASSWORD.into(), t.help_link_password)],
        },
        Question {
            id: "help-phones",
            question: t.help_q_phones,
            answer: t.help_a_phones,
            links: vec![(
                super::phone::page_url(crate::domain::PhoneKind::Login),
                t.help_link_phones,
            )],
        },
    ];
    render(&HelpPage {
        c: ctx.chrome().await?,
        questions,
    })
}
