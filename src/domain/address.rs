//! A postal address, as the OIDC `address` claim carries it (Core §5.1.1):
//! `formatted`, `street_address`, `locality`, `region`, `postal_code`,
//! `country`, every member optional, at least one present.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::InvalidValue;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostalAddress {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

const MEMBERS: &[&str] = &[
    "formatted",
    "street_address",
    "locality",
    "region",
    "postal_code",
    "country",
];

fn bad(reason: &'static str) -> InvalidValue {
    InvalidValue::new("address", reason)
}

impl PostalAddress {
    /// From a JSON object with the claim's members (strings, at most 300
    /// characters; `formatted` and `street_address` may hold line breaks).
    pub fn parse(value: &Value) -> Result<PostalAddress, InvalidValue> {
        let Value::Object(map) = value else {
            return Err(bad("must be a JSON object"));
        };
        if map.keys().any(|k| !MEMBERS.contains(&k.as_str())) {
            return Err(bad(
                "knows only formatted, street_address, locality, region, postal_code and country",
            ));
        }
        let mut out = PostalAddress::default();
        for name in MEMBERS {
            let Some(v) = map.get(*name) else { continue };
            let text = match v {
                Value::Null => continue,
                Value::String(s) => s.trim().to_string(),
                _ => return Err(bad("members must be strings")),
            };
            if text.is_empty() {
                continue;
            }
            if text.chars().count() > 300 {
                return Err(bad("a member is longer than 300 characters"));
            }
            let multiline = matches!(*name, "formatted" | "street_address");
            if text
                .chars()
                .any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\r')))
            {
                return Err(bad("contains control characters"));
            }
            let slot = match *name {
                "formatted" => &mut out.formatted,
                "street_address" => &mut out.street_address,
                "locality" => &mut out.locality,
                "region" => &mut out.region,
                "postal_code" => &mut out.postal_code,
                _ => &mut out.country,
            };
            *slot = Some(text);
        }
        if out == PostalAddress::default() {
            return Err(bad("has no member"));
        }
        Ok(out)
    }

    /// The claim's value.
    pub fn claim(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The stored form.
    pub fn to_json(&self) -> String {
        self.claim().to_string()
    }

    /// Reads the stored form (`None`: it does not parse).
    pub fn stored(text: &str) -> Option<PostalAddress> {
        serde_json::from_str(text).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_members_and_refuses_others() {
        let a = PostalAddress::parse(&json!({
            "street_address": "中关村南四街4号",
            "locality": "北京市海淀区",
            "postal_code": "100190",
            "country": "CN",
            "region": ""
        }))
        .unwrap();
        assert_eq!(a.locality.as_deref(), Some("北京市海淀区"));
        assert_eq!(a.region, None);
        assert_eq!(PostalAddress::stored(&a.to_json()), Some(a));
        assert!(PostalAddress::parse(&json!({})).is_err());
        assert!(PostalAddress::parse(&json!({"street": "x"})).is_err());
        assert!(PostalAddress::parse(&json!({"country": 86})).is_err());
        assert!(PostalAddress::parse(&json!("Beijing")).is_err());
        assert!(PostalAddress::parse(&json!({"locality": "a\u{0007}"})).is_err());
    }
}
