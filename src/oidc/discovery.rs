//! `/.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §3,
//! RFC 8414) and `/jwks` (RFC 7517). Endpoint URLs are built from the same
//! constants as the router, so the document cannot drift from the routes.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::crypto::jws::Alg;
use crate::domain::client::AuthMethod;
use crate::oidc::errors::OAuthError;
use crate::routes;
use crate::service::tokens::ACR_VALUES;
use crate::state::AppState;

pub const SCOPES_SUPPORTED: &[&str] = &[
    "openid",
    "profile",
    "email",
    "phone",
    "address",
    "offline_access",
];
pub const CLAIMS_SUPPORTED: &[&str] = &[
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "sid",
    "at_hash",
    "name",
    "preferred_username",
    "locale",
    "updated_at",
    "organization",
    "email",
    "email_verified",
    "phone_number",
    "phone_number_verified",
    "address",
];

/// The discovery document; `registration` names the registration
/// endpoint (RFC 8414 §2), only when dynamic registration is on.
pub fn document(issuer: &str, registration: bool) -> Value {
    let url = |path: &str| format!("{issuer}{path}");
    let algs: Vec<&str> = Alg::ALL.iter().map(|a| a.as_str()).collect();
    let auth_methods: Vec<&str> = AuthMethod::ALL.iter().map(|m| m.as_str()).collect();
    let mut doc = json!({
        "issuer": issuer,
        "authorization_endpoint": url(routes::AUTHORIZE),
        "token_endpoint": url(routes::TOKEN),
        "userinfo_endpoint": url(routes::USERINFO),
        "jwks_uri": url(routes::JWKS),
        "end_session_endpoint": url(routes::LOGOUT),
        "revocation_endpoint": url(routes::REVOKE),
        "introspection_endpoint": url(routes::INTROSPECT),
        "scopes_supported": SCOPES_SUPPORTED,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials", crate::service::device::GRANT_TYPE],
        "device_authorization_endpoint": url(routes::DEVICE_AUTHORIZATION),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": algs,
        // Public clients may revoke their own tokens (RFC 7009 §5).
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_signing_alg_values_supported": algs,
        // Public clients may introspect their own tokens, nothing else.
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_signing_alg_values_supported": algs,
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": CLAIMS_SUPPORTED,
        // OIDC Core §5.5: essential and voluntary, for the ID token and
        // userinfo; an essential `acr` is met or the authorization fails.
        "claims_parameter_supported": true,
        "claim_types_supported": ["normal"],
        "acr_values_supported": ACR_VALUES,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "ui_locales_supported": ["zh-CN", "en"],
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": false,
        "request_parameter_supported": true,
        "request_uri_parameter_supported": true,
        "require_request_uri_registration": true,
        "request_object_signing_alg_values_supported": crate::oidc::requests::SIGNING_ALGS,
        "pushed_authorization_request_endpoint": url(routes::PAR),
        "require_pushed_authorization_requests": false,
        "authorization_response_iss_parameter_supported": true,
        "dpop_signing_alg_values_supported": crate::service::dpop::ALGS,
    });
    if registration {
        doc["registration_endpoint"] = json!(url(routes::REGISTER));
    }
    doc
}

pub async fn configuration(State(state): State<AppState>) -> Response {
    let doc = document(&state.config.issuer(), state.config.registration.enabled);
    ([(header::CACHE_CONTROL, "public, max-age=3600")], Json(doc)).into_response()
}

pub async fn jwks(State(state): State<AppState>) -> Result<Response, OAuthError> {
    let body = state.keys.jwks_body().await?;
    // Short enough that a rotation is seen soon; clients also refetch on an
    // unknown kid.
    Ok((
        [
            (header::CACHE_CONTROL, "public, max-age=300"),
            (header::CONTENT_TYPE, "application/jwk-set+json"),
        ],
        body,
    )
        .into_response())
}
