//! `tongxing backup` and `tongxing restore` on the embedded database.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use tongxing::domain::SecretPassword;
use tongxing::service::accounts::{self, NewAccount};
use tongxing::service::{Actor, Origin};

use crate::helpers::{PASSWORD, TestApp};

/// A deployment on the embedded database, whatever backend the run uses
/// otherwise: backups are the embedded mode's (PostgreSQL has its own).
async fn embedded() -> TestApp {
    TestApp::spawn_with(|c| c.database_url = None).await
}

/// The account names in a database file, read directly.
async fn usernames(file: &Path) -> Vec<String> {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(file)
        .read_only(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    let integrity: (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(integrity.0, "ok");
    let names: Vec<(String,)> = sqlx::query_as("SELECT username FROM users")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    names.into_iter().map(|(n,)| n).collect()
}

/// The CLI run against another data directory (a restore target).
async fn cli_in(app: &TestApp, dir: &Path, args: &[&str]) -> crate::helpers::CliOutput {
    let url = format!("sqlite://{}", dir.join("tongxing.db").display());
    app.cli_env(
        args,
        None,
        &[
            ("TONGXING_DATA_DIR", dir.to_str().unwrap()),
            ("TONGXING_DATABASE_URL", &url),
        ],
    )
    .await
}

#[tokio::test]
async fn a_backup_taken_under_write_load_holds_every_change_committed_before_it() {
    let app = embedded().await;
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("copy.db");

    // A writer creating accounts one after another, noting each one once
    // its transaction has committed.
    let committed = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (state, committed, stop) = (app.state.clone(), committed.clone(), stop.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                let name = format!("load{i}");
                accounts::create(
                    &state,
                    NewAccount {
                        username: name.clone(),
                        password: Some(SecretPassword::new(PASSWORD)),
                        ..NewAccount::default()
                    },
                    &Actor::System,
                    &Origin::default(),
                )
                .await
                .unwrap();
                committed.lock().unwrap().push(name);
                i += 1;
            }
        })
    };
    while committed.lock().unwrap().len() < 20 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }

    let before = committed.lock().unwrap().clone();
    let out = app.cli(&["backup", file.to_str().unwrap()], None).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("backup written"), "{out:?}");
    let during = committed.lock().unwrap().len();
    // The load went on after the copy was done: something committed after
    // it cannot be in it.
    while committed.lock().unwrap().len() < during + 3 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    stop.store(true, Ordering::SeqCst);
    writer.await.unwrap();
    let after: Vec<String> = committed.lock().unwrap()[during..].to_vec();

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the copy is readable by its owner only"
        );
    }

    // Restored into a new deployment, the copy holds every account
    // committed before the backup began, and none made after it ended.
    let target = tempfile::tempdir().unwrap();
    let out = cli_in(&app, target.path(), &["restore", file.to_str().unwrap()]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let restored = usernames(&target.path().join("tongxing.db")).await;
    for name in &before {
        assert!(
            restored.contains(name),
            "{name} committed before the backup"
        );
    }
    for name in &after {
        assert!(
            !restored.contains(name),
            "{name} committed after the backup"
        );
    }

    // The restored database runs a server: an account from before the
    // backup signs in there.
    let dir = target.path().to_path_buf();
    let restored_app = TestApp::spawn_with(move |c| {
        c.data_dir = dir;
        c.database_url = None;
    })
    .await;
    let done = restored_app.browser().login(&before[0], PASSWORD).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), Some("/account"));
    assert_eq!(restored_app.audit("backup.restored").await.len(), 1);
    assert_eq!(app.audit("backup.created").await.len(), 1);
}

#[tokio::test]
async fn a_restore_refuses_while_a_server_has_the_database_open_and_changes_nothing() {
    let app = embedded().await;
    app.user("still-here").await;
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("copy.db");
    let out = app.cli(&["backup", file.to_str().unwrap()], None).await;
    assert_eq!(out.code, 0, "{out:?}");

    let out = app.cli(&["restore", file.to_str().unwrap()], None).await;
    assert_eq!(out.code, 7, "{out:?}");
    assert!(out.stderr.contains("is in use"), "{out:?}");
    // The live database is the same file, still serving.
    app.user("written-after").await;
    assert_eq!(app.stored("still-here").await.username, "still-here");
    let live = app.config.data_dir.join("tongxing.db");
    assert!(!live.with_extension("db.restoring").exists());

    // Positive control: the same restore into a database no server has
    // open goes through, and keeps the database it replaced.
    let target = tempfile::tempdir().unwrap();
    let first = cli_in(&app, target.path(), &["restore", file.to_str().unwrap()]).await;
    assert_eq!(first.code, 0, "{first:?}");
    let again = cli_in(&app, target.path(), &["restore", file.to_str().unwrap()]).await;
    assert_eq!(again.code, 0, "{again:?}");
    assert!(again.stdout.contains("kept as"), "{again:?}");
    let kept = std::fs::read_dir(target.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("tongxing.db.before-restore-")
        })
        .count();
    assert!(kept >= 1, "the replaced database is kept");
}

#[tokio::test]
async fn a_restore_refuses_what_is_not_a_backup_of_this_version() {
    let app = embedded().await;
    let scratch = tempfile::tempdir().unwrap();
    let target = tempfile::tempdir().unwrap();

    let text = scratch.path().join("notes.txt");
    std::fs::write(&text, "not a database\n").unwrap();
    let out = cli_in(&app, target.path(), &["restore", text.to_str().unwrap()]).await;
    assert_eq!(out.code, 3, "{out:?}");
    assert!(
        out.stderr.contains("is not a Tongxing database backup"),
        "{out:?}"
    );
    assert!(
        !target.path().join("tongxing.db").exists(),
        "nothing restored"
    );

    // A copy made by a newer release (a migration this build does not know).
    let newer = scratch.path().join("newer.db");
    let out = app.cli(&["backup", newer.to_str().unwrap()], None).await;
    assert_eq!(out.code, 0, "{out:?}");
    {
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&newer);
        let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (99990101, 'from the future', TRUE, x'00', 0)",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    }
    let out = cli_in(&app, target.path(), &["restore", newer.to_str().unwrap()]).await;
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("newer Tongxing"), "{out:?}");
    assert!(
        !target.path().join("tongxing.db").exists(),
        "nothing restored"
    );

    // A backup never overwrites a file.
    let out = app.cli(&["backup", text.to_str().unwrap()], None).await;
    assert_eq!(out.code, 5, "{out:?}");
    assert_eq!(std::fs::read_to_string(&text).unwrap(), "not a database\n");
}

#[tokio::test]
async fn on_postgresql_the_backup_command_points_to_pg_dump() {
    let app = TestApp::spawn().await;
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("copy.db");
    let out = app.cli(&["backup", file.to_str().unwrap()], None).await;
    if app.state.store.kind() == "postgres" {
        assert_eq!(out.code, 3, "{out:?}");
        assert!(out.stderr.contains("pg_dump"), "{out:?}");
        assert!(!file.exists(), "no file left behind");
    } else {
        // The embedded run: the same command makes the copy.
        assert_eq!(out.code, 0, "{out:?}");
        assert!(file.exists());
    }
}
