//! Identity document numbers as the organization-verified retrieval takes
//! them: the 18-character resident identity number of the People's
//! Republic of China (GB 11643-1999), checked strictly, and passport
//! numbers, checked loosely (their formats differ by country, so an unusual
//! one is a warning for the person to look again, never a refusal).

use std::fmt;

use time::{Date, Month};

use super::InvalidValue;

/// The field name every refusal carries.
const FIELD: &str = "id_number";

/// Administrative division codes of the first two digits (GB/T 2260 at
/// province level), plus 71 (Taiwan), 81 (Hong Kong), 82 (Macao) and 83,
/// which residence permits of Taiwan residents use.
const PROVINCES: [u8; 35] = [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
    53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83,
];

/// Weight of each of the first 17 digits: 2^(17 − i) mod 11 (ISO 7064
/// MOD 11-2, as GB 11643 prescribes).
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// The check character for each remainder of the weighted sum mod 11.
const CHECK: [u8; 11] = *b"10X98765432";

/// A resident identity number whose check character, birth date and
/// province code are right. Kept in upper case (`X`).
#[derive(Clone, PartialEq, Eq)]
pub struct ChineseIdNumber(String);

impl ChineseIdNumber {
    /// Checks `input` (spaces around it and a lower-case `x` are accepted).
    /// `today` bounds the birth date: nobody is born in the future.
    pub fn parse(input: &str, today: Date) -> Result<Self, InvalidValue> {
        let raw = input.trim().to_ascii_uppercase();
        let bytes = raw.as_bytes();
        if bytes.len() != 18 {
            return Err(InvalidValue::new(FIELD, "must have 18 characters"));
        }
        let (body, last) = bytes.split_at(17);
        if !body.iter().all(u8::is_ascii_digit) || !(last[0].is_ascii_digit() || last[0] == b'X') {
            return Err(InvalidValue::new(
                FIELD,
                "must be 17 digits followed by a digit or X",
            ));
        }
        let digit = |i: usize| u32::from(bytes[i] - b'0');
        let province = (digit(0) * 10 + digit(1)) as u8;
        if !PROVINCES.contains(&province) {
            return Err(InvalidValue::new(
                FIELD,
                "does not start with a province code",
            ));
        }
        let number = |from: usize, to: usize| (from..to).fold(0u32, |n, i| n * 10 + digit(i));
        let birth = Month::try_from(number(10, 12) as u8).ok().and_then(|m| {
            Date::from_calendar_date(number(6, 10) as i32, m, number(12, 14) as u8).ok()
        });
        match birth {
            Some(d) if d.year() >= 1900 && d <= today => {}
            _ => {
                return Err(InvalidValue::new(
                    FIELD,
                    "does not contain a real birth date",
                ));
            }
        }
        let sum: u32 = (0..17).map(|i| digit(i) * WEIGHTS[i]).sum();
        if CHECK[(sum % 11) as usize] != last[0] {
            return Err(InvalidValue::new(
                FIELD,
                "has a wrong check character (a digit may be mistyped)",
            ));
        }
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `110***********123X`: the first three and last four characters, as
    /// printed on the form and shown to reviewers beside the photo.
    pub fn masked(&self) -> String {
        mask(&self.0, 3, 4)
    }
}

impl fmt::Debug for ChineseIdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChineseIdNumber({})", self.masked())
    }
}

/// A passport number: letters and digits (spaces and hyphens dropped),
/// upper case. `unusual` says it does not look like a passport number of
/// 5 to 12 characters with at least one digit — worth a second look, but
/// accepted.
#[derive(Clone, PartialEq, Eq)]
pub struct PassportNumber {
    value: String,
    pub unusual: bool,
}

impl PassportNumber {
    pub fn parse(input: &str) -> Result<Self, InvalidValue> {
        let value: String = input
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect::<String>()
            .to_uppercase();
        if value.is_empty() {
            return Err(InvalidValue::new(FIELD, "is required"));
        }
        if value.chars().count() > 20 || !value.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(InvalidValue::new(
                FIELD,
                "may contain only letters and digits (at most 20)",
            ));
        }
        let unusual =
            !(5..=12).contains(&value.len()) || !value.bytes().any(|b| b.is_ascii_digit());
        Ok(Self { value, unusual })
    }

    pub fn as_str(&self) -> &str {
        &self.value
    }

    pub fn masked(&self) -> String {
        mask(&self.value, 1, 3)
    }
}

impl fmt::Debug for PassportNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PassportNumber({})", self.masked())
    }
}

/// Keeps `head` characters at the start and `tail` at the end, stars in
/// between (a short value keeps only its last character).
fn mask(value: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = value.chars().collect();
    let (head, tail) = if chars.len() > head + tail {
        (head, tail)
    } else {
        (0, 1.min(chars.len()))
    };
    let stars = chars.len() - head - tail;
    chars[..head]
        .iter()
        .chain(std::iter::repeat_n(&'*', stars))
        .chain(&chars[chars.len() - tail..])
        .collect()
}

/// A 16-digit case number as printed on the retrieval form and read back by
/// a scanner: 15 digits and a Damm check digit, which catches every single
/// mistyped digit and every swap of two neighbours.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CaseNumber(u64);

impl CaseNumber {
    /// Reads a case number as people type or scanners send it: spaces and
    /// hyphens between the digits are ignored.
    pub fn parse(input: &str) -> Result<Self, InvalidValue> {
        let digits: Vec<u8> = input
            .bytes()
            .filter(|b| !matches!(b, b' ' | b'-'))
            .collect();
        if digits.len() != 16 || !digits.iter().all(u8::is_ascii_digit) {
            return Err(InvalidValue::new("case_number", "must have 16 digits"));
        }
        let values: Vec<u32> = digits.iter().map(|d| u32::from(d - b'0')).collect();
        if check_digit(&values[..15]) != values[15] {
            return Err(InvalidValue::new(
                "case_number",
                "has a wrong check digit (a digit may be mistyped)",
            ));
        }
        Ok(Self(
            values.iter().fold(0u64, |n, d| n * 10 + u64::from(*d)),
        ))
    }

    /// The number made of `random` (its value mod 10^15, lifted so the
    /// first digit is not 0) and its check digit.
    pub fn from_random(random: u64) -> Self {
        let low = 100_000_000_000_000u64;
        let body = low + random % (9 * low);
        let values: Vec<u32> = body
            .to_string()
            .bytes()
            .map(|d| u32::from(d - b'0'))
            .collect();
        Self(body * 10 + u64::from(check_digit(&values)))
    }

    /// The 16 digits, as stored and encoded in the barcodes.
    pub fn digits(&self) -> String {
        format!("{:016}", self.0)
    }

    /// `1234 5678 9012 3456`, for people to read aloud.
    pub fn grouped(&self) -> String {
        let d = self.digits();
        [&d[0..4], &d[4..8], &d[8..12], &d[12..16]].join(" ")
    }
}

impl fmt::Display for CaseNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.digits())
    }
}

impl fmt::Debug for CaseNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CaseNumber({})", self.digits())
    }
}

/// Damm's quasigroup of order 10 (weakly totally anti-symmetric): a check
/// digit computed with it catches every single mistyped digit and every
/// swap of two neighbouring digits, which Luhn and ISO 7064 MOD 11,10 do
/// not quite.
const DAMM: [[u8; 10]; 10] = [
    [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
    [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
    [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
    [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
    [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
    [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
    [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
    [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
    [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
    [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];

/// The Damm check digit of `digits`: appending it makes the run end at 0.
fn check_digit(digits: &[u32]) -> u32 {
    u32::from(
        digits
            .iter()
            .fold(0u8, |interim, d| DAMM[usize::from(interim)][*d as usize]),
    )
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    const TODAY: Date = date!(2026 - 12 - 01);

    /// Builds a number with the right check character from 17 digits.
    fn with_check(body: &str) -> String {
        let sum: u32 = body
            .bytes()
            .zip(WEIGHTS)
            .map(|(b, w)| u32::from(b - b'0') * w)
            .sum();
        format!("{body}{}", CHECK[(sum % 11) as usize] as char)
    }

    #[test]
    fn the_standards_example_passes() {
        // The worked example of GB 11643-1999 (appendix): 11010519491231002X.
        let id = ChineseIdNumber::parse("11010519491231002x", TODAY).unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(id.masked(), "110***********002X");
        assert!(!format!("{id:?}").contains("19491231"));
        // A second, computed one with a digit check character.
        let other = with_check("44030419900307123");
        assert!(ChineseIdNumber::parse(&other, TODAY).is_ok());
    }

    #[test]
    fn every_single_mistyped_character_is_caught() {
        let good = "11010519491231002X";
        for i in 0..18 {
            for c in "0123456789X".chars() {
                let mut s: Vec<char> = good.chars().collect();
                if s[i] == c {
                    continue;
                }
                s[i] = c;
                let s: String = s.into_iter().collect();
                assert!(ChineseIdNumber::parse(&s, TODAY).is_err(), "{s}");
            }
        }
    }

    #[test]
    fn refusals_name_the_reason() {
        let reason = |s: &str| ChineseIdNumber::parse(s, TODAY).unwrap_err().reason;
        assert_eq!(reason("1101051949123100"), "must have 18 characters");
        assert_eq!(
            reason("1101051949123100A2"),
            "must be 17 digits followed by a digit or X"
        );
        assert_eq!(
            reason(&with_check("99010519491231002")),
            "does not start with a province code"
        );
        for bad in [
            "11010519490230002",
            "11010518991231002",
            "11010520301231002",
        ] {
            assert_eq!(
                reason(&with_check(bad)),
                "does not contain a real birth date",
                "{bad}"
            );
        }
        assert_eq!(
            reason("110105194912310021"),
            "has a wrong check character (a digit may be mistyped)"
        );
        // Control: a leap day is a real date.
        assert!(ChineseIdNumber::parse(&with_check("11010520000229002"), TODAY).is_ok());
    }

    #[test]
    fn passports_are_checked_loosely() {
        let p = PassportNumber::parse(" e1234 5678 ").unwrap();
        assert_eq!(p.as_str(), "E12345678");
        assert!(!p.unusual);
        assert_eq!(p.masked(), "E*****678");
        assert!(PassportNumber::parse("ABCDEFG").unwrap().unusual);
        assert!(PassportNumber::parse("123").unwrap().unusual);
        assert!(PassportNumber::parse("").is_err());
        assert!(PassportNumber::parse("E1234/678").is_err());
    }

    #[test]
    fn case_numbers_carry_a_check_digit() {
        let n = CaseNumber::from_random(0);
        assert_eq!(n.digits().len(), 16);
        assert!(n.digits().starts_with('1'));
        let m = CaseNumber::from_random(u64::MAX);
        assert_eq!(CaseNumber::parse(&m.grouped()).unwrap(), m);
        assert_eq!(CaseNumber::parse(&n.digits()).unwrap(), n);
        let digits = n.digits();
        // Every single change and every swap of neighbours is caught.
        for i in 0..16 {
            for c in b'0'..=b'9' {
                let mut s = digits.clone().into_bytes();
                if s[i] == c {
                    continue;
                }
                s[i] = c;
                let s = String::from_utf8(s).unwrap();
                assert!(CaseNumber::parse(&s).is_err(), "{s}");
            }
        }
        for seed in [7u64, 123_456_789, 987_654_321_012] {
            let d = CaseNumber::from_random(seed).digits().into_bytes();
            for i in 0..15 {
                if d[i] == d[i + 1] {
                    continue;
                }
                let mut s = d.clone();
                s.swap(i, i + 1);
                let s = String::from_utf8(s).unwrap();
                assert!(CaseNumber::parse(&s).is_err(), "{s}");
            }
        }
        assert!(CaseNumber::parse("1234-5678").is_err());
    }
}
