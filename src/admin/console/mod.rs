//! The admin console (HTML). Filled in below.
