//! The frame of a request's page, put into the request by a middleware:
//! the branding, and the signed-in account's name once an extractor has
//! found it. Apart from `pages` so that extractors can fill it without an
//! import cycle.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

/// What every page of a request is framed with, put into the request by
/// [`frame`]: the branding, and the signed-in account's name once
/// `crate::extract::CurrentUser` has found it (so a page that knows its
/// user draws the signed-in top bar without another lookup).
#[derive(Clone)]
pub struct Frame {
    branding: std::sync::Arc<crate::config::BrandingConfig>,
    account: std::sync::Arc<std::sync::OnceLock<String>>,
}

impl Frame {
    pub fn branding(&self) -> &crate::config::BrandingConfig {
        &self.branding
    }

    /// The signed-in account, once found.
    pub fn account(&self) -> Option<&String> {
        self.account.get()
    }

    /// Records the signed-in account of this request.
    pub fn signed_in_as(&self, username: &str) {
        let _ = self.account.set(username.to_owned());
    }
}

/// Middleware: puts the request's [`Frame`] into its extensions.
pub async fn frame(
    axum::extract::State(branding): axum::extract::State<
        std::sync::Arc<crate::config::BrandingConfig>,
    >,
    mut req: Request,
    next: Next,
) -> Response {
    req.extensions_mut().insert(Frame {
        branding,
        account: Default::default(),
    });
    next.run(req).await
}
