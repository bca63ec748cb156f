//! `POST /par`: pushed authorization requests (RFC 9126). The client
//! authenticates as at the token endpoint and sends the authorization
//! request's parameters, plain or as a signed request object (`request`);
//! they are checked as `/authorize` would check them, errors answered in
//! JSON, and kept under a `request_uri` the browser then brings to
//! `/authorize` (see `oidc::requests`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::authorize::Failure;
use super::authorize::checks::{self, Origin};
use super::errors::{ErrorCode, OAuthError, no_store};
use super::params::Params;
use super::requests::{self, Refused};
use super::{client_auth, dpop};
use crate::state::AppState;

/// The parameters that authenticate the client, not the request.
const CREDENTIALS: [&str; 3] = ["client_secret", "client_assertion", "client_assertion_type"];

fn refused(e: Refused) -> OAuthError {
    match e.code {
        ErrorCode::ServerError => OAuthError::server_error(e.description),
        code => OAuthError::bad_request(code, e.description),
    }
}

/// RFC 9449 §10.1: a DPoP proof sent with the push binds the code to its
/// key, as `dpop_jkt` would; when both come they must name the same key.
async fn bind_to_proof(
    state: &AppState,
    headers: &HeaderMap,
    request: Params,
) -> Result<(Params, bool), OAuthError> {
    let Some(proof) = dpop::at_endpoint(state, headers, crate::routes::PAR).await? else {
        return Ok((request, false));
    };
    match request.get("dpop_jkt") {
        Some(jkt) if jkt == proof.jkt => Ok((request, true)),
        Some(_) => Err(OAuthError::bad_request(
            ErrorCode::InvalidDpopProof,
            "dpop_jkt is not the thumbprint of the DPoP proof's key",
        )),
        None => {
            let mut form = url::form_urlencoded::Serializer::new(request.encode_without(&[]));
            form.append_pair("dpop_jkt", &proof.jkt);
            let bound = Params::parse(form.finish().as_bytes())
                .map_err(|e| OAuthError::invalid_request(e.to_string()))?;
            Ok((bound, true))
        }
    }
}

pub async fn push(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let params = client_auth::form_params(&headers, &body)?;
    let client = client_auth::authenticate(&state, &headers, &params).await?;
    if params.has("request_uri") {
        return Err(OAuthError::invalid_request(
            "request_uri cannot be pushed (RFC 9126 §2.1)",
        ));
    }
    let (request, signed) = match params.get("request") {
        Some(jwt) => (
            requests::verify_object(&state, &client, jwt)
                .await
                .map_err(refused)?,
            true,
        ),
        None => {
            // The request as sent, with the client named even when it
            // authenticated by Basic.
            let mut form = url::form_urlencoded::Serializer::new(
                params.encode_without(&[CREDENTIALS.as_slice(), &["client_id"]].concat()),
            );
            form.append_pair("client_id", &client.id);
            let request = Params::parse(form.finish().as_bytes())
                .map_err(|e| OAuthError::invalid_request(e.to_string()))?;
            (request, false)
        }
    };
    let (request, proved) = bind_to_proof(&state, &headers, request).await?;
    let origin = Origin {
        kept: None,
        signed,
        via_par: true,
    };
    // Checked now, as /authorize would check it (RFC 9126 §2.1), so the
    // client hears what is wrong before any browser is sent.
    checks::validate_resolved(&state, client.clone(), request.clone(), origin)
        .await
        .map_err(|f| match f {
            Failure::Page(d) => OAuthError::invalid_request(d),
            Failure::Redirect {
                error, description, ..
            } => OAuthError::bad_request(error, description),
            Failure::Error(e) => OAuthError::server_error(e),
        })?;
    let (request_uri, expires_in) = requests::keep(&state, &client, &request, signed, true)
        .await
        .map_err(refused)?;
    let mut r = (
        StatusCode::CREATED,
        Json(serde_json::json!({ "request_uri": request_uri, "expires_in": expires_in })),
    )
        .into_response();
    no_store(&mut r);
    if proved {
        dpop::offer_nonce(&state, &mut r).await;
    }
    Ok(r)
}
