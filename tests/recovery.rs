//! Stamp recovery (SPEC §7) end to end through the real binary: a hot-patched database, a
//! database older than its tracking table, a squashed history, a recovery that cannot resolve,
//! recovery switched off, the loud warning without a required schema, verification deciding
//! after a recovery, and how `run --format json` and `status` report a stamped migration.
//!
//! Every test has its own database and its own project folder (migrations and, when it wants
//! one, a required-schema file), passes `--migrations-dir` / `--required-schema` explicitly and
//! runs the binary from an empty temp dir, so the repository's `sql/` is never picked up.

mod common;

use common::{Project, TestDb, as_app, cluster, run};
use serde_json::Value;

fn count(db: &TestDb, sql: &str) -> i64 {
    db.query_one_string(sql).parse().unwrap()
}

fn column_exists(db: &TestDb, table: &str, column: &str) -> bool {
    count(
        db,
        &format!(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public' \
             AND table_name = '{table}' AND column_name = '{column}'"
        ),
    ) == 1
}

fn index_exists(db: &TestDb, name: &str) -> bool {
    count(
        db,
        &format!("SELECT count(*) FROM pg_indexes WHERE indexname = '{name}'"),
    ) == 1
}

fn tracking_rows(db: &TestDb, version: &str) -> i64 {
    count(
        db,
        &format!("SELECT count(*) FROM schema_migrations WHERE version = '{version}'"),
    )
}

fn tracking_exists(db: &TestDb) -> bool {
    db.query_one_string("SELECT to_regclass('public.schema_migrations') IS NOT NULL") == "t"
}

/// `(stamped, note)` of the tracking row of `version`.
fn tracking_row(db: &TestDb, version: &str) -> (bool, String) {
    let stamped = db.query_one_string(&format!(
        "SELECT stamped FROM schema_migrations WHERE version = '{version}'"
    ));
    let note = db.query_one_string(&format!(
        "SELECT coalesce(note, '') FROM schema_migrations WHERE version = '{version}'"
    ));
    (stamped == "t", note)
}

fn last_line(text: &str) -> &str {
    text.lines().last().unwrap_or_default()
}

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}):\n{stdout}"))
}

const CREATE_PROPOSALS: &str = "\
-- proposals, owned by a signed-in user
CREATE TABLE proposals (
    id      serial PRIMARY KEY,
    user_id integer,
    title   text NOT NULL
);
";

/// The pending migration of the hot-patch scenario: not idempotent on purpose. Statement lines:
/// 2 (visitor_session_id), 3 (expires_at), 4 (index).
const ADD_VISITOR_SESSION: &str = "\
-- anonymous visitors own proposals through their session id
ALTER TABLE proposals ADD COLUMN visitor_session_id varchar(64);
ALTER TABLE proposals ADD COLUMN expires_at timestamp;
CREATE INDEX ix_proposals_visitor_session_id ON proposals (visitor_session_id);
";

const HOT_PATCH: &str = "ALTER TABLE proposals ADD COLUMN visitor_session_id varchar(64)";

const REQUIRED: &str = "\
# what the application reads and writes
table proposals
column proposals.visitor_session_id varchar(64) null
column proposals.expires_at timestamp
index ix_proposals_visitor_session_id
";

/// 0001 applied by the sentry, then someone hot-patches production by hand, then 0002 (which
/// does the same thing, and more) is deployed. Returns the project and the database, with 0002
/// pending.
fn hot_patched(schema: Option<&str>) -> (Project, TestDb<'static>) {
    let project = Project::new();
    let db = cluster().create_db();
    project.write_migration("0001_create_proposals", CREATE_PROPOSALS);
    project.run(&db, &["run"]).assert_code(0);
    assert!(!tracking_row(&db, "0001_create_proposals").0);
    as_app(&db, HOT_PATCH);
    project.write_migration("0002_add_visitor_session", ADD_VISITOR_SESSION);
    if let Some(text) = schema {
        project.write_schema(text);
    }
    (project, db)
}

/// The `file:line SQLSTATE code` fragment of a skipped statement in a note or log line.
fn skipped(project: &Project, stem: &str, line: usize, sqlstate: &str) -> String {
    format!(
        "{}:{line} SQLSTATE {sqlstate}",
        project.file(stem).display()
    )
}

#[test]
fn hot_patched_column_is_skipped_the_rest_applied_and_the_row_stamped() {
    let (project, db) = hot_patched(Some(REQUIRED));
    let out = project.run(&db, &["run"]);
    out.assert_code(0);

    // The rest of the migration was applied.
    assert!(column_exists(&db, "proposals", "visitor_session_id"));
    assert!(
        column_exists(&db, "proposals", "expires_at"),
        "{}",
        out.all()
    );
    assert!(index_exists(&db, "ix_proposals_visitor_session_id"));

    // Recorded, stamped, with a note naming exactly the skipped statement.
    let (stamped, note) = tracking_row(&db, "0002_add_visitor_session");
    assert!(stamped, "note: {note}");
    let entry = skipped(&project, "0002_add_visitor_session", 2, "42701");
    assert!(note.contains(&entry), "{entry:?} not in note {note:?}");
    assert!(
        note.contains(r#"column "visitor_session_id" of relation "proposals" already exists"#),
        "{note}"
    );
    assert!(note.contains("skipped 1 statement"), "{note}");
    assert_eq!(note.matches("SQLSTATE").count(), 1, "{note}");

    // Loud in the log: the attempt, the skipped statement, the stamped row.
    let err = &out.stderr;
    assert!(err.contains("Attempting STAMP RECOVERY"), "{err}");
    assert!(
        err.lines().any(|l| l.contains("WARNING:")
            && l.contains("stamp recovery skipped")
            && l.contains(&entry)),
        "{err}"
    );
    assert!(
        err.contains("0002_add_visitor_session was recorded with stamped = true"),
        "{err}"
    );
    assert!(
        err.contains("✓ column public.proposals.expires_at"),
        "{err}"
    );
    assert!(err.contains("schema OK."), "{err}");
    assert_eq!(last_line(err), "=== MIGRATION SENTRY: success ===");
    assert_eq!(
        out.stdout.trim(),
        "applied 1, stamped 1, 4 checks passed",
        "{}",
        out.all()
    );

    // Converged: the next deploy has nothing to do.
    let again = project.run(&db, &["run"]);
    again.assert_code(0);
    assert!(
        again.stderr.contains("nothing to apply"),
        "{}",
        again.stderr
    );
    assert!(!again.stderr.contains("STAMP RECOVERY"), "{}", again.stderr);
}

#[test]
fn database_older_than_tracking_converges_with_every_migration_stamped() {
    let project = Project::new();
    let db = cluster().create_db();
    // The whole schema, created by hand before the sentry existed.
    as_app(
        &db,
        "CREATE TABLE users (id serial PRIMARY KEY, email varchar(255) NOT NULL);
         CREATE INDEX ix_users_email ON users (email);
         CREATE TYPE proposal_state AS ENUM ('draft', 'sent');
         CREATE FUNCTION touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS
             $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$;
         CREATE SCHEMA reporting;
         CREATE TABLE reporting.daily (day date PRIMARY KEY, proposals integer NOT NULL);",
    );
    // The same history as migrations, written without IF NOT EXISTS.
    project.write_migration(
        "0001_users",
        "CREATE TABLE users (id serial PRIMARY KEY, email varchar(255) NOT NULL);\n\
         CREATE INDEX ix_users_email ON users (email);\n",
    );
    project.write_migration(
        "0002_proposal_state",
        "CREATE TYPE proposal_state AS ENUM ('draft', 'sent');\n",
    );
    project.write_migration(
        "0003_touch",
        "-- keeps updated_at current\n\
         CREATE FUNCTION touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$\n\
         BEGIN\n    NEW.updated_at := now();\n    RETURN NEW;\nEND\n$$;\n",
    );
    project.write_migration(
        "0004_reporting",
        "CREATE SCHEMA reporting;\n\
         CREATE TABLE reporting.daily (day date PRIMARY KEY, proposals integer NOT NULL);\n",
    );
    project.write_schema(
        "table users\ncolumn users.email varchar(255) not null\nindex ix_users_email\n\
         table reporting.daily\ncolumn reporting.daily.proposals int4 not null\n",
    );
    assert!(!tracking_exists(&db));

    let out = project.run(&db, &["run"]);
    out.assert_code(0);
    assert!(tracking_exists(&db));
    let expected: &[(&str, &[(usize, &str)])] = &[
        ("0001_users", &[(1, "42P07"), (2, "42P07")]),
        ("0002_proposal_state", &[(1, "42710")]),
        ("0003_touch", &[(2, "42723")]),
        ("0004_reporting", &[(1, "42P06"), (2, "42P07")]),
    ];
    for (version, entries) in expected {
        let (stamped, note) = tracking_row(&db, version);
        assert!(stamped, "{version} not stamped: {note}\n{}", out.stderr);
        assert_eq!(
            note.matches("SQLSTATE").count(),
            entries.len(),
            "{version}: {note}"
        );
        for (line, code) in *entries {
            let entry = skipped(&project, version, *line, code);
            assert!(note.contains(&entry), "{entry:?} not in {note:?}");
            assert!(out.stderr.contains(&entry), "{entry:?} not logged");
        }
        assert!(
            out.stderr
                .contains(&format!("{version} was recorded with stamped = true")),
            "{}",
            out.stderr
        );
    }
    assert_eq!(out.stdout.trim(), "applied 4, stamped 4, 5 checks passed");

    let again = project.run(&db, &["run"]);
    again.assert_code(0);
    assert!(
        again.stderr.contains("4 applied, 0 pending"),
        "{}",
        again.stderr
    );
}

#[test]
fn squashed_history_keeps_missing_versions_as_history_unless_recovery_is_off() {
    let project = Project::new();
    let db = cluster().create_db();
    project.write_migration("0001_a", "CREATE TABLE a (id integer PRIMARY KEY);\n");
    project.write_migration("0002_b", "CREATE TABLE b (id integer PRIMARY KEY);\n");
    project.run(&db, &["run"]).assert_code(0);

    // The team squashes 0001..0002 into a baseline. It must sort after the newest applied
    // version, or it would be an out-of-order migration on every existing database; on those
    // databases its objects exist already, so stamp recovery records it.
    project.remove_migration("0001_a");
    project.remove_migration("0002_b");
    project.write_migration(
        "0003_baseline",
        "CREATE TABLE a (id integer PRIMARY KEY);\nCREATE TABLE b (id integer PRIMARY KEY);\n",
    );
    project.write_schema("table a\ntable b\n");

    // Recovery off: the missing files are an invalid migration set, nothing is touched.
    for off in [
        project.run(&db, &["run", "--no-stamp-recovery"]),
        run(project
            .sentry(&db)
            .env("SENTRY_NO_STAMP_RECOVERY", "1")
            .arg("run")),
    ] {
        off.assert_code(6);
        for v in ["0001_a", "0002_b"] {
            assert!(
                off.stderr
                    .contains(&format!("applied migration {v} (recorded in")),
                "{}",
                off.stderr
            );
        }
        assert_eq!(
            last_line(&off.stderr),
            "=== MIGRATION SENTRY: FAILED (exit 6: migration set invalid) ==="
        );
        assert_eq!(tracking_rows(&db, "0003_baseline"), 0);
    }
    project
        .run(&db, &["status", "--no-stamp-recovery"])
        .assert_code(6);

    // Recovery on (the default): a warning per missing version, the baseline stamped.
    let out = project.run(&db, &["run"]);
    out.assert_code(0);
    for v in ["0001_a", "0002_b"] {
        assert!(
            out.stderr.lines().any(|l| l.contains("WARNING:")
                && l.contains(&format!(
                    "{v} is recorded as applied but its file is not in"
                ))),
            "{}",
            out.stderr
        );
        assert_eq!(tracking_rows(&db, v), 1, "history is kept");
    }
    let (stamped, note) = tracking_row(&db, "0003_baseline");
    assert!(stamped);
    assert_eq!(note.matches("42P07").count(), 2, "{note}");

    let status = project.run(&db, &["status", "--format", "json"]);
    status.assert_code(0);
    let s = json(&status.stdout);
    assert_eq!(s["missing_files"], serde_json::json!(["0001_a", "0002_b"]));
    assert_eq!(s["pending"], serde_json::json!([]));
}

#[test]
fn unresolvable_recovery_rolls_everything_back_with_exit_7() {
    let (project, db) = hot_patched(Some(REQUIRED));
    // Line 2 exists already (skippable), line 3 would succeed, line 4 names a missing table.
    project.write_migration(
        "0002_add_visitor_session",
        "-- anonymous visitors own proposals through their session id\n\
         ALTER TABLE proposals ADD COLUMN visitor_session_id varchar(64);\n\
         ALTER TABLE proposals ADD COLUMN expires_at timestamp;\n\
         CREATE INDEX ix_visitors_session ON visitors (session_id);\n",
    );
    let out = project.run(&db, &["run"]);
    out.assert_code(7);

    // Nothing of the replay survived, and nothing was recorded.
    assert!(
        !column_exists(&db, "proposals", "expires_at"),
        "{}",
        out.stderr
    );
    assert!(!index_exists(&db, "ix_visitors_session"));
    assert_eq!(tracking_rows(&db, "0002_add_visitor_session"), 0);
    assert_eq!(tracking_rows(&db, "0001_create_proposals"), 1);

    let err = &out.stderr;
    assert!(err.contains("Attempting STAMP RECOVERY"), "{err}");
    assert!(err.contains("stamp recovery: attempted"), "{err}");
    assert!(err.contains("rolled back"), "{err}");
    let at = format!("{}:4", project.file("0002_add_visitor_session").display());
    assert!(err.contains(&at), "{at:?} not in\n{err}");
    assert!(err.contains("SQLSTATE 42P01"), "{err}");
    assert!(
        err.contains(r#"relation "visitors" does not exist"#),
        "{err}"
    );
    assert!(err.contains("| CREATE INDEX ix_visitors_session"), "{err}");
    assert_eq!(
        last_line(err),
        "=== MIGRATION SENTRY: FAILED (exit 7: migration failed) ==="
    );
}

#[test]
fn no_stamp_recovery_makes_the_first_failure_final() {
    let (project, db) = hot_patched(Some(REQUIRED));
    let by_flag = project.run(&db, &["run", "--no-stamp-recovery"]);
    let by_env = run(project
        .sentry(&db)
        .env("SENTRY_NO_STAMP_RECOVERY", "1")
        .arg("run"));
    let at = format!("{}:2", project.file("0002_add_visitor_session").display());
    for out in [&by_flag, &by_env] {
        out.assert_code(7);
        let err = &out.stderr;
        assert!(err.contains("SQLSTATE 42701"), "{err}");
        assert!(err.contains(&at), "{at:?} not in\n{err}");
        assert!(!err.to_lowercase().contains("stamp recovery"), "{err}");
        assert_eq!(
            last_line(err),
            "=== MIGRATION SENTRY: FAILED (exit 7: migration failed) ==="
        );
        // Nothing changed.
        assert!(!column_exists(&db, "proposals", "expires_at"));
        assert!(!index_exists(&db, "ix_proposals_visitor_session_id"));
        assert_eq!(tracking_rows(&db, "0002_add_visitor_session"), 0);
    }
    // The same database recovers as soon as recovery is allowed again.
    project.run(&db, &["run"]).assert_code(0);
    assert!(tracking_row(&db, "0002_add_visitor_session").0);
}

#[test]
fn recovery_without_a_required_schema_warns_loudly() {
    let (project, db) = hot_patched(None);
    assert!(!project.schema_path().exists());
    let out = project.run(&db, &["run"]);
    out.assert_code(0);
    assert!(
        out.stderr.lines().any(|l| l.contains("WARNING:")
            && l.contains("STAMP RECOVERY WAS USED BUT NO REQUIRED SCHEMA IS CONFIGURED")),
        "{}",
        out.stderr
    );
    assert!(tracking_row(&db, "0002_add_visitor_session").0);

    // A run without recovery and without a required schema is quiet about it.
    let again = project.run(&db, &["run"]);
    again.assert_code(0);
    assert!(
        !again.stderr.contains("NO REQUIRED SCHEMA IS CONFIGURED"),
        "{}",
        again.stderr
    );
}

#[test]
fn after_recovery_the_required_schema_decides() {
    let (project, db) = hot_patched(Some(&format!(
        "{REQUIRED}column proposals.visitor_email varchar(255)\n"
    )));
    let out = project.run(&db, &["run"]);
    out.assert_code(8);
    // The recovered migration is committed; verification is what failed the deploy.
    assert!(tracking_row(&db, "0002_add_visitor_session").0);
    assert!(column_exists(&db, "proposals", "expires_at"));
    let err = &out.stderr;
    assert!(err.contains("✓ column public.proposals.expires_at timestamp without time zone"));
    assert!(
        err.contains(
            "✗ column public.proposals.visitor_email character varying(255) — found: missing; \
             hint: ALTER TABLE public.proposals ADD COLUMN IF NOT EXISTS visitor_email \
             character varying(255);"
        ),
        "{err}"
    );
    assert_eq!(
        last_line(err),
        "=== MIGRATION SENTRY: FAILED (exit 8: required-schema verification failed) ==="
    );
}

#[test]
fn run_json_reports_the_stamped_migration() {
    let (project, db) = hot_patched(Some(REQUIRED));
    let out = project.run(&db, &["run", "--format", "json"]);
    out.assert_code(0);
    let v = json(&out.stdout);
    assert_eq!(v["ok"], true);
    assert_eq!(v["exit_code"], 0);
    assert_eq!(
        v["applied"],
        serde_json::json!(["0002_add_visitor_session"])
    );
    assert_eq!(
        v["stamped"],
        serde_json::json!(["0002_add_visitor_session"])
    );
    assert_eq!(
        v["checks"],
        serde_json::json!({
            "table public.proposals": true,
            "column public.proposals.visitor_session_id": true,
            "column public.proposals.expires_at": true,
            "index public.ix_proposals_visitor_session_id": true,
        })
    );
    assert!(v["duration_ms"].is_u64(), "{v}");

    // And a failing run after recovery: same keys, ok false, exit_code 8, the failed check.
    let (project, db) = hot_patched(Some(&format!("{REQUIRED}column proposals.visitor_email\n")));
    let out = project.run(&db, &["run", "--format", "json"]);
    out.assert_code(8);
    let v = json(&out.stdout);
    assert_eq!(v["ok"], false);
    assert_eq!(v["exit_code"], 8);
    assert_eq!(
        v["stamped"],
        serde_json::json!(["0002_add_visitor_session"])
    );
    assert_eq!(v["checks"]["column public.proposals.visitor_email"], false);
    assert_eq!(v["checks"]["column public.proposals.expires_at"], true);
    assert!(v["duration_ms"].is_u64(), "{v}");
}

#[test]
fn status_shows_the_recovered_migration_as_stamped() {
    let (project, db) = hot_patched(Some(REQUIRED));
    project.run(&db, &["run"]).assert_code(0);

    let text = project.run(&db, &["status"]);
    text.assert_code(0);
    let row = text
        .stdout
        .lines()
        .find(|l| l.starts_with("0002_add_visitor_session"))
        .unwrap_or_else(|| panic!("no row for 0002 in\n{}", text.stdout));
    assert!(row.contains(" stamped "), "{row}");
    assert!(row.contains("stamp recovery: skipped 1 statement"), "{row}");
    let first = text
        .stdout
        .lines()
        .find(|l| l.starts_with("0001_create_proposals"))
        .unwrap();
    assert!(first.contains(" applied "), "{first}");

    let js = project.run(&db, &["status", "--format", "json"]);
    js.assert_code(0);
    let v = json(&js.stdout);
    assert_eq!(v["migrated"], true);
    assert_eq!(v["at_head"], true);
    let applied = v["applied"].as_array().unwrap();
    assert_eq!(applied.len(), 2);
    assert_eq!(applied[0]["version"], "0001_create_proposals");
    assert_eq!(applied[0]["stamped"], false);
    assert_eq!(applied[1]["version"], "0002_add_visitor_session");
    assert_eq!(applied[1]["stamped"], true);
    let note = applied[1]["note"].as_str().unwrap();
    assert!(
        note.contains(&skipped(&project, "0002_add_visitor_session", 2, "42701")),
        "{note}"
    );
}

#[test]
fn no_transaction_migration_skips_an_existing_concurrent_index() {
    let (project, db) = hot_patched(Some(REQUIRED));
    project.run(&db, &["run"]).assert_code(0);
    // Someone built the index by hand during an incident; the migration is not idempotent.
    as_app(
        &db,
        "CREATE INDEX ix_proposals_expires_at ON proposals (expires_at)",
    );
    project.write_migration(
        "0003_expires_index",
        "-- sentry:no-transaction\n\
         CREATE INDEX CONCURRENTLY ix_proposals_expires_at ON proposals (expires_at);\n\
         CREATE INDEX CONCURRENTLY ix_proposals_title ON proposals (title);\n",
    );
    let off = project.run(&db, &["run", "--no-stamp-recovery"]);
    off.assert_code(7);
    assert!(off.stderr.contains("SQLSTATE 42P07"), "{}", off.stderr);
    assert_eq!(tracking_rows(&db, "0003_expires_index"), 0);

    let out = project.run(&db, &["run"]);
    out.assert_code(0);
    assert!(index_exists(&db, "ix_proposals_title"), "{}", out.stderr);
    let (stamped, note) = tracking_row(&db, "0003_expires_index");
    assert!(stamped, "{note}");
    let entry = skipped(&project, "0003_expires_index", 2, "42P07");
    assert!(note.contains(&entry), "{entry:?} not in {note:?}");
    assert_eq!(note.matches("SQLSTATE").count(), 1, "{note}");
    assert!(out.stderr.contains(&entry), "{}", out.stderr);
}
