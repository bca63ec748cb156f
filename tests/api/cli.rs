//! The `tongxing` command line, run as a real process against the test's database.

use reqwest::StatusCode;

use crate::helpers::{PASSWORD, TestApp};

#[tokio::test]
async fn user_add_generates_a_password_that_works() {
    let app = TestApp::spawn().await;
    let out = app
        .cli(&["user", "add", "--username", "ma@cnic.cn", "--json"], None)
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let v = out.json();
    assert_eq!(v["username"], "ma@cnic.cn");
    assert_eq!(v["admin"], false);
    let password = v["password"].as_str().unwrap().to_string();
    assert_eq!(password.len(), 20);
    let b = app.browser();
    assert_eq!(
        b.login("ma@cnic.cn", &password).await.redirect(),
        (StatusCode::SEE_OTHER, Some("/account"))
    );

    let text = app
        .cli(&["user", "add", "--username", "niu@cnic.cn"], None)
        .await;
    assert_eq!(text.code, 0, "{text:?}");
    assert!(text.stdout.contains("created account niu@cnic.cn"));
    assert!(text.stdout.contains("password: "));
}

#[tokio::test]
async fn user_add_with_every_field_and_list() {
    let app = TestApp::spawn().await;
    app.org("网络中心").await;
    let out = app
        .cli(
            &[
                "user",
                "add",
                "--username",
                "Hu@CNIC.cn",
                "--display-name",
                "胡一",
                "--password-stdin",
                "--phone",
                "13912345678",
                "--security-phone",
                "+44 7400 123456",
                "--email",
                "hu@example.org",
                "--org",
                "网络中心",
                "--admin",
                "--json",
            ],
            Some(&format!("{PASSWORD}\n")),
        )
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let v = out.json();
    assert_eq!(
        v["password"],
        serde_json::Value::Null,
        "a given password is not echoed"
    );
    assert_eq!(v["login_phone"], "+8613912345678");
    assert_eq!(v["security_phone"], "+447400123456");
    assert_eq!(v["admin"], true);
    assert_eq!(
        app.browser()
            .login("13912345678", PASSWORD)
            .await
            .redirect(),
        (StatusCode::SEE_OTHER, Some("/account"))
    );

    let list = app.cli(&["user", "list", "--json"], None).await;
    assert_eq!(list.code, 0);
    let users = list.json();
    let names: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "hu@cnic.cn"]);
    let hu = &users[1];
    assert_eq!(hu["display_name"], "胡一");
    assert_eq!(hu["organization"], "网络中心");
    assert_eq!(hu["security_email"], "hu@example.org");
    assert_eq!(hu["security_email_verified"], false);
    assert_eq!(hu["status"], "active");
    assert!(hu.get("password_hash").is_none());

    let table = app.cli(&["user", "list"], None).await;
    assert_eq!(table.code, 0);
    assert!(table.stdout.starts_with("USERNAME"));
    assert!(table.stdout.contains("139****5678"));
    assert!(table.stdout.contains("admin"));
}

#[tokio::test]
async fn user_add_errors_have_stable_codes() {
    let app = TestApp::spawn().await;
    app.user("dup@cnic.cn").await;
    let dup = app
        .cli(&["user", "add", "--username", "dup@cnic.cn"], None)
        .await;
    assert_eq!(dup.code, 5, "{dup:?}");
    assert!(dup.stderr.contains("username is already in use"));

    app.cli(
        &[
            "user",
            "add",
            "--username",
            "p1@cnic.cn",
            "--phone",
            "13800000001",
        ],
        None,
    )
    .await;
    let phone_taken = app
        .cli(
            &[
                "user",
                "add",
                "--username",
                "p2@cnic.cn",
                "--phone",
                "+8613800000001",
            ],
            None,
        )
        .await;
    assert_eq!(phone_taken.code, 5);
    assert!(phone_taken.stderr.contains("login_phone"));

    let bad_phone = app
        .cli(
            &[
                "user",
                "add",
                "--username",
                "p3@cnic.cn",
                "--phone",
                "12345",
            ],
            None,
        )
        .await;
    assert_eq!(bad_phone.code, 3);
    assert!(
        bad_phone.stderr.contains("login_phone"),
        "{}",
        bad_phone.stderr
    );

    let bad_name = app
        .cli(&["user", "add", "--username", "not a name"], None)
        .await;
    assert_eq!(bad_name.code, 3);
    assert!(bad_name.stderr.contains("username"));

    let weak = app
        .cli(
            &["user", "add", "--username", "w@cnic.cn", "--password-stdin"],
            Some("short\n"),
        )
        .await;
    assert_eq!(weak.code, 3);
    assert!(
        weak.stderr.contains("at least 10 characters"),
        "{}",
        weak.stderr
    );
    assert!(weak.stderr.contains("special character"));

    let empty = app
        .cli(
            &["user", "add", "--username", "e@cnic.cn", "--password-stdin"],
            Some(""),
        )
        .await;
    assert_eq!(empty.code, 3);

    let usage = app.cli(&["user", "add"], None).await;
    assert_eq!(usage.code, 2, "missing --username is a usage error");
    let unknown = app.cli(&["user", "frobnicate"], None).await;
    assert_eq!(unknown.code, 2);
}

#[tokio::test]
async fn disable_enable_and_passwd() {
    let app = TestApp::spawn().await;
    app.user("lin@cnic.cn").await;
    assert_eq!(
        app.browser()
            .login("lin@cnic.cn", PASSWORD)
            .await
            .redirect(),
        (StatusCode::SEE_OTHER, Some("/account")),
        "usable until disabled"
    );
    let out = app
        .cli(
            &["user", "disable", "lin@cnic.cn", "--reason", "on leave"],
            None,
        )
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        app.browser().login("lin@cnic.cn", PASSWORD).await.status,
        StatusCode::FORBIDDEN
    );
    let list = app.cli(&["user", "list", "--json"], None).await.json();
    assert_eq!(list[1]["status"], "disabled");

    assert_eq!(
        app.cli(&["user", "enable", "lin@cnic.cn"], None).await.code,
        0
    );
    assert_eq!(
        app.browser()
            .login("lin@cnic.cn", PASSWORD)
            .await
            .redirect(),
        (StatusCode::SEE_OTHER, Some("/account"))
    );

    let weak = app
        .cli(
            &["user", "passwd", "lin@cnic.cn", "--password-stdin"],
            Some("lin@cnic.cn-Aa1!\n"),
        )
        .await;
    assert_eq!(weak.code, 3, "{weak:?}");
    assert!(weak.stderr.contains("account name"));
    let ok = app
        .cli(
            &["user", "passwd", "lin@cnic.cn", "--password-stdin"],
            Some("New-Secret-2024\n"),
        )
        .await;
    assert_eq!(ok.code, 0, "{ok:?}");
    assert_eq!(
        app.browser().login("lin@cnic.cn", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.browser()
            .login("lin@cnic.cn", "New-Secret-2024")
            .await
            .redirect(),
        (StatusCode::SEE_OTHER, Some("/account"))
    );

    for args in [
        vec!["user", "disable", "nobody@cnic.cn"],
        vec!["user", "enable", "nobody@cnic.cn"],
    ] {
        assert_eq!(app.cli(&args, None).await.code, 4);
    }
    let missing = app
        .cli(
            &["user", "passwd", "nobody@cnic.cn", "--password-stdin"],
            Some("New-Secret-2024\n"),
        )
        .await;
    assert_eq!(missing.code, 4);
    assert!(missing.stderr.contains("no such account"));
    assert_eq!(
        app.cli(&["user", "passwd", "lin@cnic.cn"], None).await.code,
        2,
        "--password-stdin is required"
    );
}

#[tokio::test]
async fn cli_actions_are_audited_with_the_operator() {
    let app = TestApp::spawn().await;
    app.cli(&["user", "add", "--username", "audit@cnic.cn"], None)
        .await;
    app.cli(
        &["user", "disable", "audit@cnic.cn", "--reason", "test"],
        None,
    )
    .await;
    app.cli(&["user", "enable", "audit@cnic.cn"], None).await;
    app.cli(
        &["user", "passwd", "audit@cnic.cn", "--password-stdin"],
        Some("New-Secret-2024\n"),
    )
    .await;
    for event in [
        "account.created",
        "account.disabled",
        "account.enabled",
        "account.password_set",
    ] {
        let rows = app.audit(event).await;
        let row = rows
            .iter()
            .find(|r| r.subject.as_deref() == Some("audit@cnic.cn"))
            .unwrap_or_else(|| panic!("{event}"));
        assert_eq!(row.actor, "cli:tester", "{event}");
        assert_eq!(row.outcome, "success");
        assert!(
            row.user_agent
                .as_deref()
                .unwrap()
                .starts_with("tongxing-cli/")
        );
    }
    assert!(
        app.audit("account.disabled").await[0]
            .detail
            .contains("\"reason\":\"test\"")
    );
    // Nothing secret in the log (which holds the password change itself).
    let all = app.audit_log().await;
    assert!(all.iter().any(|r| r.event == "account.password_set"));
    assert!(all.iter().all(|r| !r.detail.contains("New-Secret-2024")));
}

#[tokio::test]
async fn migrate_and_configuration_errors() {
    let app = TestApp::spawn().await;
    let out = app.cli(&["migrate"], None).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("migrations applied"));

    let bad = app
        .cli_env(&["migrate"], None, &[("TONGXING_LISTEN", "not-an-address")])
        .await;
    assert_eq!(bad.code, 6, "{bad:?}");
    assert!(
        bad.stderr.to_lowercase().contains("key \"listen\""),
        "{}",
        bad.stderr
    );

    let prod = app
        .cli_env(
            &["migrate"],
            None,
            &[
                ("TONGXING_ENVIRONMENT", "production"),
                ("TONGXING_ISSUER", "http://id.example.org"),
            ],
        )
        .await;
    assert_eq!(prod.code, 6);
    assert!(
        prod.stderr.contains("issuer") && prod.stderr.contains("https"),
        "{}",
        prod.stderr
    );

    let typo = app
        .cli_env(&["migrate"], None, &[("TONGXING_LISTNE", "127.0.0.1:1")])
        .await;
    assert_eq!(typo.code, 6);
    assert!(
        typo.stderr.to_lowercase().contains("listne"),
        "{}",
        typo.stderr
    );

    let env = app
        .cli_env(&["migrate"], None, &[("TONGXING_ENVIRONMENT", "staging")])
        .await;
    assert_eq!(env.code, 6);
    assert!(
        env.stderr.to_lowercase().contains("environment"),
        "{}",
        env.stderr
    );

    let log_in_prod = app
        .cli_env(
            &["migrate"],
            None,
            &[
                ("TONGXING_ENVIRONMENT", "production"),
                ("TONGXING_ISSUER", "https://id.example.org"),
            ],
        )
        .await;
    assert_eq!(
        log_in_prod.code, 6,
        "the development SMS outbox is refused in production"
    );
    assert!(
        log_in_prod.stderr.contains("sms.provider"),
        "{}",
        log_in_prod.stderr
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tongxing.toml");
    std::fs::write(&file, "[session]\nidle_minutes = 0\n").unwrap();
    let from_file = app
        .cli(&["--config", file.to_str().unwrap(), "migrate"], None)
        .await;
    assert_eq!(from_file.code, 6);
    assert!(
        from_file.stderr.contains("session.idle_minutes"),
        "{}",
        from_file.stderr
    );
    let via_env = app
        .cli_env(
            &["migrate"],
            None,
            &[("TONGXING_CONFIG", file.to_str().unwrap())],
        )
        .await;
    assert_eq!(via_env.code, 6, "TONGXING_CONFIG names the file too");
    assert!(
        app.audit("migrate")
            .await
            .iter()
            .any(|e| e.actor == "cli:tester")
    );
    let missing = app
        .cli(&["--config", "/nonexistent/tongxing.toml", "migrate"], None)
        .await;
    assert_eq!(missing.code, 6);
}
