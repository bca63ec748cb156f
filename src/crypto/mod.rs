//! Cryptographic building blocks: password hashing, random secrets.

pub mod jws;
pub mod kek;
pub mod password;
pub mod random;

pub use password::{HashError, PasswordHasher, Verified};
