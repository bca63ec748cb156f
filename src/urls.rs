//! Local URLs of the hosted pages: built with an encoded query, and
//! checked before the browser is sent to one that came from outside.

use crate::routes;

/// `path` with a query of `pairs`, encoded (`path` is one of ours).
pub fn local_url(path: &str, pairs: &[(&str, &str)]) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("{path}?{query}")
}

/// The guided binding of a login phone, coming back to `return_to`.
pub fn phone_binding(return_to: &str) -> String {
    local_url(routes::ACCOUNT_PHONE_BIND, &[("return_to", return_to)])
}

/// A local path to go back to after a form, or the account page. Only
/// same-site absolute paths are accepted (no `//host`, no `/\host`).
pub fn safe_return_to(candidate: Option<&str>) -> String {
    match candidate {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.starts_with("/\\")
                && !p.chars().any(|c| c.is_control() || c == '\\')
                && p.len() <= 2048 =>
        {
            p.to_string()
        }
        _ => routes::ACCOUNT.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_stays_on_site() {
        assert_eq!(safe_return_to(Some("/authorize?x=1")), "/authorize?x=1");
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "javascript:alert(1)",
        ] {
            assert_eq!(safe_return_to(Some(bad)), "/account", "{bad}");
        }
    }

    #[test]
    fn local_urls_encode_their_query() {
        assert_eq!(
            local_url("/login", &[("return_to", "/authorize?a=1&b=2")]),
            "/login?return_to=%2Fauthorize%3Fa%3D1%26b%3D2"
        );
    }
}
