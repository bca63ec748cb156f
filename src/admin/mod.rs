//! Administration: the JSON management API (`/api/v1`, for scripts and
//! other systems, authenticated by service-account tokens) and the console
//! (HTML pages for admins signed in with their passport).

pub mod api;
pub mod console;
