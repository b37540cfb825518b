//! History you can trust (issue #9, SPEC §5.1–§5.3, §7), end to end through the real binary:
//! adoption of an existing schema all-or-nothing, a tracking table that is the sentry's own
//! (search_path, session settings, corrupt rows, migrations that alter it, panics), migration
//! files that cannot surprise (§5.2), and honest no-transaction failure reports; and that the
//! schema snapshot those checks compare notices a change of every kind.
//!
//! Every test has its own database and project folder.

mod common;
#[path = "support/psql_apply.rs"]
mod psql_apply;
#[path = "support/schema_snapshot.rs"]
mod schema_snapshot;

use std::fs;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Outcome, Project, TestDb, as_app, cluster, run};
use psql_apply::psql_apply;
use schema_snapshot::schema_snapshot;
use sha2::Digest;

const FAILED_1: &str = "=== MIGRATION SENTRY: FAILED (exit 1: unexpected internal error) ===";
const FAILED_6: &str = "=== MIGRATION SENTRY: FAILED (exit 6: migration set invalid) ===";
const FAILED_7: &str = "=== MIGRATION SENTRY: FAILED (exit 7: migration failed) ===";

fn last_line(text: &str) -> &str {
    text.trim_end().lines().last().unwrap_or_default()
}

#[track_caller]
fn assert_has(out: &Outcome, needle: &str) {
    assert!(
        out.all().contains(needle),
        "expected {needle:?} in the output\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.stdout,
        out.stderr
    );
}

fn exists(db: &TestDb, relation: &str) -> bool {
    db.query_one_string(&format!("SELECT to_regclass('{relation}') IS NOT NULL")) == "t"
}

/// Versions recorded in `table`, in order.
fn versions_in(db: &TestDb, table: &str) -> Vec<String> {
    if !exists(db, table) {
        return Vec::new();
    }
    db.client()
        .query(
            &format!("SELECT version FROM {table} ORDER BY version"),
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn versions(db: &TestDb) -> Vec<String> {
    versions_in(db, "public.schema_migrations")
}

/// Runs `cmd` with a deadline: a hang is a test failure, never a stuck test.
fn run_bounded(cmd: &mut Command, limit: Duration) -> Outcome {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the sentry");
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            return Outcome {
                code: out.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            };
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Adoption is all-or-nothing (SPEC §7)

/// The history of a small project: 0002 renames a table that 0001 creates.
fn renaming_history(project: &Project) {
    project.write_migration(
        "0001_users",
        "CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL);\n\
         CREATE TABLE user_notes (id serial PRIMARY KEY, body text);\n",
    );
    project.write_migration(
        "0002_rename_notes",
        "ALTER TABLE user_notes RENAME TO notes;\n\
         ALTER TABLE users ADD COLUMN name text;\n",
    );
    project.write_migration(
        "0003_orders",
        "CREATE TABLE orders (id serial PRIMARY KEY, user_id int REFERENCES users (id));\n",
    );
}

#[test]
fn a_failed_adoption_commits_nothing_and_leaves_the_schema_byte_identical() {
    let project = Project::new();
    let db = cluster().create_db();
    renaming_history(&project);
    // Another tool applied 0001 and 0002; 0003 is new, and 0004 cannot run.
    as_app(
        &db,
        "CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL, name text);\n\
         CREATE TABLE notes (id serial PRIMARY KEY, body text);",
    );
    project.write_migration(
        "0004_broken",
        "CREATE INDEX ix_visits ON visits (user_id);\n",
    );
    let before = schema_snapshot(&db, None);

    let out = project.run(&db, &["run"]);
    out.assert_code(7);
    assert_eq!(schema_snapshot(&db, None), before, "{}", out.stderr);
    assert!(!exists(&db, "public.schema_migrations"));
    assert!(!exists(&db, "public.orders"), "0003 was committed");
    assert!(!exists(&db, "public.user_notes"), "0001 was committed");

    let err = &out.stderr;
    assert!(err.contains("ADOPTING AN EXISTING SCHEMA"), "{err}");
    assert!(err.contains("adoption failed"), "{err}");
    assert!(err.contains(r#"relation "visits" does not exist"#), "{err}");
    assert!(
        err.contains(&format!("{}:1", project.file("0004_broken").display())),
        "{err}"
    );
    assert!(err.contains("nothing of the replay"), "{err}");
    // The database is at 0002 at least, and a trial of what follows shows why no stamp helps:
    // 0003 created its table, so the database is not past it, and 0004's failure is its own
    // (not a sign that it ran before). No stamp is suggested, since none was shown to work.
    assert!(
        err.contains(
            "hint: 0002_rename_notes is the newest migration whose objects the replay found \
             already present"
        ) && err.contains(
            "A trial (rolled back) of the migrations after 0002_rename_notes, applied as `run` \
             would apply them: 0003_orders created objects that did not exist ("
        ) && err.contains("so this database is not past it, and then 0004_broken failed at ")
            && err.contains(
                "a run stops there whatever is stamped, until that failure is fixed. So no stamp \
                 was found that a trial shows applying the rest."
            ),
        "{err}"
    );
    assert_eq!(err.matches("stamp --to ").count(), 0, "{err}");
    assert_eq!(last_line(err), FAILED_7);
}

#[test]
fn an_adoption_that_would_leave_stale_objects_is_rolled_back_and_its_suggestion_converges() {
    let project = Project::new();
    let db = cluster().create_db();
    let reference = cluster().create_db();
    renaming_history(&project);
    let files: Vec<_> = ["0001_users", "0002_rename_notes", "0003_orders"]
        .iter()
        .map(|v| project.file(v))
        .collect();
    psql_apply(&reference, &files);
    psql_apply(&db, &files[..2]);
    let before = schema_snapshot(&db, None);

    // Replaying 0001 would re-create user_notes, which 0002 renamed away: no statement fails,
    // but committing would leave a stale table behind.
    let out = project.run(&db, &["run"]);
    out.assert_code(7);
    assert_eq!(schema_snapshot(&db, None), before, "{}", out.stderr);
    let err = &out.stderr;
    assert!(err.contains("the replay cannot be trusted"), "{err}");
    assert!(
        err.contains("0001_users created objects that did not exist"),
        "{err}"
    );
    assert!(err.contains("stamp --to 0002_rename_notes"), "{err}");
    assert_eq!(last_line(err), FAILED_7);

    // Following the suggestion converges on exactly what psql built.
    project
        .run(&db, &["stamp", "--to", "0002_rename_notes"])
        .assert_code(0);
    project.run(&db, &["run"]).assert_code(0);
    assert_eq!(
        schema_snapshot(&db, Some("public.schema_migrations")),
        schema_snapshot(&reference, None)
    );
    assert_eq!(
        versions(&db),
        ["0001_users", "0002_rename_notes", "0003_orders"]
    );
    project.run(&db, &["run"]).assert_code(0);
}

#[test]
fn a_consistent_adoption_commits_in_one_transaction_with_stamped_rows() {
    let project = Project::new();
    let db = cluster().create_db();
    renaming_history(&project);
    // Applied up to 0001 by hand; then 0002 and 0003 are new.
    as_app(
        &db,
        "CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL);\n\
         CREATE TABLE user_notes (id serial PRIMARY KEY, body text);",
    );
    let out = project.run(&db, &["run"]);
    out.assert_code(0);
    assert!(out.stderr.contains("ADOPTING AN EXISTING SCHEMA"));
    assert_eq!(
        versions(&db),
        ["0001_users", "0002_rename_notes", "0003_orders"]
    );
    assert_eq!(
        db.query_one_string(
            "SELECT string_agg(version || '=' || stamped, ',' ORDER BY version) \
             FROM schema_migrations"
        ),
        "0001_users=true,0002_rename_notes=false,0003_orders=false"
    );
    // One transaction: every row has the same transaction id.
    assert_eq!(
        db.query_one_string("SELECT count(DISTINCT xmin::text) FROM schema_migrations"),
        "1"
    );
    assert!(exists(&db, "public.notes") && !exists(&db, "public.user_notes"));
    project.run(&db, &["run"]).assert_code(0);
}

#[test]
fn an_adoption_with_a_no_transaction_migration_is_refused_before_anything_is_applied() {
    let project = Project::new();
    let db = cluster().create_db();
    renaming_history(&project);
    project.write_migration(
        "0004_index",
        "-- sentry:no-transaction\nCREATE INDEX CONCURRENTLY ix_orders_user ON orders (user_id);\n",
    );
    as_app(
        &db,
        "CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL, name text);\n\
         CREATE TABLE notes (id serial PRIMARY KEY, body text);",
    );
    let before = schema_snapshot(&db, None);
    let out = project.run(&db, &["run"]);
    out.assert_code(6);
    assert_eq!(schema_snapshot(&db, None), before, "{}", out.stderr);
    assert_has(&out, "adoption cannot be all-or-nothing");
    assert_has(&out, &project.file("0004_index").display().to_string());
    assert_has(&out, "stamp --to 0002_rename_notes");
    assert_eq!(last_line(&out.stderr), FAILED_6);

    project
        .run(&db, &["stamp", "--to", "0002_rename_notes"])
        .assert_code(0);
    project.run(&db, &["run"]).assert_code(0);
    assert!(exists(&db, "public.ix_orders_user"));
}

// ---------------------------------------------------------------------------------------------
// 2. The tracking table is the sentry's own (SPEC §5.1)

const PG_DUMP_HEADER: &str = "\
SET statement_timeout = 0;
SET lock_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET client_min_messages = warning;

CREATE TABLE public.accounts (id integer NOT NULL);
";

#[test]
fn a_pg_dump_header_neither_breaks_the_run_nor_the_next_migration() {
    let project = Project::new();
    let db = cluster().create_db();
    project.write_migration("0001_accounts", PG_DUMP_HEADER);
    // Unqualified: needs the search_path the run started with.
    project.write_migration("0002_plans", "CREATE TABLE plans (id int);\n");
    let out = project.run(&db, &["run"]);
    out.assert_code(0);
    assert!(
        out.stderr.lines().any(|l| l.contains("WARNING:")
            && l.contains("0001_accounts left the session setting search_path")
            && l.contains("restored")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("left the session setting client_min_messages"),
        "{}",
        out.stderr
    );
    assert!(exists(&db, "public.plans"));
    assert_eq!(versions(&db), ["0001_accounts", "0002_plans"]);
    let again = project.run(&db, &["run"]);
    again.assert_code(0);
    assert!(
        again.stderr.contains("nothing to apply"),
        "{}",
        again.stderr
    );
}

#[test]
fn a_setting_changed_by_a_function_the_migration_only_calls_is_restored_too() {
    // 0002's text says nothing about settings, so it gets the cheap check (every setting a
    // session can change, compared with its value at the start): the change made inside the
    // function must still be seen. 0003 needs the search_path the run started with.
    let project = Project::new();
    let db = cluster().create_db();
    project.write_migration(
        "0001_helper",
        "CREATE FUNCTION quiet() RETURNS void LANGUAGE plpgsql AS \
         $$BEGIN PERFORM pg_catalog.set_config('search_path', 'pg_catalog', false); \
         PERFORM pg_catalog.set_config('DateStyle', 'SQL, DMY', false); END$$;\n",
    );
    project.write_migration("0002_calls_it", "SELECT quiet();\n");
    project.write_migration("0003_plans", "CREATE TABLE plans (id int);\n");
    let out = project.run(&db, &["run"]);
    out.assert_code(0);
    for setting in ["search_path", "DateStyle"] {
        assert!(
            out.stderr.lines().any(|l| l.contains("WARNING:")
                && l.contains(&format!("0002_calls_it left the session setting {setting}"))),
            "{}",
            out.stderr
        );
    }
    assert!(exists(&db, "public.plans"), "{}", out.stderr);
}

#[test]
fn a_custom_setting_a_migration_sets_for_the_session_is_unset_before_the_next() {
    // A placeholder unknown when the run started: only the full check (chosen because the
    // text has a SET) can see it. 0002 fails if it is still set.
    let project = Project::new();
    let db = cluster().create_db();
    project.write_migration("0001_tenant", "SET app.tenant = 'acme';\nSELECT 1;\n");
    project.write_migration(
        "0002_check",
        "DO $$BEGIN IF coalesce(current_setting('app.tenant', true), '') <> '' THEN \
         RAISE EXCEPTION 'app.tenant is still %', current_setting('app.tenant'); END IF; END$$;\n",
    );
    let out = project.run(&db, &["run"]);
    out.assert_code(0);
    assert!(
        out.stderr
            .contains("0001_tenant left the session setting app.tenant"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_search_path_pointing_at_another_schema_migrations_cannot_divert_history() {
    let project = Project::new();
    let db = cluster().create_db();
    project.write_migration("0001_base", "CREATE TABLE base (id int);\n");
    project.run(&db, &["run"]).assert_code(0);
    // Another schema with a tracking table of the same name and shape.
    as_app(
        &db,
        "CREATE SCHEMA other;\n\
         CREATE TABLE other.schema_migrations (LIKE public.schema_migrations INCLUDING ALL);",
    );
    project.write_migration(
        "0002_switch",
        "SET search_path = other, public;\nCREATE TABLE other_things (id int);\n",
    );
    project.write_migration("0003_after", "CREATE TABLE after_switch (id int);\n");
    let out = project.run(&db, &["run"]);
    out.assert_code(0);
    assert_eq!(versions(&db), ["0001_base", "0002_switch", "0003_after"]);
    assert!(versions_in(&db, "other.schema_migrations").is_empty());
    assert!(exists(&db, "other.other_things"));
    assert!(exists(&db, "public.after_switch"), "{}", out.stderr);
    let again = project.run(&db, &["run"]);
    again.assert_code(0);
    assert!(
        again.stderr.contains("3 applied, 0 pending"),
        "{}",
        again.stderr
    );
}

#[test]
fn a_set_role_is_restored_before_the_next_migration() {
    let project = Project::new();
    let db = cluster().create_db();
    let reader = cluster().create_role("reader-pw-1");
    db.execute(&format!("GRANT {reader} TO app"));
    project.write_migration(
        "0001_as_reader",
        &format!("SET ROLE {reader};\nSELECT 1;\n"),
    );
    // The reader may not create in public: this needs the role the run started with.
    project.write_migration("0002_table", "CREATE TABLE owned (id int);\n");
    let out = project.run(&db, &["run"]);
    out.assert_code(0);
    assert!(
        out.stderr
            .contains("0001_as_reader left the session setting role"),
        "{}",
        out.stderr
    );
    assert_eq!(
        db.query_one_string("SELECT tableowner FROM pg_tables WHERE tablename = 'owned'"),
        "app"
    );
}

#[test]
fn corrupt_tracking_rows_are_exit_6_naming_them_never_a_crash() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "NULL checksum",
            "ALTER TABLE schema_migrations ALTER COLUMN checksum DROP NOT NULL;
             UPDATE schema_migrations SET checksum = NULL;",
            r#"row "0001_a" (ctid (0,2)): NULL in checksum"#,
        ),
        (
            "NULL stamped and applied_at",
            "ALTER TABLE schema_migrations ALTER COLUMN stamped DROP NOT NULL,
                 ALTER COLUMN applied_at DROP NOT NULL;
             UPDATE schema_migrations SET stamped = NULL, applied_at = NULL;",
            "NULL in applied_at, stamped",
        ),
        (
            "duplicate version",
            "ALTER TABLE schema_migrations DROP CONSTRAINT schema_migrations_pkey;
             INSERT INTO schema_migrations SELECT * FROM schema_migrations;",
            r#"row "0001_a": recorded 2 times"#,
        ),
        (
            "leading space",
            "UPDATE schema_migrations SET version = ' ' || version;",
            r#"row " 0001_a""#,
        ),
    ];
    for (what, corrupt, named) in cases {
        let project = Project::new();
        let db = cluster().create_db();
        project.write_migration("0001_a", "CREATE TABLE a (id int);\n");
        project.run(&db, &["run"]).assert_code(0);
        db.execute(corrupt);
        project.write_migration("0002_b", "CREATE TABLE b (id int);\n");
        for cmd in ["run", "status"] {
            let out = project.run(&db, &[cmd]);
            assert_eq!(out.code, 6, "{what} / {cmd}:\n{}", out.stderr);
            assert!(out.stderr.contains("is corrupt"), "{what}: {}", out.stderr);
            assert!(
                out.stderr.contains(named),
                "{what}: {named:?} not in {}",
                out.stderr
            );
            assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
            assert_eq!(last_line(&out.stderr), FAILED_6);
        }
        assert!(!exists(&db, "public.b"), "{what}: 0002 was applied");
    }
}

#[test]
fn odd_but_valid_tracking_values_are_not_corruption() {
    let project = Project::new();
    let db = cluster().create_db();
    project.write_migration("0001_a", "CREATE TABLE a (id int);\n");
    project.run(&db, &["run"]).assert_code(0);
    db.execute(
        "ALTER TABLE schema_migrations ALTER COLUMN version TYPE text, \
             ALTER COLUMN execution_time_ms TYPE bigint;
         UPDATE schema_migrations SET applied_at = 'infinity', checksum = upper(checksum);",
    );
    project.run(&db, &["status"]).assert_code(0);
    let out = project.run(&db, &["run"]);
    out.assert_code(0);
    assert!(
        out.stderr.contains("1 applied, 0 pending"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_panic_prints_the_failed_line_and_exits_1() {
    let out = run(common::sentry()
        .env("MIGRATION_SENTRY_TEST_PANIC", "1")
        .arg("check-env"));
    out.assert_code(1);
    assert!(out.stderr.contains("internal error"), "{}", out.stderr);
    assert_eq!(last_line(&out.stderr), FAILED_1);
}

/// Main's panic handling only works if panics unwind: the release profile must not abort.
#[test]
fn the_release_profile_keeps_panics_unwinding() {
    let toml = fs::read_to_string(common::repo_root().join("Cargo.toml")).unwrap();
    let release = toml
        .split("[profile.release]")
        .nth(1)
        .expect("a [profile.release] section")
        .split("\n[")
        .next()
        .unwrap();
    for line in release.lines() {
        let line = line.split('#').next().unwrap().replace(' ', "");
        assert_ne!(
            line, "panic=\"abort\"",
            "the release profile aborts on panic"
        );
    }
}

#[test]
fn a_migration_altering_the_tracking_table_is_refused_and_table_is_the_way_out() {
    let project = Project::new();
    let db = cluster().create_db();
    // A project that used to keep golang-migrate's table in its own migrations.
    project.write_migration(
        "0001_a",
        "CREATE TABLE a (id int);\n\
         CREATE TABLE IF NOT EXISTS schema_migrations (version bigint PRIMARY KEY);\n",
    );
    project.write_migration(
        "0002_legacy",
        "alter table schema_migrations add column dirty boolean;\n",
    );
    for cmd in ["check", "run"] {
        let out = project.run(&db, &[cmd]);
        out.assert_code(6);
        assert_has(&out, &format!("{}:2", project.file("0001_a").display()));
        assert_has(
            &out,
            &format!("{}:1", project.file("0002_legacy").display()),
        );
        assert_has(
            &out,
            "`alter table schema_migrations add column dirty boolean`",
        );
        assert_has(&out, "changes the tracking table");
        assert_has(&out, "--table");
    }
    assert!(!exists(&db, "public.a"));
    let out = project.run(&db, &["--table", "sentry_migrations", "run"]);
    out.assert_code(0);
    assert_eq!(
        versions_in(&db, "public.sentry_migrations"),
        ["0001_a", "0002_legacy"]
    );
    assert_eq!(
        db.query_one_string(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.sentry_migrations'::regclass \
             AND attname = 'dirty'"
        ),
        "0"
    );
}

#[test]
fn a_migration_altering_the_tracking_table_through_dynamic_sql_is_caught_before_it_commits() {
    let project = Project::new();
    let db = cluster().create_db();
    project.write_migration("0001_a", "CREATE TABLE a (id int);\n");
    project.run(&db, &["run"]).assert_code(0);
    project.write_migration(
        "0002_sneaky",
        "CREATE TABLE b (id int);\n\
         DO $$ BEGIN EXECUTE 'ALTER TABLE schema_' || 'migrations ADD COLUMN dirty boolean'; END $$;\n",
    );
    project.run(&db, &["check"]).assert_code(0);
    let out = project.run(&db, &["run"]);
    out.assert_code(6);
    assert_has(
        &out,
        "0002_sneaky changed the tracking table public.schema_migrations",
    );
    assert_has(&out, "--table");
    assert!(!exists(&db, "public.b"), "the migration was committed");
    assert_eq!(
        db.query_one_string(
            "SELECT count(*) FROM pg_attribute \
             WHERE attrelid = 'schema_migrations'::regclass AND attname = 'dirty'"
        ),
        "0"
    );
    assert_eq!(versions(&db), ["0001_a"]);
}

// ---------------------------------------------------------------------------------------------
// 3. Files that cannot surprise (SPEC §5.2, §5)

/// `check` and `run` both refuse with exit 6, naming `file:line` and `needles`, and nothing of
/// the valid migration before the bad one is applied.
#[track_caller]
fn refused_offline_and_before_anything(project: &Project, db: &TestDb, at: &str, needles: &[&str]) {
    for cmd in ["check", "run"] {
        let out = run_bounded(project.sentry(db).arg(cmd), Duration::from_secs(60));
        out.assert_code(6);
        assert_has(&out, at);
        for n in needles {
            assert_has(&out, n);
        }
        assert_eq!(last_line(&out.stderr), FAILED_6);
    }
    assert!(!exists(db, "public.first"), "a migration was applied");
}

fn with_a_valid_first(project: &Project) {
    project.write_migration("0001_first", "CREATE TABLE first (id int);\n");
}

#[test]
fn a_comment_only_migration_from_new_is_refused() {
    let project = Project::new();
    let db = cluster().create_db();
    with_a_valid_first(&project);
    let created = run(common::sentry()
        .arg("--migrations-dir")
        .arg(project.migrations())
        .args(["new", "add_visitors"]));
    created.assert_code(0);
    let file = project.file("0002_add_visitors");
    refused_offline_and_before_anything(
        &project,
        &db,
        &format!("{}:1", file.display()),
        &["empty migration", "drift"],
    );
    assert!(versions(&db).is_empty());
}

#[test]
fn an_empty_migration_is_never_stamped_and_one_recorded_empty_is_never_repaired() {
    let project = Project::new();
    let db = cluster().create_db();
    with_a_valid_first(&project);
    project.run(&db, &["run"]).assert_code(0);
    let created = run(common::sentry()
        .arg("--migrations-dir")
        .arg(project.migrations())
        .args(["new", "later"]));
    created.assert_code(0);
    let out = project.run(&db, &["stamp"]);
    out.assert_code(6);
    assert_has(&out, "empty migration");
    assert_eq!(versions(&db), ["0001_first"]);

    // As an older sentry would have: recorded while it was still the file `new` created.
    let template = fs::read(project.file("0002_later")).unwrap();
    let checksum: String = sha2::Sha256::digest(&template)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    db.execute(&format!(
        "INSERT INTO schema_migrations (version, execution_time_ms, checksum) \
         VALUES ('0002_later', 0, '{checksum}')"
    ));
    project.write_migration("0002_later", "CREATE TABLE later (id int);\n");
    project.run(&db, &["run"]).assert_code(6);
    let out = project.run(&db, &["repair"]);
    out.assert_code(6);
    assert_has(&out, "while its file held no SQL");
    assert_has(
        &out,
        "DELETE FROM public.schema_migrations WHERE version = '0002_later'",
    );
    db.execute("DELETE FROM schema_migrations WHERE version = '0002_later'");
    project.run(&db, &["run"]).assert_code(0);
    assert!(exists(&db, "public.later"));
}

#[test]
fn a_nul_byte_is_refused_with_its_line_not_reported_as_a_lost_connection() {
    let project = Project::new();
    let db = cluster().create_db();
    with_a_valid_first(&project);
    fs::write(
        project.file("0002_nul"),
        b"CREATE TABLE b (id int);\nINSERT INTO b VALUES (1);\0\n",
    )
    .unwrap();
    refused_offline_and_before_anything(
        &project,
        &db,
        &format!("{}:2", project.file("0002_nul").display()),
        &["NUL byte"],
    );
}

#[test]
fn psql_meta_commands_and_copy_from_stdin_are_refused() {
    let project = Project::new();
    let db = cluster().create_db();
    with_a_valid_first(&project);
    project.write_migration(
        "0002_psql",
        "\\set ON_ERROR_STOP on\nCREATE TABLE b (id int);\n\\i seed.sql\n",
    );
    refused_offline_and_before_anything(
        &project,
        &db,
        &format!("{}:3", project.file("0002_psql").display()),
        &[
            "psql meta-command `\\set ON_ERROR_STOP on`",
            "`\\i seed.sql`",
        ],
    );

    // In a no-transaction file it used to leave a table half-created.
    project.remove_migration("0002_psql");
    project.write_migration(
        "0002_copy",
        "-- sentry:no-transaction\nCREATE TABLE seeded (id int);\n\
         COPY seeded (id) FROM stdin;\n1\n2\n\\.\n",
    );
    refused_offline_and_before_anything(
        &project,
        &db,
        &format!("{}:3", project.file("0002_copy").display()),
        &["`COPY seeded (id) FROM stdin`", "INSERT"],
    );
    assert!(!exists(&db, "public.seeded"));
}

#[test]
fn a_directory_or_fifo_named_like_a_migration_is_refused_without_waiting() {
    let project = Project::new();
    let db = cluster().create_db();
    with_a_valid_first(&project);
    fs::create_dir(project.migrations().join("0005_x.sql")).unwrap();
    let made = Command::new("mkfifo")
        .arg(project.file("0006_pipe"))
        .status()
        .unwrap();
    assert!(made.success());
    refused_offline_and_before_anything(
        &project,
        &db,
        &format!("{}: is a directory", project.file("0005_x").display()),
        &[&format!(
            "{}: is a FIFO",
            project.file("0006_pipe").display()
        )],
    );
}

#[test]
fn an_empty_folder_against_a_database_with_history_is_refused() {
    let project = Project::new();
    let db = cluster().create_db();
    with_a_valid_first(&project);
    project.run(&db, &["run"]).assert_code(0);
    project.remove_migration("0001_first");
    for cmd in ["run", "status"] {
        let out = project.run(&db, &[cmd]);
        out.assert_code(6);
        assert_has(&out, "no migration at all");
        assert_has(&out, "newest: 0001_first");
        assert_eq!(last_line(&out.stderr), FAILED_6);
    }
}

#[test]
fn a_renamed_file_is_never_applied_twice_even_out_of_order_allowed() {
    let project = Project::new();
    let db = cluster().create_db();
    project.write_migration("0001_a", "CREATE TABLE a (id int);\n");
    project.write_migration("0002_b", "INSERT INTO a VALUES (1);\n");
    project.write_migration("0003_c", "CREATE TABLE c (id int);\n");
    project.run(&db, &["run"]).assert_code(0);
    fs::rename(project.file("0002_b"), project.file("0002_b_seed")).unwrap();
    for args in [&["run"][..], &["--allow-out-of-order", "run"][..]] {
        let out = project.run(&db, args);
        out.assert_code(6);
        assert_has(&out, "renamed migration: 0002_b_seed");
        assert_has(&out, "already applied as 0002_b");
    }
    assert_eq!(db.query_one_string("SELECT count(*) FROM a"), "1");
}

#[test]
fn a_golang_migrate_file_is_refused_with_a_hint_that_works() {
    let project = Project::new();
    let db = cluster().create_db();
    let body = "BEGIN;\nCREATE TABLE IF NOT EXISTS users (id bigserial PRIMARY KEY);\n\
                CREATE INDEX IF NOT EXISTS ix_users_id ON users (id);\nCOMMIT;\n";
    project.write_migration("0001_users", body);
    for cmd in ["check", "run"] {
        let out = project.run(&db, &[cmd]);
        out.assert_code(6);
        assert_has(&out, &format!("{}:1", project.file("0001_users").display()));
        assert_has(&out, "`BEGIN` manages the transaction itself");
        assert_has(&out, "`COMMIT` manages the transaction itself");
        assert_has(&out, "-- sentry:no-transaction");
    }
    project.write_migration("0001_users", &format!("-- sentry:no-transaction\n{body}"));
    project.run(&db, &["check"]).assert_code(0);
    project.run(&db, &["run"]).assert_code(0);
    assert!(exists(&db, "public.ix_users_id"));
}

#[test]
fn messages_quote_the_statement_as_written() {
    let project = Project::new();
    let db = cluster().create_db();
    let statement = "create index concurrently ix_Users_Email\n    on users (lower(email))";
    project.write_migration(
        "0001_ix",
        &format!("create table users (email text);\n{statement};\n"),
    );
    let out = project.run(&db, &["check"]);
    out.assert_code(6);
    assert_has(&out, "create index concurrently ix_Users_Email");
    assert_has(&out, "on users (lower(email))");
    assert!(
        !out.stderr.contains("CREATE INDEX CONCURRENTLY"),
        "{}",
        out.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Honest reports (SPEC §5.3)

#[test]
fn a_failed_no_transaction_migration_says_which_statements_stayed_applied() {
    let project = Project::new();
    let db = cluster().create_db();
    project.write_migration("0001_t", "CREATE TABLE t (a int);\n");
    project.run(&db, &["run"]).assert_code(0);
    project.write_migration(
        "0002_ix",
        "-- sentry:no-transaction\n\
         CREATE INDEX CONCURRENTLY ix_t_a ON t (a);\n\
         CREATE TABLE kept (id int);\n\
         BEGIN;\n\
         CREATE TABLE undone (id int);\n\
         CREATE INDEX CONCURRENTLY ix_t_missing ON t (missing);\n\
         COMMIT;\n",
    );
    let out = project.run(&db, &["run"]);
    out.assert_code(7);
    let err = &out.stderr;
    assert!(err.contains("these 2 stayed applied"), "{err}");
    assert!(
        err.contains("line 2: CREATE INDEX CONCURRENTLY ix_t_a ON t (a)"),
        "{err}"
    );
    assert!(err.contains("line 3: CREATE TABLE kept (id int)"), "{err}");
    assert!(!err.contains("line 5: CREATE TABLE undone"), "{err}");
    assert!(
        !err.contains("nothing of it, and no tracking row, was committed"),
        "{err}"
    );
    assert!(err.contains("The next run replays the whole file"), "{err}");
    assert_eq!(last_line(err), FAILED_7);
    assert!(exists(&db, "public.ix_t_a") && exists(&db, "public.kept"));
    assert!(!exists(&db, "public.undone"));
    assert_eq!(versions(&db), ["0001_t"]);

    // Fixed, the next run replays the file: stamp recovery skips what stayed applied.
    project.write_migration(
        "0002_ix",
        "-- sentry:no-transaction\n\
         CREATE INDEX CONCURRENTLY ix_t_a ON t (a);\n\
         CREATE TABLE kept (id int);\n\
         BEGIN;\n\
         CREATE TABLE undone (id int);\n\
         COMMIT;\n",
    );
    project.run(&db, &["run"]).assert_code(0);
    assert!(exists(&db, "public.undone"));
    assert_eq!(versions(&db), ["0001_t", "0002_ix"]);
}

#[test]
fn a_connection_lost_mid_no_transaction_migration_says_what_stayed() {
    let project = Project::new();
    let db = cluster().create_db();
    project.write_migration(
        "0001_slow",
        "-- sentry:no-transaction\n\
         CREATE TABLE one (id int);\n\
         CREATE TABLE two (id int);\n\
         SELECT pg_sleep(60);\n",
    );
    let child = project
        .sentry(&db)
        .arg("run")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let running = common::wait_until(Duration::from_secs(30), || {
        db.query_one_string(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%'",
        ) == "1"
    });
    if running {
        db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE query LIKE 'SELECT pg_sleep(60)%'",
        );
    }
    let out = child.wait_with_output().unwrap();
    assert!(running, "the migration never reached its third statement");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("not atomic"), "{err}");
    assert!(
        err.contains("line 2: CREATE TABLE one (id int); line 3: CREATE TABLE two (id int)"),
        "{err}"
    );
    assert!(
        err.contains("line 4 may or may not have completed"),
        "{err}"
    );
    assert!(!err.contains("nothing was half-applied"), "{err}");
    assert!(exists(&db, "public.one") && exists(&db, "public.two"));
}

#[test]
fn a_no_transaction_migration_failing_first_says_nothing_stayed() {
    let project = Project::new();
    let db = cluster().create_db();
    project.write_migration(
        "0001_ix",
        "-- sentry:no-transaction\nCREATE INDEX CONCURRENTLY ix ON nowhere (a);\n",
    );
    let out = project.run(&db, &["run"]);
    out.assert_code(7);
    assert_has(&out, "none of its statements stayed applied");
}

// ---------------------------------------------------------------------------------------------
// 4b. A failed concurrent index build leaves an INVALID index

/// `users` with two rows that share a nickname, applied as 0001.
fn users_with_duplicate_nicknames(project: &Project, db: &TestDb) {
    project.write_migration(
        "0001_users",
        "CREATE TABLE users (id serial PRIMARY KEY, nickname text);\n\
         INSERT INTO users (nickname) VALUES ('ann'), ('ann'), ('bob');\n",
    );
    project.run(db, &["run"]).assert_code(0);
}

const UNIQUE_NICKNAME: &str = "-- sentry:no-transaction\n\
     CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ux_users_nickname ON users (nickname);\n";

/// `pg_index.indisvalid` of `index`, `None` when there is no such index.
fn index_valid(db: &TestDb, index: &str) -> Option<bool> {
    db.client()
        .query_opt(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)",
            &[&index],
        )
        .unwrap()
        .map(|r| r.get(0))
}

/// Creates `index` INVALID, as a failed build does: a unique concurrent build over duplicates.
fn invalid_index_by_hand(db: &TestDb, index: &str, table_and_columns: &str) {
    let err = db
        .client()
        .batch_execute(&format!(
            "CREATE UNIQUE INDEX CONCURRENTLY {index} ON {table_and_columns}"
        ))
        .unwrap_err();
    assert_eq!(
        err.as_db_error().map(|e| e.code().code()),
        Some("23505"),
        "{err:?}"
    );
    assert_eq!(index_valid(db, index), Some(false));
}

#[test]
fn a_failed_unique_concurrent_index_is_reported_invalid_and_never_recorded() {
    let project = Project::new();
    let db = cluster().create_db();
    users_with_duplicate_nicknames(&project, &db);
    project.write_migration("0002_unique_nickname", UNIQUE_NICKNAME);

    let out = project.run(&db, &["run"]);
    out.assert_code(7);
    for needle in [
        "SQLSTATE 23505: could not create unique index \"ux_users_nickname\"",
        "This is a no-transaction migration: no statement before the failing one had \
         committed, and no tracking row was written.\n    \
         Its failing statement left the index public.ux_users_nickname behind, INVALID: \
         queries never use it, a unique one guarantees nothing, and CREATE INDEX IF NOT EXISTS \
         would skip it. Remove it: DROP INDEX CONCURRENTLY public.ux_users_nickname; then \
         deploy again",
    ] {
        assert_has(&out, needle);
    }
    assert!(
        !out.stderr.contains("none of its statements stayed applied"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("was committed"), "{}", out.stderr);
    assert_eq!(last_line(&out.stderr), FAILED_7);
    assert_eq!(index_valid(&db, "ux_users_nickname"), Some(false));

    // Run again, duplicates still there: the broken index is dropped and built again — which
    // fails again, and the migration is not recorded (IF NOT EXISTS used to make this ✓).
    let out = project.run(&db, &["run"]);
    out.assert_code(7);
    assert_has(
        &out,
        "the index public.ux_users_nickname exists but is INVALID (a CREATE INDEX CONCURRENTLY \
         that failed or was interrupted left it: queries never use it) and this statement \
         creates it: dropping it with DROP INDEX CONCURRENTLY and building it again",
    );
    assert!(
        !out.stderr.contains("✓ 0002_unique_nickname"),
        "{}",
        out.stderr
    );
    assert_has(
        &out,
        "left the index public.ux_users_nickname behind, INVALID",
    );
    assert_eq!(versions(&db), ["0001_users"]);

    // The duplicates fixed, the next run rebuilds it by itself: valid, recorded, not stamped.
    db.execute("DELETE FROM users WHERE id = 2");
    let out = project.run(&db, &["run"]);
    out.assert_code(0);
    assert_has(
        &out,
        "dropping it with DROP INDEX CONCURRENTLY and building it again",
    );
    assert_has(&out, "✓ 0002_unique_nickname");
    assert_eq!(index_valid(&db, "ux_users_nickname"), Some(true));
    assert_eq!(versions(&db), ["0001_users", "0002_unique_nickname"]);
    assert_eq!(
        db.query_one_string(
            "SELECT stamped FROM schema_migrations WHERE version = '0002_unique_nickname'"
        ),
        "f"
    );
    // It is a real unique index now.
    assert!(
        db.client()
            .batch_execute("INSERT INTO users (nickname) VALUES ('bob')")
            .is_err()
    );
}

/// The printed fix, followed as printed: the DROP statement from the report, then a deploy.
/// Without IF NOT EXISTS, too: the "already exists" error of the broken index must not be
/// skipped by stamp recovery.
#[test]
fn the_printed_drop_of_an_invalid_index_then_a_deploy_converges() {
    let project = Project::new();
    let db = cluster().create_db();
    users_with_duplicate_nicknames(&project, &db);
    project.write_migration(
        "0002_unique_nickname",
        "-- sentry:no-transaction\n\
         CREATE UNIQUE INDEX CONCURRENTLY ux_users_nickname ON users (nickname);\n",
    );
    let out = project.run(&db, &["run"]);
    out.assert_code(7);
    let fix = out
        .stderr
        .split("Remove it: ")
        .nth(1)
        .and_then(|rest| rest.split(" then deploy again").next())
        .unwrap_or_else(|| panic!("no fix printed:\n{}", out.stderr))
        .to_string();
    assert_eq!(fix, "DROP INDEX CONCURRENTLY public.ux_users_nickname;");
    db.execute("DELETE FROM users WHERE id = 2");
    db.client().batch_execute(&fix).unwrap();
    assert_eq!(index_valid(&db, "ux_users_nickname"), None);
    let out = project.run(&db, &["run"]);
    out.assert_code(0);
    assert!(!out.stderr.contains("stamp recovery"), "{}", out.stderr);
    assert_eq!(index_valid(&db, "ux_users_nickname"), Some(true));

    // A broken index left behind and a statement without IF NOT EXISTS: its "already exists"
    // error must not be skipped by stamp recovery — the index is dropped and built again.
    as_app(
        &db,
        "CREATE TABLE pets (name text); INSERT INTO pets VALUES ('rex'), ('rex');",
    );
    invalid_index_by_hand(&db, "ux_pets_name", "pets (name)");
    db.execute("DELETE FROM pets WHERE ctid IN (SELECT ctid FROM pets LIMIT 1)");
    project.write_migration(
        "0003_unique_pet",
        "-- sentry:no-transaction\n\
         CREATE UNIQUE INDEX CONCURRENTLY ux_pets_name ON pets (name);\n",
    );
    let out = project.run(&db, &["run"]);
    out.assert_code(0);
    assert_has(
        &out,
        "dropping it with DROP INDEX CONCURRENTLY and building it again",
    );
    assert!(
        !out.stderr.contains("stamp recovery skipped"),
        "{}",
        out.stderr
    );
    assert_eq!(index_valid(&db, "ux_pets_name"), Some(true));
    assert_eq!(
        db.query_one_string(
            "SELECT stamped FROM schema_migrations WHERE version = '0003_unique_pet'"
        ),
        "f"
    );
}

/// An INVALID index that a pending statement would skip (IF NOT EXISTS) or stamp ("already
/// exists"), and that the sentry does not rebuild itself — a transactional CREATE INDEX, or a
/// name on another table — refuses the run before anything is applied, naming it and the fix.
#[test]
fn an_invalid_index_a_pending_migration_would_skip_refuses_the_run_before_anything_is_applied() {
    let project = Project::new();
    let db = cluster().create_db();
    users_with_duplicate_nicknames(&project, &db);
    invalid_index_by_hand(&db, "ux_users_nickname", "users (nickname)");
    invalid_index_by_hand(&db, "\"Shared Name\"", "users (nickname)");
    project.write_migration("0002_other", "CREATE TABLE other (id int);\n");
    project.write_migration(
        "0003_nickname",
        "CREATE INDEX IF NOT EXISTS ux_users_nickname ON public.users (nickname);\n",
    );
    project.write_migration(
        "0004_other_id",
        "-- sentry:no-transaction\n\
         CREATE INDEX CONCURRENTLY IF NOT EXISTS \"Shared Name\" ON other (id);\n",
    );
    let out = project.run(&db, &["run"]);
    out.assert_code(6);
    for needle in [
        "0003_nickname.sql:1: index public.ux_users_nickname exists but is INVALID (a failed \
         CREATE INDEX CONCURRENTLY left it): its IF NOT EXISTS would skip it, and the migration \
         would be recorded with an index that is not there for queries; the sentry rebuilds an \
         INVALID index only for a CREATE INDEX CONCURRENTLY in a -- sentry:no-transaction \
         migration",
        "hint: drop it, then deploy again: DROP INDEX CONCURRENTLY public.ux_users_nickname;",
        "0004_other_id.sql:2: index public.\"Shared Name\" exists but is INVALID",
        "it is on public.users, not on the table this statement indexes",
        "hint: drop it, then deploy again: DROP INDEX CONCURRENTLY public.\"Shared Name\";",
    ] {
        assert_has(&out, needle);
    }
    assert_eq!(last_line(&out.stderr), FAILED_6);
    assert!(!exists(&db, "public.other"), "nothing was applied");
    assert_eq!(versions(&db), ["0001_users"]);

    // The hints, followed: both indexes dropped, then a deploy applies everything.
    db.client()
        .batch_execute("DROP INDEX CONCURRENTLY public.ux_users_nickname;")
        .unwrap();
    db.client()
        .batch_execute("DROP INDEX CONCURRENTLY public.\"Shared Name\";")
        .unwrap();
    project.run(&db, &["run"]).assert_code(0);
    assert_eq!(index_valid(&db, "ux_users_nickname"), Some(true));
    assert_eq!(index_valid(&db, "public.\"Shared Name\""), Some(true));
    assert_eq!(
        db.query_one_string(
            "SELECT indrelid::regclass::text FROM pg_index \
             WHERE indexrelid = 'public.\"Shared Name\"'::regclass"
        ),
        "other"
    );
}

// ---------------------------------------------------------------------------------------------
// 5. The schema snapshot these tests compare (tests/support/schema_snapshot.rs)

/// One or more of each kind of object a migration creates, in a schema of its own.
const SNAPSHOT_BASE: &str = "
CREATE SCHEMA shop;
CREATE TYPE shop.mood AS ENUM ('sad', 'ok');
CREATE DOMAIN shop.positive AS int CHECK (VALUE > 0);
CREATE TYPE shop.pair AS (a int, b text);
CREATE TYPE shop.span AS RANGE (subtype = int4);
CREATE SEQUENCE shop.tickets START 5;
CREATE TABLE shop.items (
    id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    name text NOT NULL DEFAULT 'x',
    note text,
    price shop.positive,
    mood shop.mood,
    total int GENERATED ALWAYS AS (price * 2) STORED,
    CONSTRAINT name_len CHECK (length(name) < 100)
);
CREATE TABLE shop.orders (id serial PRIMARY KEY, item_id int REFERENCES shop.items (id));
CREATE INDEX orders_item ON shop.orders (item_id);
CREATE TABLE shop.parts (id int) PARTITION BY RANGE (id);
CREATE TABLE shop.parts_low PARTITION OF shop.parts FOR VALUES FROM (0) TO (10);
CREATE VIEW shop.cheap AS SELECT id, name FROM shop.items WHERE price < 10;
CREATE MATERIALIZED VIEW shop.counts AS SELECT count(*) AS n FROM shop.orders;
CREATE FUNCTION shop.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE PROCEDURE shop.noop() LANGUAGE sql AS $$ SELECT 1 $$;
CREATE AGGREGATE shop.total(int) (SFUNC = int4pl, STYPE = int, INITCOND = '0');
CREATE TRIGGER items_touch BEFORE UPDATE ON shop.items
    FOR EACH ROW EXECUTE FUNCTION shop.touch();
CREATE RULE orders_log AS ON DELETE TO shop.orders DO ALSO NOTIFY orders;
ALTER TABLE shop.items ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible ON shop.items FOR SELECT USING (price > 0);
CREATE STATISTICS shop.items_stats ON name, mood FROM shop.items;
CREATE FUNCTION shop.on_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
COMMENT ON TABLE shop.items IS 'what we sell';
COMMENT ON COLUMN shop.items.name IS 'shown';
";

/// The entries of `after` that `before` lacks (`+ `) and those it lost (`- `), each by its
/// first line.
fn snapshot_diff(before: &[String], after: &[String]) -> Vec<String> {
    let first = |e: &String| e.lines().next().unwrap_or_default().to_string();
    let mut diff: Vec<String> = after
        .iter()
        .filter(|e| !before.contains(e))
        .map(|e| format!("+ {}", first(e)))
        .collect();
    diff.extend(
        before
            .iter()
            .filter(|e| !after.contains(e))
            .map(|e| format!("- {}", first(e))),
    );
    diff
}

/// The snapshot's entries after `sql`, run (as superuser) in a transaction then rolled back.
fn entries_after(client: &mut postgres::Client, sql: &str, exclude: Option<&str>) -> Vec<String> {
    entries_with_owners_after(client, sql, exclude, false)
}

fn entries_with_owners_after(
    client: &mut postgres::Client,
    sql: &str,
    exclude: Option<&str>,
    with_owners: bool,
) -> Vec<String> {
    let mut tx = client.transaction().unwrap();
    tx.batch_execute(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let entries = schema_snapshot::entries_of(&mut tx, exclude, with_owners);
    tx.rollback().unwrap();
    entries
}

#[test]
fn the_schema_snapshot_notices_a_change_of_every_kind() {
    let db = cluster().create_db();
    db.execute(SNAPSHOT_BASE);
    let mut client = db.client();
    let base = schema_snapshot::entries_of(&mut client, None, false);
    // (what changes, the entries that must show it, the change)
    let changes: &[(&str, &str, &str)] = &[
        ("a schema", "schema", "CREATE SCHEMA back_office"),
        ("a table", "relation", "CREATE TABLE shop.more (id int)"),
        (
            "a table's storage option",
            "relation",
            "ALTER TABLE shop.items SET (fillfactor = 70)",
        ),
        (
            "a table's persistence",
            "relation",
            "ALTER TABLE shop.orders SET UNLOGGED",
        ),
        (
            "the RLS flag",
            "relation",
            "ALTER TABLE shop.items DISABLE ROW LEVEL SECURITY",
        ),
        (
            "forced RLS",
            "relation",
            "ALTER TABLE shop.items FORCE ROW LEVEL SECURITY",
        ),
        (
            "a partition bound",
            "relation",
            "ALTER TABLE shop.parts DETACH PARTITION shop.parts_low; \
             ALTER TABLE shop.parts ATTACH PARTITION shop.parts_low FOR VALUES FROM (0) TO (20)",
        ),
        (
            "an added column",
            "column",
            "ALTER TABLE shop.orders ADD COLUMN extra text",
        ),
        (
            "a renamed column",
            "column",
            "ALTER TABLE shop.items RENAME COLUMN note TO remark",
        ),
        (
            "a column type",
            "column",
            "ALTER TABLE shop.items ALTER COLUMN note TYPE varchar(20)",
        ),
        (
            "a column collation",
            "column",
            r#"ALTER TABLE shop.items ALTER COLUMN note TYPE text COLLATE "C""#,
        ),
        (
            "NOT NULL",
            "column",
            "ALTER TABLE shop.items ALTER COLUMN note SET NOT NULL",
        ),
        (
            "an added default",
            "column",
            "ALTER TABLE shop.items ALTER COLUMN note SET DEFAULT 'n'",
        ),
        (
            "a changed default",
            "column",
            "ALTER TABLE shop.items ALTER COLUMN name SET DEFAULT 'y'",
        ),
        (
            "an identity kind",
            "column",
            "ALTER TABLE shop.items ALTER COLUMN id SET GENERATED ALWAYS",
        ),
        (
            "a generated column",
            "column",
            "ALTER TABLE shop.items ALTER COLUMN total DROP EXPRESSION",
        ),
        (
            "column storage",
            "column",
            "ALTER TABLE shop.items ALTER COLUMN note SET STORAGE EXTERNAL",
        ),
        (
            "column statistics",
            "column",
            "ALTER TABLE shop.items ALTER COLUMN note SET STATISTICS 500",
        ),
        (
            "a check",
            "constraint",
            "ALTER TABLE shop.items ADD CONSTRAINT note_len CHECK (length(note) < 5)",
        ),
        (
            "a check's expression",
            "constraint",
            "ALTER TABLE shop.items DROP CONSTRAINT name_len, \
             ADD CONSTRAINT name_len CHECK (length(name) < 99)",
        ),
        (
            "a foreign key's action",
            "constraint",
            "ALTER TABLE shop.orders DROP CONSTRAINT orders_item_id_fkey, \
             ADD CONSTRAINT orders_item_id_fkey FOREIGN KEY (item_id) REFERENCES shop.items (id) \
             ON DELETE CASCADE",
        ),
        (
            "a NOT VALID constraint",
            "constraint",
            "ALTER TABLE shop.items DROP CONSTRAINT name_len, \
             ADD CONSTRAINT name_len CHECK (length(name) < 100) NOT VALID",
        ),
        (
            "an added index",
            "index",
            "CREATE UNIQUE INDEX items_name ON shop.items (name)",
        ),
        (
            "a changed index",
            "index",
            "DROP INDEX shop.orders_item; CREATE INDEX orders_item ON shop.orders (item_id DESC)",
        ),
        (
            "a partial index",
            "index",
            "DROP INDEX shop.orders_item; \
             CREATE INDEX orders_item ON shop.orders (item_id) WHERE item_id > 0",
        ),
        (
            "a view's query",
            "relation",
            "CREATE OR REPLACE VIEW shop.cheap AS SELECT id, name FROM shop.items WHERE price < 20",
        ),
        (
            "a view option",
            "relation",
            "ALTER VIEW shop.cheap SET (security_barrier = true)",
        ),
        (
            "a materialized view's query",
            "relation",
            "DROP MATERIALIZED VIEW shop.counts; \
             CREATE MATERIALIZED VIEW shop.counts AS SELECT count(*) + 1 AS n FROM shop.orders",
        ),
        (
            "a sequence's increment",
            "sequence",
            "ALTER SEQUENCE shop.tickets INCREMENT 2",
        ),
        (
            "a sequence's bounds",
            "sequence",
            "ALTER SEQUENCE shop.tickets MAXVALUE 1000 CYCLE",
        ),
        (
            "a sequence's type",
            "sequence",
            "ALTER SEQUENCE shop.tickets AS int",
        ),
        (
            "a sequence's owner column",
            "sequence",
            "ALTER SEQUENCE shop.tickets OWNED BY shop.items.note",
        ),
        (
            "an identity's start",
            "sequence",
            "ALTER TABLE shop.items ALTER COLUMN id SET START 100",
        ),
        (
            "a function body",
            "function",
            "CREATE OR REPLACE FUNCTION shop.touch() RETURNS trigger LANGUAGE plpgsql \
             AS $$ BEGIN RETURN NULL; END $$",
        ),
        (
            "a function attribute",
            "function",
            "ALTER FUNCTION shop.touch() SECURITY DEFINER",
        ),
        (
            "a function setting",
            "function",
            "ALTER FUNCTION shop.touch() SET search_path = shop",
        ),
        (
            "a procedure body",
            "function",
            "CREATE OR REPLACE PROCEDURE shop.noop() LANGUAGE sql AS $$ SELECT 2 $$",
        ),
        (
            "an aggregate",
            "aggregate",
            "DROP AGGREGATE shop.total(int); \
             CREATE AGGREGATE shop.total(int) (SFUNC = int4pl, STYPE = int, INITCOND = '1')",
        ),
        (
            "a trigger's timing",
            "trigger",
            "DROP TRIGGER items_touch ON shop.items; CREATE TRIGGER items_touch AFTER UPDATE \
             ON shop.items FOR EACH ROW EXECUTE FUNCTION shop.touch()",
        ),
        (
            "a disabled trigger",
            "trigger",
            "ALTER TABLE shop.items DISABLE TRIGGER items_touch",
        ),
        (
            "a rule",
            "rule",
            "CREATE OR REPLACE RULE orders_log AS ON DELETE TO shop.orders DO ALSO NOTIFY gone",
        ),
        (
            "an enum label",
            "type",
            "ALTER TYPE shop.mood ADD VALUE 'happy' BEFORE 'ok'",
        ),
        (
            "a renamed enum label",
            "type",
            "ALTER TYPE shop.mood RENAME VALUE 'ok' TO 'fine'",
        ),
        (
            "a domain default",
            "type",
            "ALTER DOMAIN shop.positive SET DEFAULT 1",
        ),
        (
            "a domain NOT NULL",
            "type",
            "ALTER DOMAIN shop.positive SET NOT NULL",
        ),
        (
            "a domain constraint",
            "constraint on domain",
            "ALTER DOMAIN shop.positive ADD CONSTRAINT small CHECK (VALUE < 1000)",
        ),
        (
            "a composite's attribute",
            "column",
            "ALTER TYPE shop.pair ADD ATTRIBUTE c int",
        ),
        (
            "a range type",
            "type",
            "CREATE TYPE shop.span8 AS RANGE (subtype = int8)",
        ),
        (
            "an extension",
            "extension",
            "CREATE EXTENSION citext SCHEMA shop",
        ),
        (
            "a policy's expression",
            "policy",
            "ALTER POLICY visible ON shop.items USING (price > 1)",
        ),
        (
            "a policy's roles",
            "policy",
            "ALTER POLICY visible ON shop.items TO app",
        ),
        (
            "a statistics object",
            "statistics",
            "DROP STATISTICS shop.items_stats; \
             CREATE STATISTICS shop.items_stats (ndistinct) ON name, mood FROM shop.items",
        ),
        (
            "an operator",
            "operator",
            "CREATE OPERATOR shop.=== (LEFTARG = int, RIGHTARG = int, FUNCTION = int4eq)",
        ),
        (
            "a collation",
            "collation",
            r#"CREATE COLLATION shop.plain FROM "C""#,
        ),
        (
            "a text search configuration",
            "text search configuration",
            "CREATE TEXT SEARCH CONFIGURATION shop.words (COPY = simple)",
        ),
        (
            "an event trigger",
            "event trigger",
            "CREATE EVENT TRIGGER on_ddl ON ddl_command_end EXECUTE FUNCTION shop.on_ddl()",
        ),
        (
            "a table comment",
            "comment",
            "COMMENT ON TABLE shop.items IS 'what we buy'",
        ),
        (
            "a column comment",
            "comment",
            "COMMENT ON COLUMN shop.items.name IS NULL",
        ),
        (
            "a function comment",
            "comment",
            "COMMENT ON FUNCTION shop.touch() IS 'stamps'",
        ),
        (
            "a schema comment",
            "comment",
            "COMMENT ON SCHEMA shop IS 'the shop'",
        ),
        (
            "an index comment",
            "comment",
            "COMMENT ON INDEX shop.orders_item IS 'by item'",
        ),
    ];
    for (what, kind, sql) in changes {
        let diff = snapshot_diff(&base, &entries_after(&mut client, sql, None));
        assert!(
            diff.iter().any(|l| l[2..].starts_with(&format!("{kind} "))),
            "{what} ({sql}) must change a {kind} entry; it changed:\n{}",
            diff.join("\n")
        );
    }
    // Exactly: column order alone (the same columns, listed in another order), and an
    // extension alone (what it brings is the extension's, not the schema's).
    let exactly: &[(&str, &str)] = &[
        (
            "DROP TYPE shop.pair; CREATE TYPE shop.pair AS (b text, a int)",
            "column shop.pair ",
        ),
        ("CREATE EXTENSION citext SCHEMA shop", "extension citext "),
    ];
    for (sql, entry) in exactly {
        let diff = snapshot_diff(&base, &entries_after(&mut client, sql, None));
        assert!(
            !diff.is_empty() && diff.iter().all(|l| l[2..].starts_with(entry)),
            "{sql} must change {entry}entries only; it changed:\n{}",
            diff.join("\n")
        );
    }

    // Data, owners, privileges and dropped columns are not the schema.
    let same: &[&str] = &[
        "INSERT INTO shop.items (name, price) VALUES ('a', 1); \
         INSERT INTO shop.orders (item_id) VALUES (1); REFRESH MATERIALIZED VIEW shop.counts; \
         SELECT nextval('shop.tickets')",
        "ALTER TABLE shop.items OWNER TO app; ALTER SCHEMA shop OWNER TO app; \
         ALTER FUNCTION shop.touch() OWNER TO app",
        "GRANT SELECT ON shop.items TO app; GRANT USAGE ON SCHEMA shop TO app",
        "ALTER TABLE shop.orders ADD COLUMN gone int; ALTER TABLE shop.orders DROP COLUMN gone",
        "ANALYZE shop.items",
    ];
    for sql in same {
        let diff = snapshot_diff(&base, &entries_after(&mut client, sql, None));
        assert!(diff.is_empty(), "{sql} changed:\n{}", diff.join("\n"));
    }

    // The snapshot with owners (what tests/rollback.rs compares) notices owners and grants.
    let with_owners = schema_snapshot::entries_of(&mut client, None, true);
    assert!(with_owners.len() > base.len());
    let owner_changes: &[(&str, &str)] = &[
        ("ALTER TABLE shop.items OWNER TO app", "owner"),
        ("ALTER FUNCTION shop.touch() OWNER TO app", "owner"),
        ("ALTER SCHEMA shop OWNER TO app", "owner"),
        ("ALTER TYPE shop.mood OWNER TO app", "owner"),
        ("GRANT SELECT ON shop.items TO app", "privileges"),
        ("GRANT UPDATE (note) ON shop.items TO app", "privileges"),
        (
            "REVOKE EXECUTE ON FUNCTION shop.touch() FROM PUBLIC",
            "privileges",
        ),
        ("GRANT USAGE ON TYPE shop.mood TO app", "privileges"),
        (
            "ALTER DEFAULT PRIVILEGES IN SCHEMA shop GRANT SELECT ON TABLES TO app",
            "default privileges",
        ),
    ];
    for (sql, kind) in owner_changes {
        let after = entries_with_owners_after(&mut client, sql, None, true);
        let diff = snapshot_diff(&with_owners, &after);
        assert!(
            !diff.is_empty() && diff.iter().all(|l| l[2..].starts_with(&format!("{kind} "))),
            "{sql} must change {kind} entries only; it changed:\n{}",
            diff.join("\n")
        );
    }

    // The excluded table takes what belongs to it along.
    let tracking = "CREATE TABLE public.tracked (version text PRIMARY KEY, n serial, \
                    at int GENERATED ALWAYS AS IDENTITY, note text CHECK (note <> '')); \
                    CREATE INDEX tracked_note ON public.tracked (note); \
                    CREATE TRIGGER tracked_touch BEFORE UPDATE ON public.tracked \
                      FOR EACH ROW EXECUTE FUNCTION shop.touch(); \
                    COMMENT ON TABLE public.tracked IS 'history'; \
                    COMMENT ON COLUMN public.tracked.note IS 'why'; \
                    COMMENT ON INDEX public.tracked_note IS 'by note'";
    let diff = snapshot_diff(
        &base,
        &entries_after(&mut client, tracking, Some("public.tracked")),
    );
    assert!(diff.is_empty(), "{}", diff.join("\n"));
    assert_ne!(entries_after(&mut client, tracking, None), base);

    // Nothing above stayed, and another database built alike reads the same, to the byte.
    let text = schema_snapshot(&db, None);
    assert_eq!(text, base.join("\n") + "\n");
    let twin = cluster().create_db();
    twin.execute(SNAPSHOT_BASE);
    assert_eq!(schema_snapshot(&twin, None), text);
}
