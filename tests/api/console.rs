//! The console as issue 18 wants it: audit events and outcomes in words,
//! tables that become labelled cards, labelled navigation, paged users
//! with the search kept.

use reqwest::StatusCode;
use tongxing::service::audit::EVENT_KINDS;

use crate::helpers::{PASSWORD, TestApp};

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
    // Actors that are not accounts are named in words too.
    assert!(zh.has(">系统<") && !zh.has(">system<"), "{}", zh.body);

    let en = b.get("/admin/audit?lang=en").await;
    assert!(en.has("data-kind=\"login.success\">Signed in<"));
    assert!(en.has("data-kind=\"login.failure\">Sign-in failed<"));
    assert!(en.has(">Failure<") && en.has(">Success<"));
    for kind in EVENT_KINDS {
        assert!(!en.has(&format!(">{kind}<")), "{kind} shown raw");
    }

    // The filter still takes the kind, and the page shows it in words.
    let filtered = b.get("/admin/audit?event=login.failure&lang=zh-CN").await;
    assert!(filtered.has("data-kind=\"login.failure\">登录失败<"));
    assert!(!filtered.has("data-kind=\"login.success\""));
    // The filter offers every kind in words, the chosen one selected.
    assert!(filtered.has("<option value=\"login.failure\" selected>登录失败</option>"));
    assert!(filtered.has("<option value=\"login.success\">登录成功</option>"));
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

/// The text of the element with `id` (its markup stripped).
fn text_of(page: &crate::helpers::Page, id: &str) -> String {
    let marker = format!("id=\"{id}\"");
    let start = page
        .body
        .find(&marker)
        .unwrap_or_else(|| panic!("no #{id} in {}", page.body));
    let after = &page.body[start..];
    let open_end = after.find('>').unwrap() + 1;
    let mut depth = 0;
    let mut text = String::new();
    let mut in_tag = false;
    for (i, ch) in after[open_end..].char_indices() {
        if ch == '<' {
            in_tag = true;
            let rest = &after[open_end + i..];
            if rest.starts_with("</") {
                if depth == 0 {
                    break;
                }
                depth -= 1;
            } else {
                depth += 1;
            }
        } else if ch == '>' {
            in_tag = false;
        } else if !in_tag {
            text.push(ch);
        }
    }
    text.trim().to_string()
}

/// Moves the deployment's clock to the next noon in Shanghai, so that
/// what a test does happens on one local day, whatever the real time.
fn to_noon(app: &TestApp) {
    let now = app.state.clock.now().unix_timestamp();
    let local = (now + 8 * 3600).rem_euclid(86_400);
    let wait = (12 * 3600 - local).rem_euclid(86_400);
    app.advance(std::time::Duration::from_secs(wait as u64 + 1));
}

#[tokio::test]
async fn the_overview_counts_todays_sign_ins_failures_locks_cases_sms_and_key_age() {
    let app = crate::review_queue::spawn_with(|c| {
        c.display.time_zone = "Asia/Shanghai".into();
        c.login_limits.account_free_failures = 2;
    })
    .await;
    to_noon(&app);
    let b = app.browser();
    b.login("admin", &app.admin_password).await;
    let quiet = b.get("/admin").await;
    assert_eq!(quiet.status, StatusCode::OK);
    for (id, n) in [
        ("sign-ins-today", "1"),
        ("failures-today", "0"),
        ("locked-now", "0"),
        ("pending-cases", "0"),
        ("sms-today", "0"),
    ] {
        assert_eq!(text_of(&quiet, id), n, "{id}");
    }
    assert!(quiet.has("今日登录") && quiet.has("签名密钥轮换"));
    // A fresh key is not due: the page states the day it will be.
    assert!(!quiet.has("id=\"key-rotation-overdue\""));
    assert!(
        text_of(&quiet, "key-rotation").contains('年'),
        "{}",
        quiet.body
    );

    let alice = crate::review_queue::applicant(&app, "alice@cnic.cn", 1).await;
    crate::review_queue::applicant(&app, "bob@cnic.cn", 2).await;
    assert_eq!(
        app.browser().login("alice@cnic.cn", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    for _ in 0..2 {
        app.browser().login("bob@cnic.cn", "not the password").await;
    }
    assert_eq!(app.audit("login.lockout").await.len(), 1);
    crate::review_queue::submit(&app, &alice).await;
    let sent = app
        .recover_by(&app.browser(), "bob@cnic.cn", "/recover/sms/send")
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    app.settle().await;

    let busy = b.get("/admin").await;
    for (id, n) in [
        ("sign-ins-today", "2"),
        ("failures-today", "2"),
        ("locked-now", "1"),
        ("pending-cases", "1"),
        ("sms-today", "1"),
    ] {
        assert_eq!(text_of(&busy, id), n, "{id}: {}", busy.body);
    }
    let en = b.get("/admin?lang=en").await;
    assert!(en.has("Sign-ins today") && en.has("Accounts locked now"));
    assert!(en.has("Review cases waiting") && en.has("Text messages sent today"));

    // A day later: today's figures start again, the lock has run out, the
    // case still waits.
    app.advance(std::time::Duration::from_secs(86_400));
    // (The console asks for a fresh sign-in after a day.)
    let b = app.browser();
    b.login("admin", &app.admin_password).await;
    let next_day = b.get("/admin").await;
    assert_eq!(text_of(&next_day, "failures-today"), "0");
    assert_eq!(text_of(&next_day, "sms-today"), "0");
    assert_eq!(text_of(&next_day, "locked-now"), "0");
    assert_eq!(text_of(&next_day, "pending-cases"), "1");

    // After oidc.key_rotation_days (90) the key is due.
    app.advance(std::time::Duration::from_secs(90 * 86_400));
    let b = app.browser();
    b.login("admin", &app.admin_password).await;
    let due = b.get("/admin").await;
    assert!(due.has("id=\"key-rotation-overdue\""), "{}", due.body);
    assert!(due.has("已到期，请轮换"));
}

#[tokio::test]
async fn destructive_console_actions_ask_before_they_act() {
    let app = TestApp::spawn().await;
    let zhao = app.user("zhao@cnic.cn").await;
    let b = app.browser();
    b.login("admin", &app.admin_password).await;
    let path = format!("/admin/users/{}", zhao.id);

    let page = b.get(&path).await;
    let asked = b
        .submit_page(&page, &path, &[("action", "disable"), ("reason", "调离")])
        .await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    assert!(asked.has("停用账号zhao@cnic.cn？"), "{}", asked.body);
    assert!(asked.has("id=\"confirm-consequence\""));
    assert!(
        asked.has(&format!("id=\"confirm-cancel\" href=\"{path}\""))
            || asked.has("id=\"confirm-cancel\"")
    );
    assert!(asked.has("name=\"reason\" value=\"调离\""));
    // Asking changed nothing.
    assert_eq!(app.stored("zhao@cnic.cn").await.status.as_str(), "active");
    assert!(app.audit("account.disabled").await.is_empty());

    let done = b.submit_page(&asked, &path, &[]).await;
    assert_eq!(
        done.redirect(),
        (
            StatusCode::SEE_OTHER,
            Some(format!("{path}?done=1").as_str())
        )
    );
    let stored = app.stored("zhao@cnic.cn").await;
    assert_eq!(stored.status.as_str(), "disabled");
    assert_eq!(stored.status_reason.as_deref(), Some("调离"));

    // Each destructive action asks first, in the page's language; a
    // harmless one acts at once.
    for (action, question) in [
        ("revoke", "End every session of zhao@cnic.cn?"),
        ("password", "Reset the password of zhao@cnic.cn?"),
        ("lift", "Lift the blocks of zhao@cnic.cn?"),
        (
            "app_passwords_revoke_all",
            "Revoke every application password of zhao@cnic.cn?",
        ),
    ] {
        let page = b.get(&format!("{path}?lang=en")).await;
        let asked = b.submit_page(&page, &path, &[("action", action)]).await;
        assert_eq!(asked.status, StatusCode::OK, "{action}");
        assert!(asked.has(question), "{action}: {}", asked.body);
    }
    assert!(app.audit("account.sessions_revoked").await.is_empty());
    assert_eq!(
        app.stored("zhao@cnic.cn").await.password_hash,
        zhao.password_hash
    );
    let page = b.get(&path).await;
    let forced = b.submit_page(&page, &path, &[("action", "force")]).await;
    assert_eq!(forced.status, StatusCode::SEE_OTHER);
    assert!(app.stored("zhao@cnic.cn").await.must_change_password);

    // Removing an organization's administrator asks too.
    let org = app.org("物理所").await;
    let org_path = format!("/admin/organizations/{}", org.id);
    let page = b.get(&format!("{org_path}?lang=zh-CN")).await;
    let added = b
        .submit_page(
            &page,
            &org_path,
            &[("action", "add_admin"), ("username", "zhao@cnic.cn")],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let page = b.get(&org_path).await;
    let asked = b
        .submit_page(
            &page,
            &org_path,
            &[("action", "remove_admin"), ("username", "zhao@cnic.cn")],
        )
        .await;
    assert!(
        asked.has("取消zhao@cnic.cn对物理所的管理权限？"),
        "{}",
        asked.body
    );
    assert!(
        b.get(&org_path)
            .await
            .has("class=\"admin-name\">zhao@cnic.cn<")
    );
    let removed = b.submit_page(&asked, &org_path, &[]).await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    assert!(
        !b.get(&org_path)
            .await
            .has("class=\"admin-name\">zhao@cnic.cn<")
    );
}

#[tokio::test]
async fn an_account_is_created_with_the_password_the_administrator_gives() {
    let app = TestApp::spawn().await;
    let b = app.browser();
    b.login("admin", &app.admin_password).await;
    let page = b.get("/admin/users").await;
    assert!(page.has("id=\"new-password\"") && page.has("name=\"password\""));
    let given = "Quiet-Harbor-Lantern-92";
    let created = b
        .submit_page(
            &page,
            "/admin/users",
            &[("username", "sun@cnic.cn"), ("password", given)],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let shown = b.get(created.location().unwrap()).await;
    // Nothing generated, so nothing to show once.
    assert!(!shown.has("id=\"generated\""));
    assert_eq!(
        app.browser().login("sun@cnic.cn", given).await.status,
        StatusCode::SEE_OTHER
    );
    // A password the policy refuses creates nothing and is not echoed.
    let page = b.get("/admin/users").await;
    let refused = b
        .submit_page(
            &page,
            "/admin/users",
            &[("username", "qian@cnic.cn"), ("password", "Password123!")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.has("id=\"error\"") && !refused.has("Password123!"));
    assert!(
        app.state
            .store
            .user_by_username("qian@cnic.cn")
            .await
            .unwrap()
            .is_none()
    );
    // Left empty, a strong one is generated and shown once.
    let page = b.get("/admin/users").await;
    let generated = b
        .submit_page(&page, "/admin/users", &[("username", "zhou@cnic.cn")])
        .await;
    let shown = b.get(generated.location().unwrap()).await;
    assert!(shown.has("id=\"generated\""));
}

#[tokio::test]
async fn clients_and_the_audit_log_are_paged() {
    let app = TestApp::spawn().await;
    for i in 0..23 {
        app.rp(&format!("app{i:02}")).await;
    }
    let b = app.browser();
    b.login("admin", &app.admin_password).await;
    let total = app.state.store.list_clients().await.unwrap().len();
    assert!(total >= 23);
    let first = b.get("/admin/clients").await;
    assert!(first.has(&format!("第1页，共{total}条")), "{}", first.body);
    assert!(first.has(&format!("共{total}个应用")));
    assert!(first.has("id=\"client-app00\"") && !first.has("id=\"client-app22\""));
    assert!(first.has("共享密钥（client_secret_basic）"));
    assert!(!first.has(">client_secret_basic<"));
    assert!(first.has("id=\"next\" rel=\"next\" href=\"?page=2\""));
    let second = b.get("/admin/clients?page=2").await;
    assert!(second.has("id=\"client-app22\"") && !second.has("id=\"client-app00\""));
    assert!(second.has("id=\"prev\""));
    // A change on the second page comes back to it.
    let version = app
        .state
        .store
        .client("app22")
        .await
        .unwrap()
        .unwrap()
        .version;
    let back = b
        .submit_page(
            &second,
            "/admin/clients/app22/strong-password",
            &[("on", "1"), ("version", &version.to_string())],
        )
        .await;
    assert_eq!(back.location(), Some("/admin/clients?page=2#client-app22"));

    // The audit log: 120 entries beyond the sign-in, 50 a page.
    for i in 0..120 {
        app.sql(&format!(
            "INSERT INTO audit_events (at, event, outcome, actor, detail) \
             VALUES ('2026-01-01 00:00:00+00:00', 'account.updated', 'success', 'paging-{i:03}', '{{}}')"
        ))
        .await;
    }
    let newest = b.get("/admin/audit?event=account.updated").await;
    assert!(newest.has("paging-119") && newest.has("paging-070"));
    assert!(!newest.has("paging-069"));
    assert!(!newest.has("id=\"newer\"") && !newest.has("id=\"newest\""));
    let link = |page: &crate::helpers::Page, id: &str| {
        let marker = format!("id=\"{id}\"");
        let at = page.body.find(&marker).unwrap_or_else(|| panic!("no {id}"));
        let href = page.body[at..].split("href=\"").nth(1).unwrap();
        crate::helpers::unescape(href.split('"').next().unwrap())
    };
    let older = b
        .get(&format!("/admin/audit{}", link(&newest, "older")))
        .await;
    assert!(older.has("paging-069") && older.has("paging-020"));
    assert!(!older.has("paging-070") && !older.has("paging-019"));
    let oldest = b
        .get(&format!("/admin/audit{}", link(&older, "older")))
        .await;
    assert!(oldest.has("paging-019") && oldest.has("paging-000"));
    assert!(!oldest.has("id=\"older\""));
    // And back towards the newest.
    let newer = b
        .get(&format!("/admin/audit{}", link(&oldest, "newer")))
        .await;
    assert!(newer.has("paging-069") && newer.has("paging-020") && !newer.has("paging-070"));
    let newer = b
        .get(&format!("/admin/audit{}", link(&newer, "newer")))
        .await;
    assert!(newer.has("paging-119") && newer.has("paging-070"));
    assert!(!newer.has("id=\"newer\""));
    assert!(newer.has("id=\"newest\""));
}

/// Every POST form of the console's templates, as `file:path-suffix:action`
/// (the text after the form action's last `}}`, and its `action` field).
fn console_forms() -> std::collections::BTreeSet<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/admin");
    let mut forms = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let html = std::fs::read_to_string(&path).unwrap();
        for form in html.split("<form method=\"post\"").skip(1) {
            let form = form.split("</form>").next().unwrap();
            let action = form
                .split("action=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            let suffix = action.rsplit("}}").next().unwrap();
            // A form may draw one of several actions (disable / enable).
            let values: Vec<&str> = form
                .split("name=\"action\" value=\"")
                .skip(1)
                .map(|v| v.split('"').next().unwrap())
                .collect();
            if values.is_empty() {
                forms.insert(format!("{file}:{suffix}:"));
            }
            for value in values {
                forms.insert(format!("{file}:{suffix}:{value}"));
            }
        }
    }
    forms
}

/// A console form to submit: its key (as [`console_forms`] names it), the
/// page it is on, where it posts, and the fields it is given.
type FormCase = (&'static str, String, String, Vec<(&'static str, String)>);

/// Every console form that succeeds answers with a redirect to a page
/// that can be reloaded (post-redirect-get), creating ones included. The
/// forms are read from the templates, so a new form without a case here
/// fails the test.
#[tokio::test]
async fn every_console_form_that_succeeds_redirects_to_a_page() {
    // Forms followed elsewhere, or not redirected on purpose.
    let elsewhere = [
        // review_queue::a_reviewer_claims_notes_rejects_and_approves_in_the_console
        "review_case.html::claim",
        "review_case.html::approve",
        "review_case.html::reject",
        "review_case.html::note",
        // The full phone numbers are shown on the answer itself, never in
        // a URL a reload or the history would keep (admin_console.rs).
        "user.html::phones",
        // The confirmation page posts the form it confirms (checked below).
        "confirm.html::",
    ];
    let app = TestApp::spawn().await;
    let zhao = app
        .user_with(tongxing::service::accounts::NewAccount {
            username: "zhao@cnic.cn".into(),
            ..Default::default()
        })
        .await;
    app.rp("mail").await;
    let org = app.org("物理所").await;
    let b = app.browser();
    b.login("admin", &app.admin_password).await;
    let user = format!("/admin/users/{}", zhao.id);
    let org_path = format!("/admin/organizations/{}", org.id);
    let version = |n: i64| n.to_string();
    let client_version = app
        .state
        .store
        .client("mail")
        .await
        .unwrap()
        .unwrap()
        .version;

    let cases: Vec<FormCase> = vec![
        (
            "users.html::",
            "/admin/users".into(),
            "/admin/users".into(),
            vec![("username", "new@cnic.cn".into())],
        ),
        (
            "organizations.html::",
            "/admin/organizations".into(),
            "/admin/organizations".into(),
            vec![
                ("full_name", "化学研究所".into()),
                ("status", "active".into()),
            ],
        ),
        (
            "organization.html::update",
            org_path.clone(),
            org_path.clone(),
            vec![
                ("action", "update".into()),
                ("full_name", "物理研究所".into()),
                ("status", "active".into()),
            ],
        ),
        (
            "organization.html::add_admin",
            org_path.clone(),
            org_path.clone(),
            vec![
                ("action", "add_admin".into()),
                ("username", "zhao@cnic.cn".into()),
            ],
        ),
        (
            "organization.html::remove_admin",
            org_path.clone(),
            org_path.clone(),
            vec![
                ("action", "remove_admin".into()),
                ("username", "zhao@cnic.cn".into()),
                ("confirm", "1".into()),
            ],
        ),
        (
            "calendar.html::",
            "/admin/calendar".into(),
            "/admin/calendar".into(),
            vec![
                ("year", "2027".into()),
                ("days", "2027-10-01 holiday 国庆".into()),
            ],
        ),
        (
            "clients.html:/strong-password:",
            "/admin/clients".into(),
            "/admin/clients/mail/strong-password".into(),
            vec![("on", "1".into()), ("version", version(client_version))],
        ),
        (
            "clients.html:/ldap:",
            "/admin/clients".into(),
            "/admin/clients/mail/ldap".into(),
            vec![
                ("ldap_bind", "password".into()),
                ("version", version(client_version + 1)),
            ],
        ),
        (
            "clients.html:/listing:",
            "/admin/clients".into(),
            "/admin/clients/mail/listing".into(),
            vec![
                ("version", version(client_version + 2)),
                ("name_en", "Mail".into()),
            ],
        ),
        (
            "user.html::profile",
            user.clone(),
            user.clone(),
            vec![("action", "profile".into()), ("display_name", "赵".into())],
        ),
        (
            "user.html::require_binding",
            user.clone(),
            user.clone(),
            vec![("action", "require_binding".into())],
        ),
        (
            "user.html::force",
            user.clone(),
            user.clone(),
            vec![("action", "force".into())],
        ),
        (
            "user.html::password",
            user.clone(),
            user.clone(),
            vec![
                ("action", "password".into()),
                ("password", "".into()),
                ("confirm", "1".into()),
            ],
        ),
        (
            "user.html::revoke",
            user.clone(),
            user.clone(),
            vec![("action", "revoke".into()), ("confirm", "1".into())],
        ),
        (
            "user.html::lift",
            user.clone(),
            user.clone(),
            vec![("action", "lift".into()), ("confirm", "1".into())],
        ),
        (
            "user.html::app_passwords_revoke_all",
            user.clone(),
            user.clone(),
            vec![
                ("action", "app_passwords_revoke_all".into()),
                ("confirm", "1".into()),
            ],
        ),
        (
            "user.html::app_password_revoke",
            user.clone(),
            user.clone(),
            vec![
                ("action", "app_password_revoke".into()),
                ("app_password_id", uuid::Uuid::nil().to_string()),
                ("confirm", "1".into()),
            ],
        ),
        (
            "user.html::disable",
            user.clone(),
            user.clone(),
            vec![
                ("action", "disable".into()),
                ("reason", "x".into()),
                ("confirm", "1".into()),
            ],
        ),
        (
            "user.html::enable",
            user.clone(),
            user.clone(),
            vec![("action", "enable".into())],
        ),
    ];
    let mut covered: std::collections::BTreeSet<String> =
        elsewhere.iter().map(|s| s.to_string()).collect();
    for (form, page, action, fields) in &cases {
        covered.insert(form.to_string());
        let at = b.get(page).await;
        assert_eq!(at.status, StatusCode::OK, "{form}: {page}");
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let answer = b.submit_page(&at, action, &fields).await;
        assert_eq!(
            answer.status,
            StatusCode::SEE_OTHER,
            "{form}: {}",
            answer.body
        );
        let to = answer.location().unwrap().to_string();
        let again = b.get(&to).await;
        assert_eq!(again.status, StatusCode::OK, "{form}: {to}");
        // Reloading the page it led to does nothing again.
        assert_eq!(b.get(&to).await.status, StatusCode::OK);
    }
    let forms = console_forms();
    let missing: Vec<_> = forms.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "console forms without a case: {missing:?}"
    );
    let stale: Vec<_> = covered.difference(&forms).collect();
    assert!(
        stale.is_empty(),
        "cases of forms no template has: {stale:?}"
    );
    // The creates took effect once.
    assert!(
        app.state
            .store
            .user_by_username("new@cnic.cn")
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(app.stored("zhao@cnic.cn").await.status.as_str(), "active");
}
