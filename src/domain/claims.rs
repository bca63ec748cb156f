//! The `claims` request parameter (OIDC Core §5.5): which claims the
//! relying party wants in the ID token and at userinfo, each voluntary or
//! essential, optionally with the `value` or `values` it wants (used for
//! `acr`, §5.5.1.1).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::InvalidValue;

/// The claims about the account Tongxing releases, each with the scope that
/// releases it as a group (OIDC Core §5.4). A claim may also be asked for
/// by name through the `claims` parameter; it is then released when the
/// client may ask for its scope, and consent covers that scope.
pub const USER_CLAIMS: &[(&str, &str)] = &[
    ("name", "profile"),
    ("preferred_username", "profile"),
    ("locale", "profile"),
    ("updated_at", "profile"),
    ("organization", "profile"),
    ("email", "email"),
    ("email_verified", "email"),
    ("phone_number", "phone"),
    ("phone_number_verified", "phone"),
    ("address", "address"),
];

/// The scope whose grant releases `claim`, for a claim about the account.
pub fn scope_of_claim(claim: &str) -> Option<&'static str> {
    USER_CLAIMS
        .iter()
        .find(|(c, _)| *c == claim)
        .map(|(_, s)| *s)
}

/// One requested claim: `null` in the request (voluntary, any value), or
/// an object with `essential`, `value`, `values`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClaimAsk {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub essential: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// A parsed `claims` parameter. Members other than `id_token` and
/// `userinfo` are ignored (§5.5: "other members MAY be present … and are
/// ignored if not understood"); so are claims we do not know.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClaimsRequest {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_token: Vec<(String, ClaimAsk)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub userinfo: Vec<(String, ClaimAsk)>,
}

const MAX_CLAIMS: usize = 64;

fn bad(reason: &'static str) -> InvalidValue {
    InvalidValue::new("claims", reason)
}

fn member(value: Option<&Value>) -> Result<Vec<(String, ClaimAsk)>, InvalidValue> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let Value::Object(map) = value else {
        return Err(bad("id_token and userinfo must be JSON objects"));
    };
    if map.len() > MAX_CLAIMS {
        return Err(bad("asks for too many claims"));
    }
    let mut out = Vec::new();
    for (name, ask) in map {
        let ask = match ask {
            Value::Null => ClaimAsk::default(),
            Value::Object(o) => ask_of(o)?,
            _ => return Err(bad("each claim must be null or a JSON object")),
        };
        out.push((name.clone(), ask));
    }
    Ok(out)
}

fn ask_of(o: &Map<String, Value>) -> Result<ClaimAsk, InvalidValue> {
    let essential = match o.get("essential") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad("essential must be true or false")),
    };
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        _ => None,
    };
    let mut values = Vec::new();
    if let Some(v) = o.get("value") {
        values.push(text(v).ok_or_else(|| bad("value must be a string"))?);
    }
    if let Some(v) = o.get("values") {
        let Value::Array(items) = v else {
            return Err(bad("values must be an array of strings"));
        };
        for item in items.iter().take(MAX_CLAIMS) {
            values.push(text(item).ok_or_else(|| bad("values must be an array of strings"))?);
        }
    }
    Ok(ClaimAsk { essential, values })
}

impl ClaimsRequest {
    /// Parses the parameter's JSON text.
    pub fn parse(input: &str) -> Result<ClaimsRequest, InvalidValue> {
        let value: Value = serde_json::from_str(input).map_err(|_| bad("is not a JSON object"))?;
        let Value::Object(map) = value else {
            return Err(bad("is not a JSON object"));
        };
        Ok(ClaimsRequest {
            id_token: member(map.get("id_token"))?,
            userinfo: member(map.get("userinfo"))?,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.id_token.is_empty() && self.userinfo.is_empty()
    }

    /// Keeps only the claims about the account whose scope `allowed`
    /// says the client may ask for, and the `acr` of the ID token; every
    /// other claim is dropped (it is released by scope or not at all).
    pub fn retain_allowed(&mut self, allowed: &[String]) {
        let keep = |(name, _): &(String, ClaimAsk)| {
            scope_of_claim(name).is_some_and(|s| allowed.iter().any(|a| a == s))
        };
        self.id_token.retain(|c| c.0 == "acr" || keep(c));
        self.userinfo.retain(keep);
    }

    /// The scopes the requested claims about the account belong to: what
    /// consent must cover besides the `scope` parameter.
    pub fn scopes(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for (name, _) in self.id_token.iter().chain(&self.userinfo) {
            if let Some(s) = scope_of_claim(name)
                && !out.contains(&s)
            {
                out.push(s);
            }
        }
        out
    }

    /// The names asked for in the ID token.
    pub fn id_token_names(&self) -> Vec<String> {
        self.id_token.iter().map(|(n, _)| n.clone()).collect()
    }

    /// The names asked for at userinfo.
    pub fn userinfo_names(&self) -> Vec<String> {
        self.userinfo.iter().map(|(n, _)| n.clone()).collect()
    }

    /// The `acr` asked for in the ID token, if any.
    pub fn acr(&self) -> Option<&ClaimAsk> {
        self.id_token
            .iter()
            .find(|(n, _)| n == "acr")
            .map(|(_, a)| a)
    }

    /// The stored form (the code and the grant keep it).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads the stored form; `None` for a value that does not parse.
    pub fn from_json(text: &str) -> Option<ClaimsRequest> {
        serde_json::from_str(text).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_members_essentials_and_values() {
        let r = ClaimsRequest::parse(
            r#"{"id_token":{"acr":{"essential":true,"values":["a","b"]},"email":null},
                "userinfo":{"phone_number":{"essential":true},"nickname":null},"other":1}"#,
        )
        .unwrap();
        assert_eq!(
            r.acr(),
            Some(&ClaimAsk {
                essential: true,
                values: vec!["a".into(), "b".into()]
            })
        );
        assert_eq!(r.userinfo_names(), ["nickname", "phone_number"]);
        let mut allowed = r.clone();
        allowed.retain_allowed(&["openid".into(), "email".into()]);
        assert_eq!(allowed.id_token_names(), ["acr", "email"]);
        assert!(allowed.userinfo.is_empty());
        assert_eq!(allowed.scopes(), ["email"]);
        assert_eq!(ClaimsRequest::from_json(&r.to_json()), Some(r));
        for bad in [
            "[]",
            "nope",
            r#"{"id_token":[]}"#,
            r#"{"userinfo":{"email":true}}"#,
            r#"{"id_token":{"acr":{"essential":"yes"}}}"#,
            r#"{"id_token":{"acr":{"values":"a"}}}"#,
        ] {
            assert!(ClaimsRequest::parse(bad).is_err(), "{bad}");
        }
    }
}
