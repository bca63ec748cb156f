//! Notices about an account (SMS and mail) are written in the account's
//! language — the one its person last signed in with or chose while signed
//! in — not in the language of whoever set them off; an account whose
//! language is not known yet hears in the requester's.

use tongxing::i18n::Lang;
use tongxing::service::accounts::NewAccount;

use crate::helpers::{Browser, PASSWORD, TestApp, link_in};

const NEW_PASSWORD: &str = "Violet-Harbour-73!";

async fn account(app: &TestApp, name: &str, phone: &str) {
    let user = app
        .user_with(NewAccount {
            username: name.into(),
            login_phone: Some(phone.into()),
            ..NewAccount::default()
        })
        .await;
    app.verified_email(&user, &format!("{name}@example.org"))
        .await;
}

async fn stored_lang(app: &TestApp, name: &str) -> Option<Lang> {
    app.stored(name).await.lang()
}

/// Recovers `name`'s password by e-mail link from browser `b`, and returns
/// the recovery mail's text and the SMS notice's text that follow.
async fn recover(app: &TestApp, b: &Browser, name: &str, seen: usize) -> (String, String) {
    app.recover_by(b, name, "/recover/email").await;
    let mail = app.outbox_wait("mail", seen + 1).await;
    let letter = mail[seen]["text"].as_str().unwrap().to_string();
    let link = link_in(&letter);
    let path = link.strip_prefix(&app.base).unwrap().to_string();
    let form = b.get(&path).await;
    let done = b
        .submit_page(
            &form,
            "/recover/password",
            &[("new", NEW_PASSWORD), ("repeat", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(done.location(), Some("/recover/done"), "{}", done.body);
    let sms = app.outbox_wait("sms", seen + 1).await;
    let notice = sms[seen]["text"].as_str().unwrap().to_string();
    assert_eq!(sms[seen]["purpose"], "password_reset_notice");
    (letter, notice)
}

fn chinese(text: &str) -> bool {
    text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

#[tokio::test]
async fn notices_speak_the_accounts_language_not_the_requesters() {
    let app = TestApp::spawn().await;
    account(&app, "alice", "+8613800138001").await;
    account(&app, "wangwu", "+8613800138002").await;

    // Alice signs in on English pages; Wang Wu on the default Chinese ones.
    let en = app.browser();
    en.get("/login?lang=en").await;
    en.login("alice", PASSWORD).await;
    assert_eq!(stored_lang(&app, "alice").await, Some(Lang::En));
    app.browser().login("wangwu", PASSWORD).await;
    assert_eq!(stored_lang(&app, "wangwu").await, Some(Lang::ZhCn));

    // Someone on Chinese pages recovers Alice's password: the mail and the
    // notice are in English, with the time in words on the local clock.
    let zh_requester = app.browser();
    let (letter, notice) = recover(&app, &zh_requester, "alice", 0).await;
    assert!(!chinese(&letter), "{letter}");
    assert!(notice.starts_with("[Passport]"), "{notice}");
    assert!(
        notice.contains("security e-mail") && !chinese(&notice),
        "{notice}"
    );
    assert!(!notice.contains("UTC"), "{notice}");

    // The control: someone on English pages recovers Wang Wu's: Chinese.
    let en_requester = app.browser();
    en_requester.get("/recover?lang=en").await;
    let (letter, notice) = recover(&app, &en_requester, "wangwu", 1).await;
    assert!(chinese(&letter), "{letter}");
    assert!(notice.contains("通过密保邮箱重置"), "{notice}");
}

#[tokio::test]
async fn a_language_chosen_while_signed_in_becomes_the_accounts() {
    let app = TestApp::spawn().await;
    account(&app, "lisi", "+8613800138003").await;
    let b = app.browser();
    b.login("lisi", PASSWORD).await;
    assert_eq!(stored_lang(&app, "lisi").await, Some(Lang::ZhCn));
    // Switching on a signed-in page records the choice.
    let page = b.get("/account/sessions?lang=en").await;
    assert!(page.has("lang=\"en\""), "{}", page.body);
    assert_eq!(stored_lang(&app, "lisi").await, Some(Lang::En));
    // Switching on anonymous pages records nothing: there is no account.
    let anonymous = app.browser();
    anonymous.get("/login?lang=zh-CN").await;
    assert_eq!(stored_lang(&app, "lisi").await, Some(Lang::En));
    // So a notice set off from Chinese pages reaches Li Si in English.
    let (letter, notice) = recover(&app, &app.browser(), "lisi", 0).await;
    assert!(!chinese(&letter) && !chinese(&notice), "{letter}\n{notice}");
    // And switching back while signed in (a new sign-in after the reset).
    let again = app.browser();
    again.login("lisi", NEW_PASSWORD).await;
    assert_eq!(stored_lang(&app, "lisi").await, Some(Lang::ZhCn));
}

#[tokio::test]
async fn an_account_never_signed_in_hears_in_the_requesters_language() {
    let app = TestApp::spawn().await;
    account(&app, "zhaoliu", "+8613800138004").await;
    assert_eq!(stored_lang(&app, "zhaoliu").await, None);
    let en_requester = app.browser();
    en_requester.get("/recover?lang=en").await;
    let (letter, notice) = recover(&app, &en_requester, "zhaoliu", 0).await;
    assert!(
        !chinese(&letter) && notice.starts_with("[Passport]"),
        "{notice}"
    );
    // Recovering does not sign in: the account's language stays unknown.
    assert_eq!(stored_lang(&app, "zhaoliu").await, None);
}
