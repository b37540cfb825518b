//! The command line: clap's types live here and nowhere else.
//!
//! [`Cli::into_config`] turns the parsed arguments into the plain [`Config`] and [`Command`]
//! the core runs on (the shape hyperfine uses with `Options::from_cli_arguments`). Every
//! option has an environment fallback (SPEC §2) and is accepted before or after the command.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::error::ErrorKind;
use clap::{ArgAction, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

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
    after_long_help = exit_code_help(),
    disable_help_subcommand = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Sub>,
    #[command(flatten)]
    pub global: GlobalArgs,
}

fn exit_code_help() -> String {
    format!(
        "Options before the command are shared by every command and ignored by those that do \
         not use them; after the command, only the command's own options are accepted \
         (`migration-sentry help <COMMAND>` lists them).\n\n{}",
        ExitKind::help_table(&ExitKind::ALL)
    )
}

/// Which options each command takes and which exit codes it can return: the one table to
/// extend when an option or a command is added. Options are named by their long form without
/// `--`; those in [`EVERY_COMMAND`] are left out. `<command> --help` shows exactly these
/// options and exit codes, and an option given after a command that does not take it is a
/// usage error (before the command, it is a shared setting, like its environment variable).
pub const COMMANDS: &[CommandSpec] = {
    use ExitKind::*;
    &[
        CommandSpec {
            name: "run",
            options: &[
                "database-url",
                "migrations-dir",
                "required-schema",
                "require",
                "require-env",
                "table",
                "lock-key",
                "wait-for-lock",
                "connect-timeout",
                "wait",
                "timeout",
                "lock-timeout",
                "statement-timeout",
                "lock-retries",
                "no-stamp-recovery",
                "allow-out-of-order",
                "dry-run",
                "lint-max-rows",
                "strict",
                "format",
                "targets",
                "parallel",
            ],
            exits: &[
                Success,
                Internal,
                Usage,
                Env,
                Unreachable,
                Lock,
                MigrationSet,
                MigrationFailed,
                Schema,
                Interrupted,
            ],
        },
        CommandSpec {
            name: "check-env",
            options: &[
                "database-url",
                "require-env",
                "table",
                "format",
                "targets",
                "parallel",
            ],
            exits: &[Success, Internal, Usage, Env],
        },
        CommandSpec {
            name: "ping",
            options: &[
                "database-url",
                "require-env",
                "table",
                "connect-timeout",
                "wait",
                "timeout",
                "format",
                "targets",
                "parallel",
            ],
            exits: &[Success, Internal, Usage, Env, Unreachable, Interrupted],
        },
        CommandSpec {
            name: "upgrade",
            options: &[
                "database-url",
                "migrations-dir",
                "require-env",
                "table",
                "lock-key",
                "wait-for-lock",
                "connect-timeout",
                "wait",
                "timeout",
                "lock-timeout",
                "statement-timeout",
                "lock-retries",
                "no-stamp-recovery",
                "allow-out-of-order",
                "dry-run",
                "lint-max-rows",
                "strict",
                "format",
                "targets",
                "parallel",
            ],
            exits: &[
                Success,
                Internal,
                Usage,
                Env,
                Unreachable,
                Lock,
                MigrationSet,
                MigrationFailed,
                Interrupted,
            ],
        },
        CommandSpec {
            name: "verify",
            options: &[
                "database-url",
                "required-schema",
                "require",
                "require-env",
                "table",
                "connect-timeout",
                "wait",
                "timeout",
                "format",
                "targets",
                "parallel",
            ],
            exits: &[
                Success,
                Internal,
                Usage,
                Env,
                Unreachable,
                Schema,
                Interrupted,
            ],
        },
        CommandSpec {
            name: "status",
            options: &[
                "database-url",
                "migrations-dir",
                "required-schema",
                "require",
                "require-env",
                "table",
                "connect-timeout",
                "wait",
                "timeout",
                "no-stamp-recovery",
                "allow-out-of-order",
                "format",
                "targets",
                "parallel",
            ],
            exits: &[
                Success,
                Internal,
                Usage,
                Env,
                Unreachable,
                MigrationSet,
                Schema,
                Pending,
                Interrupted,
            ],
        },
        CommandSpec {
            name: "stamp",
            options: &[
                "database-url",
                "migrations-dir",
                "require-env",
                "table",
                "lock-key",
                "wait-for-lock",
                "connect-timeout",
                "wait",
                "timeout",
                "no-stamp-recovery",
                "allow-out-of-order",
                "dry-run",
                "format",
            ],
            exits: &[
                Success,
                Internal,
                Usage,
                Env,
                Unreachable,
                Lock,
                MigrationSet,
                Interrupted,
            ],
        },
        CommandSpec {
            name: "repair",
            options: &[
                "database-url",
                "migrations-dir",
                "require-env",
                "table",
                "lock-key",
                "wait-for-lock",
                "connect-timeout",
                "wait",
                "timeout",
                "format",
            ],
            exits: &[
                Success,
                Internal,
                Usage,
                Env,
                Unreachable,
                Lock,
                MigrationSet,
                Interrupted,
            ],
        },
        CommandSpec {
            name: "check",
            options: &[
                "migrations-dir",
                "required-schema",
                "require",
                // The lexical tracking-table check needs the name, and its hint says --table.
                "table",
                "lint-max-rows",
                "strict",
                "format",
            ],
            exits: &[Success, Internal, Usage, Env, MigrationSet],
        },
        CommandSpec {
            name: "new",
            options: &["migrations-dir", "format"],
            exits: &[Success, Internal, Usage, Env, MigrationSet],
        },
        CommandSpec {
            name: "rollback",
            options: &[
                "database-url",
                "migrations-dir",
                "require-env",
                "table",
                "lock-key",
                "wait-for-lock",
                "connect-timeout",
                "wait",
                "timeout",
                "lock-timeout",
                "statement-timeout",
                "lock-retries",
                "dry-run",
                "format",
            ],
            exits: &[
                Success,
                Internal,
                Usage,
                Env,
                Unreachable,
                Lock,
                MigrationSet,
                MigrationFailed,
                Interrupted,
            ],
        },
        CommandSpec {
            name: "help",
            options: &[],
            exits: &[Success, Usage],
        },
    ]
};

/// Options every command takes, before or after its name.
pub const EVERY_COMMAND: &[&str] = &["verbose", "quiet", "help"];

/// One row of [`COMMANDS`].
#[derive(Debug)]
pub struct CommandSpec {
    /// The command as typed.
    pub name: &'static str,
    /// The long names (without `--`) of the shared options it uses.
    pub options: &'static [&'static str],
    /// The exit codes it can return.
    pub exits: &'static [ExitKind],
}

impl CommandSpec {
    /// The row of `name`; every subcommand has one (a unit test checks it).
    pub fn of(name: &str) -> Option<&'static CommandSpec> {
        COMMANDS.iter().find(|c| c.name == name)
    }

    /// Whether the command takes the shared option `--long`.
    pub fn takes(&self, long: &str) -> bool {
        EVERY_COMMAND.contains(&long) || self.options.contains(&long)
    }
}

/// The command line as the user sees it: each subcommand takes only its own options (from
/// [`COMMANDS`]) and lists only its exit codes. It validates the arguments and renders help;
/// the values are then read with [`Cli`], whose shared options are global (SPEC §2: before or
/// after the command).
pub fn command() -> clap::Command {
    command_for(|_| true)
}

/// [`command`] with only the subcommands `full` names given their own options and exit codes:
/// the others keep their name and description, enough to route and to list them. Building and
/// validating every subcommand's copy of the shared options is most of what parsing costs at
/// start-up, and a run only ever uses the one it names.
fn command_for(full: impl Fn(&str) -> bool) -> clap::Command {
    let cmd = Cli::command();
    let shared: Vec<clap::Arg> = cmd
        .get_arguments()
        .filter(|a| a.is_global_set())
        .map(|a| a.clone().global(false))
        .collect();
    cmd.mut_args(|a| a.global(false)).mut_subcommands(|sub| {
        if !full(sub.get_name()) {
            return sub;
        }
        // A command without a row (a unit test makes that a failure) takes every option.
        let spec = CommandSpec::of(sub.get_name());
        let own = shared
            .iter()
            .filter(|a| {
                a.get_long()
                    .is_some_and(|l| spec.is_none_or(|s| s.takes(l)))
            })
            .cloned();
        let exits = ExitKind::help_table(spec.map_or(&ExitKind::ALL[..], |s| s.exits));
        sub.args(own)
            .after_help(exits.clone())
            .after_long_help(exits)
    })
}

/// Parses the command line. [`command`] validates it first, so that `<command> --help` shows
/// that command's options and exit codes and an option given after a command that does not
/// use it is refused; then [`Cli`] reads the values, after the clap#1570 workaround
/// ([`normalize_args`]). `help [COMMAND]` is answered exactly as `[COMMAND] --help`. Help and
/// version come back as clap's display "errors".
pub fn parse(args: Vec<OsString>) -> Result<Cli, clap::Error> {
    // Every subcommand an argument names gets its options (an option's value that happens to be
    // a command's name only costs that command's options). With none named, all get theirs, so
    // that a mistyped command still meets every option in clap's error.
    let named: Vec<String> = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .filter(|a| COMMANDS.iter().any(|c| c.name == a))
        .collect();
    let mut strict = command_for(|name| named.is_empty() || named.iter().any(|n| n == name));
    let checked = strict.try_get_matches_from_mut(args.clone());
    if let Err(e) = checked {
        return Err(explain_foreign_option(&strict, &args, e));
    }
    let matches = Cli::command().try_get_matches_from(normalize_args(args.clone()))?;
    let mut cli = Cli::from_arg_matches(&matches)?;
    // On the command line (not through DATABASE_URL), the password is in the process list
    // (SPEC §8): check-env warns.
    let typed = |m: &clap::ArgMatches| {
        m.value_source("database_url") == Some(clap::parser::ValueSource::CommandLine)
    };
    cli.global.database_url_on_command_line =
        typed(&matches) || matches.subcommand().is_some_and(|(_, m)| typed(m));
    if let Some(Sub::Help { command: topic }) = &cli.command {
        let bin = args
            .first()
            .cloned()
            .unwrap_or_else(|| "migration-sentry".into());
        let mut again = vec![bin];
        again.extend(topic.iter().map(OsString::from));
        again.push("--help".into());
        return match command().try_get_matches_from(again) {
            Err(e) => Err(e),
            Ok(_) => Err(strict.error(ErrorKind::InvalidSubcommand, "no help for that command")),
        };
    }
    Ok(cli)
}

/// clap's "unexpected argument" for a shared option given after a command that does not use
/// it becomes a usage error naming the commands that do.
fn explain_foreign_option(cmd: &clap::Command, args: &[OsString], e: clap::Error) -> clap::Error {
    use clap::error::{ContextKind, ContextValue};
    if e.kind() != ErrorKind::UnknownArgument {
        return e;
    }
    let Some(ContextValue::String(given)) = e.get(ContextKind::InvalidArg) else {
        return e;
    };
    let Some(long) = given.strip_prefix("--") else {
        return e;
    };
    let long = long.split_once('=').map_or(long, |(n, _)| n);
    let sub = args
        .iter()
        .skip(1)
        .find_map(|a| cmd.find_subcommand(a.to_string_lossy().as_ref()));
    let (Some(sub), Some(spec)) = (sub, sub.and_then(|s| CommandSpec::of(s.get_name()))) else {
        return e;
    };
    let users: Vec<&str> = COMMANDS
        .iter()
        .filter(|c| c.takes(long))
        .map(|c| c.name)
        .collect();
    if users.is_empty() {
        return e;
    }
    let mut sub = sub
        .clone()
        .bin_name(format!("migration-sentry {}", spec.name));
    sub.error(
        ErrorKind::UnknownArgument,
        format!(
            "--{long} does not apply to `{}`; it is an option of: {}",
            spec.name,
            users.join(", ")
        ),
    )
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
    /// Offline: validate the migration folder and the required-schema file, and lint the SQL.
    Check {
        /// Lint only these migrations (comma-separated file names; empty: none). The pre-push
        /// hook passes the files that are new relative to the upstream branch.
        #[arg(long, value_name = "FILES", value_delimiter = ',')]
        lint_only: Option<Vec<String>>,
    },
    /// Create the next numbered, empty migration file and print its path.
    New {
        /// The migration's name; spaces and punctuation become '_' ("add visitor session" ->
        /// add_visitor_session).
        name: String,
    },
    /// Undo every applied migration newer than VERSION, newest first, with the rollback SQL
    /// stored at apply time (no migration files needed).
    Rollback {
        /// Keep VERSION and everything before it: a full version (0003_conversion_owners), its
        /// number (3), or 0 to roll back every migration.
        #[arg(long, value_name = "VERSION", required = true)]
        to: String,
    },
    /// Print the help of migration-sentry or of one command (the same as COMMAND --help).
    Help {
        /// The command whose help to print.
        #[arg(value_name = "COMMAND")]
        command: Option<String>,
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

    /// A deadline for the whole command (0 = none): when it passes, the running statement is
    /// cancelled, the transaction rolled back, the lock released, exit 10.
    #[arg(long, env = "SENTRY_TIMEOUT", hide_env_values = true, value_name = "DUR", default_value = "0",
          value_parser = parse_duration, global = true)]
    pub timeout: Duration,

    /// Retries of a transactional migration that hits lock_timeout (SQLSTATE 55P03), with
    /// jittered exponential backoff (about 1 s, 2 s, 4 s …, at most 30 s).
    #[arg(
        long,
        env = "SENTRY_LOCK_RETRIES",
        hide_env_values = true,
        value_name = "N",
        default_value = "3",
        global = true
    )]
    pub lock_retries: u32,

    /// Make the first failure final: no stamp recovery, missing files are an error.
    #[arg(long, env = "SENTRY_NO_STAMP_RECOVERY", hide_env_values = true, action = ArgAction::SetTrue,
          value_parser = BoolishValueParser::new(), global = true)]
    pub no_stamp_recovery: bool,

    /// Apply pending migrations that sort before the newest applied one.
    #[arg(long, env = "SENTRY_ALLOW_OUT_OF_ORDER", hide_env_values = true, action = ArgAction::SetTrue,
          value_parser = BoolishValueParser::new(), global = true)]
    pub allow_out_of_order: bool,

    /// A blocking lint finding on an existing table with more estimated rows than N fails
    /// `run` and `upgrade` (exit 6).
    #[arg(
        long,
        env = "SENTRY_LINT_MAX_ROWS",
        hide_env_values = true,
        value_name = "N",
        default_value = "100000",
        global = true
    )]
    pub lint_max_rows: u64,

    /// Lint findings are errors (exit 6): every one in `check`; in `run`, all but the
    /// size-dependent ones (which depend on --lint-max-rows) and squawk syntax errors.
    #[arg(long, env = "SENTRY_STRICT", hide_env_values = true, action = ArgAction::SetTrue,
          value_parser = BoolishValueParser::new(), global = true)]
    pub strict: bool,

    /// Print exactly what would be done and change nothing (run, upgrade, stamp, rollback).
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

    /// Run the command on every database FILE names: one `NAME ENV_VAR` per line, `#` comments;
    /// the first target alone (the canary), then the rest --parallel at a time.
    #[arg(
        long,
        env = "SENTRY_TARGETS",
        hide_env_values = true,
        value_name = "FILE",
        global = true
    )]
    pub targets: Option<PathBuf>,

    /// With --targets: how many targets run at a time after the canary.
    #[arg(long, env = "SENTRY_PARALLEL", hide_env_values = true, value_name = "K", default_value = "4",
          value_parser = clap::value_parser!(u16).range(1..=256), global = true)]
    pub parallel: u16,

    /// Set by a fleet for each of its members (never by hand): the variable holding this
    /// member's URL.
    #[arg(long, env = crate::fleet::MEMBER_ENV, hide = true, hide_env_values = true, global = true)]
    pub fleet_member: Option<String>,

    /// More output: -v adds the SQL sent and server notices, -vv every round trip.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Less output: only warnings, errors and the final line.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Whether `--database-url` was given on the command line (not through `DATABASE_URL`):
    /// set by [`parse`].
    #[arg(skip)]
    pub database_url_on_command_line: bool,
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
        let mut lint_only = None;
        let command = match self.command.unwrap_or(Sub::Run) {
            Sub::Run => Command::Run,
            Sub::CheckEnv => Command::CheckEnv,
            Sub::Ping => Command::Ping,
            Sub::Upgrade => Command::Upgrade,
            Sub::Verify => Command::Verify,
            Sub::Status => Command::Status,
            Sub::Stamp { to } => Command::Stamp { to },
            Sub::Repair => Command::Repair,
            Sub::Check { lint_only: only } => {
                lint_only = only.map(non_empty);
                Command::Check
            }
            Sub::New { name } => Command::New { name },
            Sub::Rollback { to } => Command::Rollback { to },
            // `parse` answers `help` itself.
            Sub::Help { .. } => {
                return Err(Error::Usage("help is answered while parsing".into()));
            }
        };
        if g.dry_run
            && !matches!(
                command,
                Command::Run | Command::Upgrade | Command::Stamp { .. } | Command::Rollback { .. }
            )
        {
            return Err(Error::Usage(format!(
                "--dry-run applies to run, upgrade, stamp and rollback, not to {}",
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
            database_url_on_command_line: g.database_url_on_command_line,
            database_url_var: "DATABASE_URL".into(),
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
            timeout: g.timeout,
            lock_retries: g.lock_retries,
            stamp_recovery: !g.no_stamp_recovery,
            allow_out_of_order: g.allow_out_of_order,
            format: match g.format {
                FormatArg::Text => Format::Text,
                FormatArg::Json => Format::Json,
            },
            verbosity,
            dry_run: g.dry_run,
            lint_max_rows: g.lint_max_rows,
            strict: g.strict,
            lint_only,
            targets: g.targets.filter(|p| !p.as_os_str().is_empty()),
            parallel: usize::from(g.parallel),
        };
        let mut config = config;
        if let Some(var) = g.fleet_member.filter(|v| !v.is_empty()) {
            // A fleet member (SPEC §10): one target of the fleet that started this process,
            // its URL in `var`, its JSON result read by the fleet.
            config.database_url = std::env::var(&var).ok();
            config.database_url_var = var;
            config.targets = None;
            config.format = Format::Json;
            // What is left of the fleet's --timeout: every member stops at the fleet's deadline.
            if let Some(ms) = std::env::var(crate::fleet::MEMBER_TIMEOUT_ENV)
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
            {
                config.timeout = Duration::from_millis(ms.max(1));
            }
        } else if config.targets.is_some() && config.database_url_on_command_line {
            return Err(Error::Usage(
                "--targets takes every URL from the variables its file names: leave out \
                 --database-url"
                    .into(),
            ));
        }
        if config.targets.is_some() && !crate::fleet::supports(&command) {
            return Err(Error::Usage(format!(
                "--targets applies to run, upgrade, status, verify, ping and check-env, not to {}",
                command.name()
            )));
        }
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

    fn argv(args: &[&str]) -> Vec<OsString> {
        std::iter::once("migration-sentry")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect()
    }

    fn parse(args: &[&str]) -> Result<(Command, Config), String> {
        let cli = super::parse(argv(args)).map_err(|e| e.to_string())?;
        cli.into_config().map_err(|e| e.to_string())
    }

    /// The text clap prints for `args` (help, or an error), and the kind.
    fn rendered(args: &[&str]) -> (ErrorKind, String) {
        match super::parse(argv(args)) {
            Ok(cli) => panic!("{args:?} parsed: {cli:?}"),
            Err(e) => (e.kind(), e.render().to_string()),
        }
    }

    #[test]
    fn every_command_has_a_row_and_every_row_names_real_options() {
        let cmd = command();
        let longs: Vec<&str> = cmd.get_arguments().filter_map(|a| a.get_long()).collect();
        for spec in COMMANDS {
            assert!(
                cmd.find_subcommand(spec.name).is_some(),
                "COMMANDS row {} is not a command",
                spec.name
            );
            for o in spec.options {
                assert!(longs.contains(o), "{}: no option --{o}", spec.name);
            }
            assert!(spec.exits.contains(&ExitKind::Success), "{}", spec.name);
            assert!(spec.exits.contains(&ExitKind::Usage), "{}", spec.name);
        }
        for sub in cmd.get_subcommands() {
            assert!(
                CommandSpec::of(sub.get_name()).is_some(),
                "{}",
                sub.get_name()
            );
        }
    }

    #[test]
    fn each_command_help_shows_its_own_options_and_exit_codes() {
        let all: Vec<String> = command()
            .get_arguments()
            .filter_map(|a| a.get_long())
            .filter(|l| *l != "help" && *l != "version")
            .map(String::from)
            .collect();
        for spec in COMMANDS {
            let (kind, help) = rendered(&[spec.name, "--help"]);
            assert_eq!(kind, ErrorKind::DisplayHelp);
            for long in &all {
                let shown = [" ", "\n", "..."]
                    .iter()
                    .any(|end| help.contains(&format!("--{long}{end}")));
                assert_eq!(
                    shown,
                    spec.takes(long),
                    "{} --help and --{long}:\n{help}",
                    spec.name
                );
            }
            let codes = help
                .split("Exit codes:\n")
                .nth(1)
                .expect("exit codes listed");
            let listed: Vec<&str> = codes.lines().filter(|l| !l.trim().is_empty()).collect();
            assert_eq!(listed.len(), spec.exits.len(), "{}:\n{codes}", spec.name);
            for k in spec.exits {
                assert!(
                    codes.contains(&format!("  {}  {}\n", k.code(), k.meaning())),
                    "{}: exit {} missing",
                    spec.name,
                    k.code()
                );
            }
        }
        let (_, new) = rendered(&["new", "--help"]);
        assert!(!new.contains("--database-url") && !new.contains("--wait-for-lock"));
        let (_, status) = rendered(&["status", "--help"]);
        assert!(status.contains("  9  migrations are pending"));
    }

    #[test]
    fn help_command_agrees_with_the_help_flag() {
        for spec in COMMANDS {
            assert_eq!(
                rendered(&["help", spec.name]),
                rendered(&[spec.name, "--help"]),
                "{}",
                spec.name
            );
        }
        assert_eq!(rendered(&["help"]), rendered(&["--help"]));
        let (kind, text) = rendered(&["help", "--help"]);
        assert_eq!(kind, ErrorKind::DisplayHelp);
        assert!(
            text.contains("Usage: migration-sentry help [OPTIONS] [COMMAND]"),
            "{text}"
        );
        assert_eq!(
            rendered(&["help", "frobnicate"]).0,
            ErrorKind::InvalidSubcommand
        );
    }

    #[test]
    fn an_option_after_a_command_that_does_not_use_it_is_refused() {
        let (kind, text) = rendered(&["new", "x", "--wait-for-lock", "5s"]);
        assert_eq!(kind, ErrorKind::UnknownArgument);
        assert!(
            text.contains("--wait-for-lock does not apply to `new`; it is an option of: run, upgrade, stamp, repair"),
            "{text}"
        );
        assert_eq!(
            rendered(&["check", "--database-url=x"]).0,
            ErrorKind::UnknownArgument
        );
        // Before the command it is a shared setting, like its environment variable.
        let (cmd, c) = parse(&["--wait-for-lock", "5s", "new", "x"]).unwrap();
        assert_eq!(cmd, Command::New { name: "x".into() });
        assert_eq!(c.wait_for_lock, Duration::from_secs(5));
        // An unknown option is still clap's own error.
        assert_eq!(
            rendered(&["run", "--frobnicate"]).0,
            ErrorKind::UnknownArgument
        );
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
            "run",
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
        let args = |v: &[&str]| parse(v).unwrap();
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
