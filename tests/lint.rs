//! The dangerous-migration lint (SPEC §5.5) through the real binary: squawk's findings offline in
//! `check`, and in `run`/`upgrade` weighed against real table sizes on a real server — a table
//! of 300,000 rows (generate_series, then ANALYZE so `reltuples` is set) and a small one —
//! plus `-- sentry:allow`, `--strict`, GitHub annotations, `--format json`, the pre-push hook
//! linting only the migrations a push adds, and the real migration sets of
//! tests/real/lint-corpus.

mod common;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{Outcome, Project, TestDb, cluster, copy_example_sql, repo_root, run, sentry};
use serde_json::Value;

const BIG_ROWS: i64 = 300_000;

/// Gives `p` a first migration, `0001_tables`, creating `big` (`big_rows` rows), `small` (10
/// rows) and `refs` (for foreign keys); applies it and ANALYZEs, so `reltuples` is set. Through
/// the sentry, so the later migrations run on a database with history (not an adoption).
fn prepare(p: &Project, db: &TestDb, big_rows: i64) {
    p.write_migration(
        "0001_tables",
        &format!(
            "CREATE TABLE refs (id int PRIMARY KEY);\n\
             INSERT INTO refs VALUES (1);\n\
             CREATE TABLE big (id int NOT NULL, v int, note text DEFAULT 'x', ref int);\n\
             INSERT INTO big (id, v, ref) SELECT g, g, 1 FROM generate_series(1, {big_rows}) g;\n\
             CREATE TABLE small (id int NOT NULL, v int, note text DEFAULT 'x', ref int);\n\
             INSERT INTO small (id, v, ref) SELECT g, g, 1 FROM generate_series(1, 10) g;\n"
        ),
    );
    p.run(db, &["upgrade"]).assert_code(0);
    db.execute("ANALYZE big; ANALYZE small; ANALYZE refs;");
}

/// Each rule of the blocking set, and a statement on table `{t}` that triggers it.
const BLOCKING: &[(&str, &str, &str)] = &[
    (
        "require-concurrent-index-creation",
        "CREATE INDEX ix_{t}_v ON {t} (v);",
        "SHARE lock",
    ),
    (
        "changing-column-type",
        "ALTER TABLE {t} ALTER COLUMN v TYPE bigint;",
        "rewritten",
    ),
    (
        "constraint-missing-not-valid",
        "ALTER TABLE {t} ADD CONSTRAINT {t}_v_nonneg CHECK (v >= 0);",
        "every row is checked",
    ),
    (
        "adding-foreign-key-constraint",
        "ALTER TABLE {t} ADD CONSTRAINT {t}_ref_fk FOREIGN KEY (ref) REFERENCES refs (id);",
        "SHARE ROW EXCLUSIVE lock on both tables",
    ),
    (
        "adding-not-nullable-field",
        "ALTER TABLE {t} ALTER COLUMN note SET NOT NULL;",
        "every row is scanned",
    ),
    (
        "adding-field-with-default",
        "ALTER TABLE {t} ADD COLUMN r float8 DEFAULT random();",
        "rewritten",
    ),
    (
        "adding-serial-primary-key-field",
        "ALTER TABLE {t} ADD PRIMARY KEY (id);",
        "unique index is built",
    ),
    (
        "disallowed-unique-constraint",
        "ALTER TABLE {t} ADD CONSTRAINT {t}_id_uq UNIQUE (id);",
        "unique index is built",
    ),
    (
        "require-concurrent-reindex",
        "REINDEX TABLE {t};",
        "whole rebuild",
    ),
];

fn on(template: &str, table: &str) -> String {
    template.replace("{t}", table)
}

/// Rows in the tracking table; "0" while it does not exist (a run that stops before applying
/// anything does not create it).
fn applied_count(db: &TestDb) -> String {
    if db.query_one_string("SELECT to_regclass('schema_migrations') IS NULL") == "t" {
        return "0".into();
    }
    db.query_one_string("SELECT count(*) FROM schema_migrations")
}

#[test]
fn each_blocking_rule_fails_the_gate_on_a_big_table_and_warns_on_a_small_and_a_new_one() {
    let big_db = cluster().create_db();
    for (rule, template, lock) in BLOCKING {
        // Big: exit 6 before anything is applied, naming migration, line, table, rows, lock
        // and the safe pattern.
        let p = Project::new();
        prepare(&p, &big_db, BIG_ROWS);
        p.write_migration(
            "0002_risky",
            &format!("-- {rule}\n{}\n", on(template, "big")),
        );
        let out = p.run(&big_db, &["upgrade"]);
        out.assert_code(6);
        let file = p.file("0002_risky").display().to_string();
        for needle in [
            format!("{file}:2:"),
            format!("{rule}: migration 0002_risky would take"),
            "on table big (~300000 rows, more than --lint-max-rows 100000)".to_string(),
            lock.to_string(),
            format!("-- sentry:allow {rule}"),
        ] {
            assert!(
                out.stderr.contains(&needle),
                "{rule}: {needle:?}\n{}",
                out.stderr
            );
        }
        assert!(out.stderr.contains("hint: "), "{}", out.stderr);
        assert_eq!(
            applied_count(&big_db),
            "1",
            "{rule}: nothing may be applied"
        );

        // Small: a warning, and the migration is applied.
        let db = cluster().create_db();
        let p = Project::new();
        prepare(&p, &db, 0);
        p.write_migration("0002_risky", &format!("{}\n", on(template, "small")));
        let out = p.run(&db, &["upgrade"]);
        out.assert_code(0);
        assert!(
            out.stderr
                .contains(&format!("WARNING: {}:1:", p.file("0002_risky").display()))
                && out.stderr.contains(&format!("{rule}: "))
                && out
                    .stderr
                    .contains("small is small (~10 rows, at most --lint-max-rows 100000)"),
            "{rule}:\n{}",
            out.stderr
        );
        assert_eq!(applied_count(&db), "2");

        // New: created by an earlier migration of the same run, so nothing to lock yet.
        let db = cluster().create_db();
        let p = Project::new();
        prepare(&p, &db, 0);
        p.write_migration(
            "0002_create",
            "CREATE TABLE fresh (id int NOT NULL, v int, note text DEFAULT 'x', ref int);\n",
        );
        p.write_migration("0003_risky", &format!("{}\n", on(template, "fresh")));
        let out = p.run(&db, &["upgrade"]);
        out.assert_code(0);
        assert!(
            out.stderr.contains(&format!("{rule}: "))
                && out
                    .stderr
                    .contains("fresh does not exist yet (created earlier in this run?)"),
            "{rule}:\n{}",
            out.stderr
        );
        assert_eq!(applied_count(&db), "3");
    }
}

#[test]
fn lint_max_rows_moves_the_line_and_json_carries_the_findings() {
    let db = cluster().create_db();
    let p = Project::new();
    prepare(&p, &db, BIG_ROWS);
    p.write_migration("0002_idx", "CREATE INDEX ix_big_v ON big (v);\n");

    let out = p.run(&db, &["run", "--format", "json"]);
    out.assert_code(6);
    let obj: Value = serde_json::from_str(out.stdout.trim()).expect(&out.stdout);
    assert_eq!(obj["ok"], false);
    assert_eq!(obj["exit_code"], 6);
    let f = &obj["findings"][0];
    assert_eq!(f["migration"], "0002_idx");
    assert_eq!(f["blocking"], true);
    assert_eq!(f["rows"], BIG_ROWS);
    assert_eq!(f["finding"]["rule"], "require-concurrent-index-creation");
    assert_eq!(f["finding"]["relation"], "big");
    assert_eq!(f["finding"]["line"], 1);

    // Above the table's size, the same finding is a warning and the index is built.
    let out = run(p
        .sentry(&db)
        .env("SENTRY_LINT_MAX_ROWS", "1000000")
        .args(["run", "--format", "json"]));
    out.assert_code(0);
    let obj: Value = serde_json::from_str(out.stdout.trim()).expect(&out.stdout);
    assert_eq!(obj["findings"][0]["blocking"], false);
    assert_eq!(
        db.query_one_string("SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_big_v'"),
        "1"
    );

    // A no-op run lints nothing.
    let out = p.run(&db, &["run"]);
    out.assert_code(0);
    assert!(!out.stderr.contains("lint:"), "{}", out.stderr);
}

#[test]
fn the_safe_patterns_pass_on_the_big_table() {
    let db = cluster().create_db();
    let p = Project::new();
    prepare(&p, &db, BIG_ROWS);
    p.write_migration(
        "0002_not_valid",
        "ALTER TABLE big ADD CONSTRAINT big_v_nonneg CHECK (v >= 0) NOT VALID;\n\
         ALTER TABLE big ADD COLUMN flag boolean DEFAULT false;\n",
    );
    p.write_migration(
        "0003_validate",
        "ALTER TABLE big VALIDATE CONSTRAINT big_v_nonneg;\n",
    );
    p.write_migration(
        "0004_index",
        "-- sentry:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS ix_big_v ON big (v);\n",
    );
    let out = p.run(&db, &["upgrade"]);
    out.assert_code(0);
    // A constant default is free since PostgreSQL 11: the lint uses the server's version.
    assert!(!out.stderr.contains("WARNING"), "{}", out.stderr);
    assert_eq!(applied_count(&db), "4");
}

#[test]
fn an_allow_directive_accepts_a_reviewed_finding_and_says_so() {
    let db = cluster().create_db();
    let p = Project::new();
    prepare(&p, &db, BIG_ROWS);
    p.write_migration(
        "0002_idx",
        "-- reviewed: big is written to once a night\n\
         -- sentry:allow require-concurrent-index-creation, ban-drop-column\n\
         CREATE INDEX ix_big_v ON big (v);\n",
    );
    let out = p.run(&db, &["upgrade"]);
    out.assert_code(0);
    assert!(
        out.stderr.contains(&format!(
            "0002_idx: -- sentry:allow require-concurrent-index-creation accepts {}:3:1 \
             (CREATE INDEX ix_big_v ON big (v);)",
            p.file("0002_idx").display()
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("0002_idx: -- sentry:allow ban-drop-column matched no finding"),
        "{}",
        out.stderr
    );
    assert_eq!(applied_count(&db), "2");
}

#[test]
fn an_unknown_rule_in_an_allow_directive_is_exit_6_everywhere() {
    let db = cluster().create_db();
    let p = Project::new();
    p.write_migration(
        "0001_idx",
        "-- sentry:allow require-concurent-index-creation\nCREATE TABLE t (id int);\n",
    );
    let expected = format!(
        "{}:1: unknown lint rule `require-concurent-index-creation` in `sentry:allow`",
        p.file("0001_idx").display()
    );
    for args in [&["check"][..], &["upgrade"][..], &["status"][..]] {
        let out = p.run(&db, args);
        out.assert_code(6);
        assert!(out.stderr.contains(&expected), "{args:?}\n{}", out.stderr);
    }
    assert_eq!(
        db.query_one_string("SELECT count(*) FROM pg_class WHERE relname = 't'"),
        "0"
    );
}

#[test]
fn check_warns_and_strict_makes_every_finding_an_error() {
    let p = Project::new();
    p.write_migration("0001_t", "CREATE TABLE t (id int, old text);\n");
    p.write_migration(
        "0002_drop",
        "ALTER TABLE t DROP COLUMN old;\nCREATE INDEX ix_t_id ON t (id);\n",
    );
    let file = p.file("0002_drop").display().to_string();
    let check = |extra: &[&str], env: Option<(&str, &str)>| {
        let mut cmd = sentry();
        cmd.current_dir(p.dir.path().join("cwd"))
            .env_remove("GITHUB_ACTIONS")
            .arg("--migrations-dir")
            .arg(p.migrations())
            .arg("check")
            .args(extra);
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        run(&mut cmd)
    };
    let out = check(&[], None);
    out.assert_code(0);
    assert!(
        out.stderr.contains(&format!(
            "WARNING: {file}:1:15: ban-drop-column: Dropping a column may break existing clients."
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!(
            "WARNING: {file}:2:1: require-concurrent-index-creation: "
        )) && out
            .stderr
            .contains("    help: Use `concurrently` to avoid blocking writes.")
            && out.stderr.contains(
                "at deploy, `run` stops if t has more than --lint-max-rows (100000) rows"
            ),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("::warning"), "{}", out.stderr);
    assert!(out.stdout.contains("2 lint warnings"), "{}", out.stdout);

    for (extra, env) in [
        (&["--strict"][..], None),
        (&[][..], Some(("SENTRY_STRICT", "1"))),
    ] {
        let out = check(extra, env);
        out.assert_code(6);
        assert!(
            out.stderr
                .contains(&format!("{file}:1:15: ban-drop-column: "))
                && out
                    .stderr
                    .contains(&format!("{file}:2:1: require-concurrent-index-creation: "))
                && out.stderr.contains("--strict makes every finding an error"),
            "{}",
            out.stderr
        );
    }

    // --format json carries the findings.
    let out = check(&["--format", "json"], None);
    out.assert_code(0);
    let obj: Value = serde_json::from_str(out.stdout.trim()).expect(&out.stdout);
    let rules: Vec<&str> = obj["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        ["ban-drop-column", "require-concurrent-index-creation"]
    );
    assert_eq!(obj["linted"], 2);
}

#[test]
fn strict_run_blocks_data_loss_but_never_a_squawk_syntax_error() {
    let db = cluster().create_db();
    let p = Project::new();
    prepare(&p, &db, 0);
    p.write_migration("0002_drop", "ALTER TABLE small DROP COLUMN note;\n");
    p.run(&db, &["upgrade", "--strict"]).assert_code(6);
    assert_eq!(applied_count(&db), "1");
    let out = p.run(&db, &["upgrade"]);
    out.assert_code(0);
    assert!(out.stderr.contains("ban-drop-column"), "{}", out.stderr);

    // What squawk's parser cannot read never blocks a deploy, even under --strict: the server
    // judges it. A statement PostgreSQL rejects too fails there (exit 7), not in the lint.
    p.write_migration("0003_typo", "SELEC 1;\n");
    let out = p.run(&db, &["upgrade", "--strict"]);
    out.assert_code(7);
    assert!(
        out.stderr
            .contains("syntax-error: squawk's parser cannot read this statement"),
        "{}",
        out.stderr
    );
    // pg_dump output turns check_function_bodies off: PostgreSQL stores a body it does not
    // parse, and the lint does not parse it either.
    p.write_migration(
        "0003_typo",
        "SET check_function_bodies = false;\n\
         CREATE FUNCTION half() RETURNS int LANGUAGE sql AS $$ SELECT CASE WHEN true THEN 1 $$;\n",
    );
    let out = p.run(&db, &["upgrade", "--strict"]);
    out.assert_code(0);
    assert!(!out.stderr.contains("syntax-error"), "{}", out.stderr);
    assert_eq!(applied_count(&db), "3");
}

#[test]
fn annotations_under_github_actions() {
    let db = cluster().create_db();
    let p = Project::new();
    prepare(&p, &db, BIG_ROWS);
    p.write_migration("0002_idx", "-- x\nCREATE INDEX ix_big_v ON big (v);\n");
    let gha = |args: &[&str]| run(p.sentry(&db).env("GITHUB_ACTIONS", "true").args(args));
    let file = p.file("0002_idx").display().to_string();

    // A blocking finding: an error annotation at the statement.
    let out = gha(&["upgrade"]);
    out.assert_code(6);
    let line = out
        .stderr
        .lines()
        .find(|l| l.starts_with("::error "))
        .unwrap_or_else(|| panic!("{}", out.stderr));
    assert!(
        line.starts_with(&format!(
            "::error file={file},line=2,col=1::require-concurrent-index-creation: migration \
             0002_idx would take a SHARE lock"
        )) && line.contains("%0A"),
        "{line}"
    );

    // A warning finding in check: a warning annotation.
    let out = gha(&["check"]);
    out.assert_code(0);
    assert!(
        out.stderr.contains(&format!(
            "::warning file={file},line=2,col=1::require-concurrent-index-creation: During normal"
        )),
        "{}",
        out.stderr
    );

    // A failed statement points at its line and column.
    p.remove_migration("0002_idx");
    p.write_migration(
        "0002_bad",
        "CREATE TABLE t (id int);\nSELECT nosuchcolumn FROM t;\n",
    );
    let out = gha(&["upgrade"]);
    out.assert_code(7);
    assert!(
        out.stderr.contains(&format!(
            "::error file={},line=2,col=8::migration 0002_bad failed: SQLSTATE 42703",
            p.file("0002_bad").display()
        )),
        "{}",
        out.stderr
    );

    // A bad name.
    fs::write(p.migrations().join("notes.sql"), "SELECT 1;\n").unwrap();
    let out = gha(&["check"]);
    out.assert_code(6);
    assert!(
        out.stderr.contains(&format!(
            "::error file={}::not a valid migration name",
            p.migrations().join("notes.sql").display()
        )),
        "{}",
        out.stderr
    );
    fs::remove_file(p.migrations().join("notes.sql")).unwrap();

    // Drift of an applied migration.
    p.write_migration("0002_bad", "CREATE TABLE t (id int);\n");
    gha(&["upgrade"]).assert_code(0);
    p.write_migration("0002_bad", "CREATE TABLE t (id bigint);\n");
    let out = gha(&["upgrade"]);
    out.assert_code(6);
    assert!(
        out.stderr
            .contains(&format!("::error file={}", p.file("0002_bad").display())),
        "{}",
        out.stderr
    );

    // Without GITHUB_ACTIONS, no annotation.
    let out = run(p.sentry(&db).env_remove("GITHUB_ACTIONS").arg("upgrade"));
    assert!(!out.stderr.contains("::error"), "{}", out.stderr);
}

/// The real migration sets: the only squawk syntax errors are the psql-only statements of the
/// PostgREST fixtures (meta-commands, psql variables, COPY data), which PostgreSQL rejects too.
#[test]
fn real_migration_sets_have_no_false_syntax_errors() {
    let corpus = repo_root().join("tests/real/lint-corpus");
    let mut sets: Vec<_> = fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    sets.sort();
    // The real sets of tests/real_sets.rs, linted where they are rather than copied here.
    sets.extend(
        ["harbor", "atuin-server", "ente-server"].map(|s| repo_root().join("tests/real").join(s)),
    );
    assert!(sets.len() >= 8, "{sets:?}");
    let mut files = 0;
    let mut syntax: Vec<String> = Vec::new();
    for set in &sets {
        // Harbor alters golang-migrate's schema_migrations: the sentry's table is another.
        let out = run(sentry()
            .current_dir(&corpus)
            .env_remove("GITHUB_ACTIONS")
            .args([
                "-q",
                "--format",
                "json",
                "check",
                "--table",
                "sentry_migrations",
            ])
            .arg("--migrations-dir")
            .arg(match set.strip_prefix(&corpus) {
                Ok(inside) => inside.to_path_buf(),
                Err(_) => Path::new("..").join(set.file_name().unwrap()),
            }));
        let obj: Value = serde_json::from_str(out.stdout.trim())
            .unwrap_or_else(|e| panic!("{set:?}: {e}\n{}", out.all()));
        let linted = obj["linted"].as_u64().unwrap();
        let on_disk = fs::read_dir(set)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "sql")
            })
            .count();
        assert_eq!(linted as usize, on_disk, "{set:?}: every file is linted");
        files += on_disk;
        for f in obj["findings"].as_array().unwrap() {
            if f["rule"] == "syntax-error" {
                syntax.push(format!("{}:{}", f["file"].as_str().unwrap(), f["line"]));
            }
        }
    }
    assert!(files >= 1600, "{files}");
    let psql_only = [
        "postgrest/0001_big_schema.sql:1",     // \ir
        "postgrest/0001_big_schema.sql:11404", // GRANT … TO :"PGUSER"
        "postgrest/0003_db_config.sql:31",     // ALTER ROLE … IN DATABASE :DBNAME
        "postgrest/0003_db_config.sql:32",
        "postgrest/0003_db_config.sql:33",
        "postgrest/0004_load.sql:3", // \set
        "postgrest/0006_replica.sql:20",
        "postgrest/0007_roles.sql:13",
        "postgrest/0007_roles.sql:20",
        "postgrest/0009_data.sql:564", // COPY … FROM STDIN data
        "postgrest/0009_data.sql:573",
        "postgrest/0010_database.sql:2",
        "postgrest/0013_load.sql:3",
        "postgrest/0015_roles.sql:7",
    ];
    assert_eq!(syntax, psql_only, "new squawk syntax errors on real SQL");
}

// ---- the pre-push hook through a real `git push` ----

/// `program` with the caller's sentry, libpq and git variables removed.
fn clean(program: &str) -> Command {
    let mut cmd = Command::new(program);
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k == "DATABASE_URL"
            || k == "GITHUB_ACTIONS"
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

#[test]
fn the_pre_push_hook_lints_only_the_migrations_a_push_adds() {
    let repo = tempfile::tempdir().unwrap();
    git(repo.path(), &["init", "-q"]);
    copy_example_sql(repo.path(), |_, text| text);
    let hooks = repo.path().join(".git/hooks");
    fs::create_dir_all(&hooks).unwrap();
    fs::copy(repo_root().join("scripts/pre-push"), hooks.join("pre-push")).unwrap();
    let remote = tempfile::tempdir().unwrap();
    git(remote.path(), &["init", "-q", "--bare"]);
    git(
        repo.path(),
        &["remote", "add", "origin", remote.path().to_str().unwrap()],
    );
    let push = |strict: bool| {
        let mut cmd = clean("git");
        cmd.current_dir(repo.path())
            .env("SENTRY_BIN", env!("CARGO_BIN_EXE_migration-sentry"))
            .args(["push", "-q", "origin", "HEAD:refs/heads/main"])
            .stdin(Stdio::null());
        if strict {
            cmd.env("SENTRY_STRICT", "1");
        }
        run(&mut cmd)
    };

    // First push: the remote has nothing, so all three example migrations are new; their
    // CREATE INDEX findings are warnings.
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-q", "-m", "example app"]);
    let out = push(false);
    out.assert_code(0);
    assert!(
        out.stderr.contains(
            "pre-push: linting 3 migration(s) new relative to origin: 0001_initial_schema.sql \
             0002_add_visitor_session.sql 0003_conversion_owners.sql"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("require-concurrent-index-creation"),
        "{}",
        out.stderr
    );

    // Second push: one new migration with a data-loss finding. Only it is linted (the applied
    // ones are history), and --strict blocks the push on it.
    let mut f = fs::File::create(repo.path().join("sql/migrations/0004_drop_note.sql")).unwrap();
    writeln!(f, "ALTER TABLE proposals DROP COLUMN visitor_session_id;").unwrap();
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-q", "-m", "drop"]);
    let out = push(true);
    assert_ne!(out.code, 0, "{}", out.all());
    assert!(
        out.stderr.contains(
            "pre-push: linting 1 migration(s) new relative to origin: 0004_drop_note.sql"
        ) && out
            .stderr
            .contains("0004_drop_note.sql:1:23: ban-drop-column")
            && out.stderr.contains("pre-push: push BLOCKED"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("0002_add_visitor_session.sql:"),
        "an already pushed migration was linted:\n{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("lint: 1 of 4 migrations linted (--lint-only)"),
        "{}",
        out.stderr
    );
    // Without --strict the finding is a warning and the push goes through.
    let out = push(false);
    out.assert_code(0);
    assert!(
        out.stderr
            .contains("0004_drop_note.sql:1:23: ban-drop-column"),
        "{}",
        out.stderr
    );

    // Nothing new among the migrations: nothing linted.
    fs::write(repo.path().join("README.md"), "notes\n").unwrap();
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-q", "-m", "readme"]);
    let out = push(true);
    out.assert_code(0);
    assert!(
        out.stderr
            .contains("pre-push: no migration is new relative to origin; lint skipped"),
        "{}",
        out.stderr
    );
}
