//! `/api/v1`: the management API, described by an OpenAPI 3 document
//! generated from these handlers (`/api/openapi.json`).

pub mod audit;
pub mod auth;
pub mod clients;
pub mod keys;
pub mod phones;
pub mod users;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, Problem};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Tongxing management API", description = "Accounts, clients, signing keys and the audit log of the Tongxing passport."),
    components(schemas(Problem)),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The API router and its OpenAPI document.
pub fn router() -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").into();
    OpenApiRouter::with_openapi(doc)
        .routes(routes!(users::search, users::create))
        .routes(routes!(users::get, users::update))
        .routes(routes!(users::disable))
        .routes(routes!(users::enable))
        .routes(routes!(users::reset_password))
        .routes(routes!(users::force_password_change))
        .routes(routes!(users::revoke_sessions))
        .routes(routes!(phones::phones))
        .routes(routes!(phones::require_binding))
        .routes(routes!(clients::list, clients::create))
        .routes(routes!(clients::get, clients::update, clients::delete))
        .routes(routes!(clients::rotate_secret))
        .routes(routes!(keys::list))
        .routes(routes!(keys::rotate))
        .routes(routes!(audit::list))
        .split_for_parts()
}

/// JSON body; a malformed one is a problem document naming what is wrong.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(e) => Err(json_problem(e)),
        }
    }
}

/// A JSON body that may be left out entirely (all its fields optional).
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default> FromRequest<AppState> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        use axum::http::header;
        let headers = req.headers();
        let empty = headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v == "0")
            || (headers.get(header::CONTENT_TYPE).is_none()
                && headers.get(header::TRANSFER_ENCODING).is_none());
        if empty {
            return Ok(OptionalJson(T::default()));
        }
        ApiJson::<T>::from_request(req, state)
            .await
            .map(|ApiJson(v)| OptionalJson(v))
    }
}

/// A body that is not the JSON expected: a data error names the field
/// (serde says "missing field `version`", "unknown field `x`", "invalid
/// type … at line …"), anything else is a bad request.
fn json_problem(e: axum::extract::rejection::JsonRejection) -> ApiError {
    use axum::extract::rejection::JsonRejection;
    let text = e.body_text();
    let field = text.split('`').nth(1).map(str::to_string);
    match (e, field) {
        (JsonRejection::JsonDataError(_), Some(f)) => ApiError::invalid_named(f, text),
        (JsonRejection::JsonDataError(_), None) => ApiError {
            status: axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            ..ApiError::bad_request(text)
        },
        _ => ApiError::bad_request(text),
    }
}

/// Unknown paths under /api get a problem document, not the HTML page.
pub async fn not_found() -> ApiError {
    ApiError::not_found("no such API endpoint")
}

/// Query string; malformed values become a problem document.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned> FromRequestParts<AppState> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(e) => Err(ApiError::bad_request(e.body_text())),
        }
    }
}

/// A path id; an unparsable one is simply not found.
pub fn parse_id(raw: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(raw).map_err(|_| ApiError::not_found("no such record"))
}
