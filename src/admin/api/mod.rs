//! `/api/v1`: the management API, described by an OpenAPI 3 document
//! generated from these handlers (`/api/openapi.json`).

pub mod app_passwords;
pub mod audit;
pub mod auth;
pub mod blocks;
pub mod calendar;
pub mod clients;
pub mod doc;
pub mod extract;
pub mod keys;
pub mod organizations;
pub mod phones;
pub mod registration_tokens;
pub mod review;
pub mod users;

use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use extract::{ApiJson, ApiQuery, OptionalJson, paging, parse_id};

use crate::error::{ApiError, Problem};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Tongxing management API", description = "Accounts, organizations, clients, signing keys and the audit log of the Tongxing passport (a service account's token); the account operations organization administrators may do (an organization administrator's own token with the `org_admin` scope: only the accounts of its organizations, others answer 404); and the review queue (a reviewer's own token with the `review` scope)."),
    components(schemas(Problem)),
    security(("bearer" = [])),
)]
struct ApiDoc;

/// The API router and its OpenAPI document.
pub fn router() -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").into();
    let (router, mut doc) = OpenApiRouter::with_openapi(doc)
        .routes(routes!(users::search, users::create))
        .routes(routes!(users::get, users::update))
        .routes(routes!(users::disable))
        .routes(routes!(users::enable))
        .routes(routes!(users::reset_password))
        .routes(routes!(users::force_password_change))
        .routes(routes!(users::revoke_sessions))
        .routes(routes!(phones::phones))
        .routes(routes!(phones::require_binding))
        .routes(routes!(organizations::list, organizations::create))
        .routes(routes!(organizations::import))
        .routes(routes!(organizations::get, organizations::update))
        .routes(routes!(blocks::list))
        .routes(routes!(blocks::lift))
        .routes(routes!(app_passwords::list, app_passwords::revoke_all))
        .routes(routes!(app_passwords::revoke))
        .routes(routes!(clients::list, clients::create))
        .routes(routes!(clients::get, clients::update, clients::delete))
        .routes(routes!(clients::rotate_secret))
        .routes(routes!(
            registration_tokens::list,
            registration_tokens::issue
        ))
        .routes(routes!(registration_tokens::revoke))
        .routes(routes!(keys::list))
        .routes(routes!(keys::rotate))
        .routes(routes!(audit::list))
        .routes(routes!(calendar::get, calendar::put))
        .routes(routes!(review::queue))
        .routes(routes!(review::case))
        .routes(routes!(review::document))
        .routes(routes!(review::claim))
        .routes(routes!(review::note))
        .routes(routes!(review::approve))
        .routes(routes!(review::reject))
        .split_for_parts();
    // After the routes: the answers follow from each operation's inputs.
    doc::ApiAnswers.modify(&mut doc);
    (router.method_not_allowed_fallback(method_not_allowed), doc)
}

/// The body limit (a layer around every router) answers a declared
/// `Content-Length` over 256 KiB in plain text before any router sees the
/// request; under `/api` that answer is a problem document too.
pub async fn too_large_as_problem(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let api = req.uri().path().starts_with("/api/");
    let response = next.run(req).await;
    let plain = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_none_or(|v| v.as_bytes() != doc::PROBLEM_JSON.as_bytes());
    if api && response.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE && plain {
        return ApiError::too_large().into_response();
    }
    response
}

/// A method an API path does not have: a problem document, not an empty 405.
async fn method_not_allowed() -> ApiError {
    ApiError {
        status: axum::http::StatusCode::METHOD_NOT_ALLOWED,
        ..ApiError::bad_request("this path does not take this method; see /api/openapi.json")
    }
}

/// Unknown paths under /api get a problem document, not the HTML page.
pub async fn not_found() -> ApiError {
    ApiError::not_found("no such API endpoint")
}
