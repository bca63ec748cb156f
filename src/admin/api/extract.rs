//! The management API's inputs: JSON bodies, query strings and path ids.
//! Whatever is wrong with one is answered with a problem document whose
//! `field` names the member, parameter or header at fault and whose
//! `detail` says what it must be, in the request's terms (see
//! [`crate::serde_text`]) — never in terms of our Rust types.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::serde_text::{self, Fault};
use crate::state::AppState;

/// Largest body read; the router refuses larger ones before this.
const BODY_LIMIT: usize = 256 * 1024;

/// A JSON body (`application/json` or any `+json` type).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &AppState) -> Result<Self, Self::Rejection> {
        let (headers, bytes) = read(req).await?;
        decode(&headers, &bytes).map(ApiJson)
    }
}

/// A JSON body that may be left out entirely (all its fields optional):
/// no body at all reads as `{}`; a body that is there must be JSON.
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default> FromRequest<AppState> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &AppState) -> Result<Self, Self::Rejection> {
        let (headers, bytes) = read(req).await?;
        if bytes.is_empty() {
            return Ok(OptionalJson(T::default()));
        }
        decode(&headers, &bytes).map(OptionalJson)
    }
}

async fn read(req: Request) -> Result<(HeaderMap, Bytes), ApiError> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, BODY_LIMIT)
        .await
        .map_err(|_| ApiError::too_large())?;
    Ok((parts.headers, bytes))
}

fn is_json(headers: &HeaderMap) -> bool {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default();
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

fn decode<T: DeserializeOwned>(headers: &HeaderMap, bytes: &[u8]) -> Result<T, ApiError> {
    if !is_json(headers) {
        return Err(ApiError {
            field: Some("Content-Type".into()),
            ..ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "the body must be JSON, sent with Content-Type: application/json",
            )
        });
    }
    serde_text::json(bytes).map_err(body_problem)
}

/// A body that is not JSON is a bad request (400); JSON of the wrong shape
/// is unprocessable (422), like a value the rules refuse.
fn body_problem(fault: Fault) -> ApiError {
    let field = fault.field.unwrap_or_else(|| "body".into());
    if fault.syntax {
        ApiError {
            field: Some(field.into()),
            ..ApiError::bad_request(fault.detail)
        }
    } else {
        ApiError::invalid_named(field, fault.detail)
    }
}

/// The query string's parameters. An unknown parameter is refused (a
/// misspelt filter must not silently widen a search), as is a value of
/// the wrong form (400, with `field`).
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned> FromRequestParts<AppState> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let raw = parts.uri.query().unwrap_or_default();
        serde_text::query(raw.as_bytes())
            .map(ApiQuery)
            .map_err(|f| ApiError {
                field: Some(f.field.unwrap_or_else(|| "query".into()).into()),
                ..ApiError::bad_request(f.detail)
            })
    }
}

/// The page and page size of a list (defaults 1 and 50), within the
/// bounds every paged operation declares; a value outside them is a 422
/// naming the parameter.
pub fn paging(page: Option<i64>, per_page: Option<i64>) -> Result<(i64, i64), ApiError> {
    use crate::service::admin::{MAX_PAGE, MAX_PER_PAGE};
    let per_page = per_page.unwrap_or(50);
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(ApiError::invalid("per_page", "must be between 1 and 200"));
    }
    let page = page.unwrap_or(1);
    if !(1..=MAX_PAGE).contains(&page) {
        return Err(ApiError::invalid("page", "must be between 1 and 1000000"));
    }
    Ok((page, per_page))
}

/// A path id: an account id is a UUID, anything else is a bad request
/// naming the `id` parameter.
pub fn parse_id(raw: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(raw).map_err(|_| ApiError {
        field: Some("id".into()),
        ..ApiError::bad_request(
            "`id` must be an account id: a UUID such as 0190d2f4-5b7c-7e8a-9c4d-2f1e3a5b6c7d",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_media_types() {
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, header::HeaderValue::from_static(v));
            is_json(&h)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(with("application/merge-patch+json"));
        assert!(!with("text/plain"));
        assert!(!with("application/x-www-form-urlencoded"));
        assert!(!with("text/x+json"));
        assert!(!is_json(&HeaderMap::new()));
    }
}
