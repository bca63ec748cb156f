//! The demo relying applications (clients/mail, clients/arp) against a real
//! passport: single sign-on and back-channel logout across both.

use reqwest::StatusCode;
use tongxing_demo_rp::{Config, Demo};

use crate::helpers::{Browser, PASSWORD, SIGN_IN_FIRST, TestApp};

async fn demo(app: &TestApp, listener: tokio::net::TcpListener, id: &str, secret: &str) -> String {
    let config = Config {
        name: format!("{id} (test)"),
        cookie: id.replace('-', "_"),
        issuer: app.base.clone(),
        client_id: id.into(),
        client_secret: secret.into(),
        public_url: None,
    };
    let demo = Demo::build(config, listener).await.expect("demo starts");
    let url = demo.url().to_string();
    tokio::spawn(demo.run());
    url
}

/// The mail and ARP demos registered (`client add-demo`) and running on
/// free ports against `app`; their base URLs.
pub(crate) async fn mail_and_arp(app: &TestApp) -> (String, String) {
    let mail_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let arp_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    register_and_start(app, mail_listener, arp_listener).await
}

/// Registers the demos for the addresses of the two listeners
/// (`client add-demo --json`, which replaces earlier registrations) and
/// starts them on those listeners; their base URLs.
async fn register_and_start(
    app: &TestApp,
    mail_listener: tokio::net::TcpListener,
    arp_listener: tokio::net::TcpListener,
) -> (String, String) {
    let mail_url = format!("http://{}", mail_listener.local_addr().unwrap());
    let arp_url = format!("http://{}", arp_listener.local_addr().unwrap());
    let out = app
        .cli(
            &[
                "client",
                "add-demo",
                "--mail-url",
                &mail_url,
                "--arp-url",
                &arp_url,
                "--json",
            ],
            None,
        )
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let registered = out.json();
    let secret_of = |id: &str| {
        registered
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["client_id"] == id)
            .unwrap()["client_secret"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let mail = demo(app, mail_listener, "mail-demo", &secret_of("mail-demo")).await;
    let arp = demo(app, arp_listener, "arp-demo", &secret_of("arp-demo")).await;
    (mail, arp)
}

/// Follows redirects across the demo and the passport with one cookie jar,
/// filling the login form when it appears; returns the final page.
async fn visit(
    b: &Browser,
    start: &str,
    login: Option<(&str, &str)>,
) -> (crate::helpers::Page, bool) {
    let mut url = start.to_string();
    let mut saw_login_form = false;
    for _ in 0..10 {
        let page = b.at("").get(&url).await;
        if page.status == StatusCode::OK && page.has("action=\"/login\"") {
            saw_login_form = true;
            let (user, password) = login.expect("a login form appeared although none was expected");
            let origin = url::Url::parse(&url).unwrap();
            let base = format!("{}://{}", origin.scheme(), origin.host_str().unwrap())
                + &origin.port().map(|p| format!(":{p}")).unwrap_or_default();
            let next = b
                .at(&base)
                .submit_page(
                    &page,
                    "/login",
                    &[("identifier", user), ("password", password)],
                )
                .await;
            url = absolute(&base, next.location().unwrap());
            continue;
        }
        match page.location() {
            Some(loc) => {
                let origin = url::Url::parse(&url).unwrap();
                url = origin.join(loc).unwrap().to_string();
            }
            None => return (page, saw_login_form),
        }
    }
    panic!("too many redirects from {start}");
}

fn absolute(base: &str, loc: &str) -> String {
    if loc.starts_with("http") {
        loc.to_string()
    } else {
        format!("{base}{loc}")
    }
}

#[tokio::test]
async fn single_sign_on_and_back_channel_logout_across_the_demo_apps() {
    let app = TestApp::spawn().await;
    app.user("zhang@cnic.cn").await;
    let mail_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let arp_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mail_url = format!("http://{}", mail_listener.local_addr().unwrap());
    let arp_url = format!("http://{}", arp_listener.local_addr().unwrap());

    // One command registers both.
    let out = app
        .cli(
            &[
                "client",
                "add-demo",
                "--mail-url",
                &mail_url,
                "--arp-url",
                &arp_url,
                "--json",
            ],
            None,
        )
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let text = app
        .cli(
            &[
                "client",
                "add-demo",
                "--mail-url",
                &mail_url,
                "--arp-url",
                &arp_url,
            ],
            None,
        )
        .await;
    assert!(
        text.stdout.contains("cargo run -p mail-demo"),
        "{}",
        text.stdout
    );
    // Running it again replaces the registrations (and their secrets).
    let (mail, arp) = register_and_start(&app, mail_listener, arp_listener).await;

    let b = app.browser();
    // Mail: the passport asks for the password once.
    let (page, asked) = visit(
        &b,
        &format!("{mail}/login"),
        Some(("zhang@cnic.cn", PASSWORD)),
    )
    .await;
    assert!(asked);
    assert!(page.has("id=\"signed-in\""), "{}", page.body);
    assert!(page.has("zhang@cnic.cn"));
    // ARP: no second password.
    let (page, asked) = visit(&b, &format!("{arp}/login"), None).await;
    assert!(!asked, "single sign-on: no login form the second time");
    assert!(page.has("id=\"signed-in\"") && page.has("zhang@cnic.cn"));

    // Sign out of mail: the passport session ends and ARP hears of it.
    let out = b
        .at(&mail)
        .client
        .post(format!("{mail}/logout"))
        .send()
        .await
        .unwrap();
    let loc = out.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.starts_with(&format!("{}/logout?", app.base)), "{loc}");
    // The session cookie is removed with the attributes it was set with.
    let cleared = out.headers()["set-cookie"].to_str().unwrap();
    for part in [
        "mail_demo_session=;",
        "Path=/",
        "Max-Age=0",
        "HttpOnly",
        "SameSite=Lax",
    ] {
        assert!(cleared.contains(part), "{part} in {cleared}");
    }
    let (page, _) = visit(&b, &loc, None).await;
    assert!(
        page.has("id=\"signed-out\""),
        "back on mail, signed out: {}",
        page.body
    );
    let mut ended = false;
    for _ in 0..100 {
        if b.at(&arp).get("/").await.has("id=\"signed-out\"") {
            ended = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(ended, "ARP's session ended through back-channel logout");
    assert_eq!(
        b.get("/account").await.redirect(),
        SIGN_IN_FIRST,
        "the passport session ended too"
    );

    // An error from the passport (here: the sign-in refused) is explained
    // in words, for a sign-in this browser started.
    let start = b.at(&mail).get("/login").await;
    let state = crate::helpers::query(start.location().unwrap())["state"].clone();
    // The sign-in's state cookie: the demo's baseline (HttpOnly, SameSite=Lax,
    // not Secure on plain http), for the callback only, as long as the sign-in lasts.
    let set = start.header("set-cookie").unwrap();
    for part in [
        &format!("mail_demo_state={state}") as &str,
        "HttpOnly",
        "SameSite=Lax",
        "Path=/callback",
        "Max-Age=600",
    ] {
        assert!(set.contains(part), "{part} in {set}");
    }
    assert!(!set.contains("Secure"), "{set}");
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let page = b
        .at(&mail)
        .get(&format!(
            "/callback?error=access_denied&state={}&iss={}",
            enc(&state),
            enc(&app.base)
        ))
        .await;
    assert!(
        page.has("data-code=\"access_denied\"") && page.has("账号已被停用"),
        "{}",
        page.body
    );
    // A callback this browser did not start, or from another issuer, is refused.
    let page = app
        .browser()
        .at("")
        .get(&format!(
            "{mail}/callback?error=access_denied&state={}&iss={}",
            enc(&state),
            enc(&app.base)
        ))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    let start = b.at(&mail).get("/login").await;
    let state = crate::helpers::query(start.location().unwrap())["state"].clone();
    let page = b
        .at(&mail)
        .get(&format!(
            "/callback?code=x&state={}&iss=https%3A%2F%2Fevil.example",
            enc(&state)
        ))
        .await;
    assert_eq!(
        page.status,
        StatusCode::BAD_REQUEST,
        "mix-up defence (RFC 9207)"
    );

    // Forged or malformed logout tokens are refused with 400 (§2.8).
    let (key, _) = tongxing::crypto::jws::SigningKey::generate(
        tongxing::crypto::jws::Alg::RS256,
        "forged".into(),
    )
    .unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let forged = key
        .sign("logout+jwt", &serde_json::json!({ "iss": app.base, "aud": "arp-demo", "iat": now, "exp": now + 60, "jti": "j1", "sid": "x",
            "events": { "http://schemas.openid.net/event/backchannel-logout": {} } }))
        .unwrap();
    let http = reqwest::Client::new();
    for body in [
        vec![("logout_token", forged.as_str())],
        vec![("logout_token", "garbage")],
        vec![],
    ] {
        let r = http
            .post(format!("{arp}/backchannel-logout"))
            .form(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn a_disabled_account_returns_to_the_app_with_access_denied() {
    let app = TestApp::spawn().await;
    app.user("off@cnic.cn").await;
    app.cli(
        &["user", "disable", "off@cnic.cn", "--reason", "left"],
        None,
    )
    .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mail_url = format!("http://{}", listener.local_addr().unwrap());
    let out = app
        .cli(
            &["client", "add-demo", "--mail-url", &mail_url, "--json"],
            None,
        )
        .await;
    let secret = out.json()[0]["client_secret"].as_str().unwrap().to_string();
    let mail = demo(&app, listener, "mail-demo", &secret).await;

    let b = app.browser();
    let start = b.at("").get(&format!("{mail}/login")).await;
    let to_idp = b.at("").get(start.location().unwrap()).await;
    let form = b.get(to_idp.location().unwrap()).await;
    assert!(
        form.has("id=\"cancel\""),
        "an application's sign-in can be cancelled"
    );
    // The right password of a disabled account: the passport says so, and
    // the user goes back to the application, which hears access_denied.
    let refused = b
        .submit_page(
            &form,
            "/login",
            &[("identifier", "off@cnic.cn"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.has("该账号已被停用"));
    let back = b.submit_page(&refused, "/authorize/cancel", &[]).await;
    let callback = back.location().unwrap().to_string();
    assert!(
        callback.starts_with(&format!("{mail}/callback?error=access_denied")),
        "{callback}"
    );
    let page = b.at("").get(&callback).await;
    assert!(
        page.has("data-code=\"access_denied\"") && page.has("账号已被停用"),
        "{}",
        page.body
    );
    assert_eq!(app.audit("authorize.cancelled").await.len(), 1);
}

#[tokio::test]
async fn the_demo_explains_errors() {
    assert!(tongxing_demo_rp::explain("access_denied").contains("停用"));
    assert!(tongxing_demo_rp::explain("access_denied").contains("disabled"));
    assert!(tongxing_demo_rp::explain("whatever").contains("administrator"));
}

#[tokio::test]
async fn the_demo_marks_its_cookies_secure_behind_https() {
    let app = TestApp::spawn().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let local = format!("http://{}", listener.local_addr().unwrap());
    let config = Config {
        name: "mail (behind a TLS proxy)".into(),
        cookie: "mail_demo".into(),
        issuer: app.base.clone(),
        client_id: "mail-demo".into(),
        client_secret: "unused-here".into(),
        public_url: Some("https://mail.example.org".into()),
    };
    let demo = Demo::build(config, listener).await.expect("demo starts");
    assert_eq!(demo.url(), "https://mail.example.org");
    tokio::spawn(demo.run());
    let start = app.browser().at(&local).get("/login").await;
    assert!(
        start
            .location()
            .unwrap()
            .contains("redirect_uri=https%3A%2F%2Fmail.example.org%2Fcallback")
    );
    let set = start.header("set-cookie").unwrap();
    for part in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/callback"] {
        assert!(set.contains(part), "{part} in {set}");
    }
}

/// A weak password found at a sign-in signs the person out of the demo
/// mail application (which `client add-demo` marks as demanding strong
/// passwords) by back-channel logout, and the next visit to mail meets the
/// passport's block page instead of a sign-in.
#[tokio::test]
async fn a_weak_password_at_sign_in_signs_the_person_out_of_the_demo_mail() {
    use tongxing::domain::SecretPassword;
    let app = TestApp::spawn().await;
    let user = app.user("zhang@cnic.cn").await;
    let mail_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mail_url = format!("http://{}", mail_listener.local_addr().unwrap());
    let out = app
        .cli(
            &["client", "add-demo", "--mail-url", &mail_url, "--json"],
            None,
        )
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let registered = out.json();
    let mail_client = registered
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client_id"] == "mail-demo")
        .unwrap()
        .clone();
    let mail = demo(
        &app,
        mail_listener,
        "mail-demo",
        mail_client["client_secret"].as_str().unwrap(),
    )
    .await;

    // Signed in to mail with the (strong) password.
    let b = app.browser();
    let (page, _) = visit(
        &b,
        &format!("{mail}/login"),
        Some(("zhang@cnic.cn", PASSWORD)),
    )
    .await;
    assert!(page.has("id=\"signed-in\""), "{}", page.body);

    // The stored password turns out weak (an import, an older policy):
    // signing in with it elsewhere blocks mail.
    let weak = "password1";
    let stored = app.stored("zhang@cnic.cn").await;
    let hash = app
        .state
        .hasher
        .hash(&SecretPassword::new(weak))
        .await
        .unwrap();
    assert!(
        app.state
            .store
            .upgrade_password_hash(user.id, &stored.password_hash, &hash)
            .await
            .unwrap()
    );
    let elsewhere = app.browser();
    let answer = elsewhere.login("zhang@cnic.cn", weak).await;
    assert!(
        answer
            .location()
            .unwrap_or_default()
            .starts_with("/account/password"),
        "{answer:?}"
    );
    let mut ended = false;
    for _ in 0..100 {
        if b.at(&mail).get("/").await.has("id=\"signed-out\"") {
            ended = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(ended, "mail's session ended through back-channel logout");

    // Back to mail: the passport answers with the block page, naming it.
    let (page, _) = visit(&b, &format!("{mail}/login"), None).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
    assert!(page.has("mail-demo") || page.has("邮件"), "{}", page.body);
}
