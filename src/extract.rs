//! Request extractors shared by the hosted pages: where a request came
//! from, the signed-in user, and CSRF-checked forms.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::PageError;
use crate::i18n::ChosenLang;
use crate::routes;
use crate::service::{Actor, Origin};
use crate::session::{SignedIn, WebSession};
use crate::state::AppState;
use crate::store::users::User;
use crate::urls::local_url;

/// The client's address: the TCP peer, or — when the peer is a configured
/// trusted proxy — the right-most `X-Forwarded-For` entry that is not one.
///
/// The header is read from the right, hop by hop, only as far as trusted
/// proxies vouch for it: everything left of the first untrusted address
/// was written by the client and may be forged. An entry that is not an
/// address (garbage, an obfuscated `unknown`) ends the walk at the last
/// trusted hop, so it cannot make a forged entry further left count.
/// Entries may carry a port (`203.0.113.9:4711`, `[2001:db8::1]:4711`).
pub fn client_ip(parts: &Parts, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let entries: Vec<&str> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|h| h.to_str().unwrap_or("invalid").split(','))
        .collect();
    let mut last = peer;
    for entry in entries.into_iter().rev() {
        let Some(ip) = forwarded_address(entry) else {
            return Some(last);
        };
        if !trusted.contains(&ip) {
            return Some(ip);
        }
        last = ip;
    }
    Some(last)
}

/// One `X-Forwarded-For` entry as an address (a port is dropped).
fn forwarded_address(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
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

/// The signed-in user. Without a valid session the request is redirected
/// to the login page, which comes back here afterwards.
pub struct CurrentUser {
    pub user: User,
    pub auth: SignedIn,
    pub session: WebSession,
}

impl CurrentUser {
    pub fn actor(&self) -> Actor {
        Actor::user(&self.user)
    }
}

/// The password page, coming back to `back` afterwards.
pub fn to_password_change(back: &str) -> Response {
    Redirect::to(&local_url(routes::ACCOUNT_PASSWORD, &[("return_to", back)])).into_response()
}

pub(crate) fn to_login(parts: &Parts) -> Response {
    let back = if parts.method == Method::GET {
        parts.uri.path_and_query().map(|pq| pq.as_str().to_string())
    } else {
        None
    };
    let target = match back {
        Some(back) => local_url(routes::LOGIN, &[("return_to", &back)]),
        None => routes::LOGIN.to_string(),
    };
    Redirect::to(&target).into_response()
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let session = WebSession::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let current = session
            .current_user(state)
            .await
            .map_err(IntoResponse::into_response)?;
        // A language chosen while signed in becomes the account's (the
        // language of its notices); a failed write costs only that.
        if let (Some((user, _)), Some(ChosenLang(lang))) =
            (&current, parts.extensions.get::<ChosenLang>())
            && user.lang() != Some(*lang)
            && let Err(e) = state.store.set_lang(user.id, *lang).await
        {
            tracing::warn!(error = %e, "the account's language was not recorded");
        }
        match current {
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
            // An account without a login phone binds one before anything
            // else (unless it may skip that and did, in this sign-in).
            Some((user, auth))
                if !is_binding_page(parts.uri.path())
                    && binding_owed(state, &session, &user, &auth)
                        .await
                        .map_err(IntoResponse::into_response)? =>
            {
                let here = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or(routes::ACCOUNT);
                Err(Redirect::to(&crate::urls::phone_binding(here)).into_response())
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

#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// A URL-encoded form whose `csrf` field matched the session's token.
pub struct CsrfForm<T>(pub T, pub WebSession);

impl<T: DeserializeOwned> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let session = WebSession::from_request_parts(&mut parts, state).await?;
        let bytes = axum::body::to_bytes(body, 64 * 1024)
            .await
            .map_err(|_| PageError::BadRequest)?;
        let submitted: CsrfField =
            serde_urlencoded::from_bytes(&bytes).map_err(|_| PageError::BadRequest)?;
        session.check_csrf(&submitted.csrf).await?;
        let form = serde_urlencoded::from_bytes(&bytes).map_err(|_| PageError::BadRequest)?;
        Ok(CsrfForm(form, session))
    }
}

fn is_binding_page(path: &str) -> bool {
    [
        routes::ACCOUNT_PHONE_BIND,
        routes::ACCOUNT_PHONE_BIND_SEND,
        routes::ACCOUNT_PHONE_BIND_SKIP,
    ]
    .contains(&path)
}

/// Whether the signed-in account must bind a login phone before going on
/// (the same rule `/authorize` applies before issuing a code).
pub(crate) async fn binding_owed(
    state: &AppState,
    session: &WebSession,
    user: &crate::store::users::User,
    auth: &crate::session::SignedIn,
) -> Result<bool, crate::error::PageError> {
    use crate::service::phone::{self, BindingOwed};
    Ok(match phone::binding_owed(state, user) {
        None => false,
        Some(BindingOwed::Required) => true,
        Some(BindingOwed::Skippable) => !session.binding_skipped(&auth.sid).await?,
    })
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
        // Two trusted hops; what the client wrote further left is ignored.
        let lb2: IpAddr = "10.0.0.2".parse().unwrap();
        let p = parts("10.0.0.1", Some("6.6.6.6, 203.0.113.9, 10.0.0.2"));
        assert_eq!(
            client_ip(&p, &[lb, lb2]).unwrap().to_string(),
            "203.0.113.9"
        );
        // Ports are dropped.
        let p = parts("10.0.0.1", Some("[2001:db8::7]:4711"));
        assert_eq!(client_ip(&p, &[lb]).unwrap().to_string(), "2001:db8::7");
        let p = parts("10.0.0.1", Some("203.0.113.9:4711"));
        assert_eq!(client_ip(&p, &[lb]).unwrap().to_string(), "203.0.113.9");
        // Garbage stops the walk: the forged entry left of it is not used.
        let p = parts("10.0.0.1", Some("6.6.6.6, garbage"));
        assert_eq!(client_ip(&p, &[lb]).unwrap().to_string(), "10.0.0.1");
        // No header: the proxy itself.
        let p = parts("10.0.0.1", None);
        assert_eq!(client_ip(&p, &[lb]).unwrap().to_string(), "10.0.0.1");
    }
}
