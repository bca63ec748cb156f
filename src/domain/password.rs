use std::fmt;

use crate::config::PasswordPolicyConfig;

/// A password on its way to the hasher. Never printed, never logged.
#[derive(Clone)]
pub struct SecretPassword(String);

impl SecretPassword {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretPassword([redacted])")
    }
}

/// How hard a password is to guess (zxcvbn's estimate: scores 0–1 weak,
/// 2 medium, 3–4 strong).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Strength {
    Weak,
    Medium,
    Strong,
}

impl Strength {
    /// The estimate for `password`, knowing the account's own identifiers.
    pub fn of(password: &str, user_inputs: &[&str]) -> Strength {
        if password.is_empty() {
            return Strength::Weak;
        }
        match u8::from(zxcvbn::zxcvbn(password, user_inputs).score()) {
            0 | 1 => Strength::Weak,
            2 => Strength::Medium,
            _ => Strength::Strong,
        }
    }
}

/// One rule a new password broke; pages translate the code, the CLI and the
/// API print it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyViolation {
    TooShort,
    TooLong,
    NoUpper,
    NoLower,
    NoDigit,
    NoSpecial,
    ContainsAccountName,
    ContainsPhone,
    /// On the list of commonly used passwords (ignoring case).
    Common,
    /// Meets the character rules but is easy to guess (common words,
    /// patterns, dates …).
    TooWeak,
}

/// A rule of the policy as the password forms list it, ticked off live by
/// the strength meter. Several violations may fall under one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PasswordRule {
    /// Between the minimum length and [`PasswordPolicy::MAX_LEN`].
    Length,
    Upper,
    Lower,
    Digit,
    Special,
    /// Neither the account name nor a phone number of the account.
    Personal,
    /// Not on the common list and not easy to guess (the estimate).
    Guessable,
}

impl PasswordRule {
    pub fn code(self) -> &'static str {
        match self {
            Self::Length => "length",
            Self::Upper => "upper",
            Self::Lower => "lower",
            Self::Digit => "digit",
            Self::Special => "special",
            Self::Personal => "personal",
            Self::Guessable => "guessable",
        }
    }
}

impl PolicyViolation {
    /// The listed rule this violation breaks.
    pub fn rule(self) -> PasswordRule {
        match self {
            Self::TooShort | Self::TooLong => PasswordRule::Length,
            Self::NoUpper => PasswordRule::Upper,
            Self::NoLower => PasswordRule::Lower,
            Self::NoDigit => PasswordRule::Digit,
            Self::NoSpecial => PasswordRule::Special,
            Self::ContainsAccountName | Self::ContainsPhone => PasswordRule::Personal,
            Self::Common | Self::TooWeak => PasswordRule::Guessable,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Self::TooShort => "too_short",
            Self::TooLong => "too_long",
            Self::NoUpper => "no_upper",
            Self::NoLower => "no_lower",
            Self::NoDigit => "no_digit",
            Self::NoSpecial => "no_special",
            Self::ContainsAccountName => "contains_account_name",
            Self::ContainsPhone => "contains_phone",
            Self::Common => "common_password",
            Self::TooWeak => "too_weak",
        }
    }

    pub fn describe_en(self, policy: &PasswordPolicy) -> String {
        match self {
            Self::TooShort => format!("must have at least {} characters", policy.config.min_length),
            Self::TooLong => format!("must have at most {} characters", PasswordPolicy::MAX_LEN),
            Self::NoUpper => "must contain an upper-case letter".into(),
            Self::NoLower => "must contain a lower-case letter".into(),
            Self::NoDigit => "must contain a digit".into(),
            Self::NoSpecial => "must contain a special character".into(),
            Self::ContainsAccountName => "must not contain the account name".into(),
            Self::ContainsPhone => "must not contain a phone number of the account".into(),
            Self::Common => "is one of the most commonly used passwords; choose another".into(),
            Self::TooWeak => {
                "is too easy to guess; use a longer password or unrelated words".into()
            }
        }
    }
}

/// The one check every place that sets a password goes through.
#[derive(Clone)]
pub struct PasswordPolicy {
    config: PasswordPolicyConfig,
}

impl PasswordPolicy {
    /// Longer passwords are refused (ASVS V2.1.2: at least 64 must be
    /// allowed, more than 128 denied); the cap also bounds hashing and the
    /// strength estimate.
    pub const MAX_LEN: usize = 128;

    pub fn new(config: PasswordPolicyConfig) -> Self {
        Self { config }
    }

    pub fn min_length(&self) -> usize {
        self.config.min_length
    }

    /// The rules this configuration enforces, in the order the forms list
    /// them.
    pub fn rules(&self) -> Vec<PasswordRule> {
        let c = &self.config;
        let mut out = vec![PasswordRule::Length];
        for (on, rule) in [
            (c.require_upper, PasswordRule::Upper),
            (c.require_lower, PasswordRule::Lower),
            (c.require_digit, PasswordRule::Digit),
            (c.require_special, PasswordRule::Special),
        ] {
            if on {
                out.push(rule);
            }
        }
        out.extend([PasswordRule::Personal, PasswordRule::Guessable]);
        out
    }

    /// The strength estimate [`check`](Self::check) compares with the
    /// minimum, with the same identifiers as hints (the caller keeps to
    /// the length cap).
    pub fn estimate(
        &self,
        password: &SecretPassword,
        account_name: &str,
        phones: &[&str],
    ) -> Strength {
        let local = Self::local_part(account_name);
        let mut inputs: Vec<&str> = vec![local.as_str()];
        inputs.extend(phones.iter().copied());
        Strength::of(password.expose(), &inputs)
    }

    /// The weakest estimate the policy accepts.
    pub fn min_strength(&self) -> Strength {
        self.config.min_strength
    }

    fn local_part(account_name: &str) -> String {
        account_name
            .split('@')
            .next()
            .unwrap_or_default()
            .to_lowercase()
    }

    /// All rules the password breaks (empty = acceptable). `account_name`
    /// and `phones` are the account's own identifiers, which must not
    /// appear in its password.
    pub fn check(
        &self,
        password: &SecretPassword,
        account_name: &str,
        phones: &[&str],
    ) -> Vec<PolicyViolation> {
        let pw = password.expose();
        let c = &self.config;
        let mut out = Vec::new();
        let len = pw.chars().count();
        if len < c.min_length {
            out.push(PolicyViolation::TooShort);
        }
        if len > Self::MAX_LEN {
            out.push(PolicyViolation::TooLong);
        }
        if c.require_upper && !pw.chars().any(|ch| ch.is_uppercase()) {
            out.push(PolicyViolation::NoUpper);
        }
        if c.require_lower && !pw.chars().any(|ch| ch.is_lowercase()) {
            out.push(PolicyViolation::NoLower);
        }
        if c.require_digit && !pw.chars().any(|ch| ch.is_ascii_digit()) {
            out.push(PolicyViolation::NoDigit);
        }
        if c.require_special
            && !pw
                .chars()
                .any(|ch| !ch.is_alphanumeric() && !ch.is_whitespace())
        {
            out.push(PolicyViolation::NoSpecial);
        }
        let lower = pw.to_lowercase();
        let local = Self::local_part(account_name);
        if local.chars().count() >= 3 && lower.contains(&local) {
            out.push(PolicyViolation::ContainsAccountName);
        }
        if len <= Self::MAX_LEN && super::is_common_password(pw) {
            out.push(PolicyViolation::Common);
        }
        if out.is_empty() && pw.chars().count() <= Self::MAX_LEN {
            // The estimate only matters once the plain rules are met (and is
            // bounded in cost by the length cap).
            if self.estimate(password, account_name, phones) < c.min_strength {
                out.push(PolicyViolation::TooWeak);
            }
        }
        for phone in phones {
            let national = phone
                .strip_prefix("+86")
                .unwrap_or(phone.trim_start_matches('+'));
            if national.len() >= 7 && pw.contains(national) {
                out.push(PolicyViolation::ContainsPhone);
                break;
            }
        }
        out
    }

    /// The rule list in English, for the CLI.
    pub fn explain(&self, violations: &[PolicyViolation]) -> String {
        violations
            .iter()
            .map(|v| v.describe_en(self))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> PasswordPolicy {
        PasswordPolicy::new(PasswordPolicyConfig::default())
    }

    #[test]
    fn at_most_128_characters() {
        let p = policy();
        // 128 characters of a strong password pass; one more is too long.
        let base = "Violet-Harbour-73!";
        let at_limit: String = base.chars().cycle().take(128).collect();
        assert!(
            !p.check(&SecretPassword::new(at_limit.clone()), "zhang", &[])
                .contains(&PolicyViolation::TooLong)
        );
        let over = format!("{at_limit}x");
        assert!(
            p.check(&SecretPassword::new(over), "zhang", &[])
                .contains(&PolicyViolation::TooLong)
        );
        // Characters, not bytes: 128 Chinese characters are within the cap.
        let cjk: String = "紫港七三".chars().cycle().take(128).collect();
        assert!(
            !p.check(&SecretPassword::new(cjk), "zhang", &[])
                .contains(&PolicyViolation::TooLong)
        );
    }

    #[test]
    fn common_passwords_are_refused_by_name() {
        let p = policy();
        // On the list (as "pe#5gz29ptzmse"), and otherwise fine: the
        // list is the only rule it breaks.
        let listed = SecretPassword::new("Pe#5gz29ptzmSE");
        assert_eq!(
            p.check(&listed, "zhang@cnic.cn", &[]),
            vec![PolicyViolation::Common]
        );
        assert_eq!(PolicyViolation::Common.code(), "common_password");
        // Control: the same shape, not on the list, passes.
        let unlisted = SecretPassword::new("Pe#5gz29ptzmSEq");
        assert!(p.check(&unlisted, "zhang@cnic.cn", &[]).is_empty());
    }

    #[test]
    fn passport_rules() {
        let p = policy();
        let ok = SecretPassword::new("Correct-Horse-9");
        assert!(p.check(&ok, "zhang@cnic.cn", &[]).is_empty());
        let v = p.check(&SecretPassword::new("short"), "zhang@cnic.cn", &[]);
        assert!(v.contains(&PolicyViolation::TooShort));
        assert!(v.contains(&PolicyViolation::NoUpper));
        assert!(v.contains(&PolicyViolation::NoDigit));
        assert!(v.contains(&PolicyViolation::NoSpecial));
        let v = p.check(&SecretPassword::new("Zhang-2024-xyz"), "zhang@cnic.cn", &[]);
        assert_eq!(v, vec![PolicyViolation::ContainsAccountName]);
        let v = p.check(
            &SecretPassword::new("X!13312348347a"),
            "li@cnic.cn",
            &["+8613312348347"],
        );
        assert_eq!(v, vec![PolicyViolation::ContainsPhone]);
    }

    #[test]
    fn strength_estimates() {
        let p = policy();
        let common = SecretPassword::new("Password123!");
        assert_eq!(
            p.check(&common, "li@cnic.cn", &[]),
            vec![PolicyViolation::TooWeak]
        );
        assert_eq!(Strength::of("Password123!", &[]), Strength::Weak);
        assert!(Strength::of("Correct-Horse-9", &[]) >= Strength::Medium);
        assert_eq!(Strength::of("vX9#qL2!mT7$wR4&", &[]), Strength::Strong);
    }

    #[test]
    fn debug_hides_the_secret() {
        assert!(!format!("{:?}", SecretPassword::new("hunter2")).contains("hunter2"));
    }
}
