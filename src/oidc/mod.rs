//! The OpenID Connect / OAuth 2.0 endpoints for relying applications.

pub mod authorize;
pub mod client_auth;
pub mod discovery;
pub mod dpop;
pub mod errors;
pub mod introspect;
pub mod logout;
pub mod par;
pub mod params;
pub mod registration;
pub mod requests;
pub mod revoke;
pub mod token;
pub mod userinfo;
