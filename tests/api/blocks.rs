//! Weak-password blocks per application (弱密码停用): a password the
//! current policy refuses, found at a sign-in, blocks the account for the
//! clients marked `require_strong_password` — on every surface — until an
//! administrator resets it (or, with the setting, a strong password of the
//! person's own); the console lists the blocked accounts and exports them.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tongxing::domain::SecretPassword;
use tongxing::service::accounts::NewAccount;
use tongxing::service::organizations::{self, AdminScope};
use tongxing::service::{Actor, Origin};
use tongxing::store::users::User;

use crate::admin_api::{Api, admin_token};
use crate::backchannel::{receiver, wait_for};
use crate::helpers::{Browser, PASSWORD, REDIRECT, Rp, TestApp, query};
use crate::oidc::decode_payload;
use crate::oidc_rules::{authorize_url, redeem, token};
use crate::review_queue::user_token;
use crate::revocation::{Tokens, assert_live, introspect, sign_in};

const USER: &str = "li@cnic.cn";
/// On the common-password list, no upper case, no special character.
const WEAK: &str = "password123";
const NEW_PASSWORD: &str = "Violet-Harbour-73!";
const ORG: &str = "计算机网络信息中心";

type Seen = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// An organization with an administrator (王管理, wang@cnic.cn), an account
/// of it, and three first-party applications: mail and ARP demand strong
/// passwords, the wiki does not. Mail's back-channel logouts are recorded.
struct World {
    app: TestApp,
    user: User,
    mail: Rp,
    arp: Rp,
    wiki: Rp,
    mail_seen: Seen,
}

async fn world_with(customize: impl FnOnce(&mut tongxing::Config)) -> World {
    let app = TestApp::spawn_with(customize).await;
    let org = app.org(ORG).await;
    let wang = app
        .user_with(NewAccount {
            username: "wang@cnic.cn".into(),
            display_name: Some("王管理".into()),
            organization: Some(ORG.into()),
            ..NewAccount::default()
        })
        .await;
    organizations::assign_admin(&app.state, &org, &wang, &Actor::System, &Origin::default())
        .await
        .unwrap();
    let user = app
        .user_with(NewAccount {
            username: USER.into(),
            display_name: Some("李四".into()),
            organization: Some(ORG.into()),
            ..NewAccount::default()
        })
        .await;
    let (mail_url, mail_seen) = receiver(0).await;
    let mail = app
        .rp_with("mail", |c| {
            c.name = "邮件系统".into();
            c.first_party = true;
            c.require_strong_password = true;
            c.backchannel_logout_uri = Some(mail_url);
        })
        .await;
    let arp = app
        .rp_with("arp", |c| {
            c.name = "科研管理 ARP".into();
            c.first_party = true;
            c.require_strong_password = true;
        })
        .await;
    let wiki = app
        .rp_with("wiki", |c| {
            c.name = "知识库".into();
            c.first_party = true;
        })
        .await;
    World {
        app,
        user,
        mail,
        arp,
        wiki,
        mail_seen,
    }
}

async fn world() -> World {
    world_with(|_| {}).await
}

/// The account's stored password becomes `password` (as an import or an
/// older, laxer policy would have left it): the policy is not asked.
async fn plant_password(app: &TestApp, user: &User, password: &str) {
    let stored = app.stored(&user.username).await;
    let hash = app
        .state
        .hasher
        .hash(&SecretPassword::new(password))
        .await
        .unwrap();
    assert!(
        app.state
            .store
            .upgrade_password_hash(user.id, &stored.password_hash, &hash)
            .await
            .unwrap()
    );
}

/// The authorization request of `rp` as a path of the passport.
fn authorize_path(app: &TestApp, rp: &Rp, extra: &str) -> String {
    authorize_url(app, rp, extra)
        .strip_prefix(&app.base)
        .unwrap()
        .to_string()
}

/// Userinfo's status and its WWW-Authenticate challenge.
async fn userinfo(app: &TestApp, access: &str) -> (StatusCode, String) {
    let r = reqwest::Client::new()
        .get(format!("{}/userinfo", app.base))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    let challenge = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (r.status(), challenge)
}

async fn refresh(app: &TestApp, rp: &Rp, t: &mut Tokens) -> (StatusCode, Value) {
    let (status, body) = token(
        app,
        rp,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &t.refresh),
        ],
    )
    .await;
    if status == StatusCode::OK {
        t.access = body["access_token"].as_str().unwrap().to_string();
        t.refresh = body["refresh_token"].as_str().unwrap().to_string();
    }
    (status, body)
}

/// Every surface refuses the tokens: userinfo 401 with an RFC 6750
/// challenge, introspection inactive, refresh invalid_grant.
async fn assert_refused(app: &TestApp, rp: &Rp, t: &mut Tokens, what: &str) -> Value {
    let (status, challenge) = userinfo(app, &t.access).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: userinfo");
    assert!(
        challenge.starts_with("Bearer ") && challenge.contains("error=\"invalid_token\""),
        "{what}: {challenge}"
    );
    assert_eq!(
        introspect(app, rp, &t.access).await,
        json!({ "active": false }),
        "{what}: access token"
    );
    assert_eq!(
        introspect(app, rp, &t.refresh).await,
        json!({ "active": false }),
        "{what}: refresh token"
    );
    let (status, body) = refresh(app, rp, t).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{what}: refresh {body}"
    );
    body
}

/// The blocks of the account as the management API lists them (client ids).
async fn blocked_clients(app: &TestApp, api: &Api<'_>, username: &str) -> Vec<String> {
    let (status, body) = api.get("/api/v1/blocks?per_page=200").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let _ = app;
    let mut ids: Vec<String> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["username"] == username)
        .map(|b| b["client_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

/// What a weak sign-in does to the account, without the sign-in.
async fn block_weak(app: &TestApp, user: &User) {
    tongxing::service::blocks::block_weak(
        &app.state,
        user,
        &Actor::System,
        &Origin::default(),
        tongxing::i18n::Lang::ZhCn,
    )
    .await
    .unwrap();
}

/// Signs in with the (weak) password at the login page: the passport lets
/// the person in and leads to the password change.
async fn weak_sign_in(app: &TestApp) -> Browser {
    let b = app.browser();
    let answer = b.login(USER, WEAK).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    assert!(
        answer
            .location()
            .unwrap()
            .starts_with("/account/password?return_to="),
        "{:?}",
        answer.location()
    );
    b
}

#[tokio::test]
async fn a_weak_password_at_sign_in_blocks_the_strong_password_clients_on_every_surface() {
    let w = world().await;
    let app = &w.app;
    // Before: the account signs in to mail and the wiki with a strong
    // password; every surface takes their tokens, and no sign-in blocks.
    let earlier = app.browser();
    let mut mail = sign_in(app, &w.mail, &earlier, PASSWORD).await;
    let mut wiki = sign_in(app, &w.wiki, &earlier, PASSWORD).await;
    assert_live(app, &w.mail, &mut mail, "mail before").await;
    assert_live(app, &w.wiki, &mut wiki, "wiki before").await;
    assert!(app.audit("account.blocked").await.is_empty());

    // The stored password turns out weak under the current policy.
    plant_password(app, &w.user, WEAK).await;
    let b = weak_sign_in(app).await;
    assert_eq!(b.get("/account").await.redirect().0, StatusCode::SEE_OTHER);

    // Audited once, naming the two marked clients (not the wiki), without
    // the password.
    let blocked = app.audit("account.blocked").await;
    assert_eq!(blocked.len(), 1);
    let detail: Value = serde_json::from_str(&blocked[0].detail).unwrap();
    assert_eq!(detail["reason"], "weak_password");
    assert_eq!(detail["client_ids"], json!(["arp", "mail"]));
    assert_eq!(blocked[0].subject.as_deref(), Some(USER));
    assert!(!blocked[0].detail.contains(WEAK));

    // Mail's tokens are refused everywhere; the wiki's still work.
    assert_refused(app, &w.mail, &mut mail, "mail after").await;
    assert_live(app, &w.wiki, &mut wiki, "wiki after").await;
    // Mail heard of it by back-channel logout, for the session it was in.
    app.settle().await;
    let logout = wait_for(&w.mail_seen, 1).await;
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(logout[0].as_bytes())
            .into_owned()
            .collect();
    assert_eq!(
        decode_payload(&form["logout_token"])["sid"],
        mail.sid.as_str()
    );

    // The notice e-mail names the application and the organization's
    // administrators, and says nothing of the password.
    let mails = app.outbox_wait("mail", 1).await;
    let notice = mails
        .iter()
        .find(|m| m["purpose"] == "blocked_notice")
        .expect("a notice e-mail");
    assert_eq!(notice["to"], USER);
    let text = notice["text"].as_str().unwrap();
    assert!(
        text.contains("邮件系统") && text.contains("科研管理 ARP"),
        "{text}"
    );
    assert!(!text.contains("知识库"), "{text}");
    assert!(text.contains("王管理 <wang@cnic.cn>"), "{text}");
    assert!(!text.contains(WEAK));

    // A second sign-in with the same password sets nothing twice.
    weak_sign_in(app).await;
    assert_eq!(app.audit("account.blocked").await.len(), 1);
    let api = Api::new(app, &admin_token(app).await);
    assert_eq!(blocked_clients(app, &api, USER).await, ["arp", "mail"]);

    // /authorize for ARP: a page naming the application and the
    // administrators, even before the password is changed.
    let page = b.get(&authorize_path(app, &w.arp, "")).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
    assert!(
        page.has("您的通行证账号在「科研管理 ARP」已停用"),
        "{}",
        page.body
    );
    assert!(page.has("通行证发现您的密码不符合当前的密码规则"));
    assert!(page.has("王管理") && page.has("mailto:wang@cnic.cn"));
    // Its way back gives the application access_denied, with its state.
    let back = b.submit_page(&page, "/authorize/cancel", &[]).await;
    let location = back.location().unwrap().to_string();
    assert!(location.starts_with(REDIRECT), "{location}");
    let q = query(&location);
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "s1");
    // prompt=none gets access_denied at once.
    let silent = b.get(&authorize_path(app, &w.arp, "&prompt=none")).await;
    assert_eq!(query(silent.location().unwrap())["error"], "access_denied");
    // The unmarked wiki is no block: it asks for the password change first.
    let wiki_page = b.get(&authorize_path(app, &w.wiki, "")).await;
    assert!(
        wiki_page
            .location()
            .is_some_and(|l| l.starts_with("/account/password")),
        "{:?}",
        wiki_page.location()
    );

    // The person changes the password (the page says why); by default that
    // does not lift the blocks.
    let form = b.get("/account/password").await;
    assert!(form.has("id=\"weak\""), "{}", form.body);
    let done = b
        .submit_page(
            &form,
            "/account/password",
            &[
                ("current", WEAK),
                ("new", NEW_PASSWORD),
                ("repeat", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(b.get("/account").await.status, StatusCode::OK);
    assert!(app.audit("account.unblocked").await.is_empty());
    assert_eq!(
        b.get(&authorize_path(app, &w.arp, "")).await.status,
        StatusCode::FORBIDDEN
    );
    // The wiki now gives a code; mail is still blocked.
    let wiki_back = b
        .authorize_as(
            &authorize_url(app, &w.wiki, ""),
            USER,
            NEW_PASSWORD,
            "allow",
        )
        .await;
    assert!(query(&wiki_back).contains_key("code"), "{wiki_back}");
    assert_eq!(
        b.get(&authorize_path(app, &w.mail, "")).await.status,
        StatusCode::FORBIDDEN
    );
    // A strong password signs in without anything new.
    let fresh = app.browser();
    assert_eq!(
        fresh.login(USER, NEW_PASSWORD).await.redirect(),
        (StatusCode::SEE_OTHER, Some("/account"))
    );
    assert_eq!(app.audit("account.blocked").await.len(), 1);
}

#[tokio::test]
async fn a_block_set_after_the_tokens_were_issued_is_answered_on_every_surface() {
    let w = world().await;
    let app = &w.app;
    let b = app.browser();
    let mut mail = sign_in(app, &w.mail, &b, PASSWORD).await;
    let mut wiki = sign_in(app, &w.wiki, &b, PASSWORD).await;
    assert_live(app, &w.mail, &mut mail, "mail before").await;
    // A code issued before the block.
    let back = b
        .authorize_as(&authorize_url(app, &w.mail, ""), USER, PASSWORD, "allow")
        .await;
    let code = query(&back)["code"].clone();

    // A block appears without touching the grants (an administrator's
    // block written by another node, say): only the one check can refuse.
    app.sql(&format!(
        "INSERT INTO account_blocks (user_id, client_id, reason, created_at, created_by) \
         SELECT id, 'mail', 'admin', created_at, 'test' FROM users WHERE username = '{USER}'"
    ))
    .await;
    let (status, body) = redeem(app, &w.mail, &code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("blocked")
    );
    let body = assert_refused(app, &w.mail, &mut mail, "mail blocked").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("blocked")
    );
    // Another application of the same account is not affected.
    assert_live(app, &w.wiki, &mut wiki, "wiki").await;
    // The page of an administrator's block says so (not "weak password").
    let page = b.get(&authorize_path(app, &w.mail, "")).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.has("管理员已停用您在这个应用中的使用"));
    assert!(!page.has("密码不符合"));

    // A block for every client ('*') blocks the wiki too.
    app.sql(&format!(
        "INSERT INTO account_blocks (user_id, client_id, reason, created_at, created_by) \
         SELECT id, '*', 'compromised', created_at, 'test' FROM users WHERE username = '{USER}'"
    ))
    .await;
    assert_refused(app, &w.wiki, &mut wiki, "wiki under '*'").await;

    // Lifted (API): every surface takes new tokens again.
    let api = Api::new(app, &admin_token(app).await);
    let (status, lifted) = api
        .post(
            &format!("/api/v1/users/{}/lift-blocks", w.user.id),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{lifted}");
    assert_eq!(lifted["client_ids"].as_array().unwrap().len(), 2);
    let unblocked = app.audit("account.unblocked").await;
    assert_eq!(unblocked.len(), 1);
    let mut again = sign_in(app, &w.mail, &b, PASSWORD).await;
    assert_live(app, &w.mail, &mut again, "mail after lifting").await;
}

#[tokio::test]
async fn with_the_setting_a_strong_password_of_ones_own_lifts_the_blocks() {
    let w = world_with(|c| c.password_policy.self_service_lift = true).await;
    let app = &w.app;
    plant_password(app, &w.user, WEAK).await;
    let b = weak_sign_in(app).await;
    assert_eq!(
        b.get(&authorize_path(app, &w.arp, "")).await.status,
        StatusCode::FORBIDDEN
    );
    let form = b.get("/account/password").await;
    // A weak new password is still refused (and lifts nothing).
    let refused = b
        .submit_page(
            &form,
            "/account/password",
            &[
                ("current", WEAK),
                ("new", "password1234"),
                ("repeat", "password1234"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(app.audit("account.unblocked").await.is_empty());
    let done = b
        .submit_page(
            &form,
            "/account/password",
            &[
                ("current", WEAK),
                ("new", NEW_PASSWORD),
                ("repeat", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let unblocked = app.audit("account.unblocked").await;
    assert_eq!(unblocked.len(), 1);
    assert!(unblocked[0].detail.contains("arp") && unblocked[0].detail.contains("mail"));
    assert_eq!(unblocked[0].actor, USER);
    let back = b
        .authorize_as(&authorize_url(app, &w.arp, ""), USER, NEW_PASSWORD, "allow")
        .await;
    assert!(query(&back).contains_key("code"), "{back}");
}

#[tokio::test]
async fn an_administrator_s_reset_lifts_the_blocks_and_demands_a_change() {
    let w = world().await;
    let app = &w.app;
    let api = Api::new(app, &admin_token(app).await);
    plant_password(app, &w.user, WEAK).await;
    let b = weak_sign_in(app).await;
    assert_eq!(blocked_clients(app, &api, USER).await, ["arp", "mail"]);
    let path = format!("/api/v1/users/{}/password", w.user.id);

    // A given password must pass the policy: 422 naming the rule.
    let (status, body) = api.post(&path, json!({ "password": "password1234" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "password");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("upper-case letter"),
        "{body}"
    );
    assert_eq!(blocked_clients(app, &api, USER).await, ["arp", "mail"]);
    assert_eq!(b.get("/account/password").await.status, StatusCode::OK);

    // A given strong one: set, blocks lifted, change demanded, sessions ended.
    let (status, body) = api
        .post(&path, json!({ "password": "Given-Secret-42" }))
        .await;
    assert_eq!((status, &body["password"]), (StatusCode::OK, &Value::Null));
    assert!(blocked_clients(app, &api, USER).await.is_empty());
    let unblocked = app.audit("account.unblocked").await;
    assert_eq!(unblocked.len(), 1);
    assert!(!unblocked[0].detail.contains("Given-Secret-42"));
    assert_eq!(
        api.get(&format!("/api/v1/users/{}", w.user.id)).await.1["must_change_password"],
        true
    );
    let ended = b.get("/account/password").await;
    assert!(
        ended.location().is_some_and(|l| l.starts_with("/login?")),
        "the sessions ended: {:?}",
        ended.location()
    );
    // The next sign-in leads to the change (after the phone, which a
    // password set by someone else always asks for; this account has none
    // and is led to the password change page all the same).
    let next = app.browser().login(USER, "Given-Secret-42").await;
    assert_eq!(next.status, StatusCode::SEE_OTHER, "{}", next.body);

    // Generated: shown once in the answer, never in the audit log. (The
    // weak password found again, as at a sign-in.)
    block_weak(app, &w.user).await;
    assert_eq!(blocked_clients(app, &api, USER).await, ["arp", "mail"]);
    let (status, body) = api.post(&path, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let generated = body["password"].as_str().unwrap().to_string();
    assert!(generated.len() >= 10);
    assert!(blocked_clients(app, &api, USER).await.is_empty());
    let all = app.audit("account.password_set").await;
    assert!(all.iter().all(|r| !r.detail.contains(&generated)));
    assert_eq!(app.audit("account.unblocked").await.len(), 2);
}

#[tokio::test]
async fn an_organization_administrator_lists_resets_and_lifts_its_organizations_accounts_only() {
    let w = world().await;
    let app = &w.app;
    let outsider = app
        .user_with(NewAccount {
            username: "zhao@iphy.ac.cn".into(),
            organization: Some("物理所".into()),
            ..NewAccount::default()
        })
        .await;
    // A system administrator of the same organization: out of the
    // organization administrator's scope like any privileged account.
    let privileged = app
        .user_with(NewAccount {
            username: "chen@cnic.cn".into(),
            organization: Some(ORG.into()),
            is_admin: true,
            ..NewAccount::default()
        })
        .await;
    for user in [&w.user, &outsider, &privileged] {
        block_weak(app, user).await;
    }
    // 王管理, administrator of the account's organization, with its own token.
    let portal = app
        .rp_with("org-portal", |c| {
            c.first_party = true;
            c.scopes = Some("openid org_admin".into());
        })
        .await;
    let token = user_token(app, &portal, "wang@cnic.cn", "openid org_admin").await;
    let api = Api::new(app, &token);
    let sys = Api::new(app, &admin_token(app).await);

    // The list: its organization's blocked account only (the system
    // administrator sees both).
    let (status, page) = api.get("/api/v1/blocks").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 2, "{page}");
    assert!(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["username"] == USER)
    );
    assert_eq!(sys.get("/api/v1/blocks").await.1["total"], 6);
    let (status, body) = api
        .post(
            &format!("/api/v1/users/{}/lift-blocks", privileged.id),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // Another organization's account answers exactly like none at all.
    let (missing_status, missing) = api
        .post(
            &format!("/api/v1/users/{}/lift-blocks", uuid::Uuid::new_v4()),
            json!({}),
        )
        .await;
    assert_eq!(missing_status, StatusCode::NOT_FOUND);
    for path in [
        format!("/api/v1/users/{}/lift-blocks", outsider.id),
        format!("/api/v1/users/{}/password", outsider.id),
    ] {
        let (status, body) = api.post(&path, json!({})).await;
        assert_eq!((status, &body), (StatusCode::NOT_FOUND, &missing), "{path}");
    }
    assert_eq!(
        blocked_clients(app, &sys, "zhao@iphy.ac.cn").await,
        ["arp", "mail"]
    );

    // Its own organization's account: reset (lifts the weak-password
    // blocks), then, blocked again, lifted without a reset.
    let (status, body) = api
        .post(&format!("/api/v1/users/{}/password", w.user.id), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["password"].as_str().is_some());
    assert!(blocked_clients(app, &sys, USER).await.is_empty());
    let unblocked = app.audit("account.unblocked").await;
    assert_eq!(unblocked.len(), 1);
    assert_eq!(unblocked[0].actor, "wang@cnic.cn");
    block_weak(app, &w.user).await;
    let (status, body) = api
        .post(
            &format!("/api/v1/users/{}/lift-blocks", w.user.id),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["client_ids"], json!(["arp", "mail"]));
    assert!(blocked_clients(app, &sys, USER).await.is_empty());
    // The outsider's blocks were never touched.
    assert_eq!(
        blocked_clients(app, &sys, "zhao@iphy.ac.cn").await,
        ["arp", "mail"]
    );
    // A block a system administrator set (all applications) is not the
    // organization administrator's to lift: only the weak-password ones go.
    app.sql(&format!(
        "INSERT INTO account_blocks (user_id, client_id, reason, created_at, created_by) \
         SELECT id, '*', 'admin', created_at, 'test' FROM users WHERE username = '{USER}'"
    ))
    .await;
    block_weak(app, &w.user).await;
    let (status, body) = api
        .post(
            &format!("/api/v1/users/{}/lift-blocks", w.user.id),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["client_ids"], json!(["arp", "mail"]));
    assert_eq!(blocked_clients(app, &sys, USER).await, ["*"]);
    let (status, body) = sys
        .post(
            &format!("/api/v1/users/{}/lift-blocks", w.user.id),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["client_ids"],
        json!(["*"]),
        "the system administrator lifts it"
    );
    assert!(blocked_clients(app, &sys, USER).await.is_empty());
    // The list, in the service, follows the scope too.
    let (none, _) = tongxing::service::blocks::list(
        &app.state,
        &AdminScope::Organizations(vec![]),
        None,
        10,
        0,
    )
    .await
    .unwrap();
    assert!(none.is_empty());
}

#[tokio::test]
async fn the_console_lists_the_blocked_accounts_by_application_and_exports_them() {
    let w = world().await;
    let app = &w.app;
    let tricky = app
        .user_with(NewAccount {
            username: "zhao@iphy.ac.cn".into(),
            display_name: Some("=HYPERLINK(\"http://x\",\"赵, 六\")".into()),
            organization: Some("物理所".into()),
            ..NewAccount::default()
        })
        .await;
    for user in [&w.user, &tricky] {
        block_weak(app, user).await;
    }
    // The wiki is blocked for one of them by an administrator's block.
    app.sql(
        "INSERT INTO account_blocks (user_id, client_id, reason, created_at, created_by) \
         SELECT id, 'wiki', 'admin', created_at, 'admin' FROM users WHERE username = 'zhao@iphy.ac.cn'",
    )
    .await;

    let admin = app.browser();
    admin.login("admin", &app.admin_password).await;
    let page = admin.get("/admin/blocks").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.has("停用的账号") && page.has("id=\"total\">共 5 条"),
        "{}",
        page.body
    );
    assert!(page.has(USER) && page.has("zhao@iphy.ac.cn"));
    let wiki_only = admin.get("/admin/blocks?client_id=wiki").await;
    assert!(wiki_only.has("共 1 条") && wiki_only.has("zhao@iphy.ac.cn"));
    assert!(!wiki_only.has(USER), "{}", wiki_only.body);
    assert_eq!(
        admin.get("/admin/blocks?client_id=a%20b").await.status,
        StatusCode::BAD_REQUEST
    );

    // CSV for Excel: BOM, CRLF, quoted, formula cells defused.
    let csv = admin.get("/admin/blocks.csv?client_id=mail").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    assert!(
        csv.header("content-disposition")
            .unwrap()
            .contains("attachment")
    );
    assert!(csv.body.starts_with('\u{feff}'), "{:?}", &csv.body[..10]);
    let lines: Vec<&str> = csv
        .body
        .trim_start_matches('\u{feff}')
        .split("\r\n")
        .collect();
    assert_eq!(lines[0], "账号,姓名,单位,应用,原因,停用时间,操作者");
    assert_eq!(lines.len(), 4, "header, two rows, the empty end: {lines:?}");
    let zhao = lines.iter().find(|l| l.starts_with("zhao@")).unwrap();
    assert!(
        zhao.starts_with("zhao@iphy.ac.cn,\"'=HYPERLINK(\"\"http://x\"\",\"\"赵, 六\"\")\",物理所,邮件系统 (mail),弱密码,"),
        "{zhao}"
    );
    let en = admin.get("/admin/blocks.csv?lang=en").await;
    assert!(
        en.body
            .contains("Account,Name,Organization,Application,Reason,Blocked at,By")
    );
    assert!(en.body.contains("Weak password") && en.body.contains("Blocked by an administrator"));
    // Each export is on the record: the filter and the count, not the rows.
    let exported = app.audit("blocks.exported").await;
    assert_eq!(exported.len(), 2, "{exported:?}");
    assert!(exported.iter().any(|r| r.detail.contains("\"rows\":2")));
    assert!(exported.iter().all(|r| !r.detail.contains("zhao@")));
    admin.get("/admin?lang=zh-CN").await;

    // The API lists the same, filtered.
    let api = Api::new(app, &admin_token(app).await);
    let (status, body) = api.get("/api/v1/blocks?client_id=arp").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total"], 2);
    assert_eq!(body["items"][0]["reason"], "weak_password");
    assert_eq!(body["items"][0]["client_name"], "科研管理 ARP");
    let (status, body) = api.get("/api/v1/blocks?client_id=a%20b").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "client_id");

    // The account's page shows its blocks and lifts them (CSRF form).
    let path = format!("/admin/users/{}", tricky.id);
    let detail = admin.get(&path).await;
    assert!(detail.has("id=\"blocks\"") && detail.has("弱密码"));
    let done = admin
        .submit_page(&detail, &path, &[("action", "lift"), ("confirm", "1")])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert!(!admin.get(&path).await.has("id=\"lift-blocks\""));
    assert!(!admin.get("/admin/blocks").await.has("zhao@iphy.ac.cn"));
    // Without the CSRF token nothing is lifted.
    let refused = admin
        .post_form(
            &format!("/admin/users/{}", w.user.id),
            &[("action", "lift"), ("confirm", "1")],
        )
        .await;
    assert_ne!(refused.status, StatusCode::SEE_OTHER);
    assert!(admin.get("/admin/blocks").await.has(USER));
}

#[tokio::test]
async fn clients_are_marked_on_the_api_the_console_and_the_cli() {
    let app = TestApp::spawn().await;
    let api = Api::new(&app, &admin_token(&app).await);
    let (status, created) = api
        .post(
            "/api/v1/clients",
            json!({ "id": "mail", "name": "Mail", "redirect_uris": [REDIRECT], "require_strong_password": true }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["client"]["require_strong_password"], true);
    let (_, plain) = api
        .post(
            "/api/v1/clients",
            json!({ "id": "wiki", "name": "Wiki", "redirect_uris": [REDIRECT] }),
        )
        .await;
    assert_eq!(plain["client"]["require_strong_password"], false);
    let version = plain["client"]["version"].as_i64().unwrap();
    let (status, updated) = api
        .call(
            "PATCH",
            "/api/v1/clients/wiki",
            Some(json!({ "version": version, "require_strong_password": true })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["require_strong_password"], true);

    // The console toggles it back (a CSRF form, audited).
    let admin = app.browser();
    admin.login("admin", &app.admin_password).await;
    let page = admin.get("/admin/clients").await;
    assert!(page.has("要求强密码"));
    let form_start = page.body.find("id=\"strong-wiki\"").unwrap();
    let version = page.body[form_start..]
        .split("name=\"version\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let done = admin
        .post_form(
            "/admin/clients/wiki/strong-password",
            &[("csrf", &page.csrf()), ("on", "0"), ("version", &version)],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(
        api.get("/api/v1/clients/wiki").await.1["require_strong_password"],
        false
    );
    assert!(
        app.audit("client.updated")
            .await
            .iter()
            .any(|r| r.detail.contains("require_strong_password"))
    );

    // The CLI: add with the flag, update, and the demo clients.
    let out = app
        .cli(
            &[
                "client",
                "add",
                "--id",
                "arp",
                "--name",
                "ARP",
                "--redirect-uri",
                REDIRECT,
                "--require-strong-password",
                "--json",
            ],
            None,
        )
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["require_strong_password"], true);
    let out = app
        .cli(
            &[
                "client",
                "update",
                "arp",
                "--require-strong-password",
                "false",
                "--json",
            ],
            None,
        )
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["require_strong_password"], false);
    let out = app
        .cli(
            &[
                "client",
                "update",
                "nope",
                "--require-strong-password",
                "true",
            ],
            None,
        )
        .await;
    assert_ne!(out.code, 0);
    let out = app.cli(&["client", "add-demo", "--json"], None).await;
    assert_eq!(out.code, 0, "{out:?}");
    let marks: Vec<(String, bool)> = out
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["client_id"].as_str().unwrap().to_string(),
                c["require_strong_password"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        marks,
        [
            ("mail-demo".to_string(), true),
            ("arp-demo".to_string(), true),
            ("wiki-demo".to_string(), false)
        ]
    );
}

#[tokio::test]
async fn the_block_page_and_notice_speak_english_too() {
    let w = world().await;
    let app = &w.app;
    plant_password(app, &w.user, WEAK).await;
    let b = app.browser();
    b.get("/login?lang=en").await;
    let answer = b.login(USER, WEAK).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    let page = b.get(&authorize_path(app, &w.mail, "")).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.has("Application blocked"), "{}", page.body);
    assert!(
        page.has("Your passport account is blocked for &#34;邮件系统&#34;")
            || page.has("Your passport account is blocked for &quot;邮件系统&quot;"),
        "{}",
        page.body
    );
    assert!(page.has("Back to the application") && page.has("wang@cnic.cn"));
    let mails = app.outbox_wait("mail", 1).await;
    let notice = mails
        .iter()
        .find(|m| m["purpose"] == "blocked_notice")
        .unwrap();
    let text = notice["text"].as_str().unwrap();
    assert!(text.contains("is blocked for these applications"), "{text}");
    assert!(
        text.contains("Contact the administrators of your organization: 王管理 <wang@cnic.cn>.")
    );
    assert!(
        notice["subject"]
            .as_str()
            .unwrap()
            .contains("blocked for some applications")
    );
}

#[tokio::test]
async fn without_organization_administrators_the_helpdesk_is_named() {
    let app = TestApp::spawn_with(|c| {
        c.password_policy.helpdesk = Some("helpdesk@cnic.cn, 010-5881-2000".into())
    })
    .await;
    let user = app.user(USER).await;
    let rp = app
        .rp_with("mail", |c| {
            c.first_party = true;
            c.require_strong_password = true;
        })
        .await;
    plant_password(&app, &user, WEAK).await;
    let b = weak_sign_in(&app).await;
    let page = b.get(&authorize_path(&app, &rp, "")).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.has("helpdesk@cnic.cn, 010-5881-2000"));
    assert!(!page.has("id=\"administrators\""));
    let mails = app.outbox_wait("mail", 1).await;
    assert!(
        mails[0]["text"]
            .as_str()
            .unwrap()
            .contains("请联系：helpdesk@cnic.cn, 010-5881-2000。")
    );
}
