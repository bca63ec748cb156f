//! Domain newtypes: each has a `parse` that is the only way to build it, so
//! code that holds one knows the value is valid ("parse, don't validate").

mod account_name;
pub mod address;
pub mod block;
pub mod calendar;
pub mod claims;
pub mod client;
mod common_passwords;
pub mod device;
pub mod dn;
mod email;
mod id_number;
pub mod organization;
mod password;
mod phone;
mod role;
mod scope;

pub use account_name::AccountName;
pub use address::PostalAddress;
pub use block::{ALL_CLIENTS, BlockReason};
pub use common_passwords::is_common_password;
pub use device::Device;
pub use email::Email;
pub use id_number::{CaseNumber, ChineseIdNumber, PassportNumber};
pub use organization::{Alias, FullName, MailDomain, OrganizationStatus, ShortName, name_key};
pub use password::{PasswordPolicy, PasswordRule, PolicyViolation, SecretPassword, Strength};
pub use phone::{PhoneError, PhoneKind, PhoneNumber};
pub use role::{Role, Roles};
pub use scope::{KNOWN_SCOPES, Scope};

/// Why a value was refused; the `field` names the input so pages, the API
/// and the CLI can say exactly what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidValue {
    pub field: &'static str,
    pub reason: &'static str,
}

impl InvalidValue {
    pub fn new(field: &'static str, reason: &'static str) -> Self {
        Self { field, reason }
    }
}
