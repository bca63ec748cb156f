//! Cryptographic building blocks: password hashing, random secrets.

pub mod password;
pub mod random;

pub use password::{HashError, PasswordHasher, Verified};
