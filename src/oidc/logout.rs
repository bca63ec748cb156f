//! `/logout`: the hosted sign-out page and the RP-Initiated Logout 1.0
//! endpoint in one.
//!
//! * With a valid `id_token_hint` for the signed-in user, the session ends
//!   at once (the hint proves the request comes from an application the
//!   user signed into).
//! * Otherwise the user is asked to confirm (a link alone must not sign
//!   anyone out); the confirmation form carries a CSRF token.
//! * `post_logout_redirect_uri` is honoured only when registered for the
//!   client named by the hint or `client_id` (§3); `state` is passed back.
//!
//! Ending the session notifies every client that took part in it through
//! back-channel logout ([`crate::service::logout`]).

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::Value;
use url::Url;

use super::params::Params;
use crate::error::PageError;
use crate::extract::ClientOrigin;
use crate::pages::{Chrome, PageCtx, render};
use crate::routes;
use crate::service::clients::{self, Client};
use crate::service::logout::end_session;
use crate::service::{Origin, tokens};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "account/logout.html")]
struct LogoutPage {
    c: Chrome,
    signed_in: bool,
    client_id: String,
    post_logout_redirect_uri: String,
    state: String,
}

struct LogoutRequest {
    client: Option<Client>,
    redirect: Option<String>,
    state: Option<String>,
    hint: Option<Value>,
}

async fn resolve(state: &AppState, params: &Params) -> Result<LogoutRequest, PageError> {
    let hint = match params.get("id_token_hint") {
        // An expired ID token is still a fine hint (§2); the signature is what counts.
        Some(token) => tokens::verify_own(state, token, "JWT").await.ok(),
        None => None,
    };
    let hint_aud = hint.as_ref().and_then(|h| match &h["aud"] {
        Value::String(s) => Some(s.clone()),
        Value::Array(a) => a.first().and_then(|v| v.as_str()).map(str::to_string),
        _ => None,
    });
    let client_id = match (params.get("client_id"), hint_aud) {
        (Some(a), Some(b)) if a != b => {
            return Err(PageError::BadClientRequest(
                "client_id does not match id_token_hint".into(),
            ));
        }
        (Some(a), _) => Some(a.to_string()),
        (None, b) => b,
    };
    let client = match &client_id {
        Some(id) => Some(
            clients::find_cached(state, id)
                .await?
                .ok_or_else(|| PageError::BadClientRequest("unknown client_id".into()))?,
        ),
        None => None,
    };
    let redirect = match params.get("post_logout_redirect_uri") {
        Some(uri) => match &client {
            Some(c) if c.post_logout_redirect_uris.iter().any(|r| r == uri) => {
                Some(uri.to_string())
            }
            Some(_) => {
                return Err(PageError::BadClientRequest(
                    "post_logout_redirect_uri is not registered for this client".into(),
                ));
            }
            None => {
                return Err(PageError::BadClientRequest(
                    "post_logout_redirect_uri needs client_id or id_token_hint".into(),
                ));
            }
        },
        None => None,
    };
    Ok(LogoutRequest {
        client,
        redirect,
        state: params.get("state").map(str::to_string),
        hint,
    })
}

/// Where to go once signed out.
fn finish(req: &LogoutRequest) -> Response {
    match &req.redirect {
        Some(uri) => match Url::parse(uri) {
            Ok(mut url) => {
                if let Some(s) = &req.state {
                    url.query_pairs_mut().append_pair("state", s);
                }
                Redirect::to(url.as_str()).into_response()
            }
            Err(_) => Redirect::to(routes::LOGOUT).into_response(),
        },
        None => Redirect::to(routes::LOGOUT).into_response(),
    }
}

/// Ends the passport session of this browser (and the applications'
/// sessions bound to it).
pub(crate) async fn perform(
    state: &AppState,
    ctx: &PageCtx,
    origin: &Origin,
) -> Result<(), PageError> {
    if let Some((user, auth)) = ctx.session.current_user(state).await? {
        end_session(state, &user, Some(&auth.sid), origin).await?;
    }
    ctx.session.sign_out().await
}

async fn handle(
    state: &AppState,
    ctx: &PageCtx,
    origin: &Origin,
    params: Params,
) -> Result<Response, PageError> {
    let req = resolve(state, &params).await?;
    let Some((user, _)) = ctx.session.current_user(state).await? else {
        // Nobody to sign out: with no parameters this is the "signed out" page.
        if params.has("client_id")
            || params.has("id_token_hint")
            || params.has("post_logout_redirect_uri")
        {
            return Ok(finish(&req));
        }
        return render(&LogoutPage {
            c: ctx.chrome().await?,
            signed_in: false,
            client_id: String::new(),
            post_logout_redirect_uri: String::new(),
            state: String::new(),
        });
    };
    let hint_matches = req
        .hint
        .as_ref()
        .is_some_and(|h| h["sub"] == user.id.to_string());
    if hint_matches {
        perform(state, ctx, origin).await?;
        return Ok(finish(&req));
    }
    render(&LogoutPage {
        c: ctx.chrome().await?,
        signed_in: true,
        client_id: req.client.map(|c| c.id).unwrap_or_default(),
        post_logout_redirect_uri: req.redirect.unwrap_or_default(),
        state: req.state.unwrap_or_default(),
    })
}

pub async fn get(
    State(state): State<AppState>,
    ctx: PageCtx,
    ClientOrigin(origin): ClientOrigin,
    RawQuery(q): RawQuery,
) -> Result<Response, PageError> {
    let params = Params::parse(q.unwrap_or_default().as_bytes())
        .map_err(|e| PageError::BadClientRequest(e.to_string()))?;
    handle(&state, &ctx, &origin, params).await
}

/// POST: either the confirmation form (with `csrf`), or an application
/// sending the RP-initiated logout parameters as a form.
pub async fn post(
    State(state): State<AppState>,
    ctx: PageCtx,
    ClientOrigin(origin): ClientOrigin,
    body: Bytes,
) -> Result<Response, PageError> {
    let params = Params::parse(&body).map_err(|e| PageError::BadClientRequest(e.to_string()))?;
    let Some(token) = params.get("csrf") else {
        // An application's form POST arrives without our SameSite=Lax
        // cookie; a 303 to the GET form lets the browser bring it.
        return Ok(Redirect::to(&format!(
            "{}?{}",
            routes::LOGOUT,
            params.encode_without(&[])
        ))
        .into_response());
    };
    ctx.session.check_csrf(token).await?;
    let req = resolve(&state, &params).await?;
    perform(&state, &ctx, &origin).await?;
    Ok(finish(&req))
}
