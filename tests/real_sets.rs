//! Real public migration sets (see tests/real/*/README.md for their sources and licences),
//! converted to the sentry's layout, run end to end against real PostgreSQL:
//!
//! - a fresh apply by the sentry builds exactly what psql builds (the catalogs' schema
//!   snapshot of tests/support/schema_snapshot.rs, byte for byte, the sentry's tracking table
//!   aside), and a second run is a no-op;
//! - the half-migrated adoption case: psql applied the first half (another tool migrated the
//!   database) and the application drew ids from every sequence, then the sentry gets every
//!   file and no tracking rows. It either converges on the psql-built schema, or fails having
//!   committed nothing, with a `stamp --to` suggestion that, when followed, converges — with
//!   every table's row count and every sequence's position what psql's first half, the same
//!   use and psql's second half give: nothing the catalog cannot show (a sequence restart, a
//!   data change) ever runs twice.

mod common;
#[path = "support/psql_apply.rs"]
mod psql_apply;
#[path = "support/schema_snapshot.rs"]
mod schema_snapshot;

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use common::{Outcome, TestDb, as_app, cluster, run, sentry};
use psql_apply::psql_apply;
use schema_snapshot::schema_snapshot;

/// One real migration set.
struct Set {
    dir: &'static str,
    /// The tracking table the sentry uses for it.
    table: &'static str,
    /// What the project's own tool would have created before its first migration.
    setup: &'static str,
    /// How many files psql applies before the sentry takes over, in the half-migrated case.
    splits: &'static [usize],
}

const ATUIN: Set = Set {
    dir: "atuin-server",
    table: "public.schema_migrations",
    setup: "",
    // 10: the replay converges by itself; 16: it would re-create the `events` table 0010
    // dropped, so it is refused and the stamp suggestion is followed.
    splits: &[10, 16],
};

/// Harbor's 0030 and 0040 alter golang-migrate's `schema_migrations`, which therefore exists
/// before them (and is why the sentry needs `--table` here).
const HARBOR: Set = Set {
    dir: "harbor",
    table: "public.sentry_migrations",
    setup: "CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, \
            dirty boolean NOT NULL);",
    // The replay fails on seed rows (23505) and the suggestion is followed; at 6, the seed
    // rows of 0050 duplicate those of 0001 inside the replay, which must not count as evidence
    // that 0050 ran before. At 22 and later, 0050 is the newest migration with objects to
    // find, but 0051 … 0071 (idempotent) and 0080 (an `ALTER … TYPE … USING` that cannot run
    // twice) ran too: the suggestion must be tried past them (see
    // `harbor_past_migrations_that_leave_no_evidence_the_suggestion_is_tried`). 38: every file
    // but the last.
    splits: &[6, 19, 22, 38],
};

/// The first 45 migrations of the ente server: 0024 restarts three sequences, 0025 (a
/// no-transaction migration: golang-migrate files manage their own transactions) turns two of
/// them into identities that restart at 1,580,559,962,386,438, and more no-transaction
/// migrations follow (0026, 0027, 0036, 0040, 0045, the last one a `CREATE INDEX
/// CONCURRENTLY`). 25: just past the restart; 37: past four no-transaction migrations, where
/// the advice once fell back to a stamp before 0024 and its run restarted the sequences.
const ENTE: Set = Set {
    dir: "ente-server",
    table: "public.schema_migrations",
    setup: "",
    splits: &[24, 25, 37],
};

impl Set {
    fn folder(&self) -> PathBuf {
        common::repo_root().join("tests/real").join(self.dir)
    }

    fn files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = fs::read_dir(self.folder())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "sql"))
            .collect();
        files.sort();
        files
    }

    fn database(&self) -> TestDb<'static> {
        let db = cluster().create_db();
        if !self.setup.is_empty() {
            as_app(&db, self.setup);
        }
        db
    }

    fn sentry(&self, db: &TestDb, args: &[&str]) -> Outcome {
        let cwd = tempfile::tempdir().unwrap();
        run(sentry()
            .current_dir(cwd.path())
            .env("DATABASE_URL", db.url())
            .arg("--migrations-dir")
            .arg(self.folder())
            .args(["--table", self.table])
            .args(args))
    }

    /// The schema psql builds from every file.
    fn reference(&self) -> String {
        let db = self.database();
        psql_apply(&db, &self.files());
        let snapshot = schema_snapshot(&db, None);
        // A comparison with an empty snapshot would prove nothing.
        let tables = snapshot
            .lines()
            .filter(|l| l.starts_with("relation "))
            .count();
        assert!(tables >= 5, "{tables} tables in\n{snapshot}");
        snapshot
    }

    fn snapshot(&self, db: &TestDb) -> String {
        schema_snapshot(db, Some(self.table))
    }

    /// A database another tool migrated to `split` files, and that the application has used
    /// since: it drew ids from every sequence.
    fn half_migrated(&self, split: usize) -> TestDb<'static> {
        let db = self.database();
        psql_apply(&db, &self.files()[..split]);
        use_sequences(&db);
        db
    }

    /// What psql's first `split` files, the same use of the database and psql's other files
    /// leave in the data: what the sentry must converge on.
    fn reference_data(&self, split: usize) -> BTreeMap<String, i64> {
        let db = self.half_migrated(split);
        psql_apply(&db, &self.files()[split..]);
        data_state(&db, None)
    }

    /// The versions of the first `split` files.
    fn versions(&self, split: usize) -> Vec<String> {
        self.files()[..split]
            .iter()
            .map(|f| f.file_stem().unwrap().to_string_lossy().into_owned())
            .collect()
    }
}

/// The application at work: three ids drawn from every sequence.
fn use_sequences(db: &TestDb) {
    db.execute(
        "SELECT nextval(format('%I.%I', schemaname, sequencename)) \
         FROM pg_sequences, generate_series(1, 3) WHERE schemaname !~ '^pg_'",
    );
}

/// What migrations can change in the data: the value each sequence hands out next
/// (`sequence NAME`), and how many rows each table holds (`rows NAME`), leaving out `exclude`
/// (the sentry's tracking table).
fn data_state(db: &TestDb, exclude: Option<&str>) -> BTreeMap<String, i64> {
    let mut client = db.client();
    let excluded: Option<&str> = exclude;
    let mut names = |kinds: &str| -> Vec<String> {
        client
            .query(
                &format!(
                    "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c \
                     JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE c.relkind IN ({kinds}) AND n.nspname !~ '^pg_' \
                       AND n.nspname <> 'information_schema' \
                       AND c.oid IS DISTINCT FROM to_regclass($1) \
                       AND c.oid NOT IN (SELECT objid FROM pg_depend WHERE classid = \
                           'pg_class'::regclass AND refobjid = to_regclass($1) AND deptype = 'a')"
                ),
                &[&excluded],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    let sequences = names("'S'");
    let tables = names("'r'");
    let mut state = BTreeMap::new();
    for s in sequences {
        let row = client
            .query_one(
                &format!(
                    "SELECT CASE WHEN is_called THEN last_value + seqincrement ELSE last_value END \
                     FROM {s}, pg_sequence WHERE seqrelid = '{s}'::regclass"
                ),
                &[],
            )
            .unwrap();
        state.insert(format!("sequence {s}"), row.get::<_, i64>(0));
    }
    for t in tables {
        let row = client
            .query_one(&format!("SELECT count(*) FROM {t}"), &[])
            .unwrap();
        state.insert(format!("rows {t}"), row.get::<_, i64>(0));
    }
    state
}

/// How far each sequence of `after` has moved since `before`: a replay that was rolled back
/// leaves the ids it drew drawn (PostgreSQL never hands them back), a gap and nothing more.
fn drawn(before: &BTreeMap<String, i64>, after: &BTreeMap<String, i64>) -> BTreeMap<String, i64> {
    after
        .iter()
        .filter(|(k, _)| k.starts_with("sequence "))
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(*v)))
        .filter(|(_, d)| *d != 0)
        .collect()
}

/// `expected` and `found` side by side where they differ.
fn differences(expected: &BTreeMap<String, i64>, found: &BTreeMap<String, i64>) -> String {
    let keys: std::collections::BTreeSet<&String> = expected.keys().chain(found.keys()).collect();
    keys.into_iter()
        .filter(|k| expected.get(*k) != found.get(*k))
        .map(|k| {
            format!(
                "{k}: expected {:?}, found {:?}",
                expected.get(k),
                found.get(k)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The data the sentry must leave: `reference`, with the sequences a failed run drew from
/// `gaps` further on.
fn expected_data(
    reference: &BTreeMap<String, i64>,
    gaps: &BTreeMap<String, i64>,
) -> BTreeMap<String, i64> {
    let mut expected = reference.clone();
    for (k, d) in gaps {
        if let Some(v) = expected.get_mut(k) {
            *v += d;
        }
    }
    expected
}

fn fresh_apply_equals_psql_and_a_rerun_is_a_no_op(set: &Set) {
    let reference = set.reference();
    let db = set.database();
    set.sentry(&db, &["check"]).assert_code(0);
    let out = set.sentry(&db, &["run"]);
    out.assert_code(0);
    assert_eq!(set.snapshot(&db), reference, "{}", out.stderr);
    let again = set.sentry(&db, &["run"]);
    again.assert_code(0);
    assert!(
        again.stderr.contains("nothing to apply"),
        "{}",
        again.stderr
    );
    assert_eq!(set.snapshot(&db), reference);
}

/// The `VERSION` of the first `stamp --to VERSION` in `text`.
fn suggested_stamp(text: &str) -> Option<String> {
    let at = text.find("stamp --to ")? + "stamp --to ".len();
    Some(
        text[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .collect(),
    )
}

fn half_migrated_adoption_converges(set: &Set) {
    let reference = set.reference();
    for &split in set.splits {
        let db = set.half_migrated(split);
        let before = schema_snapshot(&db, None);
        let data_before = data_state(&db, None);

        let out = set.sentry(&db, &["run"]);
        assert!(
            out.stderr.contains("ADOPTING AN EXISTING SCHEMA"),
            "{}",
            out.stderr
        );
        let mut gaps = BTreeMap::new();
        match out.code {
            0 => {}
            6 | 7 => {
                // Nothing committed, not even the tracking table, nor a row.
                assert_eq!(schema_snapshot(&db, None), before, "{}", out.stderr);
                gaps = drawn(&data_before, &data_state(&db, None));
                let ending = follow(set, &db, out.clone(), 1, &set.versions(split));
                assert_eq!(ending, Ending::Converged, "split {split}:\n{}", out.stderr);
            }
            code => panic!("split {split}: exit {code}:\n{}", out.stderr),
        }
        assert_eq!(
            set.snapshot(&db),
            reference,
            "split {split}:\n{}",
            out.stderr
        );
        assert_eq!(
            data_state(&db, Some(set.table)),
            expected_data(&set.reference_data(split), &gaps),
            "split {split}:\n{}",
            out.stderr
        );
        let again = set.sentry(&db, &["run"]);
        again.assert_code(0);
        assert!(
            again.stderr.contains("nothing to apply"),
            "{}",
            again.stderr
        );
    }
}

#[test]
fn atuin_fresh_apply_equals_psql_and_a_rerun_is_a_no_op() {
    fresh_apply_equals_psql_and_a_rerun_is_a_no_op(&ATUIN);
}

#[test]
fn atuin_half_migrated_by_another_tool_converges() {
    half_migrated_adoption_converges(&ATUIN);
}

#[test]
fn ente_fresh_apply_equals_psql_and_a_rerun_is_a_no_op() {
    fresh_apply_equals_psql_and_a_rerun_is_a_no_op(&ENTE);
}

#[test]
fn ente_half_migrated_by_another_tool_converges() {
    half_migrated_adoption_converges(&ENTE);
}

#[test]
fn harbor_fresh_apply_equals_psql_and_a_rerun_is_a_no_op() {
    fresh_apply_equals_psql_and_a_rerun_is_a_no_op(&HARBOR);
}

#[test]
fn harbor_half_migrated_by_another_tool_converges() {
    half_migrated_adoption_converges(&HARBOR);
}

#[test]
fn harbor_altering_golang_migrates_table_is_refused_under_the_default_table() {
    let out = run(sentry()
        .arg("--migrations-dir")
        .arg(HARBOR.folder())
        .arg("check"));
    out.assert_code(6);
    let text = out.stderr;
    assert!(
        text.contains("0030_2_0_0_schema.sql:22: `ALTER TABLE schema_migrations ADD COLUMN data_version int` changes the tracking table"),
        "{text}"
    );
    assert!(text.contains("--table"), "{text}");
}

/// Split 22: psql applied Harbor up to 0080. 0051 … 0080 create their objects with `IF NOT
/// EXISTS`, which succeeds whether or not they ran; the catalog shows the objects were there
/// before the replay, so the newest migration with objects present is 0080 itself. (Counting
/// only "already exists" errors, the replay saw nothing after 0050, and the suggestion had to be
/// tried past 0080's `ALTER COLUMN … TYPE … USING`, which cannot run twice.) The stamp is tried,
/// and followed mechanically converges.
#[test]
fn harbor_idempotent_migrations_show_how_far_the_database_is() {
    let db = HARBOR.half_migrated(22);
    let out = HARBOR.sentry(&db, &["run"]);
    out.assert_code(7);
    let text = &out.stderr;
    for needle in [
        "      0080_2_5_0_schema: 2 statement(s) found their objects already present (first: ",
        "0080_2_5_0_schema.sql:6 \"artifact_accessory\" was already there (IF NOT EXISTS left it \
         as it was)); 2 statement(s) failed\n",
        "hint: 0080_2_5_0_schema is the newest migration whose objects the replay found already \
         present, so this database has been migrated at least that far; a trial (rolled back) of \
         the 17 migration(s) after 0080_2_5_0_schema, applied as `run` would apply them, ran \
         without error.\n",
        "    So: `migration-sentry stamp --to 0080_2_5_0_schema` records it",
    ] {
        assert!(text.contains(needle), "{needle:?} not in:\n{text}");
    }
    assert_eq!(text.matches("stamp --to ").count(), 1, "{text}");
    assert_eq!(
        follow(&HARBOR, &db, out, 1, &HARBOR.versions(22)),
        Ending::Converged,
        "following the guidance"
    );
    assert_eq!(HARBOR.snapshot(&db), HARBOR.reference());
}

/// Split 37 of the ente set: psql applied it past the sequence restart (0024) and four
/// no-transaction migrations (0025, 0026, 0027, 0036). The replay goes through them — their
/// statements in its transaction, their own BEGIN and COMMIT left out — and finds 0037's objects:
/// the stamp is never older than that (it once fell back to one before 0024, whose run sent the
/// sequences back to 10,000,000). Only 0045's `CREATE INDEX CONCURRENTLY` cannot run in the
/// trial, and the report says so. Followed, nothing restarts.
#[test]
fn ente_past_no_transaction_migrations_the_stamp_is_never_older_than_what_the_replay_found() {
    let db = ENTE.half_migrated(37);
    let before = data_state(&db, None);
    let out = ENTE.sentry(&db, &["run"]);
    out.assert_code(6);
    let text = &out.stderr;
    for needle in [
        "adoption cannot be all-or-nothing: 0025_alter_ids_to_bigint (",
        ") is a no-transaction migration, which cannot be part of one transaction",
        "      0025_alter_ids_to_bigint (a no-transaction migration: replayed statement by \
         statement in the replay's transaction): ",
        "0045_collection_files_file_id_idx.sql:2 SQLSTATE 25001 CREATE INDEX CONCURRENTLY cannot \
         run inside a transaction block\n        (it cannot run inside a transaction block; a \
         real run runs this no-transaction migration's statements outside one)",
        "hint: 0037_public_collection is the newest migration whose objects the replay found \
         already present",
        "    So: `migration-sentry stamp --to 0037_public_collection` records it",
    ] {
        assert!(text.contains(needle), "{needle:?} not in:\n{text}");
    }
    assert_eq!(text.matches("stamp --to ").count(), 1, "{text}");
    let gaps = drawn(&before, &data_state(&db, None));
    assert_eq!(
        follow(&ENTE, &db, out, 1, &ENTE.versions(37)),
        Ending::Converged,
        "following the guidance"
    );
    assert_eq!(ENTE.snapshot(&db), ENTE.reference());
    assert_eq!(
        data_state(&db, Some(ENTE.table)),
        expected_data(&ENTE.reference_data(37), &gaps)
    );
}

/// What following the sentry's guidance ended with.
#[derive(Debug, PartialEq, Eq)]
enum Ending {
    /// `run` succeeded and a re-run is a no-op (the schema is compared by the caller).
    Converged,
    /// Something else: what.
    Not(String),
}

/// The migrations a report asks the operator to check before stamping (its "Check that these
/// did not run before" list), in order.
fn to_check(text: &str) -> Vec<String> {
    let Some(at) = text.find("Check that these did not run before") else {
        return Vec::new();
    };
    text[at..]
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("      "))
        .filter(|l| !l.starts_with("        "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// Does what the sentry's output `out` says, mechanically: while `run` fails, the `stamp --to`
/// it suggests, then `run` again, at most `follows` times. Where the report asks to check
/// that some migrations did not run before, the check is made as an operator would, knowing
/// what ran (`ran`: what psql applied): if some did, the stamp goes to the newest of them
/// instead, as the report says.
fn follow(set: &Set, db: &TestDb, mut out: Outcome, follows: usize, ran: &[String]) -> Ending {
    let mut followed = 0;
    while out.code != 0 {
        let Some(suggested) = suggested_stamp(&out.stderr) else {
            return Ending::Not(format!(
                "exit {} without a stamp suggestion, after following {followed}",
                out.code
            ));
        };
        let version = to_check(&out.stderr)
            .into_iter()
            .rfind(|v| ran.contains(v))
            .unwrap_or(suggested);
        if followed == follows {
            return Ending::Not(format!(
                "exit {} after following {followed} suggestion(s); next: stamp --to {version}",
                out.code
            ));
        }
        followed += 1;
        let stamped = set.sentry(db, &["stamp", "--to", &version]);
        if stamped.code != 0 {
            return Ending::Not(format!("stamp --to {version}: exit {}", stamped.code));
        }
        out = set.sentry(db, &["run"]);
    }
    let again = set.sentry(db, &["run"]);
    if again.code != 0 || !again.stderr.contains("nothing to apply") {
        return Ending::Not(format!("the re-run is not a no-op (exit {})", again.code));
    }
    Ending::Converged
}

/// Every split point of every set, the guidance followed once, must converge: on the schema
/// psql builds, and on the data psql's first half, the application's use and psql's second half
/// leave (every table's row count; every sequence's next value, past the ids a failed run drew
/// and left as gaps) — so no sequence restart and no data change ever ran twice. The whole
/// sweep runs on the default server; the other versions of the matrix (`SENTRY_TEST_PG_BIN` set
/// by scripts/test) take every fourth split point, since the guidance is version-independent
/// and the other real-set tests cover each version's SQL.
#[test]
fn sweep_every_split_point() {
    let step = if std::env::var_os("SENTRY_TEST_PG_BIN").is_some() {
        4
    } else {
        1
    };
    let mut failures = Vec::new();
    for set in [&ATUIN, &HARBOR, &ENTE] {
        let reference = set.reference();
        let files = set.files();
        let mut converged = 0;
        let splits: Vec<usize> = (1..files.len()).step_by(step).collect();
        for &split in &splits {
            let db = set.half_migrated(split);
            let before = data_state(&db, None);
            let out = set.sentry(&db, &["run"]);
            let gaps = drawn(&before, &data_state(&db, None));
            let ending = match follow(set, &db, out, 1, &set.versions(split)) {
                Ending::Converged if set.snapshot(&db) != reference => {
                    Ending::Not("exit 0, but the schema differs from a fresh apply".into())
                }
                Ending::Converged => {
                    let expected = expected_data(&set.reference_data(split), &gaps);
                    let found = data_state(&db, Some(set.table));
                    if found == expected {
                        Ending::Converged
                    } else {
                        Ending::Not(format!(
                            "exit 0, but the data differs from psql's: {}",
                            differences(&expected, &found)
                        ))
                    }
                }
                ending => ending,
            };
            eprintln!("{} split {split}: {ending:?}", set.dir);
            if ending == Ending::Converged {
                converged += 1;
            } else {
                failures.push(format!("{} split {split}: {ending:?}", set.dir));
            }
        }
        eprintln!(
            "{}: {converged}/{} split points converge",
            set.dir,
            splits.len()
        );
    }
    assert!(
        failures.is_empty(),
        "following the printed guidance did not converge:\n{}",
        failures.join("\n")
    );
}
