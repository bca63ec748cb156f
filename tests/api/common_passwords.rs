//! The common-password list at every place a password is set: refused by
//! name in both languages, while a strong unlisted password passes.

use reqwest::StatusCode;
use serde_json::json;

use crate::admin_api::{Api, admin_token};
use crate::helpers::{PASSWORD, TestApp};

/// Listed (as "pe#5gz29ptzmse") and fine by every other rule.
const LISTED: &str = "Pe#5gz29ptzmSE";
/// Not listed, as strong.
const UNLISTED: &str = "Pe#5gz29ptzmSEq";

#[tokio::test]
async fn self_service_change_refuses_a_common_password_by_name() {
    let app = TestApp::spawn().await;
    app.user("common@cnic.cn").await;
    let b = app.browser();
    b.login("common@cnic.cn", PASSWORD).await;
    for (lang, says) in [
        ("zh-CN", "该密码属于最常用的密码之一"),
        ("en", "one of the most commonly used passwords"),
    ] {
        let form = b.get(&format!("/account/password?lang={lang}")).await;
        let page = b
            .submit_page(
                &form,
                "/account/password",
                &[("current", PASSWORD), ("new", LISTED), ("repeat", LISTED)],
            )
            .await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{lang}");
        assert!(page.has(says), "{lang}: {}", page.body);
    }
    // Control: the unlisted one is taken, and then signs in.
    let form = b.get("/account/password").await;
    let ok = b
        .submit_page(
            &form,
            "/account/password",
            &[
                ("current", PASSWORD),
                ("new", UNLISTED),
                ("repeat", UNLISTED),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert_eq!(
        app.browser().login("common@cnic.cn", UNLISTED).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn admin_api_and_cli_refuse_a_common_password_by_name() {
    let app = TestApp::spawn().await;
    let user = app.user("listed@cnic.cn").await;
    let token = admin_token(&app).await;
    let api = Api::new(&app, &token);
    let path = format!("/api/v1/users/{}/password", user.id);
    let (status, body) = api.post(&path, json!({ "password": LISTED })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"].as_str(), Some("password"));
    assert!(body.to_string().contains("commonly used"), "{body}");
    // The same password in other letter cases is the same listed password.
    let (status, _) = api
        .post(&path, json!({ "password": LISTED.to_uppercase() }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = api.post(&path, json!({ "password": UNLISTED })).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let cli = app
        .cli(
            &["user", "passwd", "listed@cnic.cn", "--password-stdin"],
            Some(&format!("{LISTED}\n")),
        )
        .await;
    assert_eq!(cli.code, 3, "{cli:?}");
    assert!(cli.stderr.contains("commonly used"), "{}", cli.stderr);
    let cli = app
        .cli(
            &[
                "user",
                "add",
                "--username",
                "new@cnic.cn",
                "--password-stdin",
            ],
            Some(&format!("{LISTED}\n")),
        )
        .await;
    assert_eq!(cli.code, 3, "{cli:?}");
    assert!(cli.stderr.contains("commonly used"), "{}", cli.stderr);
    let ok = app
        .cli(
            &["user", "passwd", "listed@cnic.cn", "--password-stdin"],
            Some(&format!("{UNLISTED}x\n")),
        )
        .await;
    assert_eq!(ok.code, 0, "{ok:?}");
}
