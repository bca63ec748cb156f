//! Names the static files after their content (`/static/tongxing.<hash>.css`)
//! so pages can tell browsers to cache them for a year: a changed file gets
//! a new name. The names are constants (`OUT_DIR/static_names.rs`, included
//! by `routes.rs`), so templates and the router spell them once.

// A build script that cannot read its inputs must stop the build.
#![allow(clippy::panic)]

use std::fmt::Write as _;

/// FNV-1a: a content fingerprint, not a security measure.
fn fingerprint(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")[..12].to_string()
}

fn main() {
    let assets = [
        ("STYLESHEET", "tongxing", "css"),
        ("COUNTDOWN_JS", "countdown", "js"),
        ("STRENGTH_JS", "strength", "js"),
        ("PASSWORD_TOGGLE_JS", "password-toggle", "js"),
        ("FAVICON", "favicon", "svg"),
    ];
    let mut out = String::new();
    for (constant, stem, ext) in assets {
        let path = format!("static/{stem}.{ext}");
        println!("cargo:rerun-if-changed={path}");
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
        let hash = fingerprint(&bytes);
        let _ = writeln!(
            out,
            "/// `{path}` under its content-versioned name (cached for a year).\n\
             pub const {constant}: &str = \"/static/{stem}.{hash}.{ext}\";\n\
             /// `{path}` under its plain name (kept working, short caching).\n\
             pub const {constant}_PLAIN: &str = \"/static/{stem}.{ext}\";"
        );
    }
    let dir = std::env::var("OUT_DIR").unwrap_or_else(|_| panic!("OUT_DIR is not set"));
    std::fs::write(format!("{dir}/static_names.rs"), out)
        .unwrap_or_else(|e| panic!("writing static_names.rs: {e}"));
}
