//! Static assets compiled into the binary: the stylesheet and the two
//! small progressive scripts (the pages work without them).

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// The stylesheet, compiled into the binary.
pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        include_str!("../static/tongxing.css"),
    )
        .into_response()
}

fn script(source: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        source,
    )
        .into_response()
}

/// The SMS button's countdown (progressive: the form works without it).
pub async fn countdown_script() -> Response {
    script(include_str!("../static/countdown.js"))
}

/// The live password-strength hint (the server remains the authority).
pub async fn strength_script() -> Response {
    script(include_str!("../static/strength.js"))
}
