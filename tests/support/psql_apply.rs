//! Applying migration files with psql, as another tool would have: the reference a sentry
//! apply is compared with, and the half-migrated databases adoption starts from. Included
//! with `#[path]` by the test files that need it (each has `mod common;`).

use crate::common::TestDb;

/// Applies `files` (paths, in order) to `db` as the `app` role with psql, each file in one
/// transaction (unless it is a `-- sentry:no-transaction` file), stopping at the first error:
/// a faithful "another tool migrated it".
pub fn psql_apply(db: &TestDb, files: &[std::path::PathBuf]) {
    for f in files {
        let text = std::fs::read_to_string(f).expect("read migration");
        let single = if text.contains("sentry:no-transaction") {
            None
        } else {
            Some("-1")
        };
        let out = crate::common::psql()
            .args(["-v", "ON_ERROR_STOP=1", "-q", "-d", &db.url()])
            .args(single)
            .arg("-f")
            .arg(f)
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql -f {} failed: {}",
            f.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
