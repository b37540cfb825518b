//! The migration engine end to end through the real binary: discovery errors, checksums, the
//! tracking table, locking, integrity (drift, out of order, missing files), apply failures and
//! their locations, kill/restart mid-migration, output markers, `status`, `--dry-run`, `stamp`,
//! `repair`, `new`, no-transaction migrations and `--lock-timeout`.
//!
//! Every test has its own temp migrations folder and its own database; the assertions look at
//! the exit code, the database's state (tracking rows, tables) and the key message text.

mod common;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{
    Cluster, ClusterOptions, GroupChild, Outcome, TestDb, cluster, run, sentry, spawn_group,
    wait_until,
};
use sha2::{Digest, Sha256};

const FAILED_7: &str = "=== MIGRATION SENTRY: FAILED (exit 7: migration failed) ===";

/// A temp dir (the sentry's current dir, so no default required-schema file is found) with a
/// `migrations` folder, and a database.
struct Fx<'c> {
    dir: tempfile::TempDir,
    db: TestDb<'c>,
}

impl<'c> Fx<'c> {
    fn on(cluster: &'c Cluster) -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("migrations")).unwrap();
        Fx {
            dir,
            db: cluster.create_db(),
        }
    }

    fn mig_dir(&self) -> PathBuf {
        self.dir.path().join("migrations")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.mig_dir().join(name)
    }

    fn write(&self, name: &str, content: impl AsRef<[u8]>) {
        fs::write(self.path(name), content).unwrap();
    }

    fn remove(&self, name: &str) {
        fs::remove_file(self.path(name)).unwrap();
    }

    /// The binary with `DATABASE_URL` and `--migrations-dir` set.
    fn cmd(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = sentry();
        cmd.current_dir(self.dir.path())
            .env("DATABASE_URL", self.db.url())
            .arg("--migrations-dir")
            .arg(self.mig_dir())
            .args(args);
        cmd
    }

    fn sentry(&self, args: &[&str]) -> Outcome {
        run(&mut self.cmd(args))
    }

    /// Versions recorded in `table`, in order.
    fn versions_in(&self, table: &str) -> Vec<String> {
        self.db
            .client()
            .query(
                &format!("SELECT version::text FROM {table} ORDER BY 1"),
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    fn versions(&self) -> Vec<String> {
        self.versions_in("schema_migrations")
    }

    fn exists(&self, relation: &str) -> bool {
        self.db
            .query_one_string(&format!("SELECT to_regclass('{relation}') IS NOT NULL"))
            == "t"
    }

    fn scalar(&self, sql: &str) -> String {
        self.db.query_one_string(sql)
    }
}

fn fx() -> Fx<'static> {
    Fx::on(cluster())
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn last_line(s: &str) -> &str {
    s.trim_end().lines().last().unwrap_or_default()
}

#[track_caller]
fn assert_contains(out: &Outcome, needle: &str) {
    assert!(
        out.all().contains(needle),
        "expected {needle:?} in the output\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.stdout,
        out.stderr
    );
}

/// Spawns the sentry with stderr going to a file, so that a test can poll what it printed. It
/// is killed if the test fails before waiting for it.
fn spawn_logged(mut cmd: std::process::Command, log: &Path) -> GroupChild {
    let file = fs::File::create(log).unwrap();
    spawn_group(cmd.stdout(Stdio::null()).stderr(file))
}

fn wait_child(child: &mut GroupChild, log: &Path) -> (i32, String) {
    let status = child.wait();
    let mut text = String::new();
    fs::File::open(log)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    (status.code().unwrap_or(-1), text)
}

/// Whether a backend other than the caller's is running a query containing `needle`.
fn query_running(db: &TestDb<'_>, needle: &str) -> bool {
    let mut c = db.client();
    let rows = c
        .query(
            "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() \
             AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE '%' || $1 || '%'",
            &[&needle],
        )
        .unwrap();
    !rows.is_empty()
}

// ---------------------------------------------------------------------------------------------
// 1. Discovery

#[test]
fn discovery_errors_exit_6_naming_the_file_offline_and_in_run() {
    // (file name, content, what the message must contain besides the file name)
    let cases: &[(&str, &[u8], &str)] = &[
        (
            "0002_bad name.sql",
            b"SELECT 1;",
            "not a valid migration name",
        ),
        ("x_0002.sql", b"SELECT 1;", "not a valid migration name"),
        ("001_dup.sql", b"SELECT 1;", "duplicate version"),
        ("notes.sql", b"SELECT 1;", "not a valid migration name"),
        (
            "0009_gone.down.sql",
            b"DROP TABLE x;",
            "rollback file without",
        ),
        (
            "0002_latin1.sql",
            b"SELECT 1;\nSELECT 'caf\xe9';\n",
            "not valid UTF-8",
        ),
        (
            "0002_dollar.sql",
            b"SELECT 1;\nDO $$ BEGIN\n  PERFORM 1;\nEND;\n",
            "0002_dollar.sql:2",
        ),
    ];
    for (name, content, expect) in cases {
        let f = fx();
        f.write("0001_ok.sql", "CREATE TABLE ok (id int);\n");
        f.write("README.md", "not a migration\n");
        f.write(name, content);

        let out = f.sentry(&["check"]);
        assert_eq!(out.code, 6, "check with {name}:\n{}", out.all());
        assert_contains(&out, name);
        assert_contains(&out, expect);
        assert_contains(
            &out,
            "=== MIGRATION SENTRY: FAILED (exit 6: migration set invalid) ===",
        );

        let out = f.sentry(&["run"]);
        assert_eq!(out.code, 6, "run with {name}:\n{}", out.all());
        assert_contains(&out, name);
        assert_contains(&out, expect);
        // Nothing was applied: the folder is refused before anything else.
        assert!(!f.exists("ok"), "{name}: 0001 must not run");
    }
}

#[test]
fn duplicate_versions_with_different_padding_are_refused() {
    let f = fx();
    f.write("0005_a.sql", "SELECT 1;\n");
    f.write("005_b.sql", "SELECT 1;\n");
    let out = f.sentry(&["check"]);
    out.assert_code(6);
    assert_contains(&out, "duplicate version number 5");
    assert_contains(&out, "0005_a.sql");
    assert_contains(&out, "005_b.sql");
    f.sentry(&["run"]).assert_code(6);
}

#[test]
fn check_accepts_a_valid_folder_and_ignores_other_files() {
    let f = fx();
    f.write("0001_a.sql", "CREATE TABLE a (id int);\n");
    f.write("0001_a.down.sql", "DROP TABLE a;\n");
    f.write(
        "0002_b.sql",
        "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\n",
    );
    f.write("README.md", "# migrations\n");
    // check is offline: no DATABASE_URL needed.
    let out = run(sentry()
        .current_dir(f.dir.path())
        .arg("check")
        .arg("--migrations-dir")
        .arg(f.mig_dir()));
    out.assert_code(0);
    assert_contains(&out, "check OK: 2 migrations");
}

// ---------------------------------------------------------------------------------------------
// 2. Checksums

#[test]
fn crlf_and_bom_are_not_drift() {
    let f = fx();
    let lf = "CREATE TABLE crlf (id int);\nINSERT INTO crlf VALUES (1);\n";
    let crlf = format!("\u{feff}{}", lf.replace('\n', "\r\n"));
    f.write("0001_crlf.sql", crlf.as_bytes());
    f.sentry(&["run"]).assert_code(0);
    assert_eq!(
        f.scalar("SELECT checksum FROM schema_migrations"),
        sha256_hex(lf.as_bytes())
    );
    f.write("0001_crlf.sql", lf);
    let out = f.sentry(&["run"]);
    out.assert_code(0);
    assert_contains(&out, "1 applied, 0 pending");
    f.sentry(&["status"]).assert_code(0);
}

// ---------------------------------------------------------------------------------------------
// 3. Tracking table

#[test]
fn tracking_table_has_the_spec_columns() {
    let f = fx();
    f.write("0001_a.sql", "CREATE TABLE a (id int);\n");
    f.sentry(&["run"]).assert_code(0);
    let rows =
        f.db.client()
            .query(
                "SELECT column_name::text, data_type::text, character_maximum_length, \
             is_nullable::text, coalesce(column_default::text, '') \
             FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = 'schema_migrations' \
             ORDER BY ordinal_position",
                &[],
            )
            .unwrap();
    let got: Vec<(String, String, Option<i32>, String, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    let s = |x: &str| x.to_string();
    let expected = vec![
        (
            s("version"),
            s("character varying"),
            Some(255),
            s("NO"),
            s(""),
        ),
        (
            s("applied_at"),
            s("timestamp with time zone"),
            None,
            s("NO"),
            s("now()"),
        ),
        (s("execution_time_ms"), s("integer"), None, s("NO"), s("")),
        (
            s("checksum"),
            s("character varying"),
            Some(64),
            s("NO"),
            s(""),
        ),
        (s("rollback_sql"), s("text"), None, s("YES"), s("")),
        (s("stamped"), s("boolean"), None, s("NO"), s("false")),
        (s("note"), s("text"), None, s("YES"), s("")),
    ];
    assert_eq!(got, expected);
    // version is the primary key.
    assert_eq!(
        f.scalar(
            "SELECT string_agg(a.attname, ',') FROM pg_index i JOIN pg_attribute a \
             ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
             WHERE i.indrelid = 'schema_migrations'::regclass AND i.indisprimary"
        ),
        "version"
    );
}

#[test]
fn qualified_table_option_creates_the_schema() {
    let f = fx();
    f.write("0001_a.sql", "CREATE TABLE a (id int);\n");
    f.sentry(&["--table", "ops.sentry_migrations", "run"])
        .assert_code(0);
    assert_eq!(f.versions_in("ops.sentry_migrations"), ["0001_a"]);
    assert!(!f.exists("public.schema_migrations"));
    // The same option from the environment, after the command.
    let out = run(f
        .cmd(&["status"])
        .env("SENTRY_TABLE", "ops.sentry_migrations"));
    out.assert_code(0);
    assert_contains(&out, "ops.sentry_migrations");
}

#[test]
fn a_foreign_schema_migrations_table_is_refused_with_a_table_hint() {
    let f = fx();
    // dbmate's shape.
    f.db.execute(
        "CREATE TABLE schema_migrations (version varchar PRIMARY KEY); \
         INSERT INTO schema_migrations VALUES ('20240101000000'); \
         ALTER TABLE schema_migrations OWNER TO app;",
    );
    f.write("0001_a.sql", "CREATE TABLE a (id int);\n");
    let out = f.sentry(&["run"]);
    out.assert_code(6);
    assert_contains(&out, "not a migration-sentry tracking table");
    assert_contains(&out, "--table");
    assert!(!f.exists("a"));
    // The foreign table is untouched.
    assert_eq!(f.scalar("SELECT count(*) FROM schema_migrations"), "1");
    // The hint works.
    f.sentry(&["--table", "sentry_migrations", "run"])
        .assert_code(0);
    assert!(f.exists("a"));
}

#[test]
fn an_invalid_table_name_is_exit_3() {
    let f = fx();
    f.write("0001_a.sql", "CREATE TABLE a (id int);\n");
    let out = f.sentry(&["--table", "x; drop", "run"]);
    out.assert_code(3);
    assert_contains(&out, "not a valid table name");
    assert!(!f.exists("a"));
}

// ---------------------------------------------------------------------------------------------
// 4. Locking

#[test]
fn eight_concurrent_sentries_apply_each_migration_once() {
    let f = fx();
    f.write("0001_hits.sql", "CREATE TABLE hits (n int NOT NULL);\n");
    f.write("0002_two.sql", "INSERT INTO hits VALUES (2);\n");
    f.write(
        "0003_slow.sql",
        "SELECT pg_sleep(0.3);\nINSERT INTO hits VALUES (3);\n",
    );
    f.write("0004_four.sql", "INSERT INTO hits VALUES (4);\n");
    f.write("0005_five.sql", "INSERT INTO hits VALUES (5);\n");
    let children: Vec<_> = (0..8)
        .map(|_| {
            spawn_group(
                f.cmd(&["run"])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped()),
            )
        })
        .collect();
    for child in children {
        let out = child.wait_with_output();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        f.versions(),
        [
            "0001_hits",
            "0002_two",
            "0003_slow",
            "0004_four",
            "0005_five"
        ]
    );
    assert_eq!(
        f.scalar("SELECT string_agg(n::text, ',' ORDER BY n) FROM hits"),
        "2,3,4,5"
    );
}

#[test]
fn a_held_lock_times_out_with_exit_5_then_is_waited_for() {
    let f = fx();
    f.write("0001_a.sql", "CREATE TABLE a (id int);\n");
    let key: i64 = 7_340_000_000_000 + i64::from(std::process::id());
    let key_s = key.to_string();
    let mut holder = f.db.client();
    let holder_pid: i32 = holder
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    holder
        .execute("SELECT pg_advisory_lock($1)", &[&key])
        .unwrap();

    let out = f.sentry(&["--lock-key", &key_s, "--wait-for-lock", "1s", "run"]);
    out.assert_code(5);
    assert_contains(&out, &format!("pid {holder_pid}"));
    // It said it was waiting, and for whom, before giving up.
    assert_contains(&out, "waiting for advisory lock");
    assert_contains(&out, "FAILED (exit 5: advisory lock not acquired)");
    assert!(!f.exists("a"));

    // A longer wait: the sentry says it is waiting, then proceeds once the holder lets go.
    let log = f.dir.path().join("lock.log");
    let mut child = spawn_logged(
        f.cmd(&["--lock-key", &key_s, "--wait-for-lock", "60s", "run"]),
        &log,
    );
    assert!(
        wait_until(Duration::from_secs(20), || fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("waiting for advisory lock")),
        "no progress line: {}",
        fs::read_to_string(&log).unwrap_or_default()
    );
    assert!(!f.exists("a"), "applied while the lock was held");
    holder
        .execute("SELECT pg_advisory_unlock($1)", &[&key])
        .unwrap();
    let (code, stderr) = wait_child(&mut child, &log);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("lock acquired"), "{stderr}");
    assert_eq!(f.versions(), ["0001_a"]);
}

// ---------------------------------------------------------------------------------------------
// 5. Integrity

#[test]
fn drift_is_exit_6_with_both_checksums_and_repair_accepts_it() {
    let f = fx();
    let v1 = "CREATE TABLE a (id int);\n";
    let v2 = "CREATE TABLE a (id int); -- reviewed edit\n";
    f.write("0001_a.sql", v1);
    f.sentry(&["run"]).assert_code(0);
    f.write("0001_a.sql", v2);
    f.write("0002_b.sql", "CREATE TABLE b (id int);\n");
    let (old, new) = (sha256_hex(v1.as_bytes()), sha256_hex(v2.as_bytes()));

    let out = f.sentry(&["run"]);
    out.assert_code(6);
    assert_contains(&out, "checksum drift");
    assert_contains(&out, &old[..12]);
    assert_contains(&out, &new[..12]);
    assert_contains(&out, "migration-sentry repair");
    assert!(!f.exists("b"), "nothing may be applied with drift");

    let status = f.sentry(&["status"]);
    status.assert_code(6);
    assert_contains(&status, "DRIFTED");

    let out = f.sentry(&["repair"]);
    out.assert_code(0);
    assert_contains(&out, "repaired 1: 0001_a");
    assert_eq!(
        f.scalar("SELECT checksum FROM schema_migrations WHERE version = '0001_a'"),
        new
    );
    assert!(
        f.scalar("SELECT note FROM schema_migrations WHERE version = '0001_a'")
            .contains("repaired")
    );
    f.sentry(&["run"]).assert_code(0);
    assert_eq!(f.versions(), ["0001_a", "0002_b"]);
}

#[test]
fn out_of_order_is_refused_unless_allowed() {
    let f = fx();
    f.write("0001_a.sql", "CREATE TABLE a (id int);\n");
    f.write("0003_c.sql", "CREATE TABLE c (id int);\n");
    f.sentry(&["run"]).assert_code(0);
    f.write("0002_b.sql", "CREATE TABLE b (id int);\n");
    let out = f.sentry(&["run"]);
    out.assert_code(6);
    assert_contains(&out, "out-of-order migration: 0002_b");
    assert_contains(&out, "--allow-out-of-order");
    assert!(!f.exists("b"));
    f.sentry(&["run", "--allow-out-of-order"]).assert_code(0);
    assert!(f.exists("b"));
    assert_eq!(f.versions(), ["0001_a", "0002_b", "0003_c"]);
}

#[test]
fn a_deleted_applied_file_warns_or_fails_without_stamp_recovery() {
    let f = fx();
    f.write("0001_a.sql", "CREATE TABLE a (id int);\n");
    f.write("0002_b.sql", "CREATE TABLE b (id int);\n");
    f.sentry(&["run"]).assert_code(0);
    f.remove("0001_a.sql");
    let out = f.sentry(&["run"]);
    out.assert_code(0);
    assert_contains(
        &out,
        "WARNING: 0001_a is recorded as applied but its file is not",
    );
    let out = f.sentry(&["--no-stamp-recovery", "run"]);
    out.assert_code(6);
    assert_contains(&out, "applied migration 0001_a");
    // Kept as history either way.
    assert_eq!(f.versions(), ["0001_a", "0002_b"]);
}

// ---------------------------------------------------------------------------------------------
// 6. Apply failures

/// Runs with `0002_bad.sql` = `sql` after a good 0001, and checks what every failure shares.
fn failing_run(f: &Fx<'_>, sql: &str) -> Outcome {
    f.write("0002_bad.sql", sql);
    let out = f.sentry(&["run"]);
    out.assert_code(7);
    assert_eq!(last_line(&out.stderr), FAILED_7, "{}", out.stderr);
    assert_eq!(f.versions(), ["0001_ok"], "{}", out.stderr);
    assert!(f.exists("ok"));
    assert!(
        !f.exists("early"),
        "the failed migration was not rolled back"
    );
    assert_contains(&out, "rolled back");
    out
}

#[test]
fn failures_are_located_rolled_back_and_not_recorded() {
    let f = fx();
    f.write("0001_ok.sql", "CREATE TABLE ok (id int);\n");
    f.sentry(&["run"]).assert_code(0);
    let file = f.path("0002_bad.sql").display().to_string();

    // A syntax error on line 3, column 8.
    let out = failing_run(
        &f,
        "CREATE TABLE early (id int);\nINSERT INTO early VALUES (1);\nCREATE TABLEE x ();\n",
    );
    assert_contains(&out, &format!("{file}:3:8"));
    assert_contains(&out, "SQLSTATE 42601");
    assert_contains(&out, "| CREATE TABLEE x ();");

    // A runtime error inside a DO block: the file line of the RAISE.
    let out = failing_run(
        &f,
        "CREATE TABLE early (id int);\n\
         DO $$\n\
         BEGIN\n  \
           PERFORM 1;\n  \
           RAISE EXCEPTION 'boom';\n\
         END $$;\n",
    );
    assert_contains(&out, &format!("{file}:5"));
    assert_contains(&out, "SQLSTATE P0001: boom");
    assert_contains(&out, "RAISE EXCEPTION 'boom';");

    // Division by zero in a DO block body on line 4.
    let out = failing_run(
        &f,
        "CREATE TABLE early (id int);\nDO $$ BEGIN\n  PERFORM 1;\n  PERFORM 1/0;\nEND $$;\n",
    );
    assert_contains(&out, &format!("{file}:4"));
    assert_contains(&out, "SQLSTATE 22012");

    // A unique violation: detail shown, the statement's line.
    let out = failing_run(
        &f,
        "CREATE TABLE early (id int PRIMARY KEY);\nINSERT INTO early VALUES (1);\n\
         INSERT INTO early VALUES (1);\n",
    );
    assert_contains(&out, &format!("{file}:3"));
    assert_contains(&out, "SQLSTATE 23505");
    assert_contains(&out, "detail: Key (id)=(1) already exists.");
    assert_contains(&out, "| INSERT INTO early VALUES (1);");

    // Fixed (never applied, so no drift): it goes through.
    f.write("0002_bad.sql", "CREATE TABLE early (id int);\n");
    f.sentry(&["run"]).assert_code(0);
    assert_eq!(f.versions(), ["0001_ok", "0002_bad"]);
}

// ---------------------------------------------------------------------------------------------
// 7. Kill / restart

#[test]
fn killing_the_sentry_mid_migration_commits_nothing_of_it() {
    let f = fx();
    // The server notices the dead client during pg_sleep instead of after it.
    f.db.execute(&format!(
        "ALTER DATABASE {} SET client_connection_check_interval = '100ms'",
        f.db.name
    ));
    f.write("0001_first.sql", "CREATE TABLE first (id int);\n");
    f.write(
        "0002_second.sql",
        "CREATE TABLE second (id int);\nSELECT pg_sleep(30);\n",
    );
    let log = f.dir.path().join("kill.log");
    let mut child = spawn_logged(f.cmd(&["run"]), &log);
    assert!(
        wait_until(Duration::from_secs(20), || query_running(
            &f.db,
            "pg_sleep(30)"
        )),
        "the migration never started"
    );
    child.kill();
    let (code, _) = wait_child(&mut child, &log);
    assert_eq!(code, -1, "killed by a signal");
    assert!(
        wait_until(Duration::from_secs(20), || !query_running(
            &f.db,
            "pg_sleep(30)"
        )),
        "the orphaned backend kept running"
    );
    assert_eq!(f.versions(), ["0001_first"]);
    assert!(f.exists("first"));
    assert!(!f.exists("second"));

    f.write(
        "0002_second.sql",
        "CREATE TABLE second (id int);\nSELECT pg_sleep(0.01);\n",
    );
    f.sentry(&["run"]).assert_code(0);
    assert_eq!(f.versions(), ["0001_first", "0002_second"]);
    assert!(f.exists("second"));
}

#[test]
fn a_server_restart_or_crash_mid_migration_is_exit_4_and_a_rerun_completes() {
    let c = Cluster::new(ClusterOptions {
        tls: false,
        start: true,
    });
    for (round, crash) in [(1, false), (2, true)] {
        let f = Fx::on(&c);
        f.write("0001_first.sql", "CREATE TABLE first (id int);\n");
        f.write(
            "0002_second.sql",
            "CREATE TABLE second (id int);\nSELECT pg_sleep(30);\n",
        );
        let log = f.dir.path().join("restart.log");
        let mut child = spawn_logged(f.cmd(&["run"]), &log);
        assert!(
            wait_until(Duration::from_secs(20), || query_running(
                &f.db,
                "pg_sleep(30)"
            )),
            "round {round}: the migration never started"
        );
        if crash {
            c.kill();
            c.start();
        } else {
            c.restart();
        }
        let (code, stderr) = wait_child(&mut child, &log);
        assert_eq!(code, 4, "round {round}:\n{stderr}");
        assert!(
            stderr.contains("FAILED (exit 4: database unreachable)"),
            "round {round}:\n{stderr}"
        );
        assert!(!stderr.contains(common::APP_PASSWORD));
        assert!(!f.exists("second"), "round {round}");
        if crash {
            // The harness runs the cluster with synchronous_commit = off, and the sentry commits
            // all but the last migration of a batch asynchronously: a crash may lose 0001 too,
            // but only together with its row.
            let recorded = f.exists("schema_migrations") && f.versions() == ["0001_first"];
            assert_eq!(
                recorded,
                f.exists("first"),
                "round {round}: half-applied 0001"
            );
            if f.exists("schema_migrations") {
                assert!(f.versions().len() <= 1, "round {round}: {:?}", f.versions());
            }
        } else {
            assert_eq!(f.versions(), ["0001_first"], "round {round}");
            assert!(f.exists("first"));
        }

        f.write(
            "0002_second.sql",
            "CREATE TABLE second (id int);\nSELECT pg_sleep(0.01);\n",
        );
        f.sentry(&["run"]).assert_code(0);
        assert_eq!(f.versions(), ["0001_first", "0002_second"]);
    }
}

// ---------------------------------------------------------------------------------------------
// 8. Output

#[test]
fn default_output_has_the_spec_markers_in_order() {
    let f = fx();
    f.write("0001_a.sql", "CREATE TABLE a (id int);\n");
    f.write("0002_b.sql", "CREATE TABLE b (id int);\n");
    let out = f.sentry(&["run"]);
    out.assert_code(0);
    let markers = [
        "=== MIGRATION SENTRY 0.1.0: starting ===",
        "[sentry] env OK: DATABASE_URL",
        "[sentry] DB (redacted): postgresql://app:****@127.0.0.1:",
        "[sentry] DB OK: ",
        "[sentry] lock acquired (key ",
        "=== MIGRATION SENTRY: upgrade (verbose) ===",
        "[sentry] 0 applied, 2 pending",
        "[sentry] → 0001_a",
        "[sentry] ✓ 0001_a (",
        "[sentry] → 0002_b",
        "[sentry] ✓ 0002_b (",
        "=== MIGRATION SENTRY: success ===",
    ];
    let mut at = 0;
    for m in markers {
        match out.stderr[at..].find(m) {
            Some(i) => at += i + m.len(),
            None => panic!("{m:?} missing or out of order in\n{}", out.stderr),
        }
    }
    assert!(out.stderr.contains(" ms)"), "{}", out.stderr);
    assert_eq!(last_line(&out.stderr), "=== MIGRATION SENTRY: success ===");
    assert!(!out.all().contains(common::APP_PASSWORD));
    assert!(!out.stderr.contains("CREATE TABLE"), "SQL only with -v");
    assert_contains(&out, "applied 2, stamped 0");
}

#[test]
fn verbose_shows_sql_and_notices_and_vv_the_round_trips() {
    let f = fx();
    f.write(
        "0001_notice.sql",
        "CREATE TABLE noticed (id int);\nDO $$ BEGIN RAISE NOTICE 'hello-notice'; END $$;\n",
    );
    let out = f.sentry(&["-v", "upgrade"]);
    out.assert_code(0);
    assert_contains(&out, "CREATE TABLE noticed (id int);");
    assert_contains(&out, "hello-notice");
    assert!(!out.stderr.contains("tokio_postgres"), "{}", out.stderr);

    f.write("0002_more.sql", "CREATE TABLE more (id int);\n");
    let out = f.sentry(&["-vv", "upgrade"]);
    out.assert_code(0);
    assert_contains(&out, "tokio_postgres");
    assert_contains(&out, "CREATE TABLE more (id int);");
    assert!(!out.all().contains(common::APP_PASSWORD));
}

// ---------------------------------------------------------------------------------------------
// 9. status

#[test]
fn status_reports_in_text_and_json_and_is_read_only() {
    let f = fx();
    // 0001 takes at least 200 ms, so its reported execution time says something.
    let a_sql = "CREATE TABLE a (id int);\nSELECT pg_sleep(0.2);\n";
    f.write("0001_a.sql", a_sql);
    f.write("0002_b.sql", "CREATE TABLE b (id int);\n");

    // Fresh database: pending, and the tracking table is not created.
    let out = f.sentry(&["status"]);
    out.assert_code(9);
    assert!(!f.exists("schema_migrations"), "status must be read-only");
    assert_contains(&out, "0001_a");
    assert_contains(&out, "pending");
    assert_contains(&out, "FAILED (exit 9: migrations are pending)");

    f.sentry(&["run"]).assert_code(0);
    f.write("0003_c.sql", "CREATE TABLE c (id int);\n");
    let out = f.sentry(&["status", "--format", "json"]);
    out.assert_code(9);
    let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).expect(&out.stdout);
    for key in [
        "migrated",
        "database",
        "current",
        "head",
        "at_head",
        "applied",
        "pending",
        "drifted",
        "missing_files",
        "checks",
    ] {
        assert!(v.get(key).is_some(), "key {key} missing in {v}");
    }
    assert_eq!(v["migrated"], false);
    assert_eq!(v["database"], f.db.name.as_str());
    assert_eq!(v["current"], "0002_b");
    assert_eq!(v["head"], "0003_c");
    assert_eq!(v["at_head"], false);
    assert_eq!(v["pending"], serde_json::json!(["0003_c"]));
    assert_eq!(v["drifted"], serde_json::json!([]));
    assert_eq!(v["missing_files"], serde_json::json!([]));
    assert!(v["checks"].is_object());
    let applied = v["applied"].as_array().unwrap();
    assert_eq!(applied.len(), 2);
    let a = &applied[0];
    assert_eq!(a["version"], "0001_a");
    // What the tracking row holds, the time in UTC to the millisecond.
    assert_eq!(
        a["applied_at"].as_str(),
        Some(
            f.scalar(
                "SELECT to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') \
                 FROM schema_migrations WHERE version = '0001_a'"
            )
            .as_str()
        ),
        "{a}"
    );
    let ms = a["execution_time_ms"].as_i64().expect("execution_time_ms");
    assert!(ms >= 200, "0001_a sleeps 200 ms, reported {ms} ms");
    assert_eq!(
        ms.to_string(),
        f.scalar("SELECT execution_time_ms FROM schema_migrations WHERE version = '0001_a'")
    );
    assert_eq!(a["checksum"], sha256_hex(a_sql.as_bytes()).as_str());
    assert_eq!(a["stamped"], false);

    f.sentry(&["run"]).assert_code(0);
    let out = f.sentry(&["status", "--format", "json"]);
    out.assert_code(0);
    let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(v["migrated"], true);
    assert_eq!(v["at_head"], true);
    assert_eq!(v["current"], "0003_c");
    let out = f.sentry(&["status"]);
    out.assert_code(0);
    assert_contains(&out, "current: 0003_c  head: 0003_c  pending: 0");

    f.write("0002_b.sql", "CREATE TABLE b (id bigint);\n");
    let out = f.sentry(&["status", "--format", "json"]);
    out.assert_code(6);
    let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(v["drifted"], serde_json::json!(["0002_b"]));
    assert_eq!(v["migrated"], false);
}

// ---------------------------------------------------------------------------------------------
// 10. --dry-run

#[test]
fn dry_run_changes_nothing() {
    let f = fx();
    f.write("0001_a.sql", "CREATE TABLE a (id int);\n");
    f.write("0002_b.sql", "CREATE TABLE b (id int);\n");
    for cmd in ["run", "upgrade"] {
        let out = f.sentry(&[cmd, "--dry-run"]);
        out.assert_code(0);
        assert_contains(&out, "would apply 0001_a");
        assert_contains(&out, "would apply 0002_b");
        assert_contains(&out, "would apply 2");
        assert!(!f.exists("schema_migrations"), "{cmd} --dry-run");
        assert!(!f.exists("a"), "{cmd} --dry-run");
    }
    let out = f.sentry(&["stamp", "--dry-run"]);
    out.assert_code(0);
    assert_contains(&out, "would stamp 2: 0001_a, 0002_b");
    assert!(!f.exists("schema_migrations"));

    // With history: only the pending one is named, and still nothing changes.
    f.remove("0002_b.sql");
    f.sentry(&["run"]).assert_code(0);
    f.write("0002_b.sql", "CREATE TABLE b (id int);\n");
    let out = f.sentry(&["run", "--dry-run"]);
    out.assert_code(0);
    assert_contains(&out, "1 applied, 1 pending");
    assert_contains(&out, "would apply 0002_b");
    assert!(!out.all().contains("would apply 0001_a"));
    let out = f.sentry(&["stamp", "--dry-run", "--to", "0002_b"]);
    out.assert_code(0);
    assert_eq!(f.versions(), ["0001_a"]);
    assert!(!f.exists("b"));
}

// ---------------------------------------------------------------------------------------------
// 11. stamp

#[test]
fn stamp_records_without_running_then_run_applies_the_rest() {
    let f = fx();
    f.write("0001_a.sql", "CREATE TABLE a (id int);\n");
    f.write("0002_x.sql", "CREATE TABLE x (id int);\n");
    f.write("0003_c.sql", "CREATE TABLE c (id int);\n");
    let out = f.sentry(&["stamp", "--to", "0002_x"]);
    out.assert_code(0);
    assert_contains(&out, "stamped 2: 0001_a, 0002_x");
    assert_eq!(f.versions(), ["0001_a", "0002_x"]);
    assert_eq!(
        f.scalar("SELECT bool_and(stamped)::text FROM schema_migrations"),
        "true"
    );
    assert!(!f.exists("a") && !f.exists("x"));

    let out = f.sentry(&["run"]);
    out.assert_code(0);
    assert_contains(&out, "2 applied, 1 pending");
    assert!(f.exists("c"));
    assert!(!f.exists("a"));
    assert_eq!(
        f.scalar("SELECT stamped::text FROM schema_migrations WHERE version = '0003_c'"),
        "false"
    );

    let out = f.sentry(&["stamp", "--to", "0009_nope"]);
    out.assert_code(6);
    assert_contains(&out, "0009_nope");
}

// ---------------------------------------------------------------------------------------------
// 12. new

#[test]
fn new_creates_the_next_numbered_file() {
    let dir = tempfile::tempdir().unwrap();
    let mig = dir.path().join("m");
    fs::create_dir(&mig).unwrap();
    let new = |name: &str| {
        run(sentry()
            .current_dir(dir.path())
            .arg("--migrations-dir")
            .arg(&mig)
            .args(["new", name]))
    };
    let out = new("add_users");
    out.assert_code(0);
    let expected = mig.join("0001_add_users.sql");
    assert!(
        out.stdout.trim_end().ends_with("/0001_add_users.sql"),
        "{}",
        out.stdout
    );
    assert!(expected.is_file());

    let other = tempfile::tempdir().unwrap();
    fs::write(other.path().join("001_a.sql"), "SELECT 1;\n").unwrap();
    let out = run(sentry()
        .current_dir(dir.path())
        .arg("--migrations-dir")
        .arg(other.path())
        .args(["new", "add_users"]));
    out.assert_code(0);
    assert!(out.stdout.trim_end().ends_with("/002_add_users.sql"));
    assert!(other.path().join("002_add_users.sql").is_file());

    // Words are joined with '_', as sqlx does.
    let out = new("add visitor session");
    out.assert_code(0);
    assert!(mig.join("0002_add_visitor_session.sql").is_file());
    // A name already used is refused (exit 2: the argument is wrong, the folder is fine).
    let out = new("add users");
    out.assert_code(2);
    assert_contains(&out, "a migration named add_users already exists");
    let out = new("?!");
    out.assert_code(2);
    assert_contains(&out, "no letters or digits");
    assert_eq!(fs::read_dir(&mig).unwrap().count(), 2);
}

// ---------------------------------------------------------------------------------------------
// 13. no-transaction

#[test]
fn no_transaction_migrations_and_transaction_control() {
    let f = fx();
    f.write(
        "0001_t.sql",
        "CREATE TABLE t (a int);\nINSERT INTO t SELECT generate_series(1, 100);\n",
    );
    f.write(
        "0002_ix.sql",
        "-- sentry:no-transaction\nCREATE INDEX CONCURRENTLY ix_t_a ON t (a);\n",
    );
    f.sentry(&["check"]).assert_code(0);
    f.sentry(&["run"]).assert_code(0);
    assert!(f.exists("ix_t_a"));
    assert_eq!(
        f.scalar("SELECT indisvalid::text FROM pg_index WHERE indexrelid = 'ix_t_a'::regclass"),
        "true"
    );
    assert_eq!(f.versions(), ["0001_t", "0002_ix"]);

    // The same statement in a transactional migration.
    f.write(
        "0003_ix2.sql",
        "CREATE INDEX CONCURRENTLY ix_t_a2 ON t (a);\n",
    );
    for cmd in ["check", "run"] {
        let out = f.sentry(&[cmd]);
        out.assert_code(6);
        assert_contains(&out, "0003_ix2.sql:1");
        assert_contains(&out, "cannot run inside a transaction block");
        assert_contains(&out, "-- sentry:no-transaction");
    }
    assert!(!f.exists("ix_t_a2"));

    f.write(
        "0003_ix2.sql",
        "CREATE TABLE early (id int);\nCOMMIT;\nCREATE TABLE later (id int);\n",
    );
    for cmd in ["check", "run"] {
        let out = f.sentry(&[cmd]);
        out.assert_code(6);
        assert_contains(&out, "0003_ix2.sql:2");
        assert_contains(&out, "`COMMIT` manages the transaction itself");
        assert_contains(&out, "-- sentry:no-transaction");
    }
    assert!(!f.exists("early"));
    assert_eq!(f.versions(), ["0001_t", "0002_ix"]);
}

// ---------------------------------------------------------------------------------------------
// 14. --lock-timeout

#[test]
fn lock_timeout_fails_fast_with_55p03() {
    let f = fx();
    f.write("0001_t.sql", "CREATE TABLE t (id int);\n");
    f.sentry(&["run"]).assert_code(0);
    f.write("0002_alter.sql", "ALTER TABLE t ADD COLUMN c int;\n");

    let mut holder = f.db.client();
    let mut tx = holder.transaction().unwrap();
    tx.batch_execute("LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let out = f.sentry(&["--lock-timeout", "200ms", "run"]);
    out.assert_code(7);
    assert_contains(&out, "SQLSTATE 55P03");
    assert_contains(&out, "lock timeout");
    assert_contains(&out, "0002_alter.sql");
    assert_eq!(last_line(&out.stderr), FAILED_7);
    tx.rollback().unwrap();
    assert_eq!(f.versions(), ["0001_t"]);
    f.sentry(&["run"]).assert_code(0);
    assert_eq!(
        f.scalar(
            "SELECT count(*) FROM information_schema.columns \
             WHERE table_name = 't' AND column_name = 'c'"
        ),
        "1"
    );
}

// ---------------------------------------------------------------------------------------------
// 15. Tracking row contents

#[test]
fn tracking_rows_store_rollback_sql_time_and_checksum() {
    let f = fx();
    let up = "CREATE TABLE a (id int);\n";
    let down = "DROP TABLE a;\n";
    f.write("0001_a.sql", up);
    f.write("0001_a.down.sql", down);
    f.write("0002_b.sql", "CREATE TABLE b (id int);\n");
    f.sentry(&["run"]).assert_code(0);
    let mut c = f.db.client();
    let row = c
        .query_one(
            "SELECT rollback_sql, execution_time_ms, checksum::text, stamped, note \
             FROM schema_migrations WHERE version = '0001_a'",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, Option<String>>(0).as_deref(), Some(down));
    assert!(row.get::<_, i32>(1) >= 0);
    assert_eq!(row.get::<_, String>(2), sha256_hex(up.as_bytes()));
    assert!(!row.get::<_, bool>(3));
    assert_eq!(row.get::<_, Option<String>>(4), None);
    let row = c
        .query_one(
            "SELECT rollback_sql FROM schema_migrations WHERE version = '0002_b'",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, Option<String>>(0), None);
}

#[test]
fn run_json_reports_the_outcome_on_stdout() {
    let f = fx();
    f.write("0001_a.sql", "CREATE TABLE a (id int);\n");
    let out = f.sentry(&["run", "--format", "json"]);
    out.assert_code(0);
    let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).expect(&out.stdout);
    assert_eq!(v["ok"], true);
    assert_eq!(v["exit_code"], 0);
    assert_eq!(v["applied"], serde_json::json!(["0001_a"]));
    assert_eq!(v["stamped"], serde_json::json!([]));
    assert!(v["checks"].is_object());
    assert!(v["duration_ms"].as_u64().is_some());

    f.write("0002_bad.sql", "SELECT 1/0;\n");
    let out = f.sentry(&["run", "--format", "json"]);
    out.assert_code(7);
    let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).expect(&out.stdout);
    assert_eq!(v["ok"], false);
    assert_eq!(v["exit_code"], 7);
    assert_eq!(v["applied"], serde_json::json!([]));
    assert!(v["error"].as_str().is_some_and(|e| e.contains("22012")));
    assert_eq!(last_line(&out.stderr), FAILED_7);
}
