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
use crate::outage;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("not found")]
    NotFound,
    #[error("CSRF token missing or wrong")]
    Csrf,
    #[error("forbidden")]
    Forbidden,
    /// An administrator without the reviewer role on a review page.
    #[error("the reviewer role is required")]
    NotReviewer,
    #[error("bad request")]
    BadRequest,
    /// An upload larger than the form takes (`mib`: the largest image).
    #[error("upload too large")]
    UploadTooLarge { mib: usize },
    /// A field holds text we cannot store (NUL, bytes that are not UTF-8).
    #[error("field {0} holds text that cannot be stored")]
    InvalidField(String),
    #[error("too many requests")]
    TooMany { retry_after: Duration },
    /// PostgreSQL or Redis is out of reach (see [`crate::outage`]).
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
    Forbidden,
    NotReviewer,
    Csrf,
    BadRequest,
    UploadTooLarge(usize),
    InvalidField(String),
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
            PageError::Forbidden => (StatusCode::FORBIDDEN, ErrorPage::Forbidden),
            PageError::NotReviewer => (StatusCode::FORBIDDEN, ErrorPage::NotReviewer),
            PageError::BadRequest => (StatusCode::BAD_REQUEST, ErrorPage::BadRequest),
            PageError::UploadTooLarge { mib } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorPage::UploadTooLarge(mib),
            ),
            PageError::InvalidField(field) => {
                (StatusCode::BAD_REQUEST, ErrorPage::InvalidField(field))
            }
            PageError::TooMany { retry_after } => (
                StatusCode::TOO_MANY_REQUESTS,
                ErrorPage::TooMany(retry_after),
            ),
            PageError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, ErrorPage::Unavailable),
            // An internal cause on a request that met an outage: the cause
            // is the outage (logged once as a change of state, not here).
            PageError::Internal(cause) if outage::recorded().is_some() => {
                tracing::debug!(%cause, "hosted page: dependency unavailable");
                (StatusCode::SERVICE_UNAVAILABLE, ErrorPage::Unavailable)
            }
            PageError::BadClientRequest(detail) => {
                (StatusCode::BAD_REQUEST, ErrorPage::BadClientRequest(detail))
            }
            PageError::Internal(cause) => {
                tracing::error!(%cause, "internal error on a hosted page");
                (StatusCode::INTERNAL_SERVER_ERROR, ErrorPage::Internal)
            }
        };
        let mut response = status.into_response();
        match &page {
            ErrorPage::TooMany(wait) => set_retry_after(&mut response, *wait),
            ErrorPage::Unavailable => set_retry_after(&mut response, outage::RETRY_AFTER),
            _ => {}
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
        if e.is_unavailable() {
            return PageError::Unavailable;
        }
        PageError::Internal(e.to_string())
    }
}

impl From<EphemeralError> for PageError {
    fn from(e: EphemeralError) -> Self {
        if e.is_unavailable() {
            return PageError::Unavailable;
        }
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
        use tower_sessions::session::Error as S;
        use tower_sessions::session_store::Error as Store;
        match e {
            // The session store's storage failed (see
            // `store::sessions::SessionBackend`): its backend is down.
            S::Store(Store::Backend(_)) => PageError::Unavailable,
            e => PageError::Internal(format!("session: {e}")),
        }
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

/// An error of the management API as RFC 9457 problem details
/// (`application/problem+json`). `field` names the input at fault, so a
/// caller can point at it.
#[derive(Debug)]
pub struct ApiError {
    pub status: axum::http::StatusCode,
    pub kind: &'static str,
    pub detail: String,
    pub field: Option<std::borrow::Cow<'static, str>>,
}

/// The problem document (RFC 9457 §3).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// `urn:tongxing:problem:<kind>`
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The request field at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            detail: detail.into(),
            field: None,
        }
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", detail)
    }

    pub fn invalid(field: &'static str, detail: impl Into<String>) -> Self {
        Self {
            field: Some(field.into()),
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", detail)
        }
    }

    /// Like [`ApiError::invalid`] for a field name known only at run time.
    pub fn invalid_named(field: String, detail: impl Into<String>) -> Self {
        Self {
            field: Some(field.into()),
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", detail)
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", detail)
    }

    pub fn conflict(field: &'static str, detail: impl Into<String>) -> Self {
        Self {
            field: Some(field.into()),
            ..Self::new(StatusCode::CONFLICT, "conflict", detail)
        }
    }

    /// The record changed since the caller read it (optimistic concurrency).
    pub fn stale() -> Self {
        Self {
            field: Some("version".into()),
            ..Self::new(
                StatusCode::CONFLICT,
                "stale",
                "the record was changed by someone else; read it again and retry",
            )
        }
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        if let Some(dependency) = outage::recorded() {
            // The request met an outage: that is the cause (see `outage`).
            tracing::debug!(%cause, "management API: dependency unavailable");
            return Self::unavailable(dependency);
        }
        tracing::error!(%cause, "internal error in the management API");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }

    /// A body over the router's limit (256 KiB).
    pub fn too_large() -> Self {
        Self {
            field: Some("body".into()),
            ..Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                "the body is larger than 256 KiB",
            )
        }
    }

    /// PostgreSQL or Redis is out of reach: 503 with `Retry-After`.
    pub fn unavailable(dependency: outage::Dependency) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("the {dependency} is not answering; retry in a few seconds"),
        )
    }

    pub fn busy() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "busy",
            "the server is busy; retry in a moment",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let title = self
            .status
            .canonical_reason()
            .unwrap_or("Error")
            .to_string();
        let body = Problem {
            kind: format!("urn:tongxing:problem:{}", self.kind),
            title,
            status: self.status.as_u16(),
            detail: self.detail,
            field: self.field.map(|f| f.into_owned()),
        };
        let json = serde_json::to_vec(&body).unwrap_or_default();
        let mut r = (self.status, json).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"tongxing-admin\""),
            );
        }
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            set_retry_after(&mut r, Duration::from_secs(1));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            set_retry_after(&mut r, outage::RETRY_AFTER);
        }
        r
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::not_found("no such record"),
            StoreError::Stale => ApiError::stale(),
            StoreError::LastAdmin => ApiError::conflict(
                "admin",
                "the last active administrator cannot be demoted or disabled",
            ),
            StoreError::Conflict(field) => {
                ApiError::conflict(field, format!("{field} is already in use"))
            }
            StoreError::Unavailable(_) => ApiError::unavailable(outage::Dependency::Database),
            other => ApiError::internal(other),
        }
    }
}

impl From<crate::service::accounts::AccountError> for ApiError {
    fn from(e: crate::service::accounts::AccountError) -> Self {
        use crate::service::accounts::AccountError as E;
        match e {
            E::Invalid(v) => ApiError::invalid(v.field, v.reason),
            E::WeakPassword(text, _) => ApiError::invalid("password", text),
            E::Conflict(field) => ApiError::conflict(field, format!("{field} is already in use")),
            E::NotFound => ApiError::not_found("no such account"),
            E::UnknownOrganization(name) => ApiError::invalid(
                "organization",
                format!(
                    "{name:?} is not a registered organization: give its full name, short name or an alias"
                ),
            ),
            E::InactiveOrganization(name, status) => ApiError::invalid(
                "organization",
                format!("{name:?} is {status}, not active: it takes no accounts"),
            ),
            E::Stale => ApiError::stale(),
            E::Refused(r) => ApiError::conflict(r.field(), r.text()),
            E::Hash(HashError::Busy) => ApiError::busy(),
            other => ApiError::internal(other),
        }
    }
}

impl From<crate::service::clients::ClientError> for ApiError {
    fn from(e: crate::service::clients::ClientError) -> Self {
        use crate::service::clients::ClientError as E;
        match e {
            E::Invalid(v) => ApiError::invalid(v.field, v.reason),
            E::InvalidText(field, text) => ApiError::invalid(field, text),
            E::Conflict => ApiError::conflict("client_id", "client_id is already in use"),
            E::NotFound => ApiError::not_found("no such client"),
            E::Stale => ApiError::stale(),
            other => ApiError::internal(other),
        }
    }
}

impl From<crate::service::keys::KeyError> for ApiError {
    fn from(e: crate::service::keys::KeyError) -> Self {
        ApiError::internal(e)
    }
}
