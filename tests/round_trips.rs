//! The round trips of the deploy's hot path, counted from `-vv` (issue #12): a regression that
//! adds one shows here. `-vv` traces every message the sentry sends: the driver's
//! "executing simple query" (one simple-protocol message, however many statements), the
//! sentry's "round trip:" for a typed query (one message, no separate prepare), and the
//! driver's "preparing query" and "executing statement" for a prepared one.

mod common;

use std::fs;
use std::path::Path;

use common::{Outcome, TestDb, cluster, run, sentry};

/// The messages a run sent, in order: the first line of each trace.
fn round_trips(out: &Outcome) -> Vec<String> {
    out.stderr
        .lines()
        .filter(|l| {
            l.contains("executing simple query:")
                || l.contains("executing statement batch:")
                || l.contains("] round trip:")
                || l.contains("[sentry] round trip:")
                || l.contains("preparing query")
                || l.contains("executing statement ")
        })
        .map(str::to_string)
        .collect()
}

fn sentry_in(dir: &Path, db: &TestDb<'_>, args: &[&str]) -> Outcome {
    run(sentry()
        .current_dir(dir)
        .env("DATABASE_URL", db.url())
        .args(args)
        .args(["--migrations-dir", "migrations"]))
}

fn three_migrations(dir: &Path) {
    let m = dir.join("migrations");
    fs::create_dir(&m).unwrap();
    for (i, t) in ["a", "b", "c"].iter().enumerate() {
        fs::write(
            m.join(format!("000{}_create_{t}.sql", i + 1)),
            format!("CREATE TABLE {t} (id int PRIMARY KEY);\n"),
        )
        .unwrap();
    }
}

#[test]
fn a_no_op_run_is_three_round_trips_and_the_lock_travels_with_the_rows() {
    let db = cluster().create_db();
    let dir = tempfile::tempdir().unwrap();
    three_migrations(dir.path());
    sentry_in(dir.path(), &db, &["run"]).assert_code(0);

    let out = sentry_in(dir.path(), &db, &["run", "-vv"]);
    out.assert_code(0);
    let trips = round_trips(&out);
    assert_eq!(
        trips.len(),
        3,
        "a no-op run: the opening message, the pooler check with the server-side cleanup \
         timeouts, the lock and the rows, the unlock; got:\n{}",
        trips.join("\n")
    );
    // 1: facts, the schema that resolves the table, the table's columns.
    assert!(trips[0].contains("current_database()"), "{}", trips[0]);
    assert!(trips[0].contains("current_schema()"), "{}", trips[0]);
    assert!(trips[0].contains("pg_attribute"), "{}", trips[0]);
    // 2: the pooler evidence, the server-side cleanup timeouts (issue #8, SPEC §5.7) and the
    // lock attempt, both guarded by the backend pid, the shape again and the rows: all in one
    // message, so that the lock is never held without the timeouts that free it if the
    // sentry vanishes, however it was taken.
    assert!(trips[1].contains("pg_backend_pid()"), "{}", trips[1]);
    assert!(
        trips[1].contains("idle_in_transaction_session_timeout"),
        "{}",
        trips[1]
    );
    assert!(trips[1].contains("'idle_session_timeout'"), "{}", trips[1]);
    assert!(
        trips[1].find("idle_session_timeout") < trips[1].find("pg_try_advisory_lock("),
        "{}",
        trips[1]
    );
    assert!(
        trips[1].contains("FROM \"public\".\"schema_migrations\""),
        "{}",
        trips[1]
    );
    // No second connection for the quiet-pooler check (SPEC §5.4): over TCP the server saw
    // this process's own socket, which no pooler can fake.
    assert!(
        out.stderr
            .contains("pooler check: the server sees this process's own socket"),
        "{}",
        out.stderr
    );
    // 3: the unlock.
    assert!(trips[2].contains("pg_advisory_unlock"), "{}", trips[2]);
    assert!(out.stderr.contains("lock acquired (key"), "{}", out.stderr);
    assert!(
        out.stderr.contains("3 applied, 0 pending"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.contains("applied 0"), "{}", out.stdout);
}

#[test]
fn status_is_two_round_trips_and_reads_the_rows_in_text() {
    let db = cluster().create_db();
    let dir = tempfile::tempdir().unwrap();
    three_migrations(dir.path());
    sentry_in(dir.path(), &db, &["run"]).assert_code(0);

    let out = sentry_in(dir.path(), &db, &["status", "-vv", "--format", "json"]);
    out.assert_code(0);
    let trips = round_trips(&out);
    assert_eq!(trips.len(), 2, "status; got:\n{}", trips.join("\n"));
    assert!(
        trips[1].contains("FROM \"public\".\"schema_migrations\""),
        "{}",
        trips[1]
    );
    assert!(!trips[1].contains("pg_try_advisory_lock"), "{}", trips[1]);
    let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(v["applied"].as_array().unwrap().len(), 3, "{}", out.stdout);
    assert_eq!(v["applied"][0]["version"], "0001_create_a");
    assert_eq!(v["applied"][0]["stamped"], false);
    assert!(
        v["applied"][0]["execution_time_ms"].is_number(),
        "{}",
        out.stdout
    );
}

#[test]
fn when_another_session_holds_the_lock_the_rows_are_read_again_under_it() {
    let db = cluster().create_db();
    let dir = tempfile::tempdir().unwrap();
    three_migrations(dir.path());
    sentry_in(dir.path(), &db, &["run"]).assert_code(0);
    let out = sentry_in(dir.path(), &db, &["run", "-vv"]);
    let key: i64 = out
        .stderr
        .split("lock acquired (key ")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .and_then(|s| s.parse().ok())
        .expect("the lock key");

    // Hold the lock in another session until the sentry polls for it: its opening attempt
    // failed, and it reads the table again once the lock is its own.
    let mut holder = db.client();
    holder
        .execute("SELECT pg_advisory_lock($1)", &[&key])
        .unwrap();
    let child = std::thread::spawn({
        let dir = dir.path().to_path_buf();
        let url = db.url();
        move || {
            run(sentry()
                .current_dir(&dir)
                .env("DATABASE_URL", url)
                .args(["run", "-vv", "--wait-for-lock", "60s"])
                .args(["--migrations-dir", "migrations"]))
        }
    });
    // Polling: the session is idle after the polling statement (not the opening's attempt),
    // so one attempt has failed.
    let polled = common::wait_until(std::time::Duration::from_secs(30), || {
        common::sentry_backends(&db)
            .iter()
            .any(|(_, state, q)| state == "idle" && q == "SELECT pg_try_advisory_lock($1)")
    });
    holder
        .execute("SELECT pg_advisory_unlock($1)", &[&key])
        .unwrap();
    let out = child.join().unwrap();
    assert!(
        polled,
        "the sentry never polled for the lock:\n{}",
        out.stderr
    );
    out.assert_code(0);
    assert!(
        out.stderr.contains("waiting for advisory lock"),
        "{}",
        out.stderr
    );
    let trips = round_trips(&out);
    let after: Vec<&String> = trips
        .iter()
        .skip_while(|t| !t.contains("pg_try_advisory_lock($1)"))
        .collect();
    assert!(
        after
            .iter()
            .any(|t| t.contains("FROM \"public\".\"schema_migrations\"")),
        "the rows must be read after the lock was taken:\n{}",
        trips.join("\n")
    );
    assert!(
        out.stderr.contains("3 applied, 0 pending"),
        "{}",
        out.stderr
    );
}

/// A transactional migration is two messages (issue #12's fresh apply): `BEGIN` with the
/// timeouts, the transaction's advisory lock and the re-check; then the migration's SQL,
/// first in its message, followed on a line of their own by a savepoint (which tells, on the
/// failure path, whose statement failed), the tracking row (its execution time measured by the
/// server), `COMMIT` and the check of the session's settings. The
/// statements that are the same for every migration are prepared once per run, before the
/// first, and removed after the last.
#[test]
fn a_migration_is_two_round_trips() {
    let db = cluster().create_db();
    let dir = tempfile::tempdir().unwrap();
    three_migrations(dir.path());
    let out = sentry_in(dir.path(), &db, &["run", "-vv"]);
    out.assert_code(0);
    let between = |from: &str, to: &str| -> String {
        out.stderr
            .split(from)
            .nth(1)
            .and_then(|s| s.split(to).next())
            .unwrap_or_else(|| panic!("the lines between {from} and {to}"))
            .to_string()
    };
    let lines_of = |from: &str, to: &str| {
        round_trips(&Outcome {
            stderr: between(from, to),
            ..out.clone()
        })
    };
    let before = lines_of("creating the tracking table", "→ 0001_create_a");
    let prepare = before.last().expect("a message before the first migration");
    for name in [
        "PREPARE migration_sentry_recheck_1(text)",
        "PREPARE migration_sentry_row_1(text, int4, text, text)",
        "PREPARE migration_sentry_settings_1",
    ] {
        assert!(prepare.contains(name), "{name} in {prepare}");
    }
    let trips = lines_of("→ 0002_create_b", "→ 0003_create_c");
    assert_eq!(trips.len(), 2, "got:\n{}", trips.join("\n"));
    assert!(
        trips[0].contains("BEGIN; SELECT set_config('lock_timeout'"),
        "{}",
        trips[0]
    );
    assert!(
        trips[0].contains(", pg_advisory_xact_lock("),
        "{}",
        trips[0]
    );
    assert!(
        trips[0].contains("; EXECUTE migration_sentry_recheck_1(E'0002_create_b')"),
        "{}",
        trips[0]
    );
    assert!(
        trips[1].contains("executing simple query: CREATE TABLE b"),
        "{}",
        trips[1]
    );
    // The rest of the second message, after the migration's text: the savepoint that tells,
    // should the message fail, whether the migration's SQL had run; nothing in 0002's text
    // could change the role, so no SET LOCAL role before the row.
    let second = between("executing simple query: CREATE TABLE b", "✓ 0002_create_b");
    assert!(
        second.contains(
            "(id int PRIMARY KEY);\n\n  ; SAVEPOINT migration_sentry_row; \
             EXECUTE migration_sentry_row_1(E'0002_create_b', \
             (extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000)::int4, "
        ),
        "{second}"
    );
    assert!(!second.contains("SET LOCAL role"), "{second}");
    assert!(
        second.contains("; COMMIT; EXECUTE migration_sentry_settings_1"),
        "{second}"
    );
    let after = lines_of("✓ 0003_create_c", "lock released");
    assert!(
        after[0].contains("DEALLOCATE migration_sentry_recheck_1"),
        "{}",
        after.join("\n")
    );
}

/// A migration whose text could change a setting is sent alone, and its row, `COMMIT` and the
/// full check of the settings follow in a third message (which statements they are depends on
/// what it did). The row then carries the time the sentry measured. So is one that could
/// return rows (they would be held in memory until the message's end).
#[test]
fn a_migration_that_sets_something_or_returns_rows_is_finished_by_a_third_message() {
    let db = cluster().create_db();
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("migrations");
    fs::create_dir(&migrations).unwrap();
    fs::write(
        migrations.join("0001_create_a.sql"),
        "SET LOCAL search_path = public;\nCREATE TABLE a (id int);\n",
    )
    .unwrap();
    fs::write(
        migrations.join("0002_count.sql"),
        "SELECT count(*) FROM a;\n",
    )
    .unwrap();
    let out = sentry_in(dir.path(), &db, &["run", "-vv"]);
    out.assert_code(0);
    let section = out
        .stderr
        .split("→ 0001_create_a")
        .nth(1)
        .and_then(|s| s.split("✓ 0001_create_a").next())
        .expect("0001's lines")
        .to_string();
    let trips = round_trips(&Outcome {
        stderr: section,
        ..out.clone()
    });
    assert_eq!(trips.len(), 3, "got:\n{}", trips.join("\n"));
    assert!(trips[1].contains("SET LOCAL search_path"), "{}", trips[1]);
    assert!(
        trips[2].contains(
            "SET LOCAL role TO DEFAULT; EXECUTE migration_sentry_row_1(E'0001_create_a', "
        ),
        "{}",
        trips[2]
    );
    assert!(!trips[2].contains("statement_timestamp"), "{}", trips[2]);
    let section = out
        .stderr
        .split("→ 0002_count")
        .nth(1)
        .and_then(|s| s.split("✓ 0002_count").next())
        .expect("0002's lines")
        .to_string();
    let trips = round_trips(&Outcome {
        stderr: section,
        ..out.clone()
    });
    assert_eq!(trips.len(), 3, "got:\n{}", trips.join("\n"));
    assert!(
        trips[2].contains("EXECUTE migration_sentry_row_1(E'0002_count', "),
        "{}",
        trips[2]
    );
    assert_eq!(
        db.query_one_string("SELECT count(*)::text FROM schema_migrations"),
        "2"
    );
}

/// What follows a migration's text in its message is always read as statements of their own
/// and never taken for the migration's: a last line that is a comment without a newline, and
/// the migration's own errors, which are reported against its file even when they are the
/// guard's SQLSTATE's neighbours (division by zero) or found only after its end (an unclosed
/// parenthesis makes the server read on). The execution time is the server's.
#[test]
fn what_follows_a_migrations_text_stays_out_of_it() {
    let db = cluster().create_db();
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("migrations");
    fs::create_dir(&migrations).unwrap();
    fs::write(
        migrations.join("0001_sleep.sql"),
        "CREATE TABLE a (id int);\nDO $$BEGIN PERFORM pg_sleep(0.2); END$$;\n-- the end, no newline",
    )
    .unwrap();
    let out = sentry_in(dir.path(), &db, &["run"]);
    out.assert_code(0);
    let ms: i64 = db
        .query_one_string(
            "SELECT execution_time_ms::text FROM schema_migrations WHERE version = '0001_sleep'",
        )
        .parse()
        .unwrap();
    assert!((200..10_000).contains(&ms), "execution_time_ms {ms}");

    fs::write(
        migrations.join("0002_divide.sql"),
        "CREATE TABLE b (id int);\nINSERT INTO b VALUES (1 / 0);\n",
    )
    .unwrap();
    let out = sentry_in(dir.path(), &db, &["run"]);
    out.assert_code(7);
    assert!(out.stderr.contains("0002_divide.sql:2"), "{}", out.stderr);
    assert!(out.stderr.contains("22012"), "{}", out.stderr);
    assert!(!out.stderr.contains("tracking table"), "{}", out.stderr);
    fs::remove_file(migrations.join("0002_divide.sql")).unwrap();

    fs::write(
        migrations.join("0002_unclosed.sql"),
        "CREATE TABLE b (id int);\nCREATE TABLE c (\n  id int\n",
    )
    .unwrap();
    let out = sentry_in(dir.path(), &db, &["run"]);
    out.assert_code(7);
    assert!(
        out.stderr.contains("syntax error at end of input"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("0002_unclosed.sql:"), "{}", out.stderr);
    assert!(
        !out.stderr.contains("migration_sentry_row"),
        "{}",
        out.stderr
    );
    assert_eq!(
        db.query_one_string(
            "SELECT string_agg(version, ',') || ' ' || (to_regclass('b') IS NULL)::text \
             FROM schema_migrations"
        ),
        "0001_sleep true"
    );
}

/// A migration that could remove prepared statements (`DEALLOCATE ALL`) gets the literal
/// statements after its SQL, and the next one new prepared statements.
#[test]
fn a_migration_that_deallocates_is_followed_by_a_new_generation() {
    let db = cluster().create_db();
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("migrations");
    fs::create_dir(&migrations).unwrap();
    fs::write(
        migrations.join("0001_create_a.sql"),
        "CREATE TABLE a (id int);\nDEALLOCATE ALL;\n",
    )
    .unwrap();
    std::fs::write(
        migrations.join("0002_create_b.sql"),
        "CREATE TABLE b (id int);\n",
    )
    .unwrap();
    let out = sentry_in(dir.path(), &db, &["run", "-vv"]);
    out.assert_code(0);
    let trips = round_trips(&out);
    let all = trips.join("\n");
    assert!(all.contains("PREPARE migration_sentry_row_2"), "{all}");
    // After 0002's text, on the lines that follow it in its message.
    assert!(
        out.stderr
            .contains("EXECUTE migration_sentry_row_2(E'0002_create_b'"),
        "{}",
        out.stderr
    );
    assert!(
        all.contains("INSERT INTO \"public\".\"schema_migrations\"")
            && all.contains("E'0001_create_a'"),
        "{all}"
    );
    assert_eq!(
        db.query_one_string(
            "SELECT string_agg(version, ',' ORDER BY version) FROM schema_migrations"
        ),
        "0001_create_a,0002_create_b"
    );
}
