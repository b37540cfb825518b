//! The tracking table's failures are the sentry's, never a migration's: the pre-flight refuses
//! a role that may not do what the command does with the table, and a table that is not the
//! sentry's, before anything changes (exit 3 with the GRANT, exit 6 with the column); what the
//! pre-flight cannot see (a trigger, a row-level security policy, a CHECK constraint on the
//! table) still fails as the sentry's, never at the migration's line; and a deferred constraint
//! the migration breaks, which fails at COMMIT, stays the migration's (exit 7). Each against a
//! real cluster, each checked to have left nothing behind.

mod common;

use common::{Outcome, Project, TestDb, as_app, cluster, run};

const FAILED_1: &str = "=== MIGRATION SENTRY: FAILED (exit 1: unexpected internal error) ===";
const FAILED_3: &str = "=== MIGRATION SENTRY: FAILED (exit 3: environment invalid) ===";
const FAILED_6: &str = "=== MIGRATION SENTRY: FAILED (exit 6: migration set invalid) ===";
const FAILED_7: &str = "=== MIGRATION SENTRY: FAILED (exit 7: migration failed) ===";

fn last_line(out: &Outcome) -> &str {
    out.stderr.trim_end().lines().last().unwrap_or_default()
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

/// Nothing in the output points at a migration file (no `file:line`, no caret): the failure is
/// not reported as the migration's.
#[track_caller]
fn not_blamed_on(out: &Outcome, stem: &str) {
    let all = out.all();
    assert!(
        !all.contains(&format!("{stem}.sql")) && !all.contains(&format!("migration {stem} failed")),
        "blamed on {stem}:\n{all}"
    );
    assert!(!all.contains("    | "), "a line of SQL is shown:\n{all}");
}

fn exists(db: &TestDb, relation: &str) -> bool {
    db.query_one_string(&format!("SELECT to_regclass('{relation}') IS NOT NULL")) == "t"
}

fn versions(db: &TestDb) -> Vec<String> {
    if !exists(db, "public.schema_migrations") {
        return Vec::new();
    }
    db.client()
        .query(
            "SELECT version::text FROM public.schema_migrations ORDER BY version",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// The SQL the refusal prints after `Fix…: `, up to its `;`.
fn printed_fix(out: &Outcome, starts: &str) -> String {
    let at = out
        .stderr
        .find(starts)
        .unwrap_or_else(|| panic!("no {starts:?} in\n{}", out.stderr));
    let end = out.stderr[at..].find(';').expect("the fix ends with ;");
    out.stderr[at..=at + end].to_string()
}

/// A project whose 0001 is applied by `app` (the table's owner), and `0002_b` pending.
fn applied_once(project: &Project, db: &TestDb) {
    project.write_migration("0001_a", "CREATE TABLE a (id int PRIMARY KEY);\n");
    project.run(db, &["run"]).assert_code(0);
    project.write_migration("0002_b", "CREATE TABLE b (id int);\n");
}

/// A role of its own that may connect and create tables in `public`, with `privileges` on the
/// tracking table (which `app` owns). Returns its URL.
fn other_role(db: &TestDb, privileges: &str) -> (String, String) {
    let password = "reader-pw-71c3";
    let role = cluster().create_role(password);
    db.execute(&format!(
        "GRANT CONNECT ON DATABASE {} TO {role}; GRANT USAGE, CREATE ON SCHEMA public TO {role}",
        db.name
    ));
    if !privileges.is_empty() {
        as_app(
            db,
            &format!("GRANT {privileges} ON public.schema_migrations TO {role}"),
        );
    }
    let url = db.url_with(&role, Some(password), "127.0.0.1", "sslmode=disable");
    (role, url)
}

fn run_as(project: &Project, url: &str, args: &[&str]) -> Outcome {
    run(project.sentry_with_url(url).args(args))
}

trait WithUrl {
    fn sentry_with_url(&self, url: &str) -> std::process::Command;
}

impl WithUrl for Project {
    fn sentry_with_url(&self, url: &str) -> std::process::Command {
        let mut cmd = common::sentry();
        cmd.current_dir(self.dir.path().join("cwd"))
            .env("DATABASE_URL", url)
            .arg("--migrations-dir")
            .arg(self.migrations());
        cmd
    }
}

// ---------------------------------------------------------------------------------------------
// The pre-flight

/// A role with only SELECT on the tracking table: `run` used to fail the migration at its
/// line (exit 7, "permission denied for table schema_migrations"); it is refused before
/// anything with the GRANT, and the GRANT as printed fixes it.
#[test]
fn a_role_with_only_select_is_refused_before_anything_with_the_grant_that_fixes_it() {
    let project = Project::new();
    let db = cluster().create_db();
    applied_once(&project, &db);
    let (role, url) = other_role(&db, "SELECT");

    let refused = run_as(&project, &url, &["run"]);
    refused.assert_code(3);
    assert_has(
        &refused,
        "lacks INSERT on the tracking table public.schema_migrations",
    );
    assert_has(
        &refused,
        &format!("GRANT INSERT ON TABLE public.schema_migrations TO {role};"),
    );
    assert_eq!(last_line(&refused), FAILED_3);
    not_blamed_on(&refused, "0002_b");
    assert!(
        !refused.stderr.contains("lock acquired"),
        "{}",
        refused.stderr
    );
    assert!(!exists(&db, "public.b"), "the migration ran");
    assert_eq!(versions(&db), ["0001_a"]);

    // Reading needs only SELECT.
    run_as(&project, &url, &["status"]).assert_code(9);
    run_as(&project, &url, &["run", "--dry-run"]).assert_code(0);

    // The printed GRANT, run by the table's owner, is the whole fix.
    as_app(&db, &printed_fix(&refused, "GRANT INSERT"));
    run_as(&project, &url, &["run"]).assert_code(0);
    assert_eq!(versions(&db), ["0001_a", "0002_b"]);
    assert!(exists(&db, "public.b"));
}

/// `stamp` needs INSERT, `repair` UPDATE, `rollback` DELETE: each refused before it changes
/// anything, with its GRANT.
#[test]
fn stamp_repair_and_rollback_are_refused_for_what_each_writes() {
    let project = Project::new();
    let db = cluster().create_db();
    applied_once(&project, &db);
    let (role, url) = other_role(&db, "SELECT");
    for (args, privilege) in [
        (vec!["stamp"], "INSERT"),
        (vec!["repair"], "UPDATE"),
        (vec!["rollback", "--to", "0001_a"], "DELETE"),
    ] {
        let out = run_as(&project, &url, &args);
        out.assert_code(3);
        assert_has(
            &out,
            &format!("GRANT {privilege} ON TABLE public.schema_migrations TO {role};"),
        );
        assert_eq!(last_line(&out), FAILED_3);
        assert_eq!(versions(&db), ["0001_a"], "{args:?}");
        assert!(exists(&db, "public.a"), "{args:?} rolled 0001_a back");
    }
    // With the privilege (as printed), each does its work.
    as_app(
        &db,
        &format!("GRANT INSERT, UPDATE, DELETE ON TABLE public.schema_migrations TO {role};"),
    );
    run_as(&project, &url, &["stamp"]).assert_code(0);
    assert_eq!(versions(&db), ["0001_a", "0002_b"]);
    run_as(&project, &url, &["repair"]).assert_code(0);
}

/// An absent tracking table is created by `run`: a role that may not create it in the schema is
/// refused before anything, with the GRANT on the schema.
#[test]
fn a_role_that_may_not_create_the_absent_table_is_refused_with_the_grant_on_the_schema() {
    let project = Project::new();
    let db = cluster().create_db();
    project.write_migration("0001_a", "SELECT 1;\n");
    let password = "nocreate-pw-2b";
    let role = cluster().create_role(password);
    db.execute(&format!("GRANT CONNECT ON DATABASE {} TO {role}", db.name));
    let url = db.url_with(&role, Some(password), "127.0.0.1", "sslmode=disable");
    let out = run_as(&project, &url, &["run"]);
    out.assert_code(3);
    assert_has(&out, "does not exist yet");
    assert_has(&out, &format!("GRANT CREATE ON SCHEMA public TO {role};"));
    assert!(!exists(&db, "public.schema_migrations"));
    // Read-only commands need nothing of an absent table.
    run_as(&project, &url, &["status"]).assert_code(9);
    db.execute(&printed_fix(&out, "GRANT CREATE"));
    run_as(&project, &url, &["run"]).assert_code(0);
    assert_eq!(versions(&db), ["0001_a"]);
}

/// A tracking table with a NOT NULL column without a default that the sentry's rows do not
/// set (added by hand, or another tool's table of the same name): used to fail at the
/// migration's line (exit 7, "null value in column ticket"); it is not the sentry's table
/// (exit 6, the column named, `--table` as the way out), and nothing is applied.
#[test]
fn an_extra_not_null_column_without_default_makes_the_table_not_ours() {
    let project = Project::new();
    let db = cluster().create_db();
    applied_once(&project, &db);
    as_app(
        &db,
        "ALTER TABLE schema_migrations ADD COLUMN ticket text NOT NULL DEFAULT 'OPS-1'; \
         ALTER TABLE schema_migrations ALTER COLUMN ticket DROP DEFAULT;",
    );
    let out = project.run(&db, &["run"]);
    out.assert_code(6);
    assert_has(&out, "column ticket is NOT NULL without a default");
    assert_has(&out, "--table");
    assert_eq!(last_line(&out), FAILED_6);
    not_blamed_on(&out, "0002_b");
    assert!(!exists(&db, "public.b"));
    assert_eq!(versions(&db), ["0001_a"]);
    // Whatever the command: the table is not the sentry's.
    project.run(&db, &["status"]).assert_code(6);
    project.run(&db, &["stamp"]).assert_code(6);
    assert_eq!(versions(&db), ["0001_a"]);
    // The fix the hint names.
    as_app(
        &db,
        &printed_fix(
            &out,
            "ALTER TABLE public.schema_migrations ALTER COLUMN ticket",
        ),
    );
    project.run(&db, &["run"]).assert_code(0);
    assert_eq!(versions(&db), ["0001_a", "0002_b"]);
}

// ---------------------------------------------------------------------------------------------
// Defence in depth: what the pre-flight cannot see

/// The migrations of the two shapes of message: `0002_b` travels with its row and COMMIT in
/// one message; `0002_b` with a `SET LOCAL` is sent alone and finished by another.
const SHAPES: [(&str, &str); 2] = [
    ("together", "CREATE TABLE b (id int);\n"),
    (
        "alone",
        "SET LOCAL lock_timeout = '5s';\nCREATE TABLE b (id int);\n",
    ),
];

/// A trigger on the tracking table that refuses the row: the sentry's failure (exit 1 with the
/// FAILED line), never the migration's, and the migration is rolled back with its row.
#[test]
fn a_trigger_refusing_the_row_is_the_sentrys_failure_and_nothing_is_committed() {
    for (shape, sql) in SHAPES {
        let project = Project::new();
        let db = cluster().create_db();
        applied_once(&project, &db);
        project.write_migration("0002_b", sql);
        as_app(
            &db,
            "CREATE FUNCTION no_rows() RETURNS trigger LANGUAGE plpgsql AS \
             $$BEGIN RAISE EXCEPTION 'change freeze: no new rows'; END$$; \
             CREATE TRIGGER freeze_rows BEFORE INSERT ON schema_migrations \
             FOR EACH ROW EXECUTE FUNCTION no_rows();",
        );
        let out = project.run(&db, &["run"]);
        out.assert_code(1);
        assert_has(&out, "recording 0002_b in public.schema_migrations");
        assert_has(&out, "change freeze: no new rows (SQLSTATE P0001)");
        assert_has(&out, "the migration was rolled back with it");
        assert_eq!(last_line(&out), FAILED_1, "{shape}");
        not_blamed_on(&out, "0002_b");
        assert!(!exists(&db, "public.b"), "{shape}: the migration committed");
        assert_eq!(versions(&db), ["0001_a"], "{shape}");
    }
}

/// A trigger that raises `insufficient_privilege`, and a row-level security policy that only
/// lets the role read (a security team's default-deny): exit 3 with what fixes it, not at the
/// migration's line; the policy's fix, as printed, works. (The trigger's message is the one a
/// missing privilege has: only its context tells them apart.)
#[test]
fn a_privilege_refusal_of_the_row_is_exit_3_with_its_fix() {
    for (shape, sql) in SHAPES {
        let project = Project::new();
        let db = cluster().create_db();
        applied_once(&project, &db);
        project.write_migration("0002_b", sql);
        as_app(
            &db,
            "CREATE FUNCTION no_rows() RETURNS trigger LANGUAGE plpgsql AS \
             $$BEGIN RAISE insufficient_privilege USING MESSAGE = 'permission denied for table \
             schema_migrations'; END$$; \
             CREATE TRIGGER deny_rows BEFORE INSERT ON schema_migrations \
             FOR EACH ROW EXECUTE FUNCTION no_rows();",
        );
        let out = project.run(&db, &["run"]);
        out.assert_code(3);
        assert_has(&out, "could not write the row of 0002_b");
        assert_has(
            &out,
            "A trigger on the table raised it (PL/pgSQL function no_rows()",
        );
        assert!(!out.stderr.contains("GRANT"), "{}", out.stderr);
        assert_eq!(last_line(&out), FAILED_3, "{shape}");
        not_blamed_on(&out, "0002_b");
        assert!(!exists(&db, "public.b"), "{shape}");
        assert_eq!(versions(&db), ["0001_a"], "{shape}");

        as_app(
            &db,
            "DROP TRIGGER deny_rows ON schema_migrations; \
             ALTER TABLE schema_migrations ENABLE ROW LEVEL SECURITY; \
             ALTER TABLE schema_migrations FORCE ROW LEVEL SECURITY; \
             CREATE POLICY read_only ON schema_migrations FOR SELECT USING (true);",
        );
        let out = project.run(&db, &["run"]);
        out.assert_code(3);
        assert_has(&out, "row-level security");
        assert_eq!(last_line(&out), FAILED_3, "{shape}");
        not_blamed_on(&out, "0002_b");
        assert!(!exists(&db, "public.b"), "{shape}");
        assert_eq!(versions(&db), ["0001_a"], "{shape}");
        as_app(
            &db,
            &printed_fix(&out, "ALTER TABLE public.schema_migrations DISABLE"),
        );
        project.run(&db, &["run"]).assert_code(0);
        assert_eq!(versions(&db), ["0001_a", "0002_b"], "{shape}");
    }
}

/// A CHECK constraint on the tracking table that the sentry's row breaks: the table is not the
/// sentry's as it stands (exit 6, the constraint named), not the migration's failure.
#[test]
fn a_constraint_of_the_table_the_row_breaks_is_exit_6() {
    for (shape, sql) in SHAPES {
        let project = Project::new();
        let db = cluster().create_db();
        applied_once(&project, &db);
        project.write_migration("0002_b", sql);
        as_app(
            &db,
            "ALTER TABLE schema_migrations ADD CONSTRAINT only_the_first \
             CHECK (version = '0001_a');",
        );
        let out = project.run(&db, &["run"]);
        out.assert_code(6);
        assert_has(&out, "refused the row of 0002_b");
        assert_has(&out, "constraint only_the_first");
        assert_has(&out, "--table");
        assert_eq!(last_line(&out), FAILED_6, "{shape}");
        not_blamed_on(&out, "0002_b");
        assert!(!exists(&db, "public.b"), "{shape}");
        assert_eq!(versions(&db), ["0001_a"], "{shape}");
    }
}

/// A deferred constraint the migration breaks fails at COMMIT, after the sentry's row: it is the
/// migration's failure (exit 7), at the statement that broke it, and nothing is committed.
#[test]
fn a_deferred_constraint_failing_at_commit_is_the_migrations() {
    for (shape, set) in [
        ("together", ""),
        ("alone", "SET LOCAL lock_timeout = '5s';\n"),
    ] {
        let project = Project::new();
        let db = cluster().create_db();
        applied_once(&project, &db);
        project.write_migration(
            "0002_b",
            &format!(
                "{set}CREATE TABLE b (id int, a_id int REFERENCES a DEFERRABLE INITIALLY DEFERRED);\n\
                 INSERT INTO b VALUES (1, 42);\n\
                 CREATE TABLE c (id int);\n"
            ),
        );
        let out = project.run(&db, &["run"]);
        out.assert_code(7);
        assert_has(&out, "migration 0002_b failed");
        assert_has(&out, "SQLSTATE 23503");
        assert_has(&out, "raised when its transaction committed");
        let line = if set.is_empty() { 2 } else { 3 };
        assert_has(&out, &format!("0002_b.sql:{line}"));
        assert_has(&out, "| INSERT INTO b VALUES (1, 42);");
        assert_eq!(last_line(&out), FAILED_7, "{shape}");
        assert!(!exists(&db, "public.b"), "{shape}");
        assert!(!exists(&db, "public.c"), "{shape}");
        assert_eq!(versions(&db), ["0001_a"], "{shape}");
    }
}

/// A privilege revoked by another session while the migration runs (a DBA tightening grants
/// mid-deploy), after the pre-flight saw it: exit 3, said as revoked since the start, with the
/// GRANT, which as printed fixes it; nothing of the migration is committed.
#[test]
fn a_privilege_revoked_while_the_migration_runs_is_exit_3_and_the_grant_fixes_it() {
    let project = Project::new();
    let db = cluster().create_db();
    applied_once(&project, &db);
    let (role, url) = other_role(&db, "SELECT, INSERT");
    // The migration waits for a lock this test holds, so that the REVOKE lands while it runs.
    project.write_migration(
        "0002_b",
        "CREATE TABLE b (id int);\nDO $$BEGIN PERFORM pg_advisory_xact_lock(7021); END$$;\n",
    );
    let mut holder = db.client();
    holder
        .batch_execute("SELECT pg_advisory_lock(7021)")
        .unwrap();
    let child = project
        .sentry_with_url(&url)
        .arg("run")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    common::wait_for_statement(&db, "pg_advisory_xact_lock(7021)");
    as_app(
        &db,
        &format!("REVOKE INSERT ON public.schema_migrations FROM {role}"),
    );
    holder
        .batch_execute("SELECT pg_advisory_unlock(7021)")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let out = Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    out.assert_code(3);
    assert_has(&out, "could not write the row of 0002_b");
    assert_has(&out, "it was revoked since");
    assert_eq!(last_line(&out), FAILED_3);
    not_blamed_on(&out, "0002_b");
    assert!(!exists(&db, "public.b"));
    assert_eq!(versions(&db), ["0001_a"]);
    as_app(&db, &printed_fix(&out, "GRANT SELECT, INSERT"));
    run_as(&project, &url, &["run"]).assert_code(0);
    assert_eq!(versions(&db), ["0001_a", "0002_b"]);
}

/// INSERT granted on only some of the table's columns passes the pre-flight (which never refuses
/// what might work) and fails at the row: exit 3, the sentry's, with the GRANT, never the
/// migration's; nothing committed.
#[test]
fn insert_on_only_some_columns_is_exit_3_at_the_row_with_the_grant() {
    let project = Project::new();
    let db = cluster().create_db();
    applied_once(&project, &db);
    let (role, url) = other_role(&db, "SELECT, INSERT (version)");
    let out = run_as(&project, &url, &["run"]);
    out.assert_code(3);
    assert_has(&out, "could not write the row of 0002_b");
    assert_has(&out, "does not cover every column the row writes");
    assert_has(
        &out,
        &format!("GRANT SELECT, INSERT ON TABLE public.schema_migrations TO {role};"),
    );
    not_blamed_on(&out, "0002_b");
    assert!(!exists(&db, "public.b"));
    assert_eq!(versions(&db), ["0001_a"]);
}

/// `--table SCHEMA.NAME`: a schema that does not exist needs CREATE on the database to be
/// created, and the refusal says how to create it instead; one that exists needs only CREATE on
/// it (`CREATE SCHEMA IF NOT EXISTS` alone would want CREATE on the database too).
#[test]
fn a_table_in_its_own_schema_needs_only_what_creating_it_there_needs() {
    let project = Project::new();
    let db = cluster().create_db();
    project.write_migration("0001_a", "CREATE TABLE a (id int);\n");
    let (role, url) = other_role(&db, "");
    let args = ["run", "--table", "ops.sentry_migrations"];
    let out = run_as(&project, &url, &args);
    out.assert_code(3);
    assert_has(&out, "CREATE on the database, to create the schema ops");
    assert_has(&out, &format!("CREATE SCHEMA ops AUTHORIZATION {role};"));
    assert!(!exists(&db, "public.a"));
    // The fix as printed: the schema, made by the owner for the role.
    db.execute(&printed_fix(&out, "CREATE SCHEMA ops"));
    run_as(&project, &url, &args).assert_code(0);
    assert!(exists(&db, "ops.sentry_migrations"));

    // A schema that exists, the role allowed to create in it and nothing more.
    let project = Project::new();
    let db = cluster().create_db();
    project.write_migration("0001_a", "CREATE TABLE a (id int);\n");
    let (role, url) = other_role(&db, "");
    db.execute(&format!(
        "CREATE SCHEMA ops; GRANT USAGE, CREATE ON SCHEMA ops TO {role}"
    ));
    assert_eq!(
        db.query_one_string(&format!(
            "SELECT has_database_privilege('{role}', current_database(), 'CREATE')::text"
        )),
        "false"
    );
    run_as(&project, &url, &args).assert_code(0);
    assert!(exists(&db, "ops.sentry_migrations"));
    assert!(exists(&db, "public.a"));
}
