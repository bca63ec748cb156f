//! The protocol's error codes ([`ErrorCode`], one enum for every endpoint)
//! and the JSON error responses of the back-channel endpoints (token,
//! introspection, revocation): `{error, error_description}` with the status
//! RFC 6749 §5.2 prescribes. Internal causes are logged, never sent.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Every error code Tongxing sends to a relying party, with the section
/// that defines it. `/authorize` sends them to the redirect URI, the
/// back-channel endpoints in a JSON body, userinfo in `WWW-Authenticate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// Malformed or missing parameter (RFC 6749 §4.1.2.1, §5.2).
    InvalidRequest,
    /// Client authentication failed (RFC 6749 §5.2).
    InvalidClient,
    /// Bad, expired, revoked or reused code or refresh token (RFC 6749 §5.2).
    InvalidGrant,
    /// The client may not use this grant or response type (RFC 6749 §4.1.2.1, §5.2).
    UnauthorizedClient,
    /// The user or the server refused the request (RFC 6749 §4.1.2.1).
    AccessDenied,
    /// Only `code` is supported (RFC 6749 §4.1.2.1).
    UnsupportedResponseType,
    /// Unknown `grant_type` (RFC 6749 §5.2).
    UnsupportedGrantType,
    /// Unknown, malformed or not-allowed scope (RFC 6749 §4.1.2.1, §5.2).
    InvalidScope,
    /// Our own failure (RFC 6749 §4.1.2.1).
    ServerError,
    /// Overloaded or a dependency is down (RFC 6749 §4.1.2.1).
    TemporarilyUnavailable,
    /// `prompt=none`, but the user must act (OIDC Core §3.1.2.6).
    InteractionRequired,
    /// `prompt=none`, but nobody is signed in (OIDC Core §3.1.2.6).
    LoginRequired,
    /// `prompt=none`, but an account must be chosen (OIDC Core §3.1.2.6).
    AccountSelectionRequired,
    /// `prompt=none`, but consent is missing (OIDC Core §3.1.2.6).
    ConsentRequired,
    /// A request object that is not valid (RFC 9101 §6.3, OIDC Core §3.1.2.6).
    InvalidRequestObject,
    /// A `request_uri` that is unknown, expired, used or another client's
    /// (RFC 9101 §7, RFC 9126 §4).
    InvalidRequestUri,
    /// A bearer token that is missing its mark (RFC 6750 §3.1).
    InvalidToken,
    /// The token lacks the scope the resource needs (RFC 6750 §3.1).
    InsufficientScope,
    /// The person has not answered the device's request yet (RFC 8628 §3.5).
    AuthorizationPending,
    /// The device polls faster than its interval (RFC 8628 §3.5).
    SlowDown,
    /// The device code expired (RFC 8628 §3.5).
    ExpiredToken,
    /// A registration's redirect URI is refused (RFC 7591 §3.2.2).
    InvalidRedirectUri,
    /// A registration's other metadata is refused (RFC 7591 §3.2.2).
    InvalidClientMetadata,
    /// A software statement is refused (RFC 7591 §3.2.2).
    InvalidSoftwareStatement,
    /// A DPoP proof that is missing or not valid (RFC 9449 §5, §7.1).
    InvalidDpopProof,
    /// The DPoP proof must carry the nonce this answer gives (RFC 9449 §8, §9).
    UseDpopNonce,
}

impl ErrorCode {
    /// The registered spelling (RFC 6749 §11.4 registry).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::InteractionRequired => "interaction_required",
            ErrorCode::LoginRequired => "login_required",
            ErrorCode::AccountSelectionRequired => "account_selection_required",
            ErrorCode::ConsentRequired => "consent_required",
            ErrorCode::InvalidRequestObject => "invalid_request_object",
            ErrorCode::InvalidRequestUri => "invalid_request_uri",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InsufficientScope => "insufficient_scope",
            ErrorCode::AuthorizationPending => "authorization_pending",
            ErrorCode::SlowDown => "slow_down",
            ErrorCode::ExpiredToken => "expired_token",
            ErrorCode::InvalidRedirectUri => "invalid_redirect_uri",
            ErrorCode::InvalidClientMetadata => "invalid_client_metadata",
            ErrorCode::InvalidSoftwareStatement => "invalid_software_statement",
            ErrorCode::InvalidDpopProof => "invalid_dpop_proof",
            ErrorCode::UseDpopNonce => "use_dpop_nonce",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error answer of a back-channel endpoint (RFC 6749 §5.2).
#[derive(Debug)]
pub struct OAuthError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub description: String,
    /// `Basic` challenge when the client tried HTTP Basic (RFC 6749 §5.2).
    pub basic_challenge: bool,
    /// A DPoP nonce for the client's next proof (RFC 9449 §8.1).
    pub dpop_nonce: Option<String>,
}

impl OAuthError {
    fn new(status: StatusCode, code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            status,
            code,
            description: description.into(),
            basic_challenge: false,
            dpop_nonce: None,
        }
    }

    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest, d)
    }

    /// Client authentication failed (RFC 6749 §5.2): 401.
    pub fn invalid_client(d: impl Into<String>, basic: bool) -> Self {
        Self {
            basic_challenge: basic,
            ..Self::new(StatusCode::UNAUTHORIZED, ErrorCode::InvalidClient, d)
        }
    }

    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidGrant, d)
    }

    /// A device's poll answered with `code` (RFC 8628 §3.5): 400.
    pub fn device(code: ErrorCode, d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, d)
    }

    pub fn unauthorized_client(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::UnauthorizedClient, d)
    }

    pub fn unsupported_grant_type(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::UnsupportedGrantType, d)
    }

    /// A pushed authorization request refused for `code` (RFC 9126 §2.3): 400.
    pub fn bad_request(code: ErrorCode, d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, d)
    }

    pub fn invalid_scope(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidScope, d)
    }

    /// PostgreSQL or Redis is out of reach: 503 `temporarily_unavailable`
    /// with `Retry-After` (RFC 6749 §4.1.2.1 defines the code; the token
    /// endpoint's list in §5.2 is open to it through the registry).
    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::TemporarilyUnavailable,
            "the service is temporarily unavailable; retry in a few seconds",
        )
    }

    /// Something broke on our side; the cause goes to the log only. When
    /// the request met an outage, that is the cause: [`Self::unavailable`].
    pub fn server_error(cause: impl std::fmt::Display) -> Self {
        if crate::outage::recorded().is_some() {
            tracing::debug!(%cause, "protocol endpoint: dependency unavailable");
            return Self::unavailable();
        }
        tracing::error!(%cause, "internal error on a protocol endpoint");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::ServerError,
            "internal error",
        )
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.code.as_str(), "error_description": self.description });
        let mut r = (self.status, Json(body)).into_response();
        no_store(&mut r);
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            crate::error::set_retry_after(&mut r, crate::outage::RETRY_AFTER);
        }
        if let Some(n) = &self.dpop_nonce {
            set_dpop_nonce(&mut r, n);
        }
        if self.basic_challenge {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"tongxing\""),
            );
        }
        r
    }
}

/// `DPoP-Nonce: n` (RFC 9449 §8.1).
pub fn set_dpop_nonce(r: &mut Response, nonce: &str) {
    if let Ok(v) = HeaderValue::from_str(nonce) {
        r.headers_mut().insert("dpop-nonce", v);
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
impl From<crate::store::StoreError> for OAuthError {
    fn from(e: crate::store::StoreError) -> Self {
        if e.is_unavailable() {
            return OAuthError::unavailable();
        }
        OAuthError::server_error(e)
    }
}

impl From<crate::ephemeral::EphemeralError> for OAuthError {
    fn from(e: crate::ephemeral::EphemeralError) -> Self {
        if e.is_unavailable() {
            return OAuthError::unavailable();
        }
        OAuthError::server_error(e)
    }
}

server_errors!(
    crate::service::tokens::TokenError,
    crate::service::keys::KeyError
);
