//! Mobile phone numbers, validated against libphonenumber's data (the
//! `phonenumber` crate) and kept as one canonical E.164 string
//! (`+8613312348347`).
//!
//! Forms take the number in two parts, a country calling code (prefilled
//! `+86`, required) and the national number, because that is where other
//! systems go wrong: a country code lost (a foreign number read as a
//! Chinese one), typed twice (`+86` in the code field and again in the
//! number) or applied twice (`86` glued to a national number). Here a
//! national part that carries its own `+code` must agree with the code
//! field, and a national part that starts with the code again is read
//! once, but only when that reading is a valid number and the literal one
//! is not.

use std::fmt;

use phonenumber::{Mode, Type};

use super::InvalidValue;

/// The two phones of an account: the login phone signs in like the
/// account name and receives codes; the security phone (安全手机) is for
/// real-name verification only, never a sign-in name, and receives the
/// step-up codes when it is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhoneKind {
    Login,
    Security,
}

impl PhoneKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PhoneKind::Login => "login",
            PhoneKind::Security => "security",
        }
    }

    /// The kind a URL segment names (`login`, `security`).
    pub fn from_segment(segment: &str) -> Option<Self> {
        match segment {
            "login" => Some(PhoneKind::Login),
            "security" => Some(PhoneKind::Security),
            _ => None,
        }
    }
}

/// A valid mobile number in E.164.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

/// Why a number was refused. Pages say it in their language
/// (`i18n::Text::phone_error`); the API and the CLI get [`Self::reason`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.reason())]
pub enum PhoneError {
    CountryCodeMissing,
    CountryCodeInvalid,
    NumberMissing,
    NotDigits,
    CountryCodeConflict,
    Invalid,
    NotMobile,
}

impl PhoneError {
    pub fn reason(self) -> &'static str {
        match self {
            PhoneError::CountryCodeMissing => "the country code is required",
            PhoneError::CountryCodeInvalid => "the country code has 1 to 3 digits, such as +86",
            PhoneError::NumberMissing => "the phone number is required",
            PhoneError::NotDigits => {
                "a phone number has only digits (spaces and dashes are ignored)"
            }
            PhoneError::CountryCodeConflict => {
                "the number carries a different country code than the one given"
            }
            PhoneError::Invalid => "not a valid phone number for this country code",
            PhoneError::NotMobile => "not a mobile number: it cannot receive SMS",
        }
    }

    /// As a refused value of the input `field`.
    pub fn of(self, field: &'static str) -> InvalidValue {
        InvalidValue::new(field, self.reason())
    }
}

impl From<PhoneError> for InvalidValue {
    fn from(e: PhoneError) -> Self {
        e.of("phone")
    }
}

/// Separators people type inside numbers.
fn compact(input: &str) -> String {
    input
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.' | '\u{3000}'))
        .collect()
}

/// `+86`, `86`, `0086` → `86`.
fn country_code(input: &str) -> Result<String, PhoneError> {
    let c = compact(input);
    if c.is_empty() || c == "+" {
        return Err(PhoneError::CountryCodeMissing);
    }
    let digits = c
        .strip_prefix('+')
        .or_else(|| c.strip_prefix("00"))
        .unwrap_or(&c);
    if digits.is_empty()
        || digits.len() > 3
        || digits.starts_with('0')
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(PhoneError::CountryCodeInvalid);
    }
    Ok(digits.to_string())
}

/// The canonical E.164 form of `+<code><national>`, if it is a valid
/// mobile number of that country code.
fn check(code: &str, national: &str) -> Result<String, PhoneError> {
    let parsed =
        phonenumber::parse(None, format!("+{code}{national}")).map_err(|_| PhoneError::Invalid)?;
    if parsed.code().value().to_string() != code || !parsed.is_valid() {
        return Err(PhoneError::Invalid);
    }
    match parsed.number_type(&phonenumber::metadata::DATABASE) {
        // Some countries (the US among them) cannot tell the two apart.
        Type::Mobile | Type::FixedLineOrMobile => {}
        _ => return Err(PhoneError::NotMobile),
    }
    Ok(parsed.format().mode(Mode::E164).to_string())
}

impl PhoneNumber {
    /// The institution's default country calling code, prefilled in forms.
    pub const DEFAULT_COUNTRY_CODE: &'static str = "86";

    /// A number from a form's two fields: the country calling code (`+86`,
    /// required) and the national number.
    pub fn parse_parts(code: &str, national: &str) -> Result<Self, PhoneError> {
        let code = country_code(code)?;
        let national = compact(national);
        if national.is_empty() {
            return Err(PhoneError::NumberMissing);
        }
        // The whole number typed into the number field: its code must be
        // the one the code field says.
        if let Some(full) = national
            .strip_prefix('+')
            .or_else(|| national.strip_prefix("00"))
        {
            if !full.bytes().all(|b| b.is_ascii_digit()) {
                return Err(PhoneError::NotDigits);
            }
            return match phonenumber::parse(None, format!("+{full}")) {
                Ok(n) if n.code().value().to_string() != code => {
                    Err(PhoneError::CountryCodeConflict)
                }
                _ => check(&code, full.strip_prefix(code.as_str()).unwrap_or(full)).map(Self),
            };
        }
        if !national.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PhoneError::NotDigits);
        }
        match check(&code, &national) {
            Ok(e164) => Ok(Self(e164)),
            // `86` glued to the national number: read the code once when
            // that makes a valid number.
            Err(first) => match national.strip_prefix(code.as_str()) {
                Some(rest) if !rest.is_empty() => check(&code, rest).map(Self).map_err(|_| first),
                _ => Err(first),
            },
        }
    }

    /// A number in one string (API, CLI, the login field): `+<code>…` or
    /// `00<code>…`; without a code it is a number of the default country.
    pub fn parse(input: &str) -> Result<Self, InvalidValue> {
        let c = compact(input);
        let parsed = if c.starts_with('+') || c.starts_with("00") {
            let full = c
                .strip_prefix('+')
                .or_else(|| c.strip_prefix("00"))
                .unwrap_or(&c);
            if full.is_empty() || !full.bytes().all(|b| b.is_ascii_digit()) {
                Err(PhoneError::NotDigits)
            } else {
                phonenumber::parse(None, format!("+{full}"))
                    .map_err(|_| PhoneError::Invalid)
                    .and_then(|n| {
                        let code = n.code().value().to_string();
                        check(&code, &full[code.len()..])
                    })
                    .map(Self)
            }
        } else {
            Self::parse_parts(Self::DEFAULT_COUNTRY_CODE, &c)
        };
        Ok(parsed?)
    }

    /// A number the database holds (written by [`Self::parse`] or
    /// [`Self::parse_parts`], or canonicalized at start): trusted as E.164
    /// without consulting the numbering data again. `None` for a value of
    /// another shape (a number the canonicalization could not read).
    pub fn stored(e164: &str) -> Option<Self> {
        let digits = e164.strip_prefix('+')?;
        (digits.len() >= 7 && digits.len() <= 15 && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| Self(e164.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The country calling code, without `+`.
    pub fn country_code(&self) -> &str {
        phonenumber::parse(None, &self.0)
            .ok()
            .map(|n| n.code().value())
            .and_then(|c| {
                let len = c.to_string().len();
                self.0.get(1..1 + len)
            })
            .unwrap_or(Self::DEFAULT_COUNTRY_CODE)
    }

    /// The national significant number (without the country code).
    pub fn national(&self) -> &str {
        self.0
            .get(1 + self.country_code().len()..)
            .unwrap_or_default()
    }

    /// Loads the numbering data, so that the first real parse does not pay
    /// for it (about 0.4 s). Run once at start.
    pub fn warm() {
        let _ = check(Self::DEFAULT_COUNTRY_CODE, "13312348347");
    }

    /// `133****8347` for +86 numbers, `+4477****0123` style otherwise.
    pub fn masked(e164: &str) -> String {
        if let Some(national) = e164.strip_prefix("+86")
            && national.len() == 11
            && national.is_ascii()
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

    fn parts(code: &str, national: &str) -> Result<String, PhoneError> {
        PhoneNumber::parse_parts(code, national).map(|p| p.0)
    }

    #[test]
    fn two_fields_make_one_canonical_number() {
        assert_eq!(parts("+86", "133 1234 8347").unwrap(), "+8613312348347");
        assert_eq!(parts("86", "133-1234-8347").unwrap(), "+8613312348347");
        assert_eq!(parts("0086", "13312348347").unwrap(), "+8613312348347");
        // A UK mobile, written nationally with its trunk 0.
        assert_eq!(parts("+44", "07400 123456").unwrap(), "+447400123456");
        assert_eq!(parts("+1", "(650) 253-0000").unwrap(), "+16502530000");
    }

    #[test]
    fn the_country_code_is_mandatory_and_is_never_lost_doubled_or_applied_twice() {
        assert_eq!(
            parts("", "13312348347"),
            Err(PhoneError::CountryCodeMissing)
        );
        assert_eq!(
            parts("+", "13312348347"),
            Err(PhoneError::CountryCodeMissing)
        );
        assert_eq!(
            parts("+8x", "13312348347"),
            Err(PhoneError::CountryCodeInvalid)
        );
        assert_eq!(
            parts("+8612", "13312348347"),
            Err(PhoneError::CountryCodeInvalid)
        );
        // Typed twice: once in each field.
        assert_eq!(parts("+86", "+86 133 1234 8347").unwrap(), "+8613312348347");
        // Applied twice: the code glued to the national number.
        assert_eq!(parts("+86", "8613312348347").unwrap(), "+8613312348347");
        // A foreign number in the number field does not become Chinese.
        assert_eq!(
            parts("+86", "+44 7400 123456"),
            Err(PhoneError::CountryCodeConflict)
        );
        // …and a Chinese one under +44 is not a UK number.
        assert_eq!(parts("+44", "13312348347"), Err(PhoneError::Invalid));
    }

    #[test]
    fn only_valid_mobile_numbers() {
        assert_eq!(parts("+86", ""), Err(PhoneError::NumberMissing));
        assert_eq!(parts("+86", "1331234abcd"), Err(PhoneError::NotDigits));
        assert_eq!(parts("+86", "1331234834"), Err(PhoneError::Invalid));
        assert_eq!(parts("+86", "133123483471"), Err(PhoneError::Invalid));
        assert_eq!(parts("+86", "23312348347"), Err(PhoneError::NotMobile));
        // Beijing landline: a valid number that cannot receive SMS.
        assert_eq!(parts("+86", "010 6260 0000"), Err(PhoneError::NotMobile));
        // London landline.
        assert_eq!(parts("+44", "20 7946 0123"), Err(PhoneError::NotMobile));
    }

    #[test]
    fn one_string_input_defaults_to_the_institutions_country() {
        let p = |s| PhoneNumber::parse(s).map(|p| p.0);
        assert_eq!(p("133 1234 8347").unwrap(), "+8613312348347");
        assert_eq!(p("+86-133-1234-8347").unwrap(), "+8613312348347");
        assert_eq!(p("0044 7400 123456").unwrap(), "+447400123456");
        for bad in [
            "",
            "abc",
            "12345",
            "+86 233 1234 8347",
            "+0123456789",
            "+1234567890123456",
            "+44 20 7946 0123",
        ] {
            let e = p(bad).unwrap_err();
            assert_eq!(e.field, "phone", "{bad}");
        }
    }

    #[test]
    fn parts_of_a_number() {
        let cn = PhoneNumber::parse("+8613312348347").unwrap();
        assert_eq!((cn.country_code(), cn.national()), ("86", "13312348347"));
        let uk = PhoneNumber::parse("+447400123456").unwrap();
        assert_eq!((uk.country_code(), uk.national()), ("44", "7400123456"));
        assert_eq!(PhoneNumber::stored("+8613312348347"), Some(cn));
        assert_eq!(PhoneNumber::stored("13312348347"), None);
    }

    #[test]
    fn masks() {
        assert_eq!(PhoneNumber::masked("+8613312348347"), "133****8347");
        assert_eq!(PhoneNumber::masked("+442079460123"), "+4420****0123");
    }
}
