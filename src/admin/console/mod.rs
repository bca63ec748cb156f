//! The admin console: HTML pages for administrators signed in with their
//! passport. Same look and languages as the hosted pages; every action is
//! a CSRF-protected form handled by the same services as the JSON API, and
//! needs a recent sign-in (`admin.reauth_minutes`). Reviewers (accounts
//! with the reviewer role) use its review pages and nothing else of it.
//! Organization administrators (the role `org_admin`) use its users pages
//! for the accounts of their organizations, and see their organizations
//! ([`ScopedSession`]); everything else stays the system administrator's.

pub mod audit;
pub mod blocks;
pub mod calendar;
pub mod clients;
pub mod confirm;
pub mod dashboard;
pub mod organizations;
pub mod review;
pub mod users;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};

use crate::error::PageError;
use crate::extract::CurrentUser;
use crate::routes;
use crate::service::Actor;
use crate::service::accounts::AccountError;
use crate::service::admin::{self, AccountAction};
use crate::service::organizations::{AdminScope, scope_of};
use crate::state::AppState;
use crate::store::users::User;

/// Numbered pages of a console list (`templates/admin/pager.html`):
/// where the list is, how long it is, and links to the pages on either
/// side that keep the list's filters.
pub struct Pager {
    /// The page shown, from 1.
    pub page: i64,
    pub total: i64,
    pub prev: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    /// `filters` are the query pairs every page link keeps.
    pub fn new(page: i64, per_page: i64, total: i64, filters: &[(&str, &str)]) -> Pager {
        let link = |to: i64| {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in filters {
                query.append_pair(k, v);
            }
            query.append_pair("page", &to.to_string()).finish()
        };
        Pager {
            page,
            total,
            prev: (page > 1).then(|| link(page - 1)),
            next: (page * per_page < total).then(|| link(page + 1)),
        }
    }
}

/// A signed-in administrator whose sign-in is recent enough.
pub struct AdminSession {
    pub current: CurrentUser,
}

impl AdminSession {
    pub fn actor(&self) -> Actor {
        self.current.actor()
    }

    /// The console's navigation for this administrator.
    pub fn nav(&self) -> Nav {
        Nav::of(&self.current.user)
    }
}

/// What the console's navigation offers the signed-in account: the
/// administration to administrators, the accounts and organizations of
/// its organizations to an organization administrator, the review queue
/// to reviewers.
pub struct Nav {
    pub admin: bool,
    /// An organization administrator without the system administrator's
    /// rights: the users pages and its organizations only.
    pub org_admin: bool,
    pub reviewer: bool,
}

impl Nav {
    pub fn of(user: &crate::store::users::User) -> Nav {
        Nav {
            admin: user.is_admin,
            org_admin: !user.is_admin && user.has_role(crate::domain::Role::OrgAdmin),
            reviewer: crate::service::review::is_reviewer(user),
        }
    }
}

/// A signed-in administrator of accounts, with whose accounts it looks
/// after (`service::organizations::scope_of`: every account for a system
/// administrator, its organizations' for an organization administrator),
/// whose sign-in is recent enough. Anyone else gets the 403 page. Pages
/// read accounts through [`ScopedSession::account`], which answers an
/// account outside the scope with the 404 page, as one that does not
/// exist, and refuse what the scope may not do with
/// [`ScopedSession::may`].
pub struct ScopedSession {
    pub current: CurrentUser,
    pub scope: AdminScope,
}

impl ScopedSession {
    pub fn actor(&self) -> Actor {
        self.current.actor()
    }

    pub fn nav(&self) -> Nav {
        Nav::of(&self.current.user)
    }

    /// The 403 page for what this administrator may not do at all.
    pub fn may(&self, action: AccountAction) -> Result<(), PageError> {
        if admin::permits(&self.scope, action) {
            Ok(())
        } else {
            Err(PageError::Forbidden)
        }
    }

    /// The account with this id if this administrator looks after it; the
    /// 404 page if not (the same as for an id nobody has).
    pub async fn account(&self, state: &AppState, id: &str) -> Result<User, PageError> {
        let id = uuid::Uuid::parse_str(id).map_err(|_| PageError::NotFound)?;
        admin::account(state, &self.scope, id)
            .await
            .map_err(|e| match e {
                AccountError::NotFound => PageError::NotFound,
                other => PageError::Internal(other.to_string()),
            })
    }
}

impl FromRequestParts<AppState> for ScopedSession {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let current = CurrentUser::from_request_parts(parts, state).await?;
        let scope = match scope_of(state, &current.user).await {
            Ok(Some(scope)) => scope,
            Ok(None) => return Err(PageError::Forbidden.into_response()),
            Err(e) => return Err(PageError::from(e).into_response()),
        };
        if let Some(again) = sign_in_again(parts, state, &current, routes::ADMIN) {
            return Err(again);
        }
        Ok(ScopedSession { current, scope })
    }
}

/// A sign-in older than `admin.reauth_minutes` signs in again (the form
/// is shown although signed in) and comes back to the page it asked for:
/// the redirect there, or `None` when the sign-in is recent enough.
fn sign_in_again(
    parts: &Parts,
    state: &AppState,
    current: &CurrentUser,
    home: &str,
) -> Option<Response> {
    let age_ms = crate::session::unix_ms(state.clock.now())
        - current.auth.auth_ms.max(current.auth.auth_time * 1000);
    if age_ms as f64 > state.config.admin.reauth_minutes * 60_000.0 {
        let back = if parts.method == axum::http::Method::GET {
            parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| home.into())
        } else {
            home.into()
        };
        let target = format!(
            "{}?force=1&login_hint={}&return_to={}",
            routes::LOGIN,
            url::form_urlencoded::byte_serialize(current.user.username.as_bytes())
                .collect::<String>(),
            url::form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>()
        );
        return Some(Redirect::to(&target).into_response());
    }
    None
}

impl FromRequestParts<AppState> for AdminSession {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let current = CurrentUser::from_request_parts(parts, state).await?;
        if !current.user.is_admin {
            return Err(PageError::Forbidden.into_response());
        }
        if let Some(again) = sign_in_again(parts, state, &current, routes::ADMIN) {
            return Err(again);
        }
        Ok(AdminSession { current })
    }
}

/// A signed-in reviewer whose sign-in is recent enough: the door of the
/// review pages (`service::reviewing::admit`). An administrator without the
/// reviewer role gets the 403 page, anyone else the 404 page.
pub struct ReviewerSession {
    pub current: CurrentUser,
}

impl ReviewerSession {
    pub fn nav(&self) -> Nav {
        Nav::of(&self.current.user)
    }
}

impl FromRequestParts<AppState> for ReviewerSession {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        use crate::service::reviewing::{self, ReviewingError};
        let current = CurrentUser::from_request_parts(parts, state).await?;
        match reviewing::admit(&current.user) {
            Ok(()) => {}
            Err(ReviewingError::NotReviewer) => {
                return Err(PageError::NotReviewer.into_response());
            }
            Err(_) => return Err(PageError::NotFound.into_response()),
        }
        if let Some(again) = sign_in_again(parts, state, &current, routes::ADMIN_REVIEW) {
            return Err(again);
        }
        Ok(ReviewerSession { current })
    }
}

/// An audit row as the console tables show it.
pub struct AuditLine {
    pub at: String,
    /// The event kind as written (`login.failure`), for the filter.
    pub kind: String,
    /// The event in the page's language.
    pub event: String,
    /// `success` or `failure`, for the row's class.
    pub outcome: String,
    /// The outcome in the page's language.
    pub outcome_words: String,
    pub actor: String,
    pub subject: String,
    pub ip: String,
    pub detail: String,
}

/// An audit entry's actor as people read it: accounts by name, the rest
/// (`system`, `anonymous`, `cli:<user>`, `client:<id>`, see
/// `service::Actor::label`) in the page's language.
fn actor_words(t: &crate::i18n::Text, actor: &str) -> String {
    match actor {
        "system" => t.audit_actor_system.into(),
        "anonymous" => t.audit_actor_anonymous.into(),
        other => match (other.strip_prefix("cli:"), other.strip_prefix("client:")) {
            (Some(user), _) => (t.audit_actor_cli)(user),
            (_, Some(client)) => (t.audit_actor_client)(client),
            _ => other.into(),
        },
    }
}

impl AuditLine {
    /// The entry as the console shows it: its time in the configured time
    /// zone, in the page's language.
    pub fn of(
        r: crate::store::audit::AuditRow,
        t: &crate::i18n::Text,
        tz: &jiff::tz::TimeZone,
    ) -> Self {
        AuditLine {
            at: t.at(r.at, tz),
            event: t.audit_event(&r.event),
            kind: r.event,
            outcome_words: t.audit_outcome(&r.outcome),
            outcome: r.outcome,
            actor: actor_words(t, &r.actor),
            subject: r.subject.unwrap_or_default(),
            ip: r.ip.unwrap_or_default(),
            detail: r.detail,
        }
    }
}
