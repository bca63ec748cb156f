use std::fmt;

use super::InvalidValue;

/// An e-mail address as users type them: `local@domain.tld`, no spaces,
/// domain lower-cased. Deliverability is proven by a confirmation link, not
/// by parsing.
#[derive(Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Self, InvalidValue> {
        let raw = input.trim();
        let invalid = || Err(InvalidValue::new("email", "is not a valid e-mail address"));
        if raw.len() > 254 || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return invalid();
        }
        let Some((local, domain)) = raw.rsplit_once('@') else {
            return invalid();
        };
        if local.is_empty()
            || local.len() > 64
            || local.contains('@')
            || !domain.contains('.')
            || domain.starts_with(['.', '-'])
            || domain.ends_with(['.', '-'])
            || domain.contains("..")
            || !domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-')
        {
            return invalid();
        }
        Ok(Self(format!("{local}@{}", domain.to_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address in lower case: how a verified security e-mail is stored
    /// and looked up (mail systems do not tell local parts apart by case in
    /// practice, and one rule in Rust is the same on every database).
    pub fn normalized(&self) -> String {
        // ASCII only: folding other letters could name another mailbox.
        self.0.to_ascii_lowercase()
    }

    /// `z***@cnic.cn`: enough for the owner to recognise, little for others.
    pub fn masked(address: &str) -> String {
        match address.split_once('@') {
            Some((local, domain)) => {
                let first: String = local.chars().take(1).collect();
                format!("{first}***@{domain}")
            }
            None => "***".into(),
        }
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", Self::masked(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_masks() {
        let e = Email::parse(" Li.Si@CNIC.cn").unwrap();
        assert_eq!(e.as_str(), "Li.Si@cnic.cn");
        assert_eq!(Email::masked(e.as_str()), "L***@cnic.cn");
        for bad in ["", "a", "a@b", "a b@c.cn", "@c.cn", "a@.cn", "a@c..cn"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }
}
