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
