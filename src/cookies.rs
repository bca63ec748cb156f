//! The attributes of every cookie Tongxing sets, in one place. Cookies are
//! read and written with axum-extra's [`CookieJar`]; nothing parses or
//! formats a `Cookie` header by hand.
//!
//! Baseline: `Path=/`, `HttpOnly` (no script of ours reads a cookie),
//! `SameSite=Lax` (sent on top-level navigations from relying parties,
//! which `/authorize` needs, but not on cross-site subrequests), no
//! `Domain`, and `Secure` whenever the issuer is https. The session cookie
//! gets the same from [`CookiePolicy::session_layer`].
//!
//! Behind https every name carries the `__Host-` prefix
//! (RFC 6265bis §4.1.3.2): a browser accepts such a cookie only from this
//! very host, over https, with `Path=/` and without `Domain`, so a sibling
//! subdomain or a plain-http answer cannot plant or overwrite one (session
//! fixation, a forged CSRF cookie). [`CookiePolicy::name`] gives the name.

use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use tower_sessions::{Expiry, SessionManagerLayer, SessionStore};

use crate::config::Config;

/// The language chosen with `?lang=` (remembered for a year).
pub const LANG: &str = "tongxing_lang";
/// The long-lived device cookie of SMS step-up (signed by the step-up
/// service; see `service::step_up`).
pub const DEVICE: &str = "tongxing_device";

/// The CSRF token of a browser that has no stored session yet (see
/// `session::WebSession::csrf_token`); it lasts while the browser runs.
pub const CSRF: &str = "tongxing_csrf";

/// The prefix that binds a cookie to this host over https.
pub const HOST_PREFIX: &str = "__Host-";

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

    /// The name a cookie is set and read under: `__Host-` + `base` behind
    /// https (every cookie here qualifies: `Secure`, `Path=/`, no `Domain`).
    pub fn name(self, base: &str) -> String {
        if self.secure && !base.starts_with(HOST_PREFIX) {
            format!("{HOST_PREFIX}{base}")
        } else {
            base.to_string()
        }
    }

    /// A cookie with the baseline attributes that ends with the browser.
    pub fn browser_session(self, base: &str, value: String) -> Cookie<'static> {
        Cookie::build((self.name(base), value))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure)
            .build()
    }

    /// A long-lived cookie with the baseline attributes.
    pub fn long_lived(self, base: &str, value: String) -> Cookie<'static> {
        let mut cookie = self.browser_session(base, value);
        cookie.set_max_age(LONG);
        cookie
    }

    /// The value of cookie `base` of the request. A preference or device
    /// cookie set before the `__Host-` names is still read under its plain
    /// name (either is only a hint: the language, or a device that is
    /// signed and counts only for its own account), so an upgrade forgets
    /// neither. The session and CSRF cookies are not read this way: a
    /// plain name is exactly what a sibling host could plant.
    pub fn value_or_plain(self, jar: &CookieJar, base: &str) -> Option<String> {
        value(jar, &self.name(base)).or_else(|| value(jar, base))
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
            .with_name(self.name(&name))
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

    #[test]
    fn host_prefix_behind_https_only() {
        let https = CookiePolicy { secure: true };
        let c = https.browser_session(CSRF, "v".into()).to_string();
        assert!(c.starts_with("__Host-tongxing_csrf=v"), "{c}");
        assert!(c.contains("Secure") && c.contains("Path=/"), "{c}");
        assert!(!c.contains("Domain"), "{c}");
        assert_eq!(https.name("__Host-x"), "__Host-x", "never twice");
        // Control: plain http keeps the plain names (browsers refuse
        // `__Host-` cookies without Secure).
        let http = CookiePolicy { secure: false };
        assert_eq!(http.name(CSRF), CSRF);
        assert!(
            http.long_lived(LANG, "en".into())
                .to_string()
                .starts_with("tongxing_lang=en")
        );
    }

    #[test]
    fn a_preference_set_before_the_prefix_is_still_read() {
        let https = CookiePolicy { secure: true };
        let jar = CookieJar::new().add(Cookie::new(LANG, "en"));
        assert_eq!(https.value_or_plain(&jar, LANG).as_deref(), Some("en"));
        let jar = jar.add(Cookie::new("__Host-tongxing_lang", "zh-CN"));
        assert_eq!(
            https.value_or_plain(&jar, LANG).as_deref(),
            Some("zh-CN"),
            "the new name wins"
        );
    }
}
