//! `/admin/users`: search, and one account with every action the API has.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::confirm::{self, Confirmation};
use super::{AdminSession, AuditLine, Nav, Pager, ScopedSession};
use crate::domain::{PhoneNumber, Role, Roles, SecretPassword};
use crate::error::PageError;
use crate::extract::{ClientOrigin, CsrfForm};
use crate::pages::{Chrome, PageCtx, render, render_status};
use crate::routes;
use crate::service::accounts::{self, AccountError, ProfileInput, Refusal};
use crate::service::admin::{self, AccountAction};
use crate::service::phone;
use crate::service::phone::PhoneError;
use crate::state::AppState;
use crate::store::audit::AuditFilter;
use crate::store::users::{AccountStatus, User};

const PAGE: i64 = 50;

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    c: Chrome,
    nav: Nav,
    q: String,
    users: Vec<User>,
    total: i64,
    pager: Pager,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    page: Option<i64>,
}

/// The accounts the administrator looks after that match the query (an
/// organization administrator's search finds its organizations' only).
pub async fn search(
    State(state): State<AppState>,
    ctx: PageCtx,
    admin_session: ScopedSession,
    Query(q): Query<SearchQuery>,
) -> Result<Response, PageError> {
    let page = q.page.unwrap_or(1).clamp(1, admin::MAX_PAGE);
    let text: String = q.q.trim().chars().take(100).collect();
    let (users, total) =
        admin::search_users(&state, &admin_session.scope, &text, page, PAGE).await?;
    render(&UsersPage {
        c: ctx.chrome().await?,
        nav: admin_session.nav(),
        pager: Pager::new(page, PAGE, total, &[("q", &text)]),
        q: text,
        users,
        total,
        error: None,
    })
}

#[derive(Deserialize)]
pub struct CreateForm {
    username: String,
    display_name: Option<String>,
    login_phone: Option<String>,
    organization: Option<String>,
    admin: Option<String>,
    reviewer: Option<String>,
    /// The initial password; empty: a strong one is generated.
    password: Option<String>,
}

/// Creates an account with the given password (policy-checked) or a
/// generated strong one, shown once on the account's page.
pub async fn create(
    State(state): State<AppState>,
    ctx: PageCtx,
    admin_session: AdminSession,
    ClientOrigin(origin): ClientOrigin,
    CsrfForm(form, _): CsrfForm<CreateForm>,
) -> Result<Response, PageError> {
    let input = accounts::NewAccount {
        username: form.username,
        display_name: form.display_name,
        login_phone: form.login_phone,
        organization: form.organization,
        is_admin: form.admin.is_some(),
        roles: Roles::none().with(Role::Reviewer, form.reviewer.is_some()),
        password: form
            .password
            .filter(|p| !p.is_empty())
            .map(SecretPassword::new),
        ..accounts::NewAccount::default()
    };
    match accounts::create(&state, input, &admin_session.actor(), &origin).await {
        Ok((user, generated)) => {
            if let Some(password) = generated {
                ctx.session.show_password_once(user.id, password).await?;
            }
            Ok(Redirect::to(&done_url(user.id)).into_response())
        }
        Err(e) => {
            let message = account_message(ctx.t(), state.policy.min_length(), e)?;
            let (users, total) = admin::search_users(
                &state,
                &crate::service::organizations::AdminScope::All,
                "",
                1,
                PAGE,
            )
            .await?;
            render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &UsersPage {
                    c: ctx.chrome().await?,
                    nav: admin_session.nav(),
                    q: String::new(),
                    users,
                    total,
                    pager: Pager::new(1, PAGE, total, &[]),
                    error: Some(message),
                },
            )
        }
    }
}

#[derive(Template)]
#[template(path = "admin/user.html")]
struct UserPage {
    c: Chrome,
    nav: Nav,
    u: User,
    /// The account holds the reviewer role.
    reviewer: bool,
    message: Option<String>,
    error: Option<String>,
    generated: Option<String>,
    events: Vec<AuditLine>,
    /// The phones, masked.
    login_masked: Option<String>,
    security_masked: Option<String>,
    /// The full numbers, after the audited "show" action.
    full_phones: Option<(String, String)>,
    /// The account owes a login phone binding at its next sign-in.
    binding_owed: bool,
    /// Its active blocks: (client, reason).
    blocks: Vec<(String, &'static str)>,
    /// Its application passwords (the system administrator's view).
    app_passwords: Vec<AppPasswordLine>,
}

/// An application password on the account's page.
struct AppPasswordLine {
    id: uuid::Uuid,
    label: String,
    client: String,
    created: String,
    last_used: Option<String>,
    revoked: Option<String>,
}

#[derive(Deserialize)]
pub struct DetailQuery {
    done: Option<String>,
}

async fn user_page(
    state: &AppState,
    ctx: &PageCtx,
    nav: Nav,
    user: User,
    message: Option<String>,
    error: Option<String>,
    generated: Option<String>,
) -> Result<UserPage, PageError> {
    // The audit log is the system administrator's (it names other
    // administrators and other accounts' events).
    let events = if !nav.admin {
        Vec::new()
    } else {
        admin::audit(
            state,
            &AuditFilter {
                subject_id: Some(user.id),
                limit: 20,
                ..AuditFilter::default()
            },
        )
        .await?
        .into_iter()
        .map(|r| AuditLine::of(r, ctx.t(), &ctx.tz))
        .collect()
    };
    let t = ctx.t();
    let blocks = crate::service::blocks::of(state, &user)
        .await?
        .into_iter()
        .map(|b| {
            let client = if b.client_id == crate::domain::ALL_CLIENTS {
                t.blocks_all_clients.to_string()
            } else {
                b.client_id
            };
            (client, t.block_reason(b.reason))
        })
        .collect();
    let when = |at: time::OffsetDateTime| t.at(at, &ctx.tz);
    let app_passwords = if !nav.admin {
        Vec::new()
    } else {
        crate::service::app_passwords::history(state, &user)
            .await?
            .into_iter()
            .map(|r| AppPasswordLine {
                last_used: crate::service::app_passwords::last_used(&r)
                    .map(|(at, ip)| format!("{} · {ip}", when(at))),
                revoked: r.revoked_at.map(|at| {
                    let why = revoked_reason(t, r.revoked_reason.as_deref().unwrap_or_default());
                    (t.admin_app_password_revoked_at)(&when(at), &why)
                }),
                created: when(r.created_at),
                client: r.client_name,
                label: r.label,
                id: r.id,
            })
            .collect()
    };
    Ok(UserPage {
        app_passwords,
        blocks,
        c: ctx.chrome().await?,
        nav,
        reviewer: user.has_role(Role::Reviewer),
        login_masked: user.login_phone.as_deref().map(PhoneNumber::masked),
        security_masked: user.security_phone.as_deref().map(PhoneNumber::masked),
        full_phones: None,
        binding_owed: phone::binding_owed(state, &user).is_some() && user.phone_binding().is_some(),
        u: user,
        message,
        error,
        generated,
        events,
    })
}

pub async fn detail(
    State(state): State<AppState>,
    ctx: PageCtx,
    admin: ScopedSession,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> Result<Response, PageError> {
    let user = admin.account(&state, &id).await?;
    let message = q.done.map(|_| ctx.t().admin_done.to_string());
    let generated = ctx.session.take_password_shown_once(user.id).await?;
    render(&user_page(&state, &ctx, admin.nav(), user, message, None, generated).await?)
}

/// The account's page after a change (post-redirect-get).
fn done_url(id: uuid::Uuid) -> String {
    format!("{}/{id}?done=1", routes::ADMIN_USERS)
}

/// Every action form posts here with its `action`.
#[derive(Deserialize)]
pub struct ActionForm {
    action: String,
    /// The application password the `app_password_revoke` action revokes.
    app_password_id: Option<String>,
    version: Option<i64>,
    display_name: Option<String>,
    login_phone: Option<String>,
    security_phone: Option<String>,
    /// Ticked: clear the phone (an empty phone field keeps it).
    clear_login_phone: Option<String>,
    clear_security_phone: Option<String>,
    security_email: Option<String>,
    organization: Option<String>,
    admin: Option<String>,
    reviewer: Option<String>,
    reason: Option<String>,
    password: Option<String>,
    /// `1` once confirmed on the confirmation page ([`confirm`]).
    confirm: Option<String>,
}

/// A phone field of the profile form: shown masked, so an empty field
/// keeps the number, a typed one replaces it, and "clear" removes it.
fn phone_field(typed: Option<String>, clear: Option<String>) -> Option<String> {
    match (typed.filter(|t| !t.trim().is_empty()), clear) {
        (_, Some(_)) => Some(String::new()),
        (Some(t), None) => Some(t),
        (None, None) => None,
    }
}

/// What each action of the account's page is, for the scope's rules.
fn action_of(action: &str) -> Result<AccountAction, PageError> {
    Ok(match action {
        "profile" => AccountAction::EditProfile,
        "disable" | "enable" => AccountAction::ChangeStatus,
        "password" => AccountAction::ResetPassword,
        "force" => AccountAction::ForcePasswordChange,
        "revoke" => AccountAction::RevokeSessions,
        "require_binding" => AccountAction::RequirePhoneBinding,
        "phones" => AccountAction::RevealPhones,
        "lift" => AccountAction::LiftBlocks,
        "app_password_revoke" | "app_passwords_revoke_all" => AccountAction::RevokeSessions,
        _ => return Err(PageError::BadRequest),
    })
}

pub async fn act(
    State(state): State<AppState>,
    ctx: PageCtx,
    admin: ScopedSession,
    ClientOrigin(origin): ClientOrigin,
    Path(id): Path<String>,
    CsrfForm(form, _): CsrfForm<ActionForm>,
) -> Result<Response, PageError> {
    let user = admin.account(&state, &id).await?;
    admin.may(action_of(&form.action)?)?;
    if !confirm::given(form.confirm.as_deref())
        && let Some(question) = confirmation(&state, ctx.t(), &user, &form).await?
    {
        return question.page(ctx.chrome().await?, admin.nav());
    }
    let actor = admin.actor();
    let result: Result<Option<String>, AccountError> = match form.action.as_str() {
        "profile" => {
            let input = ProfileInput {
                display_name: form.display_name,
                login_phone: phone_field(form.login_phone, form.clear_login_phone),
                security_phone: phone_field(form.security_phone, form.clear_security_phone),
                security_email: form.security_email,
                organization: form.organization,
                address: None,
                is_admin: Some(form.admin.is_some()),
                roles: Some(user.roles.with(Role::Reviewer, form.reviewer.is_some())),
            };
            let version = form.version.ok_or(PageError::BadRequest)?;
            accounts::update_profile(&state, &user, version, input, &actor, &origin)
                .await
                .map(|_| None)
        }
        "disable" => accounts::change_status(
            &state,
            &user,
            AccountStatus::Disabled,
            form.reason.as_deref(),
            &actor,
            &origin,
        )
        .await
        .map(|_| None),
        "enable" => accounts::change_status(
            &state,
            &user,
            AccountStatus::Active,
            form.reason.as_deref(),
            &actor,
            &origin,
        )
        .await
        .map(|_| None),
        "password" => {
            let given = form
                .password
                .filter(|p| !p.is_empty())
                .map(SecretPassword::new);
            accounts::reset_password(&state, &user, given, &actor, &origin).await
        }
        "lift" => crate::service::blocks::lift_within(&state, &admin.scope, &user, &actor, &origin)
            .await
            .map(|_| None)
            .map_err(AccountError::from),
        "force" => accounts::force_password_change(&state, &user, &actor, &origin)
            .await
            .map(|_| None),
        "revoke" => accounts::revoke_sessions(&state, &user, &actor, &origin)
            .await
            .map(|_| None),
        "app_password_revoke" => {
            let id = form
                .app_password_id
                .as_deref()
                .and_then(|i| uuid::Uuid::parse_str(i.trim()).ok())
                .ok_or(PageError::BadRequest)?;
            crate::service::app_passwords::revoke(&state, &user, id, &actor, &origin)
                .await
                .map(|_| None)
                .map_err(AccountError::from)
        }
        "app_passwords_revoke_all" => {
            crate::service::app_passwords::revoke_all(&state, &user, &actor, &origin)
                .await
                .map(|_| None)
                .map_err(AccountError::from)
        }
        "require_binding" => match phone::require_binding(&state, &user, &actor, &origin).await {
            Ok(()) => Ok(None),
            // The button is not shown then; a stale form is refused.
            Err(PhoneError::NotNow) => Err(AccountError::Conflict("login_phone")),
            Err(e) => return Err(PageError::Internal(e.to_string())),
        },
        "phones" => {
            // The full numbers, shown on this answer only (never in a URL);
            // the look is audited.
            let (login, security) = phone::reveal(&state, &user, &actor, &origin).await?;
            let mut page = user_page(&state, &ctx, admin.nav(), user, None, None, None).await?;
            page.full_phones = Some((login.unwrap_or_default(), security.unwrap_or_default()));
            return render(&page);
        }
        _ => return Err(PageError::BadRequest),
    };
    let t = ctx.t();
    match result {
        // A generated password is shown once on the account's page (never
        // in a URL), which a reload does not show again.
        Ok(generated) => {
            if let Some(password) = generated {
                ctx.session.show_password_once(user.id, password).await?;
            }
            Ok(Redirect::to(&done_url(user.id)).into_response())
        }
        Err(e) => {
            let message = account_message(t, state.policy.min_length(), e)?;
            let fresh = admin.account(&state, &id).await?;
            render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &user_page(&state, &ctx, admin.nav(), fresh, None, Some(message), None).await?,
            )
        }
    }
}

/// Why an application password was revoked, in the page's language, from
/// the reason stored (a reason this version does not know is shown as
/// stored).
fn revoked_reason(t: &crate::i18n::Text, stored: &str) -> String {
    use crate::service::app_passwords::Reason as R;
    match R::of_stored(stored) {
        Some(R::ByOwner) => t.app_password_reason_by_owner,
        Some(R::ByAdministrator) => t.app_password_reason_by_admin,
        Some(R::PasswordChanged) => t.app_password_reason_changed,
        Some(R::PasswordReset) => t.app_password_reason_reset,
        Some(R::PasswordRecovered) => t.app_password_reason_recovered,
        Some(R::PasswordRetrieved) => t.app_password_reason_retrieved,
        Some(R::UnbindCompleted) => t.app_password_reason_unbind,
        None => return stored.to_string(),
    }
    .to_string()
}

/// What a destructive action asks before it acts (`None`: it acts at
/// once). The fields it posts again are the action's own.
async fn confirmation(
    state: &AppState,
    t: &'static crate::i18n::Text,
    user: &User,
    form: &ActionForm,
) -> Result<Option<Confirmation>, PageError> {
    let name = user.username.as_str();
    let mut fields = vec![("action", form.action.clone())];
    let (question, consequence, button) = match form.action.as_str() {
        "disable" => {
            fields.push(("reason", form.reason.clone().unwrap_or_default()));
            (
                (t.admin_confirm_disable)(name),
                t.admin_confirm_disable_then,
                t.admin_disable,
            )
        }
        "password" => {
            fields.push(("password", form.password.clone().unwrap_or_default()));
            (
                (t.admin_confirm_password)(name),
                t.admin_confirm_password_then,
                t.admin_reset_password,
            )
        }
        "revoke" => (
            (t.admin_confirm_revoke)(name),
            t.admin_confirm_revoke_then,
            t.admin_revoke,
        ),
        "lift" => (
            (t.admin_confirm_lift)(name),
            t.admin_confirm_lift_then,
            t.admin_lift_blocks,
        ),
        "app_password_revoke" => {
            let id = form.app_password_id.clone().unwrap_or_default();
            // The question names the password by its label; an id that is
            // not the account's is refused when it acts.
            let label = match uuid::Uuid::parse_str(id.trim()) {
                Ok(uuid) => crate::service::app_passwords::history(state, user)
                    .await?
                    .into_iter()
                    .find(|r| r.id == uuid)
                    .map(|r| r.label),
                Err(_) => None,
            };
            fields.push(("app_password_id", id));
            (
                (t.admin_confirm_app_password)(&label.unwrap_or_default()),
                t.admin_confirm_app_passwords_then,
                t.app_passwords_revoke,
            )
        }
        "app_passwords_revoke_all" => (
            (t.admin_confirm_app_passwords)(name),
            t.admin_confirm_app_passwords_then,
            t.app_passwords_revoke_all,
        ),
        _ => return Ok(None),
    };
    Ok(Some(Confirmation {
        question,
        consequence: consequence.into(),
        action: format!("{}/{}", routes::ADMIN_USERS, user.id),
        fields,
        back: format!("{}/{}", routes::ADMIN_USERS, user.id),
        button: button.into(),
    }))
}

/// The console's words for a refused account change: localized, with the
/// field and the technical reason in brackets for the record.
fn account_message(
    t: &crate::i18n::Text,
    min_length: usize,
    e: AccountError,
) -> Result<String, PageError> {
    let label = |field: &str| -> String {
        match field {
            "username" => t.account_name,
            "display_name" => t.display_name,
            "login_phone" => t.login_phone,
            "security_phone" => t.security_phone,
            "email" | "security_email" => t.security_email,
            "organization" => t.organization,
            "admin" => t.role_admin,
            "roles" => t.role,
            "status" => t.admin_status,
            other => other,
        }
        .to_string()
    };
    Ok(match e {
        AccountError::Stale => t.admin_stale.to_string(),
        AccountError::UnknownOrganization(name) => format!(
            "{} (organization: not registered)",
            (t.admin_unknown_organization)(&name)
        ),
        AccountError::InactiveOrganization(name, status) => format!(
            "{} (organization: {status})",
            (t.admin_inactive_organization)(&name)
        ),
        AccountError::Invalid(v) if v.field == "roles" && v.reason.starts_with("org_admin") => {
            format!(
                "{} (roles: {})",
                t.admin_org_admin_per_organization, v.reason
            )
        }
        AccountError::WeakPassword(_, violations) => violations
            .into_iter()
            .map(|v| t.policy(v, min_length))
            .collect::<Vec<_>>()
            .join(" "),
        AccountError::Invalid(v) => format!(
            "{} ({}: {})",
            (t.admin_invalid)(&label(v.field)),
            v.field,
            v.reason
        ),
        AccountError::Conflict(field) => format!(
            "{} ({field}: already in use)",
            (t.admin_in_use)(&label(field))
        ),
        AccountError::Refused(r) => {
            let text = match r {
                Refusal::OwnAdminRole => t.admin_refused_own_role,
                Refusal::OwnAccount => t.admin_refused_own_account,
                Refusal::LastAdmin => t.admin_refused_last_admin,
            };
            format!("{text} ({}: {})", r.field(), r.text())
        }
        AccountError::Hash(h) => return Err(h.into()),
        other => return Err(PageError::Internal(other.to_string())),
    })
}
