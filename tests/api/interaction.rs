//! `/authorize`'s interaction checks by name: each one that applies is the
//! audit reason and decides the `prompt=none` error (OIDC Core §3.1.2.6);
//! and a correct password's outcome decides where the login page goes.

use reqwest::StatusCode;
use tongxing::service::accounts::NewAccount;

use crate::helpers::{Browser, PASSWORD, Rp, TestApp, query};
use crate::oidc_rules::authorize_url;

/// `prompt=none` for `rp` in `b`: the error code the application gets.
async fn silent(app: &TestApp, b: &Browser, rp: &Rp, extra: &str) -> String {
    let url = authorize_url(app, rp, &format!("{extra}&prompt=none"));
    let page = b.get(&url.replacen(&app.base, "", 1)).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let q = query(page.location().unwrap());
    q.get("error")
        .cloned()
        .unwrap_or_else(|| format!("code:{}", q.contains_key("code")))
}

fn detail(row: &tongxing::store::audit::AuditRow) -> serde_json::Value {
    serde_json::from_str(&row.detail).unwrap()
}

/// The reasons audited as `authorize.interaction`, oldest first.
async fn reasons(app: &TestApp) -> Vec<String> {
    let mut rows = app.audit("authorize.interaction").await;
    rows.reverse();
    rows.iter()
        .map(|r| detail(r)["reason"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn each_check_names_its_reason_and_its_prompt_none_error() {
    let app = TestApp::spawn().await;
    app.user("li@cnic.cn").await;
    let wiki = app.rp("wiki").await;
    let vpn = app
        .rp_with("vpn", |c| {
            c.first_party = true;
            c.require_sms = true;
        })
        .await;
    let mail = app.rp_with("mail", |c| c.first_party = true).await;
    let b = app.browser();

    // Nobody signed in: login_required, nothing to audit about anyone.
    assert_eq!(silent(&app, &b, &mail, "").await, "login_required");
    assert!(reasons(&app).await.is_empty());

    b.login("li@cnic.cn", PASSWORD).await;
    // Positive control: a first-party client with nothing owed gets a code.
    assert_eq!(silent(&app, &b, &mail, "").await, "code:true");
    assert_eq!(silent(&app, &b, &wiki, "").await, "consent_required");
    assert_eq!(silent(&app, &b, &vpn, "").await, "interaction_required");
    // acr_values is voluntary: li has no phone, so the SMS class is
    // passed over; an essential acr is not.
    assert_eq!(
        silent(&app, &b, &mail, "&acr_values=urn%3Atongxing%3Aacr%3Asms").await,
        "code:true"
    );
    let essential = url::form_urlencoded::byte_serialize(
        br#"{"id_token":{"acr":{"essential":true,"value":"urn:tongxing:acr:sms"}}}"#,
    )
    .collect::<String>();
    assert_eq!(
        silent(&app, &b, &mail, &format!("&claims={essential}")).await,
        "interaction_required"
    );
    assert_eq!(
        reasons(&app).await,
        ["consent_missing", "sms_required", "sms_required"]
    );
    let rows = app.audit("authorize.interaction").await;
    assert!(rows.iter().all(|r| detail(r)["prompt_none"] == true));
}

#[tokio::test]
async fn an_owed_password_change_comes_first_and_login_goes_straight_to_it() {
    let app = TestApp::spawn().await;
    let user = app
        .user_with(NewAccount {
            username: "zhao@cnic.cn".into(),
            ..NewAccount::default()
        })
        .await;
    let mail = app.rp_with("mail", |c| c.first_party = true).await;
    tongxing::service::accounts::force_password_change(
        &app.state,
        &user,
        &tongxing::service::Actor::System,
        &tongxing::service::Origin::default(),
    )
    .await
    .unwrap();
    let b = app.browser();
    // The login page's outcome: signed in, the password page next, with
    // the way back kept.
    let login = b.login("zhao@cnic.cn", PASSWORD).await;
    let to = login.location().unwrap();
    assert!(to.starts_with("/account/password?return_to="), "{to}");
    assert_eq!(silent(&app, &b, &mail, "").await, "interaction_required");
    assert_eq!(reasons(&app).await, ["password_change_owed"]);
    // Positive control: after the change the same request gets a code.
    let form = b.get(to).await;
    let done = b
        .submit_page(
            &form,
            "/account/password",
            &[
                ("current", PASSWORD),
                ("new", "Violet-Harbour-73!"),
                ("repeat", "Violet-Harbour-73!"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(silent(&app, &b, &mail, "").await, "code:true");
}

#[tokio::test]
async fn a_disabled_account_is_blocked_after_the_right_password_only() {
    let app = TestApp::spawn().await;
    app.user("gone@cnic.cn").await;
    let out = app.cli(&["user", "disable", "gone@cnic.cn"], None).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let b = app.browser();
    let wrong = b.login("gone@cnic.cn", "Wrong-Horse-99").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let blocked = b.login("gone@cnic.cn", PASSWORD).await;
    assert_eq!(blocked.status, StatusCode::FORBIDDEN);
    assert!(
        blocked.has("已停用") || blocked.has("停用"),
        "{}",
        blocked.body
    );
    let failures = app.audit("login.failure").await;
    assert_eq!(detail(&failures[0])["reason"], "disabled");
    assert_eq!(detail(&failures[1])["reason"], "wrong_password");
}
