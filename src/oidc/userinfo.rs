//! `/userinfo` (OIDC Core §5.3), GET and POST, Bearer token (RFC 6750).
//! Errors carry a `WWW-Authenticate` challenge (RFC 6750 §3), in the DPoP
//! scheme for DPoP-bound tokens (RFC 9449 §7).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::errors::{ErrorCode, OAuthError, no_store, set_dpop_nonce};
use super::params::Params;
use crate::service::dpop::{self, DpopError};
use crate::service::introspection::{self, UserInfoError};
use crate::state::AppState;

/// How the access token came (RFC 6750 §2, RFC 9449 §7.1).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Bearer,
    Dpop,
}

/// The answer with its `WWW-Authenticate` challenge in `scheme`; with an
/// error, its code (RFC 6750 §3.1, RFC 9449 §7.1) and description. A
/// request without any token hears both schemes, the DPoP one with the
/// proof algorithms accepted (§7.1).
fn challenge(status: StatusCode, scheme: Scheme, error: Option<(ErrorCode, &str)>) -> Response {
    let algs = dpop::ALGS.join(" ");
    let error = error.map(|(code, d)| (code, quotable(d)));
    let values = match (scheme, error) {
        (Scheme::Bearer, Some((code, description))) => vec![format!(
            "Bearer realm=\"tongxing\", error=\"{code}\", error_description=\"{description}\""
        )],
        (Scheme::Dpop, Some((code, description))) => vec![format!(
            "DPoP algs=\"{algs}\", error=\"{code}\", error_description=\"{description}\""
        )],
        (_, None) => vec![
            "Bearer realm=\"tongxing\"".to_string(),
            format!("DPoP algs=\"{algs}\""),
        ],
    };
    let mut r = status.into_response();
    for value in values {
        if let Ok(v) = HeaderValue::from_str(&value) {
            r.headers_mut().append(header::WWW_AUTHENTICATE, v);
        }
    }
    no_store(&mut r);
    r
}

/// The description as RFC 6750 §3 allows it inside a quoted
/// `error_description` (printable ASCII without `"` and a backslash): anything
/// else (a parameter name from the request, say) becomes `?`.
fn quotable(description: &str) -> String {
    description
        .chars()
        .map(|c| match c {
            ' ' | '!' | '#'..='[' | ']'..='~' => c,
            _ => '?',
        })
        .collect()
}

fn invalid_request(why: &str) -> Response {
    challenge(
        StatusCode::BAD_REQUEST,
        Scheme::Bearer,
        Some((ErrorCode::InvalidRequest, why)),
    )
}

/// The access token from the header (Bearer or DPoP) or, Bearer only,
/// (POST) the form body; not both.
#[allow(clippy::result_large_err)] // the error is the finished response
fn presented(
    headers: &HeaderMap,
    body: Option<&Bytes>,
) -> Result<Option<(String, Scheme)>, Response> {
    let from_header = match headers.get(header::AUTHORIZATION) {
        Some(v) => {
            let text = v
                .to_str()
                .map_err(|_| invalid_request("malformed Authorization header"))?;
            let scheme = match text.split_once(' ') {
                Some((s, token)) if !token.trim().is_empty() => {
                    if s.eq_ignore_ascii_case("bearer") {
                        Some((token.trim().to_string(), Scheme::Bearer))
                    } else if s.eq_ignore_ascii_case("dpop") {
                        Some((token.trim().to_string(), Scheme::Dpop))
                    } else {
                        None
                    }
                }
                _ => None,
            };
            match scheme {
                Some(found) => Some(found),
                None => {
                    return Err(invalid_request(
                        "Authorization must use the Bearer or DPoP scheme",
                    ));
                }
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
            p.get("access_token")
                .map(|t| (t.to_string(), Scheme::Bearer))
        }
        _ => None,
    };
    match (from_header, from_body) {
        (Some(_), Some(_)) => Err(invalid_request("token sent in more than one way")),
        (a, b) => Ok(a.or(b)),
    }
}

pub async fn get(State(state): State<AppState>, headers: HeaderMap) -> Response {
    userinfo(&state, &headers, None, "GET").await
}

pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    userinfo(&state, &headers, Some(&body), "POST").await
}

/// The key of the DPoP proof that came with a token in the DPoP scheme
/// (RFC 9449 §7.1), or the finished refusal.
async fn proof_key(
    state: &AppState,
    headers: &HeaderMap,
    method: &str,
    token: &str,
) -> Result<String, Response> {
    let refuse = |why: &str| {
        challenge(
            StatusCode::UNAUTHORIZED,
            Scheme::Dpop,
            Some((ErrorCode::InvalidDpopProof, why)),
        )
    };
    let proof = match crate::oidc::dpop::proof_header(headers) {
        Ok(Some(p)) => p,
        Ok(None) => return Err(refuse("a DPoP-bound token goes with a DPoP proof")),
        Err(crate::oidc::dpop::Malformed(why)) => return Err(refuse(why)),
    };
    let uri = format!("{}{}", state.config.issuer(), crate::routes::USERINFO);
    let expect = dpop::Expect {
        method,
        uri: &uri,
        access_token: Some(token),
    };
    match dpop::verify(state, proof, &expect).await {
        Ok(p) => Ok(p.jkt),
        Err(DpopError::Invalid(why)) => Err(refuse(&why)),
        Err(DpopError::UseNonce(nonce)) => {
            let mut r = challenge(
                StatusCode::UNAUTHORIZED,
                Scheme::Dpop,
                Some((
                    ErrorCode::UseDpopNonce,
                    "the DPoP proof must carry the nonce in the DPoP-Nonce header",
                )),
            );
            set_dpop_nonce(&mut r, &nonce);
            Err(r)
        }
        Err(e) => Err(OAuthError::from(e).into_response()),
    }
}

async fn userinfo(
    state: &AppState,
    headers: &HeaderMap,
    body: Option<&Bytes>,
    method: &str,
) -> Response {
    let (token, scheme) = match presented(headers, body) {
        Ok(Some(t)) => t,
        Ok(None) => return challenge(StatusCode::UNAUTHORIZED, Scheme::Bearer, None),
        Err(r) => return r,
    };
    let key = match scheme {
        Scheme::Dpop => match proof_key(state, headers, method, &token).await {
            Ok(k) => Some(k),
            Err(r) => return r,
        },
        Scheme::Bearer => None,
    };
    match introspection::userinfo(state, &token, key.as_deref()).await {
        Ok(claims) => {
            let mut r = Json(Value::Object(claims)).into_response();
            no_store(&mut r);
            if key.is_some() {
                crate::oidc::dpop::offer_nonce(state, &mut r).await;
            }
            r
        }
        Err(UserInfoError::InvalidToken) => challenge(
            StatusCode::UNAUTHORIZED,
            scheme,
            Some((
                ErrorCode::InvalidToken,
                "the access token is invalid, expired or revoked",
            )),
        ),
        // RFC 9449 §7.1, §7.2: a bound token needs its proof, and a proof
        // needs a token bound to its key.
        Err(UserInfoError::Binding(why)) => challenge(
            StatusCode::UNAUTHORIZED,
            Scheme::Dpop,
            Some((ErrorCode::InvalidToken, why)),
        ),
        Err(UserInfoError::InsufficientScope) => challenge(
            StatusCode::FORBIDDEN,
            scheme,
            Some((
                ErrorCode::InsufficientScope,
                "a user token with the openid scope is required",
            )),
        ),
        // 503 `temporarily_unavailable` when the request met an outage,
        // else 500 `server_error` (the cause goes to the log only).
        Err(UserInfoError::Internal(e)) => {
            OAuthError::server_error(format!("userinfo: {e}")).into_response()
        }
    }
}
