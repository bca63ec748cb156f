//! The signed-in user's own pages: login, logout, account overview.

pub mod apps;
pub mod home;
pub mod login;
pub mod password;
pub mod step_up;
