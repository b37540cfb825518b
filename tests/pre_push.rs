//! scripts/pre-push and scripts/install-hooks in throwaway git repositories: a broken migration
//! folder blocks the push, a valid one passes, and with DATABASE_URL set pending migrations are
//! allowed while drift is blocked (the policy documented in the script's header). The hook is
//! run with `SENTRY_BIN` pointing at the binary under test.

mod common;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{Outcome, TestDb, cluster, copy_example_sql, repo_root, run, sentry};

const SENTRY_BIN: &str = env!("CARGO_BIN_EXE_migration-sentry");

/// `program` with an environment free of anything that would leak in from the caller: the
/// sentry's and libpq's variables, and git's own (GIT_DIR etc. when tests run inside a hook).
fn clean(program: &str) -> Command {
    let mut cmd = Command::new(program);
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k == "DATABASE_URL"
            || k.starts_with("SENTRY_")
            || k.starts_with("PG")
            || k.starts_with("GIT_")
        {
            cmd.env_remove(&key);
        }
    }
    cmd.env("NO_COLOR", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com");
    cmd
}

fn git(dir: &Path, args: &[&str]) -> Outcome {
    let out = run(clean("git")
        .current_dir(dir)
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .stdin(Stdio::null()));
    out.assert_code(0);
    out
}

/// [`repo_with_example_sql`] and a database the sentry has migrated to its head.
fn migrated_repo() -> (tempfile::TempDir, TestDb<'static>) {
    let repo = repo_with_example_sql();
    let db = cluster().create_db();
    run(sentry()
        .current_dir(repo.path())
        .env("DATABASE_URL", db.url())
        .arg("run"))
    .assert_code(0);
    (repo, db)
}

/// A git work tree holding a copy of the example app's `sql/` folder.
fn repo_with_example_sql() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q"]);
    copy_example_sql(dir.path(), |_, text| text);
    dir
}

/// Runs the repository's scripts/pre-push in `dir` the way git does (ref lines on stdin).
fn pre_push(dir: &Path, database_url: Option<&str>) -> Outcome {
    let mut cmd = clean("bash");
    cmd.arg(repo_root().join("scripts/pre-push"))
        .current_dir(dir)
        .env("SENTRY_BIN", SENTRY_BIN)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(url) = database_url {
        cmd.env("DATABASE_URL", url);
    }
    let mut child = common::spawn_group(&mut cmd);
    let sha = "1111111111111111111111111111111111111111";
    let zero = "0000000000000000000000000000000000000000";
    child
        .stdin()
        .unwrap()
        .write_all(format!("refs/heads/main {sha} refs/heads/main {zero}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output();
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn assert_blocked(out: &Outcome, why: &str) {
    assert_ne!(out.code, 0, "{}", out.all());
    assert!(
        out.stderr
            .contains(&format!("pre-push: push BLOCKED — {why}")),
        "{why:?}:\n{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("git push --no-verify"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_bad_migration_file_name_blocks_the_push() {
    let repo = repo_with_example_sql();
    fs::write(repo.path().join("sql/migrations/notes.sql"), "SELECT 1;\n").unwrap();
    let out = pre_push(repo.path(), None);
    assert_blocked(&out, "`migration-sentry check` failed with exit 6");
    assert!(
        out.stderr
            .contains("sql/migrations/notes.sql: not a valid migration name"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_duplicate_version_blocks_the_push() {
    let repo = repo_with_example_sql();
    fs::write(
        repo.path().join("sql/migrations/003_again.sql"),
        "SELECT 1;\n",
    )
    .unwrap();
    let out = pre_push(repo.path(), None);
    assert_blocked(&out, "`migration-sentry check` failed with exit 6");
    assert!(out.stderr.contains("003_again"), "{}", out.stderr);
}

#[test]
fn a_valid_folder_passes_without_a_database() {
    let repo = repo_with_example_sql();
    // Even when the hook is started from a subdirectory: it works from the top level.
    let out = pre_push(&repo.path().join("sql"), None);
    out.assert_code(0);
    assert!(
        out.stderr
            .contains("pre-push: DATABASE_URL not set; skipping `migration-sentry status`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .trim_end()
            .ends_with("pre-push: migration-sentry OK"),
        "{}",
        out.stderr
    );
}

#[test]
fn pending_migrations_on_the_database_are_allowed() {
    let repo = repo_with_example_sql();
    let db = cluster().create_db();
    let out = pre_push(repo.path(), Some(&db.url()));
    out.assert_code(0);
    assert!(
        out.stderr
            .contains("pre-push: migrations are pending on that database"),
        "{}",
        out.stderr
    );
    // status is read only: nothing was applied.
    assert_eq!(
        db.query_one_string("SELECT count(*) FROM pg_tables WHERE tablename = 'proposals'"),
        "0"
    );
}

#[test]
fn drift_on_the_database_blocks_the_push() {
    let (repo, db) = migrated_repo();
    // At head: allowed.
    pre_push(repo.path(), Some(&db.url())).assert_code(0);

    // Someone edits an applied migration.
    let file = repo
        .path()
        .join("sql/migrations/0002_add_visitor_session.sql");
    let mut text = fs::read_to_string(&file).unwrap();
    text.push_str(
        "\nCREATE INDEX IF NOT EXISTS ix_proposals_created_at ON proposals (created_at);\n",
    );
    fs::write(&file, text).unwrap();

    let out = pre_push(repo.path(), Some(&db.url()));
    assert_blocked(&out, "`migration-sentry status` failed with exit 6");
    assert!(
        out.stderr.contains("0002_add_visitor_session") && out.stderr.contains("repair"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_missing_required_column_with_nothing_pending_blocks_the_push() {
    let (repo, db) = migrated_repo();
    db.execute("ALTER TABLE conversions DROP COLUMN proposal_id");
    let out = pre_push(repo.path(), Some(&db.url()));
    assert_blocked(&out, "`migration-sentry status` failed with exit 8");
}

/// scripts/install-hooks links the hook into a clone, and `git push` then really runs it.
#[test]
fn install_hooks_installs_a_hook_that_git_push_runs() {
    let repo = repo_with_example_sql();
    let scripts = repo.path().join("scripts");
    fs::create_dir_all(&scripts).unwrap();
    for name in ["pre-push", "install-hooks"] {
        fs::copy(repo_root().join("scripts").join(name), scripts.join(name)).unwrap();
    }
    // From a subdirectory, as the script promises ("works from any directory").
    let out = run(clean("bash")
        .arg(scripts.join("install-hooks"))
        .current_dir(repo.path().join("sql")));
    out.assert_code(0);
    let hook = repo.path().join(".git/hooks/pre-push");
    let target = fs::read_link(&hook).expect(".git/hooks/pre-push is a symlink");
    assert_eq!(
        fs::canonicalize(&target).unwrap(),
        fs::canonicalize(scripts.join("pre-push")).unwrap()
    );
    assert!(out.stdout.contains("installed: "), "{}", out.all());
    // Idempotent.
    run(clean("bash")
        .arg(scripts.join("install-hooks"))
        .current_dir(repo.path()))
    .assert_code(0);

    // A bare remote and a real `git push`.
    let remote = tempfile::tempdir().unwrap();
    git(remote.path(), &["init", "-q", "--bare"]);
    let remote_path = remote.path().to_str().unwrap();
    git(repo.path(), &["remote", "add", "origin", remote_path]);
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-q", "-m", "example app"]);
    let push = |repo: &Path| {
        run(clean("git")
            .current_dir(repo)
            .env("SENTRY_BIN", SENTRY_BIN)
            .args(["push", "-q", "origin", "HEAD:refs/heads/main"])
            .stdin(Stdio::null()))
    };
    let ok = push(repo.path());
    ok.assert_code(0);
    assert!(
        ok.stderr.contains("pre-push: migration-sentry OK"),
        "{}",
        ok.stderr
    );

    fs::write(
        repo.path().join("sql/migrations/0004_add thing.sql"),
        "SELECT 1;\n",
    )
    .unwrap();
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-q", "-m", "bad name"]);
    let blocked = push(repo.path());
    assert_ne!(blocked.code, 0, "{}", blocked.all());
    assert!(
        blocked.stderr.contains("pre-push: push BLOCKED"),
        "{}",
        blocked.stderr
    );
    // The remote still has the first commit only.
    let remote_head = git(remote.path(), &["rev-parse", "refs/heads/main"]);
    let first = git(repo.path(), &["rev-parse", "HEAD~1"]);
    assert_eq!(remote_head.stdout, first.stdout);
}
