//! Request extractors shared by the hosted pages: where a request came
//! from, the signed-in user, and CSRF-checked forms.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tower_sessions::Session;
use uuid::Uuid;

use crate::crypto::random;
use crate::error::PageError;
use crate::routes;
use crate::service::{Actor, Origin};
use crate::state::AppState;
use crate::store::users::{AccountStatus, User};

const AUTH_KEY: &str = "auth";
const CSRF_KEY: &str = "csrf";
/// Idle lifetime of a session nobody has signed into yet.
const ANONYMOUS_IDLE: time::Duration = time::Duration::minutes(30);

/// The client's address: the TCP peer, or — when the peer is a configured
/// trusted proxy — the right-most `X-Forwarded-For` entry that is not one.
pub fn client_ip(parts: &Parts, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !trusted.contains(ip))
            .unwrap_or(peer),
    )
}

/// [`Origin`] of the request, for rate limits and the audit log.
pub struct ClientOrigin(pub Origin);

impl FromRequestParts<AppState> for ClientOrigin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ip = client_ip(parts, &state.config.trusted_proxies).map(|ip| ip.to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Ok(ClientOrigin(Origin { ip, user_agent }))
    }
}

/// What a signed-in session remembers about its sign-in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionAuth {
    pub user_id: Uuid,
    /// The account's session epoch at sign-in; bumping it ends the session.
    pub epoch: i64,
    /// Unix time of the authentication (OIDC `auth_time`).
    pub auth_time: i64,
    /// The same instant in milliseconds, to order a login against a
    /// request that demanded it within the same second.
    #[serde(default)]
    pub auth_ms: i64,
    /// Authentication methods used (RFC 8176 values: "pwd", "sms" …).
    pub amr: Vec<String>,
    /// Session id shown to relying parties (`sid` claim, back-channel
    /// logout). Unlike the cookie value it stays the same for the session.
    pub sid: String,
}

/// Starts a signed-in session: a new session id (against fixation), the
/// sign-in facts, and a fresh CSRF token. Signing in again as the same
/// account keeps the session's `sid`, so relying parties that joined it
/// still hear of its end; a different account first ends the old session
/// (back-channel logout included).
pub async fn sign_in(
    state: &AppState,
    session: &Session,
    user: &User,
    amr: Vec<String>,
    origin: &crate::service::Origin,
) -> Result<(), PageError> {
    let previous: Option<SessionAuth> = session.get(AUTH_KEY).await?;
    let sid = match previous {
        Some(prev) if prev.user_id == user.id => prev.sid,
        Some(prev) => {
            if let Some(old) = state.store.user_by_id(prev.user_id).await? {
                crate::service::logout::end_session(state, &old, Some(&prev.sid), origin).await?;
            }
            random::token()?
        }
        None => random::token()?,
    };
    session.cycle_id().await?;
    let idle = time::Duration::minutes(i64::from(state.config.session.idle_minutes));
    session.set_expiry(Some(tower_sessions::Expiry::OnInactivity(idle)));
    let now = OffsetDateTime::now_utc();
    let auth = SessionAuth {
        user_id: user.id,
        epoch: user.session_epoch,
        auth_time: now.unix_timestamp(),
        auth_ms: unix_ms(now),
        amr,
        sid,
    };
    session.insert(AUTH_KEY, auth).await?;
    session.insert(CSRF_KEY, random::token()?).await?;
    session.remove::<PendingStepUp>(STEP_UP_KEY).await?;
    Ok(())
}

pub fn unix_ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Ends the session entirely (store entry and cookie).
pub async fn sign_out(session: &Session) -> Result<(), PageError> {
    session.flush().await?;
    Ok(())
}

/// The CSRF token of this session, created on first use.
pub async fn csrf_token(session: &Session) -> Result<String, PageError> {
    if let Some(token) = session.get::<String>(CSRF_KEY).await? {
        return Ok(token);
    }
    let token = random::token()?;
    if session.get::<SessionAuth>(AUTH_KEY).await?.is_none() {
        // A session that only carries a CSRF token (a login form left
        // open) is cheap to create; keep it short-lived.
        session.set_expiry(Some(tower_sessions::Expiry::OnInactivity(ANONYMOUS_IDLE)));
    }
    session.insert(CSRF_KEY, token.clone()).await?;
    Ok(token)
}

/// The signed-in user. Without a valid session the request is redirected
/// to the login page, which comes back here afterwards.
pub struct CurrentUser {
    pub user: User,
    pub auth: SessionAuth,
    pub session: Session,
}

impl CurrentUser {
    pub fn actor(&self) -> Actor {
        Actor::user(&self.user)
    }
}

/// The password page, coming back to `back` afterwards.
pub fn to_password_change(back: &str) -> Response {
    let target = format!(
        "{}?return_to={}",
        routes::ACCOUNT_PASSWORD,
        url::form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>()
    );
    Redirect::to(&target).into_response()
}

fn to_login(parts: &Parts) -> Response {
    let back = if parts.method == Method::GET {
        parts.uri.path_and_query().map(|pq| pq.as_str().to_string())
    } else {
        None
    };
    let target = match back {
        Some(back) => format!(
            "{}?return_to={}",
            routes::LOGIN,
            url::form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>()
        ),
        None => routes::LOGIN.to_string(),
    };
    Redirect::to(&target).into_response()
}

/// The signed-in user of a session, if the session is still valid: the
/// account exists, is active, and its session epoch has not moved (password
/// change, disabling, revocation). An invalid session is emptied.
pub async fn session_user(
    state: &AppState,
    session: &Session,
) -> Result<Option<(User, SessionAuth)>, PageError> {
    let Some(auth) = session.get::<SessionAuth>(AUTH_KEY).await? else {
        return Ok(None);
    };
    match state.store.user_by_id(auth.user_id).await? {
        Some(user) if user.status == AccountStatus::Active && user.session_epoch == auth.epoch => {
            Ok(Some((user, auth)))
        }
        _ => {
            sign_out(session).await?;
            Ok(None)
        }
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|_| PageError::Internal("session layer missing".into()).into_response())?;
        match session_user(state, &session)
            .await
            .map_err(IntoResponse::into_response)?
        {
            // An administrator demanded a new password: nothing else first.
            Some((user, _))
                if user.must_change_password && parts.uri.path() != routes::ACCOUNT_PASSWORD =>
            {
                Err(to_password_change(
                    parts
                        .uri
                        .path_and_query()
                        .map(|p| p.as_str())
                        .unwrap_or(routes::ACCOUNT),
                ))
            }
            Some((user, auth)) => Ok(CurrentUser {
                user,
                auth,
                session,
            }),
            None => Err(to_login(parts)),
        }
    }
}

/// Whether the session belongs to a signed-in account (no database check).
pub async fn session_user_id(session: &Session) -> Result<Option<Uuid>, PageError> {
    Ok(session
        .get::<SessionAuth>(AUTH_KEY)
        .await?
        .map(|a| a.user_id))
}

#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// Compares a submitted CSRF token with the session's (constant time).
pub async fn check_csrf(session: &Session, submitted: &str) -> Result<(), PageError> {
    let expected: Option<String> = session.get(CSRF_KEY).await?;
    match expected {
        Some(expected) if random::constant_time_eq(expected.as_bytes(), submitted.as_bytes()) => {
            Ok(())
        }
        _ => Err(PageError::Csrf),
    }
}

/// A URL-encoded form whose `csrf` field matched the session's token.
pub struct CsrfForm<T>(pub T, pub Session);

impl<T: DeserializeOwned> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let session = Session::from_request_parts(&mut parts, state)
            .await
            .map_err(|_| PageError::Internal("session layer missing".into()))?;
        let bytes = axum::body::to_bytes(body, 64 * 1024)
            .await
            .map_err(|_| PageError::BadRequest)?;
        let submitted: CsrfField =
            serde_urlencoded::from_bytes(&bytes).map_err(|_| PageError::BadRequest)?;
        let expected: Option<String> = session.get(CSRF_KEY).await?;
        match expected {
            Some(expected)
                if random::constant_time_eq(expected.as_bytes(), submitted.csrf.as_bytes()) => {}
            _ => return Err(PageError::Csrf),
        }
        let form = serde_urlencoded::from_bytes(&bytes).map_err(|_| PageError::BadRequest)?;
        Ok(CsrfForm(form, session))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request as HttpRequest;

    fn parts(peer: &str, xff: Option<&str>) -> Parts {
        let mut b = HttpRequest::builder().uri("/");
        if let Some(x) = xff {
            b = b.header("x-forwarded-for", x);
        }
        let (mut parts, _) = b.body(()).unwrap().into_parts();
        parts.extensions.insert(ConnectInfo::<SocketAddr>(
            format!("{peer}:1234").parse().unwrap(),
        ));
        parts
    }

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let lb: IpAddr = "10.0.0.1".parse().unwrap();
        let p = parts("10.0.0.1", Some("203.0.113.9, 10.0.0.1"));
        assert_eq!(client_ip(&p, &[lb]).unwrap().to_string(), "203.0.113.9");
        let p = parts("198.51.100.7", Some("203.0.113.9"));
        assert_eq!(client_ip(&p, &[lb]).unwrap().to_string(), "198.51.100.7");
    }
}

const STEP_UP_KEY: &str = "step_up";

/// A sign-in waiting for its SMS step-up: whose, and where it goes next.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingStepUp {
    pub user_id: Uuid,
    pub epoch: i64,
    pub return_to: String,
    /// Unix time it began; a pending step-up lasts [`STEP_UP_FOR`].
    #[serde(default)]
    pub since: i64,
}

/// How long a sign-in may wait for its SMS code.
const STEP_UP_FOR: i64 = 600;

/// Parks a sign-in until the phone is proved.
pub async fn begin_step_up(
    session: &Session,
    user: &User,
    return_to: &str,
) -> Result<(), PageError> {
    let since = OffsetDateTime::now_utc().unix_timestamp();
    let pending = PendingStepUp {
        user_id: user.id,
        epoch: user.session_epoch,
        return_to: return_to.to_string(),
        since,
    };
    // A correct password was given: a session id planted before must not
    // share what follows (the masked phone, sending codes).
    session.cycle_id().await?;
    session.insert(STEP_UP_KEY, pending).await?;
    Ok(())
}

/// The sign-in waiting for step-up, if its account is still valid.
pub async fn pending_step_up(
    state: &AppState,
    session: &Session,
) -> Result<Option<(User, PendingStepUp)>, PageError> {
    let Some(p) = session.get::<PendingStepUp>(STEP_UP_KEY).await? else {
        return Ok(None);
    };
    match state.store.user_by_id(p.user_id).await? {
        Some(user)
            if user.status == AccountStatus::Active
                && user.session_epoch == p.epoch
                && OffsetDateTime::now_utc().unix_timestamp() - p.since <= STEP_UP_FOR =>
        {
            Ok(Some((user, p)))
        }
        _ => {
            session.remove::<PendingStepUp>(STEP_UP_KEY).await?;
            Ok(None)
        }
    }
}

pub async fn end_step_up(session: &Session) -> Result<(), PageError> {
    session.remove::<PendingStepUp>(STEP_UP_KEY).await?;
    Ok(())
}

/// A cookie of the request.
pub fn cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .find_map(|c| {
            let (k, v) = c.trim().split_once('=')?;
            (k == name).then(|| v.to_string())
        })
}
