//! `rollback --to VERSION` (SPEC §5.6): undoing applied migrations, newest first, with the
//! `rollback_sql` stored in the tracking table when each one was applied. It needs no migration
//! files: after the application is rolled back to an older image, the newer migrations' SQL
//! exists only in the database.
//!
//! This module owns what `--to` means ([`Target`]); which rows a rollback undoes and whether
//! every one of them can be undone, decided before anything changes ([`plan`], pure); the
//! comparison of the stored SQL with `.down.sql` files when there are any ([`compare_with_files`]);
//! the dry-run script ([`script`]); running each stored rollback with the deletion of its row
//! ([`execute`]); and what is reported. The failure report of a statement is apply's
//! ([`apply::failure`], [`apply::describe`]), so both read alike.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use log::{debug, info, warn};
use postgres::Client;
use serde_json::{Value, json};

use crate::apply::{self, Script, Settings};
use crate::error::{Aftermath, Error, Result, SetProblem};
use crate::migrations::{self, Migration};
use crate::plan::version_number;
use crate::tracking::{self, RollbackRow, Table};
use crate::{contents, sql_split};

/// What `--to VERSION` names. Everything newer than it is rolled back; it stays applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `--to 0` (or `000`…): every applied migration.
    Everything,
    /// A bare number (`--to 3`, `--to 0003`): every applied migration with a higher number.
    Number(u64),
    /// A full version (`--to 0003_conversion_owners`): it must be applied; everything after it.
    Version(String),
}

impl Target {
    /// Parses `--to`. A bare number is a number (0 meaning everything); anything else is a
    /// version, checked against the tracking table by [`plan`].
    pub fn parse(text: &str) -> Result<Target> {
        let t = text.trim();
        if t.is_empty() {
            return Err(Error::Usage(
                "rollback --to needs a version: an applied version (0003_conversion_owners), \
                 its number (3), or 0 to roll back every migration"
                    .into(),
            ));
        }
        if t.bytes().all(|b| b.is_ascii_digit()) {
            return match t.parse::<u64>() {
                Ok(0) => Ok(Target::Everything),
                Ok(n) => Ok(Target::Number(n)),
                Err(_) => Err(Error::Usage(format!(
                    "rollback --to {t}: the number is too large"
                ))),
            };
        }
        Ok(Target::Version(t.to_string()))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Everything => write!(f, "0"),
            Target::Number(n) => write!(f, "{n}"),
            Target::Version(v) => write!(f, "{}", crate::output::esc(v)),
        }
    }
}

/// How a stored rollback compares with the `.down.sql` on disk (files are optional).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileCheck {
    /// No migration file with this version (the usual case on an older build).
    NoFile,
    /// The migration file is there, without a `.down.sql`.
    NoDownFile,
    /// The `.down.sql` is the stored SQL.
    Same,
    /// The `.down.sql` differs from the stored SQL; `line` is the first line that differs.
    Differs { path: PathBuf, line: usize },
    /// The file could not be read (the reason); the stored SQL is used anyway.
    Unreadable(String),
}

impl FileCheck {
    /// The value of `file_down_sql` in the JSON report.
    fn label(&self) -> &'static str {
        match self {
            FileCheck::NoFile => "no migration file",
            FileCheck::NoDownFile => "no .down.sql",
            FileCheck::Same => "same",
            FileCheck::Differs { .. } => "differs",
            FileCheck::Unreadable(_) => "unreadable",
        }
    }
}

/// One migration to roll back, checked: its stored SQL can run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub version: String,
    /// The stored `rollback_sql`, exactly as stored.
    pub sql: String,
    /// The stored SQL starts with `-- sentry:no-transaction`: statement by statement.
    pub no_transaction: bool,
    /// What reports call the stored SQL: `<version>.down.sql (stored)`.
    pub origin: PathBuf,
    pub file: FileCheck,
}

impl Step {
    fn script(&self) -> Script<'_> {
        Script {
            version: &self.version,
            origin: &self.origin,
            sql: &self.sql,
        }
    }
}

/// The name failure reports give a stored rollback: it looks like the file it came from, and
/// says that it is not read from disk.
pub fn origin(version: &str) -> PathBuf {
    PathBuf::from(format!("{version}.down.sql (stored)"))
}

/// Ordering of the history, as `plan.rs` orders it: numeric prefix, then version. A row without
/// a numeric prefix was not written from a migration file; it sorts first.
fn key(version: &str) -> (Option<u64>, &str) {
    (version_number(version), version)
}

/// Decides what `rollback --to target` undoes, newest first, and refuses (exit 6) before
/// anything changes when one of them cannot be undone: no stored rollback SQL, recorded by
/// `stamp` or stamp recovery (its rollback may not match what exists), a version no migration
/// file could have (not written from a migration: unknown; this also keeps every version this
/// module prints a plain file stem),
/// or a stored rollback that cannot run (it does not split, manages its own transaction, or
/// has an unknown directive). An unknown target or a damaged table is exit 6 too.
pub fn plan(rows: &[RollbackRow], target: &Target, table: &Table) -> Result<Vec<Step>> {
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    let mut valid: Vec<(&str, bool, Option<&str>)> = Vec::with_capacity(rows.len());
    for r in rows {
        match (&r.version, r.stamped) {
            (Some(v), Some(stamped)) => {
                if !seen.insert(v.as_str()) {
                    problems.push(SetProblem::general(format!(
                        "{} has more than one row for version {v:?}",
                        table.qualified
                    )));
                }
                valid.push((v, stamped, r.rollback_sql.as_deref()));
            }
            (v, _) => problems.push(SetProblem::general(format!(
                "{} has a row with a NULL {} (version {})",
                table.qualified,
                if v.is_none() { "version" } else { "stamped" },
                v.as_deref()
                    .map_or("NULL".to_string(), |v| format!("{v:?}"))
            ))),
        }
    }
    if !problems.is_empty() {
        let last = problems.len() - 1;
        problems[last] = problems[last].clone().with_hint(
            "the tracking table is damaged: repair it by hand before rolling back (nothing was \
             changed)",
        );
        return Err(Error::MigrationSet(problems));
    }
    valid.sort_by(|a, b| key(a.0).cmp(&key(b.0)));
    let newer: Vec<&(&str, bool, Option<&str>)> = match target {
        Target::Everything => valid.iter().collect(),
        Target::Number(n) => valid
            .iter()
            .filter(|(v, ..)| version_number(v).is_some_and(|x| x > *n))
            .collect(),
        Target::Version(t) => {
            if !valid.iter().any(|(v, ..)| v == t) {
                let newest: Vec<&str> = valid.iter().rev().take(5).map(|(v, ..)| *v).collect();
                return Err(Error::set(
                    SetProblem::general(format!(
                        "rollback --to {t}: no applied migration has that version in {} ({})",
                        table.qualified,
                        if newest.is_empty() {
                            "nothing is applied".to_string()
                        } else {
                            format!("newest applied: {}", newest.join(", "))
                        }
                    ))
                    .with_hint(
                        "pass an applied version or its number, or 0 to roll back every \
                         migration; `migration-sentry status` lists them. Nothing was changed",
                    ),
                ));
            }
            valid.iter().filter(|(v, ..)| key(v) > key(t)).collect()
        }
    };
    let mut steps = Vec::with_capacity(newer.len());
    for &&(version, stamped, sql) in newer.iter().rev() {
        let origin = origin(version);
        if let Some(why) = migrations::version_problem(version) {
            problems.push(SetProblem::general(format!(
                "{version:?} is not the version of a migration file ({why}): it was not \
                 recorded by migration-sentry from a migration, so what it is is unknown"
            )).with_hint(format!(
                "look at the row (SELECT * FROM {} WHERE version = '…') and delete it by hand if \
                 it is not needed (nothing was changed)",
                table.qualified
            )));
            continue;
        }
        let Some(sql) = sql else {
            problems.push(
                SetProblem::general(format!(
                    "{version} has no stored rollback SQL (it had no {version}.down.sql when it \
                     was applied)"
                ))
                .with_hint(
                    "write its reverse by hand and run it in one transaction with the deletion \
                     of its row (docs/operations.md §5.6), or roll back to a version at or after it",
                ),
            );
            continue;
        };
        if stamped {
            problems.push(
                SetProblem::general(format!(
                    "{version} was stamped (recorded without running all of its SQL), so its \
                     stored rollback may not match what exists"
                ))
                .with_hint(format!(
                    "review its stored rollback (SELECT rollback_sql FROM {} WHERE version = \
                     '{version}') against the schema and run it by hand (docs/operations.md §5.6), \
                     or roll back to a version at or after it",
                    table.qualified
                )),
            );
            continue;
        }
        let mut directive_problems = Vec::new();
        let no_transaction = migrations::leading_directives(sql, &origin, &mut directive_problems);
        // The rules a migration file must follow; an empty rollback (only comments) is
        // allowed: it only deletes the row, which is what its author wrote.
        let empty = sql_split::split(sql).is_ok_and(|sts| sts.is_empty());
        let lint = if empty {
            Vec::new()
        } else {
            contents::check_sql(&origin, sql, no_transaction, table)
        };
        if !directive_problems.is_empty() || !lint.is_empty() {
            problems.extend(directive_problems.into_iter().chain(lint).map(|p| {
                p.with_hint(format!(
                    "the stored rollback of {version} cannot run as it is: review it, run a \
                     corrected version by hand (docs/operations.md §5.6) or correct rollback_sql \
                     in {}",
                    table.qualified
                ))
            }));
            continue;
        }
        steps.push(Step {
            version: version.to_string(),
            sql: sql.to_string(),
            no_transaction,
            origin,
            file: FileCheck::NoFile,
        });
    }
    if !problems.is_empty() {
        problems.push(
            SetProblem::general(format!(
                "rollback --to {target} refused before changing anything: every migration newer \
                 than {target} must be undoable"
            ))
            .with_hint("nothing was rolled back"),
        );
        return Err(Error::MigrationSet(problems));
    }
    Ok(steps)
}

/// The migration files, when there are any: the rollback does not need them, so a missing or
/// broken folder is only a note.
pub fn files_beside(dir: &Path) -> Vec<Migration> {
    if !dir.is_dir() {
        info!(
            "no migrations folder at {}: using the rollback SQL stored in the tracking table",
            dir.display()
        );
        return Vec::new();
    }
    match migrations::discover(dir) {
        Ok(files) => files,
        Err(e) => {
            warn!(
                "the migrations folder {} is ignored for this rollback (it is only used to \
                 compare .down.sql files with the stored rollbacks): {e}",
                dir.display()
            );
            Vec::new()
        }
    }
}

/// Compares each step's stored SQL with the `.down.sql` beside its migration file, if any.
/// The stored SQL is always the one used: it is what was stored with the SQL that was
/// applied. A difference is reported (a warning naming the first line that differs).
pub fn compare_with_files(steps: &mut [Step], files: &[Migration]) {
    let by_version: HashMap<&str, &Migration> =
        files.iter().map(|m| (m.version.as_str(), m)).collect();
    for step in steps {
        let Some(m) = by_version.get(step.version.as_str()) else {
            continue;
        };
        step.file = match m.source() {
            Err(e) => FileCheck::Unreadable(e.to_string()),
            Ok(src) => match (&m.down_path, src.down_sql) {
                (Some(path), Some(down)) if down == step.sql => {
                    debug!(
                        "{} is the stored rollback of {}",
                        path.display(),
                        step.version
                    );
                    FileCheck::Same
                }
                (Some(path), Some(down)) => FileCheck::Differs {
                    path: path.clone(),
                    line: first_difference(&down, &step.sql),
                },
                _ => FileCheck::NoDownFile,
            },
        };
        match &step.file {
            FileCheck::Differs { path, line } => warn!(
                "{} differs from the rollback stored when {} was applied (first difference on \
                 line {line}): the stored one is used, because it is the one that matched the \
                 SQL that was applied",
                path.display(),
                step.version
            ),
            FileCheck::Unreadable(why) => warn!(
                "cannot compare the files of {} with its stored rollback ({why}): the stored one \
                 is used",
                step.version
            ),
            FileCheck::NoDownFile => info!(
                "{} has no .down.sql on disk: using its stored rollback",
                step.version
            ),
            _ => {}
        }
    }
}

/// The 1-based number of the first line where `a` and `b` differ.
fn first_difference(a: &str, b: &str) -> usize {
    let mut la = a.lines();
    let mut lb = b.lines();
    let mut n = 1;
    loop {
        match (la.next(), lb.next()) {
            (Some(x), Some(y)) if x == y => n += 1,
            // Includes (None, None): only a trailing newline differs.
            _ => return n,
        }
    }
}

/// A SQL string literal (the version in the dry-run script's `DELETE`).
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A comment line that a version cannot break out of (a newline in a hand-made row).
fn comment(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The SQL `execute` sends, in order, as one psql script (`--dry-run`): each transactional
/// rollback between `BEGIN` and `COMMIT` with the deletion of its row, the timeouts as
/// `SET LOCAL`; a no-transaction one as it is, then the deletion of its row.
pub fn script(steps: &[Step], table: &Table, s: &Settings, target: &Target) -> String {
    let mut out = format!(
        "-- migration-sentry rollback --to {}: {} migration(s), newest first, from the \
         rollback_sql stored in {}\n",
        comment(&target.to_string()),
        steps.len(),
        table.qualified
    );
    let lock = format!("'{}ms'", s.lock_timeout.as_millis());
    let stmt = format!("'{}ms'", s.statement_timeout.as_millis());
    let delete = |v: &str| {
        format!(
            "DELETE FROM {} WHERE version = {};\n",
            table.sql,
            literal(v)
        )
    };
    for step in steps {
        out.push('\n');
        if step.no_transaction {
            out.push_str(&format!(
                "-- {} (stored rollback, sentry:no-transaction: statement by statement, then the \
                 deletion of its row)\n",
                comment(&step.version)
            ));
            out.push_str(&format!(
                "SET lock_timeout = {lock};\nSET statement_timeout = {stmt};\n"
            ));
            push_sql(&mut out, &step.sql);
            out.push_str("RESET lock_timeout;\nRESET statement_timeout;\n");
            out.push_str(&delete(&step.version));
        } else {
            out.push_str(&format!(
                "-- {} (stored rollback, one transaction with the deletion of its row)\n",
                comment(&step.version)
            ));
            out.push_str(&format!(
                "BEGIN;\nSET LOCAL lock_timeout = {lock};\nSET LOCAL statement_timeout = {stmt};\n"
            ));
            out.push_str(&delete(&step.version));
            push_sql(&mut out, &step.sql);
            out.push_str("COMMIT;\n");
        }
    }
    out
}

/// Appends stored SQL so that what follows it is a statement of its own: a newline after a
/// trailing comment, and the `;` the last statement may lack (the server does not need it).
fn push_sql(out: &mut String, sql: &str) {
    out.push_str(sql);
    if !sql.ends_with('\n') {
        out.push('\n');
    }
    let unterminated = sql_split::split(sql)
        .ok()
        .and_then(|sts| sts.last().map(|l| l.offset + l.sql.len()))
        .is_some_and(|end| !sql[end..].trim_start().starts_with(';'));
    if unterminated {
        out.push_str(";\n");
    }
}

/// What a rollback did, for the JSON report and the text result.
#[derive(Debug, Default)]
pub struct Report {
    /// What was planned, newest first (with the SQL on a dry run).
    pub planned: Vec<Value>,
    /// Rolled back and committed, in order.
    pub rolled_back: Vec<String>,
    /// The migration whose rollback failed.
    pub failed: Option<String>,
    /// `--dry-run`: the SQL that would run ([`script`]).
    pub script: Option<String>,
}

impl Report {
    /// Records the plan.
    pub fn plan(&mut self, steps: &[Step], with_sql: bool) {
        self.planned = steps
            .iter()
            .map(|s| {
                let mut v = json!({
                    "version": s.version,
                    "transaction": !s.no_transaction,
                    "file_down_sql": s.file.label(),
                });
                if with_sql {
                    v["sql"] = Value::String(s.sql.clone());
                }
                v
            })
            .collect();
    }
}

/// Runs the steps, newest first. Each transactional rollback commits together with the
/// deletion of its row; a no-transaction one runs statement by statement and its row is
/// deleted after its last statement. Stops at the first failure, with a report that says
/// which rollbacks were committed, where it stopped, and what was not attempted.
pub fn execute(
    client: &mut Client,
    table: &Table,
    steps: &[Step],
    s: &Settings,
    target: &Target,
    report: &mut Report,
) -> Result<()> {
    for (i, step) in steps.iter().enumerate() {
        info!("← rolling back {}", step.version);
        if sql_split::split(&step.sql).is_ok_and(|sts| sts.is_empty()) {
            warn!(
                "the stored rollback of {} has no statements (only comments): only its tracking \
                 row is deleted",
                step.version
            );
        }
        let result = crate::interrupt::check(&format!("about to roll back {}", step.version))
            .and_then(|()| {
                if step.no_transaction {
                    undo_without_transaction(client, table, step, s)
                } else {
                    // A lock timeout rolled the whole attempt back, row deletion included:
                    // retried.
                    apply::with_lock_retries(client, s, &step.version, |client| {
                        undo_in_transaction(client, table, step, s)
                    })
                }
            });
        match result {
            Ok(Some(elapsed)) => {
                info!(
                    "✓ rolled back {} ({} ms)",
                    step.version,
                    elapsed.as_millis()
                );
                report.rolled_back.push(step.version.clone());
            }
            Ok(None) => warn!(
                "{} was no longer recorded when its turn came (removed by someone else?): \
                 nothing of its rollback was run",
                step.version
            ),
            Err(e) => {
                report.failed = Some(step.version.clone());
                let done: Vec<&str> = report.rolled_back.iter().map(String::as_str).collect();
                let rest: Vec<&str> = steps[i + 1..].iter().map(|s| s.version.as_str()).collect();
                return Err(match e {
                    Error::MigrationFailed(mut f) if f.rolling_back => {
                        if let Aftermath::Stopped(stopped) = &mut f.aftermath {
                            stopped.push('\n');
                            stopped.push_str(&progress(&step.version, &done, &rest, target, table));
                        }
                        Error::MigrationFailed(f)
                    }
                    // A signal or --timeout: what this migration's rollback left (said by the
                    // undo functions; before it started, nothing), then the same account of
                    // the others as a failure gets.
                    Error::Interrupted {
                        cause,
                        during,
                        aftermath,
                    } => {
                        let v = &step.version;
                        let state = aftermath.unwrap_or_else(|| {
                            format!(
                                "nothing of {v}'s rollback had started: {v} is still applied and \
                                 recorded."
                            )
                        });
                        Error::Interrupted {
                            cause,
                            during,
                            aftermath: Some(format!(
                                "{state}\n{}\nThe advisory lock was released. Run `rollback --to \
                                 {target}` again to continue with {v}.",
                                undone_and_left(&done, &rest)
                            )),
                        }
                    }
                    other => other,
                });
            }
        }
    }
    Ok(())
}

/// Returns the elapsed time, or `None` when the row was gone already (nothing was run). A
/// failed statement is a [`Error::MigrationFailed`] marked `rolling_back`, whose `outcome`
/// says that nothing of this rollback stayed.
fn undo_in_transaction(
    client: &mut Client,
    table: &Table,
    step: &Step,
    s: &Settings,
) -> Result<Option<Duration>> {
    let v = &step.version;
    // What an interruption (signal, --timeout) before the commit leaves: nothing.
    let untouched = || {
        format!(
            "its transaction was rolled back on the server (the running statement cancelled): \
             {v}'s stored rollback runs in one transaction with the deletion of its tracking \
             row, so nothing of it was committed; {v} is still applied and its tracking row \
             kept."
        )
    };
    let started = Instant::now();
    let mut tx = client
        .transaction()
        .map_err(|e| Error::db(format!("starting the rollback transaction of {v}"), &e))
        .map_err(|e| e.leaving(untouched))?;
    apply::set_timeouts(&mut tx, s, Some(true)).map_err(|e| e.leaving(untouched))?;
    // The row is deleted in the rollback's own transaction: both commit or neither does, so a
    // crash, a kill or a failed statement can never leave the schema rolled back while the
    // history says applied (the next `run` would skip it), or the row gone while the schema
    // still has the migration (the next `run` would fail on existing objects). Deleting first
    // also takes the row's lock and tells whether it is still there, so that two sentries can
    // never both run it, whatever sits between them and the server.
    if tracking::delete(&mut tx, table, v).map_err(|e| e.leaving(untouched))? == 0 {
        let _ = tx.rollback();
        return Ok(None);
    }
    debug!(
        "SQL of {} ({}):\n{}",
        step.version,
        step.origin.display(),
        step.sql
    );
    let outcome = {
        let _long =
            crate::interrupt::long_under_lock_timeout(&format!("rolling back {v}"), s.lock_timeout)
                .map_err(|e| e.leaving(untouched))?;
        tx.batch_execute(&step.sql)
    };
    if let Err(err) = outcome {
        // Dropping the transaction would roll back too; say it explicitly.
        let _ = tx.rollback();
        // A cancelled statement (signal, --timeout) or a lost connection is not the stored
        // SQL's fault: said as what was being done, not as apply's "running".
        apply::statement_error(&err, v, "rolling back").map_err(|e| e.leaving(untouched))?;
        return Err(match apply::failure(client, &step.script(), s, &err) {
            Error::MigrationFailed(mut f) => {
                let v = &step.version;
                f.rolling_back = true;
                f.aftermath = Aftermath::Stopped(format!(
                    "Stopped at {v}: its rollback ran in one transaction with the deletion of its \
                     row, and that transaction was rolled back: {v} is still applied and still \
                     recorded."
                ));
                Error::MigrationFailed(f)
            }
            other => other,
        });
    }
    tx.commit()
        .map_err(|e| Error::db(format!("committing the rollback of {v}"), &e))
        .map_err(|e| {
            e.leaving(|| {
                format!(
                    "the interruption came while its transaction committed, so whether {v}'s \
                     rollback (and the deletion of its tracking row) committed is not known \
                     here: `migration-sentry status` shows whether {v} is still recorded."
                )
            })
        })?;
    Ok(Some(started.elapsed()))
}

/// A stored rollback marked `-- sentry:no-transaction` (say, `DROP INDEX CONCURRENTLY`): one
/// statement at a time in autocommit; the row is deleted after the last one succeeds.
fn undo_without_transaction(
    client: &mut Client,
    table: &Table,
    step: &Step,
    s: &Settings,
) -> Result<Option<Duration>> {
    let started = Instant::now();
    let script = step.script();
    let v = &step.version;
    // `plan` checked that it splits.
    let statements = sql_split::split(&step.sql).map_err(|e| {
        Error::Internal(format!(
            "{}:{}: {}",
            step.origin.display(),
            e.line,
            e.message
        ))
    })?;
    let n = statements.len();
    // The statements that ran (`line N: SQL`): they stay executed whatever happens next.
    let mut ran: Vec<String> = Vec::with_capacity(n);
    // No transaction to scope SET LOCAL to: set for the session, reset afterwards.
    apply::set_timeouts(client, s, None).map_err(|e| {
        e.leaving(|| interrupted_without_transaction(v, &ran, n, None, "had not started"))
    })?;
    for (k, st) in statements.iter().enumerate() {
        debug!("SQL of {} line {}:\n{}", v, st.line, st.sql);
        let run = |client: &mut Client| -> Result<std::result::Result<(), postgres::Error>> {
            let _long = crate::interrupt::long(&format!(
                "rolling back {} (line {}, no transaction)",
                v, st.line
            ))?;
            Ok(client.batch_execute(st.sql))
        };
        let at = Some((k + 1, st.line));
        // Until one of its statements has committed, a lock timeout left nothing behind and
        // is retried like a transactional rollback's; past that point, never.
        let attempt = if k == 0 {
            apply::with_lock_retries(client, s, v, |client| match run(client)? {
                Err(err) if apply::is_lock_timeout(&err) => {
                    let mut f = apply::describe(&script, &err, Some(st));
                    f.rolling_back = true;
                    f.aftermath = Aftermath::Stopped(statement_stop(v, 1, n, st.line));
                    Err(Error::MigrationFailed(Box::new(f)))
                }
                other => Ok(other),
            })
        } else {
            run(client)
        };
        // An interruption here stopped it before it was sent (between statements, or while
        // waiting to retry the first one).
        let result = attempt.map_err(|e| {
            e.leaving(|| interrupted_without_transaction(v, &ran, n, at, "had not started"))
        })?;
        let Err(err) = result else {
            ran.push(format!("line {}: {}", st.line, st.sql));
            continue;
        };
        match apply::statement_error(&err, v, "rolling back") {
            Ok(_) => {}
            // "Every migration is atomic" is not true of this rollback: say what ran.
            Err(Error::Unreachable { target, reason, .. }) => {
                return Err(Error::Unreachable {
                    target,
                    reason,
                    hint: format!(
                        "{v}'s stored rollback is marked sentry:no-transaction: of its {n} \
                         statements, {} had run and stay executed, and statement {} (line \
                         {}) may or may not have; {v} is still recorded as applied. Run \
                         the same rollback again once the database is reachable: it replays \
                         all of it (IF EXISTS makes that safe)",
                        k,
                        k + 1,
                        st.line,
                    ),
                });
            }
            Err(e) => {
                return Err(e.leaving(|| {
                    interrupted_without_transaction(v, &ran, n, at, &apply::interrupted_fate(&err))
                }));
            }
        }
        let mut f = apply::describe(&script, &err, Some(st));
        f.rolling_back = true;
        f.aftermath = Aftermath::Stopped(statement_stop(v, k + 1, n, st.line));
        return Err(Error::MigrationFailed(Box::new(f)));
    }
    // Every statement ran: an interruption from here on leaves them executed and the row
    // (probably) still there.
    let all_ran = |e: Error| {
        e.leaving(|| {
            format!(
                "every statement of {v}'s stored rollback ran and stays executed (it is marked \
                 sentry:no-transaction, so each committed on its own), but the deletion of its \
                 tracking row was interrupted: `migration-sentry status` shows whether {v} is \
                 still recorded; if it is, the next rollback replays all of its stored rollback \
                 (IF EXISTS makes that safe)."
            )
        })
    };
    client
        .batch_execute("RESET lock_timeout; RESET statement_timeout")
        .map_err(|e| all_ran(Error::db("resetting timeouts", &e)))?;
    if tracking::delete(client, table, v).map_err(all_ran)? == 0 {
        warn!("{v}: its tracking row was gone already when its rollback finished");
    }
    Ok(Some(started.elapsed()))
}

/// What a signal or `--timeout` left of a no-transaction rollback of `v` (`n` statements):
/// those in `ran` stay executed; statement `at` (number, line), if any, is what it did
/// (`fate`); the rest did not run; the row is kept (SPEC §5.3, as apply's report says it).
fn interrupted_without_transaction(
    v: &str,
    ran: &[String],
    n: usize,
    at: Option<(usize, usize)>,
    fate: &str,
) -> String {
    let mut text = format!(
        "{v}'s stored rollback is marked sentry:no-transaction, so it is not atomic: its \
         statements commit one by one. "
    );
    match at {
        None => text.push_str("The interruption came before its first statement."),
        Some((k, line)) => {
            text.push_str(&format!("Statement {k} of {n} (line {line}) {fate}"));
            if k + 1 == n {
                text.push_str(&format!("; statement {n} did not run."));
            } else if k < n {
                text.push_str(&format!("; statements {} to {n} did not run.", k + 1));
            } else {
                text.push('.');
            }
        }
    }
    if ran.is_empty() {
        text.push_str(" None of its statements had run: nothing of it stays executed.");
    } else {
        text.push_str(&format!(
            "\nThese {} of its {n} statements ran and stay executed:",
            ran.len()
        ));
        for r in ran {
            text.push_str(&format!("\n  {}", r.replace('\n', "\n    ")));
        }
    }
    text.push_str(&format!(
        "\n{v} is still recorded as applied (its tracking row kept): the next rollback replays \
         all of its stored rollback, so its statements must be idempotent (IF EXISTS)."
    ));
    text
}

/// Where a no-transaction rollback stopped: statement `k` of `n` (1-based), at `line`.
fn statement_stop(v: &str, k: usize, n: usize, line: usize) -> String {
    let before = match k {
        1 => "no statement of it had run".to_string(),
        2 => "statement 1 ran and stays executed".to_string(),
        _ => format!("statements 1 to {} ran and stay executed", k - 1),
    };
    format!(
        "Stopped at {v}, statement {k} of {n} (line {line}): its stored rollback is marked \
         sentry:no-transaction, so {before}; {v} is still recorded as applied. The next \
         rollback replays all of it: its statements must be idempotent (IF EXISTS)."
    )
}

/// What was committed before `v` and what was not attempted (for failures and interruptions).
fn undone_and_left(done: &[&str], rest: &[&str]) -> String {
    let list = |l: &[&str]| {
        if l.is_empty() {
            "none".to_string()
        } else {
            l.join(", ")
        }
    };
    format!(
        "Rolled back before it (committed, they stay rolled back): {}.\n\
         Not attempted (still applied): {}.",
        list(done),
        list(rest)
    )
}

/// The end of a failure report: what was committed before `v`, what was not attempted, and
/// what a new run does.
fn progress(v: &str, done: &[&str], rest: &[&str], target: &Target, table: &Table) -> String {
    format!(
        "{}\n\
         Fix the cause (the SQL that ran is SELECT rollback_sql FROM {} WHERE version = {}), \
         then run `rollback --to {target}` again: it continues with {v}.",
        undone_and_left(done, rest),
        table.qualified,
        literal(v)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(version: &str, stamped: bool, sql: Option<&str>) -> RollbackRow {
        RollbackRow {
            version: Some(version.into()),
            stamped: Some(stamped),
            rollback_sql: sql.map(str::to_string),
        }
    }

    fn table() -> Table {
        Table::parse("schema_migrations").unwrap()
    }

    fn versions(steps: &[Step]) -> Vec<&str> {
        steps.iter().map(|s| s.version.as_str()).collect()
    }

    fn history() -> Vec<RollbackRow> {
        // Unordered on purpose, with a wider number than the others.
        vec![
            row("0010_j", false, Some("DROP TABLE j;")),
            row("0002_b", false, Some("DROP TABLE b;")),
            row("0001_a", false, Some("DROP TABLE a;")),
            row("0003_c", false, Some("DROP TABLE c;")),
        ]
    }

    #[test]
    fn targets() {
        assert_eq!(Target::parse("0").unwrap(), Target::Everything);
        assert_eq!(Target::parse("0000").unwrap(), Target::Everything);
        assert_eq!(Target::parse("3").unwrap(), Target::Number(3));
        assert_eq!(Target::parse("0003").unwrap(), Target::Number(3));
        assert_eq!(
            Target::parse("0003_c").unwrap(),
            Target::Version("0003_c".into())
        );
        assert_eq!(Target::parse(" 2 ").unwrap(), Target::Number(2));
        assert_eq!(Target::parse("").unwrap_err().kind().code(), 2);
        assert_eq!(Target::parse("  ").unwrap_err().kind().code(), 2);
        assert_eq!(
            Target::parse("99999999999999999999999")
                .unwrap_err()
                .kind()
                .code(),
            2
        );
    }

    #[test]
    fn newest_first_and_the_target_stays() {
        let rows = history();
        let t = table();
        let by_version = plan(&rows, &Target::Version("0002_b".into()), &t).unwrap();
        assert_eq!(versions(&by_version), ["0010_j", "0003_c"]);
        let by_number = plan(&rows, &Target::Number(2), &t).unwrap();
        assert_eq!(by_version, by_number);
        let all = plan(&rows, &Target::Everything, &t).unwrap();
        assert_eq!(versions(&all), ["0010_j", "0003_c", "0002_b", "0001_a"]);
        assert!(plan(&rows, &Target::Number(10), &t).unwrap().is_empty());
        // A number nothing has: everything above it.
        assert_eq!(
            versions(&plan(&rows, &Target::Number(5), &t).unwrap()),
            ["0010_j"]
        );
    }

    #[test]
    fn an_unknown_target_version_is_refused() {
        let e = plan(&history(), &Target::Version("0002_x".into()), &table()).unwrap_err();
        assert_eq!(e.kind().code(), 6);
        let text = e.to_string();
        assert!(
            text.contains("no applied migration has that version"),
            "{text}"
        );
        assert!(text.contains("0010_j, 0003_c, 0002_b, 0001_a"), "{text}");
    }

    #[test]
    fn refusals_name_every_migration_that_cannot_be_undone() {
        let mut rows = history();
        rows.push(row("0004_d", true, Some("DROP TABLE d;")));
        rows.push(row("0005_e", false, None));
        rows.push(row("0006_f", false, Some("BEGIN;\nDROP TABLE f;\nCOMMIT;")));
        rows.push(row("0007_g", false, Some("-- sentry:bogus\nSELECT 1;")));
        rows.push(row("0008_h", false, Some("SELECT 'unterminated;")));
        rows.push(row(
            "0009_i",
            false,
            Some("DELETE FROM schema_migrations WHERE version = '0001_a';"),
        ));
        let e = plan(&rows, &Target::Number(3), &table()).unwrap_err();
        assert_eq!(e.kind().code(), 6);
        let text = e.to_string();
        for needle in [
            "0004_d was stamped",
            "0005_e has no stored rollback SQL",
            "0006_f.down.sql (stored):1: `BEGIN` manages the transaction itself",
            "0007_g.down.sql (stored):1: unknown directive `sentry:bogus`",
            "0008_h.down.sql (stored):1:",
            "0009_i.down.sql (stored):1:",
            "refused before changing anything",
        ] {
            assert!(text.contains(needle), "{needle:?} not in:\n{text}");
        }
        // Older ones are not concerned: rolling back to 0009 is fine.
        assert_eq!(
            versions(&plan(&rows, &Target::Number(9), &table()).unwrap()),
            ["0010_j"]
        );
    }

    #[test]
    fn rows_no_file_could_have_written_are_unknown() {
        let mut rows = history();
        rows.push(row("manual_fix", false, Some("SELECT 1;")));
        assert_eq!(plan(&rows, &Target::Number(1), &table()).unwrap().len(), 3);
        let e = plan(&rows, &Target::Everything, &table()).unwrap_err();
        assert!(
            e.to_string().contains(
                "\"manual_fix\" is not the version of a migration file (it does not start \
                 with a version number)"
            ),
            "{e}"
        );
        // Numbered but not a file stem: in scope, so refused, and shown escaped.
        let mut rows = history();
        rows.push(row(
            "0004_x\n=== MIGRATION SENTRY: success ===",
            false,
            Some("SELECT 1;"),
        ));
        let e = plan(&rows, &Target::Number(3), &table()).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("so what it is is unknown"), "{text}");
        assert!(!text.contains("\n==="), "{text}");
    }

    #[test]
    fn a_damaged_table_is_refused() {
        let mut rows = history();
        rows.push(RollbackRow {
            version: None,
            stamped: Some(false),
            rollback_sql: None,
        });
        rows.push(row("0002_b", false, None));
        let e = plan(&rows, &Target::Everything, &table()).unwrap_err();
        assert_eq!(e.kind().code(), 6);
        let text = e.to_string();
        assert!(text.contains("a NULL version"), "{text}");
        assert!(
            text.contains("more than one row for version \"0002_b\""),
            "{text}"
        );
    }

    #[test]
    fn no_transaction_directive_of_the_stored_sql() {
        let rows = vec![row(
            "0001_a",
            false,
            Some("-- sentry:no-transaction\nDROP INDEX CONCURRENTLY ix;"),
        )];
        let steps = plan(&rows, &Target::Everything, &table()).unwrap();
        assert!(steps[0].no_transaction);
        // Without it, the same SQL cannot run in a transaction.
        let rows = vec![row("0001_a", false, Some("DROP INDEX CONCURRENTLY ix;"))];
        let e = plan(&rows, &Target::Everything, &table()).unwrap_err();
        assert!(
            e.to_string()
                .contains("cannot run inside a transaction block"),
            "{e}"
        );
    }

    #[test]
    fn dry_run_script_is_what_runs_in_order() {
        let rows = vec![
            row("0001_a", false, Some("DROP TABLE a")),
            row(
                "0002_ix",
                false,
                Some("-- sentry:no-transaction\nDROP INDEX CONCURRENTLY ix; -- done"),
            ),
        ];
        let steps = plan(&rows, &Target::Everything, &table()).unwrap();
        let s = Settings {
            lock_timeout: Duration::from_secs(10),
            statement_timeout: Duration::ZERO,
            stamp_recovery: true,
            lock_key: 1,
            lock_retries: 3,
        };
        let text = script(&steps, &table(), &s, &Target::Everything);
        let expected = "\
-- migration-sentry rollback --to 0: 2 migration(s), newest first, from the rollback_sql stored in schema_migrations

-- 0002_ix (stored rollback, sentry:no-transaction: statement by statement, then the deletion of its row)
SET lock_timeout = '10000ms';
SET statement_timeout = '0ms';
-- sentry:no-transaction
DROP INDEX CONCURRENTLY ix; -- done
RESET lock_timeout;
RESET statement_timeout;
DELETE FROM \"schema_migrations\" WHERE version = '0002_ix';

-- 0001_a (stored rollback, one transaction with the deletion of its row)
BEGIN;
SET LOCAL lock_timeout = '10000ms';
SET LOCAL statement_timeout = '0ms';
DELETE FROM \"schema_migrations\" WHERE version = '0001_a';
DROP TABLE a
;
COMMIT;
";
        assert_eq!(text, expected);
    }

    #[test]
    fn literals_and_comments_cannot_be_escaped() {
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(comment("a\nb\r"), "a b ");
    }

    #[test]
    fn first_difference_is_a_line_number() {
        assert_eq!(first_difference("a\nb\nc", "a\nb\nc"), 4);
        assert_eq!(first_difference("a\nb\nc", "a\nx\nc"), 2);
        assert_eq!(first_difference("a", "a\nb"), 2);
    }

    #[test]
    fn an_interrupted_no_transaction_rollback_says_what_ran() {
        let ran = vec!["line 2: DROP INDEX CONCURRENTLY IF EXISTS ix".to_string()];
        let text = interrupted_without_transaction("0002_ix", &ran, 2, Some((2, 3)), "was x");
        assert!(
            text.contains("Statement 2 of 2 (line 3) was x.\nThese 1 of its 2 statements ran")
                && text.contains("\n  line 2: DROP INDEX CONCURRENTLY IF EXISTS ix\n"),
            "{text}"
        );
        let text = interrupted_without_transaction("0002_ix", &[], 4, Some((1, 2)), "was x");
        assert!(
            text.contains("Statement 1 of 4 (line 2) was x; statements 2 to 4 did not run. None")
                && text.contains("nothing of it stays executed"),
            "{text}"
        );
        let text = interrupted_without_transaction("0002_ix", &[], 4, None, "");
        assert!(
            text.contains("The interruption came before its first statement. None"),
            "{text}"
        );
        assert!(
            text.contains("0002_ix is still recorded as applied"),
            "{text}"
        );
    }

    #[test]
    fn the_report_says_where_it_stopped() {
        let text = progress(
            "0003_c",
            &["0010_j"],
            &["0002_b", "0001_a"],
            &Target::Everything,
            &table(),
        );
        assert_eq!(
            text,
            "Rolled back before it (committed, they stay rolled back): 0010_j.\n\
             Not attempted (still applied): 0002_b, 0001_a.\n\
             Fix the cause (the SQL that ran is SELECT rollback_sql FROM schema_migrations \
             WHERE version = '0003_c'), then run `rollback --to 0` again: it continues with \
             0003_c."
        );
        let text = progress("0010_j", &[], &[], &Target::Number(1), &table());
        assert!(
            text.contains("before it (committed, they stay rolled back): none.")
                && text.contains("Not attempted (still applied): none.")
                && text.contains("`rollback --to 1` again"),
            "{text}"
        );
        for (k, ran) in [
            (1, "no statement of it had run"),
            (2, "statement 1 ran and stays executed"),
            (3, "statements 1 to 2 ran and stay executed"),
        ] {
            let text = statement_stop("0010_j", k, 4, 7);
            assert!(
                text.starts_with(&format!("Stopped at 0010_j, statement {k} of 4 (line 7): "))
                    && text.contains(ran),
                "{text}"
            );
        }
    }
}
