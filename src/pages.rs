//! Shared pieces of the hosted pages: the frame every page is drawn in
//! ([`Chrome`]: language, language switch, CSRF token), rendering, and the
//! error pages.

use askama::Template;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use crate::error::{ErrorPage, PageError};
use crate::i18n::{Lang, Text};
use crate::session::WebSession;
use crate::state::AppState;
use crate::urls::safe_return_to;

/// What the base template needs on every page.
pub struct Chrome {
    pub t: &'static Text,
    pub lang: Lang,
    /// This page in the other language.
    pub switch_href: String,
    pub switch_lang: &'static str,
    /// A page drawn only in answer to a POST (the console's confirmation):
    /// the fields that draw it again, posted to `switch_href` by the
    /// language switch (then a button), since a GET of its URL is another
    /// page. Empty: the switch is a link.
    pub switch_post: Vec<(&'static str, String)>,
    /// CSRF token for the page's forms (empty on pages without forms).
    pub csrf: String,
    /// The time zone times are stated in (`display.time_zone`).
    pub tz: jiff::tz::TimeZone,
    /// The institution's name in this page's language (`branding`).
    pub brand: String,
    /// Its logo (`branding.logo_uri`, else the passport's mark).
    pub logo: String,
    /// The signed-in top bar (`None`: an anonymous page).
    pub nav: Option<Nav>,
}

/// The top bar of signed-in pages: one link per area, the account's name.
pub struct Nav {
    pub account: String,
    pub links: Vec<NavLink>,
}

pub struct NavLink {
    /// A stable element id (`nav-home`, `nav-profile` …).
    pub id: &'static str,
    pub href: &'static str,
    pub label: &'static str,
    /// The area of the page being shown (`aria-current="page"`).
    pub current: bool,
}

/// The area of the signed-in pages a path belongs to (the top bar's item).
fn nav_area(path: &str) -> Option<&'static str> {
    use crate::routes as r;
    let under = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
    Some(if path == r::ACCOUNT {
        "nav-home"
    } else if under(r::ACCOUNT_PROFILE) {
        "nav-profile"
    } else if under(r::ACCOUNT_APP_PASSWORDS)
        || under(r::ACCOUNT_PASSWORD)
        || under(r::ACCOUNT_SESSIONS)
    {
        "nav-security"
    } else if under(r::ACCOUNT_APPS) {
        "nav-apps"
    } else if under("/account/phone") || under(r::ACCOUNT_EMAIL) {
        "nav-manage"
    } else if under(r::HELP) {
        "nav-help"
    } else {
        return None;
    })
}

impl Nav {
    fn new(t: &'static Text, account: String, path: &str) -> Self {
        use crate::routes as r;
        let area = nav_area(path);
        let links = [
            ("nav-home", r::ACCOUNT, t.nav_home),
            ("nav-profile", r::ACCOUNT_PROFILE, t.nav_profile),
            ("nav-manage", r::ACCOUNT_EMAIL, t.nav_manage),
            ("nav-security", r::ACCOUNT_PASSWORD, t.nav_security),
            ("nav-apps", r::ACCOUNT_APPS, t.nav_apps),
            ("nav-help", r::HELP, t.nav_help),
        ]
        .into_iter()
        .map(|(id, href, label)| NavLink {
            id,
            href,
            label,
            current: area == Some(id),
        })
        .collect();
        Self { account, links }
    }
}

pub use crate::frame::Frame;

impl Chrome {
    /// Dresses the page in the request's branding and, when the account
    /// is known, the signed-in top bar.
    fn dress(mut self, frame: Option<&Frame>, path: &str) -> Self {
        if let Some(frame) = frame {
            self.brand = match self.lang {
                Lang::ZhCn => frame.branding().name_zh.clone(),
                Lang::En => frame.branding().name_en.clone(),
            };
            if let Some(logo) = &frame.branding().logo_uri {
                self.logo = logo.clone();
            }
            // The console has its own navigation (`templates/admin/nav.html`).
            if let Some(account) = frame.account()
                && !path.starts_with(crate::routes::ADMIN)
            {
                self.nav = Some(Nav::new(self.t, account.clone(), path));
            }
        }
        self
    }

    /// `t` as people read it, in this page's language and the configured
    /// time zone.
    pub fn at(&self, t: time::OffsetDateTime) -> String {
        self.t.at(t, &self.tz)
    }

    /// The frame of the page at the request's own URL.
    fn plain(lang: Lang, uri: &Uri) -> Self {
        // Relative ("?…"): the link stays on this page whatever the path
        // looks like (a path such as "//host/x" must not become a link to
        // another site). A POST-only path answers GET with a redirect to
        // its page (see `router`), so the switch works on any answer.
        Self::with_switch(lang, "", uri.query().unwrap_or_default())
    }

    fn with_switch(lang: Lang, path: &str, query: &str) -> Self {
        let other = match lang {
            Lang::ZhCn => Lang::En,
            Lang::En => Lang::ZhCn,
        };
        let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .filter(|(k, _)| k != "lang")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        pairs.push(("lang".into(), other.tag().into()));
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        Self {
            t: lang.text(),
            lang,
            switch_href: format!("{path}?{encoded}"),
            switch_lang: other.tag(),
            switch_post: Vec::new(),
            csrf: String::new(),
            tz: jiff::tz::TimeZone::UTC,
            brand: lang.text().brand.into(),
            logo: crate::routes::FAVICON.into(),
            nav: None,
        }
    }
}

/// Extractor for page handlers: language, URI and session, from which the
/// page frame is built.
pub struct PageCtx {
    pub lang: Lang,
    pub uri: Uri,
    pub session: WebSession,
    /// Where the request came from (for limits and the audit log).
    pub origin: crate::service::Origin,
    /// The time zone times are stated in (`display.time_zone`).
    pub tz: jiff::tz::TimeZone,
    frame: Option<Frame>,
}

impl PageCtx {
    pub fn t(&self) -> &'static Text {
        self.lang.text()
    }

    /// Records the signed-in account, for a page that found it without
    /// [`crate::extract::CurrentUser`]: the page gets the signed-in top bar.
    pub fn signed_in_as(&self, username: &str) {
        if let Some(frame) = &self.frame {
            frame.signed_in_as(username);
        }
    }

    /// The frame with a CSRF token (creating the session if needed).
    pub async fn chrome(&self) -> Result<Chrome, PageError> {
        let mut c = Chrome::plain(self.lang, &self.uri).dress(self.frame.as_ref(), self.uri.path());
        c.csrf = self.session.csrf_token().await?;
        c.tz = self.tz.clone();
        Ok(c)
    }

    /// The frame of a page drawn in answer to a POST (a refused form): its
    /// language switch leads to `page`, the page's own GET URL (a path of
    /// ours, with the query that page needs), not to the form's action.
    pub async fn chrome_at(&self, page: &str) -> Result<Chrome, PageError> {
        let (path, query) = page.split_once('?').unwrap_or((page, ""));
        // Only a path of this site; anything else keeps the relative switch.
        let mut c = if safe_return_to(Some(path)) == path {
            Chrome::with_switch(self.lang, path, query)
        } else {
            Chrome::plain(self.lang, &self.uri)
        }
        .dress(self.frame.as_ref(), path);
        c.csrf = self.session.csrf_token().await?;
        c.tz = self.tz.clone();
        Ok(c)
    }
}

impl FromRequestParts<AppState> for PageCtx {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let lang = parts.extensions.get::<Lang>().copied().unwrap_or_default();
        let session = WebSession::from_request_parts(parts, state).await?;
        let Ok(crate::extract::ClientOrigin(origin)) =
            crate::extract::ClientOrigin::from_request_parts(parts, state).await;
        Ok(PageCtx {
            lang,
            uri: parts.uri.clone(),
            session,
            origin,
            tz: state.time_zone.clone(),
            frame: parts.extensions.get::<Frame>().cloned(),
        })
    }
}

/// Renders a template into a 200 response.
pub fn render<T: Template>(template: &T) -> Result<Response, PageError> {
    render_status(StatusCode::OK, template)
}

pub fn render_status<T: Template>(status: StatusCode, template: &T) -> Result<Response, PageError> {
    Ok((status, Html(template.render()?)).into_response())
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTemplate {
    c: Chrome,
    message: String,
}

fn error_message(t: &Text, page: &ErrorPage) -> String {
    match page {
        ErrorPage::NotFound => t.error_not_found.into(),
        ErrorPage::Csrf => t.error_csrf.into(),
        ErrorPage::Forbidden => t.admin_forbidden.into(),
        ErrorPage::NotReviewer => t.review_not_reviewer.into(),
        ErrorPage::BadRequest => t.error_bad_request.into(),
        ErrorPage::UploadTooLarge(mib) => (t.unbind_too_large)(*mib),
        ErrorPage::InvalidField(field) => (t.error_invalid_field)(field),
        ErrorPage::TooMany(wait) => (t.error_too_many)(*wait),
        ErrorPage::BadClientRequest(detail) => (t.error_bad_client_request)(detail),
        ErrorPage::Unavailable => t.error_unavailable.into(),
        ErrorPage::Internal => t.error_internal.into(),
    }
}

/// Middleware: fills the body of a [`PageError`] response with the error
/// page in the request's language.
pub async fn render_error_pages(req: Request, next: Next) -> Response {
    let lang = req.extensions().get::<Lang>().copied().unwrap_or_default();
    let uri = req.uri().clone();
    let frame = req.extensions().get::<Frame>().cloned();
    let mut response = next.run(req).await;
    let Some(page) = response.extensions().get::<ErrorPage>().cloned() else {
        return response;
    };
    let template = ErrorTemplate {
        c: Chrome::plain(lang, &uri).dress(frame.as_ref(), uri.path()),
        message: error_message(lang.text(), &page),
    };
    let html = match template.render() {
        Ok(html) => html,
        Err(e) => {
            tracing::error!(error = %e, "rendering the error page failed");
            lang.text().error_internal.to_string()
        }
    };
    *response.body_mut() = Body::from(html);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// Middleware just outside the session layer: when saving the session
/// fails, tower-sessions answers an empty 500. That becomes an error page
/// like any other — the 503 page when the session store's dependency is
/// down (see `store::sessions`).
pub async fn answer_session_failures(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    if response.status() == StatusCode::INTERNAL_SERVER_ERROR
        && response.extensions().get::<ErrorPage>().is_none()
    {
        return PageError::Internal("the session layer failed".into()).into_response();
    }
    response
}

/// Unknown paths: the HTML page, or a problem document under `/api/`.
pub async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        return crate::admin::api::not_found().await.into_response();
    }
    PageError::NotFound.into_response()
}

/// One rule of the password forms' list (`templates/account/new_password.html`):
/// its code, which the strength meter's answer ticks off, and its words.
pub struct PasswordRuleLine {
    pub code: &'static str,
    pub text: String,
}

/// The rules the configured policy enforces, in this language.
pub fn password_rules(t: &Text, policy: &crate::domain::PasswordPolicy) -> Vec<PasswordRuleLine> {
    policy
        .rules()
        .into_iter()
        .map(|r| PasswordRuleLine {
            code: r.code(),
            text: t.password_rule(r, policy.min_length()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_switch_keeps_the_query() {
        let uri: Uri = "/login?return_to=%2Faccount&lang=zh-CN".parse().unwrap();
        let c = Chrome::plain(Lang::ZhCn, &uri);
        assert_eq!(c.switch_href, "?return_to=%2Faccount&lang=en");
        let odd: Uri = "//evil.example/x".parse().unwrap();
        assert_eq!(Chrome::plain(Lang::ZhCn, &odd).switch_href, "?lang=en");
    }

    #[test]
    fn language_switch_of_a_refused_form_leads_to_its_page() {
        let c = Chrome::with_switch(Lang::En, "/login", "return_to=%2Fauthorize%3Fa%3D1");
        assert_eq!(
            c.switch_href,
            "/login?return_to=%2Fauthorize%3Fa%3D1&lang=zh-CN"
        );
        assert_eq!(
            Chrome::with_switch(Lang::En, "/login/sms", "").switch_href,
            "/login/sms?lang=zh-CN"
        );
    }
}
