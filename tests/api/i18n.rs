//! Language of the hosted pages: zh-CN by default, English on request.

use crate::helpers::TestApp;

#[tokio::test]
async fn chinese_by_default_with_a_switch_on_every_page() {
    let app = TestApp::spawn().await;
    let b = app.browser();
    let page = b.get("/login").await;
    assert!(page.has("<html lang=\"zh-CN\">"));
    assert!(page.has("登录通行证"));
    assert!(page.has("href=\"?lang=en\""), "language switch");
    assert_eq!(page.header("content-language"), Some("zh-CN"));
    let missing = b.get("/no-such-page").await;
    assert_eq!(missing.status, 404);
    assert!(missing.has("您访问的页面不存在") && missing.has("lang=en"));
}

#[tokio::test]
async fn query_parameter_switches_and_is_remembered() {
    let app = TestApp::spawn().await;
    let b = app.browser();
    let en = b.get("/login?lang=en").await;
    assert!(en.has("<html lang=\"en\">"));
    assert!(en.has("Sign in to your passport"));
    assert!(en.has("href=\"?lang=zh-CN\""));
    let next = b.get("/logout").await;
    assert!(next.has("Sign out"), "the choice is kept in a cookie");
    let back = b.get("/login?lang=zh-CN").await;
    assert!(back.has("登录通行证"));
    assert!(b.get("/no-such-page").await.has("您访问的页面不存在"));
}

#[tokio::test]
async fn accept_language_and_ui_locales() {
    let app = TestApp::spawn().await;
    let b = app.browser();
    let en = b
        .get_with(
            "/login",
            &[("accept-language", "en-US,en;q=0.9,zh-CN;q=0.5")],
        )
        .await;
    assert!(en.has("Sign in to your passport"));
    let zh = b
        .get_with(
            "/login",
            &[("accept-language", "fr-FR, zh;q=0.8, en;q=0.1")],
        )
        .await;
    assert!(zh.has("登录通行证"));
    let ui = b
        .get_with("/login?ui_locales=de%20en", &[("accept-language", "zh-CN")])
        .await;
    assert!(
        ui.has("Sign in to your passport"),
        "OIDC ui_locales beats Accept-Language"
    );
    let en_missing = b.get_with("/nothing", &[("accept-language", "en")]).await;
    assert!(en_missing.has("The page you asked for does not exist."));
}

#[tokio::test]
async fn the_switch_never_points_off_site() {
    let app = TestApp::spawn().await;
    let page = app.browser().get("//evil.example/x").await;
    assert!(!page.has("evil.example"), "{}", page.body);
    // The positive control: the page has its language switch, on this site.
    assert!(page.has("lang=en"), "{}", page.body);
}
