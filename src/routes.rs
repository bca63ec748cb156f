//! The whole URL table in one place. Other modules refer to these
//! constants (redirects, templates, later the discovery document), so a path
//! is spelled exactly once.

use axum::Router;
use axum::routing::get;

use crate::state::AppState;
use crate::{account, ops, pages};

pub const HOME: &str = "/";
pub const LOGIN: &str = "/login";
pub const LOGOUT: &str = "/logout";
pub const ACCOUNT: &str = "/account";
pub const HEALTHZ: &str = "/healthz";
pub const READYZ: &str = "/readyz";
pub const STYLESHEET: &str = "/static/tongxing.css";

/// Routes of the hosted pages (HTML, sessions, CSRF).
pub fn pages() -> Router<AppState> {
    Router::new()
        .route(HOME, get(account::home::redirect_home))
        .route(
            LOGIN,
            get(account::login::show).post(account::login::submit),
        )
        .route(
            LOGOUT,
            get(account::logout::show).post(account::logout::submit),
        )
        .route(ACCOUNT, get(account::home::show))
        .route(STYLESHEET, get(pages::stylesheet))
        .fallback(pages::not_found)
}

/// Operational endpoints: no session, no HTML.
pub fn ops() -> Router<AppState> {
    Router::new()
        .route(HEALTHZ, get(ops::healthz))
        .route(READYZ, get(ops::readyz))
}
