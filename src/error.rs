//! Errors of the user-facing surfaces. Hosted pages answer with an HTML
//! page in the user's language ([`PageError`]); nothing internal ever
//! reaches the browser — internal causes are logged, the user gets a
//! generic message. (The JSON API and the OIDC endpoints bring their own
//! error types.)

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::crypto::HashError;
use crate::ephemeral::EphemeralError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("not found")]
    NotFound,
    #[error("CSRF token missing or wrong")]
    Csrf,
    #[error("bad request")]
    BadRequest,
    #[error("too many requests")]
    TooMany { retry_after: Duration },
    #[error("service unavailable")]
    Unavailable,
    /// An application sent an authorization or logout request we cannot
    /// trust enough to redirect back (unknown client, unregistered URI …).
    #[error("invalid request from an application: {0}")]
    BadClientRequest(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// Which error page to show; set on the response by [`PageError`] and
/// rendered by [`crate::pages::render_error_pages`], which knows the
/// request's language.
#[derive(Debug, Clone)]
pub enum ErrorPage {
    NotFound,
    Csrf,
    BadRequest,
    TooMany(Duration),
    Unavailable,
    BadClientRequest(String),
    Internal,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, page) = match self {
            PageError::NotFound => (StatusCode::NOT_FOUND, ErrorPage::NotFound),
            PageError::Csrf => (StatusCode::FORBIDDEN, ErrorPage::Csrf),
            PageError::BadRequest => (StatusCode::BAD_REQUEST, ErrorPage::BadRequest),
            PageError::TooMany { retry_after } => (
                StatusCode::TOO_MANY_REQUESTS,
                ErrorPage::TooMany(retry_after),
            ),
            PageError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, ErrorPage::Unavailable),
            PageError::BadClientRequest(detail) => {
                (StatusCode::BAD_REQUEST, ErrorPage::BadClientRequest(detail))
            }
            PageError::Internal(cause) => {
                tracing::error!(%cause, "internal error on a hosted page");
                (StatusCode::INTERNAL_SERVER_ERROR, ErrorPage::Internal)
            }
        };
        let mut response = status.into_response();
        if let ErrorPage::TooMany(wait) = &page {
            set_retry_after(&mut response, *wait);
        }
        response.extensions_mut().insert(page);
        response
    }
}

/// `Retry-After` in whole seconds, rounded up (RFC 9110 §10.2.3).
pub fn set_retry_after(response: &mut Response, wait: Duration) {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        PageError::Internal(e.to_string())
    }
}

impl From<EphemeralError> for PageError {
    fn from(e: EphemeralError) -> Self {
        PageError::Internal(e.to_string())
    }
}

impl From<askama::Error> for PageError {
    fn from(e: askama::Error) -> Self {
        PageError::Internal(format!("template: {e}"))
    }
}

impl From<tower_sessions::session::Error> for PageError {
    fn from(e: tower_sessions::session::Error) -> Self {
        PageError::Internal(format!("session: {e}"))
    }
}

impl From<HashError> for PageError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy => PageError::TooMany {
                retry_after: Duration::from_secs(1),
            },
            HashError::Internal(cause) => PageError::Internal(cause),
        }
    }
}

impl From<getrandom::Error> for PageError {
    fn from(e: getrandom::Error) -> Self {
        PageError::Internal(format!("random: {e}"))
    }
}
