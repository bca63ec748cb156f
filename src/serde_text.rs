//! serde's errors retold in the terms of the request that caused them.
//!
//! serde describes what it expected in terms of the Rust target
//! (`expected struct CreateUser`, `expected i64`, `untagged enum …`),
//! which means nothing to the caller and tells them about our insides.
//! Here a failed decoding becomes a [`Fault`]: the member at fault as the
//! caller spelt it (`redirect_uris[1]`, or the parameter's name) and a
//! sentence in JSON's (or the query string's) own terms. Anything whose
//! wording we do not recognise is replaced by a plain sentence rather than
//! passed on.

use serde::de::DeserializeOwned;
use serde_path_to_error::{Path, Segment};

/// What was wrong with a document or query string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The member at fault (`admin`, `keys[0].kty`); `None` for the whole
    /// document.
    pub field: Option<String>,
    /// A sentence naming the member and what it must be.
    pub detail: String,
    /// The text is not JSON at all (as opposed to JSON of the wrong shape).
    pub syntax: bool,
}

/// Decodes a JSON body, the whole of it (nothing may follow).
pub fn json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Fault> {
    json_in(bytes, None)
}

/// Decodes a JSON document that is itself the member `root` of a request
/// (a JWK set given as `jwks`): faults are named under it.
pub fn json_in<T: DeserializeOwned>(bytes: &[u8], root: Option<&str>) -> Result<T, Fault> {
    let under = |path: Option<String>| match (root, path) {
        (Some(r), Some(p)) if p.starts_with('[') => Some(format!("{r}{p}")),
        (Some(r), Some(p)) => Some(format!("{r}.{p}")),
        (Some(r), None) => Some(r.to_string()),
        (None, p) => p,
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let syntax = e.inner().is_syntax() || e.inner().is_eof();
        let message = e.inner().to_string();
        from_json(under(dotted(e.path())), &message, syntax)
    })?;
    de.end()
        .map_err(|e| from_json(under(None), &e.to_string(), true))?;
    Ok(value)
}

/// Decodes a URL query string (or form body) into named parameters.
pub fn query<T: DeserializeOwned>(raw: &[u8]) -> Result<T, Fault> {
    let de = serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(raw));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = dotted(e.path());
        let message = e.inner().to_string();
        let (field, sentence) = retell(field, &message, Terms::Query);
        Fault {
            detail: sentence,
            field,
            syntax: false,
        }
    })
}

fn from_json(field: Option<String>, message: &str, syntax: bool) -> Fault {
    // serde_json ends every message with the position; keep it for syntax
    // errors (it helps to find a missing comma), drop it otherwise.
    let (text, position) = match message.rsplit_once(" at line ") {
        Some((text, pos)) => (text, Some(pos)),
        None => (message, None),
    };
    if syntax {
        let position = position
            .map(|p| format!(" (line {})", p.replace(" column ", ", column ")))
            .unwrap_or_default();
        let detail = format!("the body is not valid JSON: {}{position}", plain(text));
        return Fault {
            field,
            detail,
            syntax: true,
        };
    }
    let (field, detail) = retell(field, text, Terms::Json);
    Fault {
        field,
        detail,
        syntax: false,
    }
}

/// `a.b[2].c`, or `None` for the document itself.
fn dotted(path: &Path) -> Option<String> {
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Map { key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    (!out.is_empty()).then_some(out)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Terms {
    Json,
    Query,
}

/// The member's name followed by a member of it (`missing field` names
/// one inside the object at `field`); an unknown member's own name may
/// already end the path.
fn join(field: &Option<String>, member: &str) -> String {
    match field {
        Some(f) if f == member || f.ends_with(&format!(".{member}")) => f.clone(),
        Some(f) => format!("{f}.{member}"),
        None => member.to_string(),
    }
}

/// The text between the first pair of backticks.
fn ticked(text: &str) -> Option<&str> {
    let rest = text.split_once('`')?.1;
    Some(rest.split_once('`')?.0)
}

/// serde's lists (`` `a` ``, `` `a` or `b` ``, `` one of `a`, `b`, `c` ``)
/// → a, b, c (the names a caller may use).
fn names(list: &str) -> String {
    list.split('`')
        .skip(1)
        .step_by(2)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether serde's wording names something of ours rather than JSON's.
fn leaks(text: &str) -> bool {
    [
        "::",
        "struct",
        "enum",
        "variant identifier",
        "field identifier",
        "tuple",
        "newtype",
    ]
    .iter()
    .any(|w| text.contains(w))
}

fn plain(text: &str) -> String {
    if leaks(text) {
        "it does not have the documented shape".into()
    } else {
        text.to_string()
    }
}

/// What serde expected, in JSON's (or the query string's) terms.
fn expected(exp: &str) -> Option<&'static str> {
    let integer = [
        "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64", "u128", "usize",
    ];
    Some(match exp {
        e if integer.contains(&e) => "a whole number",
        "f32" | "f64" => "a number",
        "a boolean" => "true or false",
        "a string" | "a borrowed string" | "a character" => "a string",
        "a sequence" => "an array",
        "a map" => "an object",
        "unit" => "null",
        e if e.starts_with("struct ") || e.starts_with("a map") => "an object",
        e if e.starts_with("tuple") || e.starts_with("a sequence") => "an array",
        _ => return None,
    })
}

/// What the caller sent instead, from serde's `Unexpected` wording.
fn given(unexp: &str) -> &'static str {
    match unexp.split([' ', '`']).next().unwrap_or_default() {
        "boolean" => "true or false",
        "integer" => "a whole number",
        "floating" => "a number with a fraction",
        "string" | "char" => "a string",
        "null" | "unit" => "null",
        "sequence" => "an array",
        "map" => "an object",
        _ => "a value of another kind",
    }
}

/// serde's message at `field`, retold: the field at fault (which may be a
/// member of `field` for missing or unknown members) and a sentence.
fn retell(field: Option<String>, message: &str, terms: Terms) -> (Option<String>, String) {
    let what = |f: &Option<String>| match (f, terms) {
        (Some(f), _) => format!("`{f}`"),
        (None, Terms::Json) => "the body".to_string(),
        (None, Terms::Query) => "the query string".to_string(),
    };
    if let Some(rest) = message.strip_prefix("missing field ") {
        let member = join(&field, ticked(rest).unwrap_or(rest));
        let detail = format!("`{member}` is required");
        return (Some(member), detail);
    }
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let member = join(&field, ticked(rest).unwrap_or(rest));
        let known = rest
            .split_once("expected ")
            .map(|(_, l)| names(l))
            .filter(|l| !l.is_empty() && !leaks(l));
        let noun = match terms {
            Terms::Json => "member",
            Terms::Query => "parameter",
        };
        let detail = match known {
            Some(k) => format!("`{member}` is not a known {noun}; known are: {k}"),
            None => format!("`{member}` is not a known {noun}; there are none here"),
        };
        return (Some(member), detail);
    }
    if let Some(rest) = message.strip_prefix("duplicate field ") {
        let member = join(&field, ticked(rest).unwrap_or(rest));
        let detail = format!("`{member}` is given more than once");
        return (Some(member), detail);
    }
    let subject = what(&field);
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let allowed = rest
            .split_once("expected ")
            .map(|(_, l)| names(l))
            .filter(|l| !l.is_empty());
        let detail = match allowed {
            Some(list) => format!("{subject} must be one of {list}"),
            None => format!("{subject} has no acceptable value"),
        };
        return (field, detail);
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        let (unexp, exp) = rest.split_once(", expected ").unwrap_or((rest, ""));
        let detail = match expected(exp) {
            Some(e) => format!("{subject} must be {e}, not {}", given(unexp)),
            None => format!("{subject} cannot be {}", given(unexp)),
        };
        return (field, detail);
    }
    if let Some(rest) = message.strip_prefix("invalid value: ") {
        let (unexp, exp) = rest.split_once(", expected ").unwrap_or((rest, ""));
        let detail = match expected(exp) {
            Some("a whole number") if unexp.starts_with("integer") => {
                format!("{subject} is out of range")
            }
            Some(e) => format!("{subject} must be {e}"),
            None if !leaks(exp) && !exp.is_empty() => format!("{subject} must be {exp}"),
            None => format!("{subject} has a value that is not allowed"),
        };
        return (field, detail);
    }
    if let Some(rest) = message.strip_prefix("invalid length ") {
        // serde's derived objects also take arrays, member by member; an
        // array there is a mistake for an object, not a short list.
        let detail = match rest.split_once(", expected ") {
            Some((_, exp)) if exp.starts_with("struct ") => {
                format!("{subject} must be an object, not an array")
            }
            _ => format!("{subject} has the wrong number of items"),
        };
        return (field, detail);
    }
    // What `FromStr` says about query parameters (numbers, booleans).
    let detail = match message {
        "invalid digit found in string" | "cannot parse integer from empty string" => {
            format!("{subject} must be a whole number")
        }
        "number too large to fit in target type" | "number too small to fit in target type" => {
            format!("{subject} is out of range")
        }
        "invalid float literal" => format!("{subject} must be a number"),
        "provided string was not `true` or `false`" => format!("{subject} must be true or false"),
        m if leaks(m) => format!("{subject} does not have the documented form"),
        m => format!("{subject} is not valid: {m}"),
    };
    (field, detail)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        version: i64,
        admin: Option<bool>,
        #[serde(default)]
        uris: Vec<String>,
        alg: Option<Alg>,
        inner: Option<Inner>,
        extra: Option<BTreeMap<String, String>>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        name: String,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    enum Alg {
        RS256,
        ES256,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Query {
        page: Option<i64>,
        q: Option<String>,
    }

    fn fault(body: &str) -> Fault {
        match json::<Body>(body.as_bytes()) {
            Ok(b) => panic!("{body} decoded: {b:?}"),
            Err(f) => f,
        }
    }

    fn clean(f: &Fault) {
        for word in [
            "struct", "enum", "::", "Body", "Inner", "Alg ", "i64", "Option",
        ] {
            assert!(!f.detail.contains(word), "{word} in {f:?}");
        }
    }

    #[test]
    fn json_faults_name_the_member_in_json_terms() {
        // Positive control: a good document decodes.
        assert!(json::<Body>(br#"{"version":1,"alg":"ES256","inner":{"name":"x"}}"#).is_ok());
        let cases = [
            (
                r#"{"version":1,"admin":"yes"}"#,
                "admin",
                "`admin` must be true or false, not a string",
            ),
            (
                r#"{"version":"1"}"#,
                "version",
                "`version` must be a whole number, not a string",
            ),
            (
                r#"{"version":1.5}"#,
                "version",
                "`version` must be a whole number, not a number with a fraction",
            ),
            (
                r#"{"version":99999999999999999999}"#,
                "version",
                "`version` must be a whole number, not a number with a fraction",
            ),
            (r#"{"admin":true}"#, "version", "`version` is required"),
            (
                r#"{"version":1,"nonsense":1}"#,
                "nonsense",
                "`nonsense` is not a known member; known are: version, admin, uris, alg, inner, extra",
            ),
            (
                r#"{"version":1,"uris":["a",2]}"#,
                "uris[1]",
                "`uris[1]` must be a string, not a whole number",
            ),
            (
                r#"{"version":1,"alg":"HS256"}"#,
                "alg",
                "`alg` must be one of RS256, ES256",
            ),
            (
                r#"{"version":1,"inner":{}}"#,
                "inner.name",
                "`inner.name` is required",
            ),
            (
                r#"{"version":1,"inner":[]}"#,
                "inner",
                "`inner` must be an object, not an array",
            ),
            (
                r#"{"version":1,"version":2}"#,
                "version",
                "`version` is given more than once",
            ),
        ];
        for (body, field, detail) in cases {
            let f = fault(body);
            assert_eq!(
                (f.field.as_deref(), f.detail.as_str(), f.syntax),
                (Some(field), detail, false),
                "{body}"
            );
            clean(&f);
        }
        let f = fault("[]");
        assert_eq!(
            (f.field, f.detail.as_str()),
            (None, "the body must be an object, not an array")
        );
        let f = fault("null");
        assert_eq!(f.detail, "the body must be an object, not null");
    }

    #[test]
    fn syntax_faults_say_where() {
        let f = fault(r#"{"version":1,"admin":tru}"#);
        assert!(f.syntax);
        assert_eq!(f.field.as_deref(), Some("admin"));
        assert!(
            f.detail.starts_with("the body is not valid JSON: "),
            "{f:?}"
        );
        assert!(f.detail.contains("line 1, column"), "{f:?}");
        assert_eq!(
            fault(r#"{"version":1"#).detail,
            "the body is not valid JSON: EOF while parsing an object (line 1, column 12)"
        );
        let f = fault(r#"{"version":1} x"#);
        assert!(f.syntax && f.field.is_none(), "{f:?}");
        assert!(fault("").syntax);
    }

    #[test]
    fn query_faults_name_the_parameter() {
        assert!(query::<Query>(b"page=2&q=x").is_ok());
        let f = query::<Query>(b"page=abc").unwrap_err();
        assert_eq!(
            (f.field.as_deref(), f.detail.as_str()),
            (Some("page"), "`page` must be a whole number")
        );
        let f = query::<Query>(b"page=99999999999999999999").unwrap_err();
        assert_eq!(f.detail, "`page` is out of range");
        let f = query::<Query>(b"pgae=1").unwrap_err();
        assert_eq!(
            (f.field.as_deref(), f.detail.as_str()),
            (
                Some("pgae"),
                "`pgae` is not a known parameter; known are: page, q"
            )
        );
        clean(&f);
    }

    #[test]
    fn unrecognised_wording_is_not_passed_on() {
        let (_, d) = retell(
            Some("x".into()),
            "data did not match any variant of untagged enum Foo",
            Terms::Json,
        );
        assert_eq!(d, "`x` does not have the documented form");
        let (_, d) = retell(None, "invalid type: map, expected a::B", Terms::Json);
        assert_eq!(d, "the body cannot be an object");
        // Control: a custom message in plain words is kept.
        let (_, d) = retell(
            Some("since".into()),
            "the year is out of range",
            Terms::Query,
        );
        assert_eq!(d, "`since` is not valid: the year is out of range");
    }
}
