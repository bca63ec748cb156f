//! The authorization request's parameters, checked in the order written
//! here (node-oidc-provider's `actions/authorization` reads the same way):
//! the client and its redirect URI first — until both are verified an
//! error can only be a page, never a redirect (RFC 6749 §4.1.2.1) — then
//! everything else, whose errors go back to the verified redirect URI.

use super::{AuthRequest, Failure, Hint};
use crate::domain::Scope;
use crate::domain::claims::ClaimsRequest;
use crate::error::PageError;
use crate::oidc::errors::ErrorCode;
use crate::oidc::params::Params;
use crate::oidc::requests;
use crate::service::acr::AcrRequest;
use crate::service::clients::{self, Client};
use crate::service::tokens::{self, TokenError};
use crate::state::AppState;

/// Until the client and its redirect URI are verified, text we cannot
/// store in either is an error page (and never reaches a query).
/// So is a repeated one: which of its values would we trust?
fn check_text_of(params: &Params, name: &str) -> Result<(), Failure> {
    if params.bad_text().iter().any(|b| b == name) {
        return Err(Failure::Page(format!(
            "{name} contains a NUL character or bytes that are not UTF-8"
        )));
    }
    if params.repeated().contains(&name) {
        return Err(Failure::Page(format!(
            "parameter {name} is included more than once"
        )));
    }
    Ok(())
}

/// Any other parameter with such text: `invalid_request` to the verified
/// redirect URI. A `state` at fault is not echoed back.
fn check_text(req: &mut AuthRequest) -> Result<(), Failure> {
    let Some(name) = req.params.bad_text().first().cloned() else {
        return Ok(());
    };
    if name == "state" {
        req.state = None;
    }
    Err(req.fail(
        ErrorCode::InvalidRequest,
        format!("{name} contains a NUL character or bytes that are not UTF-8"),
    ))
}

async fn check_client(state: &AppState, params: &Params) -> Result<Client, Failure> {
    check_text_of(params, "client_id")?;
    let id = params
        .get("client_id")
        .ok_or_else(|| Failure::Page("client_id is missing".into()))?;
    clients::find_cached(state, id)
        .await
        .map_err(|e| Failure::from(PageError::from(e)))?
        .ok_or_else(|| Failure::Page("unknown client_id".into()))
}

/// Exact string match against the registered URIs (OAuth 2.0 Security BCP §4.1.3).
fn check_redirect_uri(
    state: &AppState,
    client: &Client,
    params: &Params,
) -> Result<String, Failure> {
    check_text_of(params, "redirect_uri")?;
    let uri = params
        .get("redirect_uri")
        .ok_or_else(|| Failure::Page("redirect_uri is missing".into()))?;
    // A device authorization's browser flow ends at our own callback
    // (service::device), for the clients allowed the grant.
    let device = crate::service::device::allowed(state, client)
        && uri == crate::service::device::callback_uri(state);
    if device || client.redirect_uris.iter().any(|r| r == uri) {
        Ok(uri.to_string())
    } else {
        Err(Failure::Page(
            "redirect_uri is not registered for this client".into(),
        ))
    }
}

/// RFC 6749 §3.1: "Request and response parameters MUST NOT be included
/// more than once." Once the client and its redirect URI are verified, the
/// answer is `invalid_request` there (§4.1.2.1); a repeated `state` is not
/// echoed back (neither value is certainly the client's).
fn check_repeated(req: &mut AuthRequest) -> Result<(), Failure> {
    let Some(name) = req.params.repeated().first().map(|n| n.to_string()) else {
        return Ok(());
    };
    if req.params.repeated().contains(&"state") {
        req.state = None;
    }
    Err(req.fail(
        ErrorCode::InvalidRequest,
        format!("parameter {name} is included more than once"),
    ))
}

/// How the request came, against what the client demands of it: through
/// the PAR endpoint (RFC 9126 §5), signed (RFC 9101 §10.5).
fn check_origin(req: &AuthRequest) -> Result<(), Failure> {
    if req.client.require_pushed_authorization_requests && !req.origin.via_par {
        return Err(req.fail(
            ErrorCode::InvalidRequest,
            "this client must push its authorization requests (pushed_authorization_request_endpoint)",
        ));
    }
    if req.client.require_signed_request_object && !req.origin.signed {
        return Err(req.fail(
            ErrorCode::InvalidRequest,
            "this client must send its authorization requests as signed request objects",
        ));
    }
    Ok(())
}

fn check_unsupported(req: &AuthRequest) -> Result<(), Failure> {
    match req.params.get("response_mode") {
        None | Some("query") => Ok(()),
        Some(other) => Err(req.fail(
            ErrorCode::InvalidRequest,
            format!("response_mode {other} is not supported"),
        )),
    }
}

fn check_response_type(req: &AuthRequest) -> Result<(), Failure> {
    match req.params.get("response_type") {
        Some("code") => Ok(()),
        Some(other) => Err(req.fail(
            ErrorCode::UnsupportedResponseType,
            format!("response_type {other} is not supported; use code"),
        )),
        None => Err(req.fail(ErrorCode::InvalidRequest, "response_type is missing")),
    }
}

/// The scope a person may be asked to grant `client` (`invalid_scope`
/// otherwise, with the reason): the authorization request's and the
/// device authorization request's rule.
pub(crate) fn requested_scope(client: &Client, raw: &str) -> Result<Scope, String> {
    let scope = Scope::parse(raw).map_err(|e| e.to_string())?;
    if scope.is_empty() {
        return Err("scope is missing".into());
    }
    if !scope.is_subset_of(&client.scopes) {
        return Err("scope exceeds what this client may request".into());
    }
    if scope.contains("admin") {
        return Err("the admin scope is only available with client_credentials".into());
    }
    Ok(scope)
}

fn check_scope(req: &mut AuthRequest) -> Result<(), Failure> {
    let raw = req.params.get("scope").unwrap_or_default();
    req.scope =
        requested_scope(&req.client, raw).map_err(|e| req.fail(ErrorCode::InvalidScope, e))?;
    Ok(())
}

/// PKCE: S256 only (plain is refused); required for public clients.
fn check_pkce(req: &mut AuthRequest) -> Result<(), Failure> {
    let challenge = req.params.get("code_challenge");
    let method = req.params.get("code_challenge_method");
    match (challenge, method) {
        (None, Some(_)) => {
            return Err(req.fail(
                ErrorCode::InvalidRequest,
                "code_challenge_method without code_challenge",
            ));
        }
        (None, None) if req.client.is_public() => {
            return Err(req.fail(
                ErrorCode::InvalidRequest,
                "PKCE (code_challenge, S256) is required for public clients",
            ));
        }
        (None, None) => return Ok(()),
        (Some(_), Some("S256")) => {}
        (Some(_), None | Some("plain")) => {
            return Err(req.fail(
                ErrorCode::InvalidRequest,
                "code_challenge_method must be S256; plain is not allowed",
            ));
        }
        (Some(_), Some(_)) => {
            return Err(req.fail(
                ErrorCode::InvalidRequest,
                "unsupported code_challenge_method",
            ));
        }
    }
    let c = challenge.unwrap_or_default();
    if !(43..=128).contains(&c.len())
        || !c
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
    {
        return Err(req.fail(ErrorCode::InvalidRequest, "code_challenge is malformed"));
    }
    req.code_challenge = Some(c.to_string());
    Ok(())
}

/// `dpop_jkt` (RFC 9449 §10): the code will be redeemed only with a DPoP
/// proof made by the key of this thumbprint.
fn check_dpop_jkt(req: &mut AuthRequest) -> Result<(), Failure> {
    let Some(jkt) = req.params.get("dpop_jkt") else {
        return Ok(());
    };
    if !crate::service::dpop::is_thumbprint(jkt) {
        return Err(req.fail(
            ErrorCode::InvalidRequest,
            "dpop_jkt must be a SHA-256 JWK thumbprint (43 base64url characters)",
        ));
    }
    req.dpop_jkt = Some(jkt.to_string());
    Ok(())
}

/// The `claims` parameter (OIDC Core §5.5). Claims about the account whose
/// scope the client may not ask for are dropped, as the scope would be.
fn check_claims(req: &mut AuthRequest) -> Result<(), Failure> {
    let Some(raw) = req.params.get("claims") else {
        return Ok(());
    };
    let mut claims = ClaimsRequest::parse(raw)
        .map_err(|e| req.fail(ErrorCode::InvalidRequest, e.to_string()))?;
    if !claims.userinfo.is_empty() && !req.scope.contains("openid") {
        return Err(req.fail(
            ErrorCode::InvalidRequest,
            "claims for userinfo need the openid scope",
        ));
    }
    claims.retain_allowed(&req.client.scopes);
    req.claims = (!claims.is_empty()).then_some(claims);
    Ok(())
}

/// `acr_values` (Core §3.1.2.1, voluntary) and an essential `acr` claim
/// (§5.5.1.1): an essential class Tongxing does not know can never be
/// met, which is a failed authentication — `access_denied` at once.
fn check_acr(req: &mut AuthRequest) -> Result<(), Failure> {
    let acr_values = req.params.get("acr_values");
    if acr_values.is_some_and(|a| a.len() > 512) {
        return Err(req.fail(ErrorCode::InvalidRequest, "acr_values is too long"));
    }
    let acr = AcrRequest::new(acr_values, req.claims.as_ref(), req.client.require_sms);
    if acr.impossible() {
        return Err(req.fail(
            ErrorCode::AccessDenied,
            "none of the essential acr values can be met",
        ));
    }
    req.acr = acr;
    Ok(())
}

/// `id_token_hint` (Core §3.1.2.1): an ID token we issued (expired ones
/// too: it names an account, it grants nothing). Whom it names is
/// compared with the signed-in account by the interaction checks.
async fn check_id_token_hint(state: &AppState, req: &mut AuthRequest) -> Result<(), Failure> {
    let Some(hint) = req.params.get("id_token_hint") else {
        return Ok(());
    };
    let invalid = || {
        req.fail(
            ErrorCode::InvalidRequest,
            "id_token_hint is not an ID token issued by this provider",
        )
    };
    let claims = match tokens::verify_own(state, hint, "JWT").await {
        Ok(c) => c,
        Err(TokenError::Invalid(_)) => return Err(invalid()),
        Err(e) => return Err(Failure::Error(PageError::Internal(e.to_string()))),
    };
    let sub = claims["sub"]
        .as_str()
        .and_then(|s| uuid::Uuid::parse_str(s).ok())
        .ok_or_else(invalid)?;
    let username = state
        .store
        .user_by_id(sub)
        .await
        .map_err(PageError::from)?
        .map(|u| u.username);
    req.hint = Some(Hint { sub, username });
    Ok(())
}

fn check_prompt(req: &mut AuthRequest) -> Result<(), Failure> {
    let prompt: Vec<String> = req
        .params
        .get("prompt")
        .unwrap_or_default()
        .split(' ')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    if let Some(bad) = prompt
        .iter()
        .find(|p| !matches!(p.as_str(), "none" | "login" | "consent" | "select_account"))
    {
        return Err(req.fail(
            ErrorCode::InvalidRequest,
            format!("unknown prompt value {bad}"),
        ));
    }
    if prompt.iter().any(|p| p == "none") && prompt.len() > 1 {
        return Err(req.fail(
            ErrorCode::InvalidRequest,
            "prompt=none cannot be combined with other values",
        ));
    }
    req.prompt = prompt;
    Ok(())
}

fn check_max_age(req: &mut AuthRequest) -> Result<(), Failure> {
    if let Some(v) = req.params.get("max_age") {
        let n: i64 = v.parse().ok().filter(|n| *n >= 0).ok_or_else(|| {
            req.fail(
                ErrorCode::InvalidRequest,
                "max_age must be a non-negative integer",
            )
        })?;
        req.max_age = Some(n);
    }
    Ok(())
}

fn check_nonce(req: &mut AuthRequest) -> Result<(), Failure> {
    if let Some(n) = req.params.get("nonce") {
        if n.len() > 512 {
            return Err(req.fail(ErrorCode::InvalidRequest, "nonce is too long"));
        }
        req.nonce = Some(n.to_string());
    }
    Ok(())
}

/// Runs the checks in order; the first failure is the answer.
/// How an authorization request came (see `oidc::requests`).
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// The request URI it is kept under: the pages it leads to come back
    /// by that, not by its parameters.
    pub kept: Option<String>,
    /// It came as a signed request object.
    pub signed: bool,
    /// It came through the pushed authorization request endpoint.
    pub via_par: bool,
}

/// The parameters a request stands for: those kept under its
/// `request_uri`, those of its verified `request` object (kept from now
/// on), or its own.
async fn resolve(
    state: &AppState,
    client: &Client,
    raw: &Params,
) -> Result<(Params, Origin), requests::Refused> {
    let refuse = |code, description: &str| requests::Refused {
        code,
        description: description.into(),
    };
    match (raw.get("request"), raw.get("request_uri")) {
        (Some(_), Some(_)) => Err(refuse(
            ErrorCode::InvalidRequest,
            "request and request_uri cannot both be sent",
        )),
        (None, Some(uri)) if !uri.starts_with(requests::REQUEST_URI_PREFIX) => {
            // One the client hosts (RFC 9101 §5.2): fetched only when the
            // client registered it, then verified as a request by value.
            if !client.request_uris.iter().any(|r| r == uri) {
                return Err(refuse(
                    ErrorCode::InvalidRequestUri,
                    "request_uri is neither from the pushed authorization request endpoint nor registered for this client",
                ));
            }
            let jwt = requests::fetch_object(state, client, uri).await?;
            let params = requests::verify_object(state, client, &jwt).await?;
            let (kept, _) = requests::keep(state, client, &params, true, false).await?;
            Ok((
                params,
                Origin {
                    kept: Some(kept),
                    signed: true,
                    via_par: false,
                },
            ))
        }
        (None, Some(uri)) => {
            let kept = requests::resolve(state, client, uri).await?;
            let params = Params::parse(kept.params.as_bytes())
                .map_err(|e| refuse(ErrorCode::InvalidRequestUri, &e.to_string()))?;
            Ok((
                params,
                Origin {
                    kept: Some(uri.to_string()),
                    signed: kept.signed,
                    via_par: kept.via_par,
                },
            ))
        }
        (Some(jwt), None) => {
            let params = requests::verify_object(state, client, jwt).await?;
            let (uri, _) = requests::keep(state, client, &params, true, false).await?;
            Ok((
                params,
                Origin {
                    kept: Some(uri),
                    signed: true,
                    via_par: false,
                },
            ))
        }
        (None, None) => Ok((raw.clone(), Origin::default())),
    }
}

pub(super) async fn validate(state: &AppState, raw: Params) -> Result<AuthRequest, Failure> {
    let client = check_client(state, &raw).await?;
    check_text_of(&raw, "request")?;
    check_text_of(&raw, "request_uri")?;
    let (params, origin) = match resolve(state, &client, &raw).await {
        Ok(resolved) => resolved,
        Err(e) if e.code == ErrorCode::ServerError => {
            return Err(Failure::Error(PageError::Internal(e.description)));
        }
        // A registered redirect URI beside a refused request object or
        // request URI may hear why (OIDC Core §3.1.2.6); without one the
        // refusal is a page.
        Err(e) => {
            return Err(match check_redirect_uri(state, &client, &raw) {
                Ok(redirect_uri) if raw.repeated().is_empty() && raw.bad_text().is_empty() => {
                    Failure::Redirect {
                        redirect_uri,
                        state: raw.get("state").map(str::to_string),
                        error: e.code,
                        description: e.description,
                    }
                }
                _ => Failure::Page(format!("{}: {}", e.code, e.description)),
            });
        }
    };
    validate_resolved(state, client, params, origin).await
}

/// The checks of a request whose client is known and whose parameters
/// are resolved (the pushed authorization request endpoint runs them
/// before it keeps a request).
pub(crate) async fn validate_resolved(
    state: &AppState,
    client: Client,
    params: Params,
    origin: Origin,
) -> Result<AuthRequest, Failure> {
    let redirect_uri = check_redirect_uri(state, &client, &params)?;
    let mut req = AuthRequest {
        origin,
        state: params.get("state").map(str::to_string),
        params,
        client,
        redirect_uri,
        scope: Scope::default(),
        nonce: None,
        code_challenge: None,
        dpop_jkt: None,
        prompt: Vec::new(),
        max_age: None,
        claims: None,
        acr: AcrRequest::default(),
        hint: None,
    };
    check_text(&mut req)?;
    check_repeated(&mut req)?;
    check_origin(&req)?;
    check_unsupported(&req)?;
    check_response_type(&req)?;
    check_scope(&mut req)?;
    check_pkce(&mut req)?;
    check_dpop_jkt(&mut req)?;
    check_prompt(&mut req)?;
    check_max_age(&mut req)?;
    check_nonce(&mut req)?;
    check_claims(&mut req)?;
    check_acr(&mut req)?;
    check_id_token_hint(state, &mut req).await?;
    Ok(req)
}
