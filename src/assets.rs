//! Static assets compiled into the binary: the stylesheet and the two
//! small progressive scripts (the pages work without them).

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// Caching of a file under its content-versioned name: it never changes.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Caching under the plain name (kept for links from older pages).
const SHORT: &str = "public, max-age=3600";

/// One static file compiled into the binary.
#[derive(Clone, Copy)]
pub struct Asset {
    body: &'static str,
    content_type: &'static str,
}

impl Asset {
    fn answer(self, cache: &'static str) -> Response {
        (
            [
                (header::CONTENT_TYPE, self.content_type),
                (header::CACHE_CONTROL, cache),
            ],
            self.body,
        )
            .into_response()
    }
}

const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// The static files: (versioned path, plain path, file). The versioned
/// names come from `build.rs` (a hash of the content).
pub const ASSETS: [(&str, &str, Asset); 5] = {
    use crate::routes as r;
    [
        (
            r::STYLESHEET,
            r::STYLESHEET_PLAIN,
            Asset {
                body: include_str!("../static/tongxing.css"),
                content_type: CSS,
            },
        ),
        // The SMS button's countdown (progressive: the form works without it).
        (
            r::COUNTDOWN_JS,
            r::COUNTDOWN_JS_PLAIN,
            Asset {
                body: include_str!("../static/countdown.js"),
                content_type: JS,
            },
        ),
        // The live password-strength hint (the server remains the authority).
        (
            r::STRENGTH_JS,
            r::STRENGTH_JS_PLAIN,
            Asset {
                body: include_str!("../static/strength.js"),
                content_type: JS,
            },
        ),
        // Show/hide buttons of password fields.
        (
            r::PASSWORD_TOGGLE_JS,
            r::PASSWORD_TOGGLE_JS_PLAIN,
            Asset {
                body: include_str!("../static/password-toggle.js"),
                content_type: JS,
            },
        ),
        (
            r::FAVICON,
            r::FAVICON_PLAIN,
            Asset {
                body: include_str!("../static/favicon.svg"),
                content_type: SVG,
            },
        ),
    ]
};

/// The routes of the static files: each under both names.
pub fn router<S: Clone + Send + Sync + 'static>() -> axum::Router<S> {
    let mut router = axum::Router::new();
    for (versioned, plain, asset) in ASSETS {
        router = router
            .route(
                versioned,
                axum::routing::get(move || async move { asset.answer(IMMUTABLE) }),
            )
            .route(
                plain,
                axum::routing::get(move || async move { asset.answer(SHORT) }),
            );
    }
    router
}

fn picture(source: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        source,
    )
        .into_response()
}

/// The retrieval's sample of a signed and stamped form (slot 1).
pub fn retrieval_sample_form() -> Response {
    picture(include_str!("../static/retrieve-sample-form.svg"))
}

/// The retrieval's sample of an ID card's front (slot 2).
pub fn retrieval_sample_id_card() -> Response {
    picture(include_str!("../static/retrieve-sample-id.svg"))
}
