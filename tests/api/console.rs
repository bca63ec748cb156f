//! The console as issue 18 wants it: audit events and outcomes in words,
//! tables that become labelled cards, labelled navigation, paged users
//! with the search kept.

use reqwest::StatusCode;
use tongxing::service::audit::EVENT_KINDS;

use crate::helpers::TestApp;

/// The start tags of `tag` in `html` (`<td …>`), as written.
fn start_tags<'a>(html: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}");
    html.match_indices(&open)
        .filter(|(i, _)| {
            let next = html[i + open.len()..].chars().next();
            matches!(next, Some(' ' | '>'))
        })
        .map(|(i, _)| {
            let end = html[i..].find('>').map_or(html.len(), |e| i + e + 1);
            &html[i..end]
        })
        .collect()
}

#[tokio::test]
async fn the_audit_page_names_events_and_outcomes_in_words() {
    let app = TestApp::spawn().await;
    app.user("li@cnic.cn").await;
    let other = app.browser();
    other.login("li@cnic.cn", "not the password").await;
    let b = app.browser();
    b.login("admin", &app.admin_password).await;
    assert_eq!(app.audit("login.failure").await.len(), 1);

    let zh = b.get("/admin/audit").await;
    assert_eq!(zh.status, StatusCode::OK);
    assert!(
        zh.has("data-kind=\"login.success\">登录成功<"),
        "{}",
        zh.body
    );
    assert!(zh.has("data-kind=\"login.failure\">登录失败<"));
    assert!(zh.has(">失败<") && zh.has(">成功<"));
    // No kind is shown as it is written, only as a filter key.
    for kind in EVENT_KINDS {
        assert!(!zh.has(&format!(">{kind}<")), "{kind} shown raw");
    }
    assert!(!zh.has(">success<") && !zh.has(">failure<"));

    let en = b.get("/admin/audit?lang=en").await;
    assert!(en.has("data-kind=\"login.success\">Signed in<"));
    assert!(en.has("data-kind=\"login.failure\">Sign-in failed<"));
    assert!(en.has(">Failure<") && en.has(">Success<"));
    for kind in EVENT_KINDS {
        assert!(!en.has(&format!(">{kind}<")), "{kind} shown raw");
    }

    // The filter still takes the kind, and the page shows it in words.
    let filtered = b.get("/admin/audit?event=login.failure&lang=zh-CN").await;
    assert!(filtered.has(">登录失败<") && !filtered.has(">登录成功<"));
    // The dashboard's table (failures and account changes) too.
    assert!(b.get("/admin").await.has(">登录失败<"));
}

#[tokio::test]
async fn every_console_table_is_labelled_for_cards() {
    let app = TestApp::spawn().await;
    let user = app
        .user_with(tongxing::service::accounts::NewAccount {
            username: "wang@cnic.cn".into(),
            organization: Some("物理所".into()),
            ..Default::default()
        })
        .await;
    let b = app.browser();
    b.login("admin", &app.admin_password).await;
    let mut cells = 0;
    for path in [
        "/admin".to_string(),
        "/admin/users".into(),
        format!("/admin/users/{}", user.id),
        "/admin/clients".into(),
        "/admin/audit".into(),
        "/admin/organizations".into(),
        "/admin/blocks".into(),
        "/admin/calendar".into(),
    ] {
        for lang in ["zh-CN", "en"] {
            let page = b.get(&format!("{path}?lang={lang}")).await;
            assert_eq!(page.status, StatusCode::OK, "{path}");
            for table in start_tags(&page.body, "table") {
                let class = table.split("class=\"").nth(1).unwrap_or_default();
                let class = class.split('"').next().unwrap_or_default();
                assert!(class.split(' ').any(|c| c == "cards"), "{path}: {table}");
            }
            for td in start_tags(&page.body, "td") {
                cells += 1;
                let label = td
                    .split("data-label=\"")
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .unwrap_or_default();
                assert!(!label.trim().is_empty(), "{path}: {td} has no label");
            }
            // One labelled navigation of the console.
            let navs = start_tags(&page.body, "nav");
            assert!(
                navs.iter()
                    .any(|n| n.contains("admin-nav") && n.contains("aria-label=\"")),
                "{path}: {navs:?}"
            );
            assert_eq!(start_tags(&page.body, "main").len(), 1, "{path}");
        }
    }
    // The check saw cells (users, audit lines, organizations).
    assert!(cells > 20, "only {cells} cells");
}

#[tokio::test]
async fn users_are_paged_with_the_search_kept() {
    let app = TestApp::spawn().await;
    for i in 0..53 {
        app.user(&format!("page{i:02}@cnic.cn")).await;
    }
    app.user("other@cnic.cn").await;
    let b = app.browser();
    b.login("admin", &app.admin_password).await;

    let first = b.get("/admin/users?q=page").await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(first.has("第1页，共53条"), "{}", first.body);
    assert!(first.has("共53个账号"));
    assert!(first.has("page00@cnic.cn") && first.has("page49@cnic.cn"));
    assert!(!first.has("page50@cnic.cn") && !first.has("other@cnic.cn"));
    assert!(!first.has("id=\"prev\""));
    let next = first
        .body
        .split("id=\"next\" rel=\"next\" href=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .map(crate::helpers::unescape)
        .expect("a link to the next page");
    assert_eq!(next, "?q=page&page=2");

    let second = b.get(&format!("/admin/users{next}")).await;
    assert!(second.has("第2页，共53条"));
    assert!(second.has("page50@cnic.cn") && second.has("page52@cnic.cn"));
    assert!(!second.has("page49@cnic.cn") && !second.has("other@cnic.cn"));
    assert!(!second.has("id=\"next\""));
    assert!(
        second.has("id=\"prev\" rel=\"prev\" href=\"?q=page&#38;page=1\""),
        "{}",
        second.body
    );

    let en = b.get("/admin/users?q=page&page=2&lang=en").await;
    assert!(en.has("Page 2, 53 in all") && en.has("53 accounts in all"));
    // Unfiltered, every account counts.
    let everyone = app.state.store.count_users().await.unwrap();
    assert!(everyone >= 55);
    let all = b.get("/admin/users?lang=zh-CN").await;
    assert!(all.has(&format!("第1页，共{everyone}条")));
}
