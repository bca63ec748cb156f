//! `POST /register` (RFC 7591 §3) and `GET`/`PUT`/`DELETE
//! /register/{client_id}` (RFC 7592 §2): dynamic client registration.
//! The rules are in `service::registration`; this file turns HTTP into
//! its calls and its refusals into RFC 7591 §3.2.2 JSON errors, or a
//! `WWW-Authenticate: Bearer` challenge for a refused token (RFC 6750 §3).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::errors::{ErrorCode, no_store};
use crate::extract::ClientOrigin;
use crate::service::clients::Client;
use crate::service::registration::{self, Metadata, RegistrationError};
use crate::state::AppState;

impl IntoResponse for RegistrationError {
    fn into_response(self) -> Response {
        match self {
            RegistrationError::Store(e) => {
                return super::errors::OAuthError::from(e).into_response();
            }
            RegistrationError::Ephemeral(e) => {
                return super::errors::OAuthError::from(e).into_response();
            }
            _ => {}
        }
        let (status, code, description) = match &self {
            RegistrationError::Disabled => return StatusCode::NOT_FOUND.into_response(),
            RegistrationError::TokenRefused => {
                let mut r = (
                    StatusCode::UNAUTHORIZED,
                    Json(
                        json!({ "error": "invalid_token", "error_description": self.to_string() }),
                    ),
                )
                    .into_response();
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"tongxing\", error=\"invalid_token\""),
                );
                no_store(&mut r);
                return r;
            }
            RegistrationError::TooMany(wait) => {
                let mut r = (
                    StatusCode::TOO_MANY_REQUESTS,
                    Json(json!({ "error": ErrorCode::TemporarilyUnavailable.as_str(), "error_description": self.to_string() })),
                )
                    .into_response();
                crate::error::set_retry_after(&mut r, *wait);
                no_store(&mut r);
                return r;
            }
            RegistrationError::InvalidRedirectUri(d) => (
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidRedirectUri,
                d.clone(),
            ),
            RegistrationError::InvalidMetadata(d) => (
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidClientMetadata,
                d.clone(),
            ),
            RegistrationError::SoftwareStatement => (
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidSoftwareStatement,
                self.to_string(),
            ),
            RegistrationError::Store(_)
            | RegistrationError::Ephemeral(_)
            | RegistrationError::Random(_) => {
                return super::errors::OAuthError::server_error(&self).into_response();
            }
        };
        let mut r = (
            status,
            Json(json!({ "error": code.as_str(), "error_description": description })),
        )
            .into_response();
        no_store(&mut r);
        r
    }
}

/// The bearer token of the `Authorization` header, if it has one.
fn bearer(headers: &HeaderMap) -> Option<String> {
    let text = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = text.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_string())
}

/// The metadata of a JSON body; anything else is `invalid_client_metadata`.
fn metadata(headers: &HeaderMap, body: &Bytes) -> Result<Metadata, RegistrationError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return Err(RegistrationError::InvalidMetadata(
            "the metadata is sent as application/json".into(),
        ));
    }
    crate::serde_text::json_in(body, None).map_err(|f| {
        RegistrationError::InvalidMetadata(match f.field {
            Some(field) => format!("{field}: {}", f.detail),
            None => f.detail,
        })
    })
}

/// The client's metadata as stored (RFC 7591 §3.2.1, RFC 7592 §3), with
/// the values that are not shown again.
fn information(state: &AppState, c: &Client) -> Value {
    let mut v = json!({
        "client_id": c.id,
        "client_name": c.name,
        "redirect_uris": c.redirect_uris,
        "post_logout_redirect_uris": c.post_logout_redirect_uris,
        "token_endpoint_auth_method": c.token_auth_method.as_str(),
        "grant_types": c.grant_types,
        "response_types": if c.allows_grant("authorization_code") { json!(["code"]) } else { json!([]) },
        "scope": c.scopes.join(" "),
        "id_token_signed_response_alg": c.id_token_alg.as_str(),
        "dpop_bound_access_tokens": c.dpop_bound_access_tokens,
        "request_uris": c.request_uris,
        "registration_client_uri": format!("{}{}", state.config.issuer(), crate::routes::REGISTER_CLIENT.replace("{client_id}", &c.id)),
    });
    let optional = [
        (
            "backchannel_logout_uri",
            c.backchannel_logout_uri.as_ref().map(|u| json!(u)),
        ),
        ("logo_uri", c.logo_uri.as_ref().map(|u| json!(u))),
        ("client_uri", c.home_uri.as_ref().map(|u| json!(u))),
        ("jwks_uri", c.jwks_uri.as_ref().map(|u| json!(u))),
        ("jwks", c.jwks.as_ref().map(|k| json!(k))),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            v[name] = value;
        }
    }
    if c.token_auth_method.uses_secret() {
        // RFC 7591 §3.2.1: 0, the secret does not expire.
        v["client_secret_expires_at"] = json!(0);
    }
    v
}

fn answer(status: StatusCode, body: Value) -> Response {
    let mut r = (status, Json(body)).into_response();
    no_store(&mut r);
    r
}

/// `POST /register` (RFC 7591 §3.1).
pub async fn register(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, RegistrationError> {
    // The token is judged before the metadata: a caller without one
    // learns nothing about the policy.
    let admission = registration::admit(&state, bearer(&headers).as_deref(), &origin).await?;
    let meta = metadata(&headers, &body)?;
    let reg = registration::register(&state, admission, meta, &origin).await?;
    let mut v = information(&state, &reg.client);
    v["client_id_issued_at"] = json!(reg.issued_at);
    v["registration_access_token"] = json!(reg.registration_access_token);
    if let Some(secret) = reg.client_secret {
        v["client_secret"] = json!(secret);
    }
    Ok(answer(StatusCode::CREATED, v))
}

/// `GET /register/{client_id}` (RFC 7592 §2.1). The answer carries the
/// registration access token (RFC 7592 §3 requires it): the one presented,
/// as only its hash is stored and it is not rotated.
pub async fn read(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, RegistrationError> {
    let token = bearer(&headers);
    let client = registration::authorized(&state, &id, token.as_deref()).await?;
    let mut v = information(&state, &client);
    v["registration_access_token"] = json!(token);
    Ok(answer(StatusCode::OK, v))
}

/// `PUT /register/{client_id}` (RFC 7592 §2.2).
pub async fn update(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, RegistrationError> {
    let token = bearer(&headers);
    registration::authorized(&state, &id, token.as_deref()).await?;
    let meta = metadata(&headers, &body)?;
    let (client, secret) =
        registration::update(&state, &id, token.as_deref(), meta, &origin).await?;
    let mut v = information(&state, &client);
    v["registration_access_token"] = json!(token);
    if let Some(secret) = secret {
        v["client_secret"] = json!(secret);
    }
    Ok(answer(StatusCode::OK, v))
}

/// `DELETE /register/{client_id}` (RFC 7592 §2.3).
pub async fn delete(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, RegistrationError> {
    registration::delete(&state, &id, bearer(&headers).as_deref(), &origin).await?;
    let mut r = StatusCode::NO_CONTENT.into_response();
    no_store(&mut r);
    Ok(r)
}
