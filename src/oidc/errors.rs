//! OAuth 2.0 error responses of the back-channel endpoints (token,
//! introspection, revocation): JSON `{error, error_description}` with the
//! status RFC 6749 §5.2 prescribes. Internal causes are logged, never sent.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug)]
pub struct OAuthError {
    pub status: StatusCode,
    pub code: &'static str,
    pub description: String,
    /// `Basic` challenge when the client tried HTTP Basic (RFC 6749 §5.2).
    pub basic_challenge: bool,
}

impl OAuthError {
    fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            code,
            description: description.into(),
            basic_challenge: false,
        }
    }

    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", d)
    }

    /// Client authentication failed (RFC 6749 §5.2): 401.
    pub fn invalid_client(d: impl Into<String>, basic: bool) -> Self {
        Self {
            basic_challenge: basic,
            ..Self::new(StatusCode::UNAUTHORIZED, "invalid_client", d)
        }
    }

    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", d)
    }

    pub fn unauthorized_client(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unauthorized_client", d)
    }

    pub fn unsupported_grant_type(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unsupported_grant_type", d)
    }

    pub fn invalid_scope(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_scope", d)
    }

    /// Something broke on our side; the cause goes to the log only.
    pub fn server_error(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error on a protocol endpoint");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal error",
        )
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.code, "error_description": self.description });
        let mut r = (self.status, Json(body)).into_response();
        no_store(&mut r);
        if self.basic_challenge {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"tongxing\""),
            );
        }
        r
    }
}

/// `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1).
pub fn no_store(r: &mut Response) {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

macro_rules! server_errors {
    ($($t:ty),*) => {$(
        impl From<$t> for OAuthError {
            fn from(e: $t) -> Self {
                OAuthError::server_error(e)
            }
        }
    )*};
}
server_errors!(
    crate::store::StoreError,
    crate::ephemeral::EphemeralError,
    crate::service::tokens::TokenError,
    crate::service::keys::KeyError
);
