//! The advice of a failed or refused adoption, end to end through the real binary against a
//! real server: every `stamp --to` printed has been tried, a trial never predicts a failure
//! that only its single transaction causes, never moves a sequence for good, and neither the
//! adoption nor the advice runs again what the catalog cannot show (a sequence restart, a
//! data change).
//!
//! Every test has its own database and project folder; "another tool" is psql applying the
//! first files, and the application's use of the database is ids drawn from its sequences.

mod common;
#[path = "support/psql_apply.rs"]
mod psql_apply;
#[path = "support/schema_snapshot.rs"]
mod schema_snapshot;

use common::{Outcome, Project, TestDb, cluster};
use psql_apply::psql_apply;
use schema_snapshot::schema_snapshot;

const FAILED_6: &str = "=== MIGRATION SENTRY: FAILED (exit 6: migration set invalid) ===";
const FAILED_7: &str = "=== MIGRATION SENTRY: FAILED (exit 7: migration failed) ===";

fn last_line(text: &str) -> &str {
    text.trim_end().lines().last().unwrap_or_default()
}

#[track_caller]
fn assert_has(out: &Outcome, needle: &str) {
    assert!(
        out.stderr.contains(needle),
        "expected {needle:?} in:\n{}",
        out.stderr
    );
}

#[track_caller]
fn assert_lacks(out: &Outcome, needle: &str) {
    assert!(
        !out.stderr.contains(needle),
        "did not expect {needle:?} in:\n{}",
        out.stderr
    );
}

/// The value `sequence` hands out next.
fn next_value(db: &TestDb, sequence: &str) -> i64 {
    db.query_one_string(&format!(
        "SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM {sequence}"
    ))
    .parse()
    .unwrap()
}

fn rows(db: &TestDb, table: &str) -> i64 {
    db.query_one_string(&format!("SELECT count(*) FROM {table}"))
        .parse()
        .unwrap()
}

fn exists(db: &TestDb, relation: &str) -> bool {
    db.query_one_string(&format!("SELECT to_regclass('{relation}') IS NOT NULL")) == "t"
}

/// The application at work: `n` ids drawn from every sequence.
fn draw_ids(db: &TestDb, n: i32) {
    db.execute(&format!(
        "SELECT nextval(format('%I.%I', schemaname, sequencename)) \
         FROM pg_sequences, generate_series(1, {n}) WHERE schemaname !~ '^pg_'"
    ));
}

/// `project`'s first `applied` migrations applied by psql to a new database, and the same with
/// every migration: the half-migrated database, and what it should end as.
fn half_migrated(
    project: &Project,
    stems: &[&str],
    applied: usize,
) -> (TestDb<'static>, TestDb<'static>) {
    let files: Vec<_> = stems.iter().map(|s| project.file(s)).collect();
    let db = cluster().create_db();
    let reference = cluster().create_db();
    psql_apply(&db, &files[..applied]);
    psql_apply(&reference, &files);
    (db, reference)
}

// ---------------------------------------------------------------------------------------------
// A job queue: 0004 adds an enum value, 0006 uses it.

const JOB_QUEUE: [(&str, &str); 7] = [
    (
        "0001_create_jobs",
        "-- The job table and its states.
CREATE TYPE job_state AS ENUM ('available', 'running', 'completed', 'failed');

CREATE TABLE jobs (
    id           bigserial PRIMARY KEY,
    queue        text NOT NULL DEFAULT 'default',
    kind         text NOT NULL,
    args         jsonb NOT NULL DEFAULT '{}',
    state        job_state NOT NULL DEFAULT 'available',
    attempt      integer NOT NULL DEFAULT 0,
    scheduled_at timestamptz NOT NULL DEFAULT now(),
    unique_key   text
);

-- At most one job per kind and unique key.
CREATE UNIQUE INDEX ON jobs (kind, unique_key);
",
    ),
    (
        "0002_create_queues",
        "CREATE TABLE queues (
    name      text PRIMARY KEY,
    paused_at timestamptz
);
",
    ),
    (
        "0003_fetch_index",
        "-- Workers fetch the next available job of a queue.
CREATE INDEX IF NOT EXISTS jobs_fetch_idx ON jobs (queue, scheduled_at) WHERE state = 'available';
",
    ),
    (
        "0004_cancelled_state",
        "ALTER TYPE job_state ADD VALUE 'cancelled';\n",
    ),
    (
        "0005_cancelled_at",
        "ALTER TABLE jobs ADD COLUMN cancelled_at timestamptz;\n",
    ),
    (
        "0006_cancel_stale_jobs",
        "-- Jobs that have been running for more than a day are stuck: their worker
-- died without reporting. They are cancelled rather than retried, because
-- their side effects may have happened.
--
-- The state is set by the queue's own code from now on; this migration only
-- cleans up what the old code left behind, and indexes the cancelled jobs for
-- the dashboard.
CREATE INDEX jobs_cancelled_idx ON jobs (cancelled_at) WHERE state = 'cancelled';

UPDATE jobs
   SET state = 'cancelled', cancelled_at = now()
 WHERE state = 'running' AND scheduled_at < now() - interval '1 day';
",
    ),
    (
        "0007_job_tags",
        "ALTER TABLE jobs ADD COLUMN tags text[] NOT NULL DEFAULT '{}';\n",
    ),
];

/// A database at file 3 of 7. The replay, all in one transaction, cannot use in 0006 the enum
/// value 0004 adds (SQLSTATE 55P04): a real run commits 0004 first. So the adoption cannot be
/// all-or-nothing (exit 6), the 55P04 is reported as what the trial could not run — never as
/// a failure a run after the stamp would have — and 0001's unnamed unique index, which a
/// second run simply creates again, is no evidence that a later migration renamed or dropped
/// anything. 0003's `IF NOT EXISTS` index, found in the catalog, shows how far the database
/// is. The stamp it suggests was tried, and following it converges.
#[test]
fn a_new_enum_value_used_later_is_a_limit_of_the_trial_not_a_failure_of_the_run() {
    let project = Project::new();
    for (stem, sql) in JOB_QUEUE {
        project.write_migration(stem, sql);
    }
    let stems: Vec<&str> = JOB_QUEUE.iter().map(|(s, _)| *s).collect();
    let (db, reference) = half_migrated(&project, &stems, 3);
    draw_ids(&db, 3);
    let before = schema_snapshot(&db, None);

    let out = project.run(&db, &["run"]);
    out.assert_code(6);
    assert_eq!(schema_snapshot(&db, None), before, "{}", out.stderr);
    assert!(!exists(&db, "public.schema_migrations"));
    assert_has(
        &out,
        "adoption cannot be all-or-nothing: 2 statement(s) cannot share one transaction",
    );
    assert_has(
        &out,
        &format!(
            "what the replay did not run (a real run does, for the reason given with each):\n      \
             {}:8 SQLSTATE 55P04 unsafe use of new value \"cancelled\" of enum type job_state",
            project.file("0006_cancel_stale_jobs").display()
        ),
    );
    assert_has(
        &out,
        "(it uses an enum value that an earlier migration adds, which PostgreSQL allows only \
         once the transaction that added it has committed; a real run commits that migration \
         first)",
    );
    // Not predicted as a failure, and no rename or drop claimed.
    assert_lacks(&out, "migration 0006_cancel_stale_jobs failed");
    assert_lacks(&out, "stops there");
    assert_lacks(&out, "renamed or dropped");
    assert_lacks(&out, "cannot be trusted");
    assert_has(
        &out,
        &format!(
            "{}:2 \"jobs_fetch_idx\" was already there (IF NOT EXISTS left it as it was)",
            project.file("0003_fetch_index").display()
        ),
    );
    assert_has(
        &out,
        "hint: 0003_fetch_index is the newest migration whose objects the replay found already \
         present, so this database has been migrated at least that far; a trial (rolled back) \
         of the 4 migration(s) after 0003_fetch_index, applied as `run` would apply them, ran \
         without error, apart from 2 statement(s) it could not run",
    );
    assert_has(
        &out,
        "So: `migration-sentry stamp --to 0003_fetch_index` records it",
    );
    assert_eq!(
        out.stderr.matches("stamp --to ").count(),
        1,
        "{}",
        out.stderr
    );
    assert_eq!(last_line(&out.stderr), FAILED_6);

    // Followed: a real run commits 0004 before 0006 uses its value.
    project
        .run(&db, &["stamp", "--to", "0003_fetch_index"])
        .assert_code(0);
    project.run(&db, &["run"]).assert_code(0);
    assert_eq!(
        schema_snapshot(&db, Some("public.schema_migrations")),
        schema_snapshot(&reference, None)
    );
    assert_eq!(
        db.query_one_string("SELECT count(*) FROM pg_indexes WHERE tablename = 'jobs'"),
        "4",
        "one unique index on (kind, unique_key), not two"
    );
    project.run(&db, &["run"]).assert_code(0);
}

/// The same history on a database with unrelated objects only: nothing of it is present, so
/// nothing needs adopting, and the migrations are applied one by one — each commits on its
/// own, and 0006 uses the value 0004 committed.
#[test]
fn an_enum_value_used_later_does_not_stop_a_database_that_needs_no_adoption() {
    let project = Project::new();
    for (stem, sql) in JOB_QUEUE {
        project.write_migration(stem, sql);
    }
    let db = cluster().create_db();
    common::as_app(&db, "CREATE TABLE legacy_audit (id int)");
    let out = project.run(&db, &["run"]);
    out.assert_code(0);
    assert_has(
        &out,
        "there is nothing to adopt; applying the migrations one by one",
    );
    assert!(exists(&db, "public.jobs_cancelled_idx"));
}

// ---------------------------------------------------------------------------------------------
// What the catalog cannot show.

/// 0001 seeds two plans. Another tool applied 0001 and 0002; the replay would find their
/// tables and skip them, but run 0001's INSERT again: two more plans, and ids drawn for them.
/// The adoption is not committed; the stamp it suggests (tried) leaves the rows and the
/// sequence as they were.
#[test]
fn an_adoption_never_runs_a_data_change_again_where_it_ran() {
    let project = Project::new();
    let stems = ["0001_plans", "0002_subscriptions", "0003_invoices"];
    project.write_migration(
        "0001_plans",
        "CREATE TABLE plans (id serial PRIMARY KEY, name text NOT NULL);\n\
         INSERT INTO plans (name) VALUES ('free'), ('pro');\n",
    );
    project.write_migration(
        "0002_subscriptions",
        "CREATE TABLE subscriptions (id serial PRIMARY KEY, plan_id int REFERENCES plans (id));\n",
    );
    project.write_migration(
        "0003_invoices",
        "CREATE TABLE invoices (id serial PRIMARY KEY, amount numeric NOT NULL);\n",
    );
    let (db, reference) = half_migrated(&project, &stems, 2);
    draw_ids(&db, 3);
    let next_plan = next_value(&db, "plans_id_seq");

    let out = project.run(&db, &["run"]);
    out.assert_code(7);
    assert_has(
        &out,
        &format!(
            "the replay was not committed: it would run again statements that leave nothing a \
             replay can find, in migrations this database has seen (0002_subscriptions has \
             objects present, so it and every migration before it ran) or may have seen (those \
             after it, until one creates something new): {}:2 a data change: INSERT INTO plans \
             (name) VALUES ('free'), ('pro') in 0001_plans",
            project.file("0001_plans").display()
        ),
    );
    assert_has(
        &out,
        "So: `migration-sentry stamp --to 0002_subscriptions` records it",
    );
    assert_eq!(last_line(&out.stderr), FAILED_7);
    assert_eq!(rows(&db, "plans"), 2);

    project
        .run(&db, &["stamp", "--to", "0002_subscriptions"])
        .assert_code(0);
    project.run(&db, &["run"]).assert_code(0);
    assert_eq!(
        rows(&db, "plans"),
        2,
        "the seed rows were not inserted again"
    );
    assert_eq!(
        schema_snapshot(&db, Some("public.schema_migrations")),
        schema_snapshot(&reference, None)
    );
    // The failed run's replay drew two ids for the rows it did not keep: a gap, no more.
    assert_eq!(next_value(&db, "plans_id_seq"), next_plan + 2);
}

/// 0001 seeds plans; 0002 creates two tables, one of which was made by hand during an
/// incident (a hot patch): 0002 is only partly applied. Committing would insert 0001's seed
/// rows again; the stamp suggested stops before 0002, so that `run` completes it (stamp
/// recovery skipping the hand-made table) instead of leaving its other table out.
#[test]
fn a_partly_applied_migration_is_completed_after_the_stamp_not_stamped_over() {
    let project = Project::new();
    project.write_migration(
        "0001_plans",
        "CREATE TABLE plans (id serial PRIMARY KEY, name text NOT NULL);\n\
         INSERT INTO plans (name) VALUES ('free'), ('pro');\n",
    );
    project.write_migration(
        "0002_teams",
        "CREATE TABLE teams (id serial PRIMARY KEY, name text);\n\
         CREATE TABLE team_members (team_id int REFERENCES teams (id), user_email text);\n",
    );
    let (db, reference) = half_migrated(&project, &["0001_plans", "0002_teams"], 1);
    common::as_app(&db, "CREATE TABLE teams (id serial PRIMARY KEY, name text)");

    let out = project.run(&db, &["run"]);
    out.assert_code(7);
    assert_has(
        &out,
        "in migrations this database has seen (0002_teams is partly applied, so every migration \
         before it ran)",
    );
    assert_has(
        &out,
        "hint: 0002_teams is the newest migration whose objects the replay found already \
         present, so this database has been migrated at least that far — but only partly: \
         0002_teams created objects that did not exist (",
    );
    assert_has(
        &out,
        "so the stamp stops before it, at 0001_plans, and `run` completes it (stamp recovery \
         skips what exists)",
    );
    assert_has(
        &out,
        "So: `migration-sentry stamp --to 0001_plans` records it",
    );

    project
        .run(&db, &["stamp", "--to", "0001_plans"])
        .assert_code(0);
    project.run(&db, &["run"]).assert_code(0);
    assert_eq!(rows(&db, "plans"), 2);
    assert!(exists(&db, "public.team_members"));
    assert_eq!(
        schema_snapshot(&db, Some("public.schema_migrations")),
        schema_snapshot(&reference, None)
    );
}

/// 0002 (a backfill) and 0003 (a sequence restart) leave nothing a replay can find: another
/// tool applied them, but the newest migration with objects present is 0001. The adoption is
/// not committed, the stamp tried is 0001, and 0002 and 0003 are listed to check — each with
/// what a trial of stamping it instead showed. The operator finds that both ran and stamps to
/// 0003: the restart does not run again.
#[test]
fn the_migrations_after_the_stamp_that_the_catalog_cannot_vouch_for_are_listed_to_check() {
    let project = Project::new();
    let stems = [
        "0001_files",
        "0002_backfill_sizes",
        "0003_bump_ids",
        "0004_albums",
    ];
    project.write_migration(
        "0001_files",
        "CREATE TABLE files (id bigserial PRIMARY KEY, size bigint);\n",
    );
    project.write_migration(
        "0002_backfill_sizes",
        "UPDATE files SET size = 0 WHERE size IS NULL;\n",
    );
    project.write_migration(
        "0003_bump_ids",
        "-- New ids leave room for the imported ones.\n\
         ALTER SEQUENCE files_id_seq RESTART WITH 10000000;\n",
    );
    project.write_migration(
        "0004_albums",
        "CREATE TABLE albums (id bigserial PRIMARY KEY, name text);\n",
    );
    let (db, reference) = half_migrated(&project, &stems, 3);
    draw_ids(&db, 3);
    let next_file = next_value(&db, "files_id_seq");
    assert_eq!(next_file, 10_000_003);

    let out = project.run(&db, &["run"]);
    out.assert_code(7);
    assert_has(
        &out,
        "So: `migration-sentry stamp --to 0001_files` records it",
    );
    assert_has(
        &out,
        "Check that these did not run before: after the stamp, `run` applies them again, and \
         what they do (change rows, sequences, privileges or settings; add an unnamed index or \
         constraint) leaves nothing a trial can find, so no trial can tell whether they ran:\n      \
         0002_backfill_sizes (if it ran, stamp to it \
         instead: a trial (rolled back) of the migrations after it ran without error)\n",
    );
    assert_has(
        &out,
        &format!(
            "      0003_bump_ids (if it ran, stamp to it instead: a trial (rolled back) of the \
             migrations after it ran without error)\n        {}:2 a sequence restart: ALTER \
             SEQUENCE files_id_seq RESTART WITH 10000000\n    If one of them did run, stamp to \
             the newest one that did instead of the version above.",
            project.file("0003_bump_ids").display()
        ),
    );
    // The trials ran the restart, and rolled it back.
    assert_eq!(next_value(&db, "files_id_seq"), next_file);

    // Both ran (psql applied them): the stamp goes to the newest.
    project
        .run(&db, &["stamp", "--to", "0003_bump_ids"])
        .assert_code(0);
    project.run(&db, &["run"]).assert_code(0);
    assert_eq!(
        next_value(&db, "files_id_seq"),
        next_file,
        "not restarted again"
    );
    assert_eq!(
        schema_snapshot(&db, Some("public.schema_migrations")),
        schema_snapshot(&reference, None)
    );
}

/// 0002 renames a column: run again on a database past it, it fails (the old name is gone),
/// although it leaves nothing an "already exists" error could show. The newest migration with
/// objects present is 0001; its trial fails at 0002 with nothing new before it, which shows
/// that 0002 ran: the next candidate is 0002, whose trial applies the rest.
#[test]
fn a_migration_that_cannot_run_twice_moves_the_tried_stamp_past_it() {
    let project = Project::new();
    let stems = ["0001_users", "0002_rename_login", "0003_sessions"];
    project.write_migration(
        "0001_users",
        "CREATE TABLE users (id serial PRIMARY KEY, login text NOT NULL);\n",
    );
    project.write_migration(
        "0002_rename_login",
        "ALTER TABLE users RENAME COLUMN login TO email;\n",
    );
    project.write_migration(
        "0003_sessions",
        "CREATE TABLE sessions (id serial PRIMARY KEY, user_id int REFERENCES users (id));\n",
    );
    let (db, reference) = half_migrated(&project, &stems, 2);

    let out = project.run(&db, &["run"]);
    out.assert_code(7);
    assert_has(
        &out,
        "hint: 0001_users is the newest migration whose objects the replay found already \
         present, so this database has been migrated at least that far. A trial (rolled back) \
         of the migrations after 0001_users, applied as `run` would apply them: 0002_rename_login \
         failed at ",
    );
    assert_has(
        &out,
        "which suggests that 0002_rename_login ran before (check that statement against the \
         database before stamping; if 0002_rename_login ran, so did everything before it); a \
         trial (rolled back) of the 1 migration(s) after 0002_rename_login, applied as `run` \
         would apply them, ran without error.",
    );
    assert_has(
        &out,
        "So: `migration-sentry stamp --to 0002_rename_login` records it",
    );
    project
        .run(&db, &["stamp", "--to", "0002_rename_login"])
        .assert_code(0);
    project.run(&db, &["run"]).assert_code(0);
    assert_eq!(
        schema_snapshot(&db, Some("public.schema_migrations")),
        schema_snapshot(&reference, None)
    );
}

// ---------------------------------------------------------------------------------------------
// setval: what a rollback does not undo.

/// 0002 moves a sequence back with `setval` (a reset before an import); 0003 cannot run. The
/// replay is rolled back — and a rolled-back `setval` would still have moved the live sequence,
/// sending the application's next ids into existing ones. No replay that may be rolled back
/// runs it: the sequence is where the application left it, and the report lists the statement
/// as not tried.
#[test]
fn a_trial_never_moves_a_sequence_for_good() {
    let project = Project::new();
    let stems = ["0001_accounts", "0002_reset_ids", "0003_audit"];
    project.write_migration(
        "0001_accounts",
        "CREATE TABLE accounts (id bigserial PRIMARY KEY, name text);\n",
    );
    project.write_migration(
        "0002_reset_ids",
        "SELECT setval('accounts_id_seq', 1, false);\n",
    );
    project.write_migration(
        "0003_audit",
        "CREATE TABLE audit (id bigserial PRIMARY KEY, at timestamptz);\n\
         INSERT INTO audit_archive SELECT * FROM audit;\n",
    );
    let files: Vec<_> = stems.iter().map(|s| project.file(s)).collect();
    let db = cluster().create_db();
    psql_apply(&db, &files[..1]);
    draw_ids(&db, 40);

    let out = project.run(&db, &["run"]);
    out.assert_code(7);
    assert_eq!(next_value(&db, "accounts_id_seq"), 41, "{}", out.stderr);
    assert_has(
        &out,
        &format!(
            "{}:1 SELECT setval('accounts_id_seq', 1, false)\n        (a setval changes its \
             sequence for good, even in a transaction that is rolled back, so a trial never runs \
             it; a real run does)",
            project.file("0002_reset_ids").display()
        ),
    );
    assert_eq!(last_line(&out.stderr), FAILED_7);
}

/// A new migration's `setval` in an adoption that commits: the first replay leaves it out
/// (it might be rolled back), and the replay that commits runs it, once.
#[test]
fn a_setval_runs_once_when_the_adoption_commits() {
    let project = Project::new();
    project.write_migration(
        "0001_accounts",
        "CREATE TABLE accounts (id bigserial PRIMARY KEY, name text);\n",
    );
    project.write_migration(
        "0002_invoices",
        "CREATE TABLE invoices (id bigserial PRIMARY KEY, amount numeric);\n\
         -- Invoice numbers continue the old system's.\n\
         SELECT setval('invoices_id_seq', 5000);\n",
    );
    let db = cluster().create_db();
    psql_apply(&db, &[project.file("0001_accounts")]);
    draw_ids(&db, 3);

    let out = project.run(&db, &["run"]);
    out.assert_code(0);
    assert_has(
        &out,
        "the adoption replay applies cleanly; replaying it again with the 1 statement(s) it \
         left out (a rollback would not have undone them), to commit it",
    );
    assert_eq!(next_value(&db, "invoices_id_seq"), 5001);
    assert_eq!(next_value(&db, "accounts_id_seq"), 4);
    assert_eq!(
        db.query_one_string(
            "SELECT string_agg(version || '=' || stamped, ',' ORDER BY version) \
             FROM schema_migrations"
        ),
        "0001_accounts=true,0002_invoices=false"
    );
}
