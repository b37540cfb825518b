//! Adoption (SPEC §7): the tracking table is empty but the database already holds a schema, so
//! the history is being replayed onto objects that may already exist. The replay is
//! all-or-nothing: one transaction for every pending migration, each statement under a
//! savepoint with the statement-level recovery of stamp recovery; any failure rolls all of it
//! back, and the report suggests the `stamp --to VERSION` that what the replay saw justifies.
//!
//! What the replay sees, per migration: statements that failed with "already exists" (the
//! migration was applied before) and statements that created something new. A linear history
//! applied up to some migration shows the first kind up to that migration and the second kind
//! after it; a migration that creates something new *before* one whose objects already exist
//! means later migrations renamed or dropped what it creates, and committing the replay would
//! leave stale objects behind. That replay is rolled back too.
//!
//! The suggestion is then tried ([`stamp_that_converges`]): migrations that leave nothing an
//! "already exists" error can show (`IF NOT EXISTS`, data changes, `ALTER … TYPE`) may have
//! run too, and stamping short of them would make the next run fail on one that cannot run
//! twice. Trials, always rolled back, replay what `run` would apply after each candidate stamp
//! until one applies the rest without error.

use std::time::Instant;

use log::{info, warn};
use postgres::types::{ToSql, Type};
use postgres::{Client, Transaction};

use crate::apply::{self, ALREADY_EXISTS, Loaded, Outcome, Settings};
use crate::db::Traced;
use crate::error::{AdoptionFailure, Error, Result, SetProblem, StatementFailure};
use crate::migrations::Migration;
use crate::session::Baseline;
use crate::sql_split::{self, Statement};
use crate::tracking::{self, Table};

/// The settings the replay's transaction sets itself (`SET LOCAL`): not a migration's doing.
const OWN_SETTINGS: [&str; 3] = ["lock_timeout", "statement_timeout", "synchronous_commit"];

/// Up to this many objects are named in messages.
const NAMED_OBJECTS: i64 = 5;

/// Objects outside the system schemas, other than the tracking table and what extensions
/// own: a few of their names, and how many there are. Empty when the database has no schema
/// of its own yet (one round trip).
pub fn existing_objects(client: &mut Client, table: &Table) -> Result<(Vec<String>, i64)> {
    let schema = table.schema.clone().unwrap_or_default();
    let rows = client
        .traced(
            "WITH objects AS ( \
               SELECT format('%s %I.%I', CASE c.relkind WHEN 'S' THEN 'sequence' \
                        WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' ELSE 'table' END, \
                        n.nspname, c.relname) AS name, c.oid, 'pg_class'::regclass AS cls \
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
               WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') \
                 AND c.oid IS DISTINCT FROM to_regclass($1) \
                 AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_' \
               UNION ALL \
               SELECT format('type %I.%I', n.nspname, t.typname), t.oid, 'pg_type'::regclass \
               FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
               WHERE (t.typtype IN ('e', 'd', 'r', 'm') OR (t.typtype = 'c' AND \
                      (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')) \
                 AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_' \
               UNION ALL \
               SELECT format('function %I.%I', n.nspname, p.proname), p.oid, 'pg_proc'::regclass \
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
               WHERE n.nspname <> 'information_schema' AND n.nspname !~ '^pg_' \
               UNION ALL \
               SELECT format('schema %I', n.nspname), n.oid, 'pg_namespace'::regclass \
               FROM pg_namespace n \
               WHERE n.nspname NOT IN ('information_schema', 'public', $2) \
                 AND n.nspname !~ '^pg_' \
             ), own AS ( \
               SELECT name FROM objects o WHERE NOT EXISTS ( \
                 SELECT 1 FROM pg_depend d \
                 WHERE d.classid = o.cls AND d.objid = o.oid AND d.deptype = 'e') \
             ) \
             SELECT name, count(*) OVER () FROM own ORDER BY name LIMIT $3",
            &[
                (&table.sql as &(dyn ToSql + Sync), Type::TEXT),
                (&schema, Type::TEXT),
                (&NAMED_OBJECTS, Type::INT8),
            ],
        )
        .map_err(|e| Error::db("looking for an existing schema", &e))?;
    let mut names = Vec::new();
    let mut total = 0;
    for r in &rows {
        if let Ok(Some(name)) = r.try_get::<_, Option<String>>(0) {
            names.push(name);
        }
        total = r
            .try_get::<_, Option<i64>>(1)
            .ok()
            .flatten()
            .unwrap_or(total);
    }
    Ok((names, total))
}

/// What the replay of one migration showed.
#[derive(Debug, Default)]
struct Evidence {
    version: String,
    /// Statements skipped because their objects exist (`file:line SQLSTATE message`).
    existed: Vec<String>,
    /// Statements that created something that did not exist (`line N: first line`).
    created: Vec<String>,
    /// The line of each of `created`, in the file.
    created_lines: Vec<usize>,
    /// Statements that failed otherwise.
    failed: usize,
    /// Statements run in all.
    statements: usize,
}

impl Evidence {
    fn line(&self) -> String {
        let mut parts = Vec::new();
        if !self.existed.is_empty() {
            parts.push(format!(
                "{} statement(s) found their objects already present (first: {})",
                self.existed.len(),
                self.existed[0]
            ));
        }
        if !self.created.is_empty() {
            parts.push(format!(
                "{} statement(s) created objects that did not exist (first: {})",
                self.created.len(),
                self.created[0]
            ));
        }
        if self.failed > 0 {
            parts.push(format!("{} statement(s) failed", self.failed));
        }
        if parts.is_empty() {
            parts.push(format!(
                "{} statement(s) ran without telling either way",
                self.statements
            ));
        }
        format!("{}: {}", self.version, parts.join("; "))
    }
}

/// How a replay ended.
struct Replay {
    outcomes: Vec<Outcome>,
    evidence: Vec<Evidence>,
    /// The first statement that failed (the replay goes on looking after it).
    failure: Option<StatementFailure>,
}

impl Replay {
    /// The newest migration whose objects were found already present, if any.
    fn last_seen(&self) -> Option<&Evidence> {
        self.evidence.iter().rev().find(|e| !e.existed.is_empty())
    }

    /// A migration that created something new before a later one found its objects present.
    fn inconsistency(&self) -> Option<String> {
        let first_new = self.evidence.iter().position(|e| !e.created.is_empty())?;
        let last_seen = self.evidence.iter().rposition(|e| !e.existed.is_empty())?;
        if first_new >= last_seen {
            return None;
        }
        let (new, seen) = (&self.evidence[first_new], &self.evidence[last_seen]);
        Some(format!(
            "{} created objects that did not exist ({}), yet the later {} found its objects \
             already present ({}): this database was migrated past {} by another tool and a \
             later migration renamed or dropped what {} creates, so committing the replay would \
             leave stale objects behind",
            new.version, new.created[0], seen.version, seen.existed[0], new.version, new.version
        ))
    }

    fn suggestion(&self) -> Option<(String, String)> {
        self.last_seen().map(|e| {
            (
                e.version.clone(),
                format!(
                    "{} is the newest migration whose objects the replay found already present, \
                     so this database has been migrated at least that far",
                    e.version
                ),
            )
        })
    }
}

/// Adopts the database: replays `pending` all-or-nothing and returns what was recorded, or
/// `None` when the database turns out not to need adoption (see below) and the migrations are
/// to be applied one by one as usual.
///
/// A no-transaction migration cannot be part of one transaction: then the migrations before it
/// are replayed in a transaction that is always rolled back, to see how far the database
/// already is. If they show no object of this history at all, the database's objects are
/// unrelated to it and nothing needs adopting (`None`); otherwise the run is refused (exit 6)
/// with the `stamp --to` that the trial justifies.
pub fn adopt(
    client: &mut Client,
    table: &Table,
    create_table: bool,
    pending: &[&Migration],
    s: &Settings,
    baseline: &Baseline,
    objects: &(Vec<String>, i64),
) -> Result<Option<Vec<Outcome>>> {
    let (names, total) = objects;
    let mut shown = names.clone();
    if *total > names.len() as i64 {
        shown.push(format!("… {} in all", total));
    }
    warn!(
        "ADOPTING AN EXISTING SCHEMA: the tracking table {} is empty but the database already \
         holds {total} object(s) ({}). The {} pending migration(s) are replayed in ONE \
         transaction: statements whose objects exist are skipped and noted, and if anything \
         else fails, nothing of the replay is committed",
        table.qualified,
        shown.join(", "),
        pending.len()
    );
    if let Some(k) = pending.iter().position(|m| m.no_transaction) {
        let trial = replay(
            client,
            table,
            create_table,
            &pending[..k],
            s,
            baseline,
            false,
        )?;
        if trial.failure.is_none() && trial.last_seen().is_none() {
            info!(
                "the trial replay of the {k} migration(s) before {} found none of their objects \
                 in the database: its objects are not this history's, so there is nothing to \
                 adopt; applying the migrations one by one",
                pending[k].version
            );
            return Ok(None);
        }
        let mut problem = SetProblem::file(
            &pending[k].path,
            format!(
                "adoption cannot be all-or-nothing: {} is a no-transaction migration, and the \
                 tracking table {} is empty while the database already holds objects ({}). \
                 Nothing was applied. A trial replay (rolled back) of the {k} migration(s) \
                 before it saw:\n  {}",
                pending[k].version,
                table.qualified,
                shown.join(", "),
                trial
                    .evidence
                    .iter()
                    .map(Evidence::line)
                    .collect::<Vec<_>>()
                    .join("\n  ")
            ),
        );
        problem = match trial.suggestion() {
            Some((version, why)) => problem.with_hint(format!(
                "{why}: `migration-sentry stamp --to {version}` records it and every migration \
                 before it as applied without running them; then run again"
            )),
            None => problem.with_hint(
                "nothing tells which migrations this database has seen: compare its schema with \
                 the migrations and `migration-sentry stamp --to VERSION` the last one it \
                 already contains, then run again",
            ),
        };
        return Err(Error::set(problem));
    }
    let result = replay(client, table, create_table, pending, s, baseline, true)?;
    if result.failure.is_none() && result.inconsistency().is_none() {
        return Ok(Some(result.outcomes));
    }
    let suggestion = match result.last_seen() {
        Some(seen) => {
            let k = position(pending, &seen.version);
            Some(stamp_that_converges(
                client,
                table,
                create_table,
                pending,
                k,
                s,
                baseline,
            )?)
        }
        None => None,
    };
    Err(Error::Adoption(Box::new(AdoptionFailure {
        pending: pending.len(),
        objects: shown,
        inconsistency: result.inconsistency(),
        evidence: result.evidence.iter().map(Evidence::line).collect(),
        suggestion,
        failure: result.failure,
    })))
}

/// How many trials [`stamp_that_converges`] makes before it stops looking.
const TRIALS: usize = 5;

fn position(ms: &[&Migration], version: &str) -> usize {
    ms.iter()
        .position(|m| m.version == version)
        .unwrap_or(ms.len().saturating_sub(1))
}

/// The `stamp --to` to suggest after a failed adoption, and why, starting from `pending[k]`,
/// the newest migration whose objects the replay found present.
///
/// That the objects of `pending[k]` exist shows how far the database is *at least*; the
/// migrations after it may have run too without leaving anything an "already exists" error
/// could show (`IF NOT EXISTS`, data changes, `ALTER … TYPE`). So each candidate is tried: the
/// migrations after it are replayed as `run` would apply them after that stamp (with stamp
/// recovery), in a transaction that is always rolled back. If one of them fails although
/// everything before it replayed cleanly, the database is already past the point where it
/// applies — in a history applied in order, it ran before — and the next candidate is that
/// migration. The first candidate whose trial applies the rest without error is suggested,
/// with every trial in the reason, so that the engineer can check the failing statements
/// before stamping over them.
fn stamp_that_converges(
    client: &mut Client,
    table: &Table,
    create_table: bool,
    pending: &[&Migration],
    mut k: usize,
    s: &Settings,
    baseline: &Baseline,
) -> Result<(String, String)> {
    let mut why = format!(
        "{} is the newest migration whose objects the replay found already present, so this \
         database has been migrated at least that far",
        pending[k].version
    );
    for trial_number in 1..=TRIALS {
        let rest = &pending[k + 1..];
        if rest.is_empty() {
            break;
        }
        // A no-transaction migration cannot be part of a trial's transaction: try up to it.
        let end = rest
            .iter()
            .position(|m| m.no_transaction)
            .unwrap_or(rest.len());
        let untried = rest
            .get(end)
            .map(|m| {
                format!(
                    " (up to {}: {} is a no-transaction migration, which no trial can roll \
                     back)",
                    rest[end - 1].version,
                    m.version
                )
            })
            .filter(|_| end > 0)
            .unwrap_or_default();
        if end == 0 {
            why.push_str(&format!(
                "; the migration after it, {}, is a no-transaction migration, which no trial \
                 can roll back: it was not tried",
                rest[0].version
            ));
            break;
        }
        info!(
            "adoption: trying the migrations after {} as `run` would apply them (rolled back)",
            pending[k].version
        );
        let trial = replay(
            client,
            table,
            create_table,
            &rest[..end],
            s,
            baseline,
            false,
        )?;
        // Where the trial shows the database is past: a failing migration, or one whose
        // objects exist after another created new ones.
        let stop = match (&trial.failure, trial.inconsistency()) {
            (Some(f), _) => Some((f.version.clone(), describe_stop(f), Some(f))),
            (None, Some(why)) => trial.last_seen().map(|e| (e.version.clone(), why, None)),
            (None, None) => None,
        };
        let Some((version, seen, failed)) = stop else {
            why.push_str(&format!(
                "; a trial (rolled back) of the {end} migration(s) after {}, applied as `run` \
                 would apply them, ran without error{untried}",
                pending[k].version
            ));
            break;
        };
        // A failure is a sign that the migration ran before only if nothing the trial ran
        // before it created an object that did not exist: in a history applied in order, a
        // database past the failing migration has every object of the ones before it.
        if let Some(f) = failed
            && let Some(fresh) = created_before(&trial.evidence, f)
        {
            why.push_str(&format!(
                ". A trial (rolled back) of the migrations after {}, applied as `run` would apply \
                 them: {fresh}, so this database is not past it, and then {seen}: a run after \
                 the stamp stops there too, until that failure is fixed",
                pending[k].version
            ));
            break;
        }
        let j = position(pending, &version);
        let clean = if j > k + 1 {
            format!(
                "{} … {} replayed without error, then ",
                pending[k + 1].version,
                pending[j - 1].version
            )
        } else {
            String::new()
        };
        why.push_str(&format!(
            ". A trial (rolled back) of the migrations after {}, applied as `run` would apply \
             them: {clean}{seen}, which suggests that {version} ran before (check that statement \
             against the database before stamping; if {version} ran, so did everything before \
             it)",
            pending[k].version
        ));
        k = j;
        if trial_number == TRIALS {
            why.push_str(&format!(
                ". The sentry stopped after {TRIALS} trials: the migrations after {version} were \
                 not tried"
            ));
        }
    }
    Ok((pending[k].version.clone(), why))
}

/// The first statement a trial ran before the failure `f` that created an object that did not
/// exist, described: in an earlier migration, or earlier in the failing one.
fn created_before(evidence: &[Evidence], f: &StatementFailure) -> Option<String> {
    for e in evidence {
        let before_failure = if e.version == f.version {
            e.created_lines
                .iter()
                .position(|&l| f.line.is_none_or(|failed| l < failed))
        } else {
            (!e.created.is_empty()).then_some(0)
        };
        if let Some(i) = before_failure {
            return Some(format!(
                "{} created objects that did not exist ({})",
                e.version, e.created[i]
            ));
        }
        if e.version == f.version {
            break;
        }
    }
    None
}

/// `0080_x failed at file:2 (SQLSTATE 42883: …)`, for a trial's account.
fn describe_stop(f: &StatementFailure) -> String {
    format!(
        "{} failed at {}{} (SQLSTATE {}: {})",
        f.version,
        f.file.display(),
        f.line.map(|l| format!(":{l}")).unwrap_or_default(),
        f.sqlstate,
        f.message
    )
}

/// Replays `ms` in one transaction, each statement under a savepoint. Commits only when
/// `commit` is set, nothing failed and the evidence is consistent; otherwise rolls back.
fn replay(
    client: &mut Client,
    table: &Table,
    create_table: bool,
    ms: &[&Migration],
    s: &Settings,
    baseline: &Baseline,
    commit: bool,
) -> Result<Replay> {
    let mut tx = client
        .transaction()
        .map_err(|e| Error::db("starting the adoption transaction", &e))?;
    apply::set_timeouts(&mut tx, s, Some(true))?;
    let created;
    let table = if create_table {
        info!(
            "creating the tracking table {} (in the adoption's transaction)",
            table.qualified
        );
        tracking::create(&mut tx, table)?;
        created = tracking::with_columns(&mut tx, table)?;
        &created
    } else {
        table
    };
    let mut result = Replay {
        outcomes: Vec::new(),
        evidence: Vec::new(),
        failure: None,
    };
    for m in ms {
        info!("→ {} (adoption replay)", m.version);
        let loaded = Loaded::read(m)?;
        let statements = apply::split(&loaded)?;
        let started = Instant::now();
        let mut ev = Evidence {
            version: m.version.clone(),
            statements: statements.len(),
            ..Evidence::default()
        };
        for st in &statements {
            // After a failure the replay goes on, only looking: how far the rest of the history
            // is already in the database is what justifies a `stamp --to` suggestion. Nothing
            // of it will be committed.
            if let Some(failure) = replay_statement(&mut tx, &loaded, st, s, &mut ev)?
                && result.failure.is_none()
            {
                warn!(
                    "{} failed: the adoption will be rolled back; replaying the rest only to see \
                     how far this database already is",
                    m.version
                );
                result.failure = Some(failure);
            }
        }
        // Each migration starts with the settings the run started with; the replay's own
        // SET LOCAL timeouts are set again after a restore put them back to the session's.
        if !baseline
            .restore(&mut tx, &m.version, &OWN_SETTINGS)?
            .is_empty()
        {
            apply::set_timeouts(&mut tx, s, Some(true))?;
        }
        if result.failure.is_none() {
            let outcome = apply::record(&mut tx, table, &loaded, started.elapsed(), &ev.existed)?;
            result.outcomes.push(outcome);
        }
        result.evidence.push(ev);
    }
    if commit && result.failure.is_none() && result.inconsistency().is_none() {
        // Every migration of the replay and its tracking row commit together, or none does.
        tx.commit()
            .map_err(|e| Error::db("committing the adoption", &e))?;
    } else {
        tx.rollback()
            .map_err(|e| Error::db("rolling back the adoption", &e))?;
    }
    Ok(result)
}

/// Runs one statement under a savepoint, which an error rolls back to, so that the replay can
/// go on looking. Returns the statement's failure if it failed and could not be skipped.
fn replay_statement(
    tx: &mut Transaction<'_>,
    m: &Loaded<'_>,
    st: &Statement<'_>,
    s: &Settings,
    ev: &mut Evidence,
) -> Result<Option<StatementFailure>> {
    tx.batch_execute("SAVEPOINT sentry_statement")
        .map_err(|e| Error::db("creating a savepoint", &e))?;
    // A migration's statement may rightly run long: watched by probes, not the watchdog.
    let result = {
        let _long = crate::interrupt::long(&format!("adopting {} (line {})", m.version, st.line))?;
        tx.batch_execute(st.sql)
    };
    let err = match result {
        Ok(()) => {
            tx.batch_execute("RELEASE SAVEPOINT sentry_statement")
                .map_err(|e| Error::db("releasing a savepoint", &e))?;
            if creates_something(st.sql) {
                ev.created_lines.push(st.line);
                ev.created.push(format!(
                    "{}:{} {}",
                    m.path.display(),
                    st.line,
                    st.sql.lines().next().unwrap_or_default()
                ));
            }
            return Ok(None);
        }
        Err(err) => err,
    };
    let code = apply::statement_error(&err, &m.version, "adopting")?
        .code()
        .code();
    tx.batch_execute("ROLLBACK TO SAVEPOINT sentry_statement; RELEASE SAVEPOINT sentry_statement")
        .map_err(|e| Error::db("rolling back to a savepoint", &e))?;
    let entry = apply::skip_entry(m, st, &err);
    // Only "already exists" is evidence: a unique violation, say, may come from seed rows an
    // earlier migration of this very replay inserted. (Nor is an `IF NOT EXISTS` notice: the
    // object may come from an earlier migration of the replay. A plain CREATE that fails here
    // fails in a fresh apply too, unless its object existed before the replay.)
    if ALREADY_EXISTS.contains(&code) {
        ev.existed.push(entry.clone());
    }
    if s.stamp_recovery && ALREADY_EXISTS.contains(&code) {
        warn!("stamp recovery skipped {entry}");
        return Ok(None);
    }
    ev.failed += 1;
    Ok(Some(apply::describe(&m.script(), &err, Some(st))))
}

/// Whether a statement that succeeded created an object that did not exist: a `CREATE`
/// without `IF NOT EXISTS` or `OR REPLACE`, an `ALTER … ADD` without `IF NOT EXISTS`, or a
/// rename. Idempotent statements tell nothing either way.
fn creates_something(sql: &str) -> bool {
    let tokens = sql_split::tokens(sql);
    let has = |k: &str| tokens.iter().any(|(_, t)| t.is(k));
    let first = |k: &str| tokens.first().is_some_and(|(_, t)| t.is(k));
    let guarded = tokens
        .windows(3)
        .any(|w| w[0].1.is("if") && w[1].1.is("not") && w[2].1.is("exists"));
    if guarded {
        return false;
    }
    (first("create") && !(has("or") && has("replace")))
        || (first("alter") && (has("add") || has("rename")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(version: &str, existed: usize, created: usize) -> Evidence {
        Evidence {
            version: version.into(),
            existed: (0..existed).map(|i| format!("e{i}")).collect(),
            created: (0..created).map(|i| format!("c{i}")).collect(),
            created_lines: (0..created).map(|i| i + 1).collect(),
            failed: 0,
            statements: existed + created,
        }
    }

    fn replay_of(evidence: Vec<Evidence>) -> Replay {
        Replay {
            outcomes: Vec::new(),
            evidence,
            failure: None,
        }
    }

    #[test]
    fn what_creates_something() {
        assert!(creates_something("CREATE TABLE a (id int)"));
        assert!(creates_something("create unique index ix on a (id)"));
        assert!(creates_something("ALTER TABLE a ADD COLUMN b int"));
        assert!(creates_something("ALTER TABLE a RENAME TO b"));
        assert!(!creates_something("CREATE TABLE IF NOT EXISTS a (id int)"));
        assert!(!creates_something(
            "ALTER TABLE a ADD COLUMN IF NOT EXISTS b int"
        ));
        assert!(!creates_something(
            "CREATE OR REPLACE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql"
        ));
        assert!(!creates_something("INSERT INTO a VALUES (1)"));
        assert!(!creates_something(
            "ALTER TABLE a ALTER COLUMN b SET NOT NULL"
        ));
    }

    #[test]
    fn a_prefix_applied_before_is_consistent() {
        let r = replay_of(vec![
            ev("1", 2, 0),
            ev("2", 1, 1),
            ev("3", 0, 2),
            ev("4", 0, 0),
        ]);
        assert!(r.inconsistency().is_none());
        assert_eq!(r.suggestion().unwrap().0, "2");
        assert!(replay_of(vec![ev("1", 0, 1)]).suggestion().is_none());
    }

    #[test]
    fn a_failure_is_a_sign_of_a_past_run_only_if_nothing_before_it_was_new() {
        let failure = |version: &str, line: usize| StatementFailure {
            version: version.into(),
            line: Some(line),
            ..StatementFailure::default()
        };
        // Idempotent migrations, then the failure: nothing says the database is not past it.
        let idempotent = vec![ev("51", 0, 0), ev("52", 0, 0), ev("80", 0, 0)];
        assert_eq!(created_before(&idempotent, &failure("80", 2)), None);
        // A migration before it created something new: the database is not past that one.
        let fresh = vec![ev("51", 0, 0), ev("52", 0, 1), ev("80", 0, 0)];
        assert_eq!(
            created_before(&fresh, &failure("80", 2)).as_deref(),
            Some("52 created objects that did not exist (c0)")
        );
        // In the failing migration itself: only statements before the failing one count.
        let own = vec![ev("51", 0, 0), ev("80", 0, 2)];
        assert_eq!(created_before(&own, &failure("80", 1)), None);
        assert!(created_before(&own, &failure("80", 2)).is_some());
        // What comes after the failing migration does not count.
        let after = vec![ev("80", 0, 0), ev("81", 0, 1)];
        assert_eq!(created_before(&after, &failure("80", 5)), None);
    }

    #[test]
    fn new_objects_before_existing_ones_are_inconsistent() {
        let r = replay_of(vec![
            ev("1", 1, 1),
            ev("2", 0, 1),
            ev("3", 1, 0),
            ev("4", 0, 1),
        ]);
        let why = r.inconsistency().unwrap();
        assert!(why.starts_with("1 created objects"), "{why}");
        assert!(why.contains("the later 3 found"), "{why}");
        assert_eq!(r.suggestion().unwrap().0, "3");
    }
}
