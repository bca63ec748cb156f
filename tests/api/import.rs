//! `tongxing import`: accounts of the passport Tongxing replaces, with
//! their legacy password hashes, signed in through the real login page.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{CliOutput, TestApp};

const SIGNED_IN: (StatusCode, Option<&str>) = (StatusCode::SEE_OTHER, Some("/account"));
/// A weak password signs in and is led to the password change (the
/// weakness check at sign-in: see tests/api/blocks.rs).
const WEAK_SIGNED_IN: (StatusCode, Option<&str>) = (
    StatusCode::SEE_OTHER,
    Some("/account/password?return_to=%2Faccount"),
);

/// One account per accepted hash kind: (account, password, hash as given).
/// The hashes are the verifiers' reference vectors (see src/crypto/legacy.rs).
const KINDS: &[(&str, &str, &str)] = &[
    (
        "sha1hex",
        "password",
        "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8",
    ),
    (
        "sha256hex",
        "password",
        "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
    ),
    ("ldapsha", "password", "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="),
    (
        "ssha",
        "password",
        "{SSHA}rXVtWiPAY6/w8MuTLKIjpBjj2mtzYWx0MTIzNA==",
    ),
    (
        "ssha256",
        "password",
        "{SSHA256}ZqbcWj6+KqD5BBm617QPtrpLWEgXUSAWm8MErrSqRq5zYWx0MTIzNA==",
    ),
    (
        "ssha512",
        "password",
        "{SSHA512}nOkBUt6l7zlKAfjtk1EfB0TmckXfDiA4FPLcpywOLORZ1PWQK4+PZVEiT4+9rFjqR3xnaruZBiRjDGcDpxxTinNhbHQxMjM0",
    ),
    (
        "saltedsha256",
        "password",
        "sha256$salt1234$19e5a5ac1ad8bbe5b8afe996ca20664e5fa563cdbac2542ae044bc43879bf14e",
    ),
    (
        "saltedsha1",
        "password",
        "sha1$salt1234$08ceaa96be6ee019e847482c0ad8bbd9a1982eca",
    ),
    (
        "md5crypt",
        "Hello world!",
        "$1$saltstri$YMyguxXMBpd2TEZ.vS/3q1",
    ),
    (
        "bcrypt2a",
        "U*U",
        "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
    ),
    (
        "bcrypt2y",
        "Passw0rd!",
        "$2y$05$efXr9BnEaI68C6lHkpZzju.uGdliEYr3s8awSfhzF8.4ZJ.4uNlK.",
    ),
    (
        "argon2i",
        "password",
        "$argon2i$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
    ),
    (
        "argon2d",
        "password",
        "$argon2d$v=19$m=1024,t=2,p=1$c29tZXNhbHQ$7WlpgAteZBAUBN8fsClBmqjAK0wlZUrln2Vai1gUJKs",
    ),
    (
        "argon2id",
        "password",
        "$argon2id$v=19$m=1024,t=2,p=1$c29tZXNhbHQ$7FfsnA6vUe7qLpL/3Kqc3uR48ZJyFbUVt7jWZlf0Htk",
    ),
];

impl TestApp {
    /// Writes `content` as `name` in the deployment's data directory and
    /// runs `tongxing import` on it with `args`.
    async fn import(&self, name: &str, content: &str, args: &[&str]) -> CliOutput {
        let path = self.config.data_dir.join(name);
        std::fs::write(&path, content).unwrap();
        let path = path.to_string_lossy().into_owned();
        let mut all = vec!["import", path.as_str()];
        all.extend_from_slice(args);
        self.cli(&all, None).await
    }

    /// Runs an import with `--report` and returns the report's lines.
    async fn import_report(
        &self,
        name: &str,
        content: &str,
        args: &[&str],
    ) -> (CliOutput, Vec<Value>) {
        let report = self.config.data_dir.join(format!("{name}.report"));
        let report_arg = report.to_string_lossy().into_owned();
        let mut all = vec!["--report", report_arg.as_str()];
        all.extend_from_slice(args);
        let out = self.import(name, content, &all).await;
        let lines = std::fs::read_to_string(&report)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (out, lines)
    }

    /// What the import may change, of every account, in a comparable form.
    async fn accounts_state(&self) -> Vec<String> {
        let users = self.state.store.list_users(10_000, 0).await.unwrap();
        users
            .iter()
            .map(|u| {
                format!(
                    "{} {} {:?} {:?} {:?} {} {:?} {} {:?} {} {} {} {}",
                    u.username,
                    u.display_name,
                    u.login_phone,
                    u.security_phone,
                    u.security_email,
                    u.security_email_verified,
                    u.organization,
                    u.status.as_str(),
                    u.status_reason,
                    u.password_hash,
                    u.version,
                    u.session_epoch,
                    u.updated_at
                )
            })
            .collect()
    }
}

fn jsonl(rows: &[Value]) -> String {
    rows.iter().map(|r| format!("{r}\n")).collect()
}

fn results(report: &[Value]) -> Vec<(u64, String)> {
    report
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().unwrap(),
                r["result"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn every_hash_kind_signs_in_once_and_becomes_argon2id() {
    let app = TestApp::spawn().await;
    app.org("网络中心").await;
    // Mail demands strong passwords; the wiki does not (the control).
    app.rp_with("mail", |c| c.require_strong_password = true)
        .await;
    app.rp_with("wiki", |_| {}).await;
    let rows: Vec<Value> = KINDS
        .iter()
        .map(|(name, _, hash)| {
            json!({
                "username": format!("{name}@cnic.cn"),
                "display_name": format!("用户 {name}"),
                "organization": "网络中心",
                "password_hash": hash,
            })
        })
        .collect();
    let (out, report) = app.import_report("users.jsonl", &jsonl(&rows), &[]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains(&format!(
            "{} lines: {} created, 0 updated",
            KINDS.len(),
            KINDS.len()
        )),
        "{out:?}"
    );
    assert!(
        report.iter().all(|r| r["result"] == "created"),
        "{report:?}"
    );
    assert_eq!(report[8]["password"], "md5-crypt");
    assert_eq!(report[9]["password"], "bcrypt");
    assert_eq!(report[0]["password"], "sha1");

    for (name, password, given) in KINDS {
        let username = format!("{name}@cnic.cn");
        let before = app.stored(&username).await;
        assert_eq!(before.organization.as_deref(), Some("网络中心"));
        assert_eq!(before.display_name, format!("用户 {name}"));
        // Stored as given (bare hex digests get their prefix).
        if given.len() == 40 {
            assert_eq!(
                before.password_hash,
                format!("sha1:{}", given.to_lowercase())
            );
        } else if given.len() == 64 && given.chars().all(|c| c.is_ascii_hexdigit()) {
            assert_eq!(before.password_hash, format!("sha256:{given}"));
        } else {
            assert_eq!(before.password_hash, *given);
        }
        let may_use = |client: &'static str| {
            let state = app.state.clone();
            let id = before.id;
            async move {
                tongxing::service::access::may_use(&state, id, client)
                    .await
                    .is_ok()
            }
        };
        assert!(
            may_use("mail").await,
            "{name}: not blocked before the sign-in"
        );
        // A wrong password is refused, and nothing is re-hashed.
        let wrong = app.browser().login(&username, "Wrong-Password-7").await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(
            app.stored(&username).await.password_hash,
            before.password_hash
        );
        // The right one signs in through the login page; every one of
        // these is weak under the current policy, so the sign-in leads to
        // the password change (the weakness check) …
        let b = app.browser();
        assert_eq!(
            b.login(&username, password).await.redirect(),
            WEAK_SIGNED_IN,
            "{name}"
        );
        assert_eq!(b.get("/account/password").await.status, StatusCode::OK);
        assert!(app.stored(&username).await.must_change_password, "{name}");
        // The weakness check blocked the strong-password application only.
        assert!(!may_use("mail").await, "{name}: blocked for mail");
        assert!(may_use("wiki").await, "{name}: not for the wiki");
        // … and the hash is now ours: argon2id with the configured parameters.
        let after = app.stored(&username).await;
        assert!(
            after
                .password_hash
                .starts_with("$argon2id$v=19$m=1024,t=1,p=1$"),
            "{name}: {}",
            after.password_hash
        );
        // Sessions and one-time links tied to the password stamp stay.
        assert_eq!(after.password_changed_at, before.password_changed_at);
        // The same password keeps working against the new hash; a wrong one does not.
        assert_eq!(
            app.browser().login(&username, password).await.redirect(),
            WEAK_SIGNED_IN,
            "{name}"
        );
        assert_eq!(
            app.browser()
                .login(&username, "Wrong-Password-7")
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
    }
    let rehashed = app
        .audit("login.success")
        .await
        .iter()
        .filter(|e| e.detail.contains("\"rehashed\":true"))
        .count();
    assert_eq!(rehashed, KINDS.len());
    // One entry for the run, with counts only.
    let runs = app.audit("accounts.imported").await;
    assert_eq!(runs.len(), 1);
    let detail: Value = serde_json::from_str(&runs[0].detail).unwrap();
    assert_eq!(detail["created"], KINDS.len());
    assert_eq!(detail["file"], "users.jsonl");
    assert!(!runs[0].detail.contains("$2a$") && !runs[0].detail.contains("sha1"));
}

#[tokio::test]
async fn an_account_imported_without_a_password_cannot_sign_in_until_one_is_set() {
    let app = TestApp::spawn().await;
    let out = app
        .import(
            "users.csv",
            "username,login_phone\nnopw@cnic.cn,13912345678\n",
            &[],
        )
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let stored = app.stored("nopw@cnic.cn").await;
    assert_eq!(stored.password_hash, "!none");
    assert_eq!(stored.login_phone.as_deref(), Some("+8613912345678"));
    // The same answer as any wrong password: nothing to guess.
    for guess in ["", "!none", "Correct-Horse-9"] {
        let page = app.browser().login("nopw@cnic.cn", guess).await;
        assert_ne!(page.redirect(), SIGNED_IN);
    }
    // An administrator's password makes it an account like any other
    // (a password set by someone else: the phone is proved next).
    let set = app
        .cli(
            &["user", "passwd", "nopw@cnic.cn", "--password-stdin"],
            Some("Correct-Horse-9\n"),
        )
        .await;
    assert_eq!(set.code, 0, "{set:?}");
    assert_eq!(
        app.browser()
            .login("nopw@cnic.cn", "Correct-Horse-9")
            .await
            .redirect(),
        (StatusCode::SEE_OTHER, Some("/login/sms"))
    );
}

#[tokio::test]
async fn refused_lines_are_reported_and_do_not_stop_the_rest() {
    let app = TestApp::spawn().await;
    app.org("网络中心").await;
    app.user_with(tongxing::service::accounts::NewAccount {
        username: "owner@cnic.cn".into(),
        login_phone: Some("13900000001".into()),
        ..Default::default()
    })
    .await;
    // CSV with a byte-order mark, CRLF line ends and quoted fields.
    let csv = "\u{feff}username,display_name,login_phone,email,organization,status,status_reason,password_hash\r\n\
        ok1@cnic.cn,\"Li, Lei\",13900000002,li@cnic.cn,网络中心,,,5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8\r\n\
        badhash@cnic.cn,,,,,,,$2b$05$short\r\n\
        noorg@cnic.cn,,,,不存在的单位,,,\r\n\
        badphone@cnic.cn,,12345,,,,,\r\n\
        bademail@cnic.cn,,,not-an-address,,,,\r\n\
        taken@cnic.cn,,+86 139 0000 0001,,,,,\r\n\
        ok1@cnic.cn,again,,,,,,\r\n\
        samephone@cnic.cn,,13900000002,,,,,\r\n\
        bad name!,,,,,,,\r\n\
        badstatus@cnic.cn,,,,,gone,,\r\n\
        ok2@cnic.cn,王二,,,网络中心,disabled,离职,{SSHA}rXVtWiPAY6/w8MuTLKIjpBjj2mtzYWx0MTIzNA==\r\n";
    let before = app.state.store.count_users().await.unwrap();
    let (out, report) = app.import_report("old-passport.csv", csv, &[]).await;
    assert_eq!(out.code, 3, "some lines were refused: {out:?}");
    assert_eq!(
        results(&report),
        [
            (2, "created".to_string()),
            (3, "refused".into()),
            (4, "refused".into()),
            (5, "refused".into()),
            (6, "refused".into()),
            (7, "refused".into()),
            (8, "refused".into()),
            (9, "refused".into()),
            (10, "refused".into()),
            (11, "refused".into()),
            (12, "created".into()),
        ]
    );
    let why = |line: usize| {
        let r = &report[line - 2];
        format!(
            "{}: {}",
            r["field"].as_str().unwrap_or("-"),
            r["reason"].as_str().unwrap()
        )
    };
    assert!(
        why(3).starts_with("password_hash: a bcrypt hash is"),
        "{}",
        why(3)
    );
    assert!(
        why(4).contains("organization: \"不存在的单位\" is not a registered organization"),
        "{}",
        why(4)
    );
    assert!(why(5).starts_with("login_phone: "), "{}", why(5));
    assert!(why(6).starts_with("email: "), "{}", why(6));
    assert_eq!(why(7), "login_phone: is the login phone of owner@cnic.cn");
    assert_eq!(
        why(8),
        "username: the same account is on line 2 of the file"
    );
    assert_eq!(
        why(9),
        "login_phone: is the login phone of ok1@cnic.cn on line 2 of the file"
    );
    assert!(why(10).starts_with("username: "), "{}", why(10));
    assert_eq!(why(11), "status: must be active or disabled");
    // The hash is never echoed, on the terminal or in the report.
    assert!(!out.stdout.contains("$2b$05$short") && !out.stderr.contains("$2b$05$short"));
    assert!(
        !report
            .iter()
            .any(|r| r.to_string().contains("$2b$05$short"))
    );
    // Stdout names every refused line and the counts.
    assert!(
        out.stdout.contains(
            "line 7: taken@cnic.cn: refused: login_phone: is the login phone of owner@cnic.cn"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("11 lines: 2 created, 0 updated, 0 unchanged, 9 refused"),
        "{}",
        out.stdout
    );

    assert_eq!(app.state.store.count_users().await.unwrap(), before + 2);
    let ok1 = app.stored("ok1@cnic.cn").await;
    assert_eq!(ok1.display_name, "Li, Lei");
    assert_eq!(ok1.login_phone.as_deref(), Some("+8613900000002"));
    assert_eq!(ok1.security_email.as_deref(), Some("li@cnic.cn"));
    assert!(!ok1.security_email_verified);
    let ok2 = app.stored("ok2@cnic.cn").await;
    assert_eq!(ok2.status.as_str(), "disabled");
    assert_eq!(ok2.status_reason.as_deref(), Some("离职"));
    // A disabled account is told so only with its right password.
    let page = app.browser().login("ok2@cnic.cn", "password").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.has("该账号已被停用"));
    assert!(
        app.state
            .store
            .user_by_username("badhash@cnic.cn")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        app.state
            .store
            .user_by_username("taken@cnic.cn")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        app.stored("owner@cnic.cn").await.login_phone.as_deref(),
        Some("+8613900000001")
    );
}

#[tokio::test]
async fn importing_the_same_file_again_changes_nothing() {
    let app = TestApp::spawn().await;
    app.org("网络中心").await;
    let rows = vec![
        json!({"username": "a@cnic.cn", "display_name": "甲", "login_phone": "13911110001",
               "security_phone": "+44 7400 123456", "email": "A@Example.org", "email_verified": true,
               "organization": "网络中心", "password_hash": KINDS[9].2}),
        json!({"username": "b@cnic.cn", "status": "disabled", "status_reason": "left",
               "email": "b@example.org"}),
        json!({"username": "c@cnic.cn", "password_hash": KINDS[0].2}),
    ];
    let file = jsonl(&rows);
    let (first, report) = app.import_report("users.jsonl", &file, &[]).await;
    assert_eq!(first.code, 0, "{first:?}");
    assert_eq!(
        results(&report),
        [
            (1, "created".into()),
            (2, "created".into()),
            (3, "created".into())
        ]
    );
    assert_eq!(
        app.stored("a@cnic.cn").await.security_email.as_deref(),
        Some("a@example.org"),
        "a verified address is kept normalised"
    );
    let state = app.accounts_state().await;

    let (second, report) = app.import_report("users.jsonl", &file, &[]).await;
    assert_eq!(second.code, 0, "{second:?}");
    assert_eq!(
        results(&report),
        [
            (1, "unchanged".into()),
            (2, "unchanged".into()),
            (3, "unchanged".into())
        ]
    );
    assert!(
        second
            .stdout
            .contains("3 lines: 0 created, 0 updated, 3 unchanged, 0 refused")
    );
    assert_eq!(
        app.accounts_state().await,
        state,
        "the same state, versions included"
    );
    assert!(app.audit("account.imported").await.is_empty());
    assert_eq!(app.audit("accounts.imported").await.len(), 2);

    // The same accounts as CSV are the same accounts.
    let csv = "username,display_name,login_phone,security_phone,email,email_verified,organization,password_hash\n\
        a@cnic.cn,甲,+8613911110001,+447400123456,a@example.org,true,网络中心,$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW\n";
    let (third, report) = app.import_report("users.csv", csv, &[]).await;
    assert_eq!(third.code, 0, "{third:?}");
    assert_eq!(results(&report), [(2, "unchanged".into())]);
    assert_eq!(app.accounts_state().await, state);
}

#[tokio::test]
async fn a_dry_run_reports_the_same_and_writes_nothing() {
    let app = TestApp::spawn().await;
    app.user("existing@cnic.cn").await;
    let file = "username,display_name,login_phone,password_hash\n\
        existing@cnic.cn,改名,,\n\
        new1@cnic.cn,,13922220001,$1$saltstri$YMyguxXMBpd2TEZ.vS/3q1\n\
        new2@cnic.cn,,13922220001,\n\
        new3@cnic.cn,,,md5:nope\n";
    let state = app.accounts_state().await;
    let audit_before = app.audit("account.imported").await.len();
    let (dry, dry_report) = app.import_report("users.csv", file, &["--dry-run"]).await;
    assert_eq!(dry.code, 3, "{dry:?}");
    assert!(dry.stdout.contains("(dry run: nothing was written)"));
    assert_eq!(
        results(&dry_report),
        [
            (2, "updated".into()),
            (3, "created".into()),
            (4, "refused".into()),
            (5, "refused".into())
        ]
    );
    assert_eq!(dry_report[0]["changed"], json!(["display_name"]));
    assert_eq!(app.accounts_state().await, state, "nothing written");
    assert_eq!(app.audit("account.imported").await.len(), audit_before);
    assert!(app.audit("accounts.imported").await.is_empty());

    // The real run does what the dry run said.
    let (real, real_report) = app.import_report("users.csv", file, &[]).await;
    assert_eq!(real.code, 3, "{real:?}");
    assert_eq!(results(&real_report), results(&dry_report));
    assert_eq!(app.stored("existing@cnic.cn").await.display_name, "改名");
    assert!(
        app.state
            .store
            .user_by_username("new1@cnic.cn")
            .await
            .unwrap()
            .is_some()
    );
    // Per updated account one entry naming the fields, not their values.
    let updated = app.audit("account.imported").await;
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0].subject.as_deref(), Some("existing@cnic.cn"));
    assert!(updated[0].detail.contains("display_name") && !updated[0].detail.contains("改名"));
}

#[tokio::test]
async fn a_later_import_never_overwrites_a_password_set_or_used_since() {
    let app = TestApp::spawn().await;
    let sha1 = |pw: &str| {
        use sha1::Digest;
        hex::encode(sha1::Sha1::digest(pw.as_bytes()))
    };
    let rows = |hashes: [Option<String>; 4], name: &str| {
        let users = ["used", "untouched", "nopw", "reset"];
        jsonl(
            &users
                .iter()
                .zip(hashes)
                .map(|(u, h)| {
                    json!({"username": format!("{u}@cnic.cn"), "display_name": name, "password_hash": h})
                })
                .collect::<Vec<_>>(),
        )
    };
    let first = rows(
        [
            Some(sha1("Old-Pass-1")),
            Some(sha1("Old-Pass-1")),
            None,
            Some(sha1("Old-Pass-1")),
        ],
        "one",
    );
    assert_eq!(app.import("users.jsonl", &first, &[]).await.code, 0);
    // `used` signs in (its hash becomes argon2id); `reset` gets a password
    // from an administrator; `untouched` and `nopw` do nothing.
    assert_eq!(
        app.browser()
            .login("used@cnic.cn", "Old-Pass-1")
            .await
            .redirect(),
        SIGNED_IN
    );
    let set = app
        .cli(
            &["user", "passwd", "reset@cnic.cn", "--password-stdin"],
            Some("Admin-Set-Pass-2\n"),
        )
        .await;
    assert_eq!(set.code, 0, "{set:?}");

    // The old system changed everyone's password before the cut-over.
    let new = Some(sha1("New-Pass-3"));
    let second = rows([new.clone(), new.clone(), new.clone(), new], "two");
    let (out, report) = app.import_report("users.jsonl", &second, &[]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let by_name = |n: &str| {
        report
            .iter()
            .find(|r| r["username"] == format!("{n}@cnic.cn"))
            .unwrap()
            .clone()
    };
    for kept in ["used", "reset"] {
        let r = by_name(kept);
        assert_eq!(r["result"], "updated", "{r}");
        assert_eq!(r["changed"], json!(["display_name"]), "{r}");
        assert_eq!(r["kept"], json!(["password_hash"]), "{r}");
    }
    for written in ["untouched", "nopw"] {
        let r = by_name(written);
        assert_eq!(
            r["changed"],
            json!(["display_name", "password_hash"]),
            "{r}"
        );
        assert_eq!(r["password"], "sha1", "{r}");
    }
    let login = |u: &'static str, p: &'static str| {
        let b = app.browser();
        async move { b.login(&format!("{u}@cnic.cn"), p).await.redirect() == SIGNED_IN }
    };
    assert!(login("used", "Old-Pass-1").await);
    assert!(!login("used", "New-Pass-3").await);
    assert!(login("reset", "Admin-Set-Pass-2").await);
    assert!(!login("reset", "New-Pass-3").await);
    assert!(login("untouched", "New-Pass-3").await);
    assert!(!login("untouched", "Old-Pass-1").await);
    assert!(login("nopw", "New-Pass-3").await);

    // Once more: nothing left to change, the kept password still kept.
    let (out, report) = app.import_report("users.jsonl", &second, &[]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        report.iter().all(|r| r["result"] == "unchanged"),
        "{report:?}"
    );
    assert_eq!(
        report
            .iter()
            .filter(|r| r["kept"] == json!(["password_hash"]))
            .count(),
        4,
        "used and reset keep theirs; untouched and nopw now hold what was signed in with"
    );
}

#[tokio::test]
async fn an_update_by_import_ends_sessions_when_phones_or_status_change() {
    let app = TestApp::spawn().await;
    let first = format!(
        "username,login_phone,password_hash\nzhou@cnic.cn,13933330001,{}\nadmin,,\n",
        {
            use sha1::Digest;
            hex::encode(sha1::Sha1::digest(b"Old-Pass-1"))
        }
    );
    assert_eq!(app.import("u.csv", &first, &[]).await.code, 0);
    let b = app.browser();
    assert_eq!(
        b.login("zhou@cnic.cn", "Old-Pass-1").await.redirect(),
        SIGNED_IN
    );
    assert!(b.get("/account").await.has("zhou@cnic.cn"));

    // The administrator's account is not disabled by an import.
    let second = "username,login_phone,status,status_reason\nzhou@cnic.cn,13933330002,,\nadmin,,disabled,no\n";
    let (out, report) = app.import_report("u.csv", second, &[]).await;
    assert_eq!(out.code, 3, "{out:?}");
    assert_eq!(report[0]["changed"], json!(["login_phone"]));
    assert_eq!(report[1]["result"], "refused");
    assert_eq!(report[1]["field"], "status");
    assert_eq!(app.stored("admin").await.status.as_str(), "active");
    // The phone changed: the session ended, as when an administrator changes it.
    assert_ne!(b.get("/account").await.status, StatusCode::OK);
    assert_eq!(
        app.stored("zhou@cnic.cn").await.login_phone.as_deref(),
        Some("+8613933330002")
    );
    // The old number is free for another account in the next import.
    let third = "username,login_phone\nwu@cnic.cn,13933330001\n";
    let (out, report) = app.import_report("u.csv", third, &[]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(report[0]["result"], "created");
}

#[tokio::test]
async fn the_format_comes_from_the_name_or_the_flag_and_a_bad_file_is_refused_whole() {
    let app = TestApp::spawn().await;
    let out = app.import("users.txt", "username\nx@cnic.cn\n", &[]).await;
    assert_eq!(out.code, 3);
    assert!(out.stderr.contains("--format jsonl|csv"), "{out:?}");
    let out = app
        .import("users.txt", "username\nx@cnic.cn\n", &["--format", "csv"])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        app.state
            .store
            .user_by_username("x@cnic.cn")
            .await
            .unwrap()
            .is_some()
    );

    let out = app
        .import("bad.csv", "username,password\ny@cnic.cn,secret\n", &[])
        .await;
    assert_eq!(out.code, 3);
    assert!(
        out.stderr.contains("unknown column \"password\""),
        "{out:?}"
    );
    assert!(
        app.state
            .store
            .user_by_username("y@cnic.cn")
            .await
            .unwrap()
            .is_none()
    );

    let out = app.cli(&["import", "/nonexistent/users.csv"], None).await;
    assert_eq!(out.code, 1, "{out:?}");
}
