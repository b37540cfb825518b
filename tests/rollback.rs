//! `rollback --to VERSION` end to end through the real binary against real PostgreSQL: several
//! migrations undone with their files deleted (the older-build case), refusals that change
//! nothing (compared with the schema snapshot of tests/support/schema_snapshot.rs, owners and
//! privileges included), a rollback that fails midway, no-transaction rollbacks, timeouts, the
//! dry run (whose script, run by psql, does what the rollback does), a round trip run →
//! rollback → run on the example application, two concurrent rollbacks, a `.down.sql` that
//! differs from the stored one, and `--format json`.

mod common;
#[path = "support/schema_snapshot.rs"]
mod schema_snapshot;

use std::fs;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    Outcome, Project, TestDb, cluster, copy_example_sql, run, sentry, server_is_clean, spawn_group,
    wait_for_statement, wait_until,
};
use schema_snapshot::schema_snapshot_with_owners;
use serde_json::Value;

const FAILED_6: &str = "=== MIGRATION SENTRY: FAILED (exit 6: migration set invalid) ===";
const FAILED_7: &str = "=== MIGRATION SENTRY: FAILED (exit 7: migration failed) ===";

/// Three migrations, each with its `.down.sql`: tables a and b, then a column and an index.
fn three_migrations(p: &Project) {
    p.write_migration("0001_a", "CREATE TABLE a (id int PRIMARY KEY);\n");
    write_down(p, "0001_a", "DROP TABLE a;\n");
    p.write_migration(
        "0002_b",
        "CREATE TABLE b (id int);\nINSERT INTO b VALUES (1);\n",
    );
    write_down(p, "0002_b", "DROP TABLE b;\n");
    p.write_migration(
        "0003_c",
        "ALTER TABLE a ADD COLUMN note text;\nCREATE INDEX ix_a_note ON a (note);\n",
    );
    write_down(
        p,
        "0003_c",
        "DROP INDEX ix_a_note;\nALTER TABLE a DROP COLUMN note;\n",
    );
}

fn write_down(p: &Project, stem: &str, sql: &str) {
    fs::write(p.migrations().join(format!("{stem}.down.sql")), sql).unwrap();
}

fn remove_down(p: &Project, stem: &str) {
    fs::remove_file(p.migrations().join(format!("{stem}.down.sql"))).unwrap();
}

/// Versions recorded in schema_migrations, in order.
fn recorded(db: &TestDb) -> Vec<String> {
    db.client()
        .query(
            "SELECT version::text FROM schema_migrations ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn exists(db: &TestDb, relation: &str) -> bool {
    db.query_one_string(&format!("SELECT to_regclass('{relation}') IS NOT NULL")) == "t"
}

fn has_column(db: &TestDb, table: &str, column: &str) -> bool {
    db.query_one_string(&format!(
        "SELECT count(*) FROM information_schema.columns \
         WHERE table_name = '{table}' AND column_name = '{column}'"
    )) == "1"
}

/// Everything the tracking table holds, as text, to show that a refusal changed nothing.
fn tracking_rows(db: &TestDb) -> String {
    db.query_one_string(
        "SELECT coalesce(string_agg(concat_ws('|', version, checksum, stamped, rollback_sql, note, \
         applied_at), E'\\n' ORDER BY version), '') FROM schema_migrations",
    )
}

fn json(out: &Outcome) -> Value {
    serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}):\n{}", out.stdout))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// Position of `needle` in `hay`, panicking with the text when absent.
#[track_caller]
fn at(hay: &str, needle: &str) -> usize {
    hay.find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in:\n{hay}"))
}

/// The older-build case: the newer migrations' files are gone, and the rollback uses what the
/// tracking table stored, newest first; by number as well as by version; then with no folder.
#[test]
fn several_migrations_roll_back_with_their_files_deleted() {
    let db = cluster().create_db();
    let p = Project::new();
    three_migrations(&p);
    p.run(&db, &["run"]).assert_code(0);
    db.execute("INSERT INTO a (id, note) VALUES (1, 'x')");

    // The previous build knows only 0001_a.
    for stem in ["0002_b", "0003_c"] {
        p.remove_migration(stem);
        remove_down(&p, stem);
    }
    let out = p.run(&db, &["rollback", "--to", "0001_a"]);
    out.assert_code(0);
    assert_eq!(out.stdout, "rolled back 2 (to 0001_a): 0003_c, 0002_b\n");
    let err = &out.stderr;
    assert!(
        at(err, "=== MIGRATION SENTRY: rollback (verbose) ===")
            < at(
                err,
                "[sentry] 3 applied, 2 to roll back (newer than 0001_a), newest first: 0003_c, 0002_b"
            )
    );
    assert!(at(err, "[sentry] ← rolling back 0003_c") < at(err, "[sentry] ✓ rolled back 0003_c ("));
    assert!(at(err, "[sentry] ✓ rolled back 0003_c (") < at(err, "[sentry] ← rolling back 0002_b"));
    assert!(
        err.trim_end()
            .ends_with("=== MIGRATION SENTRY: success ==="),
        "{err}"
    );
    assert_eq!(recorded(&db), ["0001_a"]);
    assert!(!exists(&db, "b") && !exists(&db, "ix_a_note"));
    assert!(!has_column(&db, "a", "note"));
    // 0001_a and its data are untouched.
    assert_eq!(db.query_one_string("SELECT count(*) FROM a"), "1");

    // Nothing newer any more: a second rollback has nothing to do.
    let again = p.run(&db, &["rollback", "--to", "1"]);
    again.assert_code(0);
    assert!(
        again
            .stderr
            .contains("[sentry] nothing to roll back: no applied migration is newer than 1"),
        "{}",
        again.stderr
    );

    // No migrations folder at all, and `--to 0`: everything.
    fs::remove_dir_all(p.migrations()).unwrap();
    let out = p.run(&db, &["rollback", "--to", "0"]);
    out.assert_code(0);
    assert!(
        out.stderr.contains("[sentry] no migrations folder at "),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout, "rolled back 1 (to 0): 0001_a\n");
    assert!(recorded(&db).is_empty());
    assert!(!exists(&db, "a"));
}

/// After a rollback the migrations are pending again when their files exist, and a later
/// `run` applies them cleanly.
#[test]
fn rolled_back_migrations_are_pending_again_and_run_reapplies_them() {
    let db = cluster().create_db();
    let p = Project::new();
    three_migrations(&p);
    p.run(&db, &["run"]).assert_code(0);
    let migrated = schema_snapshot_with_owners(&db);

    p.run(&db, &["rollback", "--to", "0001_a"]).assert_code(0);
    let status = p.run(&db, &["status", "--format", "json"]);
    status.assert_code(9);
    let s = json(&status);
    assert_eq!(strings(&s["pending"]), ["0002_b", "0003_c"]);
    assert_eq!(s["current"], "0001_a");

    let out = p.run(&db, &["run"]);
    out.assert_code(0);
    assert!(
        out.stderr.contains("[sentry] 1 applied, 2 pending")
            && out.stderr.contains("[sentry] ✓ 0003_c ("),
        "{}",
        out.stderr
    );
    assert_eq!(recorded(&db), ["0001_a", "0002_b", "0003_c"]);
    assert_eq!(schema_snapshot_with_owners(&db), migrated);
    p.run(&db, &["status"]).assert_code(0);
}

/// One migration newer than the target has no stored rollback: refused before anything changes,
/// even the newer one that could be undone. An unknown target changes nothing either.
#[test]
fn a_migration_without_rollback_sql_refuses_everything() {
    let db = cluster().create_db();
    let p = Project::new();
    three_migrations(&p);
    remove_down(&p, "0002_b");
    p.run(&db, &["run"]).assert_code(0);
    let (schema, rows) = (schema_snapshot_with_owners(&db), tracking_rows(&db));

    let out = p.run(&db, &["rollback", "--to", "0"]);
    out.assert_code(6);
    let err = &out.stderr;
    let expected = "\
=== MIGRATION SENTRY: rollback (verbose) ===
[sentry] ERROR: migration set invalid (2 problems):
  - 0002_b has no stored rollback SQL (it had no 0002_b.down.sql when it was applied)
      hint: write its reverse by hand and run it in one transaction with the deletion of its row (docs/operations.md §5.6), or roll back to a version at or after it
  - rollback --to 0 refused before changing anything: every migration newer than 0 must be undoable
      hint: nothing was rolled back
=== MIGRATION SENTRY: FAILED (exit 6: migration set invalid) ===
";
    assert!(err.ends_with(expected), "{err}");
    // Listed before anything ran.
    assert!(!err.contains("rolling back"), "{err}");
    assert!(err.trim_end().ends_with(FAILED_6), "{err}");
    assert_eq!(schema_snapshot_with_owners(&db), schema);
    assert_eq!(tracking_rows(&db), rows);

    let unknown = p.run(&db, &["rollback", "--to", "0002_bb"]);
    unknown.assert_code(6);
    assert!(
        unknown.stderr.contains(
            "rollback --to 0002_bb: no applied migration has that version in public.schema_migrations \
             (newest applied: 0003_c, 0002_b, 0001_a)"
        ),
        "{}",
        unknown.stderr
    );
    assert_eq!(schema_snapshot_with_owners(&db), schema);
    assert_eq!(tracking_rows(&db), rows);

    // Rolling back only what is newer than it is fine.
    p.run(&db, &["rollback", "--to", "0002_b"]).assert_code(0);
    assert_eq!(recorded(&db), ["0001_a", "0002_b"]);
}

/// A stamped migration's stored rollback may not match what exists: refused.
#[test]
fn a_stamped_migration_is_refused() {
    let db = cluster().create_db();
    let p = Project::new();
    three_migrations(&p);
    p.run(&db, &["upgrade"]).assert_code(0);
    p.write_migration("0004_d", "CREATE TABLE d (id int);\n");
    write_down(&p, "0004_d", "DROP TABLE d;\n");
    p.run(&db, &["stamp"]).assert_code(0);
    let (schema, rows) = (schema_snapshot_with_owners(&db), tracking_rows(&db));

    let out = p.run(&db, &["rollback", "--to", "2"]);
    out.assert_code(6);
    assert!(
        out.stderr.contains(
            "  - 0004_d was stamped (recorded without running all of its SQL), so its stored \
             rollback may not match what exists"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(schema_snapshot_with_owners(&db), schema);
    assert_eq!(tracking_rows(&db), rows);
}

/// 0004 rolls back, 0003's stored rollback fails on its second statement: 0003 is rolled back
/// with its transaction (its first statement too), 0004 stays undone, 0002 and 0001 are not
/// attempted, and the report says so, pointing into the stored SQL (exit 7).
#[test]
fn a_rollback_that_fails_midway_says_where_it_stopped() {
    let db = cluster().create_db();
    let p = Project::new();
    for (stem, table) in [
        ("0001_a", "a"),
        ("0002_b", "b"),
        ("0003_c", "c"),
        ("0004_d", "d"),
    ] {
        p.write_migration(stem, &format!("CREATE TABLE {table} (id int);\n"));
        write_down(&p, stem, &format!("DROP TABLE {table};\n"));
    }
    write_down(
        &p,
        "0003_c",
        "-- undo 0003\nDROP TABLE c;\nDROP TABLE no_such_table;\n",
    );
    p.run(&db, &["run"]).assert_code(0);

    let out = p.run(&db, &["rollback", "--to", "0"]);
    out.assert_code(7);
    let err = &out.stderr;
    for line in [
        "[sentry] ✓ rolled back 0004_d (",
        "[sentry] ← rolling back 0003_c",
        "[sentry] ERROR: rollback of migration 0003_c failed",
        "    at 0003_c.down.sql (stored):3",
        "    SQLSTATE 42P01: table \"no_such_table\" does not exist",
        "    | DROP TABLE no_such_table;",
        "    Stopped at 0003_c: its rollback ran in one transaction with the deletion of its row, \
         and that transaction was rolled back: 0003_c is still applied and still recorded.",
        "    Rolled back before it (committed, they stay rolled back): 0004_d.",
        "    Not attempted (still applied): 0002_b, 0001_a.",
        "    Fix the cause (the SQL that ran is SELECT rollback_sql FROM public.schema_migrations WHERE \
         version = '0003_c'), then run `rollback --to 0` again: it continues with 0003_c.",
    ] {
        assert!(err.contains(line), "{line:?} not in:\n{err}");
    }
    assert!(!err.contains("rolling back 0002_b"), "{err}");
    assert!(err.trim_end().ends_with(FAILED_7), "{err}");
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert_eq!(recorded(&db), ["0001_a", "0002_b", "0003_c"]);
    assert!(!exists(&db, "d"));
    assert!(exists(&db, "c") && exists(&db, "b") && exists(&db, "a"));

    // The same in JSON: nothing more rolled back, the failure named.
    let out = p.run(&db, &["rollback", "--to", "0", "--format", "json"]);
    out.assert_code(7);
    let j = json(&out);
    assert_eq!(j["ok"], false);
    assert_eq!(j["exit_code"], 7);
    assert_eq!(j["failed"], "0003_c");
    assert!(strings(&j["rolled_back"]).is_empty());
    assert!(
        j["error"]
            .as_str()
            .unwrap()
            .contains("at 0003_c.down.sql (stored):3"),
        "{j}"
    );
}

/// A syntax error in a stored rollback is located to its line and column, like a migration's.
#[test]
fn a_syntax_error_in_a_stored_rollback_is_located() {
    let db = cluster().create_db();
    let p = Project::new();
    p.write_migration("0001_a", "CREATE TABLE a (id int);\n");
    write_down(&p, "0001_a", "-- undo\nDROP TABLEE a;\n");
    p.run(&db, &["run"]).assert_code(0);
    let out = p.run(&db, &["rollback", "--to", "0"]);
    out.assert_code(7);
    assert!(
        out.stderr
            .contains("    at 0001_a.down.sql (stored):2:6\n    SQLSTATE 42601:"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("    | DROP TABLEE a;\n    |      ^"),
        "{}",
        out.stderr
    );
    assert_eq!(recorded(&db), ["0001_a"]);
}

/// A stored rollback marked `-- sentry:no-transaction` runs statement by statement (DROP INDEX
/// CONCURRENTLY cannot run in a transaction); when one fails, the report says which ran.
#[test]
fn a_no_transaction_rollback_runs_statement_by_statement() {
    let db = cluster().create_db();
    let p = Project::new();
    p.write_migration("0001_a", "CREATE TABLE a (id int, n int);\n");
    write_down(&p, "0001_a", "DROP TABLE a;\n");
    p.write_migration(
        "0002_ix",
        "-- sentry:no-transaction\nCREATE INDEX CONCURRENTLY ix_a_id ON a (id);\n\
         CREATE INDEX CONCURRENTLY ix_a_n ON a (n);\n",
    );
    write_down(
        &p,
        "0002_ix",
        "-- sentry:no-transaction\nDROP INDEX CONCURRENTLY IF EXISTS ix_a_n;\n\
         DROP INDEX CONCURRENTLY no_such_index;\nDROP INDEX CONCURRENTLY IF EXISTS ix_a_id;\n",
    );
    p.run(&db, &["run"]).assert_code(0);

    let out = p.run(&db, &["rollback", "--to", "1"]);
    out.assert_code(7);
    let err = &out.stderr;
    assert!(
        err.contains("    at 0002_ix.down.sql (stored):3")
            && err.contains("SQLSTATE 42704: index \"no_such_index\" does not exist")
            && err.contains(
                "    Stopped at 0002_ix, statement 2 of 3 (line 3): its stored rollback is marked \
                 sentry:no-transaction, so statement 1 ran and stays executed; 0002_ix is still \
                 recorded as applied."
            ),
        "{err}"
    );
    assert!(!err.contains("nothing of it, and no tracking row"), "{err}");
    assert!(!exists(&db, "ix_a_n") && exists(&db, "ix_a_id"));
    assert_eq!(recorded(&db), ["0001_a", "0002_ix"]);

    // Corrected where it is stored, the rollback replays it from the start (IF EXISTS).
    db.execute(
        "UPDATE schema_migrations SET rollback_sql = replace(rollback_sql, \
         'DROP INDEX CONCURRENTLY no_such_index', 'DROP INDEX CONCURRENTLY IF EXISTS no_such_index') \
         WHERE version = '0002_ix'",
    );
    let out = p.run(&db, &["rollback", "--to", "1"]);
    out.assert_code(0);
    assert!(!exists(&db, "ix_a_id"));
    assert_eq!(recorded(&db), ["0001_a"]);
}

/// `--lock-timeout` applies to the stored rollback's statements as it does to migrations: a
/// table held by another session makes it fail with 55P03 instead of queueing behind it.
#[test]
fn the_lock_timeout_applies_to_rollbacks() {
    let db = cluster().create_db();
    let p = Project::new();
    three_migrations(&p);
    p.run(&db, &["run"]).assert_code(0);
    let mut holder = db.client();
    let mut tx = holder.transaction().unwrap();
    tx.batch_execute("LOCK TABLE a IN ACCESS SHARE MODE")
        .unwrap();

    let out = p.run(
        &db,
        &["rollback", "--to", "0002_b", "--lock-timeout", "300ms"],
    );
    out.assert_code(7);
    assert!(
        out.stderr
            .contains("SQLSTATE 55P03: canceling statement due to lock timeout"),
        "{}",
        out.stderr
    );
    tx.rollback().unwrap();
    assert_eq!(recorded(&db), ["0001_a", "0002_b", "0003_c"]);
    assert!(has_column(&db, "a", "note"));
}

/// `--dry-run` prints the SQL it would run, in order, and changes nothing; run by psql, that
/// script does exactly what the rollback does (same schema, same history).
#[test]
fn dry_run_prints_the_sql_and_changes_nothing() {
    let cluster = cluster();
    let (db, twin) = (cluster.create_db(), cluster.create_db());
    let p = Project::new();
    three_migrations(&p);
    p.run(&db, &["run"]).assert_code(0);
    p.run(&twin, &["run"]).assert_code(0);
    let (schema, rows) = (schema_snapshot_with_owners(&db), tracking_rows(&db));

    let out = p.run(&db, &["rollback", "--to", "0001_a", "--dry-run"]);
    out.assert_code(0);
    let expected = "\
-- migration-sentry rollback --to 0001_a: 2 migration(s), newest first, from the rollback_sql stored in public.schema_migrations

-- 0003_c (stored rollback, one transaction with the deletion of its row)
BEGIN;
SET LOCAL lock_timeout = '10000ms';
SET LOCAL statement_timeout = '0ms';
DELETE FROM \"public\".\"schema_migrations\" WHERE version = '0003_c';
DROP INDEX ix_a_note;
ALTER TABLE a DROP COLUMN note;
COMMIT;

-- 0002_b (stored rollback, one transaction with the deletion of its row)
BEGIN;
SET LOCAL lock_timeout = '10000ms';
SET LOCAL statement_timeout = '0ms';
DELETE FROM \"public\".\"schema_migrations\" WHERE version = '0002_b';
DROP TABLE b;
COMMIT;
";
    assert_eq!(out.stdout, expected);
    assert!(
        out.stderr
            .contains("=== MIGRATION SENTRY: rollback (dry run) ===")
            && out
                .stderr
                .contains("dry run: no lock taken, nothing will be changed"),
        "{}",
        out.stderr
    );
    assert_eq!(schema_snapshot_with_owners(&db), schema);
    assert_eq!(tracking_rows(&db), rows);

    // The script is the rollback: psql runs it on the twin, the sentry rolls back the original.
    let script = p.dir.path().join("rollback.sql");
    fs::write(&script, &out.stdout).unwrap();
    let psql = run(common::psql()
        .args(["-v", "ON_ERROR_STOP=1", "-d"])
        .arg(twin.url())
        .arg("-f")
        .arg(&script));
    psql.assert_code(0);
    p.run(&db, &["rollback", "--to", "0001_a"]).assert_code(0);
    assert_eq!(
        schema_snapshot_with_owners(&twin),
        schema_snapshot_with_owners(&db)
    );
    assert_eq!(recorded(&twin), recorded(&db));

    // JSON: the plan with its SQL, nothing rolled back.
    let out = p.run(
        &twin,
        &["rollback", "--to", "0", "--dry-run", "--format", "json"],
    );
    out.assert_code(0);
    let j = json(&out);
    assert_eq!(j["dry_run"], true);
    assert!(strings(&j["rolled_back"]).is_empty());
    assert_eq!(j["planned"][0]["version"], "0001_a");
    assert_eq!(j["planned"][0]["sql"], "DROP TABLE a;\n");
    assert_eq!(recorded(&twin), ["0001_a"]);
}

/// `--format json` reports what was rolled back, and how each stored rollback compared with
/// the files; a `.down.sql` edited since is reported and the stored one used.
#[test]
fn json_reports_what_was_rolled_back_and_differing_files() {
    let db = cluster().create_db();
    let p = Project::new();
    three_migrations(&p);
    p.run(&db, &["run"]).assert_code(0);
    // Edited after it was applied: running it would fail (no table x), the stored one works.
    write_down(&p, "0003_c", "DROP INDEX ix_a_note;\nDROP TABLE x;\n");
    remove_down(&p, "0002_b");

    let out = p.run(&db, &["rollback", "--to", "1", "--format", "json"]);
    out.assert_code(0);
    let j = json(&out);
    assert_eq!(j["ok"], true);
    assert_eq!(j["exit_code"], 0);
    assert_eq!(j["dry_run"], false);
    assert_eq!(j["to"], "1");
    assert_eq!(strings(&j["rolled_back"]), ["0003_c", "0002_b"]);
    assert_eq!(j["failed"], Value::Null);
    assert_eq!(j["planned"][0]["version"], "0003_c");
    assert_eq!(j["planned"][0]["transaction"], true);
    assert_eq!(j["planned"][0]["file_down_sql"], "differs");
    assert_eq!(j["planned"][1]["file_down_sql"], "no .down.sql");
    assert!(j["planned"][0].get("sql").is_none(), "{j}");
    assert!(j["duration_ms"].is_u64());
    let down = p.migrations().join("0003_c.down.sql");
    assert!(
        out.stderr.contains(&format!(
            "[sentry] WARNING: {} differs from the rollback stored when 0003_c was applied (first \
             difference on line 2): the stored one is used",
            down.display()
        )),
        "{}",
        out.stderr
    );
    assert_eq!(recorded(&db), ["0001_a"]);
    assert!(!has_column(&db, "a", "note"));
}

/// The example application (sql/ in the repository): run, roll everything back, run again —
/// same schema, same history, required schema verified; and a partial round trip.
#[test]
fn round_trip_on_the_example_application() {
    let db = cluster().create_db();
    let dir = tempfile::tempdir().unwrap();
    copy_example_sql(dir.path(), |_, text| text);
    let sentry_in = |args: &[&str]| {
        run(sentry()
            .current_dir(dir.path())
            .env("DATABASE_URL", db.url())
            .args(args))
    };
    sentry_in(&["run"]).assert_code(0);
    let migrated = schema_snapshot_with_owners(&db);

    // The previous build is one migration behind (the case docs/operations.md §5 quotes).
    let dry = sentry_in(&["rollback", "--to", "0002_add_visitor_session", "--dry-run"]);
    dry.assert_code(0);
    let down = fs::read_to_string(
        dir.path()
            .join("sql/migrations/0003_conversion_owners.down.sql"),
    )
    .unwrap();
    assert_eq!(
        dry.stdout,
        format!(
            "-- migration-sentry rollback --to 0002_add_visitor_session: 1 migration(s), newest \
             first, from the rollback_sql stored in public.schema_migrations\n\n\
             -- 0003_conversion_owners (stored rollback, one transaction with the deletion of its \
             row)\nBEGIN;\nSET LOCAL lock_timeout = '10000ms';\n\
             SET LOCAL statement_timeout = '0ms';\n\
             DELETE FROM \"public\".\"schema_migrations\" WHERE version = '0003_conversion_owners';\n\
             {down}COMMIT;\n"
        )
    );
    assert_eq!(schema_snapshot_with_owners(&db), migrated);
    let out = sentry_in(&["rollback", "--to", "0002_add_visitor_session"]);
    out.assert_code(0);
    assert_eq!(
        out.stdout,
        "rolled back 1 (to 0002_add_visitor_session): 0003_conversion_owners\n"
    );
    for line in [
        "[sentry] lock acquired (key ",
        "=== MIGRATION SENTRY: rollback (verbose) ===\n\
         [sentry] 3 applied, 1 to roll back (newer than 0002_add_visitor_session), newest first: \
         0003_conversion_owners\n\
         [sentry] ← rolling back 0003_conversion_owners\n\
         [sentry] ✓ rolled back 0003_conversion_owners (",
        "=== MIGRATION SENTRY: success ===",
    ] {
        assert!(
            out.stderr.contains(line),
            "{line:?} not in:\n{}",
            out.stderr
        );
    }
    sentry_in(&["verify"]).assert_code(8);
    sentry_in(&["run"]).assert_code(0);
    assert_eq!(schema_snapshot_with_owners(&db), migrated);
    sentry_in(&["rollback", "--to", "1"]).assert_code(0);
    assert_eq!(recorded(&db), ["0001_initial_schema"]);
    sentry_in(&["run"]).assert_code(0);
    assert_eq!(schema_snapshot_with_owners(&db), migrated);

    sentry_in(&["rollback", "--to", "0"]).assert_code(0);
    assert!(recorded(&db).is_empty());
    assert!(!exists(&db, "users") && !exists(&db, "proposals") && !exists(&db, "conversions"));
    let status = sentry_in(&["status", "--format", "json"]);
    status.assert_code(9);
    assert_eq!(
        strings(&json(&status)["pending"]),
        [
            "0001_initial_schema",
            "0002_add_visitor_session",
            "0003_conversion_owners"
        ]
    );
    let out = sentry_in(&["run"]);
    out.assert_code(0);
    assert!(out.stderr.contains("[sentry] schema OK."), "{}", out.stderr);
    assert_eq!(schema_snapshot_with_owners(&db), migrated);
    sentry_in(&["status"]).assert_code(0);
}

fn spawn_logged(mut cmd: Command, log: &Path) -> Child {
    cmd.stdout(Stdio::piped())
        .stderr(fs::File::create(log).unwrap())
        .spawn()
        .expect("spawn the sentry")
}

/// Waits at most `limit` for `child`; kills it (and fails) when it takes longer.
fn finish(mut child: Child, log: &Path, limit: Duration) -> Outcome {
    let done = wait_until(limit, || child.try_wait().unwrap().is_some());
    if !done {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the sentry did not finish in {limit:?}:\n{}", read(log));
    }
    let code = child.wait().unwrap().code().unwrap_or(-1);
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    Outcome {
        code,
        stdout,
        stderr: read(log),
    }
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

/// Two rollbacks at once: the second waits for the lock, then finds nothing to do; each stored
/// rollback ran exactly once.
#[test]
fn two_concurrent_rollbacks() {
    let db = cluster().create_db();
    let p = Project::new();
    three_migrations(&p);
    // A rollback that waits at a gate the test holds, and a journal of rollbacks run that
    // survives them.
    write_down(
        &p,
        "0003_c",
        "SELECT count(*) FROM gate;\nINSERT INTO journal VALUES ('0003_c');\n\
         DROP INDEX ix_a_note;\nALTER TABLE a DROP COLUMN note;\n",
    );
    write_down(
        &p,
        "0002_b",
        "INSERT INTO journal VALUES ('0002_b');\nDROP TABLE b;\n",
    );
    db.execute(
        "CREATE TABLE journal (version text); GRANT INSERT ON journal TO app; \
         CREATE TABLE gate (); GRANT SELECT ON gate TO app;",
    );
    p.run(&db, &["run"]).assert_code(0);
    let mut gate = db.client();
    gate.batch_execute("BEGIN; LOCK TABLE gate IN ACCESS EXCLUSIVE MODE;")
        .unwrap();

    let logs = p.dir.path();
    let first_log = logs.join("first.log");
    let second_log = logs.join("second.log");
    let mut first_cmd = p.sentry(&db);
    first_cmd.args(["rollback", "--to", "0001_a", "--lock-timeout", "0"]);
    let first = spawn_logged(first_cmd, &first_log);
    // The first holds the lock and waits at the gate, inside its rollback.
    let at_gate = wait_until(Duration::from_secs(30), || {
        db.query_one_string(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
             AND query LIKE 'SELECT count(*) FROM gate%'",
        ) == "1"
    });
    let mut second_cmd = p.sentry(&db);
    second_cmd.args(["rollback", "--to", "0001_a", "--wait-for-lock", "60s"]);
    let second = spawn_logged(second_cmd, &second_log);
    assert!(
        at_gate,
        "the first rollback never started:\n{}",
        read(&first_log)
    );
    // The gate opens once the second waits for the advisory lock.
    let waiting = wait_until(Duration::from_secs(30), || {
        read(&second_log).contains("[sentry] waiting for advisory lock")
    });
    gate.batch_execute("COMMIT").unwrap();
    assert!(
        waiting,
        "the second rollback never waited:\n{}",
        read(&second_log)
    );

    let first = finish(first, &first_log, Duration::from_secs(60));
    let second = finish(second, &second_log, Duration::from_secs(60));
    first.assert_code(0);
    second.assert_code(0);
    assert_eq!(first.stdout, "rolled back 2 (to 0001_a): 0003_c, 0002_b\n");
    assert!(
        second.stderr.contains("[sentry] waiting for advisory lock")
            && second.stderr.contains(
                "[sentry] nothing to roll back: no applied migration is newer than 0001_a"
            ),
        "{}",
        second.stderr
    );
    assert_eq!(
        second.stdout,
        "nothing to roll back: no applied migration is newer than 0001_a\n"
    );
    assert_eq!(
        db.query_one_string("SELECT string_agg(version, ',' ORDER BY version) FROM journal"),
        "0002_b,0003_c"
    );
    assert_eq!(recorded(&db), ["0001_a"]);
}

/// A project whose one migration's stored rollback sleeps a minute before dropping its table.
fn slow_rollback(db: &TestDb) -> Project {
    let p = Project::new();
    p.write_migration("0001_a", "CREATE TABLE a (id int);\n");
    write_down(&p, "0001_a", "SELECT pg_sleep(60);\nDROP TABLE a;\n");
    p.run(db, &["run"]).assert_code(0);
    p
}

/// Runs `rollback --to 0`, sends SIGTERM once the sentry's backend runs `pg_sleep` (a minute),
/// and returns how the process ended and its stderr; checks that it ended long before the
/// statement would have (SPEC §5.7).
fn sigterm_mid_rollback(db: &TestDb, p: &Project) -> (std::process::ExitStatus, String) {
    let mut cmd = p.sentry(db);
    cmd.args(["rollback", "--to", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = spawn_group(&mut cmd);
    wait_for_statement(db, "pg_sleep");
    assert!(child.signal(libc::SIGTERM));
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the sentry did not end");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    let _ = child.stderr().unwrap().read_to_string(&mut stderr);
    (status, stderr)
}

/// SIGTERM while a stored rollback runs: the statement is cancelled, the transaction rolled
/// back (the row stays), the lock released, and the process ends by SIGTERM (SPEC §5.7). The
/// message says it was rolling back, not applying, and what that leaves.
#[test]
fn sigterm_mid_rollback_cancels_unlocks_and_ends_by_sigterm() {
    let db = cluster().create_db();
    let p = slow_rollback(&db);
    let (status, stderr) = sigterm_mid_rollback(&db, &p);
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{stderr}");
    assert!(
        stderr.contains(
            "interrupted by SIGTERM while rolling back 0001_a: its transaction was rolled back \
             on the server (the running statement cancelled): 0001_a's stored rollback runs in \
             one transaction with the deletion of its tracking row, so nothing of it was \
             committed; 0001_a is still applied and its tracking row kept."
        ) && stderr.contains(
            "\n    Rolled back before it (committed, they stay rolled back): none.\n    \
             Not attempted (still applied): none.\n    \
             The advisory lock was released. Run `rollback --to 0` again to continue with 0001_a."
        ),
        "{stderr}"
    );
    // Not apply's wording.
    assert!(!stderr.contains("while running"), "{stderr}");
    assert!(
        !stderr.contains("a migration is all or nothing"),
        "{stderr}"
    );
    assert!(
        wait_until(Duration::from_secs(30), || server_is_clean(&db)),
        "the sentry's session is busy or holds a lock"
    );
    assert_eq!(recorded(&db), ["0001_a"]);
    assert!(exists(&db, "a"));
}

/// SIGTERM during a long statement of a no-transaction rollback (statement by statement): the
/// statement is cancelled, the lock released, the process ends by SIGTERM, and the message
/// names the statement that ran and stays executed — no claim that nothing was committed.
#[test]
fn sigterm_mid_no_transaction_rollback_says_which_statements_stayed() {
    let db = cluster().create_db();
    let p = Project::new();
    p.write_migration("0001_a", "CREATE TABLE a (id int);\n");
    write_down(&p, "0001_a", "DROP TABLE a;\n");
    p.write_migration("0002_ix", "CREATE INDEX ix_a_id ON a (id);\n");
    write_down(
        &p,
        "0002_ix",
        "-- sentry:no-transaction\nDROP INDEX CONCURRENTLY IF EXISTS ix_a_id;\n\
         SELECT pg_sleep(60);\nCREATE TABLE IF NOT EXISTS rolled_back (id int);\n",
    );
    p.run(&db, &["run"]).assert_code(0);

    let (status, stderr) = sigterm_mid_rollback(&db, &p);
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{stderr}");
    assert!(
        wait_until(Duration::from_secs(30), || server_is_clean(&db)),
        "the sentry's session is busy or holds a lock"
    );
    for needle in [
        "interrupted by SIGTERM while rolling back 0002_ix: 0002_ix's stored rollback is marked \
         sentry:no-transaction, so it is not atomic: its statements commit one by one. \
         Statement 2 of 3 (line 3) was cancelled on the server before it completed; statement \
         3 did not run.",
        "\n    These 1 of its 3 statements ran and stay executed:\n      \
         line 2: DROP INDEX CONCURRENTLY IF EXISTS ix_a_id\n",
        "\n    0002_ix is still recorded as applied (its tracking row kept): the next rollback \
         replays all of its stored rollback, so its statements must be idempotent (IF EXISTS).",
        "\n    Rolled back before it (committed, they stay rolled back): none.\n    \
         Not attempted (still applied): 0001_a.\n    \
         The advisory lock was released. Run `rollback --to 0` again to continue with 0002_ix.",
        "=== MIGRATION SENTRY: FAILED (SIGTERM: interrupted, status 143) ===",
    ] {
        assert!(stderr.contains(needle), "{needle:?} not in:\n{stderr}");
    }
    assert!(
        !stderr.contains("nothing of the interrupted one"),
        "{stderr}"
    );
    // What the message says is what the database holds: statement 1 stayed, 3 never ran.
    assert!(!exists(&db, "ix_a_id"));
    assert!(!exists(&db, "rolled_back"));
    assert_eq!(recorded(&db), ["0001_a", "0002_ix"]);

    // As the message says, running it again replays all of it and continues.
    db.execute(
        "UPDATE schema_migrations SET rollback_sql = replace(rollback_sql, 'pg_sleep(60)', \
         'pg_sleep(0)') WHERE version = '0002_ix'",
    );
    p.run(&db, &["rollback", "--to", "0"]).assert_code(0);
    assert!(recorded(&db).is_empty());
    assert!(!exists(&db, "a") && exists(&db, "rolled_back"));
}

/// `--timeout` while a stored rollback runs: exit 10, the rollback undone, nothing locked.
#[test]
fn timeout_mid_rollback_is_exit_10() {
    let db = cluster().create_db();
    let p = slow_rollback(&db);
    let started = Instant::now();
    let out = p.run(&db, &["rollback", "--to", "0", "--timeout", "2s"]);
    // The stored rollback sleeps a minute: well before, it was cancelled.
    assert!(started.elapsed() < Duration::from_secs(30));
    out.assert_code(10);
    assert!(
        out.stderr.contains(
            "--timeout 2s passed while rolling back 0001_a: its transaction was rolled back on \
             the server (the running statement cancelled)"
        ) && out
            .stderr
            .contains("0001_a is still applied and its tracking row kept."),
        "{}",
        out.stderr
    );
    assert!(wait_until(Duration::from_secs(30), || server_is_clean(&db)));
    assert_eq!(recorded(&db), ["0001_a"]);
}
