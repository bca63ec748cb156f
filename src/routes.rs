//! The whole URL table in one place, as constants and nothing else. The
//! router (`crate::router`), redirects, templates and the discovery
//! document refer to these, so a path is spelled exactly once and this
//! module depends on nothing.

pub const HOME: &str = "/";
pub const LOGIN: &str = "/login";
pub const LOGOUT: &str = "/logout";
pub const STEP_UP: &str = "/login/sms";
pub const STEP_UP_SEND: &str = "/login/sms/send";
pub const STEP_UP_HELP: &str = "/login/sms/help";
/// The strength meter's question: the server's policy on a password being typed.
pub const PASSWORD_CHECK: &str = "/password/check";
pub const ACCOUNT: &str = "/account";
pub const ACCOUNT_APPS: &str = "/account/apps";
pub const ACCOUNT_PASSWORD: &str = "/account/password";
pub const ACCOUNT_APPS_REVOKE: &str = "/account/apps/revoke";
/// Application-specific passwords (应用独立密码): the list and the form
/// that makes one, revoking one or all, and proving the phone by SMS
/// when the sign-in is not recent enough to make one.
pub const ACCOUNT_APP_PASSWORDS: &str = "/account/app-passwords";
pub const ACCOUNT_APP_PASSWORDS_REVOKE: &str = "/account/app-passwords/revoke";
pub const ACCOUNT_APP_PASSWORDS_REVOKE_ALL: &str = "/account/app-passwords/revoke-all";
pub const ACCOUNT_APP_PASSWORDS_CONFIRM: &str = "/account/app-passwords/confirm";
pub const ACCOUNT_SESSIONS: &str = "/account/sessions";
pub const ACCOUNT_SESSIONS_END: &str = "/account/sessions/end";
pub const ACCOUNT_SESSIONS_END_OTHERS: &str = "/account/sessions/end-others";
pub const ACCOUNT_EMAIL: &str = "/account/email";
pub const ACCOUNT_EMAIL_REMOVE: &str = "/account/email/remove";
pub const ACCOUNT_EMAIL_CONFIRM: &str = "/account/email/confirm";
/// A phone change, `{kind}` = `login` or `security`: the page and its
/// four forms (a code to the current number and its proof, a code to the
/// new number and its proof).
pub const ACCOUNT_PHONE: &str = "/account/phone/{kind}";
pub const ACCOUNT_PHONE_OLD_SEND: &str = "/account/phone/{kind}/old/send";
pub const ACCOUNT_PHONE_OLD: &str = "/account/phone/{kind}/old";
pub const ACCOUNT_PHONE_NEW_SEND: &str = "/account/phone/{kind}/new/send";
pub const ACCOUNT_PHONE_NEW: &str = "/account/phone/{kind}/new";
/// Guided binding of a login phone (完善个人实名信息).
pub const ACCOUNT_PHONE_BIND: &str = "/account/phone/bind";
pub const ACCOUNT_PHONE_BIND_SEND: &str = "/account/phone/bind/send";
pub const ACCOUNT_PHONE_BIND_SKIP: &str = "/account/phone/bind/skip";
/// The phone-unbind application: my applications (我的解绑申请), the
/// form, an application's edit form and its withdrawal, a document of
/// it, and the cancel link of the notices. The step-up page's
/// 申请解绑手机号 button enters the restricted state.
pub const ACCOUNT_PHONE_UNBIND: &str = "/account/phone/unbind";
pub const ACCOUNT_PHONE_UNBIND_NEW: &str = "/account/phone/unbind/new";
pub const ACCOUNT_PHONE_UNBIND_EDIT: &str = "/account/phone/unbind/{id}/edit";
pub const ACCOUNT_PHONE_UNBIND_WITHDRAW: &str = "/account/phone/unbind/{id}/withdraw";
pub const ACCOUNT_PHONE_UNBIND_DOCUMENT: &str =
    "/account/phone/unbind/{id}/documents/{revision}/{slot}";
pub const STEP_UP_UNREACHABLE: &str = "/login/sms/unreachable";
pub const UNBIND_CANCEL: &str = "/unbind/cancel/{id}";
/// The organization-verified password retrieval (密码索取): organization
/// search and registration, the form, its phone's code, the case page
/// with the PDF, file authentication, uploads and submission, and the
/// completion with the code sent on approval.
pub const RETRIEVE: &str = "/retrieve";
pub const RETRIEVE_REGISTER: &str = "/retrieve/organizations";
pub const RETRIEVE_FORM: &str = "/retrieve/form";
pub const RETRIEVE_CONFIRM: &str = "/retrieve/confirm";
pub const RETRIEVE_CONFIRM_SEND: &str = "/retrieve/confirm/send";
pub const RETRIEVE_CASE: &str = "/retrieve/case";
pub const RETRIEVE_PDF: &str = "/retrieve/case/form.pdf";
pub const RETRIEVE_FILES: &str = "/retrieve/files";
pub const RETRIEVE_UPLOAD: &str = "/retrieve/upload";
pub const RETRIEVE_UPLOAD_SLOT: &str = "/retrieve/upload/{slot}";
pub const RETRIEVE_UPLOAD_IMAGE: &str = "/retrieve/upload/{slot}/image";
pub const RETRIEVE_SAMPLE: &str = "/retrieve/samples/{slot}";
pub const RETRIEVE_SUBMIT: &str = "/retrieve/submit";
pub const RETRIEVE_COMPLETE: &str = "/retrieve/complete";
pub const RECOVER: &str = "/recover";
pub const RECOVER_METHOD: &str = "/recover/method";
pub const RECOVER_SMS_SEND: &str = "/recover/sms/send";
pub const RECOVER_SMS: &str = "/recover/sms";
pub const RECOVER_EMAIL: &str = "/recover/email";
pub const RECOVER_LINK: &str = "/recover/link";
pub const RECOVER_PASSWORD: &str = "/recover/password";
pub const RECOVER_DONE: &str = "/recover/done";
pub const ADMIN: &str = "/admin";
pub const ADMIN_USERS: &str = "/admin/users";
pub const ADMIN_USER: &str = "/admin/users/{id}";
pub const ADMIN_CLIENTS: &str = "/admin/clients";
/// The organization registry (单位): the list and one organization.
pub const ADMIN_ORGANIZATIONS: &str = "/admin/organizations";
pub const ADMIN_ORGANIZATION: &str = "/admin/organizations/{id}";
pub const ADMIN_CLIENT_STRONG_PASSWORD: &str = "/admin/clients/{id}/strong-password";
pub const ADMIN_CLIENT_LISTING: &str = "/admin/clients/{id}/listing";
pub const ADMIN_CLIENT_LDAP: &str = "/admin/clients/{id}/ldap";
pub const ADMIN_BLOCKS: &str = "/admin/blocks";
pub const ADMIN_BLOCKS_CSV: &str = "/admin/blocks.csv";
pub const ADMIN_AUDIT: &str = "/admin/audit";
pub const ADMIN_CALENDAR: &str = "/admin/calendar";
/// The review queue, a case, and a document of a case (an `<img>` source).
pub const ADMIN_REVIEW: &str = "/admin/review";
pub const ADMIN_REVIEW_CASE: &str = "/admin/review/{id}";
pub const ADMIN_REVIEW_DOCUMENT: &str = "/admin/review/{id}/documents/{revision}/{slot}";
pub const HEALTHZ: &str = "/healthz";
pub const READYZ: &str = "/readyz";
/// Prometheus metrics: only with `metrics.token` (bearer) on this listener,
/// or on the separate `metrics.listen` address.
pub const METRICS: &str = "/metrics";
pub const HELP: &str = "/help";
pub const ACCOUNT_PROFILE: &str = "/account/profile";

// The static files, named after their content: STYLESHEET, COUNTDOWN_JS,
// STRENGTH_JS, PASSWORD_TOGGLE_JS, FAVICON (and each one's `_PLAIN` name).
include!(concat!(env!("OUT_DIR"), "/static_names.rs"));

pub const DISCOVERY: &str = "/.well-known/openid-configuration";
pub const JWKS: &str = "/jwks";
pub const AUTHORIZE: &str = "/authorize";
pub const CONSENT: &str = "/authorize/consent";
pub const AUTHORIZE_CANCEL: &str = "/authorize/cancel";
/// The consent page's "use another account": sign out, same request again.
pub const AUTHORIZE_SWITCH: &str = "/authorize/switch";
pub const TOKEN: &str = "/token";
/// The device authorization endpoint (RFC 8628 §3.1).
pub const DEVICE_AUTHORIZATION: &str = "/device_authorization";
/// Pushed authorization requests (RFC 9126).
pub const PAR: &str = "/par";
/// Where a person types a device's user code (RFC 8628 §3.3).
pub const DEVICE: &str = "/device";
/// The end of the browser flow a device authorization runs.
pub const DEVICE_CALLBACK: &str = "/device/callback";
pub const USERINFO: &str = "/userinfo";
pub const INTROSPECT: &str = "/introspect";
pub const REVOKE: &str = "/revoke";
/// Dynamic client registration (RFC 7591 §3), and each registered
/// client's configuration endpoint (RFC 7592 §2).
pub const REGISTER: &str = "/register";
pub const REGISTER_CLIENT: &str = "/register/{client_id}";

/// The management API's OpenAPI document. The API's operations are
/// declared with their handlers in `admin::api` (utoipa-axum, so the
/// document and the routes cannot disagree), each under [`API`] joined with
/// one of the paths below.
pub const OPENAPI: &str = "/api/openapi.json";
/// Prefix of the management API.
pub const API: &str = "/api/v1";

// The management API (see [`API`]).
pub const API_USERS: &str = "/api/v1/users";
pub const API_USER: &str = "/api/v1/users/{id}";
pub const API_USER_DISABLE: &str = "/api/v1/users/{id}/disable";
pub const API_USER_ENABLE: &str = "/api/v1/users/{id}/enable";
pub const API_USER_PASSWORD: &str = "/api/v1/users/{id}/password";
pub const API_USER_FORCE_PASSWORD_CHANGE: &str = "/api/v1/users/{id}/force-password-change";
pub const API_USER_REVOKE_SESSIONS: &str = "/api/v1/users/{id}/revoke-sessions";
pub const API_USER_PHONES: &str = "/api/v1/users/{id}/phones";
pub const API_USER_REQUIRE_PHONE_BINDING: &str = "/api/v1/users/{id}/require-phone-binding";
pub const API_ORGANIZATIONS: &str = "/api/v1/organizations";
pub const API_ORGANIZATIONS_IMPORT: &str = "/api/v1/organizations/import";
pub const API_ORGANIZATION: &str = "/api/v1/organizations/{id}";
pub const API_USER_LIFT_BLOCKS: &str = "/api/v1/users/{id}/lift-blocks";
pub const API_USER_APP_PASSWORDS: &str = "/api/v1/users/{id}/app-passwords";
pub const API_USER_APP_PASSWORD: &str = "/api/v1/users/{id}/app-passwords/{password_id}";
pub const API_BLOCKS: &str = "/api/v1/blocks";
pub const API_CLIENTS: &str = "/api/v1/clients";
pub const API_CLIENT: &str = "/api/v1/clients/{id}";
pub const API_CLIENT_SECRET: &str = "/api/v1/clients/{id}/secret";
/// Initial access tokens for dynamic client registration.
pub const API_REGISTRATION_TOKENS: &str = "/api/v1/registration-tokens";
pub const API_REGISTRATION_TOKEN: &str = "/api/v1/registration-tokens/{id}";
pub const API_KEYS: &str = "/api/v1/keys";
pub const API_KEYS_ROTATE: &str = "/api/v1/keys/rotate";
pub const API_AUDIT: &str = "/api/v1/audit";
pub const API_CALENDAR_YEAR: &str = "/api/v1/calendar/{year}";
// The review operations (a reviewer's own access token; see `admin::api::review`).
pub const API_REVIEW_CASES: &str = "/api/v1/review/cases";
pub const API_REVIEW_CASE: &str = "/api/v1/review/cases/{id}";
pub const API_REVIEW_CASE_DOCUMENT: &str = "/api/v1/review/cases/{id}/documents/{revision}/{slot}";
pub const API_REVIEW_CASE_CLAIM: &str = "/api/v1/review/cases/{id}/claim";
pub const API_REVIEW_CASE_NOTES: &str = "/api/v1/review/cases/{id}/notes";
pub const API_REVIEW_CASE_APPROVE: &str = "/api/v1/review/cases/{id}/approve";
pub const API_REVIEW_CASE_REJECT: &str = "/api/v1/review/cases/{id}/reject";
