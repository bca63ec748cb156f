//! Organization administrators (所邮箱管理员) at work: on the management
//! API with their own token (scope `org_admin`) and in the console, they
//! search, read, reset passwords and require phone bindings for the
//! accounts of their organizations only; every other account answers
//! exactly as one that does not exist (404), and everything else stays
//! the system administrator's (403).

use reqwest::StatusCode;
use serde_json::{Value, json};
use tongxing::domain::{Role, Roles};
use tongxing::service::accounts::NewAccount;
use tongxing::service::organizations;
use tongxing::service::{Actor, Origin};
use tongxing::store::users::User;

use crate::admin_api::{Api, admin_token};
use crate::helpers::{PASSWORD, Rp, TestApp};
use crate::review_queue::user_token;

/// CNIC with two accounts, one of them its administrator (wang) and one a
/// reviewer; 物理所 with one account; an account of no organization.
struct World {
    member: User,
    reviewer: User,
    outsider: User,
    loner: User,
    cnic: uuid::Uuid,
    physics: uuid::Uuid,
}

async fn world(app: &TestApp) -> World {
    let cnic = app.org("CNIC").await;
    let physics = app.org("物理所").await;
    let account = |name: &str, org: Option<&str>| NewAccount {
        username: name.into(),
        organization: org.map(Into::into),
        ..NewAccount::default()
    };
    let member = app.user_with(account("member@cnic.cn", Some("CNIC"))).await;
    let reviewer = app
        .user_with(NewAccount {
            roles: Roles::new([Role::Reviewer]),
            ..account("reviewer@cnic.cn", Some("CNIC"))
        })
        .await;
    let outsider = app
        .user_with(account("outsider@iphy.ac.cn", Some("物理所")))
        .await;
    let loner = app.user("loner").await;
    let wang = app.user_with(account("wang@cnic.cn", Some("CNIC"))).await;
    organizations::assign_admin(&app.state, &cnic, &wang, &Actor::System, &Origin::default())
        .await
        .unwrap();
    World {
        member,
        reviewer,
        outsider,
        loner,
        cnic: cnic.id,
        physics: physics.id,
    }
}

/// The client an organization administrator's tool signs in with.
async fn portal(app: &TestApp) -> Rp {
    app.rp_with("org-portal", |c| {
        c.first_party = true;
        c.scopes = Some("openid org_admin".into());
    })
    .await
}

fn usernames(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a page: {page}"))
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn on_the_api_an_organization_administrator_looks_after_its_organizations_accounts_only() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let rp = portal(&app).await;
    let token = user_token(&app, &rp, "wang@cnic.cn", "openid org_admin").await;
    let api = Api::new(&app, &token);
    let admin_token = admin_token(&app).await;
    let sys = Api::new(&app, &admin_token);

    // Search: its organization's accounts without administrative rights.
    let (status, page) = api.get("/api/v1/users").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(usernames(&page), ["member@cnic.cn"]);
    assert_eq!(page["total"], 1);
    let (_, page) = api.get("/api/v1/users?q=iphy").await;
    assert_eq!(page["total"], 0, "{page}");
    let (_, page) = sys.get("/api/v1/users?q=iphy").await;
    assert_eq!(
        usernames(&page),
        ["outsider@iphy.ac.cn"],
        "positive control"
    );

    // Read: its account yes; any other exactly as an id nobody has.
    let (status, body) = api.get(&format!("/api/v1/users/{}", w.member.id)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["organization"], "CNIC");
    let (status, nobody) = api
        .get(&format!("/api/v1/users/{}", uuid::Uuid::now_v7()))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for other in [&w.outsider, &w.loner, &w.reviewer] {
        let (status, body) = api.get(&format!("/api/v1/users/{}", other.id)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{}", other.username);
        assert_eq!(body, nobody, "{}", other.username);
        let (status, _) = sys.get(&format!("/api/v1/users/{}", other.id)).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "positive control: {}",
            other.username
        );
    }

    // Require a phone binding: within scope, and 404 outside.
    let path = |u: &User| format!("/api/v1/users/{}/require-phone-binding", u.id);
    let (status, body) = api.call("POST", &path(&w.outsider), None).await;
    assert_eq!((status, &body), (StatusCode::NOT_FOUND, &nobody));
    assert!(
        app.stored("outsider@iphy.ac.cn")
            .await
            .phone_binding()
            .is_none()
    );
    let (status, body) = api.call("POST", &path(&w.member), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["phone_binding"], "required");
    let required = app.audit("account.phone_binding_required").await;
    assert_eq!(required.len(), 1);
    assert_eq!(required[0].actor, "wang@cnic.cn");

    // Reset a password: within scope, and 404 outside.
    let reset = |u: &User| format!("/api/v1/users/{}/password", u.id);
    let (status, body) = api.call("POST", &reset(&w.outsider), None).await;
    assert_eq!((status, &body), (StatusCode::NOT_FOUND, &nobody));
    let (status, body) = api.call("POST", &reset(&w.reviewer), None).await;
    assert_eq!((status, &body), (StatusCode::NOT_FOUND, &nobody));
    let (status, body) = api.call("POST", &reset(&w.member), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["password"].as_str().unwrap().len() >= 12);

    // Everything else is the system administrator's.
    let member = format!("/api/v1/users/{}", w.member.id);
    let version = app.stored("member@cnic.cn").await.version;
    for (method, path, body) in [
        (
            "PATCH",
            member.clone(),
            Some(json!({ "version": version, "display_name": "X" })),
        ),
        ("POST", format!("{member}/disable"), None),
        ("POST", format!("{member}/revoke-sessions"), None),
        ("POST", format!("{member}/force-password-change"), None),
        ("GET", format!("{member}/phones"), None),
        (
            "POST",
            "/api/v1/users".to_string(),
            Some(json!({ "username": "new@cnic.cn", "organization": "CNIC" })),
        ),
        ("GET", "/api/v1/organizations".to_string(), None),
        ("GET", format!("/api/v1/organizations/{}", w.cnic), None),
        (
            "PATCH",
            format!("/api/v1/organizations/{}", w.cnic),
            Some(json!({ "version": 1, "short_name": "x" })),
        ),
        (
            "POST",
            "/api/v1/organizations".to_string(),
            Some(json!({ "full_name": "新所" })),
        ),
        ("GET", "/api/v1/clients".to_string(), None),
        (
            "POST",
            "/api/v1/clients".to_string(),
            Some(
                json!({ "client_id": "x", "name": "x", "redirect_uris": ["https://x.example/cb"] }),
            ),
        ),
        ("GET", "/api/v1/audit".to_string(), None),
        ("GET", "/api/v1/keys".to_string(), None),
    ] {
        let (status, problem) = api.call(method, &path, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {problem}");
    }
    assert_eq!(app.stored("member@cnic.cn").await.display_name, "member");
    assert!(
        app.state
            .store
            .user_by_username("new@cnic.cn")
            .await
            .unwrap()
            .is_none()
    );

    // The calls are audited with the administrator.
    let calls = app.audit("admin.api_call").await;
    assert!(calls.iter().any(|c| c.actor == "wang@cnic.cn"));

    // A token without the scope, and an account without the role, are refused.
    let plain = user_token(&app, &rp, "wang@cnic.cn", "openid").await;
    let (status, problem) = Api::new(&app, &plain).get("/api/v1/users").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    let loner_token = user_token(&app, &rp, "loner", "openid org_admin").await;
    let (status, problem) = Api::new(&app, &loner_token).get("/api/v1/users").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    // A service account cannot obtain the scope.
    let bot = app
        .rp_with("bot", |c| c.scopes = Some("admin org_admin".into()))
        .await;
    let r: Value = reqwest::Client::new()
        .post(format!("{}/token", app.base))
        .basic_auth(&bot.id, bot.secret.as_deref())
        .form(&[("grant_type", "client_credentials"), ("scope", "org_admin")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["error"], "invalid_scope", "{r}");

    // Another organization assigned widens the scope at once; the role
    // taken away ends it.
    let physics = organizations::by_id(&app.state, w.physics).await.unwrap();
    let cnic = organizations::by_id(&app.state, w.cnic).await.unwrap();
    let wang = app.stored("wang@cnic.cn").await;
    organizations::assign_admin(
        &app.state,
        &physics,
        &wang,
        &Actor::System,
        &Origin::default(),
    )
    .await
    .unwrap();
    let (status, _) = api.get(&format!("/api/v1/users/{}", w.outsider.id)).await;
    assert_eq!(status, StatusCode::OK);
    organizations::remove_admin(
        &app.state,
        &physics,
        &wang,
        &Actor::System,
        &Origin::default(),
    )
    .await
    .unwrap();
    organizations::remove_admin(&app.state, &cnic, &wang, &Actor::System, &Origin::default())
        .await
        .unwrap();
    let (status, _) = api.get(&format!("/api/v1/users/{}", w.member.id)).await;
    assert_ne!(status, StatusCode::OK);
}

#[tokio::test]
async fn in_the_console_an_organization_administrator_sees_its_accounts_and_organizations_only() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let b = app.browser();
    b.login("wang@cnic.cn", PASSWORD).await;

    // Its console is the accounts of its organization.
    let home = b.get("/admin").await;
    assert_eq!(
        home.redirect(),
        (StatusCode::SEE_OTHER, Some("/admin/users"))
    );
    let users = b.get("/admin/users").await;
    assert_eq!(users.status, StatusCode::OK);
    assert!(users.has("member@cnic.cn"), "{}", users.body);
    for hidden in ["outsider@iphy.ac.cn", "reviewer@cnic.cn", "loner"] {
        assert!(!users.has(hidden), "{hidden}");
    }
    assert!(users.has("我管理的单位"), "{}", users.body);
    assert!(!users.has("/admin/clients") && !users.has("/admin/audit"));
    assert!(!users.has("id=\"create\""), "no account creation");
    let found = b.get("/admin/users?q=iphy").await;
    assert!(!found.has("outsider@iphy.ac.cn"));

    // An account outside answers the 404 page, the same as nobody's.
    let nobody = b
        .get(&format!("/admin/users/{}", uuid::Uuid::now_v7()))
        .await;
    assert_eq!(nobody.status, StatusCode::NOT_FOUND);
    for other in [&w.outsider, &w.reviewer, &w.loner] {
        let page = b.get(&format!("/admin/users/{}", other.id)).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{}", other.username);
        assert_eq!(page.body, nobody.body, "{}", other.username);
    }

    // Its account's page: the actions it may take, and those only.
    let path = format!("/admin/users/{}", w.member.id);
    let page = b.get(&path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.has("id=\"require-binding\"") && page.has("id=\"reset-password\""));
    assert!(!page.has("value=\"profile\"") && !page.has("value=\"disable\""));
    assert!(!page.has("id=\"reveal-phones\""));
    let refused = b
        .submit_page(
            &page,
            &path,
            &[("action", "disable"), ("confirm", "1"), ("reason", "x")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(app.stored("member@cnic.cn").await.status.as_str(), "active");
    // Without the CSRF token: refused.
    let forged = b.post_form(&path, &[("action", "require_binding")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(app.stored("member@cnic.cn").await.phone_binding().is_none());
    let outside = b
        .submit_page(
            &page,
            &format!("/admin/users/{}", w.outsider.id),
            &[("action", "require_binding")],
        )
        .await;
    assert_eq!(outside.status, StatusCode::NOT_FOUND);
    assert!(
        app.stored("outsider@iphy.ac.cn")
            .await
            .phone_binding()
            .is_none()
    );
    let done = b
        .submit_page(&page, &path, &[("action", "require_binding")])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert!(app.stored("member@cnic.cn").await.phone_binding().is_some());
    let page = b.get(&path).await;
    let reset = b
        .submit_page(
            &page,
            &path,
            &[("action", "password"), ("confirm", "1"), ("password", "")],
        )
        .await;
    assert_eq!(reset.status, StatusCode::SEE_OTHER, "{}", reset.body);
    let shown = b.get(reset.location().unwrap()).await;
    assert!(shown.has("id=\"generated\""), "{}", shown.body);

    // Its organizations: its own, read only; others 404; no registry changes.
    let orgs = b.get("/admin/organizations").await;
    assert_eq!(orgs.status, StatusCode::OK);
    assert!(orgs.has("CNIC") && !orgs.has("物理所"), "{}", orgs.body);
    assert!(!orgs.has("id=\"create\""));
    let own = b.get(&format!("/admin/organizations/{}", w.cnic)).await;
    assert_eq!(own.status, StatusCode::OK);
    assert!(own.has("wang@cnic.cn") && !own.has("id=\"edit\""));
    let other = b.get(&format!("/admin/organizations/{}", w.physics)).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    let create = b
        .submit_page(&orgs, "/admin/organizations", &[("full_name", "新所")])
        .await;
    assert_eq!(create.status, StatusCode::FORBIDDEN);
    assert!(
        organizations::resolve(&app.state, "新所")
            .await
            .unwrap()
            .is_none()
    );
    for path in ["/admin/clients", "/admin/audit"] {
        assert_eq!(b.get(path).await.status, StatusCode::FORBIDDEN, "{path}");
    }

    // English.
    let en = b.get("/admin/organizations?lang=en").await;
    assert!(
        en.has("My organizations") && en.has("Full name"),
        "{}",
        en.body
    );

    // Positive control: the system administrator sees the others' pages.
    let admin = app.browser();
    admin.login("admin", &app.admin_password).await;
    let page = admin.get(&format!("/admin/users/{}", w.outsider.id)).await;
    assert_eq!(page.status, StatusCode::OK);
    let page = admin
        .get(&format!("/admin/organizations/{}", w.physics))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.has("id=\"edit\""));

    // An ordinary account has no console.
    let loner = app.browser();
    loner.login("loner", PASSWORD).await;
    assert_eq!(
        loner.get("/admin/users").await.status,
        StatusCode::FORBIDDEN
    );
}
