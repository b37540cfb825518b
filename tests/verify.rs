//! The required schema (SPEC §6) end to end through the real binary: every kind of requirement
//! passing, every kind failing with what was found and a hint, malformed files and flags (exit
//! 3), `--require` / `SENTRY_REQUIRE`, and how `verify` and `status` report the checks.
//!
//! Every test has its own database and project folder, passes `--migrations-dir` and
//! `--required-schema` explicitly, and runs the binary from an empty temp dir, so the
//! repository's `sql/` is never picked up.

mod common;

use common::{Project, as_app, cluster, run};
use serde_json::{Value, json};

fn last_line(text: &str) -> &str {
    text.lines().last().unwrap_or_default()
}

fn parse_json(stdout: &str) -> Value {
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}):\n{stdout}"))
}

/// The check lines of stderr (`[sentry] ✓ …`, `[sentry] ERROR: ✗ …`) starting with `mark`,
/// without the prefix.
fn check_lines(stderr: &str, mark: char) -> Vec<&str> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("[sentry] "))
        .map(|l| l.strip_prefix("ERROR: ").unwrap_or(l))
        .filter(|l| l.starts_with(mark))
        .collect()
}

#[track_caller]
fn assert_line(lines: &[&str], expected: &str) {
    assert!(
        lines.contains(&expected),
        "expected the line\n  {expected}\namong\n  {}",
        lines.join("\n  ")
    );
}

const FAILED_8: &str =
    "=== MIGRATION SENTRY: FAILED (exit 8: required-schema verification failed) ===";

#[test]
fn every_requirement_kind_passes_with_one_check_line_each() {
    let project = Project::new();
    let db = cluster().create_db();
    as_app(
        &db,
        r#"CREATE TABLE items (
               id         serial PRIMARY KEY,
               name       varchar(64) NOT NULL,
               qty        integer,
               n4         integer,
               created    timestamp,
               created_tz timestamptz NOT NULL DEFAULT now(),
               active     boolean,
               price      numeric(10,2),
               tags       text[],
               scores     integer[],
               "MixedCase" text,
               CONSTRAINT ck_items_qty CHECK (qty >= 0)
           );
           CREATE INDEX ix_items_name ON items (name);
           CREATE SCHEMA app;
           CREATE TABLE app.t (c varchar(10) NOT NULL);
           CREATE INDEX ix_app_t_c ON app.t (c);
           CREATE TABLE public."Odd Table" ("Odd Col" text);"#,
    );
    project.write_schema(
        r#"# every kind of requirement, and the aliases of §6
table items
column items.id                                # no type, no nullability
column items.name varchar(64)
column items.name varchar(64) not null
column items.qty int null
column items.n4 int4
column items.created timestamp
column items.created_tz timestamptz not null
column items.active bool
column items.price numeric(10,2)
column items.tags text[]
column items.scores int[]
column items."MixedCase" text
index ix_items_name
constraint items.ck_items_qty
constraint items.items_pkey
table app.t
column app.t.c varchar(10) not null
index app.ix_app_t_c
table "Odd Table"
column "Odd Table"."Odd Col" text

"#,
    );
    let out = project.run(&db, &["verify"]);
    out.assert_code(0);
    let ok = check_lines(&out.stderr, '✓');
    assert_eq!(ok.len(), 21, "{}", out.stderr);
    assert!(check_lines(&out.stderr, '✗').is_empty(), "{}", out.stderr);
    for expected in [
        "✓ table public.items",
        "✓ column public.items.id",
        "✓ column public.items.name character varying(64)",
        "✓ column public.items.name character varying(64) not null",
        "✓ column public.items.qty integer null",
        "✓ column public.items.n4 integer",
        "✓ column public.items.created timestamp without time zone",
        "✓ column public.items.created_tz timestamp with time zone not null",
        "✓ column public.items.active boolean",
        "✓ column public.items.price numeric(10,2)",
        "✓ column public.items.tags text[]",
        "✓ column public.items.scores integer[]",
        "✓ column public.items.\"MixedCase\" text",
        "✓ index public.ix_items_name",
        "✓ constraint public.items.ck_items_qty",
        "✓ constraint public.items.items_pkey",
        "✓ table app.t",
        "✓ column app.t.c character varying(10) not null",
        "✓ index app.ix_app_t_c",
        "✓ table public.\"Odd Table\"",
        "✓ column public.\"Odd Table\".\"Odd Col\" text",
    ] {
        assert_line(&ok, expected);
    }
    assert!(out.stderr.contains("schema OK."), "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "21 of 21 checks passed");
    assert_eq!(last_line(&out.stderr), "=== MIGRATION SENTRY: success ===");
}

#[test]
fn every_failure_says_what_was_found_and_how_to_fix_it() {
    let project = Project::new();
    let db = cluster().create_db();
    as_app(
        &db,
        "CREATE TABLE t (id integer PRIMARY KEY, c integer, d text NOT NULL);",
    );
    project.write_schema(
        "table t\n\
         column t.missing_col varchar(64)\n\
         column t.c varchar(64)\n\
         column t.d text null\n\
         column t.c integer not null\n\
         index ix_t_c\n\
         constraint t.ck_t_c_positive\n\
         table nope\n\
         column nope.x int\n",
    );
    let out = project.run(&db, &["verify"]);
    out.assert_code(8);
    let err = &out.stderr;
    assert_eq!(check_lines(err, '✓'), ["✓ table public.t"]);
    let bad = check_lines(err, '✗');
    assert_eq!(bad.len(), 8, "{err}");
    for expected in [
        "✗ column public.t.missing_col character varying(64) — found: missing; hint: \
         ALTER TABLE public.t ADD COLUMN IF NOT EXISTS missing_col character varying(64);",
        "✗ column public.t.c character varying(64) — found: integer null; hint: \
         ALTER TABLE public.t ALTER COLUMN c TYPE character varying(64);",
        "✗ column public.t.d text null — found: text not null; hint: \
         ALTER TABLE public.t ALTER COLUMN d DROP NOT NULL;",
        "✗ column public.t.c integer not null — found: integer null; hint: \
         ALTER TABLE public.t ALTER COLUMN c SET NOT NULL;",
    ] {
        assert_line(&bad, expected);
    }
    let starting = |prefix: &str| -> &str {
        bad.iter()
            .copied()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting with {prefix:?} in\n{err}"))
    };
    let index = starting("✗ index public.ix_t_c — found: missing; hint: ");
    assert!(index.contains("CREATE INDEX"), "{index}");
    let constraint = starting("✗ constraint public.t.ck_t_c_positive — found: missing");
    assert!(constraint.contains("hint: "), "{constraint}");
    starting("✗ table public.nope — found: missing");
    let col = starting("✗ column public.nope.x integer — found: table public.nope does not exist");
    assert!(col.contains("CREATE TABLE public.nope"), "{col}");

    assert_eq!(out.stdout.trim(), "1 of 9 checks passed");
    assert!(!err.contains("schema OK."), "{err}");
    assert_eq!(last_line(err), FAILED_8);
}

#[test]
fn malformed_required_schema_lines_are_exit_3_with_their_line_numbers() {
    let project = Project::new();
    let db = cluster().create_db();
    project.write_schema(
        "# line 1 is a comment\n\
         table ok\n\
         colum t.c\n\
         column nodot\n\
         column t.c varchar(\n\
         \n\
         index fine\n",
    );
    let path = project.schema_path().display().to_string();
    let out = project.run(&db, &["verify"]);
    out.assert_code(3);
    let err = &out.stderr;
    for (line, what) in [
        (3, "unknown requirement 'colum'"),
        (4, "'nodot' has 1 part"),
        (5, "unbalanced parentheses"),
    ] {
        let prefix = format!("{path}:{line}: ");
        assert!(
            err.lines().any(|l| l.contains(&prefix) && l.contains(what)),
            "{prefix}{what} not in\n{err}"
        );
    }
    for good in [":1:", ":2:", ":6:", ":7:"] {
        assert!(!err.contains(&format!("{path}{good}")), "{err}");
    }
    assert_eq!(
        last_line(err),
        "=== MIGRATION SENTRY: FAILED (exit 3: environment invalid) ==="
    );
    assert!(check_lines(err, '✓').is_empty() && check_lines(err, '✗').is_empty());

    // Two bad lines: both listed, and `run`, `status` and `check` refuse the file too, before
    // touching the database.
    project.write_schema("table t\ncolumn t.c int not\nindex a.b.c\n");
    for args in [&["verify"][..], &["run"], &["status"], &["check"]] {
        let out = project.run(&db, args);
        out.assert_code(3);
        assert!(
            out.stderr.contains(&format!("{path}:2: ")),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains(&format!("{path}:3: ")),
            "{}",
            out.stderr
        );
    }
    assert_eq!(
        db.query_one_string("SELECT to_regclass('public.schema_migrations') IS NULL"),
        "t",
        "a malformed required schema must stop `run` before it changes anything"
    );
}

#[test]
fn require_flag_and_env_add_column_checks() {
    let project = Project::new();
    let db = cluster().create_db();
    as_app(&db, "CREATE TABLE t (c integer, d text);");

    let out = project.run(&db, &["verify", "--require", "t.c"]);
    out.assert_code(0);
    assert_eq!(check_lines(&out.stderr, '✓'), ["✓ column public.t.c"]);

    let out = run(project
        .sentry(&db)
        .env("SENTRY_REQUIRE", "t.c,t.d")
        .arg("verify"));
    out.assert_code(0);
    assert_eq!(
        check_lines(&out.stderr, '✓'),
        ["✓ column public.t.c", "✓ column public.t.d"]
    );

    // Repeatable, and kept whole when split around the command (clap alone would keep only
    // the occurrences after it, clap-rs/clap#1570).
    let out = project.run(&db, &["--require", "t.c", "verify", "--require", "t.e"]);
    out.assert_code(8);
    assert_line(&check_lines(&out.stderr, '✓'), "✓ column public.t.c");
    let bad = check_lines(&out.stderr, '✗');
    assert_eq!(bad.len(), 1, "{}", out.stderr);
    assert!(
        bad[0].starts_with("✗ column public.t.e — found: missing; hint: ALTER TABLE public.t ADD COLUMN IF NOT EXISTS e"),
        "{}",
        bad[0]
    );
    assert_eq!(last_line(&out.stderr), FAILED_8);

    let out = run(project
        .sentry(&db)
        .env("SENTRY_REQUIRE", "t.c,t.missing")
        .arg("verify"));
    out.assert_code(8);

    // --require adds to the file.
    project.write_schema("table t\n");
    let out = project.run(&db, &["verify", "--require", "t.d text"]);
    out.assert_code(0);
    assert_eq!(
        check_lines(&out.stderr, '✓'),
        ["✓ table public.t", "✓ column public.t.d text"]
    );

    // A malformed value is exit 3, naming it.
    for bad in ["nodot", "a.b.c.d", "t.c varchar("] {
        let out = project.run(&db, &["verify", "--require", bad]);
        out.assert_code(3);
        assert!(out.stderr.contains("--require"), "{}", out.stderr);
        assert!(out.stderr.contains(bad), "{bad}: {}", out.stderr);
    }
    let out = run(project
        .sentry(&db)
        .env("SENTRY_REQUIRE", "t.c,nodot")
        .arg("verify"));
    out.assert_code(3);
    assert!(out.stderr.contains("nodot"), "{}", out.stderr);
}

#[test]
fn missing_required_schema_file_is_exit_3() {
    let project = Project::new();
    let db = cluster().create_db();
    let missing = project.dir.path().join("no_such_schema.txt");
    for args in [&["verify"][..], &["run"], &["status"]] {
        let out = run(project
            .sentry(&db)
            .arg("--required-schema")
            .arg(&missing)
            .args(args));
        out.assert_code(3);
        assert!(
            out.stderr.contains(&missing.display().to_string()) && out.stderr.contains("not found"),
            "{}",
            out.stderr
        );
    }
    let out = run(project
        .sentry(&db)
        .env("SENTRY_REQUIRED_SCHEMA", &missing)
        .arg("verify"));
    out.assert_code(3);
}

#[test]
fn status_reports_checks_and_exits_8_or_9() {
    let project = Project::new();
    let db = cluster().create_db();
    project.write_migration(
        "0001_t",
        "CREATE TABLE t (id integer PRIMARY KEY, c varchar(64));\n",
    );
    project.write_schema("table t\ncolumn t.c varchar(64) null\n");
    project.run(&db, &["run"]).assert_code(0);

    let out = project.run(&db, &["status", "--format", "json"]);
    out.assert_code(0);
    let v = parse_json(&out.stdout);
    assert_eq!(v["migrated"], true);
    assert_eq!(
        v["checks"],
        json!({"table public.t": true, "column public.t.c": true})
    );

    // Migrated, but the application now needs something the database lacks: exit 8.
    project.write_schema("table t\ncolumn t.c varchar(64) null\ncolumn t.d integer\n");
    let out = project.run(&db, &["status", "--format", "json"]);
    out.assert_code(8);
    let v = parse_json(&out.stdout);
    assert_eq!(v["migrated"], false);
    assert_eq!(v["at_head"], true);
    assert_eq!(
        v["checks"],
        json!({"table public.t": true, "column public.t.c": true, "column public.t.d": false})
    );
    let text = project.run(&db, &["status"]);
    text.assert_code(8);
    assert!(
        text.stdout
            .contains("✗ column public.t.d integer — found: missing"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("✓ table public.t"), "{}", text.stdout);
    assert_eq!(last_line(&text.stderr), FAILED_8);

    // Pending takes precedence over a failing check: exit 9.
    project.write_migration("0002_d", "ALTER TABLE t ADD COLUMN d integer;\n");
    let out = project.run(&db, &["status", "--format", "json"]);
    out.assert_code(9);
    let v = parse_json(&out.stdout);
    assert_eq!(v["pending"], json!(["0002_d"]));
    assert_eq!(v["checks"]["column public.t.d"], false);
    assert_eq!(
        last_line(&out.stderr),
        "=== MIGRATION SENTRY: FAILED (exit 9: migrations are pending) ==="
    );

    // Applying it satisfies the check: 0.
    project.run(&db, &["run"]).assert_code(0);
    project.run(&db, &["status"]).assert_code(0);
}

#[test]
fn verify_json_prints_ok_and_checks() {
    let project = Project::new();
    let db = cluster().create_db();
    as_app(&db, "CREATE TABLE t (c integer NOT NULL);");
    project.write_schema("table t\ncolumn t.c int not null\n");
    let out = project.run(&db, &["verify", "--format", "json"]);
    out.assert_code(0);
    assert_eq!(
        parse_json(&out.stdout),
        json!({"ok": true, "checks": {"table public.t": true, "column public.t.c": true}})
    );

    project.write_schema("table t\ncolumn t.c int not null\nindex ix_t_c\n");
    let out = run(project
        .sentry(&db)
        .env("SENTRY_FORMAT", "json")
        .arg("verify"));
    out.assert_code(8);
    assert_eq!(
        parse_json(&out.stdout),
        json!({"ok": false, "checks": {
            "table public.t": true,
            "column public.t.c": true,
            "index public.ix_t_c": false,
        }})
    );
    assert_eq!(last_line(&out.stderr), FAILED_8);
}

/// An INVALID index (left by a failed CREATE INDEX CONCURRENTLY) is no index for the
/// application: `verify` and `status` count it as missing (exit 8), naming it and the fix; the
/// printed rebuild, once the cause is fixed, satisfies the check.
#[test]
fn an_invalid_index_fails_verify_and_status_with_the_fix() {
    let project = Project::new();
    let db = cluster().create_db();
    project.write_migration(
        "0001_users",
        "CREATE TABLE users (id serial PRIMARY KEY, nickname text);\n\
         INSERT INTO users (nickname) VALUES ('ann'), ('ann');\n",
    );
    project.write_schema("table users\nindex ux_users_nickname\n");
    // As an older sentry left it: the build failed, the migration was recorded anyway.
    project.run(&db, &["upgrade"]).assert_code(0);
    let err = db
        .client()
        .batch_execute("CREATE UNIQUE INDEX CONCURRENTLY ux_users_nickname ON users (nickname)")
        .unwrap_err();
    assert_eq!(err.as_db_error().map(|e| e.code().code()), Some("23505"));

    let expected = "✗ index public.ux_users_nickname — found: INVALID (a failed CREATE INDEX \
         CONCURRENTLY left it: queries never use it); hint: DROP INDEX CONCURRENTLY \
         public.ux_users_nickname; then deploy again, so that the migration that creates it \
         builds it anew — or, when that migration is already recorded, rebuild it in place: \
         REINDEX INDEX CONCURRENTLY public.ux_users_nickname; (either fails again until what made \
         the build fail, such as duplicate keys, is fixed)";
    let out = project.run(&db, &["verify"]);
    out.assert_code(8);
    assert_line(&check_lines(&out.stderr, '✗'), expected);
    assert_line(&check_lines(&out.stderr, '✓'), "✓ table public.users");
    assert_eq!(last_line(&out.stderr), FAILED_8);

    let out = project.run(&db, &["status"]);
    out.assert_code(8);
    assert!(out.stdout.contains(expected), "{}", out.stdout);
    let out = project.run(&db, &["status", "--format", "json"]);
    out.assert_code(8);
    assert_eq!(
        parse_json(&out.stdout)["checks"],
        json!({"table public.users": true, "index public.ux_users_nickname": false})
    );

    // The hint's rebuild in place, after the duplicates are fixed.
    db.execute("DELETE FROM users WHERE id = 2");
    db.client()
        .batch_execute("REINDEX INDEX CONCURRENTLY public.ux_users_nickname;")
        .unwrap();
    project.run(&db, &["verify"]).assert_code(0);
    project.run(&db, &["status"]).assert_code(0);
}
