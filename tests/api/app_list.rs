//! The application list (应用列表) at `/account/apps`: the institution's
//! applications marked for it (name, logo, description, link; in both
//! languages), the third-party applications the person consented to
//! (scopes in words, the consent time in the institution's time), and
//! withdrawal, which also ends that application's sessions by back-channel
//! logout. The listing fields are set on the CLI, the API and the console.

use reqwest::StatusCode;
use serde_json::json;

use crate::admin_api::{Api, admin_token};
use crate::backchannel::{receiver, wait_for};
use crate::helpers::{PASSWORD, TestApp, query};
use crate::oidc_rules::{authorize_url, redeem};

async fn listed_mail(app: &TestApp) {
    app.rp_with("mail", |c| {
        c.first_party = true;
        c.name = "邮件系统".into();
        c.name_en = Some("Mail".into());
        c.description = Some("收发电子邮件".into());
        c.description_en = Some("Read and send e-mail".into());
        c.logo_uri = Some("https://mail.example.org/logo.png".into());
        c.home_uri = Some("https://mail.example.org/".into());
        c.show_in_app_list = true;
    })
    .await;
}

#[tokio::test]
async fn first_party_applications_are_listed_in_both_languages() {
    let app = TestApp::spawn().await;
    listed_mail(&app).await;
    // First party but not marked, and third party: not in the first list.
    app.rp_with("vpn", |c| {
        c.first_party = true;
        c.name = "VPN 门户".into();
    })
    .await;
    app.rp("wiki").await;
    app.user("li@cnic.cn").await;
    let b = app.browser();
    b.login("li@cnic.cn", PASSWORD).await;
    let zh = b.get("/account/apps").await;
    assert_eq!(zh.status, StatusCode::OK);
    assert!(zh.has("应用列表") && zh.has("本单位的应用"), "{}", zh.body);
    assert!(zh.has("id=\"app-mail\""));
    assert!(zh.has("<h3>邮件系统</h3>") && zh.has("收发电子邮件"));
    assert!(zh.has("src=\"https://mail.example.org/logo.png\""));
    assert!(zh.has("href=\"https://mail.example.org/\""));
    assert!(!zh.has("VPN 门户") && !zh.has("App wiki"));
    assert!(zh.has("尚未授权任何应用"));
    let en = b.get("/account/apps?lang=en").await;
    assert!(
        en.has("<h3>Mail</h3>") && en.has("Read and send e-mail"),
        "{}",
        en.body
    );
    assert!(!en.has("邮件系统") && !en.has("收发电子邮件"));
    assert!(en.has("Applications") && en.has("You have not authorized any application."));
    // The account page leads here and to the application passwords.
    let account = b.get("/account").await;
    assert!(
        account.has("href=\"/account/apps\"") && account.has("href=\"/account/app-passwords\"")
    );
}

#[tokio::test]
async fn consented_applications_show_scopes_in_words_and_local_time() {
    let app = TestApp::spawn().await;
    app.user("li@cnic.cn").await;
    let rp = app
        .rp_with("wiki", |c| {
            c.name = "知识库".into();
            c.name_en = Some("Wiki".into());
        })
        .await;
    let b = app.browser();
    let back = b
        .authorize_as(
            &authorize_url(&app, &rp, ""),
            "li@cnic.cn",
            PASSWORD,
            "allow",
        )
        .await;
    assert!(query(&back).contains_key("code"));
    let zh = b.get("/account/apps").await;
    assert!(
        zh.has("id=\"consent-wiki\"") && zh.has("<h3>知识库</h3>"),
        "{}",
        zh.body
    );
    assert!(zh.has("<li>姓名、账号名称和所属单位</li>"), "{}", zh.body);
    assert!(!zh.has("openid profile offline_access"));
    // The consent time on the wall clock of display.time_zone
    // (Asia/Shanghai by default), in words of the page's language.
    let granted = app
        .state
        .store
        .consents(app.stored("li@cnic.cn").await.id)
        .await
        .unwrap()[0]
        .granted_at
        .to_offset(time::UtcOffset::from_hms(8, 0, 0).unwrap());
    let local = format!(
        "{}年{}月{}日 {:02}:{:02}",
        granted.year(),
        u8::from(granted.month()),
        granted.day(),
        granted.hour(),
        granted.minute()
    );
    assert!(zh.has(&local), "{local}: {}", zh.body);
    let en = b.get("/account/apps?lang=en").await;
    assert!(
        en.has("Your name, account name and organization"),
        "{}",
        en.body
    );
    assert!(en.has("Access while you are away"));
    let month = &format!("{:?}", granted.month())[..3];
    let local = format!(
        "{} {month} {}, {:02}:{:02}",
        granted.day(),
        granted.year(),
        granted.hour(),
        granted.minute()
    );
    assert!(en.has("<h3>Wiki</h3>") && en.has(&local));
}

#[tokio::test]
async fn withdrawing_a_consent_signs_the_application_out_by_back_channel() {
    let app = TestApp::spawn().await;
    app.user("li@cnic.cn").await;
    let (wiki_url, wiki_seen) = receiver(0).await;
    let (notes_url, notes_seen) = receiver(0).await;
    let wiki = app
        .rp_with("wiki", |c| c.backchannel_logout_uri = Some(wiki_url))
        .await;
    let notes = app
        .rp_with("notes", |c| c.backchannel_logout_uri = Some(notes_url))
        .await;
    let b = app.browser();
    let back = b
        .authorize_as(
            &authorize_url(&app, &wiki, ""),
            "li@cnic.cn",
            PASSWORD,
            "allow",
        )
        .await;
    let (_, tokens) = redeem(&app, &wiki, &query(&back)["code"]).await;
    let back = b
        .authorize_as(
            &authorize_url(&app, &notes, ""),
            "li@cnic.cn",
            PASSWORD,
            "allow",
        )
        .await;
    assert!(query(&back).contains_key("code"));
    let page = b.get("/account/apps").await;
    let done = b
        .redirected(
            b.submit_page(&page, "/account/apps/revoke", &[("client_id", "wiki")])
                .await,
            "/account/apps?revoked=1",
        )
        .await;
    assert!(done.has("id=\"apps-revoked\"") && !done.has("id=\"consent-wiki\""));
    assert!(done.has("id=\"consent-notes\""), "the other consent stays");
    // The wiki gets a logout token for the session; the notes app nothing.
    let got = wait_for(&wiki_seen, 1).await;
    assert!(got[0].starts_with("logout_token="), "{got:?}");
    app.settle().await;
    assert!(notes_seen.lock().unwrap().is_empty());
    let delivered = app.audit("logout.backchannel").await;
    assert_eq!(delivered.len(), 1);
    assert!(delivered[0].detail.contains("\"wiki\""));
    assert_eq!(app.audit("consent.revoked").await.len(), 1);
    // The tokens it held stop working.
    let refreshed = reqwest::Client::new()
        .post(format!("{}/token", app.base))
        .basic_auth(&wiki.id, wiki.secret.as_deref())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), StatusCode::BAD_REQUEST);
    // Withdrawing again (or an unknown client) changes nothing.
    b.submit_page(&done, "/account/apps/revoke", &[("client_id", "wiki")])
        .await;
    assert_eq!(app.audit("consent.revoked").await.len(), 1);
}

#[tokio::test]
async fn the_listing_is_set_on_the_api_the_cli_and_the_console() {
    let app = TestApp::spawn().await;
    app.rp_with("mail", |c| c.first_party = true).await;
    let token = admin_token(&app).await;
    let api = Api::new(&app, &token);
    let (_, current) = api.call("GET", "/api/v1/clients/mail", None).await;
    assert_eq!(current["show_in_app_list"], false);
    assert_eq!(current["app_passwords_allowed"], false);
    let (status, changed) = api
        .call(
            "PATCH",
            "/api/v1/clients/mail",
            Some(json!({
                "version": current["version"],
                "name_en": "Mail",
                "description": "收发电子邮件",
                "logo_uri": "https://mail.example.org/logo.png",
                "home_uri": "https://mail.example.org/",
                "show_in_app_list": true,
                "app_passwords_allowed": true,
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["name_en"], "Mail");
    assert_eq!(changed["home_uri"], "https://mail.example.org/");
    assert_eq!(changed["show_in_app_list"], true);
    assert_eq!(changed["app_passwords_allowed"], true);
    let (status, problem) = api
        .call(
            "PATCH",
            "/api/v1/clients/mail",
            Some(json!({ "version": changed["version"], "logo_uri": "javascript:alert(1)" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(problem.to_string().contains("logo_uri"), "{problem}");

    // The command line.
    let out = app
        .cli(
            &[
                "client",
                "update",
                "mail",
                "--description-en",
                "Read and send e-mail",
                "--show-in-app-list",
                "false",
                "--json",
            ],
            None,
        )
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let v = out.json();
    assert_eq!(v["description_en"], "Read and send e-mail");
    assert_eq!(v["show_in_app_list"], false);
    assert_eq!(v["name_en"], "Mail", "the rest stays");
    let out = app
        .cli(
            &[
                "client",
                "add",
                "--id",
                "arp",
                "--name",
                "科研管理",
                "--redirect-uri",
                "https://arp.example.org/cb",
                "--first-party",
                "--name-en",
                "ARP",
                "--home-uri",
                "https://arp.example.org/",
                "--show-in-app-list",
                "--json",
            ],
            None,
        )
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["name_en"], "ARP");

    // The console.
    let b = app.browser();
    b.login("admin", &app.admin_password).await;
    let page = b.get("/admin/clients").await;
    assert!(page.has("id=\"listing-mail\""), "{}", page.body);
    let version = app
        .state
        .store
        .client("mail")
        .await
        .unwrap()
        .unwrap()
        .version;
    let saved = b
        .submit_page(
            &page,
            "/admin/clients/mail/listing",
            &[
                ("version", &version.to_string()),
                ("name_en", "Mail"),
                ("description", "邮件"),
                ("description_en", "Mail"),
                ("logo_uri", ""),
                ("home_uri", "https://mail.example.org/"),
                ("show_in_app_list", "1"),
            ],
        )
        .await;
    assert_eq!(
        saved.location(),
        Some("/admin/clients?page=1#client-mail"),
        "{}",
        saved.body
    );
    let stored = app.state.store.client("mail").await.unwrap().unwrap();
    assert!(stored.show_in_app_list && !stored.app_passwords_allowed);
    assert_eq!(stored.logo_uri, None);
    assert_eq!(stored.description.as_deref(), Some("邮件"));
    let bad = b
        .submit_page(
            &b.get("/admin/clients").await,
            "/admin/clients/mail/listing",
            &[
                ("version", &stored.version.to_string()),
                ("home_uri", "not a uri"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.has("home_uri"), "{}", bad.body);
    // The person's list follows.
    app.user("li@cnic.cn").await;
    let p = app.browser();
    p.login("li@cnic.cn", PASSWORD).await;
    let list = p.get("/account/apps").await;
    assert!(
        list.has("id=\"app-mail\"") && list.has("id=\"app-arp\""),
        "{}",
        list.body
    );
}
