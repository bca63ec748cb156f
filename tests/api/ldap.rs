//! The LDAP interface, driven with the `ldap3` client and with raw bytes:
//! binds with the passport password and every refusal, searches by
//! applications only, the lockout shared with the login page, LDAPS and
//! StartTLS, plain LDAP for this host only, malformed messages, and the
//! per-client settings on the API, the console and the CLI.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use ldap3::exop::{WhoAmI, WhoAmIResp};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tongxing::service::accounts::NewAccount;

use crate::admin_api::{Api, admin_token};
use crate::helpers::{PASSWORD, Rp, TestApp};

pub const BASE: &str = "dc=example,dc=org";
const ORG: &str = "中国科学院计算机网络信息中心";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/smtp")
        .join(name)
}

/// LDAP on (plain and LDAPS on loopback, the test CA's certificate), the
/// people's binds for the client `mail` unless they name another.
pub fn ldap_on(c: &mut tongxing::Config) {
    c.ldap.enabled = true;
    c.ldap.listen = Some("127.0.0.1:0".parse().unwrap());
    c.ldap.listen_tls = Some("127.0.0.1:0".parse().unwrap());
    c.ldap.certificate = Some(fixture("server.pem"));
    c.ldap.private_key = Some(fixture("server.key"));
    c.ldap.base_dn = BASE.into();
    c.ldap.default_client = Some("mail".into());
    c.ldap.telephone = tongxing::config::LdapTelephone::Masked;
}

pub fn dn(username: &str) -> String {
    format!("uid={username},ou=people,{BASE}")
}

pub struct World {
    pub app: TestApp,
    /// `mail`: the passport password, may search with its secret.
    pub mail: Rp,
}

pub async fn world_with(customize: impl FnOnce(&mut tongxing::Config)) -> World {
    let app = TestApp::spawn_with(|c| {
        ldap_on(c);
        customize(c);
    })
    .await;
    let mail = app
        .rp_with("mail", |c| {
            c.ldap_bind = Some("password".into());
            c.ldap_search = true;
            c.app_passwords_allowed = true;
        })
        .await;
    World { app, mail }
}

pub async fn world() -> World {
    world_with(|_| {}).await
}

pub async fn connect(addr: SocketAddr) -> Ldap {
    let (conn, ldap) = LdapConnAsync::new(&format!("ldap://{addr}")).await.unwrap();
    ldap3::drive!(conn);
    ldap
}

/// A bind on a fresh connection: (result code, diagnostic message).
pub async fn bind(addr: SocketAddr, name: &str, password: &str) -> (u32, String) {
    let mut ldap = connect(addr).await;
    let r = ldap.simple_bind(name, password).await.unwrap();
    let _ = ldap.unbind().await;
    (r.rc, r.text)
}

fn tls_config() -> Arc<tokio_rustls::rustls::ClientConfig> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(fixture("ca.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    Arc::new(
        tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

async fn whoami(ldap: &mut Ldap) -> String {
    let (exop, _) = ldap.extended(WhoAmI).await.unwrap().success().unwrap();
    exop.parse::<WhoAmIResp>().authzid
}

async fn search(ldap: &mut Ldap, filter: &str) -> (u32, String, Vec<SearchEntry>) {
    let r = ldap
        .search(
            &format!("ou=people,{BASE}"),
            Scope::Subtree,
            filter,
            vec!["*"],
        )
        .await
        .unwrap();
    let entries = r.0.into_iter().map(SearchEntry::construct).collect();
    (r.1.rc, r.1.text, entries)
}

#[tokio::test]
async fn people_bind_with_the_passport_password_by_name_or_e_mail() {
    let w = world().await;
    let app = &w.app;
    app.user("alice@example.org").await;
    let addr = app.ldap.unwrap();

    // The DN of the default application, the DN naming one, a mail= DN
    // and the bare e-mail address.
    for name in [
        dn("alice@example.org"),
        format!("uid=alice@example.org,app=mail,ou=people,{BASE}"),
        format!("mail=Alice@Example.org,ou=people,{BASE}"),
        "alice@example.org".to_string(),
    ] {
        assert_eq!(
            bind(addr, &name, PASSWORD).await,
            (0, String::new()),
            "{name}"
        );
    }
    // Who am I, after a bind.
    let mut ldap = connect(addr).await;
    assert_eq!(whoami(&mut ldap).await, "");
    ldap.simple_bind(&dn("alice@example.org"), PASSWORD)
        .await
        .unwrap()
        .success()
        .unwrap();
    assert_eq!(
        whoami(&mut ldap).await,
        format!("dn:{}", dn("alice@example.org"))
    );

    // A wrong password and an unknown account: one answer.
    let wrong = bind(addr, &dn("alice@example.org"), "Wrong-password-1").await;
    let unknown = bind(addr, &dn("nobody@example.org"), PASSWORD).await;
    assert_eq!(wrong, (49, "invalid credentials".to_string()));
    assert_eq!(unknown, wrong);
    // A name that is no DN of this directory.
    assert_eq!(bind(addr, "uid=alice,dc=elsewhere", PASSWORD).await.0, 34);

    // Every bind is audited with its source address; the failures also
    // as login failures of the LDAP surface (the web's counters).
    let binds = app.audit("ldap.bind").await;
    assert_eq!(binds.iter().filter(|r| r.outcome == "success").count(), 5);
    assert_eq!(binds.iter().filter(|r| r.outcome == "failure").count(), 3);
    assert!(
        binds.iter().all(|r| r.ip.as_deref() == Some("127.0.0.1")),
        "{binds:?}"
    );
    let failures = app.audit("login.failure").await;
    assert!(
        failures
            .iter()
            .any(|r| r.detail.contains("\"surface\":\"ldap\"")
                && r.detail.contains("wrong_password")),
        "{failures:?}"
    );
}

#[tokio::test]
async fn refusals_say_why_to_whoever_knew_the_password() {
    let w = world().await;
    let app = &w.app;
    let addr = app.ldap.unwrap();
    app.rp_with("vpn", |c| c.ldap_bind = Some("app_passwords".into()))
        .await;
    app.rp_with("wiki", |c| c.ldap_bind = Some("off".into()))
        .await;
    app.rp_with("ops", |c| {
        c.ldap_bind = Some("password".into());
        c.require_sms = true;
    })
    .await;
    let bob = app.user("bob@example.org").await;
    let on = |app_id: &str| format!("uid=bob@example.org,app={app_id},ou=people,{BASE}");

    // Control: bob binds for mail.
    assert_eq!(bind(addr, &on("mail"), PASSWORD).await.0, 0);

    // An application that takes no binds, or none at all by that name:
    // the answer of a wrong password.
    assert_eq!(
        bind(addr, &on("wiki"), PASSWORD).await,
        (49, "invalid credentials".into())
    );
    assert_eq!(
        bind(addr, &on("ghost"), PASSWORD).await,
        (49, "invalid credentials".into())
    );
    // Application passwords only: the passport password is no credential
    // there (tests below: an application password is).
    assert_eq!(
        bind(addr, &on("vpn"), PASSWORD).await,
        (49, "invalid credentials".into())
    );
    // SMS step-up demanded by the application.
    let (rc, text) = bind(addr, &on("ops"), PASSWORD).await;
    assert_eq!(rc, 49);
    assert!(text.contains("SMS"), "{text}");

    // Disabled: said only with the right password.
    app.cli(&["user", "disable", "bob@example.org"], None).await;
    let (rc, text) = bind(addr, &on("mail"), PASSWORD).await;
    assert_eq!((rc, text.as_str()), (49, "the account is disabled"));
    assert_eq!(
        bind(addr, &on("mail"), "Wrong-password-1").await,
        (49, "invalid credentials".into())
    );
    let reasons: Vec<String> = app
        .audit("ldap.bind")
        .await
        .iter()
        .filter(|r| r.subject_id == Some(bob.id))
        .map(|r| r.detail.clone())
        .collect();
    assert!(
        reasons.iter().any(|d| d.contains("\"disabled\"")),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn a_weak_password_blocks_the_bind_where_the_application_demands_a_strong_one() {
    let w = world().await;
    let app = &w.app;
    let addr = app.ldap.unwrap();
    let strong = app
        .rp_with("mail2", |c| {
            c.ldap_bind = Some("password".into());
            c.require_strong_password = true;
        })
        .await;
    let carol = app.user("carol@example.org").await;
    // Control: the strong password binds for the strong-password client.
    let at = |client: &str| format!("uid=carol@example.org,app={client},ou=people,{BASE}");
    assert_eq!(bind(addr, &at(&strong.id), PASSWORD).await.0, 0);

    // The stored password turns out weak under the current policy (an
    // import, an older policy).
    let weak = "password";
    let stored = app.stored(&carol.username).await;
    let hash = app
        .state
        .hasher
        .hash(&tongxing::domain::SecretPassword::new(weak))
        .await
        .unwrap();
    app.state
        .store
        .upgrade_password_hash(carol.id, &stored.password_hash, &hash)
        .await
        .unwrap();
    let (rc, text) = bind(addr, &at(&strong.id), weak).await;
    assert_eq!(rc, 49);
    assert!(
        text.contains("blocked") && text.contains("weak_password"),
        "{text}"
    );
    // The block is the web's too, and stays: the next bind says so again.
    assert!(
        app.audit("account.blocked")
            .await
            .iter()
            .any(|r| r.subject_id == Some(carol.id))
    );
    let (rc, text) = bind(addr, &at(&strong.id), weak).await;
    assert!(rc == 49 && text.contains("blocked"), "{text}");
    // Where no strong password is demanded, the new password owed still
    // comes first (the web sign-in leads to it).
    let (rc, text) = bind(addr, &at("mail"), weak).await;
    assert!(rc == 49 && text.contains("new password"), "{text}");
}

#[tokio::test]
async fn only_applications_allowed_to_search_may_search() {
    let w = world().await;
    let app = &w.app;
    let addr = app.ldap.unwrap();
    app.user_with(NewAccount {
        username: "dave@example.org".into(),
        display_name: Some("戴维".into()),
        organization: Some(ORG.into()),
        login_phone: Some("+8613812345678".into()),
        ..NewAccount::default()
    })
    .await;
    app.user("erin@example.org").await;
    let gone = app.user("frank@example.org").await;
    app.cli(&["user", "disable", &gone.username], None).await;
    let other = app
        .rp_with("reader", |c| c.ldap_bind = Some("password".into()))
        .await;

    // Anonymous, and a person: not allowed.
    let mut ldap = connect(addr).await;
    let (rc, _, entries) = search(&mut ldap, "(uid=dave@example.org)").await;
    assert_eq!((rc, entries.len()), (50, 0));
    ldap.simple_bind(&dn("erin@example.org"), PASSWORD)
        .await
        .unwrap()
        .success()
        .unwrap();
    let (rc, text, entries) = search(&mut ldap, "(uid=dave@example.org)").await;
    assert_eq!((rc, entries.len()), (50, 0), "{text}");
    assert!(text.contains("ou=services"), "{text}");

    // An application with the permission, bound with its secret.
    let service = format!("cn=mail,ou=services,{BASE}");
    let secret = w.mail.secret.clone().unwrap();
    let mut ldap = connect(addr).await;
    ldap.simple_bind(&service, &secret)
        .await
        .unwrap()
        .success()
        .unwrap();
    assert_eq!(whoami(&mut ldap).await, format!("dn:{service}"));
    let (rc, _, entries) = search(
        &mut ldap,
        "(&(objectClass=inetOrgPerson)(uid=dave@example.org))",
    )
    .await;
    assert_eq!((rc, entries.len()), (0, 1));
    let dave = &entries[0];
    assert_eq!(dave.dn, dn("dave@example.org"));
    assert_eq!(dave.attrs["mail"], ["dave@example.org"]);
    assert_eq!(dave.attrs["cn"], ["戴维"]);
    assert_eq!(dave.attrs["displayName"], ["戴维"]);
    let phone = &dave.attrs["telephoneNumber"][0];
    assert!(
        phone.contains("****") && !phone.contains("1234567"),
        "{phone}"
    );
    assert_eq!(
        dave.attrs["memberOf"],
        [format!("cn={ORG},ou=organizations,{BASE}")]
    );
    // Every active account, the disabled one left out; a substring filter.
    let (rc, _, entries) = search(&mut ldap, "(mail=*@example.org)").await;
    let mut names: Vec<String> = entries.iter().map(|e| e.attrs["uid"][0].clone()).collect();
    names.sort();
    assert_eq!(rc, 0);
    assert_eq!(names, ["dave@example.org", "erin@example.org"]);
    // A base outside the directory.
    let r = ldap
        .search("dc=elsewhere", Scope::Subtree, "(uid=*)", vec!["uid"])
        .await
        .unwrap();
    assert_eq!(r.1.rc, 32);

    // The secret of an application without the permission, and a wrong
    // secret: refused.
    let (rc, _) = bind(
        addr,
        &format!("cn=reader,ou=services,{BASE}"),
        other.secret.as_deref().unwrap(),
    )
    .await;
    assert_eq!(rc, 49);
    assert_eq!(bind(addr, &service, "not-the-secret").await.0, 49);
    // Withdrawn permission applies to a connection already bound.
    let api = Api::new(app, &admin_token(app).await);
    let version = api.get("/api/v1/clients/mail").await.1["version"]
        .as_i64()
        .unwrap();
    let (status, body) = api
        .call(
            "PATCH",
            "/api/v1/clients/mail",
            Some(json!({ "version": version, "ldap_search": false })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (rc, _, _) = search(&mut ldap, "(uid=dave@example.org)").await;
    assert_eq!(rc, 50);
}

#[tokio::test]
async fn a_bind_flood_hits_the_lockout_the_login_page_shares() {
    let w = world().await;
    let app = &w.app;
    let addr = app.ldap.unwrap();
    app.user("gina@example.org").await;
    let name = dn("gina@example.org");

    let mut locked_after = None;
    for i in 1..=10 {
        let (rc, text) = bind(addr, &name, "Wrong-password-1").await;
        assert_eq!(rc, 49);
        if text.contains("too many failed attempts") {
            locked_after = Some(i);
            break;
        }
    }
    let locked_after = locked_after.expect("the flood is stopped");
    assert!(locked_after <= app.config.login_limits.account_free_failures as usize + 1);
    // The right password now waits too — on LDAP and on the login page.
    let (rc, text) = bind(addr, &name, PASSWORD).await;
    assert!(
        rc == 49 && text.contains("too many failed attempts"),
        "{text}"
    );
    let page = app.browser().login("gina@example.org", PASSWORD).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "{}", page.body);
    assert!(
        app.audit("login.lockout")
            .await
            .iter()
            .any(|r| r.detail.contains("\"surface\":\"ldap\""))
    );
    // Control: once the lock is over the right password binds.
    app.advance(std::time::Duration::from_secs(
        app.config.login_limits.max_delay_secs + 1,
    ));
    assert_eq!(bind(addr, &name, PASSWORD).await.0, 0);
}

/// Sends `bytes` on a fresh connection and reads until the server closes.
async fn raw(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let read =
        tokio::time::timeout(std::time::Duration::from_secs(10), s.read_to_end(&mut out)).await;
    assert!(
        read.is_ok(),
        "the server closes the connection: {bytes:02x?}"
    );
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn malformed_messages_get_protocol_errors_and_the_server_stays_up() {
    let w = world().await;
    let app = &w.app;
    let addr = app.ldap.unwrap();
    app.user("hugo@example.org").await;
    const NOTICE: &[u8] = b"1.3.6.1.4.1.1466.20036";
    const PROTOCOL_ERROR: &[u8] = &[0x0a, 0x01, 0x02];
    for bytes in [
        // A search request with an empty body.
        &[0x30, 0x05, 0x02, 0x01, 0x01, 0x63, 0x00][..],
        // A message without an operation.
        &[0x30, 0x03, 0x02, 0x01, 0x01][..],
        // Not a SEQUENCE at all.
        &[0x04, 0x02, b'h', b'i'][..],
        // A response, which no client sends (a BindResponse).
        &[
            0x30, 0x0c, 0x02, 0x01, 0x01, 0x61, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00,
        ][..],
    ] {
        let answer = raw(addr, bytes).await;
        assert!(
            contains(&answer, NOTICE) && contains(&answer, PROTOCOL_ERROR),
            "{bytes:02x?} → {answer:02x?}"
        );
        // The server still serves.
        assert_eq!(bind(addr, &dn("hugo@example.org"), PASSWORD).await.0, 0);
    }
    // LDAPv2: protocolError in a bind response; SASL: authMethodNotSupported.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(&[
        0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x02, 0x04, 0x00, 0x80, 0x00,
    ])
    .await
    .unwrap();
    let mut buf = [0u8; 256];
    let n = s.read(&mut buf).await.unwrap();
    assert!(
        buf[..n].contains(&0x61) && contains(&buf[..n], PROTOCOL_ERROR),
        "{:02x?}",
        &buf[..n]
    );
    s.write_all(&[
        0x30, 0x13, 0x02, 0x01, 0x02, 0x60, 0x0e, 0x02, 0x01, 0x03, 0x04, 0x00, 0xa3, 0x07, 0x04,
        0x05, b'P', b'L', b'A', b'I', b'N',
    ])
    .await
    .unwrap();
    let n = s.read(&mut buf).await.unwrap();
    assert!(
        contains(&buf[..n], &[0x0a, 0x01, 0x07]),
        "{:02x?}",
        &buf[..n]
    );

    // Writes are refused: the directory is read-only.
    let mut ldap = connect(addr).await;
    let r = ldap
        .add(
            &dn("new@example.org"),
            vec![("objectClass", HashSet::from(["inetOrgPerson"]))],
        )
        .await
        .unwrap();
    assert_eq!(r.rc, 53);
    // An unauthenticated bind (a name, no password) is no success.
    assert_eq!(bind(addr, &dn("hugo@example.org"), "").await.0, 53);
}

/// An address of this host that is not loopback, if it has one.
fn outside_address() -> Option<IpAddr> {
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    probe.connect("192.0.2.1:9").ok()?;
    let ip = probe.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[tokio::test]
async fn passwords_cross_the_network_only_under_tls() {
    let Some(outside) = outside_address() else {
        crate::retrieval_form::skipped("this host has no address beside loopback");
        return;
    };
    // ldap3's own TLS setup (no verification) takes the process default.
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    let w = world_with(|c| c.ldap.listen = Some(SocketAddr::new(outside, 0))).await;
    let app = &w.app;
    app.user("ivy@example.org").await;
    let addr = app.ldap.unwrap();
    assert_eq!(addr.ip(), outside);

    // Plain LDAP from another address: no bind, no search.
    let (rc, text) = bind(addr, &dn("ivy@example.org"), PASSWORD).await;
    assert_eq!(rc, 13, "{text}");
    // StartTLS on the same port, then the bind goes through. (The test
    // certificate names loopback only; LDAPS below verifies it.)
    let settings = LdapConnSettings::new()
        .set_starttls(true)
        .set_no_tls_verify(true);
    let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &format!("ldap://{addr}"))
        .await
        .unwrap();
    ldap3::drive!(conn);
    let r = ldap
        .simple_bind(&dn("ivy@example.org"), PASSWORD)
        .await
        .unwrap();
    assert_eq!(r.rc, 0, "{}", r.text);

    // LDAPS, verified against the test CA.
    let settings = LdapConnSettings::new().set_config(tls_config());
    let ldaps = app.ldaps.unwrap();
    let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &format!("ldaps://{ldaps}"))
        .await
        .unwrap();
    ldap3::drive!(conn);
    let r = ldap
        .simple_bind(&dn("ivy@example.org"), PASSWORD)
        .await
        .unwrap();
    assert_eq!(r.rc, 0, "{}", r.text);
}

#[tokio::test]
async fn ldap_settings_are_kept_per_client_on_the_api_the_console_and_the_cli() {
    let app = TestApp::spawn().await;
    let api = Api::new(&app, &admin_token(&app).await);
    let (status, created) = api
        .post(
            "/api/v1/clients",
            json!({ "id": "imap", "name": "IMAP", "redirect_uris": ["https://rp.example.org/cb"], "ldap_bind": "app_passwords", "ldap_search": true }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["client"]["ldap_bind"], "app_passwords");
    assert_eq!(created["client"]["ldap_search"], true);
    // A mode that does not exist, and search for a client without secret.
    let (status, body) = api
        .post(
            "/api/v1/clients",
            json!({ "id": "x1", "name": "X", "redirect_uris": ["https://rp.example.org/cb"], "ldap_bind": "always" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = api
        .post(
            "/api/v1/clients",
            json!({ "id": "x2", "name": "X", "redirect_uris": ["https://rp.example.org/cb"], "public": true, "ldap_search": true }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("ldap_search"), "{body}");

    // The console sets them (a CSRF form, audited).
    let admin = app.browser();
    admin.login("admin", &app.admin_password).await;
    let page = admin.get("/admin/clients").await;
    assert!(page.has("仅应用独立密码"), "{}", page.body);
    let version = api.get("/api/v1/clients/imap").await.1["version"].to_string();
    let done = admin
        .post_form(
            "/admin/clients/imap/ldap",
            &[
                ("csrf", &page.csrf()),
                ("ldap_bind", "password"),
                ("version", &version),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let now = api.get("/api/v1/clients/imap").await.1;
    assert_eq!(
        (now["ldap_bind"].as_str(), now["ldap_search"].as_bool()),
        (Some("password"), Some(false))
    );
    assert!(
        app.audit("client.updated")
            .await
            .iter()
            .any(|r| r.detail.contains("ldap_bind"))
    );
    // A forged mode is a bad request and changes nothing.
    let page = admin.get("/admin/clients").await;
    let version = api.get("/api/v1/clients/imap").await.1["version"].to_string();
    let forged = admin
        .post_form(
            "/admin/clients/imap/ldap",
            &[
                ("csrf", &page.csrf()),
                ("ldap_bind", "everyone"),
                ("version", &version),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        api.get("/api/v1/clients/imap").await.1["ldap_bind"],
        "password"
    );

    // The command line.
    let out = app
        .cli(
            &[
                "client",
                "update",
                "imap",
                "--ldap-bind",
                "off",
                "--ldap-search",
                "true",
                "--json",
            ],
            None,
        )
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.json()["ldap_bind"], "off");
    assert_eq!(out.json()["ldap_search"], true);
}

/// An application password made now for `client_id`, as shown once.
pub async fn app_password(
    app: &TestApp,
    user: &tongxing::store::users::User,
    client_id: &str,
) -> String {
    tongxing::service::app_passwords::create(
        &app.state,
        user,
        app.state.clock.now().unix_timestamp(),
        client_id,
        "IMAP",
        &tongxing::service::Origin::default(),
        tongxing::i18n::Lang::ZhCn,
    )
    .await
    .unwrap()
    .secret
    .grouped()
}

#[tokio::test]
async fn application_passwords_bind_for_their_application_only() {
    // Room for the refusals below before alice's lock (tested with carol).
    let w = world_with(|c| c.login_limits.account_free_failures = 12).await;
    let app = &w.app;
    let addr = app.ldap.unwrap();
    app.rp_with("vpn", |c| {
        c.ldap_bind = Some("app_passwords".into());
        c.app_passwords_allowed = true;
        c.require_strong_password = true;
        c.require_sms = true;
    })
    .await;
    let alice = app.user("alice@example.org").await;
    let on = |app_id: &str| format!("uid=alice@example.org,app={app_id},ou=people,{BASE}");
    let for_mail = app_password(app, &alice, "mail").await;
    let for_vpn = app_password(app, &alice, "vpn").await;

    // Each signs in to its own application, with or without the spaces
    // (and stands in for the SMS step-up vpn demands).
    assert_eq!(bind(addr, &on("mail"), &for_mail).await.0, 0);
    assert_eq!(
        bind(addr, &on("mail"), &for_mail.replace(' ', "")).await.0,
        0
    );
    assert_eq!(bind(addr, &on("vpn"), &for_vpn).await.0, 0);
    // The passport password still works where the client takes it, and
    // not where it takes application passwords only.
    assert_eq!(bind(addr, &on("mail"), PASSWORD).await.0, 0);
    let invalid = (49, "invalid credentials".to_string());
    assert_eq!(bind(addr, &on("vpn"), PASSWORD).await, invalid);
    // Another application's password is no credential here.
    assert_eq!(bind(addr, &on("vpn"), &for_mail).await, invalid);
    assert_eq!(bind(addr, &on("mail"), &for_vpn).await, invalid);
    // Nor another account's.
    let bob = app.user("bob@example.org").await;
    let bobs = app_password(app, &bob, "vpn").await;
    assert_eq!(bind(addr, &on("vpn"), &bobs).await, invalid);

    // Revoked: gone at once.
    let revoked = tongxing::service::app_passwords::revoke_all_for(
        &app.state,
        alice.id,
        tongxing::service::app_passwords::Reason::ByAdministrator,
        &tongxing::service::Actor::System,
        &tongxing::service::Origin::default(),
    )
    .await
    .unwrap();
    assert_eq!(revoked, 2);
    assert_eq!(bind(addr, &on("mail"), &for_mail).await, invalid);
    assert_eq!(bind(addr, &on("vpn"), &for_vpn).await, invalid);

    // A right application password of a disabled account: refused, saying so.
    let for_vpn = app_password(app, &alice, "vpn").await;
    assert_eq!(bind(addr, &on("vpn"), &for_vpn).await.0, 0, "the control");
    app.cli(&["user", "disable", "alice@example.org"], None)
        .await;
    let (rc, text) = bind(addr, &on("vpn"), &for_vpn).await;
    assert_eq!((rc, text.contains("disabled")), (49, true), "{text}");
    app.cli(&["user", "enable", "alice@example.org"], None)
        .await;
    assert_eq!(bind(addr, &on("vpn"), &for_vpn).await.0, 0, "enabled again");
    // Blocked for vpn (a weak password; vpn demands strong ones).
    let alice = app.stored("alice@example.org").await;
    tongxing::service::blocks::block_weak(
        &app.state,
        &alice,
        &tongxing::service::Actor::System,
        &tongxing::service::Origin::default(),
        tongxing::i18n::Lang::ZhCn,
    )
    .await
    .unwrap();
    let (rc, text) = bind(addr, &on("vpn"), &for_vpn).await;
    assert_eq!((rc, text.contains("blocked")), (49, true), "{text}");

    // Guessing application passwords fills the sign-in's lock of the
    // account, as guessing the password does: then even the right
    // password waits.
    let carol = app.user("carol@example.org").await;
    let carols = app_password(app, &carol, "vpn").await;
    let on_carol = format!("uid=carol@example.org,app=vpn,ou=people,{BASE}");
    assert_eq!(bind(addr, &on_carol, &carols).await.0, 0, "the control");
    let free = app.config.login_limits.account_free_failures;
    for _ in 0..=free {
        assert_eq!(bind(addr, &on_carol, "abcd efgh jkmn pqrs").await.0, 49);
    }
    let (rc, text) = bind(addr, &on_carol, &carols).await;
    assert_eq!(rc, 49);
    assert!(text.contains("too many failed attempts"), "{text}");
}
