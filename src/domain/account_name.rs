use std::fmt;

use super::InvalidValue;

/// A passport account name: an e-mail-style login id (`zhang@cnic.cn`) or a
/// plain name such as `admin`. Stored and compared in lower case.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AccountName(String);

impl AccountName {
    pub const MAX_LEN: usize = 128;

    pub fn parse(input: &str) -> Result<Self, InvalidValue> {
        let name = input.trim().to_lowercase();
        let invalid = |reason| Err(InvalidValue::new("username", reason));
        if name.is_empty() {
            return invalid("must not be empty");
        }
        if name.len() > Self::MAX_LEN {
            return invalid("must be at most 128 characters");
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '+'))
        {
            return invalid("may contain only letters, digits and . _ - + @");
        }
        let ats = name.matches('@').count();
        if ats > 1 || name.starts_with(['@', '.', '-']) || name.ends_with(['@', '.', '-']) {
            return invalid("must look like name or name@domain");
        }
        if let Some((_, domain)) = name.split_once('@')
            && (!domain.contains('.') || domain.contains("..") || domain.starts_with('.'))
        {
            return invalid("must look like name or name@domain");
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AccountName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountName({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_email_style_and_plain_names() {
        assert_eq!(
            AccountName::parse(" Zhang@CNIC.cn ").unwrap().as_str(),
            "zhang@cnic.cn"
        );
        assert_eq!(AccountName::parse("admin").unwrap().as_str(), "admin");
    }

    #[test]
    fn refuses_malformed_names() {
        for bad in [
            "",
            "a b",
            "@cnic.cn",
            "a@b@c.cn",
            "zhang@",
            "zhang@localhost",
            "名字",
        ] {
            assert!(AccountName::parse(bad).is_err(), "{bad}");
        }
    }
}
