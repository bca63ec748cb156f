//! Protocol parameters. RFC 6749 §3.1: parameters must not be included more
//! than once, and a parameter sent without a value is treated as omitted.
//! We also cap sizes so a request cannot make us hold megabytes.

use std::collections::HashMap;

pub const MAX_VALUE_LEN: usize = 4096;
const MAX_PARAMS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("parameter {0} is included more than once")]
    Duplicate(String),
    #[error("parameter {0} is too long")]
    TooLong(String),
    #[error("too many parameters")]
    TooMany,
    /// PostgreSQL cannot store NUL, and decoded bytes must be UTF-8
    /// (see [`crate::input`]).
    #[error("parameter {0} contains a NUL character or bytes that are not UTF-8")]
    BadText(String),
}

/// Debug shows parameter names only: values include secrets, codes and tokens.
/// The fields: the first value of each parameter, the names holding text
/// we cannot store, and the repeated pairs (in the order they came).
#[derive(Clone, Default)]
pub struct Params(HashMap<String, String>, Vec<String>, Vec<(String, String)>);

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.0.keys().collect();
        names.sort();
        f.debug_tuple("Params").field(&names).finish()
    }
}

impl Params {
    /// The parameters, refusing any that holds text we cannot store or is
    /// repeated.
    pub fn parse(raw: &[u8]) -> Result<Params, ParamError> {
        let params = Params::parse_lenient(raw)?;
        if let Some((name, _)) = params.2.first() {
            return Err(ParamError::Duplicate(name.clone()));
        }
        match params.1.first() {
            Some(name) => Err(ParamError::BadText(name.clone())),
            None => Ok(params),
        }
    }

    /// The parameters, noting (in [`Params::bad_text`] and
    /// [`Params::repeated`]) rather than refusing those that hold text we
    /// cannot store or come more than once: `/authorize` must verify the
    /// client and its redirect URI before it may say so by a redirect.
    pub fn parse_lenient(raw: &[u8]) -> Result<Params, ParamError> {
        let bad = crate::input::form_faults(raw);
        let mut map = HashMap::new();
        let mut repeated = Vec::new();
        for (k, v) in url::form_urlencoded::parse(raw) {
            if map.len() + repeated.len() >= MAX_PARAMS {
                return Err(ParamError::TooMany);
            }
            if v.len() > MAX_VALUE_LEN || k.len() > 128 {
                return Err(ParamError::TooLong(k.chars().take(64).collect()));
            }
            if map.contains_key(k.as_ref()) {
                repeated.push((k.into_owned(), v.into_owned()));
                continue;
            }
            if !v.is_empty() {
                map.insert(k.into_owned(), v.into_owned());
            } else {
                // Remember the name so a later duplicate is still caught.
                map.insert(k.into_owned(), String::new());
            }
        }
        Ok(Params(map, bad, repeated))
    }

    /// The names of the parameters included more than once (RFC 6749 §3.1),
    /// each once.
    pub fn repeated(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.2.iter().map(|(k, _)| k.as_str()).collect();
        names.dedup();
        names
    }

    /// The parameters holding a NUL character or bytes that are not UTF-8.
    pub fn bad_text(&self) -> &[String] {
        &self.1
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// URL-encoded form of these parameters, leaving out `skip`. Repeated
    /// parameters stay repeated, so the request keeps its fault.
    pub fn encode_without(&self, skip: &[&str]) -> String {
        let mut pairs: Vec<(&String, &String)> = self
            .0
            .iter()
            .chain(self.2.iter().map(|(k, v)| (k, v)))
            .filter(|(k, v)| !v.is_empty() && !skip.contains(&k.as_str()))
            .collect();
        pairs.sort();
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_empties_and_sizes() {
        let p = Params::parse(b"a=1&b=&c=x%20y").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None);
        assert_eq!(p.get("c"), Some("x y"));
        assert_eq!(
            Params::parse(b"a=1&a=2").unwrap_err(),
            ParamError::Duplicate("a".into())
        );
        assert_eq!(
            Params::parse(b"a=&a=2").unwrap_err(),
            ParamError::Duplicate("a".into())
        );
        let long = format!("a={}", "x".repeat(MAX_VALUE_LEN + 1));
        assert!(matches!(
            Params::parse(long.as_bytes()),
            Err(ParamError::TooLong(_))
        ));
        assert_eq!(p.encode_without(&["a"]), "c=x+y");
        let lenient = Params::parse_lenient(b"a=1&b=2&a=3&a=4").unwrap();
        assert_eq!(lenient.get("a"), Some("1"));
        assert_eq!(lenient.repeated(), ["a"]);
        assert_eq!(lenient.encode_without(&["b"]), "a=1&a=3&a=4");
    }
}
