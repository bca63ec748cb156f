//! `/account/profile` (个人资料): what the passport says about the person —
//! the claims applications receive. Read-only: administrators keep them.

use askama::Template;
use axum::response::Response;

use crate::domain::Email;
use crate::error::PageError;
use crate::extract::CurrentUser;
use crate::pages::{Chrome, PageCtx, render};

#[derive(Template)]
#[template(path = "account/profile.html")]
struct ProfilePage {
    c: Chrome,
    username: String,
    display_name: String,
    organization: Option<String>,
    security_email: Option<String>,
    is_admin: bool,
    is_reviewer: bool,
}

pub async fn show(ctx: PageCtx, current: CurrentUser) -> Result<Response, PageError> {
    let u = current.user;
    render(&ProfilePage {
        c: ctx.chrome().await?,
        is_reviewer: crate::service::review::is_reviewer(&u),
        is_admin: u.is_admin,
        security_email: u.security_email.as_deref().map(Email::masked),
        organization: u.organization,
        display_name: u.display_name,
        username: u.username,
    })
}
