//! What the OpenAPI document says about every operation beyond its own
//! `#[utoipa::path]`: the error answers each one can give, all of them
//! `application/problem+json` (RFC 9457) with the [`Problem`] schema, the
//! bearer token, and which request bodies may be left out.
//!
//! The answers follow from what an operation takes: every one needs the
//! token (401, 403), may find the database or Redis down (503) and may be
//! sent text that cannot be stored (422, from `crate::input::api_guard`);
//! one with parameters or a body may get them malformed (400); one with an
//! `{id}` may find nothing (404); one with a body may get one too large
//! (413), not JSON (415) or breaking a field rule (422). What only some
//! operations can answer (409, 429) is declared with them.

use utoipa::Modify;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Required, Response};

/// The media type of every error answer.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Operations whose body may be left out entirely (`OptionalJson`).
const OPTIONAL_BODIES: [&str; 4] = [
    "users_disable",
    "users_enable",
    "users_reset_password",
    "keys_rotate",
];

pub struct ApiAnswers;

fn describe(status: &str) -> &'static str {
    match status {
        "400" => {
            "The request is malformed: a body that is not JSON, a query or path parameter of the wrong form, an unknown parameter. `field` names it."
        }
        "401" => "No access token, or one that is invalid, expired or revoked.",
        "403" => {
            "The token does not carry the rights the operation needs: a service account's token with the `admin` scope; for the account operations organization administrators may do (search, read, reset a password, require a phone binding, list blocked accounts, lift weak-password blocks), also an organization administrator's own token with the `org_admin` scope."
        }
        "404" => "There is no such record (or no such endpoint).",
        "409" => {
            "The change conflicts with the current state: a value already in use, a stale `version`, or the last administrator. `field` names the member."
        }
        "413" => "The body is larger than 256 KiB.",
        "410" => "The record existed but is gone for good.",
        "415" => "The body is not sent as JSON (`Content-Type: application/json`).",
        "422" => {
            "A value breaks a rule: wrong JSON type, missing or unknown member, value out of range, text that cannot be stored. `field` names it."
        }
        "429" => "The server is busy checking passwords; retry after `Retry-After` seconds.",
        "503" => "The database or Redis is unreachable; retry after `Retry-After` seconds.",
        _ => "An error.",
    }
}

fn problem() -> RefOr<Content> {
    RefOr::T(Content::new(Some(Ref::from_schema_name("Problem"))))
}

fn complete(path: &str, op: &mut Operation) {
    let has_params = op.parameters.iter().flatten().any(|p| match p {
        RefOr::T(p) => matches!(p.parameter_in, ParameterIn::Query | ParameterIn::Path),
        RefOr::Ref(_) => false,
    });
    let has_body = op.request_body.is_some();
    let has_id = path.contains("{id}");
    let mut statuses = vec!["401", "403", "422", "503"];
    if has_params || has_body || has_id {
        statuses.push("400");
    }
    if has_id {
        statuses.push("404");
    }
    if has_body {
        statuses.extend(["413", "415"]);
    }
    let responses = &mut op.responses.responses;
    for status in statuses {
        responses
            .entry(status.to_string())
            .or_insert_with(|| RefOr::T(Response::new(describe(status))));
    }
    for (status, response) in responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        if status.starts_with(['4', '5']) {
            response.content.clear();
            response.content.insert(PROBLEM_JSON.to_string(), problem());
            if response.description.is_empty() {
                response.description = describe(status).to_string();
            }
        }
    }
    if op
        .operation_id
        .as_deref()
        .is_some_and(|id| OPTIONAL_BODIES.contains(&id))
        && let Some(RefOr::T(body)) = &mut op.request_body
    {
        body.required = Some(Required::False);
        body.description =
            Some("May be left out (no body at all); when sent, it must be JSON.".into());
    }
}

impl Modify for ApiAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        for (path, item) in openapi.paths.paths.iter_mut() {
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                complete(path, op);
            }
        }
    }
}
