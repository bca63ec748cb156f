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

#[tokio::test]
async fn the_registry_api_searches_registers_reads_and_changes_organizations() {
    let app = TestApp::spawn().await;
    let token = admin_token(&app).await;
    let api = Api::new(&app, &token);

    let (status, cnic) = api
        .post(
            "/api/v1/organizations",
            json!({ "full_name": "计算机网络信息中心", "short_name": "网络中心",
                    "aliases": ["CNIC"], "mail_domains": ["CNIC.cn"] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{cnic}");
    assert_eq!(cnic["status"], "active");
    assert_eq!(cnic["mail_domains"], json!(["cnic.cn"]));
    let (status, physics) = api
        .post(
            "/api/v1/organizations",
            json!({ "full_name": "物理研究所", "short_name": "物理所", "status": "pending" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{physics}");
    assert_eq!(app.audit("organization.created").await.len(), 2);

    // Clashes name the holder; bad values name the field.
    let (status, problem) = api
        .post(
            "/api/v1/organizations",
            json!({ "full_name": "Another", "aliases": ["ｃｎｉｃ"] }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["field"], "aliases");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("计算机网络信息中心")
    );
    let (status, problem) = api
        .post(
            "/api/v1/organizations",
            json!({ "full_name": "Another", "mail_domains": ["cnic.cn"] }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["field"], "mail_domains");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("计算机网络信息中心")
    );
    for (body, field) in [
        (json!({ "full_name": "  " }), "full_name"),
        (
            json!({ "full_name": "A", "mail_domains": ["not a domain"] }),
            "mail_domains",
        ),
        (json!({ "full_name": "A", "status": "gone" }), "status"),
        (json!({ "full_name": "A", "colour": "red" }), "colour"),
    ] {
        let (status, problem) = api.post("/api/v1/organizations", body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} {problem}");
        assert_eq!(problem["field"], field, "{body} {problem}");
    }
    let (_, all) = api.get("/api/v1/organizations").await;
    assert_eq!(all["total"], 2, "nothing refused was registered: {all}");

    // Search by any name or domain, width and case aside; status filter; paging.
    for q in ["cnic", "ＣＮＩＣ", "网络", "cnic.cn", "信息中心"] {
        let (status, page) = api
            .get(&format!(
                "/api/v1/organizations?q={}",
                url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["total"], 1, "{q}: {page}");
        assert_eq!(page["items"][0]["id"], cnic["id"], "{q}");
    }
    let (_, page) = api.get("/api/v1/organizations?status=pending").await;
    assert_eq!(page["items"][0]["id"], physics["id"], "{page}");
    assert_eq!(page["total"], 1);
    let (_, page) = api.get("/api/v1/organizations?per_page=1&page=2").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page["total"], 2);
    let (status, problem) = api.get("/api/v1/organizations?per_page=0").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["field"], "per_page");
    let (status, problem) = api.get("/api/v1/organizations?status=gone").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(problem["field"], "status");

    // Read: with its accounts and administrators.
    let id = cnic["id"].as_str().unwrap().to_string();
    let member = app
        .user_with(NewAccount {
            username: "li@cnic.cn".into(),
            organization: Some("CNIC".into()),
            ..NewAccount::default()
        })
        .await;
    let org = organizations::by_id(&app.state, member.organization_id.unwrap())
        .await
        .unwrap();
    organizations::assign_admin(
        &app.state,
        &org,
        &member,
        &Actor::System,
        &Origin::default(),
    )
    .await
    .unwrap();
    let (status, detail) = api.get(&format!("/api/v1/organizations/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["full_name"], "计算机网络信息中心");
    assert_eq!(detail["accounts"], 1);
    assert_eq!(detail["administrators"], json!(["li@cnic.cn"]));
    let (status, missing) = api
        .get(&format!("/api/v1/organizations/{}", uuid::Uuid::now_v7()))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
    let (status, bad) = api.get("/api/v1/organizations/abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(bad["field"], "id");

    // Change: fields given replace, others stay; stale versions and clashes refused.
    let path = format!("/api/v1/organizations/{id}");
    let (status, changed) = api
        .call(
            "PATCH",
            &path,
            Some(json!({ "version": cnic["version"], "aliases": ["CNIC", "Computer Network Information Center"] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["short_name"], "网络中心");
    assert_eq!(changed["aliases"].as_array().unwrap().len(), 2);
    let updated = app.audit("organization.updated").await;
    assert_eq!(updated.len(), 1);
    assert!(updated[0].detail.contains("aliases") && updated[0].actor.starts_with("client:"));
    let (status, problem) = api
        .call(
            "PATCH",
            &path,
            Some(json!({ "version": cnic["version"], "short_name": "" })),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["field"], "version");
    let (status, problem) = api
        .call(
            "PATCH",
            &path,
            Some(json!({ "version": changed["version"], "short_name": "物理所" })),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["field"], "short_name");
    assert!(problem["detail"].as_str().unwrap().contains("物理研究所"));
    let (status, cleared) = api
        .call(
            "PATCH",
            &path,
            Some(json!({ "version": changed["version"], "short_name": "", "mail_domains": [] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cleared}");
    assert_eq!(cleared["short_name"], serde_json::Value::Null);
    assert_eq!(cleared["mail_domains"], json!([]));
    assert_eq!(app.stored("li@cnic.cn").await.organization_id, Some(org.id));
    let (status, _) = api
        .call(
            "PATCH",
            &format!("/api/v1/organizations/{}", uuid::Uuid::now_v7()),
            Some(json!({ "version": 1 })),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_cli_registers_lists_shows_and_changes_organizations() {
    let app = TestApp::spawn().await;
    let out = app
        .cli(
            &[
                "org",
                "add",
                "--full-name",
                "计算机网络信息中心",
                "--short-name",
                "网络中心",
                "--alias",
                "CNIC",
                "--domain",
                "cnic.cn",
                "--json",
            ],
            None,
        )
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["mail_domains"], json!(["cnic.cn"]));
    assert_eq!(
        app.audit("organization.created").await[0].actor,
        "cli:tester"
    );
    // Taken: 5, naming the holder; invalid: 3.
    let out = app
        .cli(
            &["org", "add", "--full-name", "Other", "--alias", "cnic"],
            None,
        )
        .await;
    assert_eq!(out.code, 5, "{out:?}");
    assert!(out.stderr.contains("计算机网络信息中心"), "{out:?}");
    let out = app
        .cli(
            &["org", "add", "--full-name", "Other", "--domain", "x"],
            None,
        )
        .await;
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("mail_domains"), "{out:?}");
    let out = app
        .cli(
            &["org", "add", "--full-name", "Other", "--status", "gone"],
            None,
        )
        .await;
    assert_eq!(out.code, 3, "{out:?}");
    let out = app
        .cli(
            &[
                "org",
                "add",
                "--full-name",
                "物理所",
                "--status",
                "inactive",
            ],
            None,
        )
        .await;
    assert_eq!(out.code, 0, "{out:?}");

    let out = app.cli(&["org", "list"], None).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("计算机网络信息中心") && out.stdout.contains("物理所"));
    let out = app
        .cli(&["org", "list", "--query", "cnic.cn", "--json"], None)
        .await;
    let list = out.json();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let out = app
        .cli(&["org", "list", "--status", "inactive", "--json"], None)
        .await;
    assert_eq!(out.json()[0]["full_name"], "物理所");

    app.user_with(NewAccount {
        username: "li@cnic.cn".into(),
        organization: Some("CNIC".into()),
        ..NewAccount::default()
    })
    .await;
    let out = app.cli(&["org", "show", "ｃｎｉｃ", "--json"], None).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["accounts"], 1);
    let out = app.cli(&["org", "show", "无名所"], None).await;
    assert_eq!(out.code, 4, "{out:?}");

    let out = app
        .cli(
            &[
                "org",
                "update",
                "网络中心",
                "--alias",
                "CNIC",
                "--alias",
                "Network Center",
                "--status",
                "pending",
                "--json",
            ],
            None,
        )
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let v = out.json();
    assert_eq!(v["aliases"], json!(["CNIC", "Network Center"]));
    assert_eq!(v["status"], "pending");
    assert_eq!(v["short_name"], "网络中心", "not given, kept");
    let out = app
        .cli(
            &[
                "org",
                "update",
                "CNIC",
                "--clear-domains",
                "--short-name",
                "",
            ],
            None,
        )
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let org = organizations::resolve(&app.state, "CNIC")
        .await
        .unwrap()
        .unwrap();
    assert!(org.mail_domains.0.is_empty() && org.short_name.is_none());
    let out = app
        .cli(&["org", "update", "CNIC", "--alias", "物理所"], None)
        .await;
    assert_eq!(out.code, 5, "{out:?}");
    let out = app
        .cli(&["org", "update", "无名所", "--status", "active"], None)
        .await;
    assert_eq!(out.code, 4, "{out:?}");
}

/// A CSV import through the API: status and report.
async fn import(
    api: &Api<'_>,
    app: &TestApp,
    body: &[u8],
    dry_run: bool,
) -> (StatusCode, serde_json::Value) {
    let r = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/organizations/import{}",
            app.base,
            if dry_run { "?dry_run=true" } else { "" }
        ))
        .bearer_auth(api.token())
        .header("content-type", "text/csv; charset=utf-8")
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap())
}

fn outcomes(report: &serde_json::Value) -> Vec<(u64, String)> {
    report["lines"]
        .as_array()
        .unwrap_or_else(|| panic!("no report: {report}"))
        .iter()
        .map(|l| {
            (
                l["line"].as_u64().unwrap(),
                l["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_csv_import_creates_updates_and_refuses_line_by_line_and_is_idempotent() {
    let app = TestApp::spawn().await;
    let token = admin_token(&app).await;
    let api = Api::new(&app, &token);
    app.org_with(org("物理研究所", Some("物理所"), &[], &["iphy.ac.cn"]))
        .await;
    let csv = "\u{FEFF}full_name,short_name,aliases,mail_domains,status\r\n\
        计算机网络信息中心,网络中心,\"CNIC;Computer Network Information Center\",cnic.cn;cstnet.cn,\r\n\
        物理研究所,物理所,IOP,iphy.ac.cn,active\n\
        \"Institute of \"\"Quoted\"\" Names, Beijing\",,,,pending\n\
        重复单位,,CNIC,,\n\
        Bad Domain Institute,,,not a domain,\n\
        Bad Status Institute,,,,gone\n\
        ,,,,\n\
        ＣＯＰＹ,,,,\n\
        copy,,,,\n\
        已撤销所,,,,inactive\n";

    // A dry run reports and writes nothing.
    let (status, dry) = import(&api, &app, csv.as_bytes(), true).await;
    assert_eq!(status, StatusCode::OK, "{dry}");
    assert_eq!(dry["dry_run"], true);
    let expected = [
        (2, "created"),
        (3, "updated"),
        (4, "created"),
        (5, "refused"),
        (6, "refused"),
        (7, "refused"),
        (8, "refused"),
        (9, "created"),
        (10, "refused"),
        (11, "created"),
    ];
    let expected: Vec<(u64, String)> = expected.iter().map(|(l, o)| (*l, o.to_string())).collect();
    assert_eq!(outcomes(&dry), expected, "{dry}");
    let (_, all) = api.get("/api/v1/organizations").await;
    assert_eq!(all["total"], 1, "the dry run wrote nothing");
    assert!(app.audit("organization.imported").await.is_empty());

    // The real run does what the dry run said; refused lines name their reason.
    let (status, report) = import(&api, &app, csv.as_bytes(), false).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(outcomes(&report), expected, "{report}");
    assert_eq!(
        (
            &report["created"],
            &report["updated"],
            &report["unchanged"],
            &report["refused"]
        ),
        (&json!(4), &json!(1), &json!(0), &json!(5))
    );
    let line = |n: u64| {
        report["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["line"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(line(5)["field"], "aliases");
    assert!(
        line(5)["reason"]
            .as_str()
            .unwrap()
            .contains("计算机网络信息中心")
    );
    assert_eq!(line(6)["field"], "mail_domains");
    assert_eq!(line(7)["field"], "status");
    assert_eq!(line(8)["field"], "full_name");
    assert!(
        line(10)["reason"].as_str().unwrap().contains("line 9"),
        "{}",
        line(10)
    );
    let cnic = organizations::resolve(&app.state, "cstnet.cn")
        .await
        .unwrap();
    assert!(cnic.is_none(), "a domain is no name");
    let cnic = organizations::resolve(&app.state, "Computer Network Information Center")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cnic.full_name, "计算机网络信息中心");
    assert_eq!(cnic.mail_domains.0, ["cnic.cn", "cstnet.cn"]);
    let quoted = organizations::resolve(&app.state, "institute of \"quoted\" names, beijing")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(quoted.status, OrganizationStatus::Pending);
    let physics = organizations::resolve(&app.state, "IOP")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(physics.full_name, "物理研究所");
    assert_eq!(app.audit("organization.created").await.len(), 1 + 4);
    assert_eq!(app.audit("organization.updated").await.len(), 1);
    let imported = app.audit("organization.imported").await;
    assert_eq!(imported.len(), 1);
    assert!(imported[0].actor.starts_with("client:"));

    // The same file again changes nothing.
    let (_, again) = import(&api, &app, csv.as_bytes(), false).await;
    assert_eq!(
        (
            &again["created"],
            &again["updated"],
            &again["unchanged"],
            &again["refused"]
        ),
        (&json!(0), &json!(0), &json!(5), &json!(5)),
        "{again}"
    );
    assert_eq!(app.audit("organization.updated").await.len(), 1);

    // Files that cannot be read are refused whole.
    for (body, field) in [
        (&b"full_name,colour\nA,red\n"[..], "header"),
        (&b"short_name\nA\n"[..], "header"),
        (&b""[..], "header"),
        (&b"full_name\n\"unclosed\n"[..], "body"),
        (&b"full_name\n\xff\xfe\n"[..], "body"),
    ] {
        let (status, problem) = import(&api, &app, body, false).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(problem["field"], field, "{problem}");
    }
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/organizations/import", app.base))
        .bearer_auth(&token)
        .json(&json!({ "full_name": "A" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // The CLI: the same report, a dry run, an exit code for refused lines.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("orgs.csv");
    std::fs::write(
        &file,
        "full_name,aliases\n声学研究所,IOA;声学所\n计算机网络信息中心,CNIC;Computer Network Information Center\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let out = app.cli(&["org", "import", path, "--dry-run"], None).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("line 2: created 声学研究所"), "{out:?}");
    assert!(out.stdout.contains("dry run"), "{out:?}");
    assert!(
        organizations::resolve(&app.state, "IOA")
            .await
            .unwrap()
            .is_none()
    );
    let out = app.cli(&["org", "import", path, "--json"], None).await;
    assert_eq!(out.code, 0, "{out:?}");
    let v = out.json();
    assert_eq!(
        (&v["created"], &v["updated"]),
        (&json!(1), &json!(1)),
        "{v}"
    );
    assert!(
        organizations::resolve(&app.state, "声学所")
            .await
            .unwrap()
            .is_some()
    );
    // Missing columns are empty: the import set CNIC's domains and short name aside.
    let cnic = organizations::resolve(&app.state, "CNIC")
        .await
        .unwrap()
        .unwrap();
    assert!(cnic.mail_domains.0.is_empty() && cnic.short_name.is_none());
    std::fs::write(&file, "full_name,status\n声学研究所,gone\n新所,\n").unwrap();
    let out = app.cli(&["org", "import", path], None).await;
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stdout.contains("line 2: refused"), "{out:?}");
    assert!(
        organizations::resolve(&app.state, "新所")
            .await
            .unwrap()
            .is_some()
    );
    std::fs::write(&file, "name\nA\n").unwrap();
    let out = app.cli(&["org", "import", path], None).await;
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("unknown column"), "{out:?}");
}

#[tokio::test]
async fn the_console_registers_and_changes_organizations_and_names_their_administrators() {
    let app = TestApp::spawn().await;
    app.org_with(org("物理研究所", Some("物理所"), &[], &["iphy.ac.cn"]))
        .await;
    app.user("wang@cnic.cn").await;
    let b = app.browser();
    b.login("admin", &app.admin_password).await;
    let list = b.get("/admin/organizations").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        list.has("id=\"nav-organizations\"") && list.has("登记单位"),
        "{}",
        list.body
    );

    // Refusals in the page's language, naming the holder.
    let refused = b
        .submit_page(
            &list,
            "/admin/organizations",
            &[("full_name", "计算机网络信息中心"), ("aliases", "物理所")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.has("已被单位“物理研究所”使用"), "{}", refused.body);
    let en = b.get("/admin/organizations?lang=en").await;
    let refused = b
        .submit_page(
            &en,
            "/admin/organizations",
            &[
                ("full_name", "计算机网络信息中心"),
                ("mail_domains", "iphy.ac.cn"),
            ],
        )
        .await;
    assert!(
        refused.has("already in use by 物理研究所"),
        "{}",
        refused.body
    );
    let forged = b
        .post_form(
            "/admin/organizations",
            &[("full_name", "计算机网络信息中心")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(
        organizations::resolve(&app.state, "计算机网络信息中心")
            .await
            .unwrap()
            .is_none()
    );

    let done = b
        .submit_page(
            &list,
            "/admin/organizations",
            &[
                ("full_name", "计算机网络信息中心"),
                ("short_name", "网络中心"),
                ("aliases", "CNIC; Network Center"),
                ("mail_domains", "cnic.cn"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let cnic = organizations::resolve(&app.state, "Network Center")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cnic.aliases.0, ["CNIC", "Network Center"]);
    let page = b.get(done.location().unwrap()).await;
    assert!(
        page.has("id=\"edit\"") && page.has("cnic.cn"),
        "{}",
        page.body
    );
    let found = b.get("/admin/organizations?q=cnic.cn").await;
    assert!(found.has("计算机网络信息中心") && !found.has("物理研究所"));

    // Edit, and a stale form.
    let path = format!("/admin/organizations/{}", cnic.id);
    let saved = b
        .submit_page(
            &page,
            &path,
            &[
                ("action", "update"),
                ("version", &cnic.version.to_string()),
                ("full_name", "计算机网络信息中心"),
                ("short_name", "网络中心"),
                ("aliases", "CNIC"),
                ("mail_domains", "cnic.cn"),
                ("status", "inactive"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let now = organizations::by_id(&app.state, cnic.id).await.unwrap();
    assert_eq!(now.status, OrganizationStatus::Inactive);
    assert_eq!(now.aliases.0, ["CNIC"]);
    let stale = b
        .submit_page(
            &page,
            &path,
            &[
                ("action", "update"),
                ("version", &cnic.version.to_string()),
                ("full_name", "X"),
            ],
        )
        .await;
    assert_eq!(stale.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Administrators named on the page (in Chinese again).
    let page = b.get(&format!("{path}?lang=zh-CN")).await;
    let unknown = b
        .submit_page(
            &page,
            &path,
            &[("action", "add_admin"), ("username", "nobody")],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unknown.has("账号“nobody”不存在"), "{}", unknown.body);
    let added = b
        .submit_page(
            &page,
            &path,
            &[("action", "add_admin"), ("username", "wang@cnic.cn")],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let wang = app.stored("wang@cnic.cn").await;
    assert_eq!(
        organizations::scope_of(&app.state, &wang).await.unwrap(),
        Some(AdminScope::Organizations(vec![cnic.id]))
    );
    let page = b.get(&path).await;
    assert!(page.has("wang@cnic.cn"));
    let removed = b
        .submit_page(
            &page,
            &path,
            &[
                ("action", "remove_admin"),
                ("confirm", "1"),
                ("username", "wang@cnic.cn"),
            ],
        )
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER, "{}", removed.body);
    assert!(!app.stored("wang@cnic.cn").await.has_role(Role::OrgAdmin));
}
