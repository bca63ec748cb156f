//! Online copies of the embedded (SQLite) database, and restoring one.
//!
//! A copy is made with `VACUUM INTO`: it reads the database inside one
//! read transaction, so the copy holds exactly the transactions committed
//! before it began, while the server goes on writing (WAL mode lets
//! writers proceed beside a reader). SQLite's C backup API gives the same
//! guarantee but needs the raw connection handle and `unsafe` code; `VACUUM
//! INTO` needs neither, and writes a compacted file.
//!
//! A restore replaces the database file, so no server may have it open:
//! every process that opens a SQLite database holds a shared lock on
//! `<database>.lock` for as long as it runs, and a restore takes that lock
//! exclusively or refuses. The database it replaces is kept beside it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use super::{Db, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// Backups and restores here are for the embedded database; a
    /// PostgreSQL deployment uses PostgreSQL's own tools (README).
    #[error(
        "the database is PostgreSQL: use pg_dump or point-in-time recovery (README: \"Backups\")"
    )]
    NotSqlite,
    #[error("{0} already exists; name a new file")]
    Exists(PathBuf),
    #[error("the database {0} is in use (a server or another command has it open); stop it first")]
    InUse(PathBuf),
    #[error("{path} is not a Tongxing database backup: {reason}")]
    NotABackup { path: PathBuf, reason: String },
    #[error(
        "{path} was made by a newer Tongxing (schema version {found}; this one knows up to {known})"
    )]
    Newer {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The database file a `sqlite:` URL names (`None` for an in-memory one).
pub fn sqlite_file(url: &str) -> Result<Option<PathBuf>, StoreError> {
    let options = SqliteConnectOptions::from_str(url)?;
    let file = options.get_filename();
    if file.as_os_str().is_empty() || file == Path::new(":memory:") {
        return Ok(None);
    }
    Ok(Some(file.to_path_buf()))
}

fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_os_string();
    name.push(".lock");
    PathBuf::from(name)
}

fn open_lock(database: &Path) -> Result<File, BackupError> {
    let path = lock_path(database);
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_at(&path))
}

/// The shared lock a process holds while it has the database open; a
/// restore waits for none and refuses while any is held.
pub(super) fn hold_shared(database: &Path) -> Result<File, BackupError> {
    let file = open_lock(database)?;
    match file.try_lock_shared() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(BackupError::InUse(database.to_path_buf())),
        Err(TryLockError::Error(e)) => Err(io_at(&lock_path(database))(e)),
    }
}

/// Creates `path` empty and readable by its owner only: the copy holds
/// password hashes, wrapped keys and encrypted documents.
fn create_private(path: &Path) -> Result<File, BackupError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            BackupError::Exists(path.to_path_buf())
        } else {
            io_at(path)(e)
        }
    })
}

/// What a backup file holds, as far as a restore must know.
#[derive(Debug, Clone)]
pub struct BackupInfo {
    /// The newest migration applied to it.
    pub schema_version: i64,
    pub bytes: u64,
}

impl Store {
    /// Writes a consistent copy of the database to `target`, a new file,
    /// while the server keeps serving.
    pub async fn backup_into(&self, target: &Path) -> Result<BackupInfo, BackupError> {
        let Db::Sqlite(pool) = &self.db else {
            return Err(BackupError::NotSqlite);
        };
        // VACUUM INTO writes only into a missing or empty file: creating
        // it first sets its mode and refuses to overwrite anything.
        drop(create_private(target)?);
        let name = target.to_string_lossy().into_owned();
        if let Err(e) = sqlx::query("VACUUM INTO $1")
            .bind(&name)
            .execute(pool)
            .await
        {
            let _ = std::fs::remove_file(target);
            return Err(StoreError::from(e).into());
        }
        File::open(target)
            .and_then(|f| f.sync_all())
            .map_err(io_at(target))?;
        inspect(target).await
    }
}

/// The newest migration this build knows.
pub fn known_schema_version() -> i64 {
    sqlx::migrate!("migrations/sqlite")
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0)
}

/// Opens `path` read-only and checks that it is a whole Tongxing database
/// this build can run: SQLite's integrity check passes, and its migrations
/// are ones this build knows.
pub async fn inspect(path: &Path) -> Result<BackupInfo, BackupError> {
    let not_backup = |reason: String| BackupError::NotABackup {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::metadata(path).map_err(io_at(path))?.len();
    let options = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .create_if_missing(false);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .map_err(|e| not_backup(e.to_string()))?;
    let checked = async {
        let integrity: String = sqlx::query("PRAGMA integrity_check")
            .fetch_one(&pool)
            .await
            .and_then(|row| row.try_get(0))
            .map_err(|e| not_backup(e.to_string()))?;
        if integrity != "ok" {
            return Err(not_backup(format!("integrity check: {integrity}")));
        }
        let version: Option<i64> =
            sqlx::query("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&pool)
                .await
                .and_then(|row| row.try_get(0))
                .map_err(|_| not_backup("it has no migration history".into()))?;
        let Some(version) = version else {
            return Err(not_backup("it has no migration history".into()));
        };
        let known = known_schema_version();
        if version > known {
            return Err(BackupError::Newer {
                path: path.to_path_buf(),
                found: version,
                known,
            });
        }
        Ok(BackupInfo {
            schema_version: version,
            bytes,
        })
    }
    .await;
    pool.close().await;
    checked
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct Restored {
    pub database: PathBuf,
    /// Where the database it replaced now is (none if there was none).
    pub set_aside: Option<PathBuf>,
    pub info: BackupInfo,
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// Puts the backup at `from` in place of the database `database_url`
/// names. Refuses while any process has that database open. The database
/// it replaces (with its WAL, if a crash left one) is renamed to
/// `<database>.before-restore-<stamp>`; the copy is written beside the
/// target and renamed into place, so an interrupted restore leaves either
/// the old database or the new one. The caller then migrates it.
pub async fn restore(
    database_url: &str,
    from: &Path,
    stamp: &str,
) -> Result<Restored, BackupError> {
    let database = sqlite_file(database_url)?.ok_or(BackupError::NotSqlite)?;
    let info = inspect(from).await?;
    if let Some(dir) = database.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_at(dir))?;
    }
    let lock = open_lock(&database)?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Err(BackupError::InUse(database)),
        Err(TryLockError::Error(e)) => return Err(io_at(&lock_path(&database))(e)),
    }
    let staging = with_suffix(&database, ".restoring");
    let _ = std::fs::remove_file(&staging);
    drop(create_private(&staging)?);
    std::fs::copy(from, &staging).map_err(io_at(&staging))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&staging, std::fs::Permissions::from_mode(0o600))
            .map_err(io_at(&staging))?;
    }
    File::open(&staging)
        .and_then(|f| f.sync_all())
        .map_err(io_at(&staging))?;

    let set_aside = if database.exists() {
        let mut aside = with_suffix(&database, &format!(".before-restore-{stamp}"));
        let mut n = 1;
        while aside.exists() {
            aside = with_suffix(&database, &format!(".before-restore-{stamp}-{n}"));
            n += 1;
        }
        std::fs::rename(&database, &aside).map_err(io_at(&database))?;
        for part in ["-wal", "-shm"] {
            let old = with_suffix(&database, part);
            if old.exists() {
                std::fs::rename(&old, with_suffix(&aside, part)).map_err(io_at(&old))?;
            }
        }
        Some(aside)
    } else {
        None
    };
    std::fs::rename(&staging, &database).map_err(io_at(&database))?;
    if let Some(dir) = database.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_at(dir))?;
    }
    drop(lock);
    Ok(Restored {
        database,
        set_aside,
        info,
    })
}
