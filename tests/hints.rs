//! Every message says something true: the hints and summaries a newcomer found misleading
//! (issue #11), each checked against the real binary and a real server.

mod common;

use std::fs;

use common::{APP_PASSWORD, Cluster, ClusterOptions, Project, cluster, free_port, run, sentry};

/// A user that no pg_hba.conf line allows is not told that the server wants TLS.
#[test]
fn no_pg_hba_entry_is_not_called_tls_only() {
    let pg = Cluster::new(ClusterOptions {
        tls: false,
        start: true,
    });
    let stranger = pg.create_role("stranger-pw");
    let db = pg.create_db();
    // Only the harness's own roles keep a line: `stranger` matches none.
    fs::write(
        pg.data_dir().join("pg_hba.conf"),
        "local all postgres trust\n\
         local all all scram-sha-256\n\
         host all postgres 127.0.0.1/32 trust\n\
         host all app 127.0.0.1/32 scram-sha-256\n",
    )
    .unwrap();
    pg.restart();
    for (sslmode, tls_may_help) in [("disable", true), ("prefer", false)] {
        let url = db.url_with(
            &stranger,
            Some("stranger-pw"),
            "127.0.0.1",
            &format!("sslmode={sslmode}"),
        );
        let out = run(sentry().env("DATABASE_URL", url).arg("ping"));
        out.assert_code(4);
        assert!(
            out.stderr.contains("no pg_hba.conf entry"),
            "{}",
            out.stderr
        );
        assert!(!out.stderr.contains("only accepts TLS"), "{}", out.stderr);
        assert!(
            out.stderr.contains("the database owner has to allow them"),
            "{}",
            out.stderr
        );
        // With prefer, the server offered no TLS: suggesting it would send the user astray.
        assert_eq!(
            out.stderr.contains("sslmode=require"),
            tls_may_help,
            "sslmode={sslmode}: {}",
            out.stderr
        );
    }
}

/// The hint for a missing index may be pasted into a normal migration as it is.
#[test]
fn the_missing_index_hint_works_in_a_normal_migration() {
    let db = cluster().create_db();
    let p = Project::new();
    p.write_migration("0001_t", "CREATE TABLE t (a int);\n");
    p.write_schema("table t\nindex ix_t_a\n");
    let out = p.run(&db, &["run"]);
    out.assert_code(8);
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains("✗ index public.ix_t_a"))
        .unwrap_or_else(|| panic!("{}", out.stderr));
    assert!(
        line.contains("hint: a migration should create it: CREATE INDEX IF NOT EXISTS ix_t_a ON public.<table> (<columns>);"),
        "{line}"
    );
    // CONCURRENTLY is offered only together with what it needs.
    assert!(
        line.contains("CONCURRENTLY IF NOT EXISTS ix_t_a … instead, in a migration of its own whose first line is -- sentry:no-transaction"),
        "{line}"
    );
    // And the plain form is indeed accepted in a normal migration.
    p.write_migration(
        "0002_ix",
        "CREATE INDEX IF NOT EXISTS ix_t_a ON public.t (a);\n",
    );
    p.run(&db, &["run"]).assert_code(0);
}

/// The redacted URL is context: it is shown, and not counted as a problem.
#[test]
fn environment_problems_are_counted_without_the_context_line() {
    let out = run(sentry()
        .env(
            "DATABASE_URL",
            "\"postgres://app:s3cret@db/x?sslmode=requried\"",
        )
        .arg("check-env"));
    out.assert_code(3);
    assert!(
        out.stderr
            .contains("[sentry] DB (redacted): postgres://app:****@db/x?sslmode=requried\n"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("[sentry] ERROR: environment invalid (2 problems):\n"),
        "{}",
        out.stderr
    );
    let bullets = out.stderr.lines().filter(|l| l.starts_with("  - ")).count();
    assert_eq!(bullets, 2, "{}", out.stderr);
    assert!(!out.all().contains("s3cret"));
}

/// `upgrade` verifies nothing and says so by saying nothing about checks; a dry run with
/// pending migrations does not verify the schema they would create.
#[test]
fn upgrade_and_dry_runs_do_not_report_checks_they_did_not_run() {
    let db = cluster().create_db();
    let p = Project::new();
    p.write_migration("0001_t", "CREATE TABLE t (a int);\n");
    p.write_schema("column t.a integer\n");

    let out = p.run(&db, &["run", "--dry-run"]);
    out.assert_code(0);
    assert_eq!(out.stdout.trim(), "would apply 1: 0001_t");
    assert!(
        out.stderr
            .contains("the required schema is verified after the pending migrations run"),
        "{}",
        out.stderr
    );

    let out = p.run(&db, &["upgrade", "--dry-run"]);
    out.assert_code(0);
    assert_eq!(out.stdout.trim(), "would apply 1: 0001_t");

    let out = p.run(&db, &["upgrade"]);
    out.assert_code(0);
    assert_eq!(out.stdout.trim(), "applied 1, stamped 0");

    // Nothing pending: a dry run checks the schema, read-only.
    let out = p.run(&db, &["run", "--dry-run"]);
    out.assert_code(0);
    assert_eq!(out.stdout.trim(), "would apply 0, 1 check passed");

    let out = p.run(&db, &["run"]);
    out.assert_code(0);
    assert_eq!(out.stdout.trim(), "applied 0, stamped 0, 1 check passed");

    // No required schema at all: said as such, not as "0 checks passed".
    fs::remove_file(p.schema_path()).unwrap();
    let out = p.run(&db, &["run"]);
    out.assert_code(0);
    assert_eq!(
        out.stdout.trim(),
        "applied 0, stamped 0, no required schema configured"
    );
}

/// An applied migration whose file was removed keeps `current` at `head`, not past it.
#[test]
fn status_with_a_missing_file_never_shows_current_past_head() {
    let db = cluster().create_db();
    let p = Project::new();
    p.write_migration("0001_a", "CREATE TABLE a (id int);\n");
    p.write_migration("0002_b", "CREATE TABLE b (id int);\n");
    p.run(&db, &["run"]).assert_code(0);
    p.remove_migration("0002_b");
    let out = p.run(&db, &["status"]);
    out.assert_code(0);
    assert!(
        out.stdout
            .contains("current: 0002_b  head: 0002_b  pending: 0  drifted: 0  missing files: 1"),
        "{}",
        out.stdout
    );
    let out = p.run(&db, &["status", "--format", "json"]);
    out.assert_code(0);
    let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(v["current"], "0002_b");
    assert_eq!(v["head"], "0002_b");
    assert_eq!(v["at_head"], true);
}

/// The lock timeout names the configured wait, not a measured "5s 2ms".
#[test]
fn the_lock_timeout_reads_as_the_configured_wait() {
    let db = cluster().create_db();
    let p = Project::new();
    p.write_migration("0001_a", "CREATE TABLE a (id int);\n");
    let mut holder = db.client();
    holder.batch_execute("SELECT pg_advisory_lock(77)").unwrap();
    let out = p.run(&db, &["run", "--lock-key", "77", "--wait-for-lock", "1s"]);
    out.assert_code(5);
    assert!(
        out.stderr.contains(
            "[sentry] ERROR: advisory lock 77 not acquired within --wait-for-lock 1s: another"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("s of --wait-for-lock 1s)"),
        "{}",
        out.stderr
    );
    drop(holder);
}

/// File problems need no database: they are exit 6 even when the database is unreachable
/// (after the environment, which is still checked first).
#[test]
fn a_bad_file_is_exit_6_before_connecting() {
    let p = Project::new();
    p.write_migration("0001_a", "CREATE TABLE a (id int);\n");
    fs::write(p.migrations().join("notes.sql"), "SELECT 1;\n").unwrap();
    let url = format!(
        "postgresql://app:{APP_PASSWORD}@127.0.0.1:{}/x?sslmode=disable",
        free_port()
    );
    for cmd in ["run", "upgrade", "status", "stamp", "repair"] {
        let out = run(sentry()
            .current_dir(p.dir.path().join("cwd"))
            .env("DATABASE_URL", &url)
            .arg("--migrations-dir")
            .arg(p.migrations())
            .arg(cmd));
        out.assert_code(6);
        assert!(out.stderr.contains("notes.sql"), "{cmd}: {}", out.stderr);
        assert!(!out.stderr.contains("DB OK"), "{cmd}: {}", out.stderr);
    }
    // A broken environment is still reported first.
    let out = run(sentry()
        .current_dir(p.dir.path().join("cwd"))
        .env("DATABASE_URL", "postgres://app@/x")
        .arg("--migrations-dir")
        .arg(p.migrations())
        .arg("run"));
    out.assert_code(3);
    // And with the server up, the same folder is still exit 6.
    let db = cluster().create_db();
    p.run(&db, &["run"]).assert_code(6);
}

/// `check` refuses a migration that alters the tracking table's name (golang-migrate's
/// `schema_migrations`, say) and its hint says `--table`: `check` accepts that option, and
/// with it the folder passes.
#[test]
fn the_table_hint_of_check_names_an_option_check_takes() {
    let p = Project::new();
    p.write_migration("0001_t", "CREATE TABLE t (id int);\n");
    p.write_migration(
        "0002_their_table",
        "ALTER TABLE schema_migrations ADD COLUMN data_version int;\n",
    );
    let offline = |args: &[&str]| {
        run(sentry()
            .current_dir(p.dir.path())
            .arg("check")
            .arg("--migrations-dir")
            .arg(p.migrations())
            .args(args))
    };
    let refused = offline(&[]);
    refused.assert_code(6);
    assert!(refused.stderr.contains("--table"), "{}", refused.stderr);
    offline(&["--table", "sentry_migrations"]).assert_code(0);
}
