//! The attributes of every cookie Tongxing sets, in one place. Cookies are
//! read and written with axum-extra's [`CookieJar`]; nothing parses or
//! formats a `Cookie` header by hand.
//!
//! Baseline: `Path=/`, `HttpOnly` (no script of ours reads a cookie),
//! `SameSite=Lax` (sent on top-level navigations from relying parties,
//! which `/authorize` needs, but not on cross-site subrequests), and
//! `Secure` whenever the issuer is https. The session cookie gets the same
//! from [`CookiePolicy::session_layer`].

use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use tower_sessions::{Expiry, SessionManagerLayer, SessionStore};

use crate::config::Config;

/// The language chosen with `?lang=` (remembered for a year).
pub const LANG: &str = "tongxing_lang";
/// The long-lived device cookie of SMS step-up (signed by the step-up
/// service; see `service::step_up`).
pub const DEVICE: &str = "tongxing_device";

/// A year, the lifetime of the preference and device cookies.
const LONG: time::Duration = time::Duration::days(365);

#[derive(Debug, Clone, Copy)]
pub struct CookiePolicy {
    pub secure: bool,
}

impl CookiePolicy {
    pub fn new(config: &Config) -> Self {
        Self {
            secure: config.secure_cookies(),
        }
    }

    /// A long-lived cookie with the baseline attributes.
    pub fn long_lived(self, name: &'static str, value: String) -> Cookie<'static> {
        Cookie::build((name, value))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure)
            .max_age(LONG)
            .build()
    }

    /// The session cookie's layer with the same baseline; it slides with
    /// activity (saved on every request) and ends after `idle` unused.
    pub fn session_layer<S: SessionStore>(
        self,
        store: S,
        name: String,
        idle: time::Duration,
    ) -> SessionManagerLayer<S> {
        SessionManagerLayer::new(store)
            .with_name(name)
            .with_http_only(true)
            .with_same_site(tower_sessions::cookie::SameSite::Lax)
            .with_secure(self.secure)
            .with_path("/")
            .with_always_save(true)
            .with_expiry(Expiry::OnInactivity(idle))
    }
}

/// The value of a cookie of the request.
pub fn value(jar: &CookieJar, name: &str) -> Option<String> {
    jar.get(name).map(|c| c.value().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baseline_attributes() {
        let c = CookiePolicy { secure: true }.long_lived(LANG, "en".into());
        let s = c.to_string();
        for part in [
            "tongxing_lang=en",
            "Path=/",
            "HttpOnly",
            "SameSite=Lax",
            "Secure",
            "Max-Age=31536000",
        ] {
            assert!(s.contains(part), "{part} missing in {s}");
        }
        let plain = CookiePolicy { secure: false }
            .long_lived(DEVICE, "x".into())
            .to_string();
        assert!(!plain.contains("Secure"), "{plain}");
        assert!(plain.contains("HttpOnly"), "{plain}");
    }
}
