//! Why an account may not use an application (see `service::blocks`).

use std::fmt;

use super::InvalidValue;

/// The client id a block for every application names.
pub const ALL_CLIENTS: &str = "*";

/// Why an account is blocked for an application.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum BlockReason {
    /// The password the account signed in with breaks the current policy,
    /// and the application demands strong passwords.
    WeakPassword,
    /// An administrator blocked it.
    Admin,
    /// The credentials are known to be in other hands.
    Compromised,
}

impl BlockReason {
    pub const ALL: [BlockReason; 3] = [
        BlockReason::WeakPassword,
        BlockReason::Admin,
        BlockReason::Compromised,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BlockReason::WeakPassword => "weak_password",
            BlockReason::Admin => "admin",
            BlockReason::Compromised => "compromised",
        }
    }

    pub fn parse(input: &str) -> Result<Self, InvalidValue> {
        let name = input.trim().to_ascii_lowercase();
        BlockReason::ALL
            .into_iter()
            .find(|r| r.as_str() == name)
            .ok_or(InvalidValue::new(
                "reason",
                "must be weak_password, admin or compromised",
            ))
    }
}

impl fmt::Display for BlockReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for BlockReason {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        BlockReason::parse(&value).map_err(|_| format!("unknown block reason {value:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_round_trip() {
        for r in BlockReason::ALL {
            assert_eq!(BlockReason::parse(r.as_str()), Ok(r));
            assert_eq!(BlockReason::try_from(r.to_string()), Ok(r));
        }
        assert!(BlockReason::parse("weak").is_err());
        assert!(BlockReason::try_from("".to_string()).is_err());
    }
}
