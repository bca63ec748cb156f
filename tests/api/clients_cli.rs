//! `tongxing client …` and `tongxing keys …`.

use reqwest::StatusCode;

use crate::helpers::TestApp;

async fn client_token(app: &TestApp, id: &str, secret: &str) -> StatusCode {
    reqwest::Client::new()
        .post(format!("{}/token", app.base))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "profile")])
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn register_show_list_rotate_and_remove() {
    let app = TestApp::spawn().await;
    let out = app
        .cli(
            &[
                "client",
                "add",
                "--id",
                "mail",
                "--name",
                "邮件系统",
                "--redirect-uri",
                "https://mail.example.org/cb",
                "--redirect-uri",
                "http://127.0.0.1:9000/cb",
                "--post-logout-redirect-uri",
                "https://mail.example.org/",
                "--backchannel-logout-uri",
                "https://mail.example.org/bcl",
                "--first-party",
                "--id-token-alg",
                "ES256",
                "--json",
            ],
            None,
        )
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let v = out.json();
    let secret = v["client_secret"].as_str().unwrap().to_string();
    assert!(secret.len() >= 43, "256-bit secret");
    assert_eq!(v["token_auth_method"], "client_secret_basic");
    assert_eq!(v["id_token_alg"], "ES256");
    assert_eq!(v["redirect_uris"].as_array().unwrap().len(), 2);
    assert_eq!(client_token(&app, "mail", &secret).await, StatusCode::OK);
    // Only the hash is stored.
    let row = app.state.store.client("mail").await.unwrap().unwrap();
    assert_ne!(row.secret_hash.as_deref(), Some(secret.as_str()));

    let given = app
        .cli(
            &[
                "client",
                "add",
                "--id",
                "arp",
                "--name",
                "ARP",
                "--redirect-uri",
                "https://arp.example.org/cb",
                "--secret-stdin",
                "--token-auth",
                "client_secret_post",
            ],
            Some("a-very-long-secret-given-by-the-operator-123\n"),
        )
        .await;
    assert_eq!(given.code, 0, "{given:?}");
    assert!(
        !given.stdout.contains("a-very-long-secret"),
        "a given secret is not echoed"
    );

    let public = app
        .cli(
            &[
                "client",
                "add",
                "--id",
                "spa",
                "--name",
                "SPA",
                "--redirect-uri",
                "https://spa.example.org/cb",
                "--public",
                "--json",
            ],
            None,
        )
        .await;
    assert_eq!(public.code, 0);
    assert_eq!(public.json()["client_secret"], serde_json::Value::Null);
    assert_eq!(public.json()["token_auth_method"], "none");

    let strict = app
        .cli(
            &[
                "client",
                "add",
                "--id",
                "vpn",
                "--name",
                "VPN",
                "--redirect-uri",
                "https://vpn.example.org/cb",
                "--require-sms",
                "--json",
            ],
            None,
        )
        .await;
    assert_eq!(
        strict.json()["client"]["require_sms"],
        serde_json::Value::Null
    );
    assert_eq!(strict.json()["require_sms"], true);
    app.cli(&["client", "remove", "vpn"], None).await;

    let list = app.cli(&["client", "list", "--json"], None).await.json();
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["arp", "mail", "spa"]);
    assert!(list.to_string().find("secret_hash").is_none());
    let table = app.cli(&["client", "list"], None).await;
    assert!(table.stdout.starts_with("CLIENT_ID"));
    let show = app.cli(&["client", "show", "mail"], None).await;
    assert!(show.stdout.contains("https://mail.example.org/bcl"));

    let rotated = app
        .cli(&["client", "rotate-secret", "mail", "--json"], None)
        .await;
    assert_eq!(rotated.code, 0, "{rotated:?}");
    let new_secret = rotated.json()["client_secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        client_token(&app, "mail", &secret).await,
        StatusCode::UNAUTHORIZED,
        "old secret stops working"
    );
    assert_eq!(
        client_token(&app, "mail", &new_secret).await,
        StatusCode::OK
    );
    assert_eq!(
        app.cli(&["client", "rotate-secret", "spa"], None)
            .await
            .code,
        3,
        "public clients have no secret"
    );

    let removed = app.cli(&["client", "remove", "mail", "--json"], None).await;
    assert_eq!(removed.code, 0);
    assert_eq!(removed.json()["removed"], true);
    assert_eq!(app.cli(&["client", "show", "mail"], None).await.code, 4);
    assert_eq!(app.cli(&["client", "remove", "mail"], None).await.code, 4);
    assert_eq!(
        client_token(&app, "mail", &new_secret).await,
        StatusCode::UNAUTHORIZED
    );
    for event in ["client.created", "client.secret_rotated", "client.removed"] {
        assert!(
            app.audit(event)
                .await
                .iter()
                .any(|e| e.actor == "cli:tester"),
            "{event}"
        );
    }
}

#[tokio::test]
async fn registration_errors() {
    let app = TestApp::spawn().await;
    let base = ["client", "add", "--name", "X"];
    let run = |extra: Vec<&'static str>| {
        let mut args: Vec<&str> = base.to_vec();
        args.extend(extra);
        let app = &app;
        async move { app.cli(&args, None).await }
    };
    let out = run(vec!["--id", "a", "--redirect-uri", "not a uri"]).await;
    assert_eq!(out.code, 3);
    assert!(out.stderr.contains("redirect_uri"), "{}", out.stderr);
    assert_eq!(
        run(vec![
            "--id",
            "a",
            "--redirect-uri",
            "https://x.example/cb#frag"
        ])
        .await
        .code,
        3
    );
    assert_eq!(
        run(vec!["--id", "a"]).await.code,
        3,
        "a redirect URI is required"
    );
    assert_eq!(
        run(vec![
            "--id",
            "bad id",
            "--redirect-uri",
            "https://x.example/cb"
        ])
        .await
        .code,
        3
    );
    assert_eq!(
        run(vec![
            "--id",
            "a",
            "--redirect-uri",
            "https://x.example/cb",
            "--scope",
            "openid wat"
        ])
        .await
        .code,
        3
    );
    assert_eq!(
        run(vec![
            "--id",
            "a",
            "--redirect-uri",
            "https://x.example/cb",
            "--token-auth",
            "private_key_jwt"
        ])
        .await
        .code,
        3,
        "needs keys"
    );
    assert_eq!(
        run(vec![
            "--id",
            "a",
            "--redirect-uri",
            "https://x.example/cb",
            "--id-token-alg",
            "HS256"
        ])
        .await
        .code,
        2
    );
    assert_eq!(
        run(vec!["--id", "a", "--redirect-uri", "https://x.example/cb"])
            .await
            .code,
        0
    );
    assert_eq!(
        run(vec!["--id", "a", "--redirect-uri", "https://x.example/cb"])
            .await
            .code,
        5
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jwks.json");
    std::fs::write(&file, "{\"keys\": []}").unwrap();
    let out = app
        .cli(
            &[
                "client",
                "add",
                "--id",
                "j",
                "--name",
                "J",
                "--redirect-uri",
                "https://x.example/cb",
                "--token-auth",
                "private_key_jwt",
                "--jwks-file",
                file.to_str().unwrap(),
            ],
            None,
        )
        .await;
    assert_eq!(out.code, 3);
    let prod = app
        .cli_env(
            &[
                "client",
                "add",
                "--id",
                "p",
                "--name",
                "P",
                "--redirect-uri",
                "http://x.example/cb",
            ],
            None,
            &[
                ("TONGXING_ENVIRONMENT", "production"),
                ("TONGXING_ISSUER", "https://id.example.org"),
                ("TONGXING_SMS__PROVIDER", "webhook"),
                ("TONGXING_SMS__WEBHOOK_URL", "https://sms.example.org/send"),
                ("TONGXING_SMS__WEBHOOK_SECRET", "a-long-enough-secret"),
                ("TONGXING_MAIL__PROVIDER", "smtp"),
                ("TONGXING_MAIL__SMTP__HOST", "mail.example.org"),
                (
                    "TONGXING_KEY_ENCRYPTION_KEY",
                    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                ),
            ],
        )
        .await;
    assert_eq!(prod.code, 3, "{prod:?}");
    assert!(prod.stderr.contains("https"));
}

#[tokio::test]
async fn keys_list_and_encrypted_keys() {
    let dir = tempfile::tempdir().unwrap();
    let kek = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode([42u8; 32])
    };
    let app = TestApp::spawn_with(|c| {
        c.key_encryption_key = Some(kek.clone());
        let _ = &dir;
    })
    .await;
    let list = app
        .cli_env(
            &["keys", "list", "--json"],
            None,
            &[("TONGXING_KEY_ENCRYPTION_KEY", &kek)],
        )
        .await;
    assert_eq!(list.code, 0, "{list:?}");
    let keys = list.json();
    assert_eq!(keys.as_array().unwrap().len(), 3);
    assert!(
        keys.as_array()
            .unwrap()
            .iter()
            .all(|k| k["encrypted"] == true)
    );
    // Without the key-encryption key the keys cannot be used: a clear error.
    let without = app.cli(&["keys", "list"], None).await;
    assert_eq!(without.code, 1);
    assert!(
        without.stderr.contains("key_encryption_key"),
        "{}",
        without.stderr
    );
}
