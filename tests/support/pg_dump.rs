//! `pg_dump --schema-only` of a test database, for comparing schemas byte for byte: what a
//! failed adoption must leave untouched, and what the sentry and psql must build alike.
//! Included with `#[path]` by the test files that need it (each has `mod common;`).

use std::process::Command;

use crate::common::{TestDb, pg_bin};

/// The schema of `db` as pg_dump prints it, optionally without one table (the sentry's
/// tracking table, which a psql apply does not have). The restrict key is fixed, so that two
/// dumps of the same schema are identical.
pub fn schema_dump(db: &TestDb, exclude_table: Option<&str>) -> String {
    let mut cmd = Command::new(pg_bin("pg_dump"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PG") {
            cmd.env_remove(key);
        }
    }
    cmd.args(["--schema-only", "--no-owner", "--no-privileges"])
        .args(["--restrict-key", "sentrytest"])
        .arg("-h")
        .arg(db.cluster.socket_dir())
        .args(["-p", &db.port.to_string(), "-U", "postgres"]);
    if let Some(t) = exclude_table {
        cmd.args(["--exclude-table", t]);
    }
    cmd.arg(&db.name);
    let out = cmd.output().expect("run pg_dump");
    assert!(
        out.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("pg_dump prints UTF-8")
}

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
