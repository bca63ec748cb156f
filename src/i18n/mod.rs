//! Languages of the hosted pages, SMS texts and letters: zh-CN (default)
//! and English.
//!
//! Every user-visible string of the pages is a field of [`Text`], with one
//! `Text` value per language in its own file (`zh_cn.rs`, `en.rs`), so a
//! string missing in one language is a compile error rather than a blank on
//! a page. A text that carries a value (a wait, a count, a name) is a
//! message: a function of that value, so each language puts the value where
//! its grammar wants it instead of the page gluing pieces together.
//!
//! The SMS texts ([`sms`], `templates/sms/`) and the letters
//! (`templates/emails/`, composed by [`crate::service::mail`]) are askama
//! templates, one file per language.
//!
//! The language of a request is, in order: `?lang=` (which also sets a
//! cookie), the `lang` cookie, `ui_locales` (OIDC), `Accept-Language`, zh-CN.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Duration;
use time::OffsetDateTime;

mod en;
pub mod sms;
mod zh_cn;

pub use en::EN;
pub use zh_cn::ZH_CN;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    ZhCn,
    En,
}

impl Lang {
    pub fn tag(self) -> &'static str {
        match self {
            Lang::ZhCn => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn text(self) -> &'static Text {
        match self {
            Lang::ZhCn => &ZH_CN,
            Lang::En => &EN,
        }
    }

    /// Accepts `zh`, `zh-CN`, `zh-Hans`, `en`, `en-US` … (case-insensitive).
    pub fn from_tag(tag: &str) -> Option<Self> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "zh" => Some(Lang::ZhCn),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The best supported language of an `Accept-Language` header (RFC 9110
    /// §12.5.4), honouring q-values.
    pub fn from_accept_language(header: &str) -> Option<Self> {
        let mut best: Option<(Self, f32)> = None;
        for item in header.split(',') {
            let mut parts = item.split(';');
            let Some(lang) = parts.next().and_then(Lang::from_tag) else {
                continue;
            };
            let q = parts
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|v| v.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            if q > 0.0 && best.is_none_or(|(_, bq)| q > bq) {
                best = Some((lang, q));
            }
        }
        best.map(|(l, _)| l)
    }

    /// Space-separated OIDC `ui_locales`: the first supported one wins.
    pub fn from_ui_locales(value: &str) -> Option<Self> {
        value.split_whitespace().find_map(Lang::from_tag)
    }
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then_some(v)
    })
}

/// A language the request chose explicitly (`?lang=`), in the request
/// extensions beside the [`Lang`] decided: a signed-in person's choice
/// becomes the account's language (see `extract::CurrentUser`).
#[derive(Debug, Clone, Copy)]
pub struct ChosenLang(pub Lang);

/// Middleware: decides the language, puts it in the request extensions and
/// remembers an explicit `?lang=` choice in a cookie.
pub async fn negotiate(
    axum::extract::State(cookies): axum::extract::State<crate::cookies::CookiePolicy>,
    jar: axum_extra::extract::CookieJar,
    mut req: Request,
    next: Next,
) -> Response {
    let query = req.uri().query().unwrap_or_default();
    let explicit = query_param(query, "lang").and_then(Lang::from_tag);
    let lang = explicit
        .or_else(|| {
            cookies
                .value_or_plain(&jar, crate::cookies::LANG)
                .and_then(|v| Lang::from_tag(&v))
        })
        .or_else(|| {
            query_param(query, "ui_locales")
                .and_then(|v| Lang::from_ui_locales(&v.replace("%20", " ").replace('+', " ")))
        })
        .or_else(|| {
            req.headers()
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|h| h.to_str().ok())
                .and_then(Lang::from_accept_language)
        })
        .unwrap_or_default();
    req.extensions_mut().insert(lang);
    if let Some(chosen) = explicit {
        req.extensions_mut().insert(ChosenLang(chosen));
    }
    let response = next.run(req).await;
    let mut response = match explicit {
        Some(chosen) => {
            let jar = jar.add(cookies.long_lived(crate::cookies::LANG, chosen.tag().into()));
            (jar, response).into_response()
        }
        None => response,
    };
    response.headers_mut().insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(lang.tag()),
    );
    response
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Lang>().copied().unwrap_or_default())
    }
}

/// Declares [`Text`] from its list of fields and, for the tests, a list of
/// every field rendered (messages called with sample arguments), so the
/// checks on the words of both languages cannot skip a field.
macro_rules! texts {
    ($($(#[$doc:meta])* $name:ident: $ty:ty,)*) => {
        /// All user-visible text of the hosted pages, in one language.
        pub struct Text {
            $($(#[$doc])* pub $name: $ty,)*
        }

        #[cfg(test)]
        impl Text {
            /// Every field by name, as the page would show it.
            pub(crate) fn samples(&self) -> Vec<(&'static str, String)> {
                vec![$((stringify!($name), tests::Sample::sample(&self.$name)),)*]
            }
        }
    };
}

texts! {
    html_lang: &'static str,
    /// A moment on the configured time zone's wall clock.
    date_time: fn(&LocalTime) -> String,
    brand: &'static str,
    other_language: &'static str,
    footer: &'static str,

    login_title: &'static str,
    login_identifier: &'static str,
    login_identifier_hint: &'static str,
    login_password: &'static str,
    login_submit: &'static str,
    login_invalid: &'static str,
    login_disabled: &'static str,
    login_missing_fields: &'static str,
    /// Too many failed sign-ins: how long to `wait`.
    login_locked: fn(Duration) -> String,
    login_cancel: &'static str,
    busy: &'static str,

    account_title: &'static str,
    account_name: &'static str,
    display_name: &'static str,
    login_phone: &'static str,
    security_phone: &'static str,
    security_email: &'static str,
    organization: &'static str,
    role: &'static str,
    role_admin: &'static str,
    role_user: &'static str,
    not_bound: &'static str,
    not_set: &'static str,
    verified: &'static str,
    unverified: &'static str,
    security_settings: &'static str,
    security_settings_note: &'static str,
    last_login: &'static str,
    sign_out: &'static str,

    logout_title: &'static str,
    logout_confirm: &'static str,
    logout_submit: &'static str,
    logout_done: &'static str,
    sign_in_again: &'static str,

    error_title: &'static str,
    error_not_found: &'static str,
    error_csrf: &'static str,
    error_bad_request: &'static str,
    /// A `field` held a NUL character or bytes that are not UTF-8.
    error_invalid_field: fn(&str) -> String,
    error_internal: &'static str,
    /// Too many requests: how long to `wait`.
    error_too_many: fn(Duration) -> String,
    error_unavailable: &'static str,
    /// A broken authorization request, with the protocol `detail` (English, from the RFC error).
    error_bad_client_request: fn(&str) -> String,
    back_home: &'static str,

    consent_title: &'static str,
    /// Followed by the list of what the application asks for.
    consent_intro: &'static str,
    consent_allow: &'static str,
    consent_deny: &'static str,
    consent_note: &'static str,
    scope_openid: &'static str,
    scope_profile: &'static str,
    scope_email: &'static str,
    scope_phone: &'static str,
    scope_address: &'static str,
    scope_offline_access: &'static str,
    scope_review: &'static str,
    scope_org_admin: &'static str,

    apps_title: &'static str,
    apps_intro: &'static str,
    apps_none: &'static str,
    apps_revoke: &'static str,
    apps_revoked: &'static str,
    apps_link: &'static str,
    apps_first_party: &'static str,
    apps_first_party_none: &'static str,
    apps_open: &'static str,
    apps_consented: &'static str,
    apps_may_read: &'static str,

    device_title: &'static str,
    device_intro: &'static str,
    device_code_label: &'static str,
    device_continue: &'static str,
    device_bad_code: &'static str,
    device_too_many: &'static str,
    device_wrong_browser: &'static str,
    /// Names the application a device asks for.
    device_confirm: fn(&str) -> String,
    device_confirm_warn: &'static str,
    device_allow: &'static str,
    device_deny: &'static str,
    device_done: &'static str,
    device_denied: &'static str,
    /// When the consent was given (a local time).
    apps_consented_at: fn(&str) -> String,
    apps_revoke_note: &'static str,
    app_passwords_link: &'static str,
    app_passwords_title: &'static str,
    app_passwords_intro: &'static str,
    app_passwords_revoked: &'static str,
    app_passwords_all_revoked: &'static str,
    app_passwords_created: fn(&str) -> String,
    app_passwords_shown_once: &'static str,
    app_passwords_new: &'static str,
    app_passwords_no_apps: &'static str,
    app_passwords_label: &'static str,
    app_passwords_label_hint: &'static str,
    app_passwords_app: &'static str,
    app_passwords_max: fn(usize) -> String,
    app_passwords_create: &'static str,
    app_passwords_not_fresh: &'static str,
    app_passwords_confirm_sms: &'static str,
    app_passwords_relogin: &'static str,
    app_passwords_active: &'static str,
    app_passwords_none: &'static str,
    app_passwords_created_at: &'static str,
    app_passwords_last_used: &'static str,
    app_passwords_never_used: &'static str,
    app_passwords_revoke: &'static str,
    app_passwords_revoke_all: &'static str,
    app_passwords_bad_label: &'static str,
    app_passwords_bad_app: &'static str,
    app_passwords_limit: fn(usize) -> String,
    app_passwords_blocked: &'static str,
    password_keep_app_passwords: fn(usize) -> String,
    password_app_passwords_hint: &'static str,
    admin_app_passwords: &'static str,
    admin_app_passwords_none: &'static str,
    admin_client_listing: &'static str,
    admin_client_name_en: &'static str,
    admin_client_description: &'static str,
    admin_client_description_en: &'static str,
    admin_client_logo_uri: &'static str,
    admin_client_home_uri: &'static str,
    admin_client_show_in_list: &'static str,
    admin_client_app_passwords: &'static str,
    admin_client_save: &'static str,

    sessions_title: &'static str,
    sessions_intro: &'static str,
    /// A device in words: its browser and its system, each `None` when not
    /// recognised.
    sessions_device: fn(Option<&str>, Option<&str>) -> String,
    sessions_this_device: &'static str,
    sessions_address: &'static str,
    sessions_unknown_address: &'static str,
    sessions_signed_in_at: &'static str,
    sessions_last_active: &'static str,
    sessions_times_utc: &'static str,
    sessions_end: &'static str,
    sessions_end_others: &'static str,
    sessions_ended: &'static str,
    sessions_others_ended: &'static str,
    sessions_no_others: &'static str,
    sessions_not_found: &'static str,
    sessions_is_current: &'static str,
    sessions_link: &'static str,

    password_title: &'static str,
    password_current: &'static str,
    password_new: &'static str,
    password_repeat: &'static str,
    password_submit: &'static str,
    password_changed: &'static str,
    password_mismatch: &'static str,
    password_wrong_current: &'static str,
    password_forced: &'static str,
    password_mail_note: &'static str,
    password_link: &'static str,
    /// The minimum length of a password.
    password_rule_length: fn(usize) -> String,
    password_rule_identity: &'static str,
    /// The password is longer than the maximum.
    policy_too_long: fn(usize) -> String,
    policy_no_upper: &'static str,
    policy_no_lower: &'static str,
    policy_no_digit: &'static str,
    policy_no_special: &'static str,
    policy_contains_account_name: &'static str,
    policy_contains_phone: &'static str,
    policy_too_weak: &'static str,
    policy_common: &'static str,
    password_strength: &'static str,
    strength_weak: &'static str,
    strength_medium: &'static str,
    strength_strong: &'static str,
    password_rule_upper: &'static str,
    password_rule_lower: &'static str,
    password_rule_digit: &'static str,
    password_rule_special: &'static str,
    password_rule_guessable: &'static str,
    /// Read out after a rule by screen readers: met or not yet.
    password_rule_met: &'static str,
    password_rule_unmet: &'static str,
    /// The meter could not ask the server (too many checks, offline).
    password_check_unavailable: &'static str,

    admin_title: &'static str,
    admin_nav_dashboard: &'static str,
    admin_nav_users: &'static str,
    admin_nav_clients: &'static str,
    admin_nav_audit: &'static str,
    admin_forbidden: &'static str,
    admin_users_total: &'static str,
    admin_users_disabled: &'static str,
    admin_recent_events: &'static str,
    /// Overview figures (since midnight, local time).
    admin_today_sign_ins: &'static str,
    admin_today_failures: &'static str,
    admin_today_sms: &'static str,
    admin_locked_now: &'static str,
    admin_pending_cases: &'static str,
    admin_key_rotation: &'static str,
    admin_key_rotation_overdue: &'static str,
    admin_key_rotation_off: &'static str,
    /// Confirmation of destructive console actions.
    admin_confirm_cancel: &'static str,
    admin_confirm_disable: fn(&str) -> String,
    admin_confirm_disable_then: &'static str,
    admin_confirm_password: fn(&str) -> String,
    admin_confirm_password_then: &'static str,
    admin_confirm_revoke: fn(&str) -> String,
    admin_confirm_revoke_then: &'static str,
    admin_confirm_lift: fn(&str) -> String,
    admin_confirm_lift_then: &'static str,
    admin_confirm_app_password: fn(&str) -> String,
    admin_confirm_app_passwords: fn(&str) -> String,
    admin_confirm_app_passwords_then: &'static str,
    admin_confirm_remove_admin: fn(&str, &str) -> String,
    admin_confirm_remove_admin_then: &'static str,
    /// The create-account form's password field.
    admin_initial_password: &'static str,
    admin_search: &'static str,
    admin_search_hint: &'static str,
    admin_no_results: &'static str,
    admin_status: &'static str,
    admin_status_active: &'static str,
    admin_status_disabled: &'static str,
    admin_actions: &'static str,
    admin_profile: &'static str,
    admin_save: &'static str,
    admin_reason: &'static str,
    admin_disable: &'static str,
    admin_enable: &'static str,
    admin_reset_password: &'static str,
    admin_reset_hint: &'static str,
    admin_force_change: &'static str,
    admin_revoke: &'static str,
    admin_done: &'static str,
    admin_stale: &'static str,
    admin_generated_password: &'static str,
    admin_back: &'static str,
    admin_time: &'static str,
    admin_event: &'static str,
    admin_outcome: &'static str,
    admin_actor: &'static str,
    admin_subject: &'static str,
    admin_ip: &'static str,
    admin_detail: &'static str,
    admin_older: &'static str,
    /// Every audit event kind (`service::audit::EVENT_KINDS`) in words.
    audit_events: &'static [(&'static str, &'static str)],
    admin_outcome_success: &'static str,
    admin_outcome_failure: &'static str,
    /// The label of the console's navigation landmark.
    admin_nav_label: &'static str,
    /// How many accounts a list found in all.
    admin_users_count: fn(i64) -> String,
    /// Where a paged list is: page `x`, `n` entries in all.
    admin_page_of: fn(i64, i64) -> String,
    admin_newer: &'static str,
    /// Numbered pages of a console list.
    admin_pager_label: &'static str,
    admin_prev_page: &'static str,
    admin_next_page: &'static str,
    admin_newest: &'static str,
    /// Audit actors that are not accounts.
    audit_actor_system: &'static str,
    audit_actor_anonymous: &'static str,
    audit_actor_cli: fn(&str) -> String,
    audit_actor_client: fn(&str) -> String,
    /// Why an application password was revoked.
    app_password_reason_by_owner: &'static str,
    app_password_reason_by_admin: &'static str,
    app_password_reason_changed: &'static str,
    app_password_reason_reset: &'static str,
    app_password_reason_recovered: &'static str,
    app_password_reason_retrieved: &'static str,
    app_password_reason_unbind: &'static str,
    admin_app_password_revoked_at: fn(&str, &str) -> String,
    admin_status_reason: fn(&str) -> String,
    admin_all_events: &'static str,
    admin_clients_count: fn(i64) -> String,
    admin_cases_count: fn(i64) -> String,
    admin_orgs_count: fn(i64) -> String,
    /// A client's token endpoint authentication, in words.
    client_auth_secret_basic: &'static str,
    client_auth_secret_post: &'static str,
    client_auth_private_key_jwt: &'static str,
    client_auth_none: &'static str,
    admin_nav_calendar: &'static str,
    calendar_intro: &'static str,
    calendar_year: &'static str,
    calendar_date: &'static str,
    calendar_kind: &'static str,
    calendar_weekday: &'static str,
    calendar_note: &'static str,
    calendar_holiday: &'static str,
    calendar_workday: &'static str,
    calendar_none: &'static str,
    calendar_next_working_day: fn(&str) -> String,
    calendar_saved: fn(usize) -> String,
    calendar_entry: fn(usize, &str) -> String,
    calendar_not_a_date: &'static str,
    calendar_other_year: &'static str,
    calendar_unknown_kind: &'static str,
    calendar_workday_on_weekday: &'static str,
    calendar_bad_note: &'static str,
    calendar_twice: &'static str,
    calendar_bad_year: &'static str,
    weekdays: [&'static str; 7],
    admin_filter: &'static str,
    admin_client_id: &'static str,
    admin_client_name: &'static str,
    admin_client_auth: &'static str,
    admin_first_party: &'static str,
    /// The mark of a client that registered itself (RFC 7591).
    admin_client_dynamic: &'static str,
    admin_redirect_uris: &'static str,
    admin_must_change: &'static str,
    admin_yes: &'static str,
    admin_no: &'static str,
    admin_events_of_user: &'static str,
    admin_create_user: &'static str,
    /// A field (by its `label`) has an invalid value.
    admin_invalid: fn(&str) -> String,
    /// A field (by its `label`) holds a value another account has.
    admin_in_use: fn(&str) -> String,
    admin_refused_own_role: &'static str,
    admin_refused_own_account: &'static str,
    admin_refused_last_admin: &'static str,
    /// The organization typed (`name`) is not in the registry.
    admin_unknown_organization: fn(&str) -> String,
    /// The organization typed (`name`) is pending or inactive.
    admin_inactive_organization: fn(&str) -> String,
    /// The organization administrator's role is given per organization.
    admin_org_admin_per_organization: &'static str,
    /// The organization registry's pages (单位); `org_taken_by` names the
    /// organization that has the name or domain, `org_no_such_account` the
    /// account name typed.
    admin_nav_organizations: &'static str,
    admin_nav_my_organizations: &'static str,
    org_full_name: &'static str,
    org_short_name: &'static str,
    org_aliases: &'static str,
    org_mail_domains: &'static str,
    org_list_hint: &'static str,
    org_status_active: &'static str,
    org_status_pending: &'static str,
    org_status_inactive: &'static str,
    org_status_any: &'static str,
    org_search_hint: &'static str,
    org_create: &'static str,
    org_accounts: &'static str,
    org_accounts_link: &'static str,
    org_administrators: &'static str,
    org_no_administrators: &'static str,
    org_add_admin: &'static str,
    org_remove_admin: &'static str,
    org_admin_account: &'static str,
    org_taken_by: fn(&str) -> String,
    org_no_such_account: fn(&str) -> String,

    /// The reviewer's pages (review queue and case page) and the reviewer role.
    role_reviewer: &'static str,
    role_reviewer_hint: &'static str,
    admin_nav_review: &'static str,
    review_filter_state: &'static str,
    review_filter_waiting: &'static str,
    review_filter_claimed_by_me: &'static str,
    review_queue_empty: &'static str,
    review_col_applicant: &'static str,
    review_col_state: &'static str,
    review_col_due: &'static str,
    review_col_claimed_by: &'static str,
    review_col_submitted: &'static str,
    review_col_change: &'static str,
    review_col_note: &'static str,
    review_overdue: &'static str,
    review_approvals_count: fn(usize) -> String,
    review_kind_password_retrieval: &'static str,
    review_state_awaiting_documents: &'static str,
    review_state_awaiting_completion: &'static str,
    review_event_created: &'static str,
    review_event_uploaded: &'static str,
    review_event_reopened: &'static str,
    review_event_code_sent: &'static str,
    retrieve_title: &'static str,
    retrieve_intro: &'static str,
    retrieve_have_case: &'static str,
    retrieve_have_code: &'static str,
    retrieve_step1: &'static str,
    retrieve_step2: &'static str,
    retrieve_step3: &'static str,
    retrieve_step4: &'static str,
    retrieve_step5: &'static str,
    retrieve_step6: &'static str,
    retrieve_search_label: &'static str,
    retrieve_search: &'static str,
    retrieve_no_match: &'static str,
    retrieve_choose: &'static str,
    retrieve_register_title: &'static str,
    retrieve_register_intro: &'static str,
    retrieve_full_name: &'static str,
    retrieve_full_name_hint: &'static str,
    retrieve_contact_name: &'static str,
    retrieve_contact_phone: &'static str,
    retrieve_register: &'static str,
    retrieve_org_exists: &'static str,
    retrieve_org_inactive: &'static str,
    retrieve_org_gone: &'static str,
    retrieve_pending_org: &'static str,
    retrieve_optional_hint: &'static str,
    retrieve_organization: &'static str,
    retrieve_account: &'static str,
    retrieve_registered_name: &'static str,
    retrieve_name: &'static str,
    retrieve_id_type: &'static str,
    retrieve_id_choose: &'static str,
    retrieve_id_resident: &'static str,
    retrieve_id_passport: &'static str,
    retrieve_id_number: &'static str,
    retrieve_passport_hint: &'static str,
    retrieve_phone: &'static str,
    retrieve_phone_hint: &'static str,
    retrieve_email: &'static str,
    retrieve_reason: &'static str,
    retrieve_reason_choose: &'static str,
    retrieve_reason_forgotten: &'static str,
    retrieve_reason_staff_change: &'static str,
    retrieve_reason_other: &'static str,
    retrieve_reason_sep: &'static str,
    retrieve_reason_text: &'static str,
    retrieve_consent: &'static str,
    retrieve_form_submit: &'static str,
    retrieve_form_errors: &'static str,
    retrieve_err_required: &'static str,
    retrieve_err_email: &'static str,
    retrieve_err_id_length: &'static str,
    retrieve_err_id_characters: &'static str,
    retrieve_err_id_province: &'static str,
    retrieve_err_id_birth_date: &'static str,
    retrieve_err_id_check: &'static str,
    retrieve_err_passport: &'static str,
    retrieve_confirm_title: &'static str,
    retrieve_confirm_submit: &'static str,
    retrieve_case_number: &'static str,
    retrieve_number_keep: &'static str,
    retrieve_download: &'static str,
    retrieve_next_title: &'static str,
    retrieve_next_print: &'static str,
    retrieve_next_scan: &'static str,
    retrieve_next_return: &'static str,
    retrieve_to_upload: &'static str,
    retrieve_files_intro: &'static str,
    retrieve_files_submit: &'static str,
    retrieve_not_found: &'static str,
    retrieve_slot_form: &'static str,
    retrieve_slot_form_hint: &'static str,
    retrieve_slot_id: &'static str,
    retrieve_slot_id_hint: &'static str,
    retrieve_sample: &'static str,
    retrieve_view_own: &'static str,
    retrieve_upload_btn: &'static str,
    retrieve_replace_btn: &'static str,
    retrieve_submit_btn: &'static str,
    retrieve_uploaded: &'static str,
    retrieve_submitted: &'static str,
    retrieve_duplicate: &'static str,
    retrieve_already_submitted: &'static str,
    retrieve_not_uploading: &'static str,
    retrieve_incomplete: &'static str,
    retrieve_err_no_file: &'static str,
    retrieve_err_not_jpeg: &'static str,
    retrieve_err_too_many_pixels: &'static str,
    retrieve_state_documents: &'static str,
    retrieve_state_review: &'static str,
    retrieve_state_approved: &'static str,
    retrieve_state_rejected: &'static str,
    retrieve_state_completed: &'static str,
    retrieve_state_closed: &'static str,
    retrieve_code_label: &'static str,
    retrieve_complete_intro: &'static str,
    retrieve_complete_submit: &'static str,
    retrieve_complete_done: &'static str,
    retrieve_complete_not_found: &'static str,
    retrieve_code_expired: &'static str,
    retrieve_code_used_up: &'static str,
    retrieve_review_matches: &'static str,
    retrieve_review_checks: &'static str,
    retrieve_review_no_matches: &'static str,
    retrieve_review_account: &'static str,
    retrieve_review_account_required: &'static str,
    retrieve_review_no_account: &'static str,
    retrieve_review_org_pending: &'static str,
    retrieve_review_passport_unusual: &'static str,
    retrieve_sheet_title: &'static str,
    retrieve_sheet_signature: &'static str,
    retrieve_sheet_date: &'static str,
    retrieve_sheet_seal: &'static str,
    retrieve_err_too_long: fn(usize) -> String,
    retrieve_err_too_large: fn(usize) -> String,
    retrieve_too_many: fn(Duration) -> String,
    retrieve_code_sent: fn(&str) -> String,
    retrieve_sheet_filled_on: fn(&str) -> String,
    retrieve_consent_notice: fn(u32) -> String,
    retrieve_rules: fn(usize) -> String,
    retrieve_result_due: fn(usize, &str) -> String,
    review_kind_phone_unbind: &'static str,
    review_state_submitted: &'static str,
    review_state_in_review: &'static str,
    review_state_approved: &'static str,
    review_state_awaiting_rebind: &'static str,
    review_state_completed: &'static str,
    review_state_rejected: &'static str,
    review_state_edited: &'static str,
    review_state_withdrawn: &'static str,
    review_state_cancelled: &'static str,
    review_state_expired: &'static str,
    review_event_submitted: &'static str,
    review_event_resubmitted: &'static str,
    review_event_claimed: &'static str,
    review_event_internal_note: &'static str,
    review_event_approval: &'static str,
    review_event_approved: &'static str,
    review_event_rejected: &'static str,
    review_event_edited: &'static str,
    review_event_withdrawn: &'static str,
    review_event_cancelled: &'static str,
    review_event_effective: &'static str,
    review_event_expired: &'static str,
    review_event_completed: &'static str,
    review_event_purged: &'static str,
    review_revision: &'static str,
    review_decided: &'static str,
    review_effective: &'static str,
    review_case_id: &'static str,
    review_section_account: &'static str,
    review_section_form: &'static str,
    review_list_separator: &'static str,
    review_contact_email: &'static str,
    review_consent: &'static str,
    review_applicant_note: &'static str,
    review_internal_note: &'static str,
    review_section_documents: &'static str,
    review_documents_hint: &'static str,
    review_no_documents: &'static str,
    review_approvals: &'static str,
    review_section_history: &'static str,
    review_claim: &'static str,
    review_take_over: &'static str,
    review_four_eyes_hint: &'static str,
    review_approve: &'static str,
    review_reject_label: &'static str,
    review_reject: &'static str,
    review_note_label: &'static str,
    review_add_note: &'static str,
    review_internal_note_required: &'static str,
    review_done_claimed: &'static str,
    review_done_note: &'static str,
    review_done_approved: &'static str,
    review_done_first_approval: &'static str,
    review_done_rejected: &'static str,
    review_lost_race: &'static str,
    reviewing_own_case: &'static str,
    step_up_title: &'static str,
    step_up_intro: &'static str,
    step_up_send: &'static str,
    step_up_sent: &'static str,
    /// A code was sent moments ago: how long to `wait`.
    step_up_wait: fn(Duration) -> String,
    step_up_limit: &'static str,
    step_up_send_failed: &'static str,
    step_up_code: &'static str,
    step_up_submit: &'static str,
    /// A wrong code, with the number of tries `left`.
    step_up_wrong: fn(u32) -> String,
    step_up_no_code: &'static str,
    step_up_help_link: &'static str,
    step_up_help_title: &'static str,
    step_up_help_text: &'static str,
    step_up_no_phone: &'static str,
    recover_link: &'static str,
    recover_title: &'static str,
    recover_intro: &'static str,
    recover_identifier: &'static str,
    recover_identifier_hint: &'static str,
    captcha_label: &'static str,
    captcha_alt: &'static str,
    captcha_hint: &'static str,
    captcha_other: &'static str,
    recover_next: &'static str,
    recover_empty: &'static str,
    recover_captcha_wrong: &'static str,
    /// Too many recovery attempts: how long to `wait`.
    recover_too_many: fn(Duration) -> String,
    recover_method_intro: &'static str,
    recover_by_sms: &'static str,
    recover_by_sms_hint: &'static str,
    recover_by_email: &'static str,
    recover_by_email_hint: &'static str,
    recover_no_channel: &'static str,
    recover_other_way: &'static str,
    recover_code_sent: &'static str,
    /// The recovery mail went out; its link is `valid` this long.
    recover_mail_sent: fn(Duration) -> String,
    recover_mail_hint: &'static str,
    recover_mail_limit: &'static str,
    recover_password_note: &'static str,
    recover_done: &'static str,
    recover_invalid: &'static str,
    recover_start_again: &'static str,
    email_link: &'static str,
    email_title: &'static str,
    email_note: &'static str,
    email_current: &'static str,
    email_pending: &'static str,
    email_new: &'static str,
    email_submit: &'static str,
    email_sent: &'static str,
    email_remove: &'static str,
    email_removed: &'static str,
    email_invalid: &'static str,
    email_unchanged: &'static str,
    email_taken: &'static str,
    email_delivery_failed: &'static str,
    email_invalid_link: &'static str,
    email_confirm_title: &'static str,
    email_confirm_intro: &'static str,
    email_confirm_button: &'static str,
    email_confirmed: &'static str,
    phone_title_login: &'static str,
    phone_title_security: &'static str,
    phone_title_security_new: &'static str,
    phone_step_old: &'static str,
    phone_step_old_intro: &'static str,
    phone_step_new: &'static str,
    phone_step_new_intro: &'static str,
    phone_step_done: &'static str,
    phone_country_code: &'static str,
    phone_number: &'static str,
    phone_send_code: &'static str,
    phone_code: &'static str,
    phone_confirm: &'static str,
    phone_code_sent_to: fn(&str) -> String,
    phone_changed_login: &'static str,
    phone_changed_security: &'static str,
    phone_taken: &'static str,
    phone_changed_meanwhile: &'static str,
    phone_same: &'static str,
    phone_old_expired: &'static str,
    phone_account_limit: fn(Duration) -> String,
    phone_change_link: &'static str,
    phone_set_link: &'static str,
    phone_security_hint: &'static str,
    phone_unreachable_hint: &'static str,
    phone_bind_title: &'static str,
    phone_bind_intro: &'static str,
    phone_bind_submit: &'static str,
    phone_bind_skip: &'static str,
    phone_err_code_missing: &'static str,
    phone_err_code_invalid: &'static str,
    phone_err_number_missing: &'static str,
    phone_err_not_digits: &'static str,
    phone_err_conflict: &'static str,
    phone_err_invalid: &'static str,
    phone_err_not_mobile: &'static str,
    admin_phones_reveal: &'static str,
    admin_phones_full: &'static str,
    admin_phone_hint: &'static str,
    admin_phone_clear: &'static str,
    admin_require_binding: &'static str,
    admin_binding_owed: &'static str,

    /// The review-case engine and its identity documents (phone-unbind
    /// application); `usize` arguments are the number of the file (from 1).
    review_doc_missing: &'static str,
    review_doc_too_many: &'static str,
    review_doc_empty: fn(usize) -> String,
    review_doc_too_large: fn(usize) -> String,
    review_doc_not_jpeg: fn(usize) -> String,
    review_doc_too_many_pixels: fn(usize) -> String,
    review_doc_unreadable: fn(usize) -> String,
    review_doc_unavailable: &'static str,
    review_doc_purged: &'static str,
    review_not_found: &'static str,
    review_stale: &'static str,
    review_not_allowed: &'static str,
    review_open_case_exists: &'static str,
    review_note_required: &'static str,
    /// A note over the limit (the limit in characters).
    review_note_too_long: fn(usize) -> String,
    review_consent_required: &'static str,
    review_same_reviewer: &'static str,
    review_own_case: &'static str,
    review_not_reviewer: &'static str,
    review_failed: &'static str,

    /// The phone-unbind application's pages.
    unbind_title: &'static str,
    unbind_intro: &'static str,
    unbind_restricted: &'static str,
    unbind_reason: &'static str,
    unbind_reason_choose: &'static str,
    unbind_reason_label: fn(&str) -> String,
    unbind_note: &'static str,
    unbind_note_hint: &'static str,
    unbind_phones: &'static str,
    unbind_documents: &'static str,
    unbind_documents_hint: &'static str,
    unbind_organization: &'static str,
    unbind_contact: &'static str,
    unbind_password: &'static str,
    unbind_consent: &'static str,
    unbind_consent_notice: fn(u32) -> String,
    unbind_submit: &'static str,
    unbind_submitted: &'static str,
    unbind_my_title: &'static str,
    unbind_new: &'static str,
    unbind_none: &'static str,
    unbind_col_number: &'static str,
    unbind_col_phones: &'static str,
    unbind_col_state: &'static str,
    unbind_col_review_note: &'static str,
    unbind_state: fn(&str) -> String,
    unbind_edit: &'static str,
    unbind_withdraw: &'static str,
    unbind_withdrawn: &'static str,
    unbind_effective_at: fn(&str) -> String,
    unbind_awaiting: &'static str,
    unbind_open_exists: &'static str,
    unbind_no_phones: &'static str,
    unbind_form_errors: &'static str,
    unbind_err_reason: &'static str,
    unbind_err_note_required: &'static str,
    unbind_err_note_too_long: fn(usize) -> String,
    unbind_err_phones_none: &'static str,
    unbind_err_phone_not_bound: &'static str,
    unbind_err_org_missing: &'static str,
    unbind_err_org_too_long: fn(usize) -> String,
    unbind_err_password_missing: &'static str,
    unbind_err_password_wrong: &'static str,
    unbind_err_consent: &'static str,
    unbind_too_many: fn(Duration) -> String,
    unbind_document_alt: fn(usize) -> String,
    unbind_document_count: fn(usize) -> String,
    unbind_too_large: fn(usize) -> String,
    unbind_cancel_title: &'static str,
    unbind_cancel_intro: fn(&str) -> String,
    unbind_cancel_button: &'static str,
    unbind_cancelled: &'static str,
    unbind_cancel_invalid: &'static str,
    unbind_cancel_closed: &'static str,
    unbind_sign_out: &'static str,

    /// Blocks per application (弱密码停用): the page /authorize shows.
    blocked_title: &'static str,
    /// The application's name.
    blocked_intro: fn(&str) -> String,
    blocked_weak: &'static str,
    blocked_other: &'static str,
    blocked_contact: &'static str,
    blocked_helpdesk: &'static str,
    blocked_no_contact: &'static str,
    blocked_back: &'static str,
    blocked_change_password: &'static str,
    /// The password page of a person whose password was found weak.
    password_weak_notice: &'static str,
    /// The console's list of blocked accounts and its CSV export.
    blocks_title: &'static str,
    blocks_application: &'static str,
    blocks_all_applications: &'static str,
    blocks_show: &'static str,
    blocks_export: &'static str,
    blocks_none: &'static str,
    blocks_total: fn(usize) -> String,
    blocks_col_account: &'static str,
    blocks_col_name: &'static str,
    blocks_col_organization: &'static str,
    blocks_col_application: &'static str,
    blocks_col_reason: &'static str,
    blocks_col_since: &'static str,
    blocks_col_by: &'static str,
    blocks_all_clients: &'static str,
    block_reason_weak_password: &'static str,
    block_reason_admin: &'static str,
    block_reason_compromised: &'static str,
    /// The account page of the console: its blocks and lifting them.
    admin_user_blocks: &'static str,
    admin_lift_blocks: &'static str,
    admin_lift_hint: &'static str,
    /// The clients page: the require_strong_password mark.
    admin_client_strong_password: &'static str,
    admin_client_strong_on: &'static str,
    admin_client_strong_off: &'static str,
    /// The clients page: LDAP binds naming the client, and its search.
    admin_client_ldap: &'static str,
    ldap_bind_off: &'static str,
    ldap_bind_password: &'static str,
    ldap_bind_app_passwords: &'static str,
    admin_client_ldap_search: &'static str,
    /// Issue 18's pages: the signed-in top bar, profile, overview, help,
    /// the application context of login and consent, password toggles.
    nav_label: &'static str,
    nav_menu: &'static str,
    nav_home: &'static str,
    nav_profile: &'static str,
    nav_manage: &'static str,
    nav_security: &'static str,
    nav_apps: &'static str,
    nav_help: &'static str,
    profile_title: &'static str,
    profile_note: &'static str,
    home_apps: &'static str,
    home_apps_none: &'static str,
    home_password: &'static str,
    home_password_change: &'static str,
    home_email_set: &'static str,
    home_email_change: &'static str,
    login_continue_to: fn(&str) -> String,
    consent_signed_in_as: fn(&str) -> String,
    consent_switch: &'static str,
    password_show: &'static str,
    password_hide: &'static str,
    password_show_label: &'static str,
    password_hide_label: &'static str,
    step_up_intro_unsent: &'static str,
    password_continue: &'static str,
    help_title: &'static str,
    help_intro: &'static str,
    help_q_forgot: &'static str,
    help_a_forgot: &'static str,
    help_link_recover: &'static str,
    help_link_retrieve: &'static str,
    help_q_no_sms: &'static str,
    help_a_no_sms: &'static str,
    help_link_unbind: &'static str,
    help_q_why_sms: &'static str,
    help_a_why_sms: &'static str,
    help_q_app_passwords: &'static str,
    help_a_app_passwords: &'static str,
    help_link_app_passwords: &'static str,
    help_q_blocked: &'static str,
    help_a_blocked: &'static str,
    help_link_password: &'static str,
    help_q_phones: &'static str,
    help_a_phones: &'static str,
    help_link_phones: &'static str,
}

impl Text {
    /// What is wrong with one entry of a calendar year's list.
    pub fn calendar_problem(&self, e: &crate::domain::calendar::CalendarError) -> String {
        use crate::domain::calendar::EntryProblem as P;
        let what = match e.problem {
            P::NotADate => self.calendar_not_a_date,
            P::OtherYear => self.calendar_other_year,
            P::UnknownKind => self.calendar_unknown_kind,
            P::WorkdayOnWeekday => self.calendar_workday_on_weekday,
            P::BadNote => self.calendar_bad_note,
            P::Twice => self.calendar_twice,
        };
        format!("{}{what}", (self.calendar_entry)(e.index + 1, &e.date))
    }

    /// A scope in words, as the consent page and the application list
    /// name it (`None` for a scope people are not asked about).
    pub fn scope_words(&self, scope: &str) -> Option<&'static str> {
        match scope {
            "openid" => Some(self.scope_openid),
            "profile" => Some(self.scope_profile),
            "email" => Some(self.scope_email),
            "phone" => Some(self.scope_phone),
            "address" => Some(self.scope_address),
            "offline_access" => Some(self.scope_offline_access),
            "review" => Some(self.scope_review),
            "org_admin" => Some(self.scope_org_admin),
            _ => None,
        }
    }

    /// An audit event kind in words; the kind itself for one this
    /// version does not know (an entry written by a newer node).
    pub fn audit_event(&self, kind: &str) -> String {
        self.audit_events
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, words)| (*words).to_string())
            .unwrap_or_else(|| kind.to_string())
    }

    /// An audit entry's outcome in words.
    pub fn audit_outcome(&self, outcome: &str) -> String {
        match outcome {
            "success" => self.admin_outcome_success.into(),
            "failure" => self.admin_outcome_failure.into(),
            other => other.into(),
        }
    }

    /// How a client authenticates at the token endpoint, in this language.
    pub fn client_auth_method(&self, m: crate::domain::client::AuthMethod) -> &'static str {
        use crate::domain::client::AuthMethod as M;
        match m {
            M::ClientSecretBasic => self.client_auth_secret_basic,
            M::ClientSecretPost => self.client_auth_secret_post,
            M::PrivateKeyJwt => self.client_auth_private_key_jwt,
            M::None => self.client_auth_none,
        }
    }

    /// Why an account is blocked, in this language.
    pub fn block_reason(&self, r: crate::domain::BlockReason) -> &'static str {
        use crate::domain::BlockReason as B;
        match r {
            B::WeakPassword => self.block_reason_weak_password,
            B::Admin => self.block_reason_admin,
            B::Compromised => self.block_reason_compromised,
        }
    }

    /// A rule of the password forms' list, in this language.
    pub fn password_rule(&self, r: crate::domain::PasswordRule, min_length: usize) -> String {
        use crate::domain::PasswordRule as R;
        match r {
            R::Length => (self.password_rule_length)(min_length),
            R::Upper => self.password_rule_upper.into(),
            R::Lower => self.password_rule_lower.into(),
            R::Digit => self.password_rule_digit.into(),
            R::Special => self.password_rule_special.into(),
            R::Personal => self.password_rule_identity.into(),
            R::Guessable => self.password_rule_guessable.into(),
        }
    }

    /// One broken password rule, in this language.
    pub fn policy(&self, v: crate::domain::PolicyViolation, min_length: usize) -> String {
        use crate::domain::PolicyViolation as P;
        match v {
            P::TooShort => (self.password_rule_length)(min_length),
            P::TooLong => (self.policy_too_long)(crate::domain::PasswordPolicy::MAX_LEN),
            P::NoUpper => self.policy_no_upper.into(),
            P::NoLower => self.policy_no_lower.into(),
            P::NoDigit => self.policy_no_digit.into(),
            P::NoSpecial => self.policy_no_special.into(),
            P::ContainsAccountName => self.policy_contains_account_name.into(),
            P::ContainsPhone => self.policy_contains_phone.into(),
            P::TooWeak => self.policy_too_weak.into(),
            P::Common => self.policy_common.into(),
        }
    }

    /// Why a phone number was refused, in this language.
    pub fn phone_error(&self, e: crate::domain::PhoneError) -> &'static str {
        use crate::domain::PhoneError as E;
        match e {
            E::CountryCodeMissing => self.phone_err_code_missing,
            E::CountryCodeInvalid => self.phone_err_code_invalid,
            E::NumberMissing => self.phone_err_number_missing,
            E::NotDigits => self.phone_err_not_digits,
            E::CountryCodeConflict => self.phone_err_conflict,
            E::Invalid => self.phone_err_invalid,
            E::NotMobile => self.phone_err_not_mobile,
        }
    }
}

/// Whole minutes and the seconds left over, rounded up to whole seconds
/// (a wait of 29.1 s is stated as 30 s, never as less than it is). Each
/// language words the pair itself.
pub(crate) fn minutes_seconds(d: Duration) -> (u64, u64) {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    (secs / 60, secs % 60)
}

/// A moment on the wall clock of the configured time zone
/// (`display.time_zone`), to the minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    pub year: i16,
    pub month: i8,
    pub day: i8,
    pub hour: i8,
    pub minute: i8,
}

impl LocalTime {
    pub fn of(t: OffsetDateTime, tz: &jiff::tz::TimeZone) -> LocalTime {
        let zoned = jiff::Timestamp::from_second(t.unix_timestamp())
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
            .to_zoned(tz.clone());
        LocalTime {
            year: zoned.year(),
            month: zoned.month(),
            day: zoned.day(),
            hour: zoned.hour(),
            minute: zoned.minute(),
        }
    }
}

impl Text {
    /// `t` as people read it, in the configured time zone: "2026年11月30日
    /// 23:38", "30 Nov 2026, 23:38". Never RFC 3339 on a page or in a
    /// notice.
    pub fn at(&self, t: OffsetDateTime, tz: &jiff::tz::TimeZone) -> String {
        (self.date_time)(&LocalTime::of(t, tz))
    }
}

/// `2026-11-22 08:30 UTC`: a moment in UTC, for machine-facing output
/// (the CSV export's column).
pub fn when(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::sms::Sms;
    use super::*;

    /// A field of [`Text`] as a page would show it: a message is called
    /// with a sample argument. Sample strings are ASCII, so what the checks
    /// find comes from the words, not from the samples.
    pub(crate) trait Sample {
        fn sample(&self) -> String;
    }

    impl Sample for &'static str {
        fn sample(&self) -> String {
            (*self).to_string()
        }
    }

    impl Sample for fn(Duration) -> String {
        fn sample(&self) -> String {
            self(Duration::from_secs(125))
        }
    }

    impl Sample for fn(u32) -> String {
        fn sample(&self) -> String {
            self(4)
        }
    }

    impl Sample for fn(i64) -> String {
        fn sample(&self) -> String {
            self(12)
        }
    }

    impl Sample for fn(i64, i64) -> String {
        fn sample(&self) -> String {
            self(2, 120)
        }
    }

    impl Sample for fn(usize) -> String {
        fn sample(&self) -> String {
            self(10)
        }
    }

    impl Sample for fn(&LocalTime) -> String {
        fn sample(&self) -> String {
            self(&LocalTime {
                year: 2026,
                month: 11,
                day: 30,
                hour: 23,
                minute: 8,
            })
        }
    }

    impl Sample for fn(&str) -> String {
        fn sample(&self) -> String {
            self("Sample")
        }
    }

    impl Sample for fn(&str, &str) -> String {
        fn sample(&self) -> String {
            self("Sample", "Other")
        }
    }

    impl Sample for fn(usize, &str) -> String {
        fn sample(&self) -> String {
            self(2, "Sample")
        }
    }

    impl Sample for &'static [(&'static str, &'static str)] {
        fn sample(&self) -> String {
            self.iter().map(|(_, w)| *w).collect::<Vec<_>>().join(" ")
        }
    }

    impl Sample for [&'static str; 7] {
        fn sample(&self) -> String {
            self.join(" ")
        }
    }

    impl Sample for fn(Option<&str>, Option<&str>) -> String {
        fn sample(&self) -> String {
            // The words around the names, and those for unknown ones.
            format!(
                "{} / {}",
                self(Some("Firefox"), None),
                self(None, Some("Linux"))
            )
        }
    }

    /// Chinese, Japanese and Korean script and punctuation, full-width
    /// forms included (a "：" or "，" left in an English text is a slip).
    fn is_cjk(c: char) -> bool {
        matches!(c,
            '\u{1100}'..='\u{11FF}'     // Hangul Jamo
            | '\u{2E80}'..='\u{2FDF}'   // CJK and Kangxi radicals
            | '\u{3000}'..='\u{303F}'   // CJK symbols and punctuation: 。、【】
            | '\u{3040}'..='\u{30FF}'   // kana
            | '\u{3100}'..='\u{312F}'   // bopomofo
            | '\u{3130}'..='\u{318F}'   // Hangul compatibility Jamo
            | '\u{3190}'..='\u{9FFF}'   // kanbun … CJK unified ideographs
            | '\u{AC00}'..='\u{D7AF}'   // Hangul syllables
            | '\u{F900}'..='\u{FAFF}'   // CJK compatibility ideographs
            | '\u{FE30}'..='\u{FE4F}'   // CJK compatibility forms
            | '\u{FF00}'..='\u{FFEF}'   // half-width and full-width forms: ，：（）
            | '\u{20000}'..='\u{3FFFF}' // CJK extensions B …
        )
    }

    /// Texts that differ from the rule on purpose, with the reason.
    const CJK_IN_ENGLISH_ON_PURPOSE: &[(&str, &str)] = &[(
        "other_language",
        "the language switch names Chinese in Chinese",
    )];
    const SAME_IN_BOTH_ON_PURPOSE: &[(&str, &str)] = &[("admin_ip", "\"IP\" in both")];

    /// Full-width punctuation: in Chinese text no space follows it.
    const FULL_WIDTH_PUNCTUATION: &[char] = &[
        '，', '。', '、', '；', '：', '？', '！', '（', '）', '“', '”', '‘', '’', '《', '》', '【',
        '】',
    ];

    /// What is wrong with these (name, Chinese, English) texts: an English
    /// text with CJK script in it, a Chinese text left equal to its
    /// English one, or a Chinese text with a space after full-width
    /// punctuation (which carries its own spacing) or half-width brackets
    /// around Chinese words.
    pub(crate) fn findings(texts: &[(String, String, String)]) -> Vec<String> {
        let on_purpose = |list: &[(&str, &str)], name: &str| list.iter().any(|(n, _)| *n == name);
        let mut found = Vec::new();
        for (name, zh, en) in texts {
            if let Some(c) = en.chars().find(|&c| is_cjk(c))
                && !on_purpose(CJK_IN_ENGLISH_ON_PURPOSE, name)
            {
                found.push(format!("{name}: the English text has {c:?}: {en:?}"));
            }
            if let Some(at) = zh.char_indices().find(|(i, c)| {
                FULL_WIDTH_PUNCTUATION.contains(c) && zh[i + c.len_utf8()..].starts_with(' ')
            }) {
                found.push(format!(
                    "{name}: a space after {:?} in the Chinese text: {zh:?}",
                    at.1
                ));
            }
            if zh == en && !on_purpose(SAME_IN_BOTH_ON_PURPOSE, name) {
                found.push(format!(
                    "{name}: the Chinese text is the English one: {zh:?}"
                ));
            }
        }
        found
    }

    fn pairs(zh: Vec<(&str, String)>, en: Vec<(&str, String)>) -> Vec<(String, String, String)> {
        assert_eq!(zh.len(), en.len());
        zh.into_iter()
            .zip(en)
            .map(|((name, zh), (en_name, en))| {
                assert_eq!(name, en_name);
                (name.to_string(), zh, en)
            })
            .collect()
    }

    /// Every SMS text, by name (see [`Sms`]).
    fn sms_samples(lang: Lang) -> Vec<(&'static str, String)> {
        let at = when(OffsetDateTime::UNIX_EPOCH);
        let all = [
            (
                "sms_code",
                Sms::Code {
                    code: "012345",
                    minutes: 5,
                },
            ),
            (
                "sms_recovery_code",
                Sms::RecoveryCode {
                    code: "012345",
                    minutes: 5,
                },
            ),
            (
                "sms_password_reset",
                Sms::PasswordReset {
                    account: "zhangsan",
                    at: &at,
                },
            ),
            (
                "sms_change_code",
                Sms::ChangeCode {
                    code: "012345",
                    minutes: 5,
                },
            ),
            (
                "sms_bind_code",
                Sms::BindCode {
                    code: "012345",
                    minutes: 5,
                },
            ),
            (
                "sms_unbind_code",
                Sms::UnbindCode {
                    code: "012345",
                    minutes: 5,
                },
            ),
            (
                "sms_phone_changed",
                Sms::PhoneChanged {
                    account: "zhangsan",
                    login: true,
                    phone: "133****8347",
                    at: &at,
                },
            ),
            (
                "sms_unbind_submitted",
                Sms::UnbindSubmitted {
                    account: "zhangsan",
                    link: "https://passport.example/unbind/cancel/1?token=x",
                },
            ),
            (
                "sms_unbind_completed",
                Sms::UnbindCompleted {
                    account: "zhangsan",
                },
            ),
            (
                "sms_retrieval_code",
                Sms::RetrievalCode {
                    code: "123456",
                    minutes: 5,
                },
            ),
            (
                "sms_retrieval_approved",
                Sms::RetrievalApproved {
                    code: "123456",
                    hours: 24,
                    link: "https://id.example/retrieve/complete",
                },
            ),
            (
                "sms_retrieval_rejected",
                Sms::RetrievalRejected {
                    case: "1234567890123452",
                    link: "https://id.example/retrieve/files",
                },
            ),
            (
                "sms_retrieval_pending",
                Sms::RetrievalPending {
                    account: "zhangsan",
                    at: "2026-12-01 10:00",
                },
            ),
            (
                "sms_retrieval_completed",
                Sms::RetrievalCompleted {
                    account: "zhangsan",
                    at: "2026-12-01 10:00",
                },
            ),
        ];
        all.iter()
            .map(|(name, sms)| {
                // No wildcard: a new message fails to compile here until
                // it is added to `all` above.
                match sms {
                    Sms::Code { .. }
                    | Sms::RecoveryCode { .. }
                    | Sms::PasswordReset { .. }
                    | Sms::ChangeCode { .. }
                    | Sms::BindCode { .. }
                    | Sms::UnbindCode { .. }
                    | Sms::PhoneChanged { .. }
                    | Sms::UnbindSubmitted { .. }
                    | Sms::UnbindCompleted { .. }
                    | Sms::RetrievalCode { .. }
                    | Sms::RetrievalApproved { .. }
                    | Sms::RetrievalRejected { .. }
                    | Sms::RetrievalPending { .. }
                    | Sms::RetrievalCompleted { .. } => {}
                }
                (*name, sms.text(lang).unwrap())
            })
            .collect()
    }

    #[test]
    fn english_has_no_chinese_and_chinese_is_translated() {
        let text = pairs(ZH_CN.samples(), EN.samples());
        assert!(text.len() > 200, "every field of Text: {}", text.len());
        let sms = pairs(sms_samples(Lang::ZhCn), sms_samples(Lang::En));
        let found = findings(&[text, sms].concat());
        assert!(found.is_empty(), "{found:#?}");
    }

    #[test]
    fn the_language_check_finds_what_it_looks_for() {
        let t = |name: &str, zh: &str, en: &str| (name.to_string(), zh.to_string(), en.to_string());
        // Positive controls: a Chinese word, a full-width colon and an
        // untranslated text are each found.
        assert_eq!(findings(&[t("a", "等待", "Wait 等待")]).len(), 1);
        assert_eq!(findings(&[t("b", "等待：", "Wait：")]).len(), 1);
        assert_eq!(findings(&[t("c", "Wait", "Wait")]).len(), 1);
        assert_eq!(findings(&[t("d", "等待", "等待")]).len(), 2);
        // A space after full-width punctuation; none after a closing one
        // at the end, or after half-width punctuation, is fine.
        assert_eq!(findings(&[t("e", "请稍后再试。 30秒", "Wait")]).len(), 1);
        assert_eq!(findings(&[t("f", "需要等待： 30秒", "Wait")]).len(), 1);
        assert!(findings(&[t("g", "需要等待：30秒。", "Wait")]).is_empty());
        assert!(findings(&[t("h", "共 3 个 (a, b)", "Wait")]).is_empty());
        // A planted slip in the real texts is found too.
        let mut text = pairs(ZH_CN.samples(), EN.samples());
        text[5].2 = text[5].1.clone();
        assert!(!findings(&text).is_empty());
        // … and the exceptions are exactly the listed ones.
        assert!(
            findings(&[
                t("x", "翻译", "Translated"),
                t("y", "翻译", "“Translated” — 1 s")
            ])
            .is_empty()
        );
        assert_eq!(
            findings(&[
                t("other_language", "English", "中文"),
                t("admin_ip", "IP", "IP")
            ])
            .len(),
            0
        );
        assert_eq!(findings(&[t("admin_ip", "IP", "中")]).len(), 1);
    }

    #[test]
    fn negotiation_rules() {
        assert_eq!(
            Lang::from_accept_language("en-US,en;q=0.9,zh;q=0.8"),
            Some(Lang::En)
        );
        assert_eq!(
            Lang::from_accept_language("fr, zh-CN;q=0.5, en;q=0.4"),
            Some(Lang::ZhCn)
        );
        assert_eq!(Lang::from_accept_language("fr"), None);
        assert_eq!(Lang::from_ui_locales("de en zh"), Some(Lang::En));
    }

    #[test]
    fn messages_state_durations_in_each_language() {
        assert_eq!(
            (EN.step_up_wait)(Duration::from_secs(125)),
            "Codes are sent at most once a minute. Time to wait: 2 min 5 s"
        );
        assert!((EN.login_locked)(Duration::from_secs(120)).ends_with(": 2 min"));
        assert_eq!(
            (ZH_CN.login_locked)(Duration::from_millis(29_100)),
            "尝试次数过多，请30秒后再试。"
        );
        assert_eq!(
            (ZH_CN.error_too_many)(Duration::from_secs(65)),
            "请求过于频繁，请1分5秒后再试。"
        );
        assert_eq!(minutes_seconds(Duration::from_millis(59_001)), (1, 0));
    }

    #[test]
    fn sms_texts_carry_their_values() {
        let code = Sms::Code {
            code: "123456",
            minutes: 5,
        };
        assert!(
            code.text(Lang::ZhCn)
                .unwrap()
                .contains("123456，5 分钟内有效")
        );
        assert!(code.text(Lang::En).unwrap().contains("valid for 5 minutes"));
        let reset = Sms::PasswordReset {
            account: "zs",
            at: "1970-01-01 00:00 UTC",
        };
        let zh = reset.text(Lang::ZhCn).unwrap();
        assert!(
            zh.contains("zs") && zh.contains("1970-01-01 00:00 UTC") && zh.contains("密保邮箱")
        );
        assert!(reset.text(Lang::En).unwrap().contains("security e-mail"));
        assert!(!zh.ends_with('\n'), "an SMS is one line: {zh:?}");
    }
}
