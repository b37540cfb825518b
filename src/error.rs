//! The one error type of the sentry, and the exit codes of SPEC §3.
//!
//! Every failure the core can produce is a variant of [`Error`]; each variant knows its exit
//! code ([`Error::kind`]) and carries the context an on-call engineer needs (file, line, host,
//! SQLSTATE). No variant ever holds a password: targets are stored already redacted, and
//! driver error texts are classified or scrubbed before they get here.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::output::{esc, shorten};

/// The longest single problem printed: a message that echoes a huge input (a 10 MB line with
/// no newline) is cut here, with a count, if its author did not cut the echo already.
const PROBLEM_MAX_CHARS: usize = 4000;

/// A problem's message on one line, and of a readable length.
fn one_line(message: &str) -> String {
    esc(&shorten(message, PROBLEM_MAX_CHARS)).into_owned()
}

/// The documented exit codes (SPEC §3). `main` is the only place one becomes a process status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    Success = 0,
    Internal = 1,
    Usage = 2,
    Env = 3,
    Unreachable = 4,
    Lock = 5,
    MigrationSet = 6,
    MigrationFailed = 7,
    Schema = 8,
    Pending = 9,
    Interrupted = 10,
}

impl ExitKind {
    /// Every exit code, in order, for `--help` and the docs.
    pub const ALL: [ExitKind; 11] = [
        ExitKind::Success,
        ExitKind::Internal,
        ExitKind::Usage,
        ExitKind::Env,
        ExitKind::Unreachable,
        ExitKind::Lock,
        ExitKind::MigrationSet,
        ExitKind::MigrationFailed,
        ExitKind::Schema,
        ExitKind::Pending,
        ExitKind::Interrupted,
    ];

    /// The numeric process status.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The short meaning printed in the final `FAILED (exit N: meaning)` line.
    pub fn meaning(self) -> &'static str {
        match self {
            ExitKind::Success => "success",
            ExitKind::Internal => "unexpected internal error",
            ExitKind::Usage => "usage error",
            ExitKind::Env => "environment invalid",
            ExitKind::Unreachable => "database unreachable",
            ExitKind::Lock => "advisory lock not acquired",
            ExitKind::MigrationSet => "migration set invalid",
            ExitKind::MigrationFailed => "migration failed",
            ExitKind::Schema => "required-schema verification failed",
            ExitKind::Pending => "migrations are pending",
            ExitKind::Interrupted => "interrupted",
        }
    }

    /// The `--help` table of the exit codes `kinds` (all of them, or one command's).
    pub fn help_table(kinds: &[ExitKind]) -> String {
        let mut s = String::from("Exit codes:\n");
        for &k in kinds {
            s.push_str(&format!("  {}  {}\n", k.code(), k.meaning()));
        }
        s
    }
}

/// One problem in the migration folder or the tracking table (exit 6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetProblem {
    /// The file concerned, when there is one.
    pub file: Option<PathBuf>,
    /// 1-based line in that file, when known.
    pub line: Option<usize>,
    /// 1-based column on that line, when known (lint findings).
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl SetProblem {
    /// A problem tied to a file.
    pub fn file(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        SetProblem {
            file: Some(file.into()),
            line: None,
            column: None,
            message: message.into(),
            hint: None,
        }
    }

    /// A problem not tied to one file (the tracking table, say).
    pub fn general(message: impl Into<String>) -> Self {
        SetProblem {
            file: None,
            line: None,
            column: None,
            message: message.into(),
            hint: None,
        }
    }

    /// Adds the line number.
    pub fn at_line(mut self, line: usize) -> Self {
        self.line = Some(line);
        self
    }

    /// Adds the column.
    pub fn at_column(mut self, column: usize) -> Self {
        self.column = Some(column);
        self
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for SetProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line, self.column) {
            (Some(file), Some(line), Some(col)) => {
                write!(f, "{}:{}:{}: ", file.display(), line, col)?
            }
            (Some(file), Some(line), None) => write!(f, "{}:{}: ", file.display(), line)?,
            (Some(file), None, _) => write!(f, "{}: ", file.display())?,
            _ => {}
        }
        // Messages carry versions, notes and checksums read from the tracking table, and file
        // names: escaped, so that none can start a line of its own.
        write!(f, "{}", one_line(&self.message))?;
        if let Some(hint) = &self.hint {
            write!(f, "\n    hint: {}", esc(hint))?;
        }
        Ok(())
    }
}

/// A statement of a migration that the server rejected (exit 7).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatementFailure {
    /// The migration's version (file stem).
    pub version: String,
    /// The migration file.
    pub file: PathBuf,
    /// 1-based line and column of the error in the file, when the server gave a position.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// The SQLSTATE, e.g. `42P01`.
    pub sqlstate: String,
    /// The server's message, detail, hint and context (`where`).
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
    pub context: Option<String>,
    /// The offending line of SQL, as written in the file.
    pub sql_line: Option<String>,
    /// Set when stamp recovery was attempted and could not resolve the failure.
    pub recovery: Option<String>,
    /// The SQL was a migration's stored rollback (`rollback --to`), not the migration.
    pub rolling_back: bool,
    /// The error was raised by the `COMMIT` of the migration's transaction: a deferred
    /// constraint or trigger (the line, when known, is where a replay with every constraint
    /// immediate found the statement that broke it).
    pub at_commit: bool,
    /// What of the migration stayed in the database.
    pub aftermath: Aftermath,
}

/// What of a failed migration stayed in the database: said exactly, never guessed (§5.3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Aftermath {
    /// It ran in a transaction, rolled back with its tracking row.
    #[default]
    RolledBack,
    /// A `-- sentry:no-transaction` migration: these of its `statements` (`file:line` and the
    /// SQL) committed one by one before the failing one, and stayed applied; and the failing
    /// one, a concurrent index build, may have `left` an INVALID index, which stays too.
    Kept {
        statements: Vec<String>,
        left: crate::invalid_index::Left,
    },
    /// A rollback (`rollback --to`) that stopped: where, what was committed before it and
    /// what was not attempted, as `rollback.rs` words it (one sentence a line).
    Stopped(String),
}

impl StatementFailure {
    /// Everything but the last sentence (what stayed applied), for reports that say it
    /// themselves (adoption).
    fn write_body(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rolling_back {
            write!(f, "rollback of migration {} failed", self.version)?;
        } else {
            write!(f, "migration {} failed", self.version)?;
        }
        write!(f, "\n    at {}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        write!(f, "\n    SQLSTATE {}: {}", self.sqlstate, self.message)?;
        if let Some(d) = &self.detail {
            write!(f, "\n    detail: {d}")?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\n    hint: {h}")?;
        }
        if let Some(c) = &self.context {
            write!(f, "\n    context: {}", c.replace('\n', "\n             "))?;
        }
        if let Some(l) = &self.sql_line {
            write!(f, "\n    | {}", l.trim_end())?;
            if let Some(col) = self.column {
                write!(f, "\n    | {}^", " ".repeat(col.saturating_sub(1)))?;
            }
        }
        if self.at_commit {
            write!(
                f,
                "\n    raised when its transaction committed{}{}",
                if self.sqlstate.starts_with("23") {
                    ": a deferred constraint"
                } else {
                    ""
                },
                if self.line.is_some() {
                    " (the line above is where a replay of the migration with every constraint \
                     immediate, rolled back, failed)"
                } else {
                    ""
                }
            )?;
        }
        if let Some(r) = &self.recovery {
            write!(f, "\n    stamp recovery: {r}")?;
        }
        Ok(())
    }
}

impl fmt::Display for StatementFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_body(f)?;
        match &self.aftermath {
            Aftermath::RolledBack => write!(
                f,
                "\n    The migration was rolled back: nothing of it, and no tracking row, was \
                 committed."
            ),
            Aftermath::Stopped(text) => write!(f, "\n    {}", text.replace('\n', "\n    ")),
            Aftermath::Kept { statements, left } if statements.is_empty() && left.is_empty() => {
                write!(
                    f,
                    "\n    This is a no-transaction migration, but none of its statements stayed \
                     applied: nothing of it, and no tracking row, was committed."
                )
            }
            Aftermath::Kept { statements, left } => {
                if statements.is_empty() {
                    write!(
                        f,
                        "\n    This is a no-transaction migration: no statement before the \
                         failing one had committed, and no tracking row was written."
                    )?;
                } else {
                    write!(
                        f,
                        "\n    This is a no-transaction migration: its statements commit one by \
                         one, and these {} stayed applied (no tracking row was written):",
                        statements.len()
                    )?;
                    for k in statements {
                        write!(f, "\n      {}", k.replace('\n', "\n        "))?;
                    }
                }
                if !left.is_empty() {
                    write!(f, "\n    {}", left.text("Its failing statement"))?;
                }
                if !statements.is_empty() {
                    write!(
                        f,
                        "\n    The next run replays the whole file: stamp recovery skips what \
                         already exists (SQLSTATE 42P07, 42701, 42710, 42P06, 42723); make the \
                         other statements idempotent (IF NOT EXISTS) so that replaying them is \
                         safe."
                    )?;
                }
                Ok(())
            }
        }
    }
}

/// An adoption that was rolled back as a whole: exit 7, or exit 6 when it was refused because
/// it cannot be all-or-nothing (`refused`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdoptionFailure {
    /// How many pending migrations the replay covered, and a few of the objects that made it
    /// an adoption.
    pub pending: usize,
    pub objects: Vec<String>,
    /// Why the adoption cannot be one transaction (a no-transaction migration, statements that
    /// cannot share one): it was refused, and what follows is what a trial (rolled back) saw.
    pub refused: Option<String>,
    /// The statement that failed, if one did.
    pub failure: Option<StatementFailure>,
    /// Why the replay, although no statement failed, cannot be trusted.
    pub inconsistency: Option<String>,
    /// Why committing the replay would run again what may have run before, unseen.
    pub reruns: Option<String>,
    /// One line per migration replayed: what the replay saw.
    pub evidence: Vec<String>,
    /// Statements the replay could not run (`file:line SQLSTATE message`), each with the
    /// reason: a limit of its single transaction, not of a real run.
    pub untried: Vec<(String, String)>,
    /// What to do, as far as trials could tell.
    pub advice: Advice,
}

/// The way out of a failed adoption, as far as trials (rolled back) could tell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Advice {
    /// The `stamp --to` a trial showed applies the rest without error, apart from `untried`.
    /// `None`: no stamp was shown to work, and `why` says what was found instead.
    pub stamp: Option<String>,
    /// The evidence and what every trial showed.
    pub why: String,
    /// Statements the trials could not run, with the reason; not already in the report's own
    /// list.
    pub untried: Vec<(String, String)>,
    /// Migrations that `run` applies again after the stamp and whose effect no trial can find:
    /// the operator checks that they did not run before.
    pub check: Vec<Check>,
}

/// A migration to check before following an [`Advice`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Check {
    pub version: String,
    /// Its statements whose effect no trial can find: `file:line what: first line`.
    pub statements: Vec<String>,
    /// What a trial of stamping this migration instead showed; `None`: not tried.
    pub instead: Option<String>,
}

impl fmt::Display for AdoptionFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.refused {
            Some(why) => write!(
                f,
                "adoption refused: the tracking table was empty but the database already holds \
                 objects ({}), and adoption cannot be all-or-nothing: {why}. Nothing was \
                 applied; a trial replay (rolled back) of the {} pending migrations in one \
                 transaction showed what follows",
                self.objects.join(", "),
                self.pending
            )?,
            None => write!(
                f,
                "adoption failed: the tracking table was empty but the database already holds \
                 objects ({}), so the {} pending migrations were replayed onto it in one \
                 transaction",
                self.objects.join(", "),
                self.pending
            )?,
        }
        if let Some(failure) = &self.failure {
            write!(f, "\n    ")?;
            failure.write_body(f)?;
        }
        if let Some(why) = &self.inconsistency {
            write!(f, "\n    the replay cannot be trusted: {why}")?;
        }
        if let Some(why) = &self.reruns {
            write!(f, "\n    the replay was not committed: {why}")?;
        }
        if !self.evidence.is_empty() {
            write!(f, "\n    what the replay saw:")?;
            for e in &self.evidence {
                write!(f, "\n      {e}")?;
            }
        }
        if !self.untried.is_empty() {
            write!(
                f,
                "\n    what the replay did not run (a real run does, for the reason given with \
                 each):"
            )?;
            write_untried(f, &self.untried)?;
        }
        self.advice.write(f)?;
        write!(
            f,
            "\n    Everything was rolled back: nothing of the replay, and no tracking row, was \
             committed."
        )
    }
}

/// Statements a replay could not run, each reason once after the statements it applies to.
fn write_untried(f: &mut fmt::Formatter<'_>, untried: &[(String, String)]) -> fmt::Result {
    for (i, (statement, why)) in untried.iter().enumerate() {
        write!(f, "\n      {statement}")?;
        if untried.get(i + 1).is_none_or(|(_, next)| next != why) {
            write!(f, "\n        ({why})")?;
        }
    }
    Ok(())
}

impl Advice {
    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\n    hint: {}.", self.why)?;
        if let Some(version) = &self.stamp {
            write!(
                f,
                "\n    So: `migration-sentry stamp --to {version}` records it and every \
                 migration before it as applied without running them; then run again to apply \
                 the rest."
            )?;
        }
        if !self.untried.is_empty() {
            write!(
                f,
                "\n    Not tried: the trials did not run these either (a real run does, for the \
                 reason given with each):"
            )?;
            write_untried(f, &self.untried)?;
        }
        if self.check.is_empty() {
            return Ok(());
        }
        write!(
            f,
            "\n    Check that these did not run before: after the stamp, `run` applies them \
             again, and what they do (change rows, sequences, privileges or settings; add an \
             unnamed index or constraint) leaves nothing a trial can find, so no trial can tell \
             whether they ran:"
        )?;
        for c in &self.check {
            write!(f, "\n      {}", c.version)?;
            match &c.instead {
                Some(tried) => write!(f, " (if it ran, stamp to it instead: {tried})")?,
                None => write!(
                    f,
                    " (if it ran, stamp to it instead: not tried, a run after that stamp tells)"
                )?,
            }
            for st in &c.statements {
                write!(f, "\n        {st}")?;
            }
        }
        write!(
            f,
            "\n    If one of them did run, stamp to the newest one that did instead of the \
             version above."
        )
    }
}

/// Every failure of the sentry. Each variant maps to one exit code.
#[derive(Debug)]
pub enum Error {
    /// A bug or an unexpected condition (exit 1).
    Internal(String),
    /// A bad flag or value (exit 2).
    Usage(String),
    /// The environment is invalid; every problem found is listed (exit 3).
    Env(Vec<String>),
    /// The database could not be reached (exit 4). `target` is the redacted URL.
    Unreachable {
        target: String,
        reason: String,
        hint: String,
    },
    /// The advisory lock was not acquired in time (exit 5).
    LockTimeout {
        key: i64,
        /// The `--wait-for-lock` that passed.
        waited: Duration,
        holder: Option<String>,
    },
    /// The migration set or tracking table is invalid (exit 6).
    MigrationSet(Vec<SetProblem>),
    /// A migration failed and recovery could not resolve it (exit 7).
    MigrationFailed(Box<StatementFailure>),
    /// Adopting an existing schema failed and was rolled back as a whole (exit 7), or was
    /// refused because it cannot be all-or-nothing (exit 6).
    Adoption(Box<AdoptionFailure>),
    /// Required-schema verification failed (exit 8); the failures were already printed.
    Schema { failed: usize, total: usize },
    /// `status` only: migrations are pending (exit 9).
    Pending { count: usize },
    /// A fleet (`--targets`) in which at least one target failed: the exit code is the first
    /// failing target's, in file order (SPEC §10). Each target's own error was already logged
    /// under its `[NAME]`.
    Fleet {
        first: String,
        kind: ExitKind,
        failed: usize,
        not_attempted: usize,
        total: usize,
    },
    /// `--timeout` passed, or SIGINT/SIGTERM arrived (exit 10; for a signal the process then
    /// ends by that signal). `during` names the phase that was interrupted; `aftermath`, when
    /// the phase knows better than [`Cause::consequence`](crate::interrupt::Cause::consequence),
    /// says what the interruption left in the database (a rollback, a no-transaction
    /// migration: see [`Error::leaving`]).
    Interrupted {
        cause: crate::interrupt::Cause,
        during: String,
        aftermath: Option<String>,
    },
    /// The server rejected a query the sentry itself sends, for a reason the sentry cannot
    /// name (exit 1). Privilege refusals are [`Error::Env`] with the GRANT that fixes them.
    Database {
        context: String,
        sqlstate: String,
        message: String,
    },
}

impl Error {
    /// The exit code this error ends the process with.
    pub fn kind(&self) -> ExitKind {
        match self {
            Error::Internal(_) | Error::Database { .. } => ExitKind::Internal,
            Error::Usage(_) => ExitKind::Usage,
            Error::Env(_) => ExitKind::Env,
            Error::Unreachable { .. } => ExitKind::Unreachable,
            Error::LockTimeout { .. } => ExitKind::Lock,
            Error::MigrationSet(_) => ExitKind::MigrationSet,
            Error::Adoption(failure) if failure.refused.is_some() => ExitKind::MigrationSet,
            Error::MigrationFailed(_) | Error::Adoption(_) => ExitKind::MigrationFailed,
            Error::Schema { .. } => ExitKind::Schema,
            Error::Pending { .. } => ExitKind::Pending,
            Error::Interrupted { .. } => ExitKind::Interrupted,
            Error::Fleet { kind, .. } => *kind,
        }
    }

    /// An environment error with a single problem.
    pub fn env(problem: impl Into<String>) -> Self {
        Error::Env(vec![problem.into()])
    }

    /// A migration-set error with a single problem.
    pub fn set(problem: SetProblem) -> Self {
        Error::MigrationSet(vec![problem])
    }

    /// For an interruption that does not say yet what it left behind: says it with `state`
    /// (one sentence a line, after the colon of `interrupted by … while …:`). The generic
    /// consequence is apply's ("a migration is all or nothing"), which is not true of a
    /// rollback or of a no-transaction migration. Any other error is returned as it is.
    pub fn leaving(self, state: impl FnOnce() -> String) -> Self {
        match self {
            Error::Interrupted {
                cause,
                during,
                aftermath: None,
            } => Error::Interrupted {
                cause,
                during,
                aftermath: Some(state()),
            },
            other => other,
        }
    }

    /// Wraps an error from a query the sentry sends itself. An interruption (signal,
    /// `--timeout`, a silent connection) wins over the error it caused (the cancelled
    /// statement); a lost connection becomes exit 4; a privilege the role lacks is exit 3 with
    /// the GRANT; anything else is reported with its SQLSTATE (exit 1). The driver's text is
    /// scrubbed.
    pub fn db(context: impl Into<String>, err: &postgres::Error) -> Self {
        let context = context.into();
        if let Some(e) = crate::interrupt::error(&context) {
            return e;
        }
        if let Some(db) = err.as_db_error()
            && db.code().code() == "42501"
        {
            return permission_denied(&context, &crate::output::external(db.message()));
        }
        if connection_lost(err) {
            return Error::Unreachable {
                target: crate::redact::current_target(),
                reason: format!("the connection was lost while {context}"),
                hint: "the server restarted or the network dropped; run the sentry again — \
                       every migration is atomic, so nothing was half-applied"
                    .into(),
            };
        }
        if let Some(db) = err.as_db_error() {
            return Error::Database {
                context,
                sqlstate: db.code().code().to_string(),
                message: crate::output::external(db.message()),
            };
        }
        Error::Database {
            context,
            sqlstate: String::new(),
            message: crate::output::external(&err.to_string()),
        }
    }
}

/// The role the sentry connects as, for the GRANT of a privilege error (set after connecting).
static ROLE: std::sync::RwLock<String> = std::sync::RwLock::new(String::new());

/// Records the role the session runs as (`current_user`).
pub fn set_role(role: &str) {
    *ROLE.write().unwrap_or_else(|e| e.into_inner()) = role.to_string();
}

/// The role the session runs as, as [`set_role`] recorded it ("" before connecting).
pub fn role() -> String {
    ROLE.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// A privilege the sentry's own statements need is missing (exit 3): the server's message
/// names the object (`permission denied for schema public`, `… for table schema_migrations`,
/// `… for function pg_try_advisory_lock`), from which the GRANT that fixes it follows.
fn permission_denied(context: &str, message: &str) -> Error {
    let role = ROLE.read().unwrap_or_else(|e| e.into_inner()).clone();
    let role = if role.is_empty() {
        "<the DATABASE_URL user>".to_string()
    } else if role
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        role
    } else {
        format!("\"{}\"", role.replace('"', "\"\""))
    };
    let object = |kind: &str| {
        message
            .split(&format!("permission denied for {kind} "))
            .nth(1)
            .map(|s| s.trim().to_string())
    };
    let grant = if let Some(schema) = object("schema") {
        format!("GRANT USAGE, CREATE ON SCHEMA {schema} TO {role};")
    } else if let Some(table) = object("table") {
        format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE {table} TO {role}; (or make {role} \
             its owner: ALTER TABLE {table} OWNER TO {role};)"
        )
    } else if let Some(function) = object("function") {
        format!("GRANT EXECUTE ON FUNCTION {function}(bigint) TO {role};")
    } else if message.contains("must be owner") {
        format!("make {role} the owner of the object (ALTER … OWNER TO {role};)")
    } else {
        format!("grant {role} the privilege the message names")
    };
    Error::Env(vec![format!(
        "the database role {role} lacks a privilege the sentry itself needs: while {context}, \
         the server said: {message} (SQLSTATE 42501). Fix, as the database owner: {grant}"
    )])
}

/// A duration as an option takes it (`2s`, `2m`, `1m 30s`, `250ms`), to the millisecond.
pub fn human(d: Duration) -> String {
    humantime::format_duration(Duration::from_millis(d.as_millis() as u64)).to_string()
}

/// Whether `err` means the session is gone: the socket closed or failed, or the server ended
/// the session with a FATAL error (shutdown or restart: 57P01/57P02, `pg_terminate_backend`).
pub fn connection_lost(err: &postgres::Error) -> bool {
    err.is_closed()
        || io_kind(err).is_some()
        || err
            .as_db_error()
            .is_some_and(|db| matches!(db.severity(), "FATAL" | "PANIC"))
}

/// The kind of the first I/O error in the driver error's source chain, if any.
pub fn io_kind(err: &postgres::Error) -> Option<std::io::ErrorKind> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        source = s.source();
    }
    None
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Internal(m) => write!(f, "internal error: {}", esc(m)),
            Error::Usage(m) => write!(f, "{}", esc(m)),
            Error::Env(problems) => {
                write!(
                    f,
                    "environment invalid ({} problem{}):",
                    problems.len(),
                    if problems.len() == 1 { "" } else { "s" }
                )?;
                for p in problems {
                    write!(f, "\n  - {}", one_line(p))?;
                }
                Ok(())
            }
            Error::Unreachable {
                target,
                reason,
                hint,
            } => write!(
                f,
                "database unreachable: {}\n    target: {}\n    hint: {}",
                esc(reason),
                esc(target),
                esc(hint)
            ),
            Error::LockTimeout {
                key,
                waited,
                holder,
            } => {
                write!(
                    f,
                    "advisory lock {key} not acquired within --wait-for-lock {}: another \
                     migration-sentry (or another migration tool using the same key) is still \
                     running",
                    human(*waited)
                )?;
                if let Some(h) = holder {
                    write!(f, "\n    held by: {}", esc(h))?;
                }
                write!(
                    f,
                    "\n    hint: wait for it to finish and deploy again, or raise \
                     --wait-for-lock; a stuck holder can be ended with \
                     SELECT pg_terminate_backend(pid) on the pid above"
                )
            }
            Error::MigrationSet(problems) => {
                write!(
                    f,
                    "migration set invalid ({} problem{}):",
                    problems.len(),
                    if problems.len() == 1 { "" } else { "s" }
                )?;
                for p in problems {
                    write!(f, "\n  - {}", p.to_string().replace('\n', "\n  "))?;
                }
                Ok(())
            }
            Error::MigrationFailed(failure) => write!(f, "{failure}"),
            Error::Adoption(failure) => write!(f, "{failure}"),
            Error::Schema { failed, total } => write!(
                f,
                "required schema not satisfied: {failed} of {total} check{} failed (see ✗ above)",
                if *total == 1 { "" } else { "s" }
            ),
            Error::Pending { count } => write!(
                f,
                "{count} migration{} pending",
                if *count == 1 { " is" } else { "s are" }
            ),
            Error::Interrupted {
                cause,
                during,
                aftermath,
            } => match aftermath {
                None => write!(f, "{cause} while {during}: {}", cause.consequence()),
                Some(text) => write!(
                    f,
                    "{cause} while {during}: {}",
                    text.replace('\n', "\n    ")
                ),
            },
            Error::Fleet {
                first,
                kind,
                failed,
                not_attempted,
                total,
            } => write!(
                f,
                "fleet: {failed} of {total} target{} failed, {not_attempted} not attempted; the \
                 first failure, in file order, is {first} (exit {}: {})",
                if *total == 1 { "" } else { "s" },
                kind.code(),
                kind.meaning()
            ),
            Error::Database {
                context,
                sqlstate,
                message,
            } => {
                write!(
                    f,
                    "the database refused a query while {}: {}",
                    esc(context),
                    esc(message)
                )?;
                if !sqlstate.is_empty() {
                    write!(f, " (SQLSTATE {sqlstate})")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Error {}

/// The result type of the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_its_documented_code() {
        assert_eq!(Error::Internal("x".into()).kind().code(), 1);
        assert_eq!(Error::Usage("x".into()).kind().code(), 2);
        assert_eq!(Error::env("x").kind().code(), 3);
        let unreachable = Error::Unreachable {
            target: "t".into(),
            reason: "r".into(),
            hint: "h".into(),
        };
        assert_eq!(unreachable.kind().code(), 4);
        let lock = Error::LockTimeout {
            key: 1,
            waited: Duration::from_secs(1),
            holder: None,
        };
        assert_eq!(lock.kind().code(), 5);
        assert_eq!(Error::set(SetProblem::general("x")).kind().code(), 6);
        let failed = Error::MigrationFailed(Box::default());
        assert_eq!(failed.kind().code(), 7);
        assert_eq!(
            Error::Schema {
                failed: 1,
                total: 2
            }
            .kind()
            .code(),
            8
        );
        assert_eq!(Error::Pending { count: 1 }.kind().code(), 9);
        let fleet = Error::Fleet {
            first: "eu".into(),
            kind: ExitKind::MigrationSet,
            failed: 1,
            not_attempted: 2,
            total: 4,
        };
        assert_eq!(fleet.kind().code(), 6);
        let interrupted = Error::Interrupted {
            cause: crate::interrupt::Cause::Deadline(Duration::from_secs(1)),
            during: "applying 0001_x".into(),
            aftermath: None,
        };
        assert_eq!(interrupted.kind().code(), 10);
    }

    #[test]
    fn a_privilege_error_names_the_grant_that_fixes_it() {
        set_role("app");
        let e = permission_denied(
            "creating the tracking table",
            "permission denied for schema public",
        );
        assert_eq!(e.kind().code(), 3);
        assert!(
            e.to_string()
                .contains("GRANT USAGE, CREATE ON SCHEMA public TO app;"),
            "{e}"
        );
        let e = permission_denied(
            "reading the tracking table",
            "permission denied for table schema_migrations",
        );
        assert!(
            e.to_string().contains("ON TABLE schema_migrations TO app;"),
            "{e}"
        );
        let e = permission_denied(
            "taking the advisory lock",
            "permission denied for function pg_try_advisory_lock",
        );
        assert!(
            e.to_string()
                .contains("GRANT EXECUTE ON FUNCTION pg_try_advisory_lock(bigint) TO app;"),
            "{e}"
        );
    }

    #[test]
    fn the_lock_timeout_names_the_configured_wait() {
        let e = Error::LockTimeout {
            key: 7,
            waited: Duration::from_secs(5),
            holder: None,
        };
        assert!(
            e.to_string()
                .starts_with("advisory lock 7 not acquired within --wait-for-lock 5s: another")
        );
        assert_eq!(human(Duration::from_secs(120)), "2m");
        assert_eq!(human(Duration::from_millis(250)), "250ms");
    }

    #[test]
    fn problems_are_printed_on_one_line_and_cut_to_a_readable_length() {
        let forged =
            SetProblem::general("applied migration 0000_x\n=== MIGRATION SENTRY: success ===")
                .with_hint("note\r\nmore");
        let text = Error::set(forged).to_string();
        assert!(!text.lines().any(|l| l.starts_with("===")), "{text}");
        assert!(text.contains("0000_x\\n=== MIGRATION"), "{text}");
        assert!(text.contains("hint: note\\r\\nmore"), "{text}");
        let huge = Error::env("x".repeat(1_000_000)).to_string();
        assert!(huge.len() < 5_000, "{}", huge.len());
        assert!(
            huge.contains("(996000 more characters)"),
            "{}",
            &huge[huge.len() - 40..]
        );
    }

    #[test]
    fn a_failure_at_commit_says_so_and_where_the_replay_found_it() {
        let mut f = StatementFailure {
            version: "0002_b".into(),
            file: "m/0002_b.sql".into(),
            sqlstate: "23503".into(),
            message: "violates foreign key constraint".into(),
            at_commit: true,
            ..StatementFailure::default()
        };
        let text = f.to_string();
        assert!(
            text.contains("raised when its transaction committed: a deferred constraint\n"),
            "{text}"
        );
        f.line = Some(2);
        f.sql_line = Some("INSERT INTO b VALUES (1, 42);".into());
        let text = f.to_string();
        assert!(text.contains("at m/0002_b.sql:2\n"), "{text}");
        assert!(text.contains("the line above is where a replay"), "{text}");
        f.sqlstate = "40001".into();
        assert!(!f.to_string().contains("deferred"), "{}", f);
    }

    #[test]
    fn help_table_lists_every_code() {
        let t = ExitKind::help_table(&ExitKind::ALL);
        for k in ExitKind::ALL {
            assert!(t.contains(&format!("{}  {}", k.code(), k.meaning())));
        }
        let t = ExitKind::help_table(&[ExitKind::Success, ExitKind::Pending]);
        assert_eq!(
            t,
            "Exit codes:\n  0  success\n  9  migrations are pending\n"
        );
    }
}
