//! The organization registry (单位) and organization administrators
//! (所邮箱管理员): the migration of the free-text organization, names and
//! their uniqueness, accounts naming a registered organization on every
//! surface, the administrator's scope.

use reqwest::StatusCode;
use serde_json::json;
use sqlx::Connection;
use tongxing::domain::{OrganizationStatus, Role};
use tongxing::service::accounts::NewAccount;
use tongxing::service::organizations::{self, AdminScope, OrgAdministrator, OrgError, OrgInput};
use tongxing::service::{Actor, Origin};

use crate::admin_api::{Api, admin_token};
use crate::helpers::TestApp;

fn org(full: &str, short: Option<&str>, aliases: &[&str], domains: &[&str]) -> OrgInput {
    OrgInput {
        full_name: full.into(),
        short_name: short.map(Into::into),
        aliases: aliases.iter().map(|a| a.to_string()).collect(),
        mail_domains: domains.iter().map(|d| d.to_string()).collect(),
        status: None,
    }
}

/// The migrations before 0012 (the schema an earlier release left), run on
/// `url` by sqlx as the server runs them, so the server's migrator takes
/// over from there.
async fn migrate_before_0012(url: &str) {
    let backend = if url.starts_with("sqlite:") {
        "sqlite"
    } else {
        "postgres"
    };
    let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&from).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let version: u32 = name.split('_').next().unwrap().parse().unwrap();
        if version < 12 {
            std::fs::copy(from.join(&name), dir.path().join(&name)).unwrap();
        }
    }
    let migrator = sqlx::migrate::Migrator::new(dir.path()).await.unwrap();
    // Accounts as an earlier release kept them: the organization as text.
    let accounts: [(&str, Option<&str>); 7] = [
        ("a1", Some("物理所")),
        ("a2", Some(" 物理所 ")),
        ("b1", Some("CNIC")),
        ("b2", Some("ＣＮＩＣ")),
        ("b3", Some("cnic")),
        ("c1", Some("")),
        ("c2", None),
    ];
    let insert = "INSERT INTO users (id, username, display_name, organization, password_hash, \
                  password_changed_at, created_at, updated_at) VALUES ($1, $2, $2, $3, 'x', $4, $4, $4)";
    let now = time::OffsetDateTime::now_utc();
    if backend == "sqlite" {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        migrator.run(&mut conn).await.unwrap();
        for (name, o) in accounts {
            sqlx::query(insert)
                .bind(uuid::Uuid::now_v7())
                .bind(name)
                .bind(o)
                .bind(now)
                .execute(&mut conn)
                .await
                .unwrap();
        }
        conn.close().await.unwrap();
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        migrator.run(&mut conn).await.unwrap();
        for (name, o) in accounts {
            sqlx::query(insert)
                .bind(uuid::Uuid::now_v7())
                .bind(name)
                .bind(o)
                .bind(now)
                .execute(&mut conn)
                .await
                .unwrap();
        }
        conn.close().await.unwrap();
    }
}

#[tokio::test]
async fn the_free_text_organization_becomes_the_registry_and_accounts_keep_theirs() {
    let app = TestApp::spawn_prepared(|url| async move { migrate_before_0012(&url).await }).await;

    let physics = organizations::resolve(&app.state, "物理所")
        .await
        .unwrap()
        .expect("物理所 is registered");
    assert_eq!(physics.full_name, "物理所");
    assert_eq!(physics.status, OrganizationStatus::Active);
    for name in ["a1", "a2"] {
        let u = app.stored(name).await;
        assert_eq!(u.organization_id, Some(physics.id), "{name}");
        assert_eq!(u.organization.as_deref(), Some("物理所"));
    }
    // Names that differ only in width and case are one organization: the
    // one sorting first (CNIC) keeps its name, the others' accounts move.
    let cnic = organizations::resolve(&app.state, "ｃｎｉｃ")
        .await
        .unwrap()
        .expect("CNIC is registered");
    assert_eq!(cnic.full_name, "CNIC");
    for name in ["b1", "b2", "b3"] {
        assert_eq!(
            app.stored(name).await.organization_id,
            Some(cnic.id),
            "{name}"
        );
    }
    for name in ["c1", "c2"] {
        let u = app.stored(name).await;
        assert_eq!(u.organization_id, None, "{name}");
        assert_eq!(u.organization, None);
    }
    let (all, total) = organizations::list(&app.state, "", None, 100, 0)
        .await
        .unwrap();
    assert_eq!(total, 2, "{all:?}");
    assert_eq!(
        all.iter().map(|o| o.full_name.as_str()).collect::<Vec<_>>(),
        ["CNIC", "物理所"]
    );

    // A second start changes nothing more.
    let again = app.spawn_node().await;
    assert_eq!(
        organizations::list(&again.state, "", None, 100, 0)
            .await
            .unwrap()
            .1,
        2
    );
    assert_eq!(app.stored("b2").await.organization_id, Some(cnic.id));
}

#[tokio::test]
async fn an_organization_is_found_by_any_of_its_names_whatever_the_width_and_case() {
    let app = TestApp::spawn().await;
    let created = app
        .org_with(org(
            "中国科学院计算机网络信息中心",
            Some("网络中心"),
            &["CNIC", "Computer Network Information Center"],
            &["CNIC.cn", "@cstnet.cn"],
        ))
        .await;
    assert_eq!(created.mail_domains.0, ["cnic.cn", "cstnet.cn"]);
    for name in [
        "中国科学院计算机网络信息中心",
        " 网络中心 ",
        "cnic",
        "ＣＮＩＣ",
        "computer  network information CENTER",
    ] {
        let found = organizations::resolve(&app.state, name).await.unwrap();
        assert_eq!(found.map(|o| o.id), Some(created.id), "{name}");
    }
    // Negative, with the positive above: a part of a name is no name.
    assert!(
        organizations::resolve(&app.state, "网络")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        organizations::resolve(&app.state, "")
            .await
            .unwrap()
            .is_none()
    );
    // The search takes parts of names.
    let other = app.org("物理所").await;
    let hits = organizations::search(&app.state, "网络", 10).await.unwrap();
    assert_eq!(hits.iter().map(|o| o.id).collect::<Vec<_>>(), [created.id]);
    let hits = organizations::search(&app.state, "Network", 10)
        .await
        .unwrap();
    assert_eq!(hits.iter().map(|o| o.id).collect::<Vec<_>>(), [created.id]);
    let hits = organizations::search(&app.state, "所", 10).await.unwrap();
    assert_eq!(hits.iter().map(|o| o.id).collect::<Vec<_>>(), [other.id]);
    assert_eq!(
        organizations::search(&app.state, "", 10)
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(
        organizations::search(&app.state, "%", 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn no_two_organizations_share_a_name_or_a_mail_domain() {
    let app = TestApp::spawn().await;
    let cnic = app
        .org_with(org(
            "计算机网络信息中心",
            Some("网络中心"),
            &["CNIC"],
            &["cnic.cn"],
        ))
        .await;
    let create = |input: OrgInput| {
        let state = app.state.clone();
        async move { organizations::create(&state, &input, &Actor::System, &Origin::default()).await }
    };
    // Each kind of name collides with each other kind, in any width or case.
    for (input, field, name) in [
        (org("网络中心", None, &[], &[]), "full_name", "网络中心"),
        (
            org("物理所", Some("ｃｎｉｃ"), &[], &[]),
            "short_name",
            "ｃｎｉｃ",
        ),
        (
            org("物理所", None, &["计算机网络信息中心"], &[]),
            "aliases",
            "计算机网络信息中心",
        ),
    ] {
        match create(input).await {
            Err(OrgError::NameTaken {
                field: f,
                name: n,
                other,
            }) => {
                assert_eq!((f, n.as_str()), (field, name));
                assert_eq!(other, "计算机网络信息中心");
            }
            other => panic!("{field}: {other:?}"),
        }
    }
    match create(org("物理所", None, &[], &["CNIC.CN"])).await {
        Err(OrgError::DomainTaken { domain, other }) => {
            assert_eq!(
                (domain.as_str(), other.as_str()),
                ("cnic.cn", "计算机网络信息中心")
            );
        }
        other => panic!("{other:?}"),
    }
    // Positive control: other names and domains are free.
    let physics = create(org(
        "物理所",
        Some("IOP"),
        &["Institute of Physics"],
        &["iphy.ac.cn"],
    ))
    .await
    .unwrap();
    // Writing an organization with its own names again is no collision;
    // taking another's is.
    let mut input = OrgInput::of(&physics);
    input.aliases.push("物理研究所".into());
    let (updated, changed) = organizations::update(
        &app.state,
        &physics,
        physics.version,
        &input,
        &Actor::System,
        &Origin::default(),
    )
    .await
    .unwrap();
    assert!(changed);
    assert_eq!(updated.aliases.0, ["Institute of Physics", "物理研究所"]);
    assert!(matches!(
        organizations::update(
            &app.state,
            &physics,
            physics.version,
            &input,
            &Actor::System,
            &Origin::default()
        )
        .await,
        Err(OrgError::Stale)
    ));
    input.aliases.push("cnic".into());
    assert!(matches!(
        organizations::update(
            &app.state,
            &updated,
            updated.version,
            &input,
            &Actor::System,
            &Origin::default()
        )
        .await,
        Err(OrgError::NameTaken {
            field: "aliases",
            ..
        })
    ));
    assert_eq!(
        organizations::resolve(&app.state, "物理研究所")
            .await
            .unwrap()
            .map(|o| o.id),
        Some(physics.id)
    );
    assert_eq!(app.audit("organization.created").await.len(), 2);
    assert_eq!(app.audit("organization.updated").await.len(), 1);
    let _ = cnic;
}

#[tokio::test]
async fn accounts_name_a_registered_organization_on_every_surface() {
    let app = TestApp::spawn().await;
    let cnic = app
        .org_with(org("计算机网络信息中心", Some("网络中心"), &["CNIC"], &[]))
        .await;
    let mut closed = org("已撤销研究所", None, &[], &[]);
    closed.status = Some(OrganizationStatus::Inactive);
    app.org_with(closed).await;
    let token = admin_token(&app).await;
    let api = Api::new(&app, &token);

    // API: by alias; the account shows the full name.
    let (status, created) = api
        .post(
            "/api/v1/users",
            json!({ "username": "li@cnic.cn", "organization": "cnic" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["user"]["organization"], "计算机网络信息中心");
    assert_eq!(
        app.stored("li@cnic.cn").await.organization_id,
        Some(cnic.id)
    );
    // An unknown one is the field's error, and nothing is created.
    let (status, problem) = api
        .post(
            "/api/v1/users",
            json!({ "username": "wu@cnic.cn", "organization": "Nowhere Institute" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["field"], "organization");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("Nowhere Institute")
    );
    let (status, problem) = api
        .post(
            "/api/v1/users",
            json!({ "username": "wu@cnic.cn", "organization": "已撤销研究所" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["field"], "organization");
    assert!(problem["detail"].as_str().unwrap().contains("inactive"));
    assert!(
        app.state
            .store
            .user_by_username("wu@cnic.cn")
            .await
            .unwrap()
            .is_none()
    );
    // Update: unknown refused; short name accepted; empty clears.
    let id = created["user"]["id"].as_str().unwrap().to_string();
    let version = created["user"]["version"].as_i64().unwrap();
    let path = format!("/api/v1/users/{id}");
    let (status, problem) = api
        .call(
            "PATCH",
            &path,
            Some(json!({ "version": version, "organization": "物理所" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["field"], "organization");
    let (status, cleared) = api
        .call(
            "PATCH",
            &path,
            Some(json!({ "version": version, "organization": "" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cleared}");
    assert_eq!(cleared["organization"], serde_json::Value::Null);
    let (status, set) = api
        .call(
            "PATCH",
            &path,
            Some(json!({ "version": cleared["version"], "organization": "网络中心" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    assert_eq!(set["organization"], "计算机网络信息中心");
    // The role of organization administrator comes with organizations.
    let (status, problem) = api
        .call(
            "PATCH",
            &path,
            Some(json!({ "version": set["version"], "roles": ["org_admin"] })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["field"], "roles");

    // CLI: a stable code and the field.
    let out = app
        .cli(
            &[
                "user",
                "add",
                "--username",
                "zhou@cnic.cn",
                "--organization",
                "Nowhere",
            ],
            None,
        )
        .await;
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("organization"), "{out:?}");
    let out = app
        .cli(
            &[
                "user",
                "add",
                "--username",
                "zhou@cnic.cn",
                "--organization",
                "ＣＮＩＣ",
                "--json",
            ],
            None,
        )
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["organization"], "计算机网络信息中心");

    // Console: the message in the page's language.
    let b = app.browser();
    b.login("admin", &app.admin_password).await;
    let page = b.get("/admin/users").await;
    let refused = b
        .submit_page(
            &page,
            "/admin/users",
            &[("username", "qian@cnic.cn"), ("organization", "无名所")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.has("单位“无名所”未登记"), "{}", refused.body);
    let page = b.get("/admin/users?lang=en").await;
    let refused = b
        .submit_page(
            &page,
            "/admin/users",
            &[("username", "qian@cnic.cn"), ("organization", "无名所")],
        )
        .await;
    assert!(
        refused.has("is not a registered organization"),
        "{}",
        refused.body
    );
    let done = b
        .submit_page(
            &page,
            "/admin/users",
            &[("username", "qian@cnic.cn"), ("organization", "网络中心")],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(
        app.stored("qian@cnic.cn").await.organization_id,
        Some(cnic.id)
    );
}

#[tokio::test]
async fn an_organization_administrator_s_scope_is_its_organizations() {
    let app = TestApp::spawn().await;
    let cnic = app.org("CNIC").await;
    let physics = app.org("物理所").await;
    let member = app
        .user_with(NewAccount {
            username: "member@cnic.cn".into(),
            organization: Some("CNIC".into()),
            ..NewAccount::default()
        })
        .await;
    let outsider = app
        .user_with(NewAccount {
            username: "outsider@iphy.ac.cn".into(),
            organization: Some("物理所".into()),
            ..NewAccount::default()
        })
        .await;
    let loner = app.user("loner").await;
    let wang = app
        .user_with(NewAccount {
            username: "wang@cnic.cn".into(),
            display_name: Some("王管理".into()),
            organization: Some("CNIC".into()),
            ..NewAccount::default()
        })
        .await;
    assert_eq!(
        organizations::scope_of(&app.state, &wang).await.unwrap(),
        None
    );
    assert!(
        organizations::administrators_of(&app.state, &member)
            .await
            .unwrap()
            .is_empty()
    );

    let cli = Actor::Cli {
        os_user: "tester".into(),
    };
    assert!(
        organizations::assign_admin(&app.state, &cnic, &wang, &cli, &Origin::default())
            .await
            .unwrap()
    );
    assert!(
        !organizations::assign_admin(&app.state, &cnic, &wang, &cli, &Origin::default())
            .await
            .unwrap(),
        "assigning twice changes nothing"
    );
    let wang = app.stored("wang@cnic.cn").await;
    assert!(wang.has_role(Role::OrgAdmin));
    let scope = organizations::scope_of(&app.state, &wang)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(scope, AdminScope::Organizations(vec![cnic.id]));
    assert!(scope.covers(&member));
    assert!(!scope.covers(&outsider));
    assert!(!scope.covers(&loner));
    let granted = app.audit("account.role_granted").await;
    assert_eq!(granted.len(), 1);
    assert!(granted[0].detail.contains("org_admin") && granted[0].detail.contains("CNIC"));
    assert_eq!(granted[0].actor, "cli:tester");

    assert_eq!(
        organizations::administrators_of(&app.state, &member)
            .await
            .unwrap(),
        [OrgAdministrator {
            display_name: "王管理".into(),
            email: Some("wang@cnic.cn".into()),
        }]
    );
    assert!(
        organizations::administrators_of(&app.state, &outsider)
            .await
            .unwrap()
            .is_empty()
    );

    let admin = app.stored("admin").await;
    let all = organizations::scope_of(&app.state, &admin)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(all, AdminScope::All);
    assert!(all.covers(&outsider) && all.covers(&loner));

    // The last organization taken away takes the role with it.
    assert!(
        organizations::remove_admin(&app.state, &cnic, &wang, &cli, &Origin::default())
            .await
            .unwrap()
    );
    let wang = app.stored("wang@cnic.cn").await;
    assert!(!wang.has_role(Role::OrgAdmin));
    assert_eq!(
        organizations::scope_of(&app.state, &wang).await.unwrap(),
        None
    );
    assert_eq!(app.audit("account.role_revoked").await.len(), 1);
    let _ = physics;
}

#[tokio::test]
async fn the_cli_grants_and_revokes_org_admin_for_named_organizations() {
    let app = TestApp::spawn().await;
    let cnic = app
        .org_with(org("计算机网络信息中心", Some("网络中心"), &["CNIC"], &[]))
        .await;
    let physics = app.org("物理所").await;
    app.user("wang@cnic.cn").await;

    let out = app
        .cli(&["user", "grant", "wang@cnic.cn", "org_admin"], None)
        .await;
    assert_eq!(out.code, 3, "an organization must be named: {out:?}");
    let out = app
        .cli(
            &[
                "user",
                "grant",
                "wang@cnic.cn",
                "org_admin",
                "--organization",
                "无名所",
            ],
            None,
        )
        .await;
    assert_eq!(out.code, 4, "{out:?}");
    assert!(out.stderr.contains("无名所"));
    let out = app
        .cli(
            &[
                "user",
                "grant",
                "wang@cnic.cn",
                "reviewer",
                "--organization",
                "CNIC",
            ],
            None,
        )
        .await;
    assert_eq!(out.code, 3, "{out:?}");
    assert!(!app.stored("wang@cnic.cn").await.has_role(Role::Reviewer));
    assert!(!app.stored("wang@cnic.cn").await.has_role(Role::OrgAdmin));

    let out = app
        .cli(
            &[
                "user",
                "grant",
                "wang@cnic.cn",
                "org_admin",
                "--organization",
                "cnic",
                "--organization",
                "物理所",
            ],
            None,
        )
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout
            .contains("role org_admin for 计算机网络信息中心 granted"),
        "{out:?}"
    );
    let wang = app.stored("wang@cnic.cn").await;
    assert!(wang.has_role(Role::OrgAdmin));
    let mut scope = match organizations::scope_of(&app.state, &wang).await.unwrap() {
        Some(AdminScope::Organizations(ids)) => ids,
        other => panic!("{other:?}"),
    };
    scope.sort();
    let mut both = vec![cnic.id, physics.id];
    both.sort();
    assert_eq!(scope, both);
    let granted = app.audit("account.role_granted").await;
    assert_eq!(granted.len(), 2);
    assert!(granted.iter().all(|g| g.actor == "cli:tester"));

    let out = app
        .cli(
            &[
                "user",
                "revoke",
                "wang@cnic.cn",
                "org_admin",
                "--organization",
                "物理所",
            ],
            None,
        )
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let wang = app.stored("wang@cnic.cn").await;
    assert!(wang.has_role(Role::OrgAdmin), "still CNIC's");
    assert_eq!(
        organizations::scope_of(&app.state, &wang).await.unwrap(),
        Some(AdminScope::Organizations(vec![cnic.id]))
    );
    let out = app
        .cli(&["user", "revoke", "wang@cnic.cn", "org_admin"], None)
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let wang = app.stored("wang@cnic.cn").await;
    assert!(!wang.has_role(Role::OrgAdmin));
    assert_eq!(app.audit("account.role_revoked").await.len(), 2);
}
