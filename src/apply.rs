//! Applying one migration: its SQL and its tracking row in one transaction, the
//! `-- sentry:no-transaction` path, precise failure reports (file:line:column, SQLSTATE,
//! message, detail, hint, the offending line), and stamp recovery (SPEC §7).

use std::ops::Deref;
use std::path::Path;
use std::time::{Duration, Instant};

use log::{debug, warn};
use postgres::error::ErrorPosition;
use postgres::types::{ToSql, Type};
use postgres::{Client, GenericClient};

use crate::db::Traced;
use crate::error::{Aftermath, Error, Result, SetProblem, StatementFailure};
use crate::invalid_index::{self, IndexStatement, Left};
use crate::migrations::Migration;
use crate::prepared::Prepared;
use crate::sql_split::{self, Statement};
use crate::tracking::{self, NewRow, Table};

/// SQLSTATEs meaning "this object already exists": the only errors stamp recovery skips.
pub const ALREADY_EXISTS: [&str; 5] = ["42P07", "42701", "42710", "42P06", "42723"];

/// A migration with its SQL read from disk (see [`Migration::source`]); dereferences to the
/// migration, so `m.version` and `m.sql` read alike below.
pub(crate) struct Loaded<'a> {
    migration: &'a Migration,
    pub(crate) sql: String,
    down_sql: Option<String>,
}

impl<'a> Loaded<'a> {
    pub(crate) fn read(migration: &'a Migration) -> Result<Loaded<'a>> {
        let source = migration.source()?;
        Ok(Loaded {
            migration,
            sql: source.sql,
            down_sql: source.down_sql,
        })
    }
}

/// The tracking row is written as the sentry's own role, even if the migration left a
/// `SET ROLE` behind (which is warned about and undone after the commit); `SET LOCAL`, so for
/// the insert only.
const ROLE_FOR_THE_ROW: &str = "SET LOCAL role TO DEFAULT";

impl Loaded<'_> {
    /// The migration's tracking row; `note` (a stamp recovery's) marks it stamped.
    fn row<'r>(&'r self, elapsed: Duration, note: Option<&'r str>) -> NewRow<'r> {
        NewRow {
            version: &self.version,
            execution_time_ms: millis(elapsed),
            checksum: &self.checksum,
            rollback_sql: self.down_sql.as_deref(),
            stamped: note.is_some(),
            note,
        }
    }

    pub(crate) fn script(&self) -> Script<'_> {
        Script {
            version: &self.version,
            origin: &self.path,
            sql: &self.sql,
        }
    }
}

/// SQL about to be sent, with what a failure report needs to point into it: a migration
/// file's text, or a rollback stored in the tracking table (`rollback.rs`), whose `origin`
/// is then a name such as `0003_x.down.sql (stored)`.
#[derive(Debug, Clone, Copy)]
pub struct Script<'a> {
    pub version: &'a str,
    /// Where the SQL comes from, as reports name it (`file:line:column`).
    pub origin: &'a Path,
    pub sql: &'a str,
}

impl Deref for Loaded<'_> {
    type Target = Migration;

    fn deref(&self) -> &Migration {
        self.migration
    }
}

/// How migrations are run.
#[derive(Debug, Clone)]
pub struct Settings {
    pub lock_timeout: Duration,
    pub statement_timeout: Duration,
    pub stamp_recovery: bool,
    /// The advisory lock key: each transactional migration also takes it with
    /// `pg_advisory_xact_lock` (SPEC §5.4).
    pub lock_key: i64,
    /// Retries of a transactional migration that hits `lock_timeout` (55P03).
    pub lock_retries: u32,
}

/// What happened to one migration.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub version: String,
    pub elapsed: Duration,
    /// Recorded through stamp recovery (some statements were skipped).
    pub stamped: bool,
    pub note: Option<String>,
}

/// Applies `m` and records it. `durable`: wait for the commit to reach disk. The caller passes
/// `false` for every migration of a batch but the last: each still commits atomically, and the
/// last synchronous commit flushes the WAL up to itself, which makes every earlier commit of
/// the batch durable too (WAL is flushed in order) — one disk flush per run, as `psql -1`.
pub fn apply(
    client: &mut Client,
    table: &Table,
    m: &Migration,
    s: &Settings,
    durable: bool,
    prepared: &mut Prepared<'_>,
) -> Result<Outcome> {
    let m = &Loaded::read(m)?;
    let outcome = if m.no_transaction {
        let outcome = apply_without_transaction(client, table, m, s)?;
        prepared
            .baseline
            .restore_after(client, &m.sql, &m.version, &[])?;
        outcome
    } else {
        with_lock_retries(client, s, &m.version, |client| {
            apply_in_transaction(client, table, m, s, durable, prepared)
        })?
    };
    prepared.after(client, table, &m.sql)?;
    Ok(outcome)
}

/// SQLSTATE `lock_not_available`: `lock_timeout` expired.
pub const LOCK_NOT_AVAILABLE: &str = "55P03";

/// Runs `attempt` (one whole transaction) and, when it fails because `lock_timeout` expired
/// (55P03) — it was rolled back, so nothing of it stayed — runs it again up to
/// `s.lock_retries` times with jittered exponential backoff, as strong_migrations and pgroll
/// do: a migration should wait behind a long transaction in short bursts, never queue the
/// application's traffic behind it for long. Each retry is logged with the sessions that
/// probably blocked it. Also used by `rollback`.
pub fn with_lock_retries<T>(
    client: &mut Client,
    s: &Settings,
    what: &str,
    mut attempt: impl FnMut(&mut Client) -> Result<T>,
) -> Result<T> {
    let mut retry = 0;
    loop {
        let started = Instant::now();
        match attempt(client) {
            Err(Error::MigrationFailed(f))
                if f.sqlstate == LOCK_NOT_AVAILABLE && retry < s.lock_retries =>
            {
                retry += 1;
                let pause = crate::interrupt::backoff(retry);
                let blockers = blockers(client, started);
                // A concurrent index build keeps its INVALID index: the retry drops it first.
                let stayed = match &f.aftermath {
                    Aftermath::Kept { left, .. } if !left.indexes.is_empty() => format!(
                        "nothing of it committed but the INVALID index {}, which the retry \
                         drops and builds again",
                        left.indexes.join(", ")
                    ),
                    _ => "rolled back, nothing of it stayed".into(),
                };
                warn!(
                    "{what}: lock_timeout ({} ms) expired{}; {stayed}. Retry {retry} of {} in \
                     {:.1} s. Blocked by {}",
                    s.lock_timeout.as_millis(),
                    f.line
                        .map(|l| format!(" at {}:{l}", f.file.display()))
                        .unwrap_or_default(),
                    s.lock_retries,
                    pause.as_secs_f64(),
                    blockers
                );
                crate::interrupt::sleep(pause, &format!("waiting to retry {what}"))?;
            }
            Err(Error::MigrationFailed(mut f)) if f.sqlstate == LOCK_NOT_AVAILABLE => {
                let blockers = blockers(client, started);
                f.hint = Some(format!(
                    "lock_timeout ({} ms) expired on each of {} attempt(s) (--lock-retries {}); \
                     blocked by {blockers}. Deploy again when that transaction is \
                     done, or end it with SELECT pg_terminate_backend(pid)",
                    s.lock_timeout.as_millis(),
                    retry + 1,
                    s.lock_retries
                ));
                return Err(Error::MigrationFailed(f));
            }
            other => return other,
        }
    }
}

/// The sessions that probably blocked a migration whose `lock_timeout` expired. The sampler
/// of `interrupt` sees the real `pg_blocking_pids()` of our backend while it waits, when the
/// wait lasted long enough for a probe; otherwise (the wait is over by now) these are the other
/// sessions of this database that hold relation locks, in a transaction older than the attempt
/// when that is visible, oldest first. State and query show only for the sentry's own role
/// (or with pg_read_all_stats).
fn blockers(client: &mut Client, attempt_started: Instant) -> String {
    if let Some(seen) = crate::interrupt::blockers() {
        return seen;
    }
    // The heuristic: say so.
    let since_ms = attempt_started.elapsed().as_millis() as i64;
    let rows = client.traced(
        "SELECT l.pid, coalesce(a.state, 'state not visible to this role'), \
                coalesce(extract(epoch FROM now() - a.xact_start)::int8, -1), \
                coalesce(left(regexp_replace(a.query, '\\s+', ' ', 'g'), 120), '') \
         FROM (SELECT DISTINCT pid FROM pg_locks \
               WHERE locktype = 'relation' AND granted AND pid IS NOT NULL \
                 AND pid <> pg_backend_pid() \
                 AND database = (SELECT oid FROM pg_database \
                                 WHERE datname = current_database())) l \
         LEFT JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE a.xact_start IS NULL \
            OR a.xact_start < now() - make_interval(secs => $1::float8 / 1000) \
         ORDER BY a.xact_start NULLS LAST LIMIT 3",
        &[(&since_ms as &(dyn ToSql + Sync), Type::INT8)],
    );
    match rows {
        Ok(rows) if !rows.is_empty() => rows
            .iter()
            .map(|r| {
                let who =
                    crate::interrupt::describe_blocker(r.get(0), r.get(1), r.get(2), r.get(3));
                format!("(probably) {who}")
            })
            .collect::<Vec<_>>()
            .join("; "),
        _ => "a session this role cannot see (look at pg_locks and pg_stat_activity)".into(),
    }
}

/// One attempt at a transactional migration: its SQL and its tracking row in one transaction.
///
/// Two messages, the deploy's hot path (issue #12): (1) `BEGIN`, the timeouts, the
/// transaction's advisory lock and the re-check ([`begin_sql`]), whose answer decides whether
/// the migration is sent at all; (2) the migration's SQL, first in its message, so that the
/// server's positions in it are its own, followed by a savepoint that tells, should the message
/// fail, whether the migration's SQL or the sentry's statements did ([`Part`]), the tracking
/// row, `COMMIT` and the check of what the migration left in the session ([`finish`]). The
/// statements of (1) and (2) that are the same for every migration are prepared once per run
/// ([`Prepared`]). A migration
/// whose text could change a setting or remove the prepared statements, or that the lexer
/// cannot prove ends at the top level ([`Prepared::may_follow`]), is sent alone and finished
/// by a third message.
fn apply_in_transaction(
    client: &mut Client,
    table: &Table,
    m: &Loaded<'_>,
    s: &Settings,
    durable: bool,
    prepared: &Prepared<'_>,
) -> Result<Outcome> {
    let started = Instant::now();
    let begin = begin_sql(s, durable, &prepared.recheck(table, &m.version));
    let (mut tx, begun) = Open::begin(client, &begin);
    let recorded = match begun {
        Ok(results) => results.last().is_some_and(|rows| !rows.is_empty()),
        Err(e) => return Err(lock_error(&e, m, s)),
    };
    if recorded {
        tx.rollback();
        warn!(
            "{} was recorded by another session after this run read the tracking table: not \
             applied again",
            m.version
        );
        return Ok(Outcome {
            version: m.version.clone(),
            elapsed: started.elapsed(),
            stamped: false,
            note: Some("applied by another session meanwhile".into()),
        });
    }
    debug!("SQL of {} ({}):\n{}", m.version, m.path.display(), m.sql);
    let together = prepared.may_follow(&m.sql);
    let sent = {
        let _long = crate::interrupt::long_under_lock_timeout(
            &format!("applying {}", m.version),
            s.lock_timeout,
        )?;
        if together {
            // The tracking row is written in the migration's own transaction and committed in
            // the same message: both commit or neither does, so a crash or kill at any point
            // can never leave a schema change without its row, or a row without its change.
            // An error anywhere ends the message there, before the COMMIT.
            let row = m.row(Duration::ZERO, None);
            let mut statements = vec![format!("{}\n", m.sql)];
            statements.extend(finish(
                table,
                m,
                prepared,
                &row,
                tracking::SERVER_ELAPSED_MS,
            ));
            crate::db::batch(tx.client, &statements).map(Some)
        } else {
            tx.client.batch_execute(&m.sql).map(|()| None)
        }
    };
    match sent {
        Ok(results) => {
            let elapsed = started.elapsed();
            let settings = match results {
                Some(results) => {
                    // Never expected: the transaction is then rolled back (on drop).
                    let settings = finished(results).ok_or_else(|| {
                        Error::Internal(format!(
                            "applying {}: the server's answer did not end with its tracking \
                             row, COMMIT and the settings check; rolled back",
                            m.version
                        ))
                    })?;
                    tx.committed();
                    settings
                }
                None => {
                    let row = m.row(elapsed, None);
                    let time = row.execution_time_ms.to_string();
                    let statements = finish(table, m, prepared, &row, &time);
                    crate::interrupt::tick(&format!("committing {}", m.version));
                    match crate::db::batch(tx.client, &statements) {
                        Ok(results) => {
                            tx.committed();
                            // The last result: the session's settings.
                            results.into_iter().next_back().unwrap_or_default()
                        }
                        Err(e) => {
                            // The migration's SQL ran: the row, its COMMIT or the check failed.
                            let part = tx.failed_part(&e);
                            tx.rollback();
                            drop(tx);
                            return Err(match part {
                                Some(part) => {
                                    after_the_sql(client, table, m, s, prepared, &row, part, &e)?
                                }
                                None => finish_error(table, m, &row, &e),
                            });
                        }
                    }
                }
            };
            prepared
                .baseline
                .restore_from(tx.client, settings, &m.version, &[])?;
            Ok(Outcome {
                version: m.version.clone(),
                elapsed,
                stamped: false,
                note: None,
            })
        }
        Err(err) => {
            // Which part of the message failed: the migration's SQL, or the statements the
            // sentry sent after it (their failure is never the migration's: on call would be
            // sent to the wrong file).
            let part = if together {
                tx.failed_part(&err)
            } else {
                Some(Part::Migration)
            };
            // Dropping the transaction would roll back too; say it explicitly. (When the
            // message carried the COMMIT and the error came after it, there is nothing left
            // to roll back.)
            tx.rollback();
            drop(tx);
            statement_error(&err, &m.version, "applying")?;
            let mut err = err;
            if together {
                let row = m.row(started.elapsed(), None);
                match part {
                    Some(Part::Migration) => {}
                    Some(part) => {
                        return Err(after_the_sql(
                            client, table, m, s, prepared, &row, part, &err,
                        )?);
                    }
                    // The marker could not be read (never expected): judged by the error and
                    // the table alone.
                    None => {
                        if tracking::guard_failed(&err) {
                            return Err(tracking::table_changed(table, &row));
                        }
                        if is_recorded(client, table, prepared, &m.version)? {
                            return Err(settings_check_failed(m, &err));
                        }
                    }
                }
                if let Some(own) = beyond_the_file(client, m, s, &err) {
                    err = own;
                }
            }
            let db = statement_error(&err, &m.version, "applying")?;
            if s.stamp_recovery && ALREADY_EXISTS.contains(&db.code().code()) {
                warn!(
                    "{}: SQLSTATE {} {} — its objects exist already (created outside the \
                     tracker?). Attempting STAMP RECOVERY: replaying it statement by statement, \
                     skipping only 'already exists' errors",
                    m.version,
                    db.code().code(),
                    crate::output::external(db.message())
                );
                let outcome = recover(client, table, m, s, durable, started)?;
                prepared
                    .baseline
                    .restore_after(client, &m.sql, &m.version, &[])?;
                return Ok(outcome);
            }
            Err(failure(client, &m.script(), s, &err))
        }
    }
}

/// The savepoint [`finish`]'s statements start with: on the failure path, whether it exists
/// tells which part of the message failed ([`Open::failed_part`]). A migration cannot take it
/// for its own: a transactional migration may not use `SAVEPOINT` (and dynamic SQL cannot).
const MARKER: &str = "migration_sentry_row";

/// The statements that finish a migration after its SQL: the marker savepoint ([`MARKER`]),
/// the tracking row (as the sentry's own role, when the migration could have changed it),
/// `COMMIT`, and the check of the session's settings. `time`: the row's execution time, a
/// number or an SQL expression.
fn finish(
    table: &Table,
    m: &Loaded<'_>,
    prepared: &Prepared<'_>,
    row: &NewRow<'_>,
    time: &str,
) -> Vec<String> {
    let mut statements = Vec::with_capacity(5);
    statements.push(format!("SAVEPOINT {MARKER}"));
    if crate::session::may_set(&m.sql) {
        // Only a migration that could have changed the role needs it reset for the row (one
        // that changed it through a function it calls, with no SET in its text, at worst makes
        // the row's INSERT fail, and the whole is rolled back).
        statements.push(ROLE_FOR_THE_ROW.to_string());
    }
    statements.push(prepared.row(table, row, &m.sql, time));
    statements.push("COMMIT".to_string());
    statements.push(prepared.check(&m.sql));
    statements
}

/// The settings check's rows, from the results of a message that carried a migration's SQL
/// and then [`finish`]'s statements (no role reset: see [`Prepared::may_follow`]), if they end
/// as they must: the row written (one row, named [`tracking::RECORDED`]), the `COMMIT`, the
/// check.
fn finished(
    mut results: Vec<Vec<postgres::SimpleQueryRow>>,
) -> Option<Vec<postgres::SimpleQueryRow>> {
    let settings = results.pop()?;
    let commit = results.pop()?;
    let row = results.pop()?;
    let recorded = row.len() == 1
        && row[0]
            .columns()
            .first()
            .is_some_and(|c| c.name() == tracking::RECORDED);
    (recorded && commit.is_empty()).then_some(settings)
}

/// Which part of a message that carried a migration's SQL and [`finish`]'s statements failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// The migration's own SQL.
    Migration,
    /// A statement of the sentry's before the `COMMIT`: the role reset or the tracking row.
    Row,
    /// The `COMMIT` (a deferred constraint or trigger of the migration, or of the table), or
    /// the settings check after it.
    Commit,
}

/// The report of a failure in the sentry's statements after a migration's SQL had run: its
/// row (exit 3, 6 or 1, never at the migration's line: see [`tracking::row_failed`]), the
/// settings check after the COMMIT (the migration is applied: exit 1), or the COMMIT itself —
/// the migration's, when a deferred constraint or trigger it set up fails there (exit 7,
/// located by a replay with its constraints immediate), unless the error names the tracking
/// table. `Err` only when the session broke while finding out.
#[allow(clippy::too_many_arguments)]
fn after_the_sql(
    client: &mut Client,
    table: &Table,
    m: &Loaded<'_>,
    s: &Settings,
    prepared: &Prepared<'_>,
    row: &NewRow<'_>,
    part: Part,
    err: &postgres::Error,
) -> Result<Error> {
    const ROLLED_BACK: &str = "the migration was rolled back with it: nothing of it was committed";
    match part {
        Part::Migration | Part::Row => Ok(tracking::row_failed(table, row, err, Some(ROLLED_BACK))),
        // Only the settings check runs after the COMMIT: if the row is there, that is what
        // failed, and the migration is applied.
        Part::Commit if is_recorded(client, table, prepared, &m.version)? => {
            Ok(settings_check_failed(m, err))
        }
        Part::Commit if tracking::refers_to(table, err) => {
            Ok(tracking::row_failed(table, row, err, Some(ROLLED_BACK)))
        }
        Part::Commit => {
            let located = locate(client, &m.script(), s, true);
            let mut f = describe(&m.script(), err, located.as_ref());
            f.at_commit = true;
            Ok(Error::MigrationFailed(Box::new(f)))
        }
    }
}

/// The error of the settings check that runs after a migration committed.
fn settings_check_failed(m: &Loaded<'_>, err: &postgres::Error) -> Error {
    Error::db(
        format!(
            "checking the session settings after {} committed (it is applied)",
            m.version
        ),
        err,
    )
}

/// The error of the message that finishes a migration sent alone, when which of its parts
/// failed could not be told.
fn finish_error(table: &Table, m: &Loaded<'_>, row: &NewRow<'_>, e: &postgres::Error) -> Error {
    if tracking::guard_failed(e) {
        return tracking::table_changed(table, row);
    }
    Error::db(
        format!(
            "recording {} in {} and committing it",
            m.version, table.qualified
        ),
        e,
    )
}

/// Whether `version` is recorded now (after a failed message: did its COMMIT run?).
fn is_recorded(
    client: &mut Client,
    table: &Table,
    prepared: &Prepared<'_>,
    version: &str,
) -> Result<bool> {
    let results = crate::db::batch(client, &[prepared.recheck(table, version)])
        .map_err(|e| Error::db(format!("checking whether {version} was recorded"), &e))?;
    Ok(results.last().is_some_and(|rows| !rows.is_empty()))
}

/// The migration's own error when the server placed `err` after the end of its text, in the
/// statements that followed it in the message: a migration that ends in the middle of a
/// statement (an unclosed parenthesis) makes the server read on into them. Such a message
/// fails as it is parsed, before any of it runs; the migration alone is parsed again, in a
/// transaction that is rolled back, for the error that names its own end.
fn beyond_the_file(
    client: &mut Client,
    m: &Loaded<'_>,
    s: &Settings,
    err: &postgres::Error,
) -> Option<postgres::Error> {
    match err_position(err)? {
        ErrorPosition::Original(p) if *p as usize > m.sql.chars().count() => {}
        _ => return None,
    }
    let mut tx = client.transaction().ok()?;
    set_timeouts(&mut tx, s, Some(false)).ok()?;
    let own = tx.batch_execute(&m.sql).err();
    let _ = tx.rollback();
    own.filter(|e| e.as_db_error().is_some())
}

/// The first message of a transactional migration: `BEGIN`, the timeouts ([`timeouts_sql`])
/// and SPEC §5.4's guard: `pg_advisory_xact_lock(key)` in the migration's own transaction, in
/// the statement that sets the timeouts (its target list is evaluated in order, so
/// `lock_timeout` is in force when the lock is waited for), then `recheck`, the check that the
/// version is still not recorded (its last result: a row if it is). Whatever sits between the
/// sentry and the server (a pooler that defeats the session lock, a second sentry with another
/// lock key setting), no migration is ever applied twice. The check is its own statement
/// after the lock, so that its snapshot sees every commit made before the lock was granted.
fn begin_sql(s: &Settings, durable: bool, recheck: &str) -> String {
    format!(
        "BEGIN; {}, pg_advisory_xact_lock({}); {recheck}",
        timeouts_sql(s, Some(durable)),
        s.lock_key,
    )
}

/// The error of [`begin_sql`]'s message.
fn lock_error(e: &postgres::Error, m: &Loaded<'_>, s: &Settings) -> Error {
    match e.as_db_error() {
        // We hold the key at session level, so only a client whose own session lock was
        // defeated (behind a transaction pooler) can hold it now, mid-migration.
        Some(db) if db.code().code() == LOCK_NOT_AVAILABLE && !crate::interrupt::stopping() => {
            Error::LockTimeout {
                key: s.lock_key,
                waited: s.lock_timeout,
                holder: Some(
                    "another session, in a transaction, although this sentry holds the lock at \
                     session level: a client behind a transaction pooler?"
                        .into(),
                ),
            }
        }
        _ => Error::db(
            format!(
                "starting the transaction of {} (timeouts, advisory lock, re-check)",
                m.version
            ),
            e,
        ),
    }
}

/// A transaction begun by a message that carries more than `BEGIN` (which
/// `postgres::Transaction` cannot do): rolled back when dropped unless committed, as a
/// `Transaction` is.
struct Open<'c> {
    client: &'c mut Client,
    open: bool,
}

/// The results of the statements of the message that began an [`Open`] transaction.
type Begun = std::result::Result<Vec<Vec<postgres::SimpleQueryRow>>, postgres::Error>;

impl<'c> Open<'c> {
    /// Sends `sql`, which starts with `BEGIN`. The transaction is open even if a later
    /// statement of `sql` failed (it is then aborted, and rolled back on drop).
    fn begin(client: &'c mut Client, sql: &str) -> (Open<'c>, Begun) {
        crate::interrupt::tick("starting a migration's transaction");
        let begun = crate::db::batch(client, &[sql.to_string()]);
        (Open { client, open: true }, begun)
    }

    fn rollback(&mut self) {
        if std::mem::take(&mut self.open) {
            let _ = self.client.batch_execute("ROLLBACK");
        }
    }

    fn committed(&mut self) {
        self.open = false;
    }

    /// After `err` ended a message that carried [`finish`]'s statements, which part of it
    /// failed: whether the transaction is still open, and whether [`MARKER`] exists in it
    /// (one round trip, on the failure path only). `None` when it cannot be told (the session
    /// broke, or the run is being interrupted).
    fn failed_part(&mut self, err: &postgres::Error) -> Option<Part> {
        if crate::error::connection_lost(err) || crate::interrupt::stopping() {
            return None;
        }
        let probe = self
            .client
            .batch_execute(&format!("ROLLBACK TO SAVEPOINT {MARKER}"));
        match probe {
            // The marker exists: the migration's SQL had run.
            Ok(()) => Some(Part::Row),
            Err(e) => match e.as_db_error().map(|db| db.code().code()) {
                // savepoint does not exist: the migration's SQL failed before it.
                Some("3B001") => Some(Part::Migration),
                // No transaction: the COMMIT ended it (failed, or succeeded before the check).
                Some("25P01") => {
                    self.open = false;
                    Some(Part::Commit)
                }
                _ => None,
            },
        }
    }
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.rollback();
    }
}

/// The report of a statement of `script` that failed in a transaction that has been rolled
/// back: when the server gave no position, the failing statement is found first ([`locate`]).
/// A lost connection is not the SQL's fault and becomes exit 4 instead (see
/// [`statement_error`]).
pub(crate) fn failure(
    client: &mut Client,
    script: &Script<'_>,
    s: &Settings,
    err: &postgres::Error,
) -> Error {
    if let Err(e) = statement_error(err, script.version, "running") {
        return e;
    }
    let located = if err_position(err).is_none() {
        locate(client, script, s, false)
    } else {
        None
    };
    Error::MigrationFailed(Box::new(describe(script, err, located.as_ref())))
}

/// Sets `lock_timeout` and `statement_timeout` (and `synchronous_commit` when given) for the
/// current transaction only (`set_config(…, true)` is `SET LOCAL`). With `durable` `None` they
/// are set for the session (no transaction to scope them to).
pub(crate) fn set_timeouts(
    client: &mut impl GenericClient,
    s: &Settings,
    durable: Option<bool>,
) -> Result<()> {
    crate::interrupt::tick("setting lock_timeout and statement_timeout");
    client
        .batch_execute(&timeouts_sql(s, durable))
        .map_err(|e| Error::db("setting lock_timeout and statement_timeout", &e))?;
    Ok(())
}

/// [`set_timeouts`]'s statement. Its values are numbers and fixed words, written as literals.
fn timeouts_sql(s: &Settings, durable: Option<bool>) -> String {
    let local = durable.is_some();
    let sync = match durable {
        Some(true) => ", set_config('synchronous_commit', 'on', true)",
        Some(false) => ", set_config('synchronous_commit', 'off', true)",
        None => "",
    };
    format!(
        "SELECT set_config('lock_timeout', '{}ms', {local}), \
         set_config('statement_timeout', '{}ms', {local}){sync}",
        s.lock_timeout.as_millis(),
        s.statement_timeout.as_millis()
    )
}

/// A `-- sentry:no-transaction` migration: one statement at a time in autocommit (for
/// `CREATE INDEX CONCURRENTLY`), recorded after its last statement succeeds. A file may manage
/// its own transactions (`BEGIN; …; COMMIT;`, as golang-migrate files do): what such a block
/// did is only counted as applied once its `COMMIT` succeeded.
fn apply_without_transaction(
    client: &mut Client,
    table: &Table,
    m: &Loaded<'_>,
    s: &Settings,
) -> Result<Outcome> {
    let started = Instant::now();
    let statements = split(m)?;
    // No transaction to scope SET LOCAL to: set for the session, and put back afterwards
    // exactly what was there (not the server default: the run may have set its own).
    let saved = current_timeouts(client)?;
    set_timeouts(client, s, None)?;
    let mut skipped = Vec::new();
    // Statements that committed (stayed applied), and those run inside the file's own open
    // transaction block, which only count once it commits.
    let mut kept: Vec<String> = Vec::new();
    let mut in_block: Option<Vec<String>> = None;
    for st in &statements {
        let entry = format!("line {}: {}", st.line, st.sql);
        // A concurrent index build that names its index: an INVALID index of that name is
        // dropped first (when it is this statement's) and the index is checked afterwards, so
        // that IF NOT EXISTS never turns a broken index into a recorded migration.
        let build = IndexStatement::parse(st.sql).filter(|ix| ix.concurrently && ix.name.is_some());
        let build = build.as_ref();
        // Nothing of the migration is committed yet (and no block of its own is open): a lock
        // timeout here is retried like a transactional migration's; past that point, never.
        // Nor when the timed-out statement may have left an INVALID index that the next
        // attempt would not drop (an unnamed build, a REINDEX CONCURRENTLY): it would leave
        // one more each time.
        let retry_safe = build.is_some() || !invalid_index::may_leave_invalid(st.sql);
        let attempt = if kept.is_empty() && in_block.is_none() && retry_safe {
            with_lock_retries(client, s, &m.version, |client| {
                match run_step(client, m, st, build, &kept)? {
                    Err(failed) if is_lock_timeout(&failed.err) => {
                        let mut f = describe(&m.script(), &failed.err, Some(st));
                        failed.annotate(&mut f);
                        f.aftermath = Aftermath::Kept {
                            statements: Vec::new(),
                            left: invalid_index::left_behind(client, st.sql),
                        };
                        Err(Error::MigrationFailed(Box::new(f)))
                    }
                    other => Ok(other),
                }
            })
        } else {
            run_step(client, m, st, build, &kept)
        };
        // An interruption here stopped it before it was sent.
        let result = attempt.map_err(|e| {
            e.leaving(|| {
                interrupted_mid_file(
                    &m.version,
                    &kept,
                    st.line,
                    "had not started",
                    &Left::default(),
                )
            })
        })?;
        let failed = match result {
            Ok(()) => {
                // Without IF NOT EXISTS, success means the index was built: valid.
                if let Some(ix) = build.filter(|ix| ix.if_not_exists) {
                    check_built(client, m, st, ix, &kept)?;
                }
                match block_effect(st.sql) {
                    BlockEffect::Begin => in_block = Some(Vec::new()),
                    BlockEffect::Commit => kept.extend(in_block.take().unwrap_or_default()),
                    BlockEffect::Rollback => in_block = None,
                    BlockEffect::None => match &mut in_block {
                        Some(block) => block.push(entry),
                        None => kept.push(entry),
                    },
                }
                continue;
            }
            Err(failed) => failed,
        };
        let err = &failed.err;
        let code = match statement_error(err, &m.version, "applying") {
            Ok(db) => db.code().code(),
            // "Every migration is atomic" is not true of this one: say what stayed.
            Err(Error::Unreachable { target, reason, .. }) => {
                return Err(Error::Unreachable {
                    target,
                    reason,
                    hint: lost_mid_file_hint(&kept, st.line, st.sql),
                });
            }
            Err(e) => {
                // Interrupted: the connection still answers, so ask what the cancelled
                // statement left (a concurrent index build keeps its INVALID index).
                let left = if matches!(e, Error::Interrupted { .. }) {
                    invalid_index::left_behind(client, st.sql)
                } else {
                    Left::default()
                };
                let fate = match &failed.dropping {
                    Some(q) => format!(
                        "had not started (the DROP INDEX CONCURRENTLY of the INVALID index {} \
                         before it {})",
                        crate::output::esc(q),
                        interrupted_fate(err)
                    ),
                    None => interrupted_fate(err),
                };
                return Err(
                    e.leaving(|| interrupted_mid_file(&m.version, &kept, st.line, &fate, &left))
                );
            }
        };
        // Inside the file's own transaction block the error aborted the block: nothing can be
        // skipped there.
        if s.stamp_recovery && ALREADY_EXISTS.contains(&code) && in_block.is_none() {
            let entry = skip_entry(m, st, err);
            warn!("stamp recovery skipped {entry}");
            skipped.push(entry);
            if let Some(ix) = build {
                check_built(client, m, st, ix, &kept)?;
            }
            continue;
        }
        if in_block.is_some() {
            // End the aborted block, so that the session can release the lock cleanly.
            let _ = client.batch_execute("ROLLBACK");
        }
        let mut f = describe(&m.script(), err, Some(st));
        failed.annotate(&mut f);
        f.aftermath = Aftermath::Kept {
            statements: kept,
            left: invalid_index::left_behind(client, st.sql),
        };
        return Err(Error::MigrationFailed(Box::new(f)));
    }
    // Every statement ran: an interruption from here on leaves them applied, without a row
    // (or, during the commit of the row, with a row the sentry cannot vouch for).
    let all_ran = |e: Error| {
        e.leaving(|| {
            format!(
                "{v} is a no-transaction migration: every one of its statements ran and stays \
                 applied, but the recording of its tracking row was interrupted — \
                 `migration-sentry status` shows whether {v} is recorded; if it is not, the next \
                 run replays the whole file (stamp recovery skips what already exists).",
                v = m.version
            )
        })
    };
    restore_timeouts(client, &saved).map_err(all_ran)?;
    // Its own small transaction: see `record`.
    let mut tx = client
        .transaction()
        .map_err(|e| all_ran(Error::db(format!("recording {}", m.version), &e)))?;
    let outcome = record(&mut tx, table, m, started.elapsed(), &skipped).map_err(all_ran)?;
    tx.commit().map_err(|e| {
        all_ran(Error::db(
            format!("committing the row of {}", m.version),
            &e,
        ))
    })?;
    Ok(outcome)
}

/// What a signal or `--timeout` left of a no-transaction migration `v`: the statements in
/// `kept` committed and stay applied, the one at `line` is what it did (`fate`) and may have
/// `left` an INVALID index, the rest did not run, and no tracking row was written: never
/// "nothing was committed" when something was.
fn interrupted_mid_file(v: &str, kept: &[String], line: usize, fate: &str, left: &Left) -> String {
    let mut text = format!(
        "{v} is a no-transaction migration: its statements commit one by one. Its statement \
         at line {line} {fate}, and those after it did not run."
    );
    if kept.is_empty() && left.is_empty() {
        text.push_str(
            " None of its earlier statements stayed applied: nothing of it, and no tracking \
             row, was committed.",
        );
        return text;
    }
    if kept.is_empty() {
        text.push_str(
            " None of its earlier statements had committed, and no tracking row was written.",
        );
    } else {
        text.push_str(&format!(
            "\nThese {} stayed applied (no tracking row was written):",
            kept.len()
        ));
        for k in kept {
            text.push_str(&format!("\n  {}", k.replace('\n', "\n    ")));
        }
    }
    if !left.is_empty() {
        text.push('\n');
        text.push_str(&left.text("That statement"));
    }
    if !kept.is_empty() {
        text.push_str(
            "\nThe next run replays the whole file: stamp recovery skips what already exists; \
             make the other statements idempotent (IF NOT EXISTS) so that replaying them is safe.",
        );
    }
    text
}

/// What happened to the statement an interruption (signal, `--timeout`) stopped, from the
/// error it ended with.
pub(crate) fn interrupted_fate(err: &postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) if *db.code() == postgres::error::SqlState::QUERY_CANCELED => {
            "was cancelled on the server before it completed".into()
        }
        Some(db) => format!(
            "failed (SQLSTATE {}: {})",
            db.code().code(),
            crate::output::external(db.message())
        ),
        None => "may or may not have completed (the connection broke)".into(),
    }
}

/// The hint of a connection lost in the middle of a no-transaction migration (SPEC §5.3).
fn lost_mid_file_hint(kept: &[String], line: usize, sql: &str) -> String {
    let stayed = if kept.is_empty() {
        "none of its earlier statements had committed".to_string()
    } else {
        format!(
            "these earlier statements had committed and stayed applied: {}",
            kept.join("; ")
        )
    };
    let index = match IndexStatement::parse(sql) {
        Some(ix) if ix.concurrently && ix.name.is_some() => {
            " If it was cut off midway, this concurrent index build left its index INVALID: the \
             next run drops it and builds it again."
                .to_string()
        }
        _ if invalid_index::may_leave_invalid(sql) => format!(
            " If it was cut off midway, this concurrent index build left an INVALID index: find \
             it with {} and DROP INDEX CONCURRENTLY it before deploying again.",
            invalid_index::FIND_INVALID
        ),
        _ => String::new(),
    };
    format!(
        "this is a no-transaction migration, so it is not atomic: {stayed}; the statement at \
         line {line} may or may not have completed. No tracking row was written: run the \
         sentry again once the database is back — it replays the file, and stamp recovery skips \
         what already exists.{index}"
    )
}

/// A statement of a no-transaction migration that failed: the server's error, and, when it was
/// the drop of an INVALID index before the statement (see [`run_step`]), that index.
struct Failed {
    err: postgres::Error,
    dropping: Option<String>,
}

impl Failed {
    /// Says in the report that the drop failed, not the statement itself.
    fn annotate(&self, f: &mut StatementFailure) {
        if let Some(q) = &self.dropping {
            f.message = format!(
                "while dropping the INVALID index {} to build it again (DROP INDEX \
                 CONCURRENTLY): {}",
                crate::output::esc(q),
                f.message
            );
        }
    }
}

/// One statement of a no-transaction migration. `build`, for a named concurrent index build:
/// an INVALID index of that name is dropped first when the statement creates exactly that index
/// (its name, in the schema of the table it indexes, on that table), loudly; an INVALID index
/// of that name on another table refuses (exit 6) — the statement would skip it or fail.
fn run_step(
    client: &mut Client,
    m: &Loaded<'_>,
    st: &Statement<'_>,
    build: Option<&IndexStatement>,
    kept: &[String],
) -> Result<std::result::Result<(), Failed>> {
    if let Some(ix) = build
        && let Some(found) = invalid_index::lookup(client, &[ix])?.pop()
        && found.invalid
    {
        if !found.same_table {
            let mut p = invalid_index::refusal(&m.path, st.line, ix, true, &found);
            p.message.push_str(&not_recorded(&m.version, kept));
            return Err(Error::set(p));
        }
        let q = found.qualified();
        warn!(
            "{}:{}: the index {} exists but is INVALID (a CREATE INDEX CONCURRENTLY that failed \
             or was interrupted left it: queries never use it) and this statement creates it: \
             dropping it with DROP INDEX CONCURRENTLY and building it again",
            m.path.display(),
            st.line,
            crate::output::esc(&q)
        );
        let dropped = {
            let _long = crate::interrupt::long(&format!(
                "dropping the INVALID index {q} before {} line {}",
                m.version, st.line
            ))?;
            client.batch_execute(&invalid_index::drop_sql(&found))
        };
        if let Err(err) = dropped {
            return Ok(Err(Failed {
                err,
                dropping: Some(q),
            }));
        }
    }
    Ok(run_statement(client, m, st)?.map_err(|err| Failed {
        err,
        dropping: None,
    }))
}

/// After a named concurrent index build with `IF NOT EXISTS` succeeded, or one that was skipped
/// as existing: its index must be valid before the migration may be recorded. `IF NOT EXISTS`
/// on an INVALID index is a silent no-op; [`run_step`] drops such an index first, so this only
/// fails if one appeared meanwhile — then exit 6, naming it and the fix, and nothing is
/// recorded.
fn check_built(
    client: &mut Client,
    m: &Loaded<'_>,
    st: &Statement<'_>,
    ix: &IndexStatement,
    kept: &[String],
) -> Result<()> {
    match invalid_index::lookup(client, &[ix])?.pop() {
        Some(found) if found.invalid => {
            let mut p = invalid_index::refusal(&m.path, st.line, ix, true, &found);
            p.message.push_str(&not_recorded(&m.version, kept));
            Err(Error::set(p))
        }
        _ => Ok(()),
    }
}

/// The end of a refusal in the middle of a no-transaction migration: what stayed applied.
fn not_recorded(version: &str, kept: &[String]) -> String {
    let lines: Vec<String> = kept
        .iter()
        .map(|k| k.split(':').next().unwrap_or_default().to_string())
        .collect();
    if kept.is_empty() {
        format!(". {version} is not recorded, and none of its statements had committed")
    } else {
        format!(
            ". {version} is not recorded; its statements at {} committed and stay applied (the \
             next run replays the file: stamp recovery skips what exists)",
            lines.join(", ")
        )
    }
}

/// One statement of a no-transaction migration, watched as a long statement.
fn run_statement(
    client: &mut Client,
    m: &Loaded<'_>,
    st: &Statement<'_>,
) -> Result<std::result::Result<(), postgres::Error>> {
    debug!("SQL of {} line {}:\n{}", m.version, st.line, st.sql);
    let _long = crate::interrupt::long(&format!(
        "applying {} (line {}, no transaction)",
        m.version, st.line
    ))?;
    Ok(client.batch_execute(st.sql))
}

pub(crate) fn is_lock_timeout(err: &postgres::Error) -> bool {
    err.as_db_error()
        .is_some_and(|db| db.code().code() == LOCK_NOT_AVAILABLE)
        && !crate::interrupt::stopping()
}

/// How a statement of a no-transaction migration changes the file's own transaction block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockEffect {
    Begin,
    Commit,
    Rollback,
    None,
}

fn block_effect(sql: &str) -> BlockEffect {
    let tokens = sql_split::tokens(sql);
    let is = |i: usize, k: &str| tokens.get(i).is_some_and(|(_, t)| t.is(k));
    if is(0, "begin") || (is(0, "start") && is(1, "transaction")) {
        BlockEffect::Begin
    } else if is(0, "commit") || is(0, "end") {
        BlockEffect::Commit
    } else if (is(0, "rollback") || is(0, "abort")) && !tokens.iter().any(|(_, t)| t.is("to")) {
        BlockEffect::Rollback
    } else {
        BlockEffect::None
    }
}

/// The session's `lock_timeout` and `statement_timeout`, to put back after a no-transaction
/// migration.
fn current_timeouts(client: &mut Client) -> Result<(String, String)> {
    let rows = client
        .traced(
            "SELECT current_setting('lock_timeout'), current_setting('statement_timeout')",
            &[],
        )
        .map_err(|e| Error::db("reading lock_timeout and statement_timeout", &e))?;
    let get = |i: usize| -> String {
        rows.first()
            .and_then(|r| r.try_get::<_, Option<String>>(i).ok().flatten())
            .unwrap_or_else(|| "0".into())
    };
    Ok((get(0), get(1)))
}

fn restore_timeouts(client: &mut Client, saved: &(String, String)) -> Result<()> {
    client
        .traced(
            "SELECT set_config('lock_timeout', $1, false), \
             set_config('statement_timeout', $2, false)",
            &[
                (&saved.0 as &(dyn ToSql + Sync), Type::TEXT),
                (&saved.1, Type::TEXT),
            ],
        )
        .map_err(|e| Error::db("restoring lock_timeout and statement_timeout", &e))?;
    Ok(())
}

/// Stamp recovery: replays the migration in one transaction, each statement under a
/// savepoint; "already exists" errors are skipped and noted, anything else rolls back all.
fn recover(
    client: &mut Client,
    table: &Table,
    m: &Loaded<'_>,
    s: &Settings,
    durable: bool,
    started: Instant,
) -> Result<Outcome> {
    let statements = split(m)?;
    let mut tx = client
        .transaction()
        .map_err(|e| Error::db(format!("starting recovery of {}", m.version), &e))?;
    set_timeouts(&mut tx, s, Some(durable))?;
    let mut skipped = Vec::new();
    for st in &statements {
        tx.batch_execute("SAVEPOINT sentry_statement")
            .map_err(|e| Error::db("creating a savepoint", &e))?;
        debug!("SQL of {} line {}:\n{}", m.version, st.line, st.sql);
        let result = {
            let _long =
                crate::interrupt::long(&format!("recovering {} (line {})", m.version, st.line))?;
            tx.batch_execute(st.sql)
        };
        match result {
            Ok(()) => tx
                .batch_execute("RELEASE SAVEPOINT sentry_statement")
                .map_err(|e| Error::db("releasing a savepoint", &e))?,
            Err(err) => match statement_error(&err, &m.version, "recovering")?
                .code()
                .code()
            {
                c if ALREADY_EXISTS.contains(&c) => {
                    tx.batch_execute(
                            "ROLLBACK TO SAVEPOINT sentry_statement; RELEASE SAVEPOINT sentry_statement",
                        )
                        .map_err(|e| Error::db("rolling back to a savepoint", &e))?;
                    let entry = skip_entry(m, st, &err);
                    warn!("stamp recovery skipped {entry}");
                    skipped.push(entry);
                }
                _ => {
                    let _ = tx.rollback();
                    let mut f = describe(&m.script(), &err, Some(st));
                    f.recovery = Some(format!(
                        "attempted: the migration's objects partly exist, but this statement \
                             failed with an error that is not 'already exists', so the whole \
                             migration was rolled back ({} statement(s) had been skipped as \
                             already existing)",
                        skipped.len()
                    ));
                    return Err(Error::MigrationFailed(Box::new(f)));
                }
            },
        }
    }
    let outcome = record(&mut tx, table, m, started.elapsed(), &skipped)?;
    tx.commit()
        .map_err(|e| Error::db(format!("committing the recovery of {}", m.version), &e))?;
    Ok(outcome)
}

/// Inserts the migration's tracking row (stamped when recovery skipped statements), inside the
/// caller's transaction.
pub(crate) fn record(
    client: &mut impl GenericClient,
    table: &Table,
    m: &Loaded<'_>,
    elapsed: Duration,
    skipped: &[String],
) -> Result<Outcome> {
    let note = recovery_note(skipped);
    // Callers are always inside a transaction, so that the role lasts for the insert only.
    client
        .batch_execute(ROLE_FOR_THE_ROW)
        .map_err(|e| Error::db("resetting the role to write the tracking row", &e))?;
    tracking::insert(client, table, &m.row(elapsed, note.as_deref()))?;
    Ok(Outcome {
        version: m.version.clone(),
        elapsed,
        stamped: note.is_some(),
        note,
    })
}

/// The server's error for a failed migration statement. A lost connection (including a FATAL
/// shutdown) or a client-side failure is not the migration's fault: it becomes exit 4 or 1
/// through [`Error::db`], never a "migration failed" report.
pub(crate) fn statement_error<'e>(
    err: &'e postgres::Error,
    version: &str,
    doing: &str,
) -> Result<&'e postgres::error::DbError> {
    match err.as_db_error() {
        // A statement cancelled by a signal or --timeout is not the migration's fault either.
        Some(db) if !crate::error::connection_lost(err) && !crate::interrupt::stopping() => Ok(db),
        _ => Err(Error::db(format!("{doing} {version}"), err)),
    }
}

pub(crate) fn skip_entry(m: &Migration, st: &Statement<'_>, err: &postgres::Error) -> String {
    let (code, msg) = err
        .as_db_error()
        .map(|d| {
            (
                d.code().code().to_string(),
                crate::output::external(d.message()),
            )
        })
        .unwrap_or_default();
    format!("{}:{} SQLSTATE {code} {msg}", m.path.display(), st.line)
}

fn recovery_note(skipped: &[String]) -> Option<String> {
    if skipped.is_empty() {
        None
    } else {
        Some(format!(
            "stamp recovery: skipped {} statement(s) whose objects already existed: {}",
            skipped.len(),
            skipped.join("; ")
        ))
    }
}

pub(crate) fn split<'a>(m: &'a Loaded<'_>) -> Result<Vec<Statement<'a>>> {
    sql_split::split(&m.sql).map_err(|e| {
        Error::set(
            SetProblem::file(&m.path, e.message.clone())
                .at_line(e.line)
                .with_hint("fix the SQL; `migration-sentry check` reports this offline"),
        )
    })
}

fn millis(d: Duration) -> i32 {
    d.as_millis().min(i32::MAX as u128) as i32
}

pub(crate) fn err_position(err: &postgres::Error) -> Option<&ErrorPosition> {
    err.as_db_error().and_then(|d| d.position())
}

/// When the server gave no position, finds the failing statement by replaying the migration
/// statement by statement in a transaction that is always rolled back. Only on the failure
/// path, and only for migrations of more than one statement. `immediate`: for a failure at
/// COMMIT, the replay first makes every deferred constraint and trigger immediate, so that it
/// fails at the statement that broke one.
fn locate<'m>(
    client: &mut Client,
    m: &Script<'m>,
    s: &Settings,
    immediate: bool,
) -> Option<Statement<'m>> {
    let mut statements = sql_split::split(m.sql).ok()?;
    if statements.len() <= 1 {
        return statements.pop();
    }
    debug!(
        "locating the failing statement of {} (replay, rolled back)",
        m.version
    );
    let mut tx = client.transaction().ok()?;
    set_timeouts(&mut tx, s, Some(false)).ok()?;
    if immediate {
        tx.batch_execute("SET CONSTRAINTS ALL IMMEDIATE").ok()?;
    }
    let mut found = None;
    let _long = crate::interrupt::long(&format!("locating the failure in {}", m.version)).ok()?;
    for st in statements {
        if tx.batch_execute(st.sql).is_err() {
            found = Some(st);
            break;
        }
    }
    let _ = tx.rollback();
    found
}

/// Builds the failure report. `statement`: the statement that failed, when known (its text is
/// what the server's position refers to).
pub(crate) fn describe(
    m: &Script<'_>,
    err: &postgres::Error,
    statement: Option<&Statement<'_>>,
) -> StatementFailure {
    let mut f = StatementFailure {
        version: m.version.to_string(),
        file: m.origin.to_path_buf(),
        ..Default::default()
    };
    let Some(db) = err.as_db_error() else {
        f.sqlstate = "?????".into();
        f.message = crate::output::external(&err.to_string());
        return f;
    };
    // The server's texts are external: scrubbed of the password and escaped onto one line
    // (the context keeps its lines, each escaped, and is printed indented).
    f.sqlstate = db.code().code().to_string();
    f.message = crate::output::external(db.message());
    f.detail = db.detail().map(crate::output::external);
    f.hint = db.hint().map(crate::output::external);
    f.context = db.where_().map(|c| {
        c.lines()
            .map(crate::output::external)
            .collect::<Vec<_>>()
            .join("\n")
    });
    let (text, base) = match statement {
        Some(st) => (st.sql, st.offset),
        None => (m.sql, 0),
    };
    let byte = match db.position() {
        Some(ErrorPosition::Original(p)) => Some(base + char_to_byte(text, *p as usize)),
        Some(ErrorPosition::Internal { position, query }) => m.sql[base..]
            .find(query.as_str())
            .map(|i| base + i + char_to_byte(query, *position as usize)),
        None => None,
    };
    let (line, column) = match byte {
        Some(b) => {
            let (l, c) = sql_split::line_col(m.sql, b);
            (Some(l), Some(c))
        }
        None => match statement {
            // A PL/pgSQL error names the line inside the function body.
            Some(st) => (
                Some(plpgsql_line(st, f.context.as_deref()).unwrap_or(st.line)),
                None,
            ),
            None => (None, None),
        },
    };
    f.line = line;
    f.column = column;
    f.sql_line = line
        .and_then(|l| m.sql.lines().nth(l - 1))
        .map(|l| crate::output::esc(l).into_owned());
    f
}

/// Byte offset of the 1-based character position `pos` in `text`.
fn char_to_byte(text: &str, pos: usize) -> usize {
    text.char_indices()
        .nth(pos.saturating_sub(1))
        .map(|(i, _)| i)
        .unwrap_or(text.len())
}

/// For `PL/pgSQL function inline_code_block line N at …`: the file line of body line N, the
/// body starting on the line of the statement's first dollar quote.
fn plpgsql_line(st: &Statement<'_>, context: Option<&str>) -> Option<usize> {
    let ctx = context?;
    let at = ctx.find("PL/pgSQL function")?;
    let rest = &ctx[at..];
    let n: usize = rest
        .split(" line ")
        .nth(1)?
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    let dollar = st.sql.find('$')?;
    let body_line = st.line + st.sql[..dollar].matches('\n').count();
    Some(body_line + n - 1)
}
