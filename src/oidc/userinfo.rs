//! `/userinfo` (OIDC Core §5.3), GET and POST, Bearer token (RFC 6750).
//! Errors carry a `WWW-Authenticate: Bearer` challenge (RFC 6750 §3).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::errors::{ErrorCode, no_store};
use super::params::Params;
use crate::service::introspection::{self, UserInfoError};
use crate::state::AppState;

/// The answer with its `WWW-Authenticate: Bearer` challenge; with an error,
/// its code (RFC 6750 §3.1) and description.
fn challenge(status: StatusCode, error: Option<(ErrorCode, &str)>) -> Response {
    let value = match error {
        Some((code, description)) => format!(
            "Bearer realm=\"tongxing\", error=\"{code}\", error_description=\"{description}\""
        ),
        None => "Bearer realm=\"tongxing\"".to_string(),
    };
    let mut r = status.into_response();
    if let Ok(v) = HeaderValue::from_str(&value) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    no_store(&mut r);
    r
}

fn invalid_request(why: &str) -> Response {
    challenge(
        StatusCode::BAD_REQUEST,
        Some((ErrorCode::InvalidRequest, why)),
    )
}

/// The bearer token from the header or (POST) the form body, not both.
#[allow(clippy::result_large_err)] // the error is the finished response
fn bearer(headers: &HeaderMap, body: Option<&Bytes>) -> Result<Option<String>, Response> {
    let from_header = match headers.get(header::AUTHORIZATION) {
        Some(v) => {
            let text = v
                .to_str()
                .map_err(|_| invalid_request("malformed Authorization header"))?;
            match text.split_once(' ') {
                Some((scheme, token))
                    if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
                {
                    Some(token.trim().to_string())
                }
                _ => return Err(invalid_request("Authorization must use the Bearer scheme")),
            }
        }
        None => None,
    };
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let from_body = match body {
        Some(b) if is_form && !b.is_empty() => {
            let p = Params::parse(b).map_err(|e| invalid_request(&e.to_string()))?;
            p.get("access_token").map(str::to_string)
        }
        _ => None,
    };
    match (from_header, from_body) {
        (Some(_), Some(_)) => Err(invalid_request("token sent in more than one way")),
        (a, b) => Ok(a.or(b)),
    }
}

pub async fn get(State(state): State<AppState>, headers: HeaderMap) -> Response {
    userinfo(&state, &headers, None).await
}

pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    userinfo(&state, &headers, Some(&body)).await
}

async fn userinfo(state: &AppState, headers: &HeaderMap, body: Option<&Bytes>) -> Response {
    let token = match bearer(headers, body) {
        Ok(Some(t)) => t,
        Ok(None) => return challenge(StatusCode::UNAUTHORIZED, None),
        Err(r) => return r,
    };
    match introspection::userinfo(state, &token).await {
        Ok(claims) => {
            let mut r = Json(Value::Object(claims)).into_response();
            no_store(&mut r);
            r
        }
        Err(UserInfoError::InvalidToken) => challenge(
            StatusCode::UNAUTHORIZED,
            Some((
                ErrorCode::InvalidToken,
                "the access token is invalid, expired or revoked",
            )),
        ),
        Err(UserInfoError::InsufficientScope) => challenge(
            StatusCode::FORBIDDEN,
            Some((
                ErrorCode::InsufficientScope,
                "a user token with the openid scope is required",
            )),
        ),
        // 503 `temporarily_unavailable` when the request met an outage,
        // else 500 `server_error` (the cause goes to the log only).
        Err(UserInfoError::Internal(e)) => {
            crate::oidc::errors::OAuthError::server_error(format!("userinfo: {e}")).into_response()
        }
    }
}
