//! The one error type of the sentry, and the exit codes of SPEC §3.
//!
//! Every failure the core can produce is a variant of [`Error`]; each variant knows its exit
//! code ([`Error::kind`]) and carries the context an on-call engineer needs (file, line, host,
//! SQLSTATE). No variant ever holds a password: targets are stored already redacted, and
//! driver error texts are classified or scrubbed before they get here.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

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
}

impl ExitKind {
    /// Every exit code, in order, for `--help` and the docs.
    pub const ALL: [ExitKind; 10] = [
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
        }
    }

    /// The `--help` table of exit codes.
    pub fn help_table() -> String {
        let mut s = String::from("Exit codes:\n");
        for k in ExitKind::ALL {
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
            message: message.into(),
            hint: None,
        }
    }

    /// A problem not tied to one file (the tracking table, say).
    pub fn general(message: impl Into<String>) -> Self {
        SetProblem {
            file: None,
            line: None,
            message: message.into(),
            hint: None,
        }
    }

    /// Adds the line number.
    pub fn at_line(mut self, line: usize) -> Self {
        self.line = Some(line);
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
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{}:{}: ", file.display(), line)?,
            (Some(file), None) => write!(f, "{}: ", file.display())?,
            _ => {}
        }
        write!(f, "{}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n    hint: {hint}")?;
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
}

impl fmt::Display for StatementFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "migration {} failed", self.version)?;
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
        if let Some(r) = &self.recovery {
            write!(f, "\n    stamp recovery: {r}")?;
        }
        write!(
            f,
            "\n    The migration was rolled back: nothing of it, and no tracking row, was committed."
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
        waited: Duration,
        holder: Option<String>,
    },
    /// The migration set or tracking table is invalid (exit 6).
    MigrationSet(Vec<SetProblem>),
    /// A migration failed and recovery could not resolve it (exit 7).
    MigrationFailed(Box<StatementFailure>),
    /// Required-schema verification failed (exit 8); the failures were already printed.
    Schema { failed: usize, total: usize },
    /// `status` only: migrations are pending (exit 9).
    Pending { count: usize },
    /// The server rejected a query the sentry itself sends (permissions, say) (exit 1).
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
            Error::MigrationFailed(_) => ExitKind::MigrationFailed,
            Error::Schema { .. } => ExitKind::Schema,
            Error::Pending { .. } => ExitKind::Pending,
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

    /// Wraps an error from a query the sentry sends itself. A lost connection becomes exit 4;
    /// anything else is reported with its SQLSTATE (exit 1). The driver's text is scrubbed.
    pub fn db(context: impl Into<String>, err: &postgres::Error) -> Self {
        let context = context.into();
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
                message: crate::redact::scrub(db.message()),
            };
        }
        Error::Database {
            context,
            sqlstate: String::new(),
            message: crate::redact::scrub(&err.to_string()),
        }
    }
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
            Error::Internal(m) => write!(f, "internal error: {m}"),
            Error::Usage(m) => write!(f, "{m}"),
            Error::Env(problems) => {
                write!(
                    f,
                    "environment invalid ({} problem{}):",
                    problems.len(),
                    if problems.len() == 1 { "" } else { "s" }
                )?;
                for p in problems {
                    write!(f, "\n  - {p}")?;
                }
                Ok(())
            }
            Error::Unreachable {
                target,
                reason,
                hint,
            } => write!(
                f,
                "database unreachable: {reason}\n    target: {target}\n    hint: {hint}"
            ),
            Error::LockTimeout {
                key,
                waited,
                holder,
            } => {
                write!(
                    f,
                    "advisory lock {key} not acquired after {}: another migration-sentry (or \
                     another migration tool using the same key) is still running",
                    humantime::format_duration(Duration::from_millis(waited.as_millis() as u64))
                )?;
                if let Some(h) = holder {
                    write!(f, "\n    held by: {h}")?;
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
            Error::Database {
                context,
                sqlstate,
                message,
            } => {
                write!(f, "the database refused a query while {context}: {message}")?;
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
    }

    #[test]
    fn help_table_lists_every_code() {
        let t = ExitKind::help_table();
        for k in ExitKind::ALL {
            assert!(t.contains(&format!("{}  {}", k.code(), k.meaning())));
        }
    }
}
