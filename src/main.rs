//! The `migration-sentry` binary: parse, set up logging, run, map the error to an exit code.
//! This is the only place an error becomes a process status (SPEC §3).

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

use migration_sentry::cli::{self, Cli};
use migration_sentry::config::Format;
use migration_sentry::error::ExitKind;
use migration_sentry::{commands, output, redact};

fn main() -> ExitCode {
    // A panic is an internal error (exit 1), and its message is scrubbed like everything else.
    std::panic::set_hook(Box::new(|info| {
        eprintln!(
            "[sentry] ERROR: internal error: {}",
            redact::scrub(&info.to_string())
        );
    }));
    match std::panic::catch_unwind(run) {
        Ok(code) => code,
        Err(_) => {
            eprintln!("{}", output::failed_line(ExitKind::Internal));
            ExitCode::from(ExitKind::Internal.code())
        }
    }
}

fn run() -> ExitCode {
    let cli = match Cli::try_parse_from(cli::normalize_args(std::env::args_os().collect())) {
        Ok(cli) => cli,
        Err(e) => {
            let text = redact::scrub(&e.render().to_string());
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                print!("{text}");
                return ExitCode::SUCCESS;
            }
            eprint!("{text}");
            eprintln!("{}", output::failed_line(ExitKind::Usage));
            return ExitCode::from(ExitKind::Usage.code());
        }
    };
    // The logger comes first, so that a configuration error is reported through it.
    output::init_logger(cli.global.verbosity());
    let (command, config) = match cli.into_config() {
        Ok(parsed) => parsed,
        Err(e) => {
            log::error!("{e}");
            output::failed(e.kind());
            return ExitCode::from(e.kind().code());
        }
    };
    let mut stdout = output::Redacting::new(io::stdout().lock());
    let result = commands::execute(&command, &config, &mut stdout);
    match result {
        Ok(()) => {
            let _ = stdout.flush();
            ExitCode::SUCCESS
        }
        Err(e) => {
            let kind = e.kind();
            if config.format == Format::Json && !stdout.wrote_anything() {
                let obj = serde_json::json!({
                    "ok": false,
                    "exit_code": kind.code(),
                    "error": e.to_string(),
                });
                let _ = writeln!(stdout, "{obj}");
            }
            let _ = stdout.flush();
            // Schema failures were already printed line by line (✗ …); the summary suffices.
            log::error!("{e}");
            output::failed(kind);
            ExitCode::from(kind.code())
        }
    }
}
