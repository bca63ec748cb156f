//! The user's own pages: login, logout, account overview, password,
//! security e-mail, and recovery of a forgotten password.

pub mod apps;
pub mod email;
pub mod home;
pub mod login;
pub mod password;
pub mod recover;
pub mod step_up;
