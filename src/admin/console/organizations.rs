//! `/admin/organizations`: the organization registry (单位). System
//! administrators search it, register organizations, change them and
//! name their administrators; an organization administrator sees its own
//! organizations (read only), and any other answers the 404 page.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{Nav, Pager, ScopedSession};
use crate::domain::OrganizationStatus;
use crate::error::PageError;
use crate::extract::{ClientOrigin, CsrfForm};
use crate::i18n::Text;
use crate::pages::{Chrome, PageCtx, render, render_status};
use crate::routes;
use crate::service::organizations::{self, OrgError, OrgInput};
use crate::service::{accounts, admin};
use crate::state::AppState;
use crate::store::organizations::Organization;

const PAGE: i64 = 50;

/// An organization as the pages show it.
pub struct OrgRow {
    pub id: uuid::Uuid,
    pub full_name: String,
    pub short_name: String,
    pub aliases: String,
    pub mail_domains: String,
    pub status: &'static str,
    pub status_label: &'static str,
    pub version: i64,
}

fn status_label(t: &Text, s: OrganizationStatus) -> &'static str {
    match s {
        OrganizationStatus::Active => t.org_status_active,
        OrganizationStatus::Pending => t.org_status_pending,
        OrganizationStatus::Inactive => t.org_status_inactive,
    }
}

fn row(t: &Text, o: &Organization) -> OrgRow {
    OrgRow {
        id: o.id,
        full_name: o.full_name.clone(),
        short_name: o.short_name.clone().unwrap_or_default(),
        aliases: o.aliases.0.join("; "),
        mail_domains: o.mail_domains.0.join("; "),
        status: o.status.as_str(),
        status_label: status_label(t, o.status),
        version: o.version,
    }
}

/// The statuses for a select: value, label.
fn statuses(t: &Text) -> Vec<(&'static str, &'static str)> {
    OrganizationStatus::ALL
        .into_iter()
        .map(|s| (s.as_str(), status_label(t, s)))
        .collect()
}

#[derive(Template)]
#[template(path = "admin/organizations.html")]
struct OrganizationsPage {
    c: Chrome,
    nav: Nav,
    q: String,
    status: String,
    statuses: Vec<(&'static str, &'static str)>,
    orgs: Vec<OrgRow>,
    pager: Pager,
    error: Option<String>,
    /// The create form as typed (after a refusal).
    form: OrgForm,
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    page: Option<i64>,
}

async fn list_page(
    state: &AppState,
    ctx: &PageCtx,
    admin: &ScopedSession,
    q: &str,
    status_text: &str,
    page: i64,
) -> Result<OrganizationsPage, PageError> {
    let t = ctx.t();
    let text: String = q.trim().chars().take(100).collect();
    let status = OrganizationStatus::parse(status_text).ok();
    let (orgs, total) = organizations::list_in_scope(
        state,
        &admin.scope,
        Some(&admin.current.user),
        &text,
        status,
        PAGE,
        (page - 1) * PAGE,
    )
    .await?;
    let status_name = status.map_or("", |s| s.as_str());
    let pager = Pager::new(page, PAGE, total, &[("q", &text), ("status", status_name)]);
    Ok(OrganizationsPage {
        c: ctx.chrome().await?,
        nav: admin.nav(),
        q: text,
        status: status.map_or("", |s| s.as_str()).to_string(),
        statuses: statuses(t),
        orgs: orgs.iter().map(|o| row(t, o)).collect(),
        pager,
        error: None,
        form: OrgForm::default(),
    })
}

/// The registry (a system administrator) or one's own organizations (an
/// organization administrator), searched by any name or mail domain.
pub async fn list(
    State(state): State<AppState>,
    ctx: PageCtx,
    admin: ScopedSession,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    let page = q.page.unwrap_or(1).clamp(1, admin::MAX_PAGE);
    render(&list_page(&state, &ctx, &admin, &q.q, &q.status, page).await?)
}

/// The create and edit forms: lists are typed `;`-separated.
#[derive(Deserialize, Default)]
pub struct OrgForm {
    #[serde(default)]
    action: String,
    version: Option<i64>,
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    short_name: String,
    #[serde(default)]
    aliases: String,
    #[serde(default)]
    mail_domains: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    username: String,
    /// `1` once confirmed (`remove_admin`).
    confirm: Option<String>,
}

fn split(list: &str) -> Vec<String> {
    list.split([';', '；', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

impl OrgForm {
    fn input(&self) -> OrgInput {
        OrgInput {
            full_name: self.full_name.clone(),
            short_name: Some(self.short_name.clone()),
            aliases: split(&self.aliases),
            mail_domains: split(&self.mail_domains),
            status: OrganizationStatus::parse(&self.status).ok(),
        }
    }
}

/// The console's words for a refused registry change: localized, with
/// the field and the technical reason in brackets for the record.
fn org_message(t: &Text, e: OrgError) -> Result<String, PageError> {
    let label = |field: &str| -> &'static str {
        match field {
            "full_name" => t.org_full_name,
            "short_name" => t.org_short_name,
            "aliases" => t.org_aliases,
            "mail_domains" => t.org_mail_domains,
            "status" => t.admin_status,
            _ => t.admin_stale,
        }
    };
    let detail = e.to_string();
    Ok(match e {
        OrgError::Invalid(v) => format!(
            "{} ({}: {})",
            (t.admin_invalid)(label(v.field)),
            v.field,
            v.reason
        ),
        OrgError::NameTaken {
            field, ref other, ..
        } => {
            format!("{}: {} ({detail})", label(field), (t.org_taken_by)(other))
        }
        OrgError::DomainTaken { ref other, .. } => format!(
            "{}: {} ({detail})",
            t.org_mail_domains,
            (t.org_taken_by)(other)
        ),
        OrgError::Conflict(field) => format!(
            "{} ({field}: already in use)",
            (t.admin_in_use)(label(field))
        ),
        OrgError::Stale => t.admin_stale.to_string(),
        OrgError::NotFound => return Err(PageError::NotFound),
        OrgError::Store(e) => return Err(e.into()),
    })
}

/// Changing the registry is the system administrator's (403 page).
fn system_only(admin: &ScopedSession) -> Result<(), PageError> {
    if admin.scope.is_all() {
        Ok(())
    } else {
        Err(PageError::Forbidden)
    }
}

fn done_url(id: uuid::Uuid) -> String {
    format!("{}/{id}?done=1", routes::ADMIN_ORGANIZATIONS)
}

/// Registers an organization (system administrators).
pub async fn create(
    State(state): State<AppState>,
    ctx: PageCtx,
    scoped: ScopedSession,
    ClientOrigin(origin): ClientOrigin,
    CsrfForm(form, _): CsrfForm<OrgForm>,
) -> Result<Response, PageError> {
    system_only(&scoped)?;
    let mut input = form.input();
    if form.status.trim().is_empty() {
        input.status = Some(OrganizationStatus::Active);
    }
    match organizations::create(&state, &input, &scoped.actor(), &origin).await {
        Ok(org) => Ok(Redirect::to(&done_url(org.id)).into_response()),
        Err(e) => {
            let message = org_message(ctx.t(), e)?;
            let mut page = list_page(&state, &ctx, &scoped, "", "", 1).await?;
            page.error = Some(message);
            page.form = form;
            render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
    }
}

#[derive(Template)]
#[template(path = "admin/organization.html")]
struct OrganizationPage {
    c: Chrome,
    nav: Nav,
    o: OrgRow,
    statuses: Vec<(&'static str, &'static str)>,
    accounts: i64,
    /// The accounts page searching this organization.
    accounts_href: String,
    administrators: Vec<(String, String)>,
    message: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct DetailQuery {
    done: Option<String>,
}

async fn org_page(
    state: &AppState,
    ctx: &PageCtx,
    nav: Nav,
    org: &Organization,
    message: Option<String>,
    error: Option<String>,
) -> Result<OrganizationPage, PageError> {
    let t = ctx.t();
    let accounts = organizations::member_count(state, org).await?;
    let administrators = organizations::administrators(state, org)
        .await?
        .into_iter()
        .map(|u| (u.username, u.display_name))
        .collect();
    let accounts_href = format!(
        "{}?{}",
        routes::ADMIN_USERS,
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("q", &org.full_name)
            .finish()
    );
    Ok(OrganizationPage {
        c: ctx.chrome().await?,
        nav,
        o: row(t, org),
        statuses: statuses(t),
        accounts,
        accounts_href,
        administrators,
        message,
        error,
    })
}

async fn load(
    state: &AppState,
    admin: &ScopedSession,
    id: &str,
) -> Result<Organization, PageError> {
    let id = uuid::Uuid::parse_str(id).map_err(|_| PageError::NotFound)?;
    organizations::in_scope(state, &admin.scope, id)
        .await
        .map_err(|e| match e {
            OrgError::NotFound => PageError::NotFound,
            other => PageError::Internal(other.to_string()),
        })
}

/// One organization: editable by system administrators, read only for
/// its own administrators, the 404 page for anyone else's.
pub async fn detail(
    State(state): State<AppState>,
    ctx: PageCtx,
    admin: ScopedSession,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> Result<Response, PageError> {
    let org = load(&state, &admin, &id).await?;
    let message = q.done.map(|_| ctx.t().admin_done.to_string());
    render(&org_page(&state, &ctx, admin.nav(), &org, message, None).await?)
}

/// The forms of an organization's page (system administrators): `update`,
/// `add_admin`, `remove_admin`.
pub async fn act(
    State(state): State<AppState>,
    ctx: PageCtx,
    scoped: ScopedSession,
    ClientOrigin(origin): ClientOrigin,
    Path(id): Path<String>,
    CsrfForm(form, _): CsrfForm<OrgForm>,
) -> Result<Response, PageError> {
    let org = load(&state, &scoped, &id).await?;
    system_only(&scoped)?;
    let actor = scoped.actor();
    let t = ctx.t();
    let refused: String = match form.action.as_str() {
        "update" => {
            let version = form.version.ok_or(PageError::BadRequest)?;
            let mut input = form.input();
            if input.status.is_none() {
                input.status = Some(org.status);
            }
            match organizations::update(&state, &org, version, &input, &actor, &origin).await {
                Ok(_) => return Ok(Redirect::to(&done_url(org.id)).into_response()),
                Err(e) => org_message(t, e)?,
            }
        }
        "add_admin" | "remove_admin" => {
            let name = form.username.trim().to_lowercase();
            match accounts::find(&state, &name).await {
                Ok(user)
                    if form.action == "remove_admin"
                        && !super::confirm::given(form.confirm.as_deref()) =>
                {
                    let back = format!("{}/{}", routes::ADMIN_ORGANIZATIONS, org.id);
                    return super::confirm::Confirmation {
                        question: (t.admin_confirm_remove_admin)(&user.username, &org.full_name),
                        consequence: t.admin_confirm_remove_admin_then.into(),
                        action: back.clone(),
                        fields: vec![
                            ("action", form.action.clone()),
                            ("username", user.username.clone()),
                        ],
                        back,
                        button: t.org_remove_admin.into(),
                    }
                    .page(ctx.chrome().await?, scoped.nav());
                }
                Ok(user) => {
                    let result = if form.action == "add_admin" {
                        organizations::assign_admin(&state, &org, &user, &actor, &origin).await
                    } else {
                        organizations::remove_admin(&state, &org, &user, &actor, &origin).await
                    };
                    result?;
                    return Ok(Redirect::to(&done_url(org.id)).into_response());
                }
                Err(accounts::AccountError::NotFound) => (t.org_no_such_account)(&name),
                Err(e) => return Err(PageError::Internal(e.to_string())),
            }
        }
        _ => return Err(PageError::BadRequest),
    };
    let fresh = load(&state, &scoped, &id).await?;
    render_status(
        StatusCode::UNPROCESSABLE_ENTITY,
        &org_page(&state, &ctx, scoped.nav(), &fresh, None, Some(refused)).await?,
    )
}
