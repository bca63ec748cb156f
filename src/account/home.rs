//! `/account`: the signed-in user's passport at a glance.

use askama::Template;
use axum::response::Response;

use crate::domain::{Email, PhoneKind, PhoneNumber};
use crate::error::PageError;
use crate::extract::CurrentUser;
use crate::pages::{Chrome, PageCtx, render};

#[derive(Template)]
#[template(path = "account/home.html")]
struct AccountPage {
    c: Chrome,
    username: String,
    display_name: String,
    login_phone: Option<String>,
    security_phone: Option<String>,
    /// The change pages of the two phones.
    login_phone_url: String,
    security_phone_url: String,
    security_email: Option<String>,
    email_verified: bool,
    organization: Option<String>,
    is_admin: bool,
    /// Holds the reviewer role (an active account: it may use the queue).
    is_reviewer: bool,
    last_login: Option<String>,
    /// The first-party applications of the application list, as tiles.
    apps: Vec<crate::service::consents::ListedApp>,
}

pub async fn show(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    ctx: PageCtx,
    current: CurrentUser,
) -> Result<Response, PageError> {
    let previous =
        crate::service::sessions::previous_sign_in(&state, current.user.id, current.auth.auth_time)
            .await?;
    let english = ctx.lang == crate::i18n::Lang::En;
    let (apps, _) = crate::service::consents::app_list(&state, &current.user, english).await?;
    let u = current.user;
    let is_reviewer = crate::service::review::is_reviewer(&u);
    render(&AccountPage {
        c: ctx.chrome().await?,
        login_phone: u.login_phone.as_deref().map(PhoneNumber::masked),
        security_phone: u.security_phone.as_deref().map(PhoneNumber::masked),
        login_phone_url: super::phone::page_url(PhoneKind::Login),
        security_phone_url: super::phone::page_url(PhoneKind::Security),
        security_email: u.security_email.as_deref().map(Email::masked),
        email_verified: u.security_email_verified,
        organization: u.organization,
        is_admin: u.is_admin,
        is_reviewer,
        last_login: previous.map(|t| ctx.t().at(t, &state.time_zone)),
        apps,
        username: u.username,
        display_name: u.display_name,
    })
}

/// `/` sends people to their account (or, through it, to the login page).
pub async fn redirect_home() -> axum::response::Redirect {
    axum::response::Redirect::to(crate::routes::ACCOUNT)
}
