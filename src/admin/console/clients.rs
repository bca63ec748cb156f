//! `/admin/clients`: the registered applications, whether each demands
//! strong passwords (`require_strong_password`), how the application
//! list shows it (English name, descriptions, logo, home page, listed or
//! not), whether it takes application passwords, and what the LDAP
//! interface accepts for it (`ldap_bind`, `ldap_search`).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{AdminSession, Nav, Pager};
use crate::error::PageError;
use crate::extract::{ClientOrigin, CsrfForm};
use crate::pages::{Chrome, PageCtx, render};
use crate::service::clients::{self, Client, ClientError, ClientUpdate};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "admin/clients.html")]
struct ClientsPage {
    c: Chrome,
    nav: Nav,
    clients: Vec<Client>,
    pager: Pager,
    /// A listing change that was refused: the field and why.
    error: Option<String>,
}

/// Clients a page lists (each is a few rows of forms).
const PAGE: i64 = 20;

#[derive(Deserialize)]
pub struct ListQuery {
    page: Option<i64>,
}

async fn clients_page(
    state: &AppState,
    c: crate::pages::Chrome,
    nav: Nav,
    page: i64,
    error: Option<String>,
) -> Result<ClientsPage, PageError> {
    let page = page.clamp(1, crate::service::admin::MAX_PAGE);
    let (clients, total) = clients::page(state, page, PAGE).await?;
    Ok(ClientsPage {
        c,
        nav,
        clients,
        pager: Pager::new(page, PAGE, total, &[]),
        error,
    })
}

pub async fn show(
    State(state): State<AppState>,
    ctx: PageCtx,
    admin: AdminSession,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    let page = q.page.unwrap_or(1);
    render(&clients_page(&state, ctx.chrome().await?, admin.nav(), page, None).await?)
}

/// Back to the page that lists client `id`, at its row.
async fn back_to(state: &AppState, id: &str) -> Result<Response, PageError> {
    let page = clients::page_of(state, id, PAGE).await?;
    Ok(Redirect::to(&format!(
        "{}?page={page}#client-{}",
        crate::routes::ADMIN_CLIENTS,
        url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
    ))
    .into_response())
}

#[derive(Deserialize)]
pub struct ListingForm {
    version: i64,
    #[serde(default)]
    name_en: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    description_en: String,
    #[serde(default)]
    logo_uri: String,
    #[serde(default)]
    home_uri: String,
    /// Checkboxes: present when checked.
    show_in_app_list: Option<String>,
    app_passwords_allowed: Option<String>,
}

/// Sets how the application list shows a client and whether it takes
/// application passwords (audited `client.updated`). Empty texts remove a
/// value; a refused value is named on the list page.
pub async fn listing(
    State(state): State<AppState>,
    ctx: PageCtx,
    admin: AdminSession,
    ClientOrigin(origin): ClientOrigin,
    Path(id): Path<String>,
    CsrfForm(form, _): CsrfForm<ListingForm>,
) -> Result<Response, PageError> {
    let change = ClientUpdate {
        name_en: Some(Some(form.name_en)),
        description: Some(Some(form.description)),
        description_en: Some(Some(form.description_en)),
        logo_uri: Some(Some(form.logo_uri)),
        home_uri: Some(Some(form.home_uri)),
        show_in_app_list: Some(form.show_in_app_list.is_some()),
        app_passwords_allowed: Some(form.app_passwords_allowed.is_some()),
        ..ClientUpdate::default()
    };
    let error =
        match clients::update(&state, &id, form.version, change, &admin.actor(), &origin).await {
            Ok(_) => return back_to(&state, &id).await,
            Err(ClientError::Stale) => ctx.t().admin_stale.to_string(),
            Err(ClientError::NotFound) => return Err(PageError::NotFound),
            Err(ClientError::InvalidText(field, why)) => format!("{field}: {why}"),
            Err(ClientError::Invalid(e)) => format!("{}: {}", e.field, e.reason),
            Err(e) => return Err(PageError::Internal(e.to_string())),
        };
    let page = clients_page(
        &state,
        ctx.chrome_at(crate::routes::ADMIN_CLIENTS).await?,
        admin.nav(),
        clients::page_of(&state, &id, PAGE).await?,
        Some(error),
    )
    .await?;
    crate::pages::render_status(axum::http::StatusCode::UNPROCESSABLE_ENTITY, &page)
}

#[derive(Deserialize)]
pub struct StrongPasswordForm {
    /// `1`: demand strong passwords; anything else: do not.
    on: String,
    version: i64,
}

/// Marks a client `require_strong_password` or clears the mark (audited
/// `client.updated`). Blocks already set stay until they are lifted.
pub async fn strong_password(
    State(state): State<AppState>,
    admin: AdminSession,
    ClientOrigin(origin): ClientOrigin,
    Path(id): Path<String>,
    CsrfForm(form, _): CsrfForm<StrongPasswordForm>,
) -> Result<Response, PageError> {
    let change = ClientUpdate {
        require_strong_password: Some(form.on == "1"),
        ..ClientUpdate::default()
    };
    match clients::update(&state, &id, form.version, change, &admin.actor(), &origin).await {
        // A stale form (someone changed the client meanwhile) shows the
        // list as it is now, where the button can be pressed again.
        Ok(_) | Err(ClientError::Stale) => back_to(&state, &id).await,
        Err(ClientError::NotFound) => Err(PageError::NotFound),
        Err(e) => Err(PageError::Internal(e.to_string())),
    }
}

#[derive(Deserialize)]
pub struct LdapForm {
    /// `off`, `password` or `app_passwords`.
    ldap_bind: String,
    /// Present (`1`) when the client may search.
    #[serde(default)]
    ldap_search: Option<String>,
    version: i64,
}

/// Sets what LDAP binds naming the client accept and whether it may
/// search (audited `client.updated`).
pub async fn ldap(
    State(state): State<AppState>,
    admin: AdminSession,
    ClientOrigin(origin): ClientOrigin,
    Path(id): Path<String>,
    CsrfForm(form, _): CsrfForm<LdapForm>,
) -> Result<Response, PageError> {
    let change = ClientUpdate {
        ldap_bind: Some(form.ldap_bind),
        ldap_search: Some(form.ldap_search.as_deref() == Some("1")),
        ..ClientUpdate::default()
    };
    match clients::update(&state, &id, form.version, change, &admin.actor(), &origin).await {
        Ok(_) | Err(ClientError::Stale) => back_to(&state, &id).await,
        Err(ClientError::NotFound) => Err(PageError::NotFound),
        // The page offers only the modes, and the search box only to
        // clients with a secret: anything else is a forged form.
        Err(ClientError::Invalid(_) | ClientError::InvalidText(..)) => Err(PageError::BadRequest),
        Err(e) => Err(PageError::Internal(e.to_string())),
    }
}
