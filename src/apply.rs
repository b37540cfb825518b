//! Applying one migration: its SQL and its tracking row in one transaction, the
//! `-- sentry:no-transaction` path, precise failure reports (file:line:column, SQLSTATE,
//! message, detail, hint, the offending line), and stamp recovery (SPEC §7).

use std::ops::Deref;
use std::time::{Duration, Instant};

use log::{debug, warn};
use postgres::error::ErrorPosition;
use postgres::types::{ToSql, Type};
use postgres::{Client, GenericClient};

use crate::db::Traced;
use crate::error::{Error, Result, SetProblem, StatementFailure};
use crate::migrations::Migration;
use crate::sql_split::{self, Statement};
use crate::tracking::{self, NewRow, Table};

/// SQLSTATEs meaning "this object already exists": the only errors stamp recovery skips.
pub const ALREADY_EXISTS: [&str; 5] = ["42P07", "42701", "42710", "42P06", "42723"];

/// A migration with its SQL read from disk (see [`Migration::source`]); dereferences to the
/// migration, so `m.version` and `m.sql` read alike below.
struct Loaded<'a> {
    migration: &'a Migration,
    sql: String,
    down_sql: Option<String>,
}

impl<'a> Loaded<'a> {
    fn read(migration: &'a Migration) -> Result<Loaded<'a>> {
        let source = migration.source()?;
        Ok(Loaded {
            migration,
            sql: source.sql,
            down_sql: source.down_sql,
        })
    }
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
) -> Result<Outcome> {
    let m = &Loaded::read(m)?;
    if m.no_transaction {
        return apply_without_transaction(client, table, m, s);
    }
    let started = Instant::now();
    let mut tx = client
        .transaction()
        .map_err(|e| Error::db(format!("starting the transaction of {}", m.version), &e))?;
    set_timeouts(&mut tx, s, Some(durable))?;
    debug!("SQL of {} ({}):\n{}", m.version, m.path.display(), m.sql);
    let outcome = tx.batch_execute(&m.sql);
    match outcome {
        Ok(()) => {
            // The tracking row is written in the migration's own transaction: both commit or
            // neither does, so a crash or kill at any point can never leave a schema change
            // without its row, or a row without its change.
            let outcome = record(&mut tx, table, m, started.elapsed(), &[])?;
            tx.commit()
                .map_err(|e| Error::db(format!("committing {}", m.version), &e))?;
            Ok(outcome)
        }
        Err(err) => {
            // Dropping the transaction would roll back too; say it explicitly.
            let _ = tx.rollback();
            let db = statement_error(&err, m, "applying")?;
            if s.stamp_recovery && ALREADY_EXISTS.contains(&db.code().code()) {
                warn!(
                    "{}: SQLSTATE {} {} — its objects exist already (created outside the \
                     tracker?). Attempting STAMP RECOVERY: replaying it statement by statement, \
                     skipping only 'already exists' errors",
                    m.version,
                    db.code().code(),
                    db.message()
                );
                return recover(client, table, m, s, durable, started);
            }
            let located = if err_position(&err).is_none() {
                locate(client, m, s)
            } else {
                None
            };
            Err(Error::MigrationFailed(Box::new(describe(
                m,
                &err,
                located.as_ref(),
            ))))
        }
    }
}

/// Sets `lock_timeout` and `statement_timeout` (and `synchronous_commit` when given) for the
/// current transaction only (`set_config(…, true)` is `SET LOCAL`), values bound as parameters.
fn set_timeouts(
    client: &mut impl GenericClient,
    s: &Settings,
    durable: Option<bool>,
) -> Result<()> {
    let lock = format!("{}ms", s.lock_timeout.as_millis());
    let stmt = format!("{}ms", s.statement_timeout.as_millis());
    let local = durable.is_some();
    let sync = if durable.unwrap_or(true) { "on" } else { "off" };
    client
        .traced(
            "SELECT set_config('lock_timeout', $1, $4), set_config('statement_timeout', $2, $4), \
             CASE WHEN $4 THEN set_config('synchronous_commit', $3, true) END",
            &[
                (&lock as &(dyn ToSql + Sync), Type::TEXT),
                (&stmt, Type::TEXT),
                (&sync, Type::TEXT),
                (&local, Type::BOOL),
            ],
        )
        .map_err(|e| Error::db("setting lock_timeout and statement_timeout", &e))?;
    Ok(())
}

/// A `-- sentry:no-transaction` migration: one statement at a time in autocommit (for
/// `CREATE INDEX CONCURRENTLY`), recorded after its last statement succeeds.
fn apply_without_transaction(
    client: &mut Client,
    table: &Table,
    m: &Loaded<'_>,
    s: &Settings,
) -> Result<Outcome> {
    let started = Instant::now();
    let statements = split(m)?;
    // No transaction to scope SET LOCAL to: set for the session, reset afterwards.
    set_timeouts(client, s, None)?;
    let mut skipped = Vec::new();
    for st in &statements {
        debug!("SQL of {} line {}:\n{}", m.version, st.line, st.sql);
        if let Err(err) = client.batch_execute(st.sql) {
            let code = statement_error(&err, m, "applying")?.code().code();
            match code {
                c if s.stamp_recovery && ALREADY_EXISTS.contains(&c) => {
                    let entry = skip_entry(m, st, &err);
                    warn!("stamp recovery skipped {entry}");
                    skipped.push(entry);
                }
                _ => {
                    let mut f = describe(m, &err, Some(st));
                    f.recovery = Some(
                        "this is a no-transaction migration: the statements before this one \
                         stay applied; make them idempotent (IF NOT EXISTS) so that the next \
                         run can replay them"
                            .into(),
                    );
                    return Err(Error::MigrationFailed(Box::new(f)));
                }
            }
        }
    }
    client
        .batch_execute("RESET lock_timeout; RESET statement_timeout")
        .map_err(|e| Error::db("resetting timeouts", &e))?;
    record(client, table, m, started.elapsed(), &skipped)
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
        match tx.batch_execute(st.sql) {
            Ok(()) => tx
                .batch_execute("RELEASE SAVEPOINT sentry_statement")
                .map_err(|e| Error::db("releasing a savepoint", &e))?,
            Err(err) => match statement_error(&err, m, "recovering")?.code().code() {
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
                    let mut f = describe(m, &err, Some(st));
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

/// Inserts the migration's tracking row (stamped when recovery skipped statements).
fn record(
    client: &mut impl GenericClient,
    table: &Table,
    m: &Loaded<'_>,
    elapsed: Duration,
    skipped: &[String],
) -> Result<Outcome> {
    let note = recovery_note(skipped);
    tracking::insert(
        client,
        table,
        &NewRow {
            version: &m.version,
            execution_time_ms: millis(elapsed),
            checksum: &m.checksum,
            rollback_sql: m.down_sql.as_deref(),
            stamped: note.is_some(),
            note: note.as_deref(),
        },
    )?;
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
fn statement_error<'e>(
    err: &'e postgres::Error,
    m: &Migration,
    doing: &str,
) -> Result<&'e postgres::error::DbError> {
    match err.as_db_error() {
        Some(db) if !crate::error::connection_lost(err) => Ok(db),
        _ => Err(Error::db(format!("{doing} {}", m.version), err)),
    }
}

fn skip_entry(m: &Migration, st: &Statement<'_>, err: &postgres::Error) -> String {
    let (code, msg) = err
        .as_db_error()
        .map(|d| (d.code().code().to_string(), d.message().to_string()))
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

fn split<'a>(m: &'a Loaded<'_>) -> Result<Vec<Statement<'a>>> {
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

fn err_position(err: &postgres::Error) -> Option<&ErrorPosition> {
    err.as_db_error().and_then(|d| d.position())
}

/// When the server gave no position, finds the failing statement by replaying the migration
/// statement by statement in a transaction that is always rolled back. Only on the failure
/// path, and only for migrations of more than one statement.
fn locate<'m>(client: &mut Client, m: &'m Loaded<'_>, s: &Settings) -> Option<Statement<'m>> {
    let mut statements = sql_split::split(&m.sql).ok()?;
    if statements.len() <= 1 {
        return statements.pop();
    }
    debug!(
        "locating the failing statement of {} (replay, rolled back)",
        m.version
    );
    let mut tx = client.transaction().ok()?;
    set_timeouts(&mut tx, s, Some(false)).ok()?;
    let mut found = None;
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
fn describe(
    m: &Loaded<'_>,
    err: &postgres::Error,
    statement: Option<&Statement<'_>>,
) -> StatementFailure {
    let mut f = StatementFailure {
        version: m.version.clone(),
        file: m.path.clone(),
        ..Default::default()
    };
    let Some(db) = err.as_db_error() else {
        f.sqlstate = "?????".into();
        f.message = crate::redact::scrub(&err.to_string());
        return f;
    };
    f.sqlstate = db.code().code().to_string();
    f.message = db.message().to_string();
    f.detail = db.detail().map(str::to_string);
    f.hint = db.hint().map(str::to_string);
    f.context = db.where_().map(str::to_string);
    let (text, base) = match statement {
        Some(st) => (st.sql, st.offset),
        None => (m.sql.as_str(), 0),
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
            let (l, c) = sql_split::line_col(&m.sql, b);
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
        .map(str::to_string);
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

/// Offline lint of one migration (used by `check` and before applying): the SQL must split,
/// and a transactional migration must not manage transactions itself nor contain statements
/// PostgreSQL refuses inside a transaction block.
pub fn lint(m: &Migration) -> Vec<SetProblem> {
    let m = match Loaded::read(m) {
        Ok(loaded) => loaded,
        Err(Error::MigrationSet(problems)) => return problems,
        Err(e) => return vec![SetProblem::file(&m.path, e.to_string())],
    };
    let statements = match sql_split::split(&m.sql) {
        Ok(s) => s,
        Err(e) => {
            return vec![
                SetProblem::file(&m.path, format!("{} (column {})", e.message, e.column))
                    .at_line(e.line),
            ];
        }
    };
    let mut problems = Vec::new();
    if m.no_transaction {
        return problems;
    }
    for st in &statements {
        let words: Vec<String> = st
            .sql
            .split_whitespace()
            .take(4)
            .map(|w| w.trim_end_matches(';').to_ascii_uppercase())
            .collect();
        let w: Vec<&str> = words.iter().map(String::as_str).collect();
        let transaction_control = matches!(
            w.as_slice(),
            ["BEGIN", ..]
                | ["COMMIT", ..]
                | ["ROLLBACK", ..]
                | ["END", ..]
                | ["START", "TRANSACTION", ..]
                | ["ABORT", ..]
        ) && !matches!(w.as_slice(), ["BEGIN", "ATOMIC", ..]);
        if transaction_control {
            problems.push(
                SetProblem::file(&m.path, format!("{} manages the transaction itself", w[0]))
                    .at_line(st.line)
                    .with_hint(
                        "remove it: each migration already runs in its own transaction together \
                         with its tracking row",
                    ),
            );
            continue;
        }
        let needs_autocommit = matches!(
            w.as_slice(),
            ["CREATE", "INDEX", "CONCURRENTLY", ..]
                | ["CREATE", "UNIQUE", "INDEX", "CONCURRENTLY"]
                | ["DROP", "INDEX", "CONCURRENTLY", ..]
                | ["VACUUM", ..]
                | ["CREATE", "DATABASE", ..]
                | ["DROP", "DATABASE", ..]
                | ["ALTER", "SYSTEM", ..]
        ) || (w.first() == Some(&"REINDEX")
            && st.sql.to_ascii_uppercase().contains("CONCURRENTLY"));
        if needs_autocommit {
            problems.push(
                SetProblem::file(
                    &m.path,
                    format!("{} cannot run inside a transaction block", w.join(" ")),
                )
                .at_line(st.line)
                .with_hint(
                    "put it in its own migration whose first line is `-- sentry:no-transaction`",
                ),
            );
        }
    }
    problems
}
