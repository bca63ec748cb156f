//! Builds the routers from the URL table ([`crate::routes`]) and the
//! handlers. Three surfaces, three routers: the hosted pages (sessions,
//! CSRF, HTML errors in the user's language), the protocol endpoints (no
//! session, open CORS) and the management API (declared with its handlers
//! by utoipa-axum), plus the operational probes.

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware;
use axum::routing::{get, post};
use tower::ServiceBuilder;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::routes::*;
use crate::state::AppState;
use crate::store::sessions::SessionBackend;
use crate::{account, admin, assets, i18n, input, metrics, oidc, ops, pages, routes, session};

/// Largest body of a form, a protocol request or an API call.
const FORM_LIMIT: usize = 256 * 1024;

/// The whole application: every router with its layers.
pub fn build(state: AppState, sessions: SessionBackend) -> Router {
    let config = &state.config;
    let cookies = state.cookies;
    let session_layer = cookies.session_layer(
        sessions,
        config.session.cookie_name.clone(),
        config.session.idle(),
    );

    // The error pages are drawn outside the session layer, so that its
    // own failure (saving the session) gets a page too.
    // Bodies: a plain form or API call is small; the upload pages take
    // up to three documents and the form around them. Every router has its
    // own limit (a route nobody serves never reads the body).
    let upload_limit = config.review.max_document_bytes * 3 + FORM_LIMIT;
    let pages = pages()
        .layer(RequestBodyLimitLayer::new(FORM_LIMIT))
        .merge(
            uploads()
                .layer(axum::extract::DefaultBodyLimit::max(upload_limit))
                .layer(RequestBodyLimitLayer::new(upload_limit))
                .layer(middleware::from_fn_with_state(
                    config.review.max_document_bytes,
                    account::unbind::too_large_as_page,
                )),
        )
        .layer(middleware::from_fn(input::pages_guard))
        .layer(middleware::from_fn_with_state(
            cookies,
            session::csrf_cookie,
        ))
        .layer(session_layer)
        .layer(middleware::from_fn(pages::answer_session_failures))
        .layer(middleware::from_fn(pages::render_error_pages))
        .layer(middleware::from_fn_with_state(cookies, i18n::negotiate))
        .layer(middleware::from_fn_with_state(
            std::sync::Arc::new(config.branding.clone()),
            crate::frame::frame,
        ));

    let request_id = HeaderName::from_static("x-request-id");
    let headers = ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data: https:; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
            ),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store")));

    let (api, openapi) = admin::api::router();
    let openapi = std::sync::Arc::new(openapi);
    let api = api.layer(middleware::from_fn(input::api_guard)).route(
        routes::OPENAPI,
        axum::routing::get(move || {
            let doc = openapi.clone();
            async move { axum::Json(doc.as_ref().clone()) }
        }),
    );

    // Behind https, browsers are told to use nothing else (RFC 6797); not
    // for subdomains, which may be other services of the institution.
    let hsts = cookies.secure.then(|| {
        SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        )
    });

    Router::new()
        .merge(ops().layer(RequestBodyLimitLayer::new(FORM_LIMIT)))
        .merge(protocol().layer(RequestBodyLimitLayer::new(FORM_LIMIT)))
        .merge(api.layer(RequestBodyLimitLayer::new(FORM_LIMIT)))
        .merge(pages)
        // Inside the routes (each is wrapped), where the matched pattern
        // is known: requests are counted by pattern, not by raw path.
        .layer(middleware::from_fn(metrics::track))
        .layer(headers)
        .layer(tower::util::option_layer(hsts))
        .layer(middleware::from_fn(admin::api::too_large_as_problem))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
                // Spans name the path only: queries carry one-time tokens
                // (recovery and confirmation links, authorization codes).
                // The request id (set just outside, or the proxy's) is on
                // every line logged while the request runs, audit lines
                // included, so one request's lines can be found together.
                .layer(TraceLayer::new_for_http().make_span_with(
                    |req: &axum::extract::Request| {
                        let id = req
                            .headers()
                            .get("x-request-id")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-");
                        tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
                    },
                ))
                .layer(PropagateRequestIdLayer::new(request_id)),
        )
        .layer(middleware::from_fn_with_state(state.clone(), ops::track_outages))
        .with_state(state)
}

/// Routes of the hosted pages (HTML, sessions, CSRF). `/authorize` and
/// `/logout` are here because they work with the browser session.
fn pages() -> Router<AppState> {
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
        .route(
            STEP_UP_SEND,
            get(page_of(STEP_UP)).post(account::step_up::send),
        )
        .route(STEP_UP_HELP, get(account::step_up::help))
        .route(
            STEP_UP_UNREACHABLE,
            get(page_of(STEP_UP)).post(account::unbind::enter),
        )
        .route(ACCOUNT_PHONE_UNBIND, get(account::unbind::list))
        .route(
            ACCOUNT_PHONE_UNBIND_WITHDRAW,
            get(page_of(ACCOUNT_PHONE_UNBIND)).post(account::unbind::withdraw),
        )
        .route(
            ACCOUNT_PHONE_UNBIND_DOCUMENT,
            get(account::unbind::document),
        )
        .route(
            UNBIND_CANCEL,
            get(account::unbind::cancel_show).post(account::unbind::cancel),
        )
        .route(PASSWORD_CHECK, post(account::password_check::check))
        .route(ACCOUNT, get(account::home::show))
        .route(ACCOUNT_PROFILE, get(account::profile::show))
        .route(HELP, get(account::help::show))
        .route(ACCOUNT_APPS, get(account::apps::show))
        .route(
            ACCOUNT_PASSWORD,
            get(account::password::show).post(account::password::submit),
        )
        .route(
            ACCOUNT_APPS_REVOKE,
            get(page_of(ACCOUNT_APPS)).post(account::apps::revoke),
        )
        .route(
            ACCOUNT_APP_PASSWORDS,
            get(account::app_passwords::show).post(account::app_passwords::create),
        )
        .route(
            ACCOUNT_APP_PASSWORDS_REVOKE,
            get(page_of(ACCOUNT_APP_PASSWORDS)).post(account::app_passwords::revoke),
        )
        .route(
            ACCOUNT_APP_PASSWORDS_REVOKE_ALL,
            get(page_of(ACCOUNT_APP_PASSWORDS)).post(account::app_passwords::revoke_all),
        )
        .route(
            ACCOUNT_APP_PASSWORDS_CONFIRM,
            get(page_of(ACCOUNT_APP_PASSWORDS)).post(account::app_passwords::confirm),
        )
        .route(ACCOUNT_SESSIONS, get(account::sessions::show))
        .route(
            ACCOUNT_SESSIONS_END,
            get(page_of(ACCOUNT_SESSIONS)).post(account::sessions::end),
        )
        .route(
            ACCOUNT_SESSIONS_END_OTHERS,
            get(page_of(ACCOUNT_SESSIONS)).post(account::sessions::end_others),
        )
        .route(
            ACCOUNT_EMAIL,
            get(account::email::show).post(account::email::change),
        )
        .route(
            ACCOUNT_EMAIL_REMOVE,
            get(page_of(ACCOUNT_EMAIL)).post(account::email::remove),
        )
        .route(
            ACCOUNT_EMAIL_CONFIRM,
            get(account::email::confirm_page).post(account::email::confirm),
        )
        .route(ACCOUNT_PHONE, get(account::phone::show))
        .route(
            ACCOUNT_PHONE_OLD_SEND,
            get(account::phone::to_page).post(account::phone::send_old),
        )
        .route(
            ACCOUNT_PHONE_OLD,
            get(account::phone::to_page).post(account::phone::prove_old),
        )
        .route(
            ACCOUNT_PHONE_NEW_SEND,
            get(account::phone::to_page).post(account::phone::send_new),
        )
        .route(
            ACCOUNT_PHONE_NEW,
            get(account::phone::to_page).post(account::phone::confirm),
        )
        .route(
            ACCOUNT_PHONE_BIND,
            get(account::phone::bind_show).post(account::phone::bind),
        )
        .route(
            ACCOUNT_PHONE_BIND_SEND,
            get(page_of(ACCOUNT_PHONE_BIND)).post(account::phone::bind_send),
        )
        .route(
            ACCOUNT_PHONE_BIND_SKIP,
            get(page_of(ACCOUNT_PHONE_BIND)).post(account::phone::bind_skip),
        )
        .route(RETRIEVE, get(account::retrieve::start))
        .route(
            RETRIEVE_REGISTER,
            get(page_of(RETRIEVE)).post(account::retrieve::register),
        )
        .route(
            RETRIEVE_FORM,
            get(account::retrieve::form).post(account::retrieve::submit_form),
        )
        .route(
            RETRIEVE_CONFIRM,
            get(account::retrieve::confirm_show).post(account::retrieve::confirm),
        )
        .route(
            RETRIEVE_CONFIRM_SEND,
            get(page_of(RETRIEVE_CONFIRM)).post(account::retrieve::confirm_send),
        )
        .route(RETRIEVE_CASE, get(account::retrieve::case_page))
        .route(RETRIEVE_PDF, get(account::retrieve::pdf))
        .route(
            RETRIEVE_FILES,
            get(account::retrieve::files_show).post(account::retrieve::files),
        )
        .route(RETRIEVE_UPLOAD, get(account::retrieve::upload_show))
        .route(RETRIEVE_UPLOAD_IMAGE, get(account::retrieve::image))
        .route(RETRIEVE_SAMPLE, get(account::retrieve::sample))
        .route(
            RETRIEVE_SUBMIT,
            get(page_of(RETRIEVE_UPLOAD)).post(account::retrieve::submit),
        )
        .route(
            RETRIEVE_COMPLETE,
            get(account::retrieve::complete_show).post(account::retrieve::complete),
        )
        .route(
            RECOVER,
            get(account::recover::show).post(account::recover::start),
        )
        .route(RECOVER_METHOD, get(account::recover::method))
        .route(
            RECOVER_SMS_SEND,
            get(page_of(RECOVER_SMS)).post(account::recover::send_code),
        )
        .route(
            RECOVER_SMS,
            get(account::recover::code).post(account::recover::verify_code),
        )
        .route(
            RECOVER_EMAIL,
            get(account::recover::mail_sent).post(account::recover::send_link),
        )
        .route(RECOVER_LINK, get(account::recover::open_link))
        .route(
            RECOVER_PASSWORD,
            get(account::recover::password).post(account::recover::reset),
        )
        .route(RECOVER_DONE, get(account::recover::done))
        .route(
            AUTHORIZE,
            get(oidc::authorize::get).post(oidc::authorize::post),
        )
        .route(
            CONSENT,
            get(page_of(ACCOUNT)).post(oidc::authorize::consent::answer),
        )
        .route(
            AUTHORIZE_SWITCH,
            get(page_of(ACCOUNT)).post(oidc::authorize::consent::switch_account),
        )
        .route(
            DEVICE,
            get(account::device::show).post(account::device::submit),
        )
        .route(DEVICE_CALLBACK, get(account::device::callback))
        .route(
            AUTHORIZE_CANCEL,
            get(page_of(ACCOUNT)).post(oidc::authorize::consent::cancel),
        )
        .route(ADMIN, get(admin::console::dashboard::show))
        .route(
            ADMIN_USERS,
            get(admin::console::users::search).post(admin::console::users::create),
        )
        .route(
            ADMIN_USER,
            get(admin::console::users::detail).post(admin::console::users::act),
        )
        .route(
            ADMIN_ORGANIZATIONS,
            get(admin::console::organizations::list).post(admin::console::organizations::create),
        )
        .route(
            ADMIN_ORGANIZATION,
            get(admin::console::organizations::detail).post(admin::console::organizations::act),
        )
        .route(ADMIN_CLIENTS, get(admin::console::clients::show))
        .route(
            ADMIN_CLIENT_STRONG_PASSWORD,
            get(page_of(ADMIN_CLIENTS)).post(admin::console::clients::strong_password),
        )
        .route(
            ADMIN_CLIENT_LISTING,
            get(page_of(ADMIN_CLIENTS)).post(admin::console::clients::listing),
        )
        .route(
            ADMIN_CLIENT_LDAP,
            get(page_of(ADMIN_CLIENTS)).post(admin::console::clients::ldap),
        )
        .route(ADMIN_BLOCKS, get(admin::console::blocks::show))
        .route(ADMIN_BLOCKS_CSV, get(admin::console::blocks::export))
        .route(ADMIN_AUDIT, get(admin::console::audit::show))
        .route(
            ADMIN_CALENDAR,
            get(admin::console::calendar::show).post(admin::console::calendar::save),
        )
        .route(ADMIN_REVIEW, get(admin::console::review::queue))
        .route(
            ADMIN_REVIEW_CASE,
            get(admin::console::review::case).post(admin::console::review::act),
        )
        .route(ADMIN_REVIEW_DOCUMENT, get(admin::console::review::document))
        .merge(assets::router())
        .fallback(pages::not_found)
}

/// A GET of a path that only takes a form (POST) leads to the page the
/// form belongs to. Every answer of a hosted page thus has a GET URL: the
/// language switch of a page drawn in answer to a POST ("?lang=en",
/// relative) and a reload after Back land on a page, never on a 405.
/// The pages that take uploads (the unbind application's form and its
/// edit form): the only pages with a body larger than a plain form's.
fn uploads() -> Router<AppState> {
    Router::new()
        .route(
            ACCOUNT_PHONE_UNBIND_NEW,
            get(account::unbind::form).post(account::unbind::submit),
        )
        .route(
            ACCOUNT_PHONE_UNBIND_EDIT,
            get(account::unbind::edit_form).post(account::unbind::edit),
        )
        .route(
            RETRIEVE_UPLOAD_SLOT,
            get(page_of(RETRIEVE_UPLOAD)).post(account::retrieve::upload),
        )
}

fn page_of(
    page: &'static str,
) -> impl Fn() -> std::future::Ready<axum::response::Redirect> + Clone {
    move || std::future::ready(axum::response::Redirect::to(page))
}

/// Back-channel protocol endpoints for relying parties: JSON, no session.
/// CORS is open so browser-based (public, PKCE) clients can call them; no
/// cookies are involved, so no credentials are allowed cross-origin. Such
/// clients send DPoP proofs and must read the nonce and the challenge.
fn protocol() -> Router<AppState> {
    use axum::http::{HeaderName, Method, header};
    use tower_http::cors::{Any, CorsLayer};
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("dpop"),
        ])
        .expose_headers([
            HeaderName::from_static("dpop-nonce"),
            header::WWW_AUTHENTICATE,
        ]);
    Router::new()
        .route(DISCOVERY, get(oidc::discovery::configuration))
        .route(JWKS, get(oidc::discovery::jwks))
        .route(TOKEN, post(oidc::token::token))
        .route(
            DEVICE_AUTHORIZATION,
            post(oidc::token::device_authorization),
        )
        .route(PAR, post(oidc::par::push))
        .route(
            USERINFO,
            get(oidc::userinfo::get).post(oidc::userinfo::post),
        )
        .route(INTROSPECT, post(oidc::introspect::introspect))
        .route(REVOKE, post(oidc::revoke::revoke))
        .route(REGISTER, post(oidc::registration::register))
        .route(
            REGISTER_CLIENT,
            get(oidc::registration::read)
                .put(oidc::registration::update)
                .delete(oidc::registration::delete),
        )
        .layer(cors)
}

/// Operational endpoints: no session, no HTML.
fn ops() -> Router<AppState> {
    Router::new()
        .route(HEALTHZ, get(ops::healthz))
        .route(READYZ, get(ops::readyz))
        .route(METRICS, get(metrics::guarded))
}
