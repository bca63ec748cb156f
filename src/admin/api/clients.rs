//! `/api/v1/clients`: the client registry.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::ApiJson;
use super::auth::AdminAuth;
use crate::crypto::jws::Alg;
use crate::domain::client::{AuthMethod, LdapBind};
use crate::error::{ApiError, Problem};
use crate::service::clients::{self, ClientUpdate, NewClient};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateClient {
    /// The client_id: letters, digits and `- _ .`.
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^\s*[A-Za-z0-9._-]+\s*$",
        example = "wiki"
    )]
    pub id: String,
    /// Shown to people on the consent page.
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// Absolute http(s) URIs without fragment (https in production, except
    /// for loopback hosts).
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    #[schema(max_length = 2000)]
    pub backchannel_logout_uri: Option<String>,
    #[serde(default)]
    pub first_party: bool,
    #[serde(default)]
    pub public: bool,
    /// Space-separated allowed scopes (at most 32, each at most 64
    /// characters).
    pub scopes: Option<String>,
    /// The ID token's signing algorithm; RS256 when absent.
    pub id_token_alg: Option<Alg>,
    /// How the client authenticates at the token endpoint;
    /// client_secret_basic when absent (`none` when `public`).
    pub token_auth_method: Option<AuthMethod>,
    #[schema(max_length = 2000)]
    pub jwks_uri: Option<String>,
    /// A JWK set object (private_key_jwt).
    #[schema(value_type = Object)]
    pub jwks: Option<Value>,
    /// Sign-ins for this client always need SMS step-up.
    #[serde(default)]
    pub require_sms: bool,
    /// Accounts whose password the passport found weak are blocked for
    /// this client until an administrator resets the password.
    #[serde(default)]
    pub require_strong_password: bool,
    /// The name in English (`name` is the default, zh-CN one).
    #[schema(max_length = 100)]
    pub name_en: Option<String>,
    /// What the application is for, shown in the application list (zh-CN).
    #[schema(max_length = 300)]
    pub description: Option<String>,
    /// The description in English.
    #[schema(max_length = 300)]
    pub description_en: Option<String>,
    /// The logo the application list shows (absolute http(s) URI).
    #[schema(max_length = 2000)]
    pub logo_uri: Option<String>,
    /// The page the application list's link opens.
    #[schema(max_length = 2000)]
    pub home_uri: Option<String>,
    /// Show this first-party client in everyone's application list.
    #[serde(default)]
    pub show_in_app_list: bool,
    /// People may make application passwords for this client.
    #[serde(default)]
    pub app_passwords_allowed: bool,
    /// LDAP binds naming this client: `off` when absent.
    pub ldap_bind: Option<LdapBind>,
    /// The client, bound to the LDAP interface with its secret, may search.
    #[serde(default)]
    pub ldap_search: bool,
    /// Authorization requests only through the pushed authorization
    /// request endpoint (RFC 9126).
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    /// Authorization requests only as signed request objects (RFC 9101);
    /// needs `jwks` or `jwks_uri`.
    #[serde(default)]
    pub require_signed_request_object: bool,
    /// Tokens only bound to a DPoP key (RFC 9449): token requests
    /// without a proof are refused.
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
    /// Where the client hosts signed request objects (RFC 9101 §5.2);
    /// needs `jwks` or `jwks_uri`.
    #[serde(default)]
    pub request_uris: Vec<String>,
}

/// A registered client as the API shows it (never its secret).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ClientView {
    id: String,
    name: String,
    token_auth_method: AuthMethod,
    redirect_uris: Vec<String>,
    post_logout_redirect_uris: Vec<String>,
    backchannel_logout_uri: Option<String>,
    first_party: bool,
    /// Space-separated.
    scopes: String,
    id_token_alg: Alg,
    jwks_uri: Option<String>,
    /// Whether public keys are registered inline.
    has_jwks: bool,
    /// Send it back with an update.
    version: i64,
    require_sms: bool,
    /// Weak-password accounts are blocked for this client.
    require_strong_password: bool,
    name_en: Option<String>,
    description: Option<String>,
    description_en: Option<String>,
    logo_uri: Option<String>,
    home_uri: Option<String>,
    show_in_app_list: bool,
    app_passwords_allowed: bool,
    /// LDAP binds naming this client: `off`, `password` (the passport
    /// password or an application password) or `app_passwords`.
    ldap_bind: LdapBind,
    /// The client may search the LDAP interface.
    ldap_search: bool,
    /// Authorization requests only through the PAR endpoint.
    require_pushed_authorization_requests: bool,
    /// Authorization requests only as signed request objects.
    require_signed_request_object: bool,
    /// Tokens only bound to a DPoP key (RFC 9449).
    dpop_bound_access_tokens: bool,
    /// Where the client hosts signed request objects.
    request_uris: Vec<String>,
    /// Registered by itself through `/register` (RFC 7591), with an
    /// initial access token: never first-party.
    registered_dynamically: bool,
    /// The grant types a dynamically registered client registered (the
    /// only ones it may use); null for the others.
    grant_types: Option<Vec<String>>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedClient {
    #[schema(value_type = ClientView)]
    pub client: Value,
    /// The generated secret, shown this once.
    pub client_secret: Option<String>,
}

#[utoipa::path(get, path = crate::routes::API_CLIENTS, tag = "clients", operation_id = "clients_list",
    responses((status = 200, description = "Every registered client (never a secret).", body = [ClientView])))]
pub async fn list(
    State(state): State<AppState>,
    _admin: AdminAuth,
) -> Result<Json<Vec<Value>>, ApiError> {
    Ok(Json(
        clients::list(&state)
            .await?
            .iter()
            .map(|c| c.json())
            .collect(),
    ))
}

#[utoipa::path(post, path = crate::routes::API_CLIENTS, tag = "clients", operation_id = "clients_create", request_body = CreateClient,
    responses((status = 201, description = "Registered; a generated secret is returned this once.", body = CreatedClient), (status = 409, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    admin: AdminAuth,
    ApiJson(body): ApiJson<CreateClient>,
) -> Result<(StatusCode, Json<CreatedClient>), ApiError> {
    let input = NewClient {
        id: body.id,
        name: body.name,
        redirect_uris: body.redirect_uris,
        post_logout_redirect_uris: body.post_logout_redirect_uris,
        backchannel_logout_uri: body.backchannel_logout_uri,
        first_party: body.first_party,
        scopes: body.scopes,
        id_token_alg: body.id_token_alg.map(|a| a.as_str().to_string()),
        token_auth_method: body.token_auth_method.map(|m| m.as_str().to_string()),
        public: body.public,
        secret: None,
        jwks_uri: body.jwks_uri,
        jwks: body.jwks.map(|j| j.to_string()),
        require_sms: body.require_sms,
        require_strong_password: body.require_strong_password,
        name_en: body.name_en,
        description: body.description,
        description_en: body.description_en,
        logo_uri: body.logo_uri,
        home_uri: body.home_uri,
        show_in_app_list: body.show_in_app_list,
        app_passwords_allowed: body.app_passwords_allowed,
        ldap_bind: body.ldap_bind.map(|m| m.as_str().to_string()),
        ldap_search: body.ldap_search,
        require_pushed_authorization_requests: body.require_pushed_authorization_requests,
        require_signed_request_object: body.require_signed_request_object,
        dpop_bound_access_tokens: body.dpop_bound_access_tokens,
        request_uris: body.request_uris,
    };
    let (client, client_secret) =
        clients::register(&state, input, &admin.actor, &admin.origin).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedClient {
            client: client.json(),
            client_secret,
        }),
    ))
}

#[utoipa::path(get, path = crate::routes::API_CLIENT, tag = "clients", operation_id = "clients_get", params(("id" = String, Path, description = "The client_id.")),
    responses((status = 200, description = "The client.", body = ClientView)))]
pub async fn get(
    State(state): State<AppState>,
    _admin: AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let client = clients::find(&state, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such client"))?;
    Ok(Json(client.json()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateClient {
    /// The `version` the change is based on.
    pub version: i64,
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Empty string removes it.
    #[schema(max_length = 2000)]
    pub backchannel_logout_uri: Option<String>,
    pub first_party: Option<bool>,
    pub scopes: Option<String>,
    pub id_token_alg: Option<Alg>,
    pub require_sms: Option<bool>,
    /// Block weak-password accounts for this client (blocks already set
    /// stay until lifted).
    pub require_strong_password: Option<bool>,
    /// Empty string removes it (likewise the descriptions and URIs).
    #[schema(max_length = 100)]
    pub name_en: Option<String>,
    #[schema(max_length = 300)]
    pub description: Option<String>,
    #[schema(max_length = 300)]
    pub description_en: Option<String>,
    #[schema(max_length = 2000)]
    pub logo_uri: Option<String>,
    #[schema(max_length = 2000)]
    pub home_uri: Option<String>,
    pub show_in_app_list: Option<bool>,
    pub app_passwords_allowed: Option<bool>,
    /// LDAP binds naming this client: `off`, `password` or `app_passwords`.
    pub ldap_bind: Option<LdapBind>,
    /// The client may search the LDAP interface (it binds with its secret).
    pub ldap_search: Option<bool>,
    /// Authorization requests only through the PAR endpoint (RFC 9126).
    pub require_pushed_authorization_requests: Option<bool>,
    /// Authorization requests only as signed request objects (RFC 9101).
    pub require_signed_request_object: Option<bool>,
    /// Tokens only bound to a DPoP key (RFC 9449).
    pub dpop_bound_access_tokens: Option<bool>,
    /// Where the client hosts signed request objects (RFC 9101 §5.2).
    pub request_uris: Option<Vec<String>>,
}

#[utoipa::path(patch, path = crate::routes::API_CLIENT, tag = "clients", operation_id = "clients_update", params(("id" = String, Path, description = "The client_id.")), request_body = UpdateClient,
    responses((status = 200, description = "The client as changed.", body = ClientView), (status = 409, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    admin: AdminAuth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateClient>,
) -> Result<Json<Value>, ApiError> {
    let change = ClientUpdate {
        name: body.name,
        redirect_uris: body.redirect_uris,
        post_logout_redirect_uris: body.post_logout_redirect_uris,
        backchannel_logout_uri: body
            .backchannel_logout_uri
            .map(|u| Some(u).filter(|u| !u.is_empty())),
        first_party: body.first_party,
        scopes: body.scopes,
        id_token_alg: body.id_token_alg.map(|a| a.as_str().to_string()),
        require_sms: body.require_sms,
        require_strong_password: body.require_strong_password,
        name_en: body.name_en.map(Some),
        description: body.description.map(Some),
        description_en: body.description_en.map(Some),
        logo_uri: body.logo_uri.map(Some),
        home_uri: body.home_uri.map(Some),
        show_in_app_list: body.show_in_app_list,
        app_passwords_allowed: body.app_passwords_allowed,
        ldap_bind: body.ldap_bind.map(|m| m.as_str().to_string()),
        ldap_search: body.ldap_search,
        require_pushed_authorization_requests: body.require_pushed_authorization_requests,
        require_signed_request_object: body.require_signed_request_object,
        dpop_bound_access_tokens: body.dpop_bound_access_tokens,
        request_uris: body.request_uris,
    };
    let client = clients::update(
        &state,
        &id,
        body.version,
        change,
        &admin.actor,
        &admin.origin,
    )
    .await?;
    Ok(Json(client.json()))
}

#[utoipa::path(delete, path = crate::routes::API_CLIENT, tag = "clients", operation_id = "clients_delete", params(("id" = String, Path, description = "The client_id.")),
    responses((status = 204, description = "Removed, with its grants and tokens.")))]
pub async fn delete(
    State(state): State<AppState>,
    admin: AdminAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    clients::remove(&state, &id, &admin.actor, &admin.origin).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct NewSecret {
    pub client_secret: Option<String>,
}

#[utoipa::path(post, path = crate::routes::API_CLIENT_SECRET, tag = "clients", operation_id = "clients_rotate_secret", params(("id" = String, Path, description = "The client_id.")),
    responses((status = 200, description = "A new secret, shown this once; the old one stops working.", body = NewSecret)))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    admin: AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<NewSecret>, ApiError> {
    let client_secret =
        clients::rotate_secret(&state, &id, None, &admin.actor, &admin.origin).await?;
    Ok(Json(NewSecret { client_secret }))
}
