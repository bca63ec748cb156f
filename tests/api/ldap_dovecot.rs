//! A real mail server against the LDAP interface: Debian's Dovecot with
//! an LDAP passdb doing auth binds (the configuration the README gives),
//! started by the test in a temporary directory on a free port, and IMAP
//! logins by Python's `imaplib`; `ldapwhoami` and `ldapsearch` (OpenLDAP's
//! tools) against the same interface, plain on loopback.
//! Without `dovecot-imapd`, `dovecot-ldap` and `ldap-utils` the test skips
//! and says so (`.ci/run` installs them).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::helpers::{PASSWORD, TestApp};
use crate::ldap::{BASE, dn, world};
use crate::retrieval_form::skipped;

const DOVECOT: &str = "/usr/sbin/dovecot";
const LDAP_DRIVER: &str = "/usr/lib/dovecot/modules/auth/libauthdb_ldap.so";

fn tools_missing() -> Option<String> {
    let mut missing = Vec::new();
    if !Path::new(DOVECOT).exists() {
        missing.push("dovecot-imapd");
    }
    if !Path::new(LDAP_DRIVER).exists() {
        missing.push("dovecot-ldap");
    }
    if std::process::Command::new("ldapwhoami")
        .arg("-VV")
        .output()
        .is_err()
    {
        missing.push("ldap-utils");
    }
    if std::process::Command::new("python3")
        .arg("-V")
        .output()
        .is_err()
    {
        missing.push("python3");
    }
    (!missing.is_empty()).then(|| format!("{} not installed", missing.join(", ")))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Dovecot under `dir`, IMAP on `imap_port`, passwords checked by binding
/// to Tongxing's LDAP port as the person, for the application `mail`.
/// The two files are the README's example with test paths and ports.
fn write_config(dir: &Path, imap_port: u16, ldap_port: u16) -> PathBuf {
    let root = dir.display();
    // Root: Dovecot's own users, and mail as nobody (Dovecot refuses mail
    // processes as root). Another user: everything as that user.
    let (login_user, internal_user, mail_user) = if nix_root() {
        ("dovenull", "dovecot", "uid=nobody gid=nogroup")
    } else {
        (whoami_name(), whoami_name(), "uid=")
    };
    let mail_user = if mail_user == "uid=" {
        format!("uid={}", whoami_name())
    } else {
        mail_user.to_string()
    };
    std::fs::write(
        dir.join("dovecot-ldap.conf.ext"),
        format!(
            "# The passdb: a bind as the person, for the application `mail`.\n\
             uris = ldap://127.0.0.1:{ldap_port}\n\
             auth_bind = yes\n\
             auth_bind_userdn = uid=%u,app=mail,ou=people,{BASE}\n\
             base = ou=people,{BASE}\n"
        ),
    )
    .unwrap();
    let conf = dir.join("dovecot.conf");
    std::fs::write(
        &conf,
        format!(
            "instance_name = tongxing-test-{imap_port}\n\
             base_dir = {root}/run\n\
             state_dir = {root}/state\n\
             log_path = {root}/dovecot.log\n\
             protocols = imap\n\
             listen = 127.0.0.1\n\
             ssl = no\n\
             disable_plaintext_auth = no\n\
             auth_mechanisms = plain login\n\
             auth_cache_size = 0\n\
             auth_failure_delay = 0\n\
             default_login_user = {login_user}\n\
             default_internal_user = {internal_user}\n\
             first_valid_uid = 1\n\
             mail_location = maildir:{root}/mail/%u\n\
             service imap-login {{\n  inet_listener imap {{\n    port = {imap_port}\n  }}\n}}\n\
             service anvil {{\n  unix_listener anvil-auth-penalty {{\n    mode = 0\n  }}\n}}\n\
             service pop3-login {{\n  inet_listener pop3 {{\n    port = 0\n  }}\n}}\n\
             service submission-login {{\n  inet_listener submission {{\n    port = 0\n  }}\n}}\n\
             passdb {{\n  driver = ldap\n  args = {root}/dovecot-ldap.conf.ext\n}}\n\
             userdb {{\n  driver = static\n  args = {mail_user} home={root}/mail/%u\n}}\n"
        ),
    )
    .unwrap();
    conf
}

fn nix_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn whoami_name() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        std::process::Command::new("id")
            .arg("-un")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    })
}

struct Dovecot {
    /// Killed when dropped (`kill_on_drop`).
    _child: Child,
    log: PathBuf,
}

impl Dovecot {
    async fn start(dir: &Path, imap_port: u16, ldap_port: u16) -> Dovecot {
        for sub in ["run", "state", "mail"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        // The mail processes run as another user than the test (root).
        let _ = std::process::Command::new("chmod")
            .args(["0755", &dir.display().to_string()])
            .status();
        let _ = std::process::Command::new("chmod")
            .args(["0777", &dir.join("mail").display().to_string()])
            .status();
        let conf = write_config(dir, imap_port, ldap_port);
        let child = Command::new(DOVECOT)
            .arg("-F")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let dovecot = Dovecot {
            _child: child,
            log: dir.join("dovecot.log"),
        };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", imap_port))
                .await
                .is_ok()
            {
                return dovecot;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("Dovecot did not listen: {}", dovecot.log_text());
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// An IMAP LOGIN with Python's imaplib: `Ok(())` or the server's answer.
async fn imap_login(port: u16, user: &str, password: &str) -> Result<(), String> {
    let script = "import imaplib, sys\n\
                  m = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]), timeout=30)\n\
                  try:\n    m.login(sys.argv[2], sys.argv[3])\n    print('LOGGED-IN')\n    m.logout()\n\
                  except imaplib.IMAP4.error as e:\n    print('REFUSED', e)\n";
    let out = Command::new("python3")
        .args(["-c", script, &port.to_string(), user, password])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    if stdout.starts_with("LOGGED-IN") {
        Ok(())
    } else {
        Err(format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)))
    }
}

/// Runs an OpenLDAP tool (without blocking the test's runtime, which
/// serves the LDAP interface too).
async fn ldap_tool(program: &str, args: &[&str]) -> (i32, String) {
    let ca = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/smtp/ca.pem");
    let out = Command::new(program)
        .args(args)
        .env("LDAPTLS_CACERT", ca)
        .env("LDAPTLS_REQCERT", "demand")
        .output()
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test]
async fn dovecot_signs_people_in_with_the_passport_password_and_application_passwords() {
    if let Some(why) = tools_missing() {
        skipped(&format!("the Dovecot LDAP test needs {why}"));
        return;
    }
    let w = world().await;
    let app: &TestApp = &w.app;
    let ldap = app.ldap.unwrap();
    app.user("alice@example.org").await;
    app.user("dis@example.org").await;
    let weak = app.user("weak@example.org").await;
    // mail demands strong passwords; weak's stored password is weak.
    let api_version = app
        .state
        .store
        .client("mail")
        .await
        .unwrap()
        .unwrap()
        .version;
    tongxing::service::clients::update(
        &app.state,
        "mail",
        api_version,
        tongxing::service::clients::ClientUpdate {
            require_strong_password: Some(true),
            ..Default::default()
        },
        &tongxing::service::Actor::System,
        &tongxing::service::Origin::default(),
    )
    .await
    .unwrap();
    let stored = app.stored(&weak.username).await;
    let hash = app
        .state
        .hasher
        .hash(&tongxing::domain::SecretPassword::new("password"))
        .await
        .unwrap();
    app.state
        .store
        .upgrade_password_hash(weak.id, &stored.password_hash, &hash)
        .await
        .unwrap();
    app.cli(&["user", "disable", "dis@example.org"], None).await;

    let dir = tempfile::tempdir().unwrap();
    let imap = free_port();
    let dovecot = Dovecot::start(dir.path(), imap, ldap.port()).await;

    // The passport password signs in; a wrong one, a disabled account and
    // a weak-password-blocked account do not.
    let ok = imap_login(imap, "alice@example.org", PASSWORD).await;
    assert!(ok.is_ok(), "{ok:?}\n{}", dovecot.log_text());
    assert!(
        imap_login(imap, "alice@example.org", "Wrong-password-1")
            .await
            .is_err()
    );
    // An application password for mail signs in too, until it is revoked.
    let stored_alice = app.stored("alice@example.org").await;
    let secret = crate::ldap::app_password(app, &stored_alice, "mail").await;
    let ok = imap_login(imap, "alice@example.org", &secret).await;
    assert!(ok.is_ok(), "{ok:?}\n{}", dovecot.log_text());
    tongxing::service::app_passwords::revoke_all_for(
        &app.state,
        stored_alice.id,
        tongxing::service::app_passwords::Reason::ByOwner,
        &tongxing::service::Actor::System,
        &tongxing::service::Origin::default(),
    )
    .await
    .unwrap();
    let refused = imap_login(imap, "alice@example.org", &secret).await;
    assert!(refused.is_err(), "a revoked application password");
    let refused = imap_login(imap, "dis@example.org", PASSWORD).await;
    assert!(refused.is_err(), "a disabled account");
    let refused = imap_login(imap, "weak@example.org", "password").await;
    assert!(refused.is_err(), "a weak-password-blocked account");
    // The refusals were Tongxing's, said with their reasons.
    let reasons: Vec<String> = app
        .audit("ldap.bind")
        .await
        .iter()
        .map(|r| r.detail.clone())
        .collect();
    for reason in ["\"disabled\"", "\"blocked\"", "\"invalid_credentials\""] {
        assert!(
            reasons.iter().any(|d| d.contains(reason)),
            "{reason}: {reasons:?}"
        );
    }
    // The successful login was Tongxing's too.
    assert!(
        app.audit("ldap.bind")
            .await
            .iter()
            .any(|r| r.outcome == "success" && r.subject.as_deref() == Some("alice@example.org"))
    );

    // ldapwhoami, plain on loopback (StartTLS and LDAPS: tests/api/ldap.rs).
    let url = format!("ldap://127.0.0.1:{}", ldap.port());
    let alice = dn("alice@example.org");
    let (code, out) = ldap_tool(
        "ldapwhoami",
        &["-x", "-H", &url, "-D", &alice, "-w", PASSWORD],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("dn:{alice}")), "{out}");
    let (code, out) = ldap_tool(
        "ldapwhoami",
        &["-x", "-H", &url, "-D", &alice, "-w", "Wrong-password-1"],
    )
    .await;
    assert_eq!(code, 49, "{out}");
    // ldapsearch as the mail application (its secret).
    let service = format!("cn=mail,ou=services,{BASE}");
    let secret = w.mail.secret.clone().unwrap();
    let (code, out) = ldap_tool(
        "ldapsearch",
        &[
            "-x",
            "-LLL",
            "-H",
            &url,
            "-D",
            &service,
            "-w",
            &secret,
            "-b",
            &format!("ou=people,{BASE}"),
            "(uid=alice@example.org)",
            "mail",
            "cn",
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("mail: alice@example.org"), "{out}");
    // …and as a person: not allowed (50).
    let (code, out) = ldap_tool(
        "ldapsearch",
        &[
            "-x",
            "-LLL",
            "-H",
            &url,
            "-D",
            &alice,
            "-w",
            PASSWORD,
            "-b",
            &format!("ou=people,{BASE}"),
            "(uid=*)",
        ],
    )
    .await;
    assert_eq!(code, 50, "{out}");
    drop(dovecot);
}
