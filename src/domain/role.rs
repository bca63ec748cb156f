//! Roles an account can hold beside the system administrator's (the
//! account's `is_admin`, which keeps every right of the administration).
//! A role grants one kind of work and nothing else: a reviewer decides
//! review cases, in the console's review pages and the review operations
//! of the management API, and sees no other part of the administration.
//! An organization administrator (所邮箱管理员) looks after the accounts of
//! the organizations assigned to it (`organization_admins`), and of no
//! others: see [`crate::service::organizations::AdminScope`].

use std::fmt;

use serde::{Deserialize, Serialize};

use super::InvalidValue;

/// One role.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Works the review queue: claims, notes, approves and rejects review
    /// cases, and views their identity documents (every view audited).
    Reviewer,
    /// Searches and views the accounts of the organizations assigned to it,
    /// resets their passwords, lifts their blocks and requires them to bind
    /// a phone. Granted per organization: the role is held while at least
    /// one organization is assigned.
    OrgAdmin,
}

impl Role {
    pub const ALL: [Role; 2] = [Role::Reviewer, Role::OrgAdmin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reviewer => "reviewer",
            Role::OrgAdmin => "org_admin",
        }
    }

    /// A role by its name, as the CLI and the console send it.
    pub fn parse(name: &str) -> Result<Role, InvalidValue> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == name.trim())
            .ok_or(InvalidValue::new(
                "roles",
                "is not a known role (reviewer, org_admin)",
            ))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The roles of an account: a set, kept sorted. Stored as the names
/// separated by one space (`""` for none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roles(Vec<Role>);

impl Roles {
    pub fn new(roles: impl IntoIterator<Item = Role>) -> Roles {
        let mut list: Vec<Role> = roles.into_iter().collect();
        list.sort_unstable();
        list.dedup();
        Roles(list)
    }

    pub fn none() -> Roles {
        Roles(Vec::new())
    }

    pub fn contains(&self, role: Role) -> bool {
        self.0.contains(&role)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = Role> + '_ {
        self.0.iter().copied()
    }

    /// These roles with `role` added or taken away.
    pub fn with(&self, role: Role, held: bool) -> Roles {
        Roles::new(
            self.iter()
                .filter(|r| *r != role)
                .chain(held.then_some(role)),
        )
    }

    /// Roles in `self` that `other` lacks.
    pub fn missing_from(&self, other: &Roles) -> Vec<Role> {
        self.iter().filter(|r| !other.contains(*r)).collect()
    }

    /// The stored form: names sorted, separated by one space.
    pub fn to_stored(&self) -> String {
        self.0
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Reads the stored form. A name this release does not know (written
    /// by a newer one during an upgrade) grants nothing here and is left
    /// out, never an error that would make the account unreadable.
    pub fn from_stored(text: &str) -> Roles {
        Roles::new(text.split_whitespace().filter_map(|n| Role::parse(n).ok()))
    }
}

impl From<String> for Roles {
    fn from(value: String) -> Self {
        Roles::from_stored(&value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_form_round_trips_and_unknown_names_grant_nothing() {
        let r = Roles::new([Role::Reviewer, Role::Reviewer]);
        assert_eq!(r.to_stored(), "reviewer");
        assert_eq!(Roles::from_stored("reviewer"), r);
        assert_eq!(Roles::from_stored(" reviewer  auditor "), r);
        assert!(Roles::from_stored("").is_empty());
        assert!(Roles::from_stored("auditor").is_empty());
        let both = Roles::new([Role::OrgAdmin, Role::Reviewer]);
        assert_eq!(both.to_stored(), "reviewer org_admin");
        assert_eq!(Roles::from_stored("org_admin reviewer"), both);
        assert_eq!(Roles::none().to_stored(), "");
    }

    #[test]
    fn with_adds_and_removes() {
        let none = Roles::none();
        let rev = none.with(Role::Reviewer, true);
        assert!(rev.contains(Role::Reviewer));
        assert_eq!(rev.with(Role::Reviewer, true), rev);
        assert!(rev.with(Role::Reviewer, false).is_empty());
        assert_eq!(rev.missing_from(&none), [Role::Reviewer]);
        assert!(none.missing_from(&rev).is_empty());
    }

    #[test]
    fn names_parse() {
        assert_eq!(Role::parse("reviewer").unwrap(), Role::Reviewer);
        assert_eq!(Role::parse(" reviewer ").unwrap(), Role::Reviewer);
        assert_eq!(Role::parse("org_admin").unwrap(), Role::OrgAdmin);
        assert!(Role::parse("Reviewer").is_err());
        assert!(Role::parse("admin").is_err());
    }
}
