//! The device of a sign-in in words, from its `User-Agent`: the browser
//! and the operating system, by the tokens their makers put there. Only a
//! hint for the person reading their sessions page (the header is the
//! client's claim); what is not recognised is said to be unknown.

/// A browser and an operating system, each by its product name (names are
/// the same in every language).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Device {
    pub browser: Option<&'static str>,
    pub os: Option<&'static str>,
}

/// Browsers, most specific first: many carry "Chrome" and "Safari" too.
const BROWSERS: &[(&str, &str)] = &[
    ("MicroMessenger/", "WeChat"),
    ("DingTalk/", "DingTalk"),
    ("EdgA/", "Edge"),
    ("EdgiOS/", "Edge"),
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("UCBrowser/", "UC Browser"),
    ("QQBrowser/", "QQ Browser"),
    ("YaBrowser/", "Yandex Browser"),
    ("FxiOS/", "Firefox"),
    ("Firefox/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
];

/// Systems, most specific first: Android and ChromeOS say "Linux" too,
/// iPhones "like Mac OS X".
const SYSTEMS: &[(&str, &str)] = &[
    ("HarmonyOS", "HarmonyOS"),
    ("OpenHarmony", "HarmonyOS"),
    ("Windows", "Windows"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Android", "Android"),
    ("CrOS", "ChromeOS"),
    ("Macintosh", "macOS"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
];

impl Device {
    pub fn from_user_agent(ua: Option<&str>) -> Self {
        let Some(ua) = ua else {
            return Self {
                browser: None,
                os: None,
            };
        };
        let find = |table: &[(&str, &'static str)]| {
            table
                .iter()
                .find(|(token, _)| ua.contains(token))
                .map(|(_, name)| *name)
        };
        let browser = find(BROWSERS).or_else(|| {
            // Safari names itself only by "Version/… Safari/".
            (ua.contains("Safari/") && ua.contains("Version/")).then_some("Safari")
        });
        Self {
            browser,
            os: find(SYSTEMS),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(ua: &str) -> (Option<&'static str>, Option<&'static str>) {
        let d = Device::from_user_agent(Some(ua));
        (d.browser, d.os)
    }

    #[test]
    fn common_browsers_and_systems() {
        let cases = [
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                (Some("Chrome"), Some("Windows")),
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                (Some("Edge"), Some("Windows")),
            ),
            (
                "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                (Some("Firefox"), Some("Linux")),
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
                (Some("Safari"), Some("macOS")),
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
                (Some("Safari"), Some("iOS")),
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                (Some("Chrome"), Some("Android")),
            ),
            (
                "Mozilla/5.0 (Linux; Android 13; V2049A) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0.0.0 Mobile Safari/537.36 MicroMessenger/8.0.54",
                (Some("WeChat"), Some("Android")),
            ),
            ("curl/8.5.0", (None, None)),
        ];
        for (ua, expected) in cases {
            assert_eq!(words(ua), expected, "{ua}");
        }
        assert_eq!(
            Device::from_user_agent(None),
            Device {
                browser: None,
                os: None
            }
        );
    }
}
