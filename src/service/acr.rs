//! Which authentication context class an authorization needs, and which
//! one it reports (OIDC Core §2 `acr`, §3.1.2.1 `acr_values`, §5.5.1.1).
//!
//! * `acr_values` is voluntary and ordered by preference: the first value
//!   the sign-in already meets, or the account can be brought to meet
//!   (SMS step-up needs a login phone), decides; values the account cannot
//!   meet are passed over, and with none left the authorization goes on
//!   with the class achieved.
//! * An essential `acr` (the `claims` parameter with `"essential": true`)
//!   or the client's `require_sms` must be met: step-up is owed whatever
//!   the account has, and the step-up page says what is missing.
//! * The `acr` reported is the first requested value the sign-in meets,
//!   or else the highest class it achieved.

use crate::domain::claims::ClaimsRequest;

/// Authentication context class references Tongxing asserts.
pub const ACR_PASSWORD: &str = "urn:tongxing:acr:password";
pub const ACR_SMS: &str = "urn:tongxing:acr:sms";
pub const ACR_VALUES: &[&str] = &[ACR_PASSWORD, ACR_SMS];

/// What one authorization request asks of the sign-in's class.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AcrRequest {
    /// Voluntary, in order of preference (`acr_values`, then the values of
    /// a voluntary `acr` claim).
    pub preferred: Vec<String>,
    /// Essential: one of these must be met (an essential `acr` claim).
    pub essential: Vec<String>,
    /// The client requires SMS (`require_sms`).
    pub client_requires_sms: bool,
}

/// Whether a sign-in with these methods meets `acr`.
fn met(acr: &str, amr: &[String]) -> bool {
    match acr {
        ACR_PASSWORD => true,
        ACR_SMS => amr.iter().any(|m| m == "sms"),
        _ => false,
    }
}

/// Whether step-up can bring an account there.
fn reachable(acr: &str, has_phone: bool) -> bool {
    match acr {
        ACR_PASSWORD => true,
        ACR_SMS => has_phone,
        _ => false,
    }
}

impl AcrRequest {
    pub fn new(
        acr_values: Option<&str>,
        claims: Option<&ClaimsRequest>,
        require_sms: bool,
    ) -> Self {
        let mut req = AcrRequest {
            preferred: acr_values
                .unwrap_or_default()
                .split(' ')
                .filter(|v| !v.is_empty())
                .map(str::to_string)
                .collect(),
            essential: Vec::new(),
            client_requires_sms: require_sms,
        };
        if let Some(ask) = claims.and_then(ClaimsRequest::acr) {
            if ask.essential {
                req.essential = ask.values.clone();
            } else {
                req.preferred.extend(ask.values.iter().cloned());
            }
        }
        req
    }

    /// An essential `acr` none of whose values Tongxing knows cannot be
    /// met by any sign-in (§5.5.1.1: the authentication fails).
    pub fn impossible(&self) -> bool {
        !self.essential.is_empty()
            && !self
                .essential
                .iter()
                .any(|v| ACR_VALUES.contains(&v.as_str()))
    }

    /// Whether SMS step-up is owed before a code, for a sign-in with `amr`
    /// of an account that has (or lacks) a login phone.
    pub fn step_up_owed(&self, amr: &[String], has_phone: bool) -> bool {
        let sms = amr.iter().any(|m| m == "sms");
        if sms {
            return false;
        }
        if self.client_requires_sms {
            return true;
        }
        if !self.essential.is_empty() && !self.essential.iter().any(|v| met(v, amr)) {
            return true;
        }
        // The first preferred value that is met or reachable decides.
        self.preferred
            .iter()
            .find(|v| met(v, amr) || reachable(v, has_phone))
            .is_some_and(|v| !met(v, amr))
    }

    /// The `acr` to report for a sign-in with `amr`.
    pub fn achieved(&self, amr: &[String]) -> &'static str {
        let asked = if self.essential.is_empty() {
            &self.preferred
        } else {
            &self.essential
        };
        asked
            .iter()
            .find_map(|v| ACR_VALUES.iter().find(|k| **k == v.as_str() && met(k, amr)))
            .copied()
            .unwrap_or(if met(ACR_SMS, amr) {
                ACR_SMS
            } else {
                ACR_PASSWORD
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amr(m: &[&str]) -> Vec<String> {
        m.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn preferences_are_voluntary_and_ordered() {
        let pwd = amr(&["pwd"]);
        let sms = amr(&["pwd", "sms"]);
        let both = AcrRequest::new(Some(&format!("{ACR_SMS} {ACR_PASSWORD}")), None, false);
        // With a phone the first preference is reachable: step-up.
        assert!(both.step_up_owed(&pwd, true));
        // Without one it is passed over for the password class.
        assert!(!both.step_up_owed(&pwd, false));
        assert_eq!(both.achieved(&pwd), ACR_PASSWORD);
        assert_eq!(both.achieved(&sms), ACR_SMS);
        // Unknown values are passed over.
        let odd = AcrRequest::new(Some("urn:other:gold"), None, false);
        assert!(!odd.step_up_owed(&pwd, true));
        assert_eq!(odd.achieved(&pwd), ACR_PASSWORD);
        // A password preference is met by an SMS sign-in too, and reported.
        let low = AcrRequest::new(Some(ACR_PASSWORD), None, false);
        assert_eq!(low.achieved(&sms), ACR_PASSWORD);
        assert!(!low.step_up_owed(&pwd, true));
    }

    #[test]
    fn essential_acr_and_the_client_setting_must_be_met() {
        let pwd = amr(&["pwd"]);
        let claims = ClaimsRequest::parse(&format!(
            r#"{{"id_token":{{"acr":{{"essential":true,"values":["{ACR_SMS}"]}}}}}}"#
        ))
        .unwrap();
        let essential = AcrRequest::new(None, Some(&claims), false);
        assert!(essential.step_up_owed(&pwd, false));
        assert!(!essential.step_up_owed(&amr(&["pwd", "sms"]), false));
        assert!(!essential.impossible());
        let client = AcrRequest::new(None, None, true);
        assert!(client.step_up_owed(&pwd, false));
        let gold =
            ClaimsRequest::parse(r#"{"id_token":{"acr":{"essential":true,"value":"gold"}}}"#)
                .unwrap();
        assert!(AcrRequest::new(None, Some(&gold), false).impossible());
    }
}
