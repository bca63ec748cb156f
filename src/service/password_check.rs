//! The strength meter's verdict: the server's own password policy run on
//! a password being typed, for the account it is meant for.
//!
//! The meter on the password forms asks here instead of estimating in the
//! page, so it cannot call a password acceptable that the form's submit
//! would refuse: both run [`PasswordPolicy::check`] with the same account
//! name and phones. The password is never stored, logged or audited here;
//! the asking is rate-limited per account and per address (shared across
//! nodes through the ephemeral store), as each answer costs an estimate.

use std::time::Duration;

use serde::Serialize;

use crate::domain::{PasswordPolicy, PasswordRule, SecretPassword, Strength};
use crate::ephemeral::EphemeralError;
use crate::state::AppState;
use crate::store::users::User;

/// Checks per account in [`WINDOW`]: a person typing (the page asks after
/// a pause in typing) never comes near it.
pub const PER_ACCOUNT: i64 = 120;
/// Checks per client address in [`WINDOW`] (a campus NAT has many people).
pub const PER_ADDRESS: i64 = 1200;
pub const WINDOW: Duration = Duration::from_secs(600);

/// One listed rule, met or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RuleState {
    pub rule: PasswordRule,
    pub ok: bool,
}

/// What the meter shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// Whether setting this password would be accepted now.
    pub acceptable: bool,
    /// No level for an empty password; `weak` whenever it is not
    /// acceptable, whatever the estimate says.
    pub level: Option<Strength>,
    pub rules: Vec<RuleState>,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// Too many checks: ask again after this long.
    #[error("too many checks")]
    Limited(Duration),
    #[error(transparent)]
    Ephemeral(#[from] EphemeralError),
    #[error("the estimate stopped: {0}")]
    Internal(String),
}

/// The verdict of `policy` on `password` for an account named
/// `account_name` with `phones`: exactly the rules the setting of a
/// password enforces. Pure, for the service and its tests.
pub fn verdict(
    policy: &PasswordPolicy,
    password: &SecretPassword,
    account_name: &str,
    phones: &[&str],
) -> Verdict {
    let rules = policy.rules();
    if password.expose().is_empty() {
        return Verdict {
            acceptable: false,
            level: None,
            rules: rules
                .into_iter()
                .map(|rule| RuleState { rule, ok: false })
                .collect(),
        };
    }
    let violations = policy.check(password, account_name, phones);
    let within_cap = password.expose().chars().count() <= PasswordPolicy::MAX_LEN;
    // The policy estimates only once the plain rules hold; the list ticks
    // "not easy to guess" on its own, so it is estimated here regardless.
    let estimate = within_cap.then(|| policy.estimate(password, account_name, phones));
    let broken: Vec<PasswordRule> = violations.iter().map(|v| v.rule()).collect();
    let rules = rules
        .into_iter()
        .map(|rule| {
            let ok = match rule {
                PasswordRule::Guessable => {
                    !broken.contains(&rule) && estimate.is_some_and(|s| s >= policy.min_strength())
                }
                _ => !broken.contains(&rule),
            };
            RuleState { rule, ok }
        })
        .collect();
    let acceptable = violations.is_empty();
    Verdict {
        acceptable,
        level: Some(if acceptable {
            estimate.unwrap_or(Strength::Weak)
        } else {
            Strength::Weak
        }),
        rules,
    }
}

/// The account's own identifiers a password must not contain.
fn phones_of(user: &User) -> Vec<&str> {
    [&user.login_phone, &user.security_phone]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect()
}

/// Counts one check against a fixed window; the wait when over `limit`.
async fn over(state: &AppState, key: &str, limit: i64) -> Result<Option<Duration>, CheckError> {
    let eph = &state.ephemeral;
    if eph.add_fixed(key, 1, WINDOW).await? > limit {
        return Ok(Some(eph.ttl(key).await?.unwrap_or(WINDOW)));
    }
    Ok(None)
}

/// The verdict for `user`'s new password, asked from `ip`.
pub async fn check(
    state: &AppState,
    user: &User,
    ip: Option<&str>,
    password: SecretPassword,
) -> Result<Verdict, CheckError> {
    let by_account = format!("pwcheck:account:{}", user.id);
    if let Some(wait) = over(state, &by_account, PER_ACCOUNT).await? {
        return Err(CheckError::Limited(wait));
    }
    if let Some(ip) = ip {
        let by_address = format!("pwcheck:ip:{}", crate::crypto::sha256_hex(ip));
        if let Some(wait) = over(state, &by_address, PER_ADDRESS).await? {
            return Err(CheckError::Limited(wait));
        }
    }
    let policy = state.policy.clone();
    let name = user.username.clone();
    let phones: Vec<String> = phones_of(user).into_iter().map(String::from).collect();
    // The estimate takes milliseconds for a long password: off the
    // request threads.
    let verdict = tokio::task::spawn_blocking(move || {
        let phones: Vec<&str> = phones.iter().map(String::as_str).collect();
        verdict(&policy, &password, &name, &phones)
    })
    .await
    .map_err(|e| CheckError::Internal(e.to_string()))?;
    Ok(verdict)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PasswordPolicyConfig;

    fn policy() -> PasswordPolicy {
        PasswordPolicy::new(PasswordPolicyConfig::default())
    }

    fn ok_of(v: &Verdict, rule: PasswordRule) -> bool {
        v.rules.iter().any(|r| r.rule == rule && r.ok)
    }

    #[test]
    fn the_verdict_is_the_policy() {
        let p = policy();
        for pw in [
            "",
            "a",
            "Password123!",
            "zhangsan-Secret9!",
            "Tr0ub4dor&3xyzzy",
            "correct Horse battery 7 staple!",
            "13800138000Aa!x",
        ] {
            let secret = SecretPassword::new(pw);
            let v = verdict(&p, &secret, "zhangsan", &["+8613800138000"]);
            let refused = !p.check(&secret, "zhangsan", &["+8613800138000"]).is_empty();
            assert_eq!(v.acceptable, !refused, "{pw:?}");
            assert_eq!(v.level.is_none(), pw.is_empty(), "{pw:?}");
            if refused {
                assert_eq!(v.level, Some(Strength::Weak).filter(|_| !pw.is_empty()));
                assert!(v.rules.iter().any(|r| !r.ok), "{pw:?}: a rule is unmet");
            } else {
                assert!(v.rules.iter().all(|r| r.ok), "{pw:?}");
            }
        }
    }

    #[test]
    fn rules_are_ticked_one_by_one() {
        let p = policy();
        // Password123! meets every character rule but is easy to guess.
        let v = verdict(&p, &SecretPassword::new("Password123!"), "li", &[]);
        assert!(!v.acceptable);
        assert!(ok_of(&v, PasswordRule::Length) && ok_of(&v, PasswordRule::Special));
        assert!(!ok_of(&v, PasswordRule::Guessable));
        // A long lower-case phrase is hard to guess but lacks the classes.
        let v = verdict(
            &p,
            &SecretPassword::new("ochre lantern wobbles quietly"),
            "li",
            &[],
        );
        assert!(ok_of(&v, PasswordRule::Guessable) && ok_of(&v, PasswordRule::Lower));
        assert!(!ok_of(&v, PasswordRule::Upper) && !ok_of(&v, PasswordRule::Digit));
        // The account name.
        let v = verdict(
            &p,
            &SecretPassword::new("Zhangsan#Ochre9Lantern"),
            "zhangsan",
            &[],
        );
        assert!(!ok_of(&v, PasswordRule::Personal) && !v.acceptable);
        let v = verdict(
            &p,
            &SecretPassword::new("Wangwu#Ochre9Lantern"),
            "zhangsan",
            &[],
        );
        assert!(ok_of(&v, PasswordRule::Personal) && v.acceptable);
        assert!(v.level >= Some(Strength::Medium));
    }
}
