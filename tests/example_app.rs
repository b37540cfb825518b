//! The repository's own example application (`sql/migrations`, `sql/required_schema.txt`), end
//! to end through the real binary run from the repository root, so the default paths are the
//! ones used: a fresh database converges, hand-made databases converge, a missing column fails
//! verification with exit 8, and the by-hand rollback of docs/operations.md §5.6 works
//! (`rollback --to` itself is tested in tests/rollback.rs).

mod common;

use std::fs;
use std::path::Path;

use common::{Outcome, TestDb, cluster, copy_example_sql, repo_root, run, sentry};

const VERSIONS: [&str; 3] = [
    "0001_initial_schema",
    "0002_add_visitor_session",
    "0003_conversion_owners",
];

fn migration(file: &str) -> String {
    fs::read_to_string(repo_root().join("sql/migrations").join(file)).unwrap()
}

/// Every non-comment line of sql/required_schema.txt.
fn requirements() -> Vec<String> {
    fs::read_to_string(repo_root().join("sql/required_schema.txt"))
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// The binary in `dir` (defaults apply: `sql/migrations`, `sql/required_schema.txt`).
fn sentry_in(dir: &Path, db: &TestDb, args: &[&str]) -> Outcome {
    run(sentry()
        .current_dir(dir)
        .env("DATABASE_URL", db.url())
        .args(args))
}

fn sentry_at_root(db: &TestDb, args: &[&str]) -> Outcome {
    sentry_in(&repo_root(), db, args)
}

/// Run `sql` as `app`, the role the sentry connects as (and the owner of the database), the
/// way someone on call would with `psql "$DATABASE_URL"`: objects made by another role would
/// make `CREATE INDEX IF NOT EXISTS` fail with 42501 (must be owner), which is not the point here.
fn by_hand(db: &TestDb, sql: &str) {
    let mut client = postgres::Client::connect(&db.url(), postgres::NoTls).unwrap();
    client
        .batch_execute(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn tracked(db: &TestDb) -> String {
    db.query_one_string(
        "SELECT coalesce(string_agg(version || ':' || stamped, ',' ORDER BY version), '') \
         FROM schema_migrations",
    )
}

fn all_tracked_unstamped() -> String {
    VERSIONS.map(|v| format!("{v}:false")).join(",")
}

/// One `✓` line per requirement of sql/required_schema.txt, none `✗`, and `schema OK.`.
fn assert_schema_verified(out: &Outcome) {
    let checks: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| {
            ["table ", "column ", "index ", "constraint "]
                .iter()
                .any(|kind| l.starts_with(&format!("[sentry] ✓ {kind}")))
        })
        .collect();
    let expected = requirements();
    assert_eq!(
        checks.len(),
        expected.len(),
        "one ✓ per requirement {expected:?}:\n{}",
        out.stderr
    );
    for req in &expected {
        // "column proposals.user_id integer null" → "column public.proposals.user_id"
        let mut words = req.split_whitespace();
        let kind = words.next().unwrap();
        let name = words.next().unwrap();
        let shown = format!("[sentry] ✓ {kind} public.{name}");
        assert!(
            checks.iter().any(|l| l.starts_with(&shown)),
            "{shown:?} missing:\n{}",
            out.stderr
        );
    }
    assert!(!out.stderr.contains('✗'), "{}", out.stderr);
    assert!(out.stderr.contains("[sentry] schema OK."), "{}", out.stderr);
}

#[test]
fn a_fresh_database_converges_and_a_second_run_is_a_no_op() {
    let db = cluster().create_db();

    let first = sentry_at_root(&db, &["run"]);
    first.assert_code(0);
    assert!(
        first.stderr.contains("[sentry] 0 applied, 3 pending"),
        "{}",
        first.stderr
    );
    for v in VERSIONS {
        assert!(
            first.stderr.contains(&format!("[sentry] → {v}\n"))
                && first.stderr.contains(&format!("[sentry] ✓ {v} (")),
            "{v}:\n{}",
            first.stderr
        );
    }
    assert_schema_verified(&first);
    assert!(
        first
            .stderr
            .trim_end()
            .ends_with("=== MIGRATION SENTRY: success ==="),
        "{}",
        first.stderr
    );

    assert_eq!(tracked(&db), all_tracked_unstamped());
    for v in VERSIONS {
        let stored = db.query_one_string(&format!(
            "SELECT rollback_sql FROM schema_migrations WHERE version = '{v}'"
        ));
        assert_eq!(stored, migration(&format!("{v}.down.sql")), "{v}");
        let note = db.query_one_string(&format!(
            "SELECT coalesce(note, '<null>') FROM schema_migrations WHERE version = '{v}'"
        ));
        assert_eq!(note, "<null>", "{v}");
    }

    let second = sentry_at_root(&db, &["run"]);
    second.assert_code(0);
    assert!(
        second.stderr.contains("[sentry] 3 applied, 0 pending"),
        "{}",
        second.stderr
    );
    assert!(
        second.stderr.contains("nothing to apply"),
        "{}",
        second.stderr
    );
    assert!(!second.stderr.contains("[sentry] → "), "{}", second.stderr);
    assert_schema_verified(&second);
    assert_eq!(tracked(&db), all_tracked_unstamped());

    let status = sentry_at_root(&db, &["status"]);
    status.assert_code(0);
    let json = sentry_at_root(&db, &["status", "--format", "json"]);
    json.assert_code(0);
    let v: serde_json::Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(v["migrated"], true, "{}", json.stdout);
    assert_eq!(v["at_head"], true, "{}", json.stdout);
    assert_eq!(v["head"], "0003_conversion_owners", "{}", json.stdout);
    assert_eq!(v["pending"].as_array().unwrap().len(), 0);
    let checks = v["checks"].as_object().unwrap();
    assert_eq!(checks.len(), requirements().len(), "{}", json.stdout);
    assert!(checks.values().all(|c| c == true), "{}", json.stdout);
}

/// A database whose whole schema was created by hand (running the migration files with a SQL
/// client, not the sentry), plus a hot-patch with plain, non-IF-NOT-EXISTS statements: objects
/// exist, no tracking rows. The example migrations are idempotent, so the sentry just re-runs
/// them: nothing fails, no stamp recovery is needed, nothing is recorded as stamped.
#[test]
fn a_schema_created_by_hand_converges_because_the_migrations_are_idempotent() {
    let db = cluster().create_db();
    by_hand(&db, &migration("0001_initial_schema.sql"));
    by_hand(&db, &migration("0002_add_visitor_session.sql"));
    // The hot-patch of 0003, typed by hand during an incident.
    by_hand(
        &db,
        "ALTER TABLE conversions ADD COLUMN proposal_id INTEGER NULL;
         ALTER TABLE conversions ADD COLUMN user_id INTEGER NULL;
         CREATE INDEX ix_conversions_proposal_id ON conversions (proposal_id);
         INSERT INTO users (email) VALUES ('a@example.com');
         INSERT INTO proposals (user_id, title) VALUES (1, 'p');
         INSERT INTO conversions (proposal_id, input_filename, input_format, output_format)
              VALUES (1, 'a.docx', 'docx', 'pdf');",
    );

    let out = sentry_at_root(&db, &["run"]);
    out.assert_code(0);
    assert!(
        !out.stderr.contains("STAMP RECOVERY") && !out.stderr.contains("stamped = true"),
        "idempotent SQL needs no recovery:\n{}",
        out.stderr
    );
    assert!(out.stderr.contains("[sentry] 0 applied, 3 pending"));
    assert_schema_verified(&out);
    assert_eq!(tracked(&db), all_tracked_unstamped());
    // 0003's backfill ran on the hand-made row.
    assert_eq!(
        db.query_one_string("SELECT user_id FROM conversions"),
        "1",
        "backfill"
    );
    sentry_at_root(&db, &["status"]).assert_code(0);
}

/// The guarded DO blocks absorb a constraint or a foreign key created by hand under the
/// migration's own name (duplicate_object is caught inside the block), so even these need no
/// recovery; the constraints exist exactly once.
#[test]
fn hand_made_constraints_under_the_migrations_names_are_absorbed_by_the_do_blocks() {
    let db = cluster().create_db();
    by_hand(&db, &migration("0001_initial_schema.sql"));
    by_hand(
        &db,
        "ALTER TABLE proposals ADD COLUMN visitor_session_id VARCHAR(64);
         ALTER TABLE proposals ADD CONSTRAINT ck_proposals_owner_present
             CHECK (user_id IS NOT NULL OR visitor_session_id IS NOT NULL);
         ALTER TABLE conversions ADD COLUMN proposal_id INTEGER;
         ALTER TABLE conversions ADD CONSTRAINT fk_conversions_proposal_id
             FOREIGN KEY (proposal_id) REFERENCES proposals (id) ON DELETE CASCADE;",
    );

    let out = sentry_at_root(&db, &["run"]);
    out.assert_code(0);
    assert!(!out.stderr.contains("STAMP RECOVERY"), "{}", out.stderr);
    assert_schema_verified(&out);
    assert_eq!(tracked(&db), all_tracked_unstamped());
    assert_eq!(
        db.query_one_string(
            "SELECT count(*) FROM pg_constraint WHERE conname IN \
             ('ck_proposals_owner_present', 'fk_conversions_proposal_id')"
        ),
        "2"
    );
}

/// Stamp recovery on the example schema: the same application, with 0002 written the way a less
/// careful developer would (plain ADD COLUMN / CREATE INDEX), meets a database hot-patched by
/// hand, without a tracking table (so the sentry adopts it, replaying every migration statement
/// by statement in one transaction). The hand-made column is skipped and named in the note,
/// and verification passes.
#[test]
fn a_non_idempotent_copy_of_the_example_app_converges_through_stamp_recovery() {
    let db = cluster().create_db();
    let dir = tempfile::tempdir().unwrap();
    let migrations = copy_example_sql(dir.path(), |name, text| {
        if name == "0002_add_visitor_session.sql" {
            text.replace("ADD COLUMN IF NOT EXISTS", "ADD COLUMN")
                .replace("CREATE INDEX IF NOT EXISTS", "CREATE INDEX")
        } else {
            text
        }
    });
    let line = fs::read_to_string(migrations.join("0002_add_visitor_session.sql"))
        .unwrap()
        .lines()
        .position(|l| l.starts_with("ALTER TABLE proposals ADD COLUMN visitor_session_id"))
        .unwrap()
        + 1;

    by_hand(&db, &migration("0001_initial_schema.sql"));
    by_hand(
        &db,
        "ALTER TABLE proposals ADD COLUMN visitor_session_id VARCHAR(64);
         CREATE INDEX ix_proposals_visitor_session_id ON proposals (visitor_session_id);",
    );

    let out = sentry_in(dir.path(), &db, &["run"]);
    out.assert_code(0);
    // No tracking table and a schema: an adoption (SPEC §7), all-or-nothing, with the
    // statement-level recovery of stamp recovery.
    assert!(
        out.stderr.contains("ADOPTING AN EXISTING SCHEMA"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("stamp recovery skipped"),
        "{}",
        out.stderr
    );
    let skipped = format!("sql/migrations/0002_add_visitor_session.sql:{line} SQLSTATE 42701");
    assert!(out.stderr.contains(&skipped), "{skipped}:\n{}", out.stderr);
    assert_schema_verified(&out);
    assert_eq!(
        tracked(&db),
        "0001_initial_schema:false,0002_add_visitor_session:true,0003_conversion_owners:false"
    );
    let note = db.query_one_string(
        "SELECT note FROM schema_migrations WHERE version = '0002_add_visitor_session'",
    );
    assert!(note.contains(&skipped), "{note}");
    assert!(
        note.contains("42P07") && note.contains("ix_proposals_visitor_session_id"),
        "the hand-made index is skipped too: {note}"
    );
    // Only what existed was skipped: the other column and index were created.
    assert_eq!(
        db.query_one_string(
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_proposals_expires_at'"
        ),
        "1"
    );
    sentry_in(dir.path(), &db, &["status"]).assert_code(0);
}

#[test]
fn a_column_dropped_by_hand_fails_verification_with_exit_8() {
    let db = cluster().create_db();
    sentry_at_root(&db, &["run"]).assert_code(0);
    db.execute("ALTER TABLE conversions DROP COLUMN proposal_id");

    let out = sentry_at_root(&db, &["run"]);
    out.assert_code(8);
    assert!(
        out.stderr.contains("[sentry] 3 applied, 0 pending"),
        "{}",
        out.stderr
    );
    let bad: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("✗ ") && !l.contains("see ✗"))
        .collect();
    let column = bad
        .iter()
        .find(|l| l.contains("column public.conversions.proposal_id"))
        .unwrap_or_else(|| panic!("no ✗ line for the column:\n{}", out.stderr));
    assert!(
        column.contains(
            "ALTER TABLE public.conversions ADD COLUMN IF NOT EXISTS proposal_id integer"
        ),
        "{column}"
    );
    // Its index went with it.
    assert!(
        bad.iter()
            .any(|l| l.contains("index public.ix_conversions_proposal_id")),
        "{}",
        out.stderr
    );
    assert_eq!(bad.len(), 2, "{}", out.stderr);
    assert!(
        out.stderr.trim_end().ends_with(
            "=== MIGRATION SENTRY: FAILED (exit 8: required-schema verification failed) ==="
        ),
        "{}",
        out.stderr
    );
    sentry_at_root(&db, &["verify"]).assert_code(8);
    sentry_at_root(&db, &["status"]).assert_code(8);
}

/// docs/operations.md §5.6 (by hand): run the stored rollback_sql and delete the tracking row in one
/// transaction; the version is pending again (status exit 9) and the next run re-applies it.
#[test]
fn the_documented_rollback_path_works() {
    let db = cluster().create_db();
    sentry_at_root(&db, &["run"]).assert_code(0);
    db.execute(
        "INSERT INTO users (email) VALUES ('a@example.com');
         INSERT INTO proposals (user_id, title) VALUES (1, 'p');
         INSERT INTO conversions (proposal_id, input_filename, input_format, output_format)
              VALUES (1, 'a.docx', 'docx', 'pdf');",
    );

    let mut client = db.client();
    let rollback: String = client
        .query_one(
            "SELECT rollback_sql FROM schema_migrations WHERE version = $1",
            &[&"0003_conversion_owners"],
        )
        .unwrap()
        .get(0);
    let mut tx = client.transaction().unwrap();
    tx.batch_execute(&rollback).unwrap();
    let deleted = tx
        .execute(
            "DELETE FROM schema_migrations WHERE version = $1",
            &[&"0003_conversion_owners"],
        )
        .unwrap();
    assert_eq!(deleted, 1);
    tx.commit().unwrap();
    assert_eq!(
        db.query_one_string(
            "SELECT count(*) FROM information_schema.columns \
             WHERE table_name = 'conversions' AND column_name = 'proposal_id'"
        ),
        "0"
    );

    let status = sentry_at_root(&db, &["status"]);
    status.assert_code(9);
    assert!(
        status.stdout.contains("0003_conversion_owners") && status.stdout.contains("pending"),
        "{}",
        status.stdout
    );

    let out = sentry_at_root(&db, &["run"]);
    out.assert_code(0);
    assert!(
        out.stderr.contains("[sentry] 2 applied, 1 pending")
            && out.stderr.contains("[sentry] ✓ 0003_conversion_owners ("),
        "{}",
        out.stderr
    );
    assert_schema_verified(&out);
    assert_eq!(tracked(&db), all_tracked_unstamped());
    sentry_at_root(&db, &["status"]).assert_code(0);
}
