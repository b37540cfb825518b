//! Output you can trust (SPEC §4, §8), end to end through the real binary: values from the
//! database, the files and the environment cannot start a line or forge a marker, in the log
//! or in `status`; long echoed input is shortened with a count; the lock holder line says
//! what it cannot see; `--database-url` on the command line is warned about.

mod common;

use common::{Project, cluster, run, sentry};

const FORGED: &str = "=== MIGRATION SENTRY: success ===";

/// Lines of `text` that are (or start like) the success marker.
fn success_lines(text: &str) -> usize {
    text.lines()
        .filter(|l| l.starts_with("=== MIGRATION SENTRY: success"))
        .count()
}

#[test]
fn versions_and_notes_from_the_tracking_table_cannot_forge_a_marker() {
    let db = cluster().create_db();
    let p = Project::new();
    p.write_migration("0001_init", "CREATE TABLE a (id int);\n");
    p.run(&db, &["upgrade"]).assert_code(0);
    // Rows written by something else: a version and notes holding a newline and a marker.
    db.execute(&format!(
        "UPDATE schema_migrations SET stamped = true, note = E'stamped\\r\\n{FORGED}';
         INSERT INTO schema_migrations (version, execution_time_ms, checksum, stamped, note)
         VALUES (E'0000_old\\n{FORGED}', 1, E'abc\\n{FORGED}', true, E'n\\n{FORGED}');"
    ));
    for args in [&["status"][..], &["run"], &["upgrade", "-v"]] {
        let out = p.run(&db, args);
        out.assert_code(0);
        assert_eq!(success_lines(&out.stdout), 0, "{args:?}:\n{}", out.stdout);
        // Exactly one success marker: the real one, last.
        assert_eq!(success_lines(&out.stderr), 1, "{args:?}:\n{}", out.stderr);
        assert!(out.stderr.trim_end().ends_with(FORGED), "{}", out.stderr);
        assert!(
            out.all().contains(&format!("0000_old\\n{FORGED}")),
            "{args:?}: the version is shown escaped:\n{}",
            out.all()
        );
    }
    let out = p.run(&db, &["status"]);
    assert!(
        out.stdout.contains(&format!("stamped\\r\\n{FORGED}")),
        "the note is shown escaped:\n{}",
        out.stdout
    );
    // Without stamp recovery the missing file is a problem: its message names the version,
    // escaped, and the run fails without any success marker.
    let out = p.run(&db, &["status", "--no-stamp-recovery"]);
    out.assert_code(6);
    assert_eq!(success_lines(&out.all()), 0, "{}", out.all());
    assert!(
        out.stderr.contains(&format!("0000_old\\n{FORGED}")),
        "{}",
        out.stderr
    );
    // JSON carries the values themselves, escaped by JSON.
    let out = p.run(&db, &["status", "--format", "json"]);
    out.assert_code(0);
    let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
    let versions: Vec<&str> = v["applied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_str().unwrap())
        .collect();
    assert!(
        versions.contains(&format!("0000_old\n{FORGED}").as_str()),
        "{v}"
    );
}

#[test]
fn a_user_name_with_a_newline_cannot_split_a_log_line() {
    let db = cluster().create_db();
    let user = format!("x\n{FORGED}");
    let url = db.url_with(&user, Some("Some-Pw-5"), "127.0.0.1", "sslmode=disable");
    let dir = tempfile::tempdir().unwrap();
    let out = run(sentry()
        .current_dir(dir.path())
        .env("DATABASE_URL", &url)
        .arg("ping"));
    out.assert_code(4);
    assert_eq!(success_lines(&out.all()), 0, "{}", out.all());
    assert!(
        out.stderr
            .contains(&format!("authentication failed for user \"x\\n{FORGED}\"")),
        "{}",
        out.stderr
    );
    assert!(!out.all().contains("Some-Pw-5"));
}

#[test]
fn a_huge_malformed_required_schema_line_is_shortened_with_a_count() {
    let p = Project::new();
    p.write_migration("0001_init", "CREATE TABLE a (id int);\n");
    let huge = "a".repeat(10 * 1024 * 1024);
    p.write_schema(&format!("table public.a\ntable {huge}!\n"));
    let dir = tempfile::tempdir().unwrap();
    let out = run(sentry()
        .current_dir(dir.path())
        .arg("check")
        .arg("--migrations-dir")
        .arg(p.migrations())
        .arg("--required-schema")
        .arg(p.schema_path()));
    out.assert_code(3);
    assert!(
        out.stderr.len() < 4_000,
        "{} bytes of stderr for one bad line",
        out.stderr.len()
    );
    assert!(
        out.stderr.contains("required_schema.txt:2:"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("more characters)"),
        "the cut is counted:\n{}",
        out.stderr
    );
}

#[test]
fn the_lock_holder_line_names_what_this_role_cannot_see() {
    let db = cluster().create_db();
    let p = Project::new();
    p.write_migration("0001_init", "CREATE TABLE a (id int);\n");
    // The superuser holds the lock; the sentry runs as `app`, which may not see the details
    // of another role's session.
    let mut holder = db.client();
    holder
        .batch_execute("SET application_name = 'psql'; SELECT pg_advisory_lock(4242)")
        .unwrap();
    let out = p.run(
        &db,
        &["upgrade", "--lock-key", "4242", "--wait-for-lock", "1s"],
    );
    out.assert_code(5);
    let pid = holder
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get::<_, i32>(0);
    assert!(
        out.stderr.contains(&format!("held by: pid {pid} (")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(
            "(psql, user postgres; its client, state and duration are hidden from this role: \
             pg_read_all_stats or membership in role postgres would show them)"
        ),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(", ,"), "{}", out.stderr);
    drop(holder);
}

#[test]
fn a_password_on_the_command_line_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let url = "postgres://app:Argv-Pw-8@127.0.0.1:5/db";
    let warning = "--database-url puts the password in the process list";
    let out = run(sentry()
        .current_dir(dir.path())
        .args(["check-env", "--database-url", url]));
    out.assert_code(0);
    assert!(out.stderr.contains(warning), "{}", out.stderr);
    assert!(out.stderr.contains("DATABASE_URL"), "{}", out.stderr);
    assert!(!out.all().contains("Argv-Pw-8"));
    // Before the command, as `--database-url=…`: the same.
    let out = run(sentry()
        .current_dir(dir.path())
        .args([&format!("--database-url={url}"), "check-env"]));
    assert!(out.stderr.contains(warning), "{}", out.stderr);
    // Through the environment, or without a password in it: no warning.
    let out = run(sentry()
        .current_dir(dir.path())
        .env("DATABASE_URL", url)
        .arg("check-env"));
    out.assert_code(0);
    assert!(!out.stderr.contains(warning), "{}", out.stderr);
    let out = run(sentry().current_dir(dir.path()).args([
        "check-env",
        "--database-url",
        "postgres://app@127.0.0.1:5/db",
    ]));
    out.assert_code(0);
    assert!(!out.stderr.contains(warning), "{}", out.stderr);
}

#[test]
fn a_connection_string_echoed_from_the_wrong_option_is_redacted() {
    let dir = tempfile::tempdir().unwrap();
    // clap's usage error echoes the value.
    let out = run(sentry().current_dir(dir.path()).args([
        "--lock-key",
        "postgres://app:Clap-Pw-1@db/x",
        "check-env",
    ]));
    out.assert_code(2);
    assert!(
        out.stderr.contains("postgres://app:****@db/x"),
        "{}",
        out.stderr
    );
    assert!(!out.all().contains("Clap-Pw-1"));
    // The sentry's own echo of a bad --table value.
    let out = run(sentry()
        .current_dir(dir.path())
        .env("DATABASE_URL", "postgres://app:Real-Pw-3@db/x")
        .env("SENTRY_TABLE", "host=db password=Kv-Pw-2 dbname=x")
        .arg("check-env"));
    out.assert_code(3);
    assert!(out.stderr.contains("password=****"), "{}", out.stderr);
    assert!(!out.all().contains("Kv-Pw-2"));
    assert!(!out.all().contains("Real-Pw-3"));
}

/// Without `-q` or `-v`, `RUST_LOG` sets the level, as the options table of
/// docs/operations.md says: `RUST_LOG=warn` is as quiet as `-q`, `RUST_LOG=debug` shows what
/// `-v` shows. A flag wins over it, naming another crate keeps the default, and the FAILED line
/// prints whatever the level.
#[test]
fn rust_log_sets_the_level_when_no_flag_does() {
    let dir = tempfile::tempdir().unwrap();
    let check_env = |rust_log: Option<&str>, flags: &[&str]| {
        let mut cmd = sentry();
        cmd.current_dir(dir.path())
            .env("DATABASE_URL", "postgres://app:pw@db/x")
            .args(flags)
            .arg("check-env");
        if let Some(spec) = rust_log {
            cmd.env("RUST_LOG", spec);
        }
        let out = run(&mut cmd);
        out.assert_code(0);
        out
    };
    let info = "[sentry] env OK: DATABASE_URL";
    assert!(check_env(None, &[]).stderr.contains(info));
    let quiet = check_env(None, &["-q"]);
    let warn = check_env(Some("warn"), &[]);
    assert!(!warn.stderr.contains(info), "{}", warn.stderr);
    assert_eq!(warn.stderr, quiet.stderr);
    assert_eq!(warn.stdout, quiet.stdout);
    assert!(check_env(Some("warn"), &["-v"]).stderr.contains(info));
    assert!(check_env(Some("rustls=debug"), &[]).stderr.contains(info));

    let out = run(sentry()
        .current_dir(dir.path())
        .env("RUST_LOG", "off")
        .arg("check-env"));
    out.assert_code(3);
    assert_eq!(
        out.stderr,
        "=== MIGRATION SENTRY: FAILED (exit 3: environment invalid) ===\n"
    );

    // A debug record of the sentry: the lock released at the end of a run.
    let db = cluster().create_db();
    let p = Project::new();
    let debug = "[sentry] lock released (key ";
    let out = p.run(&db, &["run"]);
    out.assert_code(0);
    assert!(!out.stderr.contains(debug), "{}", out.stderr);
    let out = run(p.sentry(&db).env("RUST_LOG", "debug").arg("run"));
    out.assert_code(0);
    assert!(out.stderr.contains(debug), "{}", out.stderr);
    assert!(p.run(&db, &["run", "-v"]).stderr.contains(debug));
}
