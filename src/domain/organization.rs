//! The organizations of the registry (单位): the full name as it stands on
//! the organization's seal, a short name, aliases, mail domains, a status.
//!
//! Names are looked up by their *key* ([`name_key`]): the same name typed
//! with full-width letters or digits (ＣＮＩＣ, （）), in another case or with
//! other spacing has the same key, so it finds the same organization, and
//! no two organizations may share a key — whether it is one's full name
//! and another's alias or short name.

use std::fmt;

use unicode_normalization::UnicodeNormalization;

use super::InvalidValue;

/// Longest full name or alias, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest short name, in characters.
pub const MAX_SHORT_NAME_CHARS: usize = 50;
/// Most aliases or mail domains one organization keeps.
pub const MAX_LIST: usize = 50;

/// The lookup key of a name: Unicode compatibility form (NFKC, which turns
/// full-width Latin letters, digits, brackets and the ideographic space
/// into their ordinary forms), lower case, runs of white space as one
/// space, no space at either end. Chinese characters are left as they are
/// (simplified and traditional forms are different names).
pub fn name_key(name: &str) -> String {
    let folded: String = name.nfkc().flat_map(char::to_lowercase).collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A name as it is kept: trimmed, inner runs of white space as one space.
fn tidy(input: &str, field: &'static str, max: usize) -> Result<String, InvalidValue> {
    // Tabs and line breaks are spacing (collapsed below); other control
    // characters have no place in a name.
    if input.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        return Err(InvalidValue::new(
            field,
            "must not contain control characters",
        ));
    }
    let tidy = input.split_whitespace().collect::<Vec<_>>().join(" ");
    if tidy.is_empty() {
        return Err(InvalidValue::new(field, "must not be empty"));
    }
    if tidy.chars().count() > max {
        return Err(InvalidValue::new(field, "is too long"));
    }
    if !tidy.chars().any(char::is_alphanumeric) {
        return Err(InvalidValue::new(
            field,
            "must contain a letter, a character or a digit",
        ));
    }
    Ok(tidy)
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident, $field:literal, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub fn parse(input: &str) -> Result<Self, InvalidValue> {
                tidy(input, $field, $max).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The lookup key (see [`name_key`]).
            pub fn key(&self) -> String {
                name_key(&self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

name_type!(
    /// The full name as on the organization's seal (unique; at most 200
    /// characters): `中国科学院计算机网络信息中心`.
    FullName,
    "full_name",
    MAX_NAME_CHARS
);
name_type!(
    /// A short name: `网络中心`, `CNIC` (at most 50 characters).
    ShortName,
    "short_name",
    MAX_SHORT_NAME_CHARS
);
name_type!(
    /// Another name the organization is known by (a former name, an
    /// English name …; at most 200 characters).
    Alias,
    "aliases",
    MAX_NAME_CHARS
);

/// A mail domain of the organization (`cnic.cn`): lower-case ASCII (an
/// internationalized domain is kept in its `xn--` form), at least two
/// labels. Accounts named `someone@cnic.cn` belong there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailDomain(String);

impl MailDomain {
    pub fn parse(input: &str) -> Result<Self, InvalidValue> {
        let invalid =
            || InvalidValue::new("mail_domains", "is not a mail domain (such as cnic.cn)");
        let raw = input.trim();
        let raw = raw.strip_prefix('@').unwrap_or(raw);
        let raw = raw.strip_suffix('.').unwrap_or(raw);
        if raw.is_empty() || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let ascii = match url::Host::parse(raw) {
            Ok(url::Host::Domain(d)) => d,
            _ => return Err(invalid()),
        };
        let labels: Vec<&str> = ascii.split('.').collect();
        let label_ok = |l: &&str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        };
        if ascii.len() > 253
            || labels.len() < 2
            || !labels.iter().all(label_ok)
            || labels
                .last()
                .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
        {
            return Err(invalid());
        }
        Ok(Self(ascii.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MailDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where an organization stands in the registry.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum OrganizationStatus {
    /// In use: accounts belong to it, the retrieval lists it.
    Active,
    /// Registered by a member of the public, awaiting review.
    Pending,
    /// No longer in use: keeps its accounts, takes no new ones.
    Inactive,
}

impl OrganizationStatus {
    pub const ALL: [OrganizationStatus; 3] = [
        OrganizationStatus::Active,
        OrganizationStatus::Pending,
        OrganizationStatus::Inactive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrganizationStatus::Active => "active",
            OrganizationStatus::Pending => "pending",
            OrganizationStatus::Inactive => "inactive",
        }
    }

    pub fn parse(input: &str) -> Result<Self, InvalidValue> {
        let name = input.trim().to_ascii_lowercase();
        OrganizationStatus::ALL
            .into_iter()
            .find(|s| s.as_str() == name)
            .ok_or(InvalidValue::new(
                "status",
                "must be active, pending or inactive",
            ))
    }
}

impl fmt::Display for OrganizationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for OrganizationStatus {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        OrganizationStatus::parse(&value)
            .map_err(|_| format!("unknown organization status {value:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_fold_width_case_and_spacing() {
        assert_eq!(name_key("ＣＮＩＣ"), "cnic");
        assert_eq!(
            name_key("  Computer   Network\u{3000}Center "),
            "computer network center"
        );
        assert_eq!(
            name_key("中国科学院（计算机网络信息中心）"),
            name_key("中国科学院(计算机网络信息中心)")
        );
        assert_ne!(name_key("网络中心"), name_key("網絡中心"));
        assert_eq!(name_key("CNIC"), name_key("cnic"));
    }

    #[test]
    fn names_are_tidied_and_checked() {
        assert_eq!(FullName::parse("  物理所  ").unwrap().as_str(), "物理所");
        assert_eq!(
            FullName::parse("Institute  of\tPhysics").unwrap().as_str(),
            "Institute of Physics"
        );
        assert_eq!(
            FullName::parse("  ").unwrap_err().reason,
            "must not be empty"
        );
        assert_eq!(FullName::parse("--").unwrap_err().field, "full_name");
        assert!(FullName::parse("a\u{0}b").is_err());
        assert!(FullName::parse(&"所".repeat(201)).is_err());
        assert!(FullName::parse(&"所".repeat(200)).is_ok());
        assert!(ShortName::parse(&"x".repeat(51)).is_err());
        assert_eq!(Alias::parse("").unwrap_err().field, "aliases");
    }

    #[test]
    fn mail_domains() {
        assert_eq!(MailDomain::parse("CNIC.cn").unwrap().as_str(), "cnic.cn");
        assert_eq!(MailDomain::parse("@cnic.cn").unwrap().as_str(), "cnic.cn");
        assert_eq!(
            MailDomain::parse("例子.中国").unwrap().as_str(),
            "xn--fsqu00a.xn--fiqs8s"
        );
        for bad in [
            "",
            "cnic",
            "cnic..cn",
            "-a.cn",
            "a b.cn",
            "1.2.3.4",
            "a_b.cn",
            "zhang@cnic.cn",
        ] {
            assert!(MailDomain::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn statuses() {
        assert_eq!(
            OrganizationStatus::parse("Pending").unwrap(),
            OrganizationStatus::Pending
        );
        assert!(OrganizationStatus::parse("gone").is_err());
        for s in OrganizationStatus::ALL {
            assert_eq!(OrganizationStatus::parse(s.as_str()).unwrap(), s);
        }
    }
}
