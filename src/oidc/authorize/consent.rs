//! The consent page of a third-party application, its answer, and the way
//! out of a sign-in (`access_denied` to the application).

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{AuthRequest, Browser, checks, failure_response, finish, interact};
use crate::error::PageError;
use crate::extract::{ClientOrigin, CsrfForm};
use crate::oidc::errors::ErrorCode;
use crate::oidc::params::Params;
use crate::pages::{Chrome, PageCtx, render};
use crate::service::audit::{Entry, Outcome};
use crate::service::consents;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "account/consent.html")]
struct ConsentPage {
    c: Chrome,
    /// The account that would consent (with the way to use another one).
    account: Option<String>,
    client_name: String,
    /// The application's logo (`logo_uri`), beside its name.
    client_logo: Option<String>,
    scopes: Vec<&'static str>,
    request: String,
}

/// Asks the signed-in user to share the requested scopes.
pub(super) async fn page(
    state: &AppState,
    ctx: &PageCtx,
    req: &AuthRequest,
    user: Option<&crate::store::users::User>,
) -> Result<Response, PageError> {
    let t = ctx.t();
    let consent_scope = req.consent_scope();
    let scopes = consent_scope
        .iter()
        .filter_map(|s| t.scope_words(s))
        .collect();
    render(&ConsentPage {
        c: ctx.chrome().await?,
        account: user.map(|u| u.username.clone()),
        client_name: req
            .client
            .display_name(ctx.lang == crate::i18n::Lang::En)
            .to_string(),
        client_logo: req.client.logo_uri.as_ref().map(|u| u.as_str().to_string()),
        scopes,
        // Without prompt (it was answered by showing this page) and max_age
        // (satisfied when it was shown), as before the interaction list ran
        // on the answer too.
        request: req.later(state, &["prompt", "max_age"], &[]).await?,
    })
}

#[derive(Deserialize)]
pub struct ConsentForm {
    request: String,
    decision: String,
}

/// The consent form's answer: re-validates the original request and runs
/// the interaction checks again (everything but consent), then records
/// the consent and issues a code, or reports access_denied.
pub async fn answer(
    State(state): State<AppState>,
    ctx: PageCtx,
    ClientOrigin(origin): ClientOrigin,
    CsrfForm(form, _): CsrfForm<ConsentForm>,
) -> Response {
    let params = match Params::parse(form.request.as_bytes()) {
        Ok(p) => p,
        Err(e) => return PageError::BadClientRequest(e.to_string()).into_response(),
    };
    let result = async {
        let req = checks::validate(&state, params).await?;
        let browser = Browser::of(&state, &ctx, &req).await?;
        let facts = browser.facts(&req, None);
        if let Some((check, interaction)) = super::interaction::decide(&facts) {
            return interact(&state, &ctx, &req, &browser, check, interaction).await;
        }
        let Some((user, _)) = &browser.signed_in else {
            return Err(PageError::Internal("consent: no sign-in after the checks".into()).into());
        };
        if form.decision != "allow" {
            consents::deny(&state, user, &req.client, &origin)
                .await
                .map_err(PageError::from)?;
            return Err(req.fail(ErrorCode::AccessDenied, "the user denied the request"));
        }
        consents::grant(&state, user, &req.client, &req.consent_scope(), &origin)
            .await
            .map_err(PageError::from)?;
        finish(&state, &ctx, &req, &browser).await
    }
    .await;
    match result {
        Ok(r) => r,
        Err(failure) => failure_response(&state, failure),
    }
}

#[derive(Deserialize)]
pub struct CancelForm {
    request: String,
    /// Sent by the page of a blocked account (only the description differs).
    blocked: Option<String>,
}

#[derive(Deserialize)]
pub struct SwitchForm {
    request: String,
}

/// "Use another account" on the consent page: ends the passport session
/// (as signing out does, applications told by back-channel logout) and
/// goes back to the same authorization request, which now asks for a
/// sign-in. The request is validated first, so the switch never leads
/// anywhere but to a valid request of a registered client.
pub async fn switch_account(
    State(state): State<AppState>,
    ctx: PageCtx,
    CsrfForm(form, _): CsrfForm<SwitchForm>,
) -> Response {
    let params = match Params::parse(form.request.as_bytes()) {
        Ok(p) => p,
        Err(e) => return PageError::BadClientRequest(e.to_string()).into_response(),
    };
    let req = match checks::validate(&state, params).await {
        Ok(req) => req,
        Err(f) => return failure_response(&state, f),
    };
    if let Err(e) = crate::oidc::logout::perform(&state, &ctx, &ctx.origin).await {
        return e.into_response();
    }
    axum::response::Redirect::to(&req.url_without(&[])).into_response()
}

/// The user gives up signing in (or may not: a disabled account): the
/// application gets `access_denied` at its verified redirect_uri.
pub async fn cancel(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    CsrfForm(form, _): CsrfForm<CancelForm>,
) -> Response {
    let params = match Params::parse(form.request.as_bytes()) {
        Ok(p) => p,
        Err(e) => return PageError::BadClientRequest(e.to_string()).into_response(),
    };
    let failure = match checks::validate(&state, params).await {
        Ok(req) => {
            let entry = Entry::new("authorize.cancelled", Outcome::Failure)
                .origin(&origin)
                .detail(serde_json::json!({ "client_id": req.client.id }));
            if let Err(e) = entry.write(&state.store).await {
                return PageError::from(e).into_response();
            }
            let why = if form.blocked.is_some() {
                "the account may not use this application"
            } else {
                "the user did not sign in"
            };
            req.fail(ErrorCode::AccessDenied, why)
        }
        Err(f) => f,
    };
    failure_response(&state, failure)
}
