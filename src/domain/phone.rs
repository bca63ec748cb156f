use std::fmt;

use super::InvalidValue;

/// A phone number in E.164 (`+8613312348347`). Numbers typed without a
/// country code are taken as mainland China (+86), the institution's default.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub const DEFAULT_COUNTRY_CODE: &'static str = "86";

    pub fn parse(input: &str) -> Result<Self, InvalidValue> {
        let invalid = |reason| Err(InvalidValue::new("phone", reason));
        let compact: String = input
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
            .collect();
        let e164 = if let Some(rest) = compact.strip_prefix('+') {
            rest.to_string()
        } else if let Some(rest) = compact.strip_prefix("00") {
            rest.to_string()
        } else {
            format!("{}{compact}", Self::DEFAULT_COUNTRY_CODE)
        };
        if e164.is_empty() || !e164.chars().all(|c| c.is_ascii_digit()) {
            return invalid("must contain only digits, optionally starting with +country code");
        }
        if e164.starts_with('0') {
            return invalid("country code must not start with 0");
        }
        // E.164 allows at most 15 digits including the country code.
        if e164.len() < 8 || e164.len() > 15 {
            return invalid("must have 8 to 15 digits including the country code");
        }
        if let Some(national) = e164.strip_prefix("86") {
            // Mainland mobile numbers: 11 digits starting with 1.
            if national.len() != 11 || !national.starts_with('1') {
                return invalid("a +86 mobile number has 11 digits starting with 1");
            }
        }
        Ok(Self(format!("+{e164}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `133****8347` for +86 numbers, `+4477****0123` style otherwise.
    pub fn masked(e164: &str) -> String {
        if let Some(national) = e164.strip_prefix("+86")
            && national.len() == 11
        {
            return format!("{}****{}", &national[..3], &national[7..]);
        }
        let len = e164.len();
        if len <= 8 || !e164.is_ascii() {
            return "****".into();
        }
        format!("{}****{}", &e164[..len.min(5)], &e164[len - 4..])
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", Self::masked(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_china_and_normalises() {
        assert_eq!(
            PhoneNumber::parse("133 1234 8347").unwrap().as_str(),
            "+8613312348347"
        );
        assert_eq!(
            PhoneNumber::parse("+86-133-1234-8347").unwrap().as_str(),
            "+8613312348347"
        );
        assert_eq!(
            PhoneNumber::parse("0044 20 7946 0123").unwrap().as_str(),
            "+442079460123"
        );
    }

    #[test]
    fn refuses_bad_numbers() {
        for bad in [
            "",
            "abc",
            "12345",
            "+86 233 1234 8347",
            "+0123456789",
            "+1234567890123456",
        ] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn masks() {
        assert_eq!(PhoneNumber::masked("+8613312348347"), "133****8347");
        assert_eq!(PhoneNumber::masked("+442079460123"), "+4420****0123");
    }
}
