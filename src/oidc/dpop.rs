//! The HTTP side of DPoP (RFC 9449): the `DPoP` request header, and the
//! errors and `DPoP-Nonce` answers of the token endpoint. The proof
//! itself is checked in [`crate::service::dpop`].

use axum::http::HeaderMap;
use axum::response::Response;

use super::errors::{ErrorCode, OAuthError, set_dpop_nonce};
use crate::service::dpop::{self, DpopError, Expect, Proof};
use crate::state::AppState;

/// A `DPoP` header that cannot be a proof (§4.3 step 1: exactly one).
pub struct Malformed(pub &'static str);

/// The proof sent with a request: none, or exactly one header value.
pub fn proof_header(headers: &HeaderMap) -> Result<Option<&str>, Malformed> {
    let mut values = headers.get_all("dpop").iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Malformed("more than one DPoP header was sent"));
    }
    first
        .to_str()
        .map(Some)
        .map_err(|_| Malformed("the DPoP header is not a JWT"))
}

impl From<DpopError> for OAuthError {
    fn from(e: DpopError) -> Self {
        match e {
            DpopError::Invalid(why) => OAuthError::bad_request(ErrorCode::InvalidDpopProof, why),
            DpopError::UseNonce(nonce) => OAuthError {
                dpop_nonce: Some(nonce),
                ..OAuthError::bad_request(
                    ErrorCode::UseDpopNonce,
                    "the DPoP proof must carry the nonce in the DPoP-Nonce header",
                )
            },
            DpopError::Ephemeral(e) => e.into(),
            DpopError::Random(e) => OAuthError::server_error(e),
        }
    }
}

/// Verifies the proof sent to the back-channel endpoint `route` (POST),
/// if one was sent (§5).
pub async fn at_endpoint(
    state: &AppState,
    headers: &HeaderMap,
    route: &str,
) -> Result<Option<Proof>, OAuthError> {
    let proof = proof_header(headers)
        .map_err(|Malformed(why)| OAuthError::bad_request(ErrorCode::InvalidDpopProof, why))?;
    let Some(proof) = proof else {
        return Ok(None);
    };
    let uri = format!("{}{route}", state.config.issuer());
    let expect = Expect {
        method: "POST",
        uri: &uri,
        access_token: None,
    };
    Ok(Some(dpop::verify(state, proof, &expect).await?))
}

/// Gives a DPoP client the nonce for its next proof with a successful
/// answer (§8.2), so it need not be refused once before each change.
pub async fn offer_nonce(state: &AppState, response: &mut Response) {
    if !state.config.oidc.dpop_nonce {
        return;
    }
    match dpop::nonce(state).await {
        Ok(n) => set_dpop_nonce(response, &n),
        // The answer is good without it: the next proof is refused with
        // a nonce instead.
        Err(e) => tracing::warn!(error = %e, "no DPoP nonce to offer"),
    }
}
