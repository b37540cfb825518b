//! The plain configuration the core runs on.
//!
//! `cli.rs` turns clap's parsed arguments into a [`Config`] and a [`Command`]; nothing below
//! this point knows about clap.

use std::path::PathBuf;
use std::time::Duration;

/// What the user asked for (SPEC §1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// The deploy gate: check-env → ping → lock → upgrade (with recovery) → verify.
    Run,
    /// Validate environment and URL; no network.
    CheckEnv,
    /// check-env, then connect and print server facts.
    Ping,
    /// Lock and apply pending migrations; no verification.
    Upgrade,
    /// Check the required schema.
    Verify,
    /// Applied / pending / drifted / stamped migrations and the checks.
    Status,
    /// Record migrations as applied without running them, up to and including `to`.
    Stamp { to: Option<String> },
    /// Store the files' current checksums for applied migrations.
    Repair,
    /// Offline validation of the migration folder and the required-schema file.
    Check,
    /// Create the next numbered, empty migration file.
    New { name: String },
    /// Undo the applied migrations newer than `to` with their stored rollback SQL (`to` as
    /// typed: a version, its number, or 0 for everything).
    Rollback { to: String },
}

impl Command {
    /// The command's name as typed on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Run => "run",
            Command::CheckEnv => "check-env",
            Command::Ping => "ping",
            Command::Upgrade => "upgrade",
            Command::Verify => "verify",
            Command::Status => "status",
            Command::Stamp { .. } => "stamp",
            Command::Repair => "repair",
            Command::Check => "check",
            Command::New { .. } => "new",
            Command::Rollback { .. } => "rollback",
        }
    }
}

/// Output format of a command's result on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
}

/// Where the required schema comes from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SchemaSource {
    /// `--required-schema FILE`: the file must exist.
    Explicit(PathBuf),
    /// The default `sql/required_schema.txt`, used only if it exists.
    Default(PathBuf),
    /// Nothing configured.
    #[default]
    None,
}

/// Everything the core needs, already parsed and typed.
#[derive(Debug, Clone)]
pub struct Config {
    /// `DATABASE_URL` as given (may be absent: check-env reports it).
    pub database_url: Option<String>,
    /// The URL was given with `--database-url`, so its password is in the process list.
    pub database_url_on_command_line: bool,
    /// Where the URL came from, as the log names it: `DATABASE_URL`, or a fleet target's
    /// own variable (SPEC §10).
    pub database_url_var: String,
    pub migrations_dir: PathBuf,
    pub required_schema: SchemaSource,
    /// `--require TABLE.COLUMN` entries, in order.
    pub require: Vec<String>,
    /// Environment variables that must be set and non-empty.
    pub require_env: Vec<String>,
    /// Tracking table, possibly `schema.table` (validated later).
    pub table: String,
    /// Explicit advisory lock key; `None` derives it from the table name.
    pub lock_key: Option<i64>,
    pub wait_for_lock: Duration,
    pub connect_timeout: Duration,
    /// Retry connecting for at most this long (0 = one attempt).
    pub wait: Duration,
    /// `lock_timeout` for migration statements (0 = none).
    pub lock_timeout: Duration,
    /// `statement_timeout` for migration statements (0 = none).
    pub statement_timeout: Duration,
    /// Deadline of the whole command (0 = none): exit 10 when it passes (SPEC §5.7).
    pub timeout: Duration,
    /// Retries of a transactional migration that hits `lock_timeout` (55P03).
    pub lock_retries: u32,
    pub stamp_recovery: bool,
    pub allow_out_of_order: bool,
    pub format: Format,
    /// -2 = very quiet … 0 = info, 1 = -v, 2 = -vv.
    pub verbosity: i8,
    /// `--dry-run` on run, upgrade, stamp and rollback.
    pub dry_run: bool,
    /// §5.5: a blocking lint finding on an existing table with more estimated rows fails `run`.
    pub lint_max_rows: u64,
    /// `--strict`: lint findings are errors (`check`: all; `run`: all but size-dependent ones).
    pub strict: bool,
    /// `check --lint-only FILES`: lint only these migrations (the pre-push hook's new files);
    /// `None` lints every one.
    pub lint_only: Option<Vec<String>>,
    /// `--targets FILE`: run the command on every database the file names (SPEC §10).
    pub targets: Option<PathBuf>,
    /// `--parallel K`: targets at a time after the canary (at least 1).
    pub parallel: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database_url: None,
            database_url_on_command_line: false,
            database_url_var: "DATABASE_URL".into(),
            migrations_dir: PathBuf::from("sql/migrations"),
            required_schema: SchemaSource::None,
            require: Vec::new(),
            require_env: Vec::new(),
            table: "schema_migrations".into(),
            lock_key: None,
            wait_for_lock: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(10),
            wait: Duration::ZERO,
            lock_timeout: Duration::from_secs(10),
            statement_timeout: Duration::ZERO,
            timeout: Duration::ZERO,
            lock_retries: 3,
            stamp_recovery: true,
            allow_out_of_order: false,
            format: Format::Text,
            verbosity: 0,
            dry_run: false,
            lint_max_rows: 100_000,
            strict: false,
            lint_only: None,
            targets: None,
            parallel: 4,
        }
    }
}
