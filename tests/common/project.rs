//! A test project: a temp folder with `migrations/`, an optional `required_schema.txt`, and an
//! empty `cwd/` to run the binary in (so the repository's own `sql/` is never picked up).

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use super::{Outcome, TestDb, run, sentry};

/// A folder of migrations and a required schema, and the binary pointed at them.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn new() -> Project {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("migrations")).unwrap();
        fs::create_dir(dir.path().join("cwd")).unwrap();
        Project { dir }
    }

    pub fn migrations(&self) -> PathBuf {
        self.dir.path().join("migrations")
    }

    pub fn schema_path(&self) -> PathBuf {
        self.dir.path().join("required_schema.txt")
    }

    /// Path of migration `stem` (as the sentry prints it: the folder we pass, joined).
    pub fn file(&self, stem: &str) -> PathBuf {
        self.migrations().join(format!("{stem}.sql"))
    }

    pub fn write_migration(&self, stem: &str, sql: &str) {
        fs::write(self.file(stem), sql).unwrap();
    }

    pub fn remove_migration(&self, stem: &str) {
        fs::remove_file(self.file(stem)).unwrap();
    }

    pub fn write_schema(&self, text: &str) {
        fs::write(self.schema_path(), text).unwrap();
    }

    /// The binary against `db`, with `--migrations-dir`, plus `--required-schema` when the
    /// project has one.
    pub fn sentry(&self, db: &TestDb) -> Command {
        let mut cmd = sentry();
        cmd.current_dir(self.dir.path().join("cwd"))
            .env("DATABASE_URL", db.url())
            .arg("--migrations-dir")
            .arg(self.migrations());
        if self.schema_path().exists() {
            cmd.arg("--required-schema").arg(self.schema_path());
        }
        cmd
    }

    pub fn run(&self, db: &TestDb, args: &[&str]) -> Outcome {
        run(self.sentry(db).args(args))
    }
}

/// Runs `sql` as the `app` role (the owner of the test database), as a human with psql would:
/// objects created this way belong to `app`, so the sentry can alter them afterwards.
pub fn as_app(db: &TestDb, sql: &str) {
    db.execute(&format!("SET ROLE app;\n{sql}"));
}
