//! `/admin/clients`: the registered applications.

use askama::Template;
use axum::extract::State;
use axum::response::Response;

use super::{AdminSession, Nav};
use crate::error::PageError;
use crate::pages::{Chrome, PageCtx, render};
use crate::service::clients::{self, Client};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "admin/clients.html")]
struct ClientsPage {
    c: Chrome,
    nav: Nav,
    clients: Vec<Client>,
}

pub async fn show(
    State(state): State<AppState>,
    ctx: PageCtx,
    admin: AdminSession,
) -> Result<Response, PageError> {
    let clients = clients::list(&state).await?;
    render(&ClientsPage {
        c: ctx.chrome().await?,
        nav: admin.nav(),
        clients,
    })
}
