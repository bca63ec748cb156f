//! Text the database cannot store is refused where a request arrives,
//! naming the field, before any handler, service or store sees it.
//!
//! PostgreSQL's `text` holds UTF-8 without the NUL character (its docs,
//! "Character Types": "the character with code zero cannot be stored"),
//! and its `jsonb` refuses `\u0000` too. A Rust `String` holds NUL, so a
//! `%00` in a form or query (or `\u0000` in JSON) used to reach a query
//! and come back as a 500 — on PostgreSQL only, as SQLite stores it.
//! Percent-decoded bytes that are not UTF-8 are refused the same way
//! rather than silently replaced by U+FFFD (which is what
//! `form_urlencoded` does): an identifier or password the person did not
//! type is never what they meant. A lone surrogate (`"\ud800"`) cannot
//! reach us: serde_json refuses it while parsing (a syntax error, 400).
//!
//! One check, three surfaces, each answering in its own terms: hosted
//! pages an error page ([`pages_guard`]), the management API a problem
//! document ([`api_guard`]), the protocol endpoints `invalid_request`
//! (through [`crate::oidc::params::Params`]).

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, PageError};
use crate::routes;

/// Largest body inspected; the router's body limit is the same.
const BODY_LIMIT: usize = 256 * 1024;

/// A field name fit to show back: at most 64 characters, with any NUL or
/// undecodable byte shown as U+FFFD.
fn shown(name: &[u8]) -> String {
    String::from_utf8_lossy(name)
        .chars()
        .map(|c| if c == '\0' { '\u{FFFD}' } else { c })
        .take(64)
        .collect()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// application/x-www-form-urlencoded decoding of one name or value
/// (WHATWG URL §5.1): `+` is a space, `%XX` a byte, a stray `%` itself.
pub fn form_decode(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let pair = raw
                    .get(i + 1)
                    .copied()
                    .and_then(hex)
                    .and_then(|h| raw.get(i + 2).copied().and_then(hex).map(|l| (h << 4) | l));
                if let Some(byte) = pair {
                    out.push(byte);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// Decoded text the database can store: UTF-8 without NUL.
pub fn storable(decoded: &[u8]) -> bool {
    !decoded.contains(&0) && std::str::from_utf8(decoded).is_ok()
}

/// The first field of a URL-encoded form or query whose name or value,
/// once decoded, is not storable text.
pub fn form_fault(raw: &[u8]) -> Option<String> {
    form_faults(raw).into_iter().next()
}

/// Every such field, in order.
pub fn form_faults(raw: &[u8]) -> Vec<String> {
    raw.split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            let (name, value) = match pair.iter().position(|b| *b == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &pair[..0]),
            };
            let name = form_decode(name);
            (!storable(&name) || !storable(&form_decode(value))).then(|| shown(&name))
        })
        .collect()
}

/// The top-level member of a JSON document holding, at any depth, a
/// string (or member name) with NUL. A document that does not parse is
/// left to the extractor, which says what is wrong with it.
pub fn json_fault(raw: &[u8]) -> Option<String> {
    fn has_nul(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::String(s) => s.contains('\0'),
            serde_json::Value::Array(items) => items.iter().any(has_nul),
            serde_json::Value::Object(members) => {
                members.iter().any(|(k, v)| k.contains('\0') || has_nul(v))
            }
            _ => false,
        }
    }
    match serde_json::from_slice::<serde_json::Value>(raw).ok()? {
        serde_json::Value::Object(members) => members
            .iter()
            .find(|(k, v)| k.contains('\0') || has_nul(v))
            .map(|(k, _)| shown(k.as_bytes())),
        other => has_nul(&other).then(|| "body".to_string()),
    }
}

fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// What is wrong with a request, if anything: its path, query, or a form
/// or JSON body. Gives the request back (with its body read) to go on.
async fn inspect(req: Request) -> Result<Result<Request, String>, Response> {
    if !storable(&form_decode(req.uri().path().as_bytes())) {
        return Ok(Err("path".into()));
    }
    if let Some(field) = req.uri().query().and_then(|q| form_fault(q.as_bytes())) {
        return Ok(Err(field));
    }
    let media = media_type(req.headers());
    let is_form = media == "application/x-www-form-urlencoded";
    let is_json = media == "application/json" || media.ends_with("+json");
    if !is_form && !is_json {
        return Ok(Ok(req));
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, BODY_LIMIT)
        .await
        .map_err(|_| StatusCode::PAYLOAD_TOO_LARGE.into_response())?;
    let fault = if is_form {
        form_fault(&bytes)
    } else {
        json_fault(&bytes)
    };
    Ok(match fault {
        Some(field) => Err(field),
        None => Ok(Request::from_parts(parts, Body::from(bytes))),
    })
}

/// Middleware of the hosted pages: an error page naming the field.
/// `/authorize` and `/logout` are left to [`crate::oidc::params::Params`],
/// which answers in the protocol's terms (and, at `/authorize`, redirects
/// once the client and its redirect URI are verified).
pub async fn pages_guard(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path == routes::AUTHORIZE || path == routes::LOGOUT {
        return next.run(req).await;
    }
    match inspect(req).await {
        Ok(Ok(req)) => next.run(req).await,
        Ok(Err(field)) => PageError::InvalidField(field).into_response(),
        Err(response) => response,
    }
}

/// Middleware of the management API: a problem document with `field`.
pub async fn api_guard(req: Request, next: Next) -> Response {
    match inspect(req).await {
        Ok(Ok(req)) => next.run(req).await,
        Ok(Err(field)) => ApiError::invalid_named(
            field.clone(),
            format!("{field} contains a NUL character or bytes that are not UTF-8"),
        )
        .into_response(),
        // The only refusal `inspect` makes itself: a body over the limit.
        Err(_) => ApiError::too_large().into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_name_the_field_with_unstorable_text() {
        assert_eq!(form_fault(b"a=1&b=x%00y"), Some("b".into()));
        assert_eq!(form_fault(b"a=%FF"), Some("a".into()));
        assert_eq!(form_fault(b"a%00b=1"), Some("a\u{FFFD}b".into()));
        assert_eq!(form_fault(b"a=%E4%B8%AD+%&b=100%25&c"), None);
        assert_eq!(form_decode(b"a+%41%2"), b"a A%2");
    }

    #[test]
    fn json_names_the_top_level_member() {
        assert_eq!(
            json_fault(br#"{"ok":"x","name":["a","b\u0000"]}"#),
            Some("name".into())
        );
        assert_eq!(json_fault(br#"{"ok":"\u4e2d"}"#), None);
        // A lone surrogate never parses: the extractor's syntax error.
        assert!(serde_json::from_slice::<serde_json::Value>(br#"{"a":"\ud800"}"#).is_err());
        assert_eq!(json_fault(br#"{"a":"\ud800"}"#), None);
    }
}
