//! The whole URL table in one place. Other modules refer to these
//! constants (redirects, templates, the discovery document), so a path is
//! spelled exactly once.

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;
use crate::{account, admin, oidc, ops, pages};

pub const HOME: &str = "/";
pub const LOGIN: &str = "/login";
pub const LOGOUT: &str = "/logout";
pub const STEP_UP: &str = "/login/sms";
pub const STEP_UP_SEND: &str = "/login/sms/send";
pub const STEP_UP_HELP: &str = "/login/sms/help";
pub const COUNTDOWN_JS: &str = "/static/countdown.js";
pub const STRENGTH_JS: &str = "/static/strength.js";
pub const ACCOUNT: &str = "/account";
pub const ACCOUNT_APPS: &str = "/account/apps";
pub const ACCOUNT_PASSWORD: &str = "/account/password";
pub const ACCOUNT_APPS_REVOKE: &str = "/account/apps/revoke";
pub const ACCOUNT_EMAIL: &str = "/account/email";
pub const ACCOUNT_EMAIL_REMOVE: &str = "/account/email/remove";
pub const ACCOUNT_EMAIL_CONFIRM: &str = "/account/email/confirm";
pub const RECOVER: &str = "/recover";
pub const RECOVER_METHOD: &str = "/recover/method";
pub const RECOVER_SMS_SEND: &str = "/recover/sms/send";
pub const RECOVER_SMS: &str = "/recover/sms";
pub const RECOVER_EMAIL: &str = "/recover/email";
pub const RECOVER_LINK: &str = "/recover/link";
pub const RECOVER_PASSWORD: &str = "/recover/password";
pub const ADMIN: &str = "/admin";
pub const ADMIN_USERS: &str = "/admin/users";
pub const ADMIN_USER: &str = "/admin/users/{id}";
pub const ADMIN_CLIENTS: &str = "/admin/clients";
pub const ADMIN_AUDIT: &str = "/admin/audit";
pub const HEALTHZ: &str = "/healthz";
pub const READYZ: &str = "/readyz";
pub const STYLESHEET: &str = "/static/tongxing.css";

pub const DISCOVERY: &str = "/.well-known/openid-configuration";
pub const JWKS: &str = "/jwks";
pub const AUTHORIZE: &str = "/authorize";
pub const CONSENT: &str = "/authorize/consent";
pub const AUTHORIZE_CANCEL: &str = "/authorize/cancel";
pub const TOKEN: &str = "/token";
pub const USERINFO: &str = "/userinfo";
pub const INTROSPECT: &str = "/introspect";
pub const REVOKE: &str = "/revoke";

/// The management API's OpenAPI document. The API itself lives under
/// `/api/v1`; its routes are declared with their handlers in `admin::api`
/// (utoipa-axum), from which the document is generated.
pub const OPENAPI: &str = "/api/openapi.json";

/// Routes of the hosted pages (HTML, sessions, CSRF). `/authorize` and
/// `/logout` are here because they work with the browser session.
pub fn pages() -> Router<AppState> {
    Router::new()
        .route(HOME, get(account::home::redirect_home))
        .route(
            LOGIN,
            get(account::login::show).post(account::login::submit),
        )
        .route(LOGOUT, get(oidc::logout::get).post(oidc::logout::post))
        .route(
            STEP_UP,
            get(account::step_up::show).post(account::step_up::verify),
        )
        .route(STEP_UP_SEND, post(account::step_up::send))
        .route(STEP_UP_HELP, get(account::step_up::help))
        .route(COUNTDOWN_JS, get(pages::countdown_script))
        .route(STRENGTH_JS, get(pages::strength_script))
        .route(ACCOUNT, get(account::home::show))
        .route(ACCOUNT_APPS, get(account::apps::show))
        .route(
            ACCOUNT_PASSWORD,
            get(account::password::show).post(account::password::submit),
        )
        .route(ACCOUNT_APPS_REVOKE, post(account::apps::revoke))
        .route(
            ACCOUNT_EMAIL,
            get(account::email::show).post(account::email::change),
        )
        .route(ACCOUNT_EMAIL_REMOVE, post(account::email::remove))
        .route(
            ACCOUNT_EMAIL_CONFIRM,
            get(account::email::confirm_page).post(account::email::confirm),
        )
        .route(
            RECOVER,
            get(account::recover::show).post(account::recover::start),
        )
        .route(RECOVER_METHOD, get(account::recover::method))
        .route(RECOVER_SMS_SEND, post(account::recover::send_code))
        .route(
            RECOVER_SMS,
            get(account::recover::code).post(account::recover::verify_code),
        )
        .route(RECOVER_EMAIL, post(account::recover::send_link))
        .route(RECOVER_LINK, get(account::recover::open_link))
        .route(
            RECOVER_PASSWORD,
            get(account::recover::password).post(account::recover::reset),
        )
        .route(
            AUTHORIZE,
            get(oidc::authorize::get).post(oidc::authorize::post),
        )
        .route(CONSENT, post(oidc::authorize::consent))
        .route(AUTHORIZE_CANCEL, post(oidc::authorize::cancel))
        .route(ADMIN, get(admin::console::dashboard::show))
        .route(
            ADMIN_USERS,
            get(admin::console::users::search).post(admin::console::users::create),
        )
        .route(
            ADMIN_USER,
            get(admin::console::users::detail).post(admin::console::users::act),
        )
        .route(ADMIN_CLIENTS, get(admin::console::clients::show))
        .route(ADMIN_AUDIT, get(admin::console::audit::show))
        .route(STYLESHEET, get(pages::stylesheet))
        .fallback(pages::not_found)
}

/// Back-channel protocol endpoints for relying parties: JSON, no session.
/// CORS is open so browser-based (public, PKCE) clients can call them; no
/// cookies are involved, so no credentials are allowed cross-origin.
pub fn protocol() -> Router<AppState> {
    use axum::http::{Method, header};
    use tower_http::cors::{Any, CorsLayer};
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]);
    Router::new()
        .route(DISCOVERY, get(oidc::discovery::configuration))
        .route(JWKS, get(oidc::discovery::jwks))
        .route(TOKEN, post(oidc::token::token))
        .route(
            USERINFO,
            get(oidc::userinfo::get).post(oidc::userinfo::post),
        )
        .route(INTROSPECT, post(oidc::introspect::introspect))
        .route(REVOKE, post(oidc::revoke::revoke))
        .layer(cors)
}

/// Operational endpoints: no session, no HTML.
pub fn ops() -> Router<AppState> {
    Router::new()
        .route(HEALTHZ, get(ops::healthz))
        .route(READYZ, get(ops::readyz))
}
