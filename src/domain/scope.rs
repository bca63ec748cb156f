use std::fmt;

use super::InvalidValue;

/// Every scope Tongxing knows.
pub const KNOWN_SCOPES: &[&str] = &[
    "openid",
    "profile",
    "email",
    "phone",
    // The postal address (OIDC Core §5.4); not among the defaults: a
    // client that needs it is registered with it.
    "address",
    "offline_access",
    "admin",
    // The review operations of the management API, for a reviewer's own
    // token (authorization code; the role is checked at every call).
    "review",
    // The account operations of the management API an organization
    // administrator may do, for its own token (authorization code; the
    // role and its organizations are read at every call).
    "org_admin",
];

/// An OAuth 2.0 scope: space-separated tokens of `%x21 / %x23-5B / %x5D-7E`
/// (RFC 6749 §3.3), kept in first-seen order without duplicates.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scope(Vec<String>);

impl Scope {
    pub fn parse(input: &str) -> Result<Scope, InvalidValue> {
        let mut out: Vec<String> = Vec::new();
        for token in input.split(' ').filter(|t| !t.is_empty()) {
            if token.len() > 64
                || !token
                    .bytes()
                    .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
            {
                return Err(InvalidValue::new(
                    "scope",
                    "contains a character RFC 6749 §3.3 does not allow",
                ));
            }
            if !out.iter().any(|t| t == token) {
                out.push(token.to_string());
            }
        }
        if out.len() > 32 {
            return Err(InvalidValue::new("scope", "has too many values"));
        }
        Ok(Scope(out))
    }

    pub fn contains(&self, s: &str) -> bool {
        self.0.iter().any(|t| t == s)
    }

    pub fn is_subset_of(&self, allowed: &[String]) -> bool {
        self.0.iter().all(|t| allowed.contains(t))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dedups_and_checks_characters() {
        let s = Scope::parse("openid  profile openid").unwrap();
        assert_eq!(s.to_string(), "openid profile");
        assert!(s.is_subset_of(&["openid".into(), "profile".into(), "email".into()]));
        assert!(Scope::parse("open\"id").is_err());
        assert!(Scope::parse("a\\b").is_err());
    }
}
