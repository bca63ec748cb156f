//! `/api/v1/clients`: the client registry.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::ApiJson;
use super::auth::AdminAuth;
use crate::error::{ApiError, Problem};
use crate::service::clients::{self, ClientUpdate, NewClient};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateClient {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    #[serde(default)]
    pub first_party: bool,
    #[serde(default)]
    pub public: bool,
    /// Space-separated allowed scopes.
    pub scopes: Option<String>,
    /// RS256 (default), ES256 or EdDSA.
    pub id_token_alg: Option<String>,
    /// client_secret_basic (default), client_secret_post, private_key_jwt, none.
    pub token_auth_method: Option<String>,
    pub jwks_uri: Option<String>,
    /// A JWK set object (private_key_jwt).
    #[schema(value_type = Object)]
    pub jwks: Option<Value>,
    /// Sign-ins for this client always need SMS step-up.
    #[serde(default)]
    pub require_sms: bool,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedClient {
    #[schema(value_type = Object)]
    pub client: Value,
    /// The generated secret, shown this once.
    pub client_secret: Option<String>,
}

#[utoipa::path(get, path = crate::routes::API_CLIENTS, tag = "clients",
    responses((status = 200, body = [Object]), (status = 401, body = Problem)))]
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

#[utoipa::path(post, path = crate::routes::API_CLIENTS, tag = "clients", request_body = CreateClient,
    responses((status = 201, body = CreatedClient), (status = 409, body = Problem), (status = 422, body = Problem)))]
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
        id_token_alg: body.id_token_alg,
        token_auth_method: body.token_auth_method,
        public: body.public,
        secret: None,
        jwks_uri: body.jwks_uri,
        jwks: body.jwks.map(|j| j.to_string()),
        require_sms: body.require_sms,
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

#[utoipa::path(get, path = crate::routes::API_CLIENT, tag = "clients", params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Problem)))]
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
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Empty string removes it.
    pub backchannel_logout_uri: Option<String>,
    pub first_party: Option<bool>,
    pub scopes: Option<String>,
    pub id_token_alg: Option<String>,
    pub require_sms: Option<bool>,
}

#[utoipa::path(patch, path = crate::routes::API_CLIENT, tag = "clients", params(("id" = String, Path)), request_body = UpdateClient,
    responses((status = 200, body = Object), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
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
        id_token_alg: body.id_token_alg,
        require_sms: body.require_sms,
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

#[utoipa::path(delete, path = crate::routes::API_CLIENT, tag = "clients", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
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

#[utoipa::path(post, path = crate::routes::API_CLIENT_SECRET, tag = "clients", params(("id" = String, Path)),
    responses((status = 200, body = NewSecret), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    admin: AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<NewSecret>, ApiError> {
    let client_secret =
        clients::rotate_secret(&state, &id, None, &admin.actor, &admin.origin).await?;
    Ok(Json(NewSecret { client_secret }))
}
