//! The command line: clap's types live here and nowhere else.
//!
//! [`Cli::into_config`] turns the parsed arguments into the plain [`Config`] and [`Command`]
//! the core runs on (the shape hyperfine uses with `Options::from_cli_arguments`). Every
//! option has an environment fallback (SPEC §2) and is accepted before or after the command.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use crate::config::{Command, Config, Format, SchemaSource};
use crate::error::{Error, ExitKind};

/// The default location of the required-schema file, used only when it exists.
pub const DEFAULT_REQUIRED_SCHEMA: &str = "sql/required_schema.txt";

/// Gates a deploy on the state of a PostgreSQL database.
#[derive(Debug, Parser)]
#[command(
    name = "migration-sentry",
    version,
    about = "Gates a deploy on the state of a PostgreSQL database: validates the environment, \
             pings DATABASE_URL, takes an advisory lock, applies pending migrations, recovers a \
             broken history, verifies the required schema, and exits non-zero so a bad deploy stops.",
    after_help = exit_code_help(),
    after_long_help = exit_code_help()
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Sub>,
    #[command(flatten)]
    pub global: GlobalArgs,
}

fn exit_code_help() -> String {
    ExitKind::help_table()
}

/// The commands of SPEC §1; no command means `run`.
#[derive(Debug, Subcommand)]
pub enum Sub {
    /// The deploy gate: check-env, ping, lock, upgrade (with stamp recovery), verify.
    Run,
    /// Validate the environment and DATABASE_URL only; no network.
    CheckEnv,
    /// check-env, then connect and print server facts (database, version, TLS, latency).
    Ping,
    /// Lock and apply pending migrations (with stamp recovery); no verification.
    Upgrade,
    /// Check the required schema against the database (read only).
    Verify,
    /// Show applied, pending, drifted and stamped migrations and the schema checks (read only).
    Status,
    /// Record migrations as applied without running them.
    Stamp {
        /// Stamp up to and including this version (default: all pending).
        #[arg(long, value_name = "VERSION")]
        to: Option<String>,
    },
    /// After review: store the files' current checksums for applied migrations. Deletes nothing.
    Repair,
    /// Offline: validate the migration folder and the required-schema file.
    Check,
    /// Create the next numbered, empty migration file and print its path.
    New {
        /// The migration's name ([A-Za-z0-9_-]).
        name: String,
    },
}

/// Output format of a command's result on stdout.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    Text,
    Json,
}

/// Options accepted by every command, before or after it. Every `env` argument sets
/// `hide_env_values`: `--help` must never print DATABASE_URL, which holds a password (SPEC §8).
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// PostgreSQL URL (postgres[ql]://…) or libpq key=value string.
    #[arg(
        long,
        env = "DATABASE_URL",
        hide_env_values = true,
        value_name = "URL",
        global = true
    )]
    pub database_url: Option<String>,

    /// Folder of NNNN_name.sql migrations.
    #[arg(
        long,
        env = "SENTRY_MIGRATIONS_DIR",
        hide_env_values = true,
        value_name = "DIR",
        default_value = "sql/migrations",
        global = true
    )]
    pub migrations_dir: PathBuf,

    /// Required-schema file [default: sql/required_schema.txt if it exists].
    #[arg(
        long,
        env = "SENTRY_REQUIRED_SCHEMA",
        hide_env_values = true,
        value_name = "FILE",
        global = true
    )]
    pub required_schema: Option<PathBuf>,

    /// A column the application needs, TABLE.COLUMN or SCHEMA.TABLE.COLUMN (repeatable).
    #[arg(
        long = "require",
        env = "SENTRY_REQUIRE",
        hide_env_values = true,
        value_name = "TABLE.COLUMN",
        value_delimiter = ',',
        global = true
    )]
    pub require: Vec<String>,

    /// An environment variable that must be set and non-empty (repeatable), e.g. FLASK_APP.
    #[arg(
        long = "require-env",
        env = "SENTRY_REQUIRE_ENV",
        hide_env_values = true,
        value_name = "NAME",
        value_delimiter = ',',
        global = true
    )]
    pub require_env: Vec<String>,

    /// Tracking table, optionally schema-qualified.
    #[arg(
        long,
        env = "SENTRY_TABLE",
        hide_env_values = true,
        value_name = "NAME",
        default_value = "schema_migrations",
        global = true
    )]
    pub table: String,

    /// Advisory lock key [default: derived from the tracking table's qualified name].
    #[arg(
        long,
        env = "SENTRY_LOCK_KEY",
        hide_env_values = true,
        value_name = "N",
        allow_negative_numbers = true,
        global = true
    )]
    pub lock_key: Option<i64>,

    /// How long to wait for the advisory lock.
    #[arg(long, env = "SENTRY_WAIT_FOR_LOCK", hide_env_values = true, value_name = "DUR", default_value = "120s",
          value_parser = parse_duration, global = true)]
    pub wait_for_lock: Duration,

    /// Timeout of one connection attempt (TCP, TLS and authentication).
    #[arg(long, env = "SENTRY_CONNECT_TIMEOUT", hide_env_values = true, value_name = "DUR", default_value = "10s",
          value_parser = parse_duration, global = true)]
    pub connect_timeout: Duration,

    /// Retry connecting with backoff until the database accepts, for at most DUR.
    #[arg(long, env = "SENTRY_WAIT", hide_env_values = true, value_name = "DUR", default_value = "0",
          value_parser = parse_duration, global = true)]
    pub wait: Duration,

    /// PostgreSQL lock_timeout for migration statements (0 = none).
    #[arg(long, env = "SENTRY_LOCK_TIMEOUT", hide_env_values = true, value_name = "DUR", default_value = "10s",
          value_parser = parse_duration, global = true)]
    pub lock_timeout: Duration,

    /// PostgreSQL statement_timeout for migration statements (0 = none).
    #[arg(long, env = "SENTRY_STATEMENT_TIMEOUT", hide_env_values = true, value_name = "DUR", default_value = "0",
          value_parser = parse_duration, global = true)]
    pub statement_timeout: Duration,

    /// Make the first failure final: no stamp recovery, missing files are an error.
    #[arg(long, env = "SENTRY_NO_STAMP_RECOVERY", hide_env_values = true, action = ArgAction::SetTrue,
          value_parser = BoolishValueParser::new(), global = true)]
    pub no_stamp_recovery: bool,

    /// Apply pending migrations that sort before the newest applied one.
    #[arg(long, env = "SENTRY_ALLOW_OUT_OF_ORDER", hide_env_values = true, action = ArgAction::SetTrue,
          value_parser = BoolishValueParser::new(), global = true)]
    pub allow_out_of_order: bool,

    /// Print exactly what would be done and change nothing (run, upgrade, stamp).
    #[arg(long, global = true)]
    pub dry_run: bool,

    /// Format of the result on stdout.
    #[arg(
        long,
        env = "SENTRY_FORMAT",
        hide_env_values = true,
        value_enum,
        default_value = "text",
        global = true
    )]
    pub format: FormatArg,

    /// More output: -v adds the SQL sent and server notices, -vv every round trip.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Less output: only warnings, errors and the final line.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

impl GlobalArgs {
    /// -1 with `-q`, 0 by default, 1 with `-v`, 2 with `-vv` (or more).
    pub fn verbosity(&self) -> i8 {
        if self.quiet {
            -1
        } else {
            self.verbose.min(2) as i8
        }
    }
}

impl Cli {
    /// Turns the parsed arguments into the core's command and configuration.
    pub fn into_config(self) -> Result<(Command, Config), Error> {
        let g = self.global;
        let verbosity = g.verbosity();
        let command = match self.command.unwrap_or(Sub::Run) {
            Sub::Run => Command::Run,
            Sub::CheckEnv => Command::CheckEnv,
            Sub::Ping => Command::Ping,
            Sub::Upgrade => Command::Upgrade,
            Sub::Verify => Command::Verify,
            Sub::Status => Command::Status,
            Sub::Stamp { to } => Command::Stamp { to },
            Sub::Repair => Command::Repair,
            Sub::Check => Command::Check,
            Sub::New { name } => Command::New { name },
        };
        if g.dry_run
            && !matches!(
                command,
                Command::Run | Command::Upgrade | Command::Stamp { .. }
            )
        {
            return Err(Error::Usage(format!(
                "--dry-run applies to run, upgrade and stamp, not to {}",
                command.name()
            )));
        }
        let required_schema = match g.required_schema {
            Some(p) if !p.as_os_str().is_empty() => SchemaSource::Explicit(p),
            _ if Path::new(DEFAULT_REQUIRED_SCHEMA).is_file() => {
                SchemaSource::Default(PathBuf::from(DEFAULT_REQUIRED_SCHEMA))
            }
            _ => SchemaSource::None,
        };
        let config = Config {
            database_url: g.database_url,
            migrations_dir: g.migrations_dir,
            required_schema,
            require: non_empty(g.require),
            require_env: non_empty(g.require_env),
            table: g.table,
            lock_key: g.lock_key,
            wait_for_lock: g.wait_for_lock,
            connect_timeout: g.connect_timeout,
            wait: g.wait,
            lock_timeout: g.lock_timeout,
            statement_timeout: g.statement_timeout,
            stamp_recovery: !g.no_stamp_recovery,
            allow_out_of_order: g.allow_out_of_order,
            format: match g.format {
                FormatArg::Text => Format::Text,
                FormatArg::Json => Format::Json,
            },
            verbosity,
            dry_run: g.dry_run,
        };
        Ok((command, config))
    }
}

/// Options whose values accumulate. clap keeps only the later occurrences of a global option
/// given on both sides of the subcommand (clap-rs/clap#1570): `--require a.b verify --require
/// c.d` would silently drop `a.b`.
const LIST_OPTIONS: [&str; 2] = ["--require", "--require-env"];

/// Works around clap#1570 before parsing: when a list option appears both before and after the
/// subcommand, the options before it are moved after the subcommand's name, so every value is
/// kept and the order of the rest (last one wins) is unchanged.
pub fn normalize_args(args: Vec<OsString>) -> Vec<OsString> {
    let cmd = <Cli as clap::CommandFactory>::command();
    let takes_value: Vec<String> = cmd
        .get_arguments()
        .filter(|a| a.get_action().takes_values())
        .flat_map(|a| {
            let long = a.get_long().map(|l| format!("--{l}"));
            let short = a.get_short().map(|c| format!("-{c}"));
            long.into_iter().chain(short)
        })
        .collect();
    let subcommands: Vec<&str> = cmd.get_subcommands().map(|c| c.get_name()).collect();
    let is_list = |t: &str| {
        LIST_OPTIONS
            .iter()
            .any(|o| t == *o || t.starts_with(&format!("{o}=")))
    };
    let text: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut i = 1;
    let mut sub_at = None;
    while i < text.len() {
        let t = text[i].as_str();
        if t == "--" {
            break;
        }
        if t.starts_with('-') {
            i += if takes_value.iter().any(|o| o == t) {
                2
            } else {
                1
            };
            continue;
        }
        if subcommands.contains(&t) {
            sub_at = Some(i);
        }
        break;
    }
    let Some(at) = sub_at else {
        return args;
    };
    let before = text[1..at].iter().any(|t| is_list(t));
    let after = text[at + 1..].iter().any(|t| is_list(t));
    if !(before && after) {
        return args;
    }
    let mut out = Vec::with_capacity(args.len());
    out.push(args[0].clone());
    out.push(args[at].clone());
    out.extend(args[1..at].iter().cloned());
    out.extend(args[at + 1..].iter().cloned());
    out
}

/// Drops blanks from comma-separated lists (`SENTRY_REQUIRE_ENV="A, B,"`).
fn non_empty(items: Vec<String>) -> Vec<String> {
    items
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Parses `250ms`, `30s`, `5m`, `1h 30m`, or a bare number of seconds (`30`, `1.5`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty duration: use e.g. 250ms, 30s, 5m or a number of seconds".into());
    }
    if let Ok(secs) = t.parse::<f64>() {
        if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
            return Err(format!("{t:?} is not a valid number of seconds"));
        }
        return Ok(Duration::from_secs_f64(secs));
    }
    humantime::parse_duration(t).map_err(|e| {
        format!("{t:?} is not a duration ({e}): use e.g. 250ms, 30s, 5m or a number of seconds")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<(Command, Config), String> {
        let cli =
            Cli::try_parse_from(std::iter::once("migration-sentry").chain(args.iter().copied()))
                .map_err(|e| e.to_string())?;
        cli.into_config().map_err(|e| e.to_string())
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("7").unwrap(), Duration::from_secs(7));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-3").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn bare_invocation_is_run() {
        assert_eq!(parse(&[]).unwrap().0, Command::Run);
    }

    #[test]
    fn options_go_before_or_after_the_command() {
        let (c1, a) = parse(&["run", "--wait", "30s"]).unwrap();
        let (c2, b) = parse(&["--wait", "30s", "run"]).unwrap();
        assert_eq!(c1, c2);
        assert_eq!(a.wait, Duration::from_secs(30));
        assert_eq!(b.wait, Duration::from_secs(30));
    }

    #[test]
    fn dry_run_only_where_it_means_something() {
        assert!(parse(&["upgrade", "--dry-run"]).unwrap().1.dry_run);
        assert!(parse(&["--dry-run"]).unwrap().1.dry_run);
        assert!(parse(&["status", "--dry-run"]).is_err());
    }

    #[test]
    fn repeatable_lists_and_flags() {
        let (_, c) = parse(&[
            "verify",
            "--require",
            "a.b",
            "--require",
            "c.d,e.f",
            "-vv",
            "--no-stamp-recovery",
            "--format",
            "json",
        ])
        .unwrap();
        assert_eq!(c.require, vec!["a.b", "c.d", "e.f"]);
        assert_eq!(c.verbosity, 2);
        assert!(!c.stamp_recovery);
        assert_eq!(c.format, Format::Json);
    }

    #[test]
    fn list_options_on_both_sides_of_the_command_are_all_kept() {
        let args = |v: &[&str]| {
            let argv: Vec<OsString> = std::iter::once("migration-sentry")
                .chain(v.iter().copied())
                .map(OsString::from)
                .collect();
            let cli = Cli::try_parse_from(normalize_args(argv)).unwrap();
            cli.into_config().unwrap()
        };
        let (cmd, c) = args(&[
            "--require",
            "a.b",
            "--table",
            "verify",
            "verify",
            "--require",
            "c.d",
        ]);
        assert_eq!(cmd, Command::Verify);
        assert_eq!(c.require, vec!["a.b", "c.d"]);
        assert_eq!(c.table, "verify");
        let (_, c) = args(&[
            "--require-env=A",
            "-v",
            "run",
            "--require-env",
            "B",
            "--wait",
            "5",
        ]);
        assert_eq!(c.require_env, vec!["A", "B"]);
        assert_eq!(c.verbosity, 1);
        // Nothing to merge: left as it is.
        let (_, c) = args(&["--wait", "1", "run", "--wait", "2"]);
        assert_eq!(c.wait, Duration::from_secs(2));
    }

    #[test]
    fn stamp_and_new_take_their_arguments() {
        assert_eq!(
            parse(&["stamp", "--to", "0002_x"]).unwrap().0,
            Command::Stamp {
                to: Some("0002_x".into())
            }
        );
        assert_eq!(
            parse(&["new", "add_users"]).unwrap().0,
            Command::New {
                name: "add_users".into()
            }
        );
        assert!(parse(&["new"]).is_err());
        assert!(parse(&["frobnicate"]).is_err());
        assert!(parse(&["--wait", "soon"]).is_err());
    }
}
