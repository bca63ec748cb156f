//! `migrations/sqlite` and `migrations/postgres` hold the same versions
//! (DESIGN.md): a migration written for one backend only would leave the
//! other's schema behind, and the suite runs each backend separately.

use std::path::Path;

/// The versions of a migrations folder: the numeric prefixes of its
/// `<version>_<description>.sql` files (sqlx's naming), sorted.
fn versions(dir: &Path) -> Vec<u64> {
    let mut out: Vec<u64> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".sql"))
        .map(|name| {
            let prefix = name.split('_').next().unwrap_or_default();
            prefix
                .parse()
                .unwrap_or_else(|_| panic!("{}: {name} has no numeric version", dir.display()))
        })
        .collect();
    out.sort_unstable();
    out
}

/// Versions only in `a`, and versions only in `b`.
fn difference(a: &[u64], b: &[u64]) -> (Vec<u64>, Vec<u64>) {
    let only = |x: &[u64], y: &[u64]| x.iter().filter(|v| !y.contains(v)).copied().collect();
    (only(a, b), only(b, a))
}

#[test]
fn both_backends_have_the_same_migration_versions() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let sqlite = versions(&root.join("sqlite"));
    let postgres = versions(&root.join("postgres"));
    assert!(!sqlite.is_empty(), "no migrations found");
    assert_eq!(
        difference(&sqlite, &postgres),
        (vec![], vec![]),
        "(only in sqlite, only in postgres)"
    );
    assert_eq!(sqlite, postgres, "the same versions, each once");
}

/// The positive control: folders that differ are told apart, and which
/// version is missing where is named.
#[test]
fn the_version_comparison_sees_a_missing_migration() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for (folder, files) in [
        (&a, &["0001_init.sql", "0002_more.sql", "README.md"][..]),
        (&b, &["0001_init.sql", "0003_other.sql"][..]),
    ] {
        std::fs::create_dir(folder).unwrap();
        for f in files {
            std::fs::write(folder.join(f), "SELECT 1;").unwrap();
        }
    }
    let (a, b) = (versions(&a), versions(&b));
    assert_eq!(a, [1, 2]);
    assert_ne!(a, b);
    assert_eq!(difference(&a, &b), (vec![2], vec![3]));
    assert_eq!(difference(&a, &a), (vec![], vec![]));
}
