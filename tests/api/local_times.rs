//! Times as people read them: on the configured zone's wall clock
//! (`display.time_zone`, Asia/Shanghai by default), in words of the page's
//! language, never RFC 3339; "上次登录" is the sign-in before this one;
//! scopes in words.

use std::time::Duration;

use time::{OffsetDateTime, UtcOffset};

use crate::helpers::{PASSWORD, Page, TestApp};
use crate::oidc_rules::authorize_url;

/// `t` as the Chinese pages state it at `offset_hours` from UTC, worked
/// out here independently of the server.
fn zh(t: OffsetDateTime, offset_hours: i8) -> String {
    let l = t.to_offset(UtcOffset::from_hms(offset_hours, 0, 0).unwrap());
    format!(
        "{}年{}月{}日 {:02}:{:02}",
        l.year(),
        u8::from(l.month()),
        l.day(),
        l.hour(),
        l.minute()
    )
}

/// Whether the page states `at` (or the minute before: the server's
/// stamp may fall in the minute before the test reads the clock), after
/// `before`.
fn near(page: &Page, at: OffsetDateTime, offset_hours: i8, before: &str) -> bool {
    [at, at - Duration::from_secs(60)]
        .iter()
        .any(|t| page.has(&format!("{before}{}", zh(*t, offset_hours))))
}

fn no_machine_times(page: &Page) {
    let body = &page.body;
    assert!(!body.contains(" UTC"), "{body}");
    // RFC 3339: a date, "T", a time.
    let raw = body.as_bytes().windows(13).any(|w| {
        w[4] == b'-' && w[7] == b'-' && w[10] == b'T' && w[..4].iter().all(u8::is_ascii_digit)
    });
    assert!(!raw, "an RFC 3339 time on the page: {body}");
}

#[tokio::test]
async fn last_sign_in_is_the_previous_one_in_local_time() {
    let app = TestApp::spawn().await;
    app.user("zhangsan").await;
    let first = app.browser();
    first.login("zhangsan", PASSWORD).await;
    let first_at = app.state.clock.now();
    let home = first.get("/account").await;
    // The first sign-in ever has no previous one.
    assert!(!home.has("上次登录"), "{}", home.body);

    app.advance(Duration::from_secs(3 * 3600 + 17 * 60));
    let second = app.browser();
    second.login("zhangsan", PASSWORD).await;
    let second_at = app.state.clock.now();
    let home = second.get("/account").await;
    assert!(home.has("上次登录"), "{}", home.body);
    assert!(
        near(&home, first_at, 8, ""),
        "{}: {}",
        zh(first_at, 8),
        home.body
    );
    assert!(!home.has(&zh(second_at, 8)), "not the current sign-in");
    no_machine_times(&home);
    let en = second.get("/account?lang=en").await;
    assert!(
        en.has("Last sign-in") || en.has("Last login"),
        "{}",
        en.body
    );
    no_machine_times(&en);

    // The sessions page lists this sign-in in local time.
    let sessions = second.get("/account/sessions?lang=zh-CN").await;
    assert!(near(&sessions, second_at, 8, ""), "{}", sessions.body);
    no_machine_times(&sessions);
}

#[tokio::test]
async fn the_time_zone_is_configurable() {
    let app = TestApp::spawn_with(|c| c.display.time_zone = "UTC".into()).await;
    app.user("lisi").await;
    let b = app.browser();
    b.login("lisi", PASSWORD).await;
    let at = app.state.clock.now();
    let sessions = b.get("/account/sessions").await;
    assert!(
        near(&sessions, at, 0, ""),
        "{}: {}",
        zh(at, 0),
        sessions.body
    );
    // Positive control of the default: Shanghai is 8 hours ahead.
    let shanghai = TestApp::spawn().await;
    shanghai.user("lisi").await;
    let b = shanghai.browser();
    b.login("lisi", PASSWORD).await;
    let at = shanghai.state.clock.now();
    let page = b.get("/account/sessions").await;
    assert!(
        near(&page, at, 8, "") && !near(&page, at, 0, ""),
        "{}",
        page.body
    );
    // A name that is no time zone stops the configuration.
    let mut config = tongxing::config::Config::default();
    config.display.time_zone = "Asia/Atlantis".into();
    let e = config.validate().unwrap_err();
    assert!(e.0.contains("display.time_zone"), "{}", e.0);
    config.display.time_zone = "Europe/Berlin".into();
    assert!(config.validate().is_ok());
}

#[tokio::test]
async fn the_application_list_names_scopes_in_words_with_a_local_time() {
    let app = TestApp::spawn().await;
    let rp = app.rp_with("mail", |c| c.first_party = false).await;
    app.user("wangwu").await;
    let b = app.browser();
    b.authorize_as(&authorize_url(&app, &rp, ""), "wangwu", PASSWORD, "allow")
        .await;
    let at = app.state.clock.now();
    let apps = b.get("/account/apps").await;
    assert!(
        apps.has("确认您的身份") && apps.has("姓名、账号名称和所属单位"),
        "{}",
        apps.body
    );
    assert!(!apps.has("openid profile"), "{}", apps.body);
    assert!(!apps.has("offline_access"), "{}", apps.body);
    assert!(
        near(&apps, at, 8, "授权时间："),
        "{}: {}",
        zh(at, 8),
        apps.body
    );
    no_machine_times(&apps);
    let en = b.get("/account/apps?lang=en").await;
    assert!(en.has("Confirmation of who you are"), "{}", en.body);
}
